//! The reference prover gateway: serves any [`Prover`] over the `/v1` HTTP API
//! ([`webhook_api`](crate::webhook_api), `docs/prover-gateway.openapi.yaml`).
//!
//! Proving runs on tokio's blocking pool, at most [`GatewayOptions::max_concurrent`] at a time (later
//! requests wait their turn). Malformed requests get a 400 with an [`ErrorBody`] saying what is wrong.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use kalypso_provers::{CircuitKind, Groth16Config, Groth16Prover, server};
//!
//! let prover = Groth16Prover::from_config(&Groth16Config::new(CircuitKind::Merkle, 20))
//!     .map_err(std::io::Error::other)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3030").await?;
//! server::serve(listener, Arc::new(prover), server::GatewayOptions::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

use std::{future::Future, sync::Arc, time::Instant};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, RawQuery, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::{
    prover::{InputCheck, ProveRequest, Prover, ProverError},
    webhook_api::{
        API_VERSION, CheckInputBody, CheckInputResponse, ErrorBody, ErrorCode, HealthResponse,
        ProveBody, ProveResponse,
    },
};

/// Limits of a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayOptions {
    /// Proofs (and benchmarks) running at once.
    pub max_concurrent: usize,
    /// Largest `runs` a benchmark request may ask for.
    pub max_benchmark_runs: u32,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for GatewayOptions {
    /// One proof at a time, benchmarks of up to 20 runs, 16 MiB bodies.
    fn default() -> Self {
        Self {
            max_concurrent: 1,
            max_benchmark_runs: 20,
            max_body_bytes: 16 << 20,
        }
    }
}

struct Gateway {
    prover: Arc<dyn Prover>,
    permits: Semaphore,
    options: GatewayOptions,
}

/// The `/v1` routes serving `prover`.
pub fn router(prover: Arc<dyn Prover>, options: GatewayOptions) -> Router {
    let body_limit = options.max_body_bytes;
    let gateway = Arc::new(Gateway {
        prover,
        permits: Semaphore::new(options.max_concurrent.max(1)),
        options,
    });
    Router::new()
        .route(&format!("/{API_VERSION}/health"), get(health))
        .route(&format!("/{API_VERSION}/benchmark"), get(benchmark))
        .route(&format!("/{API_VERSION}/prove"), post(prove))
        .route(&format!("/{API_VERSION}/check-input"), post(check_input))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(gateway)
}

/// Serves `prover` on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    prover: Arc<dyn Prover>,
    options: GatewayOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    info!(
        target: "kalypso::provers::server",
        addr = %listener.local_addr()?,
        prover = %prover.describe().name,
        "prover gateway listening"
    );
    axum::serve(listener, router(prover, options))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health(State(g): State<Arc<Gateway>>) -> Response {
    json(
        StatusCode::OK,
        &HealthResponse {
            status: "ok".into(),
            api_version: API_VERSION.into(),
            prover: g.prover.describe(),
        },
    )
}

async fn benchmark(State(g): State<Arc<Gateway>>, RawQuery(query): RawQuery) -> Response {
    let runs = match parse_runs(query.as_deref(), g.options.max_benchmark_runs) {
        Ok(runs) => runs,
        Err(message) => return error(ErrorCode::BadRequest, message, None),
    };
    let prover = g.prover.clone();
    match run_blocking(&g, move || prover.benchmark(runs)).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => prover_error(&e),
    }
}

/// `runs=N` from the query string (default 1, at most `max`).
fn parse_runs(query: Option<&str>, max: u32) -> Result<u32, String> {
    let mut runs = 1;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("runs", value)) => {
                runs = value
                    .parse::<u32>()
                    .ok()
                    .filter(|r| (1..=max).contains(r))
                    .ok_or_else(|| {
                        format!("runs must be an integer from 1 to {max}, got '{value}'")
                    })?;
            }
            _ => {
                return Err(format!(
                    "unknown query parameter '{pair}' (expected runs=N)"
                ));
            }
        }
    }
    Ok(runs)
}

