//! A market creator's prover gateway over HTTP: the client side of the `/v1` API
//! ([`webhook_api`](crate::webhook_api), `docs/prover-gateway.openapi.yaml`).
//!
//! Plain `http://` works out of the box; `https://` needs the crate's `https` feature.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tracing::debug;
use ureq::{Agent, http::StatusCode};

use crate::{
    bench::BenchmarkReport,
    prover::{InputCheck, Proof, ProveRequest, Prover, ProverError, ProverInfo, ProverKind},
    webhook_api::{
        API_VERSION, CheckInputBody, CheckInputResponse, ErrorBody, ErrorCode, HealthResponse,
        ProveBody, ProveResponse,
    },
};

/// Largest response body read (a proof is usually a few hundred bytes).
const MAX_RESPONSE: u64 = 64 << 20;
/// Connection timeout, capped by the request's.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Configuration of a [`WebhookProver`] (the `webhook` variant of [`ProverConfig`](crate::ProverConfig)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Base URL of the gateway (`http://10.0.0.5:3030`); the client appends `/v1/...`.
    pub url: String,
    /// Seconds to wait for a proof (health, check and benchmark calls use the same limit).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// Name of an environment variable holding a bearer token for the gateway (the token itself never goes
    /// into a config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
}

fn default_timeout_secs() -> f64 {
    3600.0
}

impl WebhookConfig {
    /// A gateway at `url` with the default timeout and no token.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout_secs: default_timeout_secs(),
            bearer_token_env: None,
        }
    }
}

/// The client of one prover gateway.
#[derive(Clone)]
pub struct WebhookProver {
    base: String,
    agent: Agent,
    timeout: Duration,
    token: Option<String>,
}

impl fmt::Debug for WebhookProver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookProver")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl WebhookProver {
    /// Validates `config` (an `http(s)://` URL, a positive timeout, the token variable set when named).
    pub fn new(config: &WebhookConfig) -> Result<Self, ProverError> {
        let base = config.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ProverError::config(format!(
                "webhook url '{}' must start with http:// or https://",
                config.url
            )));
        }
        let timeout = Duration::try_from_secs_f64(config.timeout_secs)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                ProverError::config(format!(
                    "timeout_secs must be a positive number of seconds, got {}",
                    config.timeout_secs
                ))
            })?;
        let token = match &config.bearer_token_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                ProverError::config(format!("the gateway token variable {var} is not set"))
            })?),
            None => None,
        };
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .build()
            .into();
        Ok(Self {
            base,
            agent,
            timeout,
            token,
        })
    }

    /// The gateway's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /v1/health`: whether the gateway is up, and what it proves.
    pub fn health(&self) -> Result<HealthResponse, ProverError> {
        self.call("GET", "health", None, self.timeout)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{API_VERSION}/{path}", self.base)
    }

    /// Sends one request and decodes a 200 response as `T`, or the error response.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
        timeout: Duration,
    ) -> Result<T, ProverError> {
        let url = self.endpoint(path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = match body {
            Some(body) => {
                let mut request = self
                    .agent
                    .post(&url)
                    .config()
                    .timeout_global(Some(timeout))
                    .build()
                    .header("content-type", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                request.send(body)
            }
            None => {
                debug_assert_eq!(method, "GET");
                let mut request = self
                    .agent
                    .get(&url)
                    .config()
                    .timeout_global(Some(timeout))
                    .build();
                if let Some(auth) = &auth {
                    request = request.header("authorization", auth);
                }
                request.call()
            }
        };
        let mut response = result.map_err(|e| transport_error(&url, e, timeout))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_string()
            .map_err(|e| transport_error(&url, e, timeout))?;
        debug!(target: "kalypso::provers::webhook", %url, status = status.as_u16(), "gateway answered");
        if status == StatusCode::OK {
            serde_json::from_str(&text).map_err(|e| {
                ProverError::transport(format!(
                    "{method} {url}: the response is not the v1 API ({e}): {}",
                    preview(&text)
                ))
            })
        } else {
            Err(status_error(method, &url, status, &text))
        }
    }
}

impl Prover for WebhookProver {
    fn describe(&self) -> ProverInfo {
        ProverInfo::new(self.base.clone(), ProverKind::Webhook)
    }

    fn check_inputs(&self, prover_data: &[u8]) -> Result<InputCheck, ProverError> {
        let body = CheckInputBody {
            prover_data: prover_data.to_vec(),
        };
        let response: CheckInputResponse =
            self.call("POST", "check-input", Some(to_json(&body)), self.timeout)?;
        Ok(if response.valid {
            InputCheck::Valid
        } else {
            InputCheck::Invalid {
                reason: response
                    .reason
                    .unwrap_or_else(|| "rejected by the gateway".into()),
            }
        })
    }

    fn prove(&self, request: &ProveRequest) -> Result<Proof, ProverError> {
        let timeout = request
            .timeout
            .map_or(self.timeout, |t| t.min(self.timeout));
        let body = ProveBody {
            prover_data: request.prover_data.clone(),
            secret: request.secret().map(<[u8]>::to_vec),
            ask_id: request.ask_id,
            timeout_ms: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
        };
        let response: ProveResponse = self.call("POST", "prove", Some(to_json(&body)), timeout)?;
        if response.proof.is_empty() {
            return Err(ProverError::failed(format!(
                "{} returned an empty proof",
                self.endpoint("prove")
            )));
        }
        Ok(Proof(response.proof))
    }

    /// `GET /v1/benchmark?runs=N`: the gateway proves its own sample inputs and reports its times.
    fn benchmark(&self, runs: u32) -> Result<BenchmarkReport, ProverError> {
        self.call("GET", &format!("benchmark?runs={runs}"), None, self.timeout)
    }
}

fn to_json<T: Serialize>(body: &T) -> String {
    // The request documents are plain structs of strings and integers.
    serde_json::to_string(body).expect("request body serializes")
}

fn transport_error(url: &str, e: ureq::Error, timeout: Duration) -> ProverError {
    match e {
        ureq::Error::Timeout(_) => ProverError::Timeout { after: timeout },
        e => ProverError::transport(format!("{url}: {e}")),
    }
}

/// The error a non-200 response stands for.
fn status_error(method: &str, url: &str, status: StatusCode, text: &str) -> ProverError {
    let body: Option<ErrorBody> = serde_json::from_str(text).ok();
    let message = body
        .as_ref()
        .map_or_else(|| preview(text), |b| b.message.clone());
    let what = format!("{method} {url} answered {status}: {message}");
    match (status.as_u16(), body.as_ref().map(|b| b.error)) {
        (422, Some(ErrorCode::InvalidInput)) => {
            ProverError::invalid(body.and_then(|b| b.reason).unwrap_or(message))
        }
        (501, _) => ProverError::Unsupported { what },
        (503 | 429, _) => ProverError::transport(what),
        (504, _) => ProverError::failed(what),
        (400..=499, _) => ProverError::config(format!(
            "{what} (is the gateway serving the {API_VERSION} API?)"
        )),
        _ => ProverError::failed(what),
    }
}

/// The start of a response body, for messages.
fn preview(text: &str) -> String {
    const MAX: usize = 200;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None if text.is_empty() => "(empty body)".into(),
        None => text.to_owned(),
    }
}
