//! The input verification service (IVS) of one market, and the client a generator node asks it with.
//!
//! `POST /v1/check` with `{"askId": 7}` (optionally `"proverData": "0x…"`): the IVS reads the ask's record and
//! its inputs from the chain itself, runs the market's prover's input check, and answers `{"valid": true, …}`
//! or, for inputs no proof can exist for, `{"valid": false, "reason": …, "signature": "0x…", …}`: the
//! EIP-712 `InvalidInput(marketId, askId, inputsHash)` signed with the IVS key, which the assigned generator
//! hands to `submitInvalidInputAttestation`. It never signs inputs it has not read from the chain (given
//! `proverData` must hash to the ask's on-chain `inputsHash`) and never signs valid inputs.

use alloy::{
    primitives::{Address, B256, Bytes, keccak256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use kalypso_confidential::{PublicKey, Secret, SecretKey};
use kalypso_primitives::AskState;
use kalypso_provers::{InputCheck, ProveRequest, Prover, ProverError, ProverInfo};
use kalypso_sdk::{AskId, Kalypso, MarketId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{future::Future, sync::Arc, time::Duration};
use tokio::sync::Semaphore;
use tracing::{info, warn};

/// Path of the check endpoint.
pub const CHECK_PATH: &str = "/v1/check";

/// Body of `POST /v1/check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRequest {
    /// The ask whose inputs to check.
    pub ask_id: AskId,
    /// The ask's prover data, to save the IVS a log query; it must hash to the ask's on-chain `inputsHash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover_data: Option<Bytes>,
    /// Confidential asks: the ask's data key wrapped to this IVS's key (by the assigned generator's enclave,
    /// which could not decrypt the secret). The IVS checks it is the key the ciphertext was made with, then
    /// decrypts and checks the secret inputs itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Bytes>,
}

/// Answer of `POST /v1/check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse {
    /// The ask.
    pub ask_id: AskId,
    /// Its market (the one this IVS serves).
    pub market_id: MarketId,
    /// keccak256 of its prover data, as recorded on-chain.
    pub inputs_hash: B256,
    /// Whether a proof can be made for the inputs.
    pub valid: bool,
    /// Why the inputs are invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For invalid inputs: the 65-byte `r ‖ s ‖ v` signature of `InvalidInput(marketId, askId, inputsHash)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Bytes>,
    /// For invalid inputs: the IVS key that signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Address>,
}

/// Why the IVS did not answer a check; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum IvsError {
    /// The request is malformed or its `proverData` does not hash to the ask's `inputsHash` (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such ask (404).
    #[error("ask {0} does not exist")]
    AskNotFound(AskId),
    /// The ask belongs to another market (422).
    #[error("ask {ask_id} is in market {actual}; this IVS serves market {served}")]
    WrongMarket {
        /// The ask.
        ask_id: AskId,
        /// Its market.
        actual: MarketId,
        /// The market of this IVS.
        served: MarketId,
    },
    /// The ask is settled or expired: no attestation can be used for it (409).
    #[error("ask {ask_id} is {state}: nothing to attest")]
    NotOpen {
        /// The ask.
        ask_id: AskId,
        /// Its state.
        state: AskState,
    },
    /// Reading the chain failed, or the chain's `AskCreated` log does not match the ask's record (502).
    #[error("chain: {0}")]
    Chain(String),
    /// The prover's input check failed (503): try again later.
    #[error("input check failed: {0}")]
    Prover(String),
    /// Signing failed (500).
    #[error("signing failed: {0}")]
    Signer(String),
}