async fn prove(State(g): State<Arc<Gateway>>, body: Bytes) -> Response {
    let body: ProveBody = match parse(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request = ProveRequest {
        prover_data: body.prover_data,
        secret: body.secret,
        ask_id: body.ask_id,
        timeout: body.timeout_ms.map(std::time::Duration::from_millis),
    };
    let prover = g.prover.clone();
    let ask_id = request.ask_id;
    let started = Instant::now();
    match run_blocking(&g, move || prover.prove(&request)).await {
        Ok(proof) => {
            let proving_time_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            info!(target: "kalypso::provers::server", ?ask_id, proving_time_ms, "proof served");
            json(
                StatusCode::OK,
                &ProveResponse {
                    proof: proof.into_bytes(),
                    proving_time_ms,
                },
            )
        }
        Err(e) => {
            warn!(target: "kalypso::provers::server", ?ask_id, error = %e, "proof failed");
            prover_error(&e)
        }
    }
}

async fn check_input(State(g): State<Arc<Gateway>>, body: Bytes) -> Response {
    let body: CheckInputBody = match parse(&body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let prover = g.prover.clone();
    // Checks are cheap next to proofs: they do not wait for a proving permit.
    let result = tokio::task::spawn_blocking(move || prover.check_inputs(&body.prover_data))
        .await
        .unwrap_or_else(|e| Err(ProverError::failed(format!("the check panicked: {e}"))));
    match result {
        Ok(InputCheck::Valid) => json(
            StatusCode::OK,
            &CheckInputResponse {
                valid: true,
                reason: None,
            },
        ),
        Ok(InputCheck::Invalid { reason }) => json(
            StatusCode::OK,
            &CheckInputResponse {
                valid: false,
                reason: Some(reason),
            },
        ),
        Err(e) => prover_error(&e),
    }
}

async fn not_found() -> Response {
    error(
        ErrorCode::NotFound,
        format!(
            "no such endpoint: the {API_VERSION} API serves GET /{API_VERSION}/health, GET /{API_VERSION}/benchmark, \
             POST /{API_VERSION}/prove and POST /{API_VERSION}/check-input"
        ),
        None,
    )
}

/// Runs `f` on the blocking pool once a proving permit is free.
async fn run_blocking<T: Send + 'static>(
    g: &Gateway,
    f: impl FnOnce() -> Result<T, ProverError> + Send + 'static,
) -> Result<T, ProverError> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = g
        .permits
        .acquire()
        .await
        .map_err(|e| ProverError::failed(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ProverError::failed(format!("the prover panicked: {e}"))))
}

/// Parses a JSON request body, or answers 400 saying what is wrong with it.
#[allow(clippy::result_large_err)] // the error is the response itself
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "malformed JSON"
        } else {
            "invalid request"
        };
        error(ErrorCode::BadRequest, format!("{what}: {e}"), None)
    })
}

fn prover_error(e: &ProverError) -> Response {
    let (code, reason) = match e {
        ProverError::InvalidInput { reason } => (ErrorCode::InvalidInput, Some(reason.clone())),
        ProverError::Timeout { .. } => (ErrorCode::Timeout, None),
        ProverError::Unsupported { .. } => (ErrorCode::Unsupported, None),
        ProverError::Transport { .. } | ProverError::Config { .. } => {
            (ErrorCode::Unavailable, None)
        }
        ProverError::Failed { .. } => (ErrorCode::ProverFailed, None),
    };
    error(code, e.to_string(), reason)
}

fn error(code: ErrorCode, message: String, reason: Option<String>) -> Response {
    let status = match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ProverFailed => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
    };
    json(
        status,
        &ErrorBody {
            error: code,
            message,
            reason,
        },
    )
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_query() {
        assert_eq!(parse_runs(None, 5), Ok(1));
        assert_eq!(parse_runs(Some("runs=3"), 5), Ok(3));
        assert!(
            parse_runs(Some("runs=0"), 5)
                .unwrap_err()
                .contains("1 to 5")
        );
        assert!(parse_runs(Some("runs=6"), 5).is_err());
        assert!(parse_runs(Some("runs=x"), 5).is_err());
        assert!(parse_runs(Some("n=1"), 5).unwrap_err().contains("unknown"));
    }
}
