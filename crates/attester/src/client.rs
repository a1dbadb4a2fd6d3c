//! The client of an attestation-verifier service (what `kalypso attestation request` uses).

use std::time::Duration;

use kalypso_sdk::SignedAttestation;
use serde::de::DeserializeOwned;

use crate::{ATTESTATIONS_PATH, Health};

/// Client of an attestation-verifier service.
#[derive(Debug, Clone)]
pub struct AttesterClient {
    http: reqwest::Client,
    url: String,
}

/// Why the service gave no attestation.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an http(s) URL.
    #[error("{0} is not an http(s) URL")]
    Url(String),
    /// The service could not be reached or did not answer in time.
    #[error("cannot reach the attester: {0}")]
    Transport(String),
    /// The service refused: `reason` is its `error` (for 422, why the document was rejected).
    #[error("the attester rejected the document ({status}): {reason}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The service's reason.
        reason: String,
    },
    /// The answer is not what the service sends.
    #[error("the attester answered something else: {0}")]
    Decode(String),
}

impl AttesterClient {
    /// A client of the service at `url` (`http://host:port`), giving up on a request after `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<Self, ClientError> {
        let url = url.into().trim_end_matches('/').to_owned();
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ClientError::Url(url));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self { http, url })
    }

    /// Sends `document` (CBOR COSE_Sign1 bytes) and returns the signed attestation.
    pub async fn attest(&self, document: &[u8]) -> Result<SignedAttestation, ClientError> {
        let response = self
            .http
            .post(format!("{}{ATTESTATIONS_PATH}", self.url))
            .header(reqwest::header::CONTENT_TYPE, "application/cbor")
            .body(document.to_vec())
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        decode(response).await
    }

    /// The service's `/health`: its signer, domain and policy.
    pub async fn health(&self) -> Result<Health, ClientError> {
        let response = self
            .http
            .get(format!("{}/health", self.url))
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        decode(response).await
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    if !status.is_success() {
        let reason = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(ClientError::Rejected {
            status: status.as_u16(),
            reason,
        });
    }
    serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
}
