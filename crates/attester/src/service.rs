//! The HTTP service around an [`Attester`]: `POST /v1/attestations`, `GET /health`, `GET /metrics`.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::primitives::{Address, B256, Bytes};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use kalypso_confidential::nitro::AWS_NITRO_ROOT_G1;
use kalypso_sdk::SignedAttestation;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::{AttestError, Attester, metrics::Metrics};

/// Path of the attestation endpoint.
pub const ATTESTATIONS_PATH: &str = "/v1/attestations";

/// Largest request body accepted (an AWS document is about 4.5 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The service's clock: Unix milliseconds. Documents are checked at its time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The wall clock.
fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

/// An [`Attester`] served over HTTP.
///
/// `POST /v1/attestations` takes an attestation document as the body — the CBOR COSE_Sign1 bytes as the
/// Nitro Secure Module returns them (`application/cbor` or `application/octet-stream`), or their hex as text
/// — and answers `200` with the [`SignedAttestation`] JSON (what `kalypso keys register-enclave
/// --attestation`, `keys set-matching-engine --attestation` and `keys add-ivs --attestation` read), `422 {"error":
/// reason}` for a rejected document, `400` for an empty body and `413` for a body above the limit. Verifications
/// run on blocking threads, as many at once as the machine has cores.
pub struct Service {
    attester: Attester,
    clock: Clock,
    metrics: Metrics,
    verifying: Semaphore,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("attester", &self.attester)
            .finish_non_exhaustive()
    }
}

/// Answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Always `ok` when the service answers.
    pub status: String,
    /// The signer's address (must be a trusted signer of the `AttestationVerifier`).
    pub signer: Address,
    /// Chain id of the EIP-712 domain.
    pub chain_id: u64,
    /// The `AttestationVerifier` of the EIP-712 domain.
    pub attestation_verifier: Address,
    /// What documents must satisfy.
    pub policy: PolicySummary,
}

/// The policy, as `/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    /// Oldest accepted document, in milliseconds before now.
    pub max_age_ms: u64,
    /// How far ahead of now a document may be dated.
    pub max_clock_skew_ms: u64,
    /// Accepted image ids; empty: any image.
    pub image_ids: Vec<B256>,
    /// Required PCR values by index.
    pub pcrs: BTreeMap<u16, Bytes>,
    /// Whether debug-mode enclaves are accepted (never in production).
    pub allow_debug: bool,
    /// SHA-256 fingerprint of the trusted root certificate.
    pub trusted_root: B256,
    /// Whether that root is the AWS Nitro Enclaves root G1 (false only in tests).
    pub aws_root: bool,
}

impl Service {
    /// `attester` on the system clock, with [`BODY_LIMIT`].
    pub fn new(attester: Attester) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            attester,
            clock: system_clock(),
            metrics: Metrics::new(),
            verifying: Semaphore::new(cores),
        }
    }

    /// Checks documents at `clock`'s time instead of the system clock's (tests, archived documents).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// What `GET /health` answers.
    pub fn health(&self) -> Health {
        let policy = self.attester.policy();
        Health {
            status: "ok".into(),
            signer: self.attester.signer(),
            chain_id: self.attester.chain_id(),
            attestation_verifier: self.attester.attestation_verifier(),
            policy: PolicySummary {
                max_age_ms: policy.max_age_ms,
                max_clock_skew_ms: policy.max_clock_skew_ms,
                image_ids: policy.expected_image_ids.iter().copied().collect(),
                pcrs: policy
                    .expected_pcrs
                    .iter()
                    .map(|(i, v)| (*i, Bytes::copy_from_slice(v)))
                    .collect(),
                allow_debug: policy.allow_debug,
                trusted_root: policy.trusted_root(),
                aws_root: policy.trusted_root() == AWS_NITRO_ROOT_G1,
            },
        }
    }

    /// The routes: `POST /v1/attestations`, `GET /health`, `GET /metrics`.
    pub fn router(self: Arc<Self>) -> Router {
        let limit = BODY_LIMIT;
        Router::new()
            .route(ATTESTATIONS_PATH, post(attest))
            .route("/health", get(health))
            .route("/metrics", get(metrics))
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    format!("no such route: POST {ATTESTATIONS_PATH}, GET /health, GET /metrics"),
                )
            })
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
    }

    /// Serves the routes on `listener` until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Verifies and signs on a blocking thread (certificate chain and COSE signature checks are CPU work).
    /// The outer error is a panic of that thread (the verifier returns every failure as an error value).
    async fn attest(
        self: &Arc<Self>,
        document: Vec<u8>,
    ) -> Result<Result<SignedAttestation, AttestError>, tokio::task::JoinError> {
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self.verifying.acquire().await;
        let now_ms = (self.clock)();
        let service = Arc::clone(self);
        tokio::task::spawn_blocking(move || service.attester.attest(&document, now_ms)).await
    }
}

/// A JSON error answer `{"error": message}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The document in a request body: hex text (`0x` optional, surrounding whitespace ignored) or the bytes
/// themselves (a CBOR COSE_Sign1 never is valid hex text).
fn document(body: &[u8]) -> Option<Vec<u8>> {
    if let Ok(text) = std::str::from_utf8(body) {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(decoded) = alloy::hex::decode(text) {
            return Some(decoded);
        }
    }
    (!body.is_empty()).then(|| body.to_vec())
}

async fn attest(
    State(service): State<Arc<Service>>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            service.metrics.reject("too_large");
            warn!(target: "kalypso::attester", limit = BODY_LIMIT, "rejected: body too large");
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {} bytes; an attestation document is a few KiB",
                    BODY_LIMIT
                ),
            );
        }
        Err(e) => return error(e.status(), e.body_text()),
    };
    let Some(document) = document(&body) else {
        service.metrics.reject("empty");
        return error(
            StatusCode::BAD_REQUEST,
            "empty body: POST the attestation document (CBOR COSE_Sign1 bytes, or their hex)",
        );
    };
    let result = match service.attest(document).await {
        Ok(result) => result,
        Err(e) => {
            warn!(target: "kalypso::attester", error = %e, "verification failed unexpectedly");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "verification failed unexpectedly",
            );
        }
    };
    match result {
        Ok(attestation) => {
            service.metrics.attested.inc();
            info!(
                target: "kalypso::attester",
                enclave = ?attestation.enclave_address(),
                image_id = %attestation.image_id,
                timestamp_ms = attestation.timestamp_ms,
                "attestation signed"
            );
            Json(attestation).into_response()
        }
        Err(e) => {
            service.metrics.reject(e.reason());
            warn!(target: "kalypso::attester", reason = e.reason(), error = %e, "document rejected");
            let status = match e {
                AttestError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
                AttestError::Signing(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.to_string())
        }
    }
}

async fn health(State(service): State<Arc<Service>>) -> Json<Health> {
    Json(service.health())
}

async fn metrics(State(service): State<Arc<Service>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        service.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_hex_text_or_bytes() {
        assert_eq!(document(b"0x0102"), Some(vec![1, 2]));
        assert_eq!(document(b"  0102\n"), Some(vec![1, 2]));
        assert_eq!(document(&[0x84, 0x44, 0xa1]), Some(vec![0x84, 0x44, 0xa1]));
        assert_eq!(document(b"not hex"), Some(b"not hex".to_vec()));
        assert_eq!(document(b""), None);
        assert_eq!(document(b" \n"), None);
    }
}
