//! The JSON documents of the prover gateway API (`/v1`), shared by the webhook client
//! ([`WebhookProver`](crate::WebhookProver)) and the reference server ([`server`](crate::server), feature
//! `server`). `docs/prover-gateway.openapi.yaml` is the specification; bytes are `0x`-hex strings.
//!
//! | method and path | request | success | errors |
//! | --- | --- | --- | --- |
//! | `GET /v1/health` | | 200 [`HealthResponse`] | |
//! | `GET /v1/benchmark?runs=N` | | 200 [`BenchmarkReport`](crate::BenchmarkReport) | 400, 501, 500 |
//! | `POST /v1/prove` | [`ProveBody`] | 200 [`ProveResponse`] | 400, 422 `invalid_input`, 500, 503, 504 |
//! | `POST /v1/check-input` | [`CheckInputBody`] | 200 [`CheckInputResponse`] | 400, 500 |
//!
//! Every error is an [`ErrorBody`].

use serde::{Deserialize, Serialize};

use crate::{ProverInfo, hex0x};

/// The path prefix of this version of the API.
pub const API_VERSION: &str = "v1";

/// `GET /v1/health`: the gateway is up, and what it proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse {
    /// Always `ok`.
    pub status: String,
    /// The API version served (`v1`).
    pub api_version: String,
    /// The prover behind the gateway.
    pub prover: ProverInfo,
}

/// `POST /v1/prove` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProveBody {
    /// The ask's prover data, exactly as the marketplace stores it.
    #[serde(with = "hex0x")]
    pub prover_data: Vec<u8>,
    /// The ask's decrypted secret inputs (confidential markets).
    #[serde(
        default,
        with = "hex0x::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret: Option<Vec<u8>>,
    /// The ask id, for the gateway's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_id: Option<u64>,
    /// How long the caller will wait, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `POST /v1/prove` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProveResponse {
    /// The bytes to submit as `proof` (for Groth16: the proof followed by the public outputs).
    #[serde(with = "hex0x")]
    pub proof: Vec<u8>,
    /// Time spent proving, in milliseconds.
    pub proving_time_ms: u64,
}

/// `POST /v1/check-input` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInputBody {
    /// The ask's prover data.
    #[serde(with = "hex0x")]
    pub prover_data: Vec<u8>,
}

/// `POST /v1/check-input` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInputResponse {
    /// Whether a proof can be made for the inputs.
    pub valid: bool,
    /// Why not, when invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `error` code of an [`ErrorBody`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, a missing field, bad hex, a bad query.
    BadRequest,
    /// 404: no such endpoint.
    NotFound,
    /// 422: the inputs cannot be proven (`reason` says why).
    InvalidInput,
    /// 500: the prover failed.
    ProverFailed,
    /// 501: the operation is not offered (a benchmark without sample inputs).
    Unsupported,
    /// 503: the prover behind the gateway is unreachable or misconfigured.
    Unavailable,
    /// 504: the prover did not finish in time.
    Timeout,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Machine-readable code.
    pub error: ErrorCode,
    /// Human-readable message.
    pub message: String,
    /// For `invalid_input`: why the inputs cannot be proven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
