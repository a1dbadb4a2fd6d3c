//! Prometheus metrics of the engine, served at `/metrics`.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::sync::atomic::AtomicU64;

/// Label of a skip reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The `SkipReason` name.
    pub reason: String,
}

/// Label of a protocol event.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    /// The event name.
    pub event: String,
}

/// Every metric the engine exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Protocol events indexed, by name.
    pub events: Family<EventLabel, Counter>,
    /// Reorgs rolled back.
    pub reorgs: Counter,
    /// Latest block indexed.
    pub indexed_block: Gauge,
    /// Chain head seen.
    pub head_block: Gauge,
    /// Assignments signed and sent.
    pub assignments_sent: Counter,
    /// Assignment items the chain skipped, by reason.
    pub assignments_skipped: Family<ReasonLabel, Counter>,
    /// Batches sent.
    pub batches_sent: Counter,
    /// Batches that never assigned anything (reverted, expired, dropped).
    pub batches_failed: Counter,
    /// Confidential asks refused for sealed inputs that are the requester's mistake (counted per refusal; a
    /// restart refuses them again).
    pub asks_refused: Counter,
    /// Re-sends with higher fees.
    pub fee_bumps: Counter,
    /// Given-up batches whose nonce was cancelled on-chain (`invalidateNonces`).
    pub batches_cancelled: Counter,
    /// Relay transactions in flight.
    pub in_flight: Gauge,
    /// Open asks in the book.
    pub open_asks: Gauge,
    /// Chain time from ask creation to first assignment (seconds).
    pub time_to_assign: Histogram,
    /// Chain time from assignment to proof (seconds).
    pub time_to_proof: Histogram,
    /// Wall time of one matching round (seconds).
    pub match_round: Histogram,
    /// Keeper `slash` transactions.
    pub keeper_slashes: KeeperCounters,
    /// Keeper `refundExpired` transactions.
    pub keeper_refunds: KeeperCounters,
    /// Keeper share of the slashes this keeper landed (staking-token base units).
    pub keeper_rewards: Counter<f64, AtomicU64>,
    /// Keeper transactions in flight.
    pub keeper_in_flight: Gauge,
}

/// What became of one kind of keeper transaction.
#[derive(Debug, Clone, Default)]
pub struct KeeperCounters {
    /// Attempts started (a transaction is estimated and sent).
    pub sent: Counter,
    /// Mined with the expected event.
    pub succeeded: Counter,
    /// Failed (RPC, gas, an unexpected revert); retried with back-off while the chain still allows it.
    pub failed: Counter,
    /// Found the ask already settled by someone else (a proof, another keeper): done, not an error.
    pub superseded: Counter,
}

impl KeeperCounters {
    fn register(&self, registry: &mut Registry, what: &str, tx: &str) {
        registry.register(
            format!("keeper_{what}_sent"),
            format!("Keeper {tx} attempts started"),
            self.sent.clone(),
        );
        registry.register(
            format!("keeper_{what}_succeeded"),
            format!("Keeper {tx} transactions mined"),
            self.succeeded.clone(),
        );
        registry.register(
            format!("keeper_{what}_failed"),
            format!("Keeper {tx} attempts that failed (retried while the chain allows)"),
            self.failed.clone(),
        );
        registry.register(
            format!("keeper_{what}_superseded"),
            format!("Keeper {tx} attempts that found the ask already settled by someone else"),
            self.superseded.clone(),
        );
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `kalypso_engine` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kalypso_engine");
        let chain_times = [
            0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
        ];
        let m = Self {
            events: Family::default(),
            reorgs: Counter::default(),
            indexed_block: Gauge::default(),
            head_block: Gauge::default(),
            assignments_sent: Counter::default(),
            assignments_skipped: Family::default(),
            batches_sent: Counter::default(),
            batches_failed: Counter::default(),
            asks_refused: Counter::default(),
            fee_bumps: Counter::default(),
            batches_cancelled: Counter::default(),
            in_flight: Gauge::default(),
            open_asks: Gauge::default(),
            time_to_assign: Histogram::new(chain_times),
            time_to_proof: Histogram::new(chain_times),
            match_round: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(1e-6, 4.0, 12),
            ),
            keeper_slashes: KeeperCounters::default(),
            keeper_refunds: KeeperCounters::default(),
            keeper_rewards: Counter::default(),
            keeper_in_flight: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("events", "Protocol events indexed", m.events.clone());
        registry.register(
            "reorgs",
            "Chain reorganisations rolled back",
            m.reorgs.clone(),
        );
        registry.register(
            "indexed_block",
            "Latest block indexed",
            m.indexed_block.clone(),
        );
        registry.register("head_block", "Chain head seen", m.head_block.clone());
        registry.register(
            "assignments_sent",
            "Assignments signed and sent",
            m.assignments_sent.clone(),
        );
        registry.register(
            "asks_refused",
            "Confidential asks refused for sealed inputs that are the requester's mistake",
            m.asks_refused.clone(),
        );
        registry.register(
            "assignments_skipped",
            "Assignment items the chain skipped, by reason",
            m.assignments_skipped.clone(),
        );
        registry.register(
            "batches_sent",
            "Assignment batches sent",
            m.batches_sent.clone(),
        );
        registry.register(
            "batches_failed",
            "Batches that assigned nothing (reverted, expired, dropped)",
            m.batches_failed.clone(),
        );
        registry.register(
            "fee_bumps",
            "Relay transactions re-sent with higher fees",
            m.fee_bumps.clone(),
        );
        registry.register(
            "batches_cancelled",
            "Given-up batches cancelled on-chain before their expiry (invalidateNonces)",
            m.batches_cancelled.clone(),
        );
        registry.register(
            "in_flight",
            "Relay transactions in flight",
            m.in_flight.clone(),
        );
        registry.register("open_asks", "Open asks in the book", m.open_asks.clone());
        registry.register(
            "time_to_assign_seconds",
            "Chain time from ask creation to its first assignment",
            m.time_to_assign.clone(),
        );
        registry.register(
            "time_to_proof_seconds",
            "Chain time from assignment to proof",
            m.time_to_proof.clone(),
        );
        registry.register(
            "match_round_seconds",
            "Wall time of one matching round",
            m.match_round.clone(),
        );
        m.keeper_slashes.register(&mut registry, "slashes", "slash");
        m.keeper_refunds
            .register(&mut registry, "refunds", "refundExpired");
        registry.register(
            "keeper_rewards",
            "Keeper share of the slashes this keeper landed, in staking-token base units",
            m.keeper_rewards.clone(),
        );
        registry.register(
            "keeper_in_flight",
            "Keeper transactions in flight",
            m.keeper_in_flight.clone(),
        );
        Self { registry, ..m }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
