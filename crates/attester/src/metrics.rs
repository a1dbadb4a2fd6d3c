//! Prometheus metrics of the attestation-verifier service, served at `/metrics`.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

/// Label of a rejection.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why: [`AttestError::reason`](crate::AttestError::reason), `too_large` or `empty`.
    pub reason: String,
}

/// Every metric the service exports (prefix `kalypso_attester`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Attestations signed.
    pub attested: Counter,
    /// Documents rejected, by reason.
    pub rejected: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kalypso_attester");
        let attested = Counter::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        registry.register("attested", "Enclave attestations signed", attested.clone());
        registry.register(
            "rejected",
            "Attestation documents rejected, by reason",
            rejected.clone(),
        );
        Self {
            registry,
            attested,
            rejected,
        }
    }

    /// Counts a rejection for `reason`.
    pub fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