impl IvsError {
    /// The HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::AskNotFound(_) => StatusCode::NOT_FOUND,
            Self::WrongMarket { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotOpen { .. } => StatusCode::CONFLICT,
            Self::Chain(_) => StatusCode::BAD_GATEWAY,
            Self::Prover(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Signer(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for IvsError {
    fn into_response(self) -> Response {
        (self.status(), Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// A confidential ask's secret as the IVS found it.
enum Opened {
    /// The ask has no secret inputs.
    Public,
    /// Decrypted.
    Secret(Secret),
    /// The right data key, and the ciphertext does not decrypt: the requester's.
    Undecryptable(String),
}

/// The IVS of one market: a read-only chain client, the market's prover and the IVS key.
#[derive(Debug)]
pub struct Ivs<P> {
    client: Kalypso<P>,
    market: MarketId,
    prover: Arc<dyn Prover>,
    signer: PrivateKeySigner,
    checks: Arc<Semaphore>,
}

impl<P: Provider + Clone + 'static> Ivs<P> {
    /// An IVS for `market` signing with `signer` (registered with `addIvsSigner`), running at most
    /// `max_concurrent` input checks at once.
    pub fn new(
        client: Kalypso<P>,
        market: MarketId,
        prover: Arc<dyn Prover>,
        signer: PrivateKeySigner,
        max_concurrent: usize,
    ) -> Self {
        Self {
            client,
            market,
            prover,
            signer,
            checks: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// The address of the IVS key.
    pub fn signer(&self) -> Address {
        self.signer.address()
    }

    /// Whether the IVS key is registered for the market on-chain (attestations are useless otherwise).
    pub async fn registered(&self) -> kalypso_sdk::Result<bool> {
        self.client.is_ivs_signer(self.market, self.signer()).await
    }

    /// Checks an ask's inputs as read from the chain and signs an attestation when they are invalid.
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckResponse, IvsError> {
        let id = request.ask_id;
        let ask = match self.client.ask(id).await {
            Ok(ask) => ask,
            Err(kalypso_sdk::Error::AskNotFound(_)) => return Err(IvsError::AskNotFound(id)),
            Err(e) => return Err(IvsError::Chain(e.to_string())),
        };
        if ask.market != self.market {
            return Err(IvsError::WrongMarket {
                ask_id: id,
                actual: ask.market,
                served: self.market,
            });
        }
        if !matches!(ask.state, AskState::Created | AskState::Assigned) {
            return Err(IvsError::NotOpen {
                ask_id: id,
                state: ask.state,
            });
        }
        let inputs = match &request.prover_data {
            Some(given) => {
                let hash = keccak256(given);
                if hash != ask.inputs_hash {
                    return Err(IvsError::BadRequest(format!(
                        "proverData hashes to {hash}, ask {id} has inputsHash {}",
                        ask.inputs_hash
                    )));
                }
                given.clone()
            }
            None => {
                let inputs = self
                    .client
                    .ask_inputs(id)
                    .await
                    .map_err(|e| IvsError::Chain(e.to_string()))?;
                if keccak256(&inputs) != ask.inputs_hash {
                    return Err(IvsError::Chain(format!(
                        "the AskCreated log of ask {id} does not hash to its inputsHash {} (reorg?)",
                        ask.inputs_hash
                    )));
                }
                inputs
            }
        };
        let secret = match self.open_secret(id, request.acl.as_ref()).await? {
            Opened::Public => None,
            Opened::Secret(secret) => Some(secret),
            Opened::Undecryptable(reason) => {
                return self.attest(id, ask.inputs_hash, reason).await;
            }
        };
        let permit = self
            .checks
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| IvsError::Prover(e.to_string()))?;
        let prover = self.prover.clone();
        let confidential = secret.is_some();
        let verdict = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let request = ProveRequest {
                prover_data: inputs.to_vec(),
                secret: secret.map(|s| s.expose().to_vec()),
                ask_id: Some(id),
                timeout: None,
            };
            prover.check_request(&request)
        })
        .await
        .map_err(|e| IvsError::Prover(format!("the check panicked: {e}")))?
        .map_err(|e: ProverError| IvsError::Prover(e.to_string()))?;
        if let InputCheck::Invalid { reason } = verdict {
            // A reason about secret inputs may quote them: it never leaves the IVS.
            let reason = if confidential {
                "the secret inputs are invalid for the circuit (details stay in the IVS)".to_owned()
            } else {
                reason
            };
            return self.attest(id, ask.inputs_hash, reason).await;
        }
        info!(target: "kalypso::ivs", ask_id = id, "inputs are valid");
        Ok(CheckResponse {
            ask_id: id,
            market_id: self.market,
            inputs_hash: ask.inputs_hash,
            valid: true,
            reason: None,
            signature: None,
            signer: None,
        })
    }

    /// Signs `InvalidInput(market, ask, inputsHash)`.
    async fn attest(
        &self,
        id: AskId,
        inputs_hash: B256,
        reason: String,
    ) -> Result<CheckResponse, IvsError> {
        let signature = self
            .client
            .sign_invalid_input(&self.signer, self.market, id, inputs_hash)
            .await
            .map_err(|e| IvsError::Signer(e.to_string()))?;
        info!(target: "kalypso::ivs", ask_id = id, %reason, "attested invalid inputs");
        Ok(CheckResponse {
            ask_id: id,
            market_id: self.market,
            inputs_hash,
            valid: false,
            reason: Some(reason),
            signature: Some(signature),
            signer: Some(self.signer()),
        })
    }

    /// A confidential ask's secret, opened with the data key the caller wrapped to this IVS. A key the
    /// ciphertext was not made with is the caller's fault (refused: nothing is attested); the right key
    /// under which the ciphertext does not decrypt is the requester's (attested as invalid inputs).
    async fn open_secret(&self, id: AskId, acl: Option<&Bytes>) -> Result<Opened, IvsError> {
        let sealed = self
            .client
            .sealed_task(id)
            .await
            .map_err(|e| IvsError::Chain(e.to_string()))?;
        let Some(sealed) = sealed else {
            return Ok(Opened::Public);
        };
        let acl = acl.ok_or_else(|| {
            IvsError::BadRequest(format!(
                "ask {id} has secret inputs: send its data key wrapped to this IVS's key (acl)"
            ))
        })?;
        let key = SecretKey::from_signing_key(self.signer.credential());
        let data_key =
            kalypso_confidential::data_key(&sealed.ciphertext, acl, &sealed.context, &key)
                .map_err(|e| IvsError::BadRequest(format!("ask {id}'s acl: {e}")))?;
        if !kalypso_confidential::is_key_of(&sealed.ciphertext, &data_key) {
            return Err(IvsError::BadRequest(format!(
                "the data key is not the one ask {id}'s ciphertext was made with"
            )));
        }
        Ok(
            match kalypso_confidential::decrypt(&sealed.ciphertext, &data_key, &sealed.context) {
                Ok(secret) => Opened::Secret(secret),
                Err(e) => Opened::Undecryptable(format!("the secret inputs do not decrypt: {e}")),
            },
        )
    }

    /// The IVS key's public key (what a generator's enclave wraps a data key to).
    pub fn public_key(&self) -> PublicKey {
        SecretKey::from_signing_key(self.signer.credential()).public_key()
    }

    /// The HTTP routes: `POST /v1/check`, `GET /health`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(CHECK_PATH, post(check::<P>))
            .route("/health", get(health::<P>))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({ "error": "no such route: POST /v1/check, GET /health" })),
                )
            })
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

    fn info(&self) -> ProverInfo {
        self.prover.describe()
    }
}

async fn check<P: Provider + Clone + 'static>(
    State(ivs): State<Arc<Ivs<P>>>,
    body: Result<Json<CheckRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<CheckResponse>, IvsError> {
    let Json(request) = body.map_err(|e| IvsError::BadRequest(e.body_text()))?;
    ivs.check(&request).await.map(Json).inspect_err(|e| {
        warn!(target: "kalypso::ivs", ask_id = request.ask_id, %e, "check refused");
    })
}

async fn health<P: Provider + Clone + 'static>(State(ivs): State<Arc<Ivs<P>>>) -> Response {
    let registered = ivs.registered().await;
    let body = json!({
        "status": if matches!(registered, Ok(true)) { "ok" } else { "degraded" },
        "market": ivs.market,
        "signer": ivs.signer(),
        "publicKey": Bytes::from(ivs.public_key().to_bytes().to_vec()),
        "registered": registered.as_ref().ok(),
        "error": registered.as_ref().err().map(ToString::to_string),
        "prover": ivs.info(),
    });
    Json(body).into_response()
}

