//! Prometheus metrics of the engine, served at `/metrics`.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

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
    /// Re-sends with higher fees.
    pub fee_bumps: Counter,
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
            fee_bumps: Counter::default(),
            in_flight: Gauge::default(),
            open_asks: Gauge::default(),
            time_to_assign: Histogram::new(chain_times),
            time_to_proof: Histogram::new(chain_times),
            match_round: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(1e-6, 4.0, 12),
            ),
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
