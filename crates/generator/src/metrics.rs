//! Prometheus metrics of the generator node, served at `/metrics` when the node has a listen address.

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Every metric the node exports (prefix `kalypso_generator`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Assignments of this generator recorded (new or re-assigned).
    pub tasks_seen: Counter,
    /// Proofs made.
    pub tasks_proven: Counter,
    /// Proofs accepted on-chain.
    pub tasks_submitted: Counter,
    /// Tasks settled with an IVS attestation of invalid inputs.
    pub tasks_attested: Counter,
    /// Tasks discarded before their deadline.
    pub tasks_discarded: Counter,
    /// Tasks that ended without a settlement by this node.
    pub tasks_failed: Counter,
    /// Failed attempts that were retried (proving, IVS, submission).
    pub retries: Counter,
    /// Transactions re-sent under the same nonce with higher fees because they lingered unmined.
    pub fee_bumps: Counter,
    /// Asks this node assigned itself by fallback (`selfAssign`) after the market's fallback delay.
    pub self_assigned: Counter,
    /// Self-assignments another generator or the Matching Engine won first (the ask was no longer open).
    pub self_assign_lost: Counter,
    /// Self-assignments that failed otherwise (a rule of the contract, an RPC error); retried after a backoff.
    pub self_assign_failed: Counter,
    /// Tasks the node is working on (seen, proving or proved).
    pub tasks_active: Gauge,
    /// Unassigned asks of the served markets the node follows for fallback self-assignment.
    pub open_asks: Gauge,
    /// Proofs running now.
    pub proofs_running: Gauge,
    /// Latest block scanned for assignments.
    pub scanned_block: Gauge,
    /// Wall time of one proof (seconds).
    pub proving_time: Histogram,
    /// Wall time from seeing an assignment to its accepted proof, minus the proving time (seconds): input
    /// fetching, checks, queueing for a proving slot, and landing the transaction.
    pub node_overhead: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kalypso_generator");
        let m = Self {
            tasks_seen: Counter::default(),
            tasks_proven: Counter::default(),
            tasks_submitted: Counter::default(),
            tasks_attested: Counter::default(),
            tasks_discarded: Counter::default(),
            tasks_failed: Counter::default(),
            retries: Counter::default(),
            fee_bumps: Counter::default(),
            self_assigned: Counter::default(),
            self_assign_lost: Counter::default(),
            self_assign_failed: Counter::default(),
            tasks_active: Gauge::default(),
            open_asks: Gauge::default(),
            proofs_running: Gauge::default(),
            scanned_block: Gauge::default(),
            proving_time: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.01, 2.0, 18),
            ),
            node_overhead: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 16),
            ),
            registry: Registry::default(),
        };
        let counters = [
            (
                "tasks_seen",
                "Assignments of this generator recorded",
                &m.tasks_seen,
            ),
            ("tasks_proven", "Proofs made", &m.tasks_proven),
            (
                "tasks_submitted",
                "Proofs accepted on-chain",
                &m.tasks_submitted,
            ),
            (
                "tasks_attested",
                "Tasks settled with an IVS attestation of invalid inputs",
                &m.tasks_attested,
            ),
            (
                "tasks_discarded",
                "Tasks discarded before their deadline",
                &m.tasks_discarded,
            ),
            (
                "tasks_failed",
                "Tasks that ended without a settlement by this node",
                &m.tasks_failed,
            ),
            (
                "retries",
                "Failed attempts retried (proving, IVS, submission)",
                &m.retries,
            ),
            (
                "fee_bumps",
                "Transactions re-sent with higher fees under the same nonce",
                &m.fee_bumps,
            ),
            (
                "self_assigned",
                "Asks assigned to this generator by its own fallback self-assignment",
                &m.self_assigned,
            ),
            (
                "self_assign_lost",
                "Self-assignments another generator or the Matching Engine won first",
                &m.self_assign_lost,
            ),
            (
                "self_assign_failed",
                "Self-assignments that failed for another reason (retried after a backoff)",
                &m.self_assign_failed,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "tasks_active",
            "Tasks in progress (seen, proving, proved)",
            m.tasks_active.clone(),
        );
        registry.register(
            "open_asks",
            "Unassigned asks of the served markets followed for fallback self-assignment",
            m.open_asks.clone(),
        );
        registry.register(
            "proofs_running",
            "Proofs running now",
            m.proofs_running.clone(),
        );
        registry.register(
            "scanned_block",
            "Latest block scanned for assignments",
            m.scanned_block.clone(),
        );
        registry.register(
            "proving_time_seconds",
            "Wall time of one proof",
            m.proving_time.clone(),
        );
        registry.register(
            "node_overhead_seconds",
            "Assignment seen to proof accepted, minus the proving time",
            m.node_overhead.clone(),
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