/// Client of an IVS's `/v1/check` (what the generator node uses).
#[derive(Debug, Clone)]
pub struct IvsClient {
    http: reqwest::Client,
    url: String,
}

/// Why an IVS did not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum IvsClientError {
    /// The IVS could not be reached or did not answer in time.
    #[error("cannot reach the IVS: {0}")]
    Transport(String),
    /// The IVS refused the request.
    #[error("the IVS answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Its body (the error message).
        body: String,
    },
    /// The answer is not a check response.
    #[error("the IVS answered something else: {0}")]
    Decode(String),
}

impl IvsClientError {
    /// Whether asking again later may succeed (transport errors, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) | Self::Decode(_) => true,
            Self::Status { status, .. } => *status >= 500,
        }
    }
}

impl IvsClient {
    /// A client of the IVS at `url` (`http://host:port`), giving up on a request after `timeout`.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<Self, IvsClientError> {
        let url = url.into().trim_end_matches('/').to_owned();
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(IvsClientError::Transport(format!(
                "{url} is not an http(s) URL"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| IvsClientError::Transport(e.to_string()))?;
        Ok(Self { http, url })
    }

    /// The IVS's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks for the verdict on an ask's inputs (and an attestation when they are invalid).
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckResponse, IvsClientError> {
        let response = self
            .http
            .post(format!("{}{CHECK_PATH}", self.url))
            .json(request)
            .send()
            .await
            .map_err(|e| IvsClientError::Transport(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| IvsClientError::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(IvsClientError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| IvsClientError::Decode(e.to_string()))
    }

    /// The IVS's signer and its public key, as its `/health` reports them; the public key is checked to be the
    /// signer's (the caller still checks on-chain that the signer is the market's IVS before trusting it).
    pub async fn key(&self) -> Result<(Address, PublicKey), IvsClientError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Health {
            signer: Address,
            public_key: Bytes,
        }
        let response = self
            .http
            .get(format!("{}/health", self.url))
            .send()
            .await
            .map_err(|e| IvsClientError::Transport(e.to_string()))?;
        let health: Health = response
            .json()
            .await
            .map_err(|e| IvsClientError::Decode(e.to_string()))?;
        let key = PublicKey::from_bytes(&health.public_key)
            .map_err(|e| IvsClientError::Decode(format!("publicKey: {e}")))?;
        if key.address() != health.signer {
            return Err(IvsClientError::Decode(format!(
                "publicKey is {}'s, not the signer {}'s",
                key.address(),
                health.signer
            )));
        }
        Ok((health.signer, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_camel_case_hex() {
        let request: CheckRequest =
            serde_json::from_str(r#"{"askId": 7, "proverData": "0x0102"}"#).expect("parses");
        assert_eq!(request.ask_id, 7);
        assert_eq!(request.prover_data.map(|b| b.to_vec()), Some(vec![1u8, 2]));
        assert!(serde_json::from_str::<CheckRequest>(r#"{"ask": 7}"#).is_err());

        let response = CheckResponse {
            ask_id: 7,
            market_id: 2,
            inputs_hash: B256::repeat_byte(0xab),
            valid: true,
            reason: None,
            signature: None,
            signer: None,
        };
        let json = serde_json::to_value(&response).expect("serializes");
        assert_eq!(json["askId"], 7);
        assert_eq!(json["valid"], true);
        assert!(json.get("signature").is_none());
        assert_eq!(
            json["inputsHash"],
            format!("0x{}", "ab".repeat(32)).as_str()
        );
    }

    #[test]
    fn only_transport_and_server_errors_are_retried() {
        assert!(IvsClientError::Transport("refused".into()).is_retryable());
        assert!(
            IvsClientError::Status {
                status: 502,
                body: String::new()
            }
            .is_retryable()
        );
        assert!(
            !IvsClientError::Status {
                status: 422,
                body: String::new()
            }
            .is_retryable()
        );
        assert!(IvsClient::new("ftp://x", Duration::from_secs(1)).is_err());
    }
}
