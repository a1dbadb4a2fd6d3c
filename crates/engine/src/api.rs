//! The engine's HTTP API (JSON; the OpenAPI document is served at `/openapi.json`), the websocket event feed
//! and Prometheus metrics.
//!
//! Every error answer, whoever produces it, is `{"error": "..."}` with `Content-Type: application/json`: the
//! handlers' own [`ApiError`]s, the router's 404 and 405 (which keeps its `Allow` header), extractor
//! rejections and panics (through [`router`]'s layers), and the 400/414/431 that hyper answers by itself to a
//! request it cannot parse (through [`Listener`]). User input quoted in a message is cut to its first
//! [`ECHO_CHARS`] characters.

pub mod doc;
mod wire;

use alloy::primitives::{Address, Bytes};
use axum::{
    Json, Router,
    extract::{
        Path, Query, Request, State as AxumState,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::FutureExt;
use kalypso_sdk::{
    ProtocolEvent, contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::{panic::AssertUnwindSafe, sync::Arc};

use crate::{
    Engine,
    state::{AskRecord, AskStatus},
};
use doc::{
    AskCounts, AskDetail, AsksPage, GeneratorDetail, MarketDetail, MarketEntry, MarketStats,
    ProofBody,
};

pub use doc::{ApiDoc, openapi_json};
pub use wire::Listener;

/// Largest page of `/v1/asks`.
pub const MAX_PAGE: usize = 1000;

/// How much of a piece of user input an error message quotes (characters); longer input is cut, marked with
/// `…` and followed by its length.
pub const ECHO_CHARS: usize = 64;

/// Longest body of a foreign error answer (an extractor rejection) kept as the message, in characters.
const FOREIGN_CHARS: usize = 256;

type Shared = AxumState<Arc<Engine>>;

/// The API's routes.
pub fn router(engine: Arc<Engine>) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/markets", get(markets))
        .route("/v1/markets/{id}", get(market))
        .route("/v1/markets/{id}/stats", get(market_stats))
        .route("/v1/asks", get(asks))
        .route("/v1/asks/{id}", get(ask))
        .route("/v1/asks/{id}/proof", get(proof))
        .route("/v1/generators", get(generators))
        .route("/v1/generators/{address}", get(generator))
        .route("/v1/events", get(events))
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .with_state(engine);
    json_errors(routes)
}

/// Wraps `routes` so that every error answer has the JSON error shape: a handler that panics answers 500,
/// and an error answer that is not JSON (the router's 405, an extractor's rejection) gets its text, if any,
/// as the message, its status and other headers (`Allow`) kept.
fn json_errors(routes: Router) -> Router {
    routes
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::map_response(to_json_error))
}

async fn catch_panic(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(target: "kalypso::engine::api", %method, path = %clip(&path, ECHO_CHARS), panic = %what, "handler panicked");
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error (the engine logged it)".to_owned(),
            )
            .into_response()
        }
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

async fn to_json_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        format!("{reason}; see /openapi.json")
    } else {
        clip(&text, FOREIGN_CHARS)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let (json, body) = ApiError(status, message).into_response().into_parts();
    parts.headers.extend(json.headers);
    Response::from_parts(parts, body)
}

/// `raw` cut to its first `keep` characters, with `…` and its length in bytes when it was longer.
fn clip(raw: &str, keep: usize) -> String {
    match raw.char_indices().nth(keep) {
        None => raw.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &raw[..cut], raw.len()),
    }
}

/// User input for an error message: quoted, cut to [`ECHO_CHARS`] characters (then `…` and its length).
fn echo(raw: &str) -> String {
    match raw.char_indices().nth(ECHO_CHARS) {
        None => format!("{raw:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &raw[..cut], raw.len()),
    }
}

/// A 4xx/5xx answer: `{"error": "..."}` (the `Error` schema of the OpenAPI document).
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad_request(msg: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, msg.into())
    }
    fn not_found(msg: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type ApiResult<T = Json<Value>> = Result<T, ApiError>;

fn id_param(raw: &str, what: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{what} must be a non-negative integer, got {}",
            echo(raw)
        ))
    })
}

/// 200 only when healthy (`ok`): a load balancer reads the status code, so `syncing` and `degraded` are 503
/// with the same body.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses(
        (status = 200, description = "Healthy: caught up with the chain, last round without error", body = doc::HealthBody),
        (status = 503, description = "Syncing or degraded (same body)", body = doc::HealthBody),
    ))]
async fn health(AxumState(e): Shared) -> (StatusCode, Json<doc::HealthBody>) {
    let engine = e.status();
    let status = if engine.last_error.is_some() {
        doc::HealthState::Degraded
    } else if engine.caught_up {
        doc::HealthState::Ok
    } else {
        doc::HealthState::Syncing
    };
    let code = if status == doc::HealthState::Ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(doc::HealthBody { status, engine }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
async fn metrics(AxumState(e): Shared) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        e.metrics.render(),
    )
}

/// The OpenAPI document, derived from the handlers and their types.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This API's OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}

/// Every market: the book's depth and the ledger's record.
#[utoipa::path(get, path = "/v1/markets", tag = "markets",
    responses((status = 200, description = "Every market", body = Vec<MarketEntry>)))]
async fn markets(AxumState(e): Shared) -> Json<Vec<MarketEntry>> {
    let state = e.read();
    Json(
        state
            .book
            .markets()
            .into_iter()
            .filter_map(|book| {
                let record = state.markets.get(&book.market)?.clone();
                Some(MarketEntry { book, record })
            })
            .collect(),
    )
}

/// The market entry of `id`, or 404.
fn market_entry(state: &crate::state::State, id: u64) -> ApiResult<MarketEntry> {
    let not_found = || ApiError::not_found(format!("market {id} not found"));
    Ok(MarketEntry {
        book: state.book.market(id).ok_or_else(not_found)?,
        record: state.markets.get(&id).cloned().ok_or_else(not_found)?,
    })
}

/// One market with its quotes.
#[utoipa::path(get, path = "/v1/markets/{id}", tag = "markets",
    params(("id" = u64, Path, description = "Market id")),
    responses(
        (status = 200, description = "The market and its quotes", body = MarketDetail),
        (status = 400, description = "Bad request (the error names the parameter and the form expected)", body = doc::ErrorBody),
        (status = 404, description = "No such market", body = doc::ErrorBody),
    ))]
async fn market(AxumState(e): Shared, Path(id): Path<String>) -> ApiResult<Json<MarketDetail>> {
    let id = id_param(&id, "market id")?;
    let state = e.read();
    Ok(Json(MarketDetail {
        entry: market_entry(&state, id)?,
        quote_list: state.book.quotes(id),
    }))
}

/// Percentiles of a sample (nearest rank), as decimal strings.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    count: usize,
    p10: Option<String>,
    p50: Option<String>,
    p90: Option<String>,
}

fn percentiles<T: Ord + Copy + ToString>(mut values: Vec<T>) -> Percentiles {
    values.sort_unstable();
    let at = |p: usize| -> Option<String> {
        if values.is_empty() {
            return None;
        }
        let rank = (p * values.len()).div_ceil(100).max(1) - 1;
        values
            .get(rank.min(values.len() - 1))
            .map(ToString::to_string)
    };
    Percentiles {
        count: values.len(),
        p10: at(10),
        p50: at(50),
        p90: at(90),
    }
}

/// A market's figures: asks by status, time to assign and to proof, prices paid, rewards.
#[utoipa::path(get, path = "/v1/markets/{id}/stats", tag = "markets",
    params(("id" = u64, Path, description = "Market id")),
    responses(
        (status = 200, description = "The market's figures", body = MarketStats),
        (status = 400, description = "Bad request", body = doc::ErrorBody),
        (status = 404, description = "No such market", body = doc::ErrorBody),
    ))]
async fn market_stats(
    AxumState(e): Shared,
    Path(id): Path<String>,
) -> ApiResult<Json<MarketStats>> {
    let id = id_param(&id, "market id")?;
    let state = e.read();
    let view = state
        .book
        .market(id)
        .ok_or_else(|| ApiError::not_found(format!("market {id} not found")))?;
    let asks: Vec<&AskRecord> = state.asks.values().filter(|a| a.market == id).collect();
    let count = |s: AskStatus| asks.iter().filter(|a| a.status == s).count();
    Ok(Json(MarketStats {
        market: id,
        depth: view,
        quotes: state.book.quotes(id),
        asks: AskCounts {
            total: asks.len(),
            open: count(AskStatus::Open),
            assigned: count(AskStatus::Assigned),
            proven: count(AskStatus::Proven),
            invalid_inputs: count(AskStatus::InvalidInputs),
            refunded: count(AskStatus::Refunded),
        },
        time_to_assign_seconds: percentiles(asks.iter().filter_map(|a| a.time_to_assign).collect()),
        time_to_proof_seconds: percentiles(asks.iter().filter_map(|a| a.time_to_proof).collect()),
        price: percentiles(asks.iter().filter_map(|a| a.price).collect()),
        reward: percentiles(asks.iter().map(|a| a.reward).collect()),
    }))
}

/// Query of `/v1/asks`.
#[derive(Debug, Default)]
struct AsksQuery {
    status: Option<String>,
    market: Option<String>,
    generator: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

impl AsksQuery {
    /// Parsed by hand rather than by serde, so an unknown parameter's name is quoted cut short.
    fn parse(pairs: Vec<(String, String)>) -> ApiResult<Self> {
        let mut q = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "status" => &mut q.status,
                "market" => &mut q.market,
                "generator" => &mut q.generator,
                "limit" => &mut q.limit,
                "offset" => &mut q.offset,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter {}; expected status, market, generator, limit, offset",
                        echo(&key)
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(ApiError::bad_request(format!(
                    "query parameter {key} given twice"
                )));
            }
        }
        Ok(q)
    }
}

/// Asks, oldest first, filtered and paged.
#[utoipa::path(get, path = "/v1/asks", tag = "asks",
    params(
        ("status" = Option<String>, Query, description = "open, assigned, proven, invalidInputs or refunded"),
        ("market" = Option<u64>, Query, description = "Only this market's asks"),
        ("generator" = Option<String>, Query, description = "Only asks whose current or last task is this generator's (0x address)"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=1000 (default 100)"),
        ("offset" = Option<usize>, Query, description = "Asks to skip"),
    ),
    responses(
        (status = 200, description = "A page of asks", body = AsksPage),
        (status = 400, description = "Bad request (the error names the parameter and the form expected)", body = doc::ErrorBody),
    ))]
async fn asks(
    AxumState(e): Shared,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AsksPage>> {
    let Query(pairs) =
        query.map_err(|r| ApiError::bad_request(clip(&r.body_text(), FOREIGN_CHARS)))?;
    let q = AsksQuery::parse(pairs)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            AskStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status must be one of open, assigned, proven, invalidInputs, refunded; got {}",
                    echo(s)
                ))
            })
        })
        .transpose()?;
    let market = q
        .market
        .as_deref()
        .map(|m| id_param(m, "market"))
        .transpose()?;
    let generator = q
        .generator
        .as_deref()
        .map(|g| {
            g.parse::<Address>().map_err(|_| {
                ApiError::bad_request(format!("generator must be a 0x address, got {}", echo(g)))
            })
        })
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit must be 1..={MAX_PAGE}, got {}",
                    echo(l)
                )));
            }
        },
    };
    let offset = match q.offset.as_deref() {
        None => 0,
        Some(o) => o.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "offset must be a non-negative integer, got {}",
                echo(o)
            ))
        })?,
    };
    let state = e.read();
    let matching = state.asks.values().filter(|a| {
        status.is_none_or(|s| a.status == s)
            && market.is_none_or(|m| a.market == m)
            && generator.is_none_or(|g| a.generator == Some(g))
    });
    let total = matching.clone().count();
    let asks = matching.skip(offset).take(limit).cloned().collect();
    Ok(Json(AsksPage {
        total,
        offset,
        asks,
    }))
}

/// One ask: its record, history and where it stands in the book.
#[utoipa::path(get, path = "/v1/asks/{id}", tag = "asks",
    params(("id" = u64, Path, description = "Ask id")),
    responses(
        (status = 200, description = "The ask", body = AskDetail),
        (status = 400, description = "Bad request", body = doc::ErrorBody),
        (status = 404, description = "No such ask", body = doc::ErrorBody),
    ))]
async fn ask(AxumState(e): Shared, Path(id): Path<String>) -> ApiResult<Json<AskDetail>> {
    let id = id_param(&id, "ask id")?;
    let state = e.read();
    let record = state
        .asks
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("ask {id} not found")))?
        .clone();
    Ok(Json(AskDetail {
        record,
        book: state.book.ask(id),
    }))
}

/// The proof of a proven ask, as its `ProofSubmitted` log carried it.
#[utoipa::path(get, path = "/v1/asks/{id}/proof", tag = "asks",
    params(("id" = u64, Path, description = "Ask id")),
    responses(
        (status = 200, description = "The proof", body = ProofBody),
        (status = 400, description = "Bad request", body = doc::ErrorBody),
        (status = 404, description = "No such ask, or no proof", body = doc::ErrorBody),
    ))]
async fn proof(AxumState(e): Shared, Path(id): Path<String>) -> ApiResult<Json<ProofBody>> {
    let id = id_param(&id, "ask id")?;
    let (status, location) = {
        let state = e.read();
        let record = state
            .asks
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("ask {id} not found")))?;
        (record.status, record.proof_log)
    };
    let Some((block, index)) = location else {
        return Err(ApiError::not_found(format!(
            "ask {id} has no proof (status {status:?})"
        )));
    };
    let log = e
        .store
        .log(block, index)
        .map_err(|err| ApiError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("ask {id}'s proof log is gone (reorg?)")))?;
    match ProtocolEvent::decode(&e.deployment, log.address, &log.topics, &log.data) {
        Ok(ProtocolEvent::Marketplace(ProofMarketplaceEvents::ProofSubmitted(p))) => {
            Ok(Json(ProofBody {
                ask_id: id,
                generator: p.generator,
                proof: Bytes::from(p.proof.to_vec()),
                block,
                tx_hash: log.tx_hash,
            }))
        }
        _ => Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ask {id}'s proof log does not decode"),
        )),
    }
}

/// Every generator the book knows.
#[utoipa::path(get, path = "/v1/generators", tag = "generators",
    responses((status = 200, description = "Every generator", body = Vec<kalypso_matching::GeneratorView>)))]
async fn generators(AxumState(e): Shared) -> Json<Vec<kalypso_matching::GeneratorView>> {
    Json(e.read().book.generators())
}

/// One generator: compute, stake, markets, and what it earned and paid.
#[utoipa::path(get, path = "/v1/generators/{address}", tag = "generators",
    params(("address" = String, Path, description = "The generator's 0x address")),
    responses(
        (status = 200, description = "The generator", body = GeneratorDetail),
        (status = 400, description = "Bad request", body = doc::ErrorBody),
        (status = 404, description = "No such generator", body = doc::ErrorBody),
    ))]
async fn generator(
    AxumState(e): Shared,
    Path(address): Path<String>,
) -> ApiResult<Json<GeneratorDetail>> {
    let g: Address = address.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "generator must be a 0x address, got {}",
            echo(&address)
        ))
    })?;
    let state = e.read();
    let book = state
        .book
        .generator(g)
        .ok_or_else(|| ApiError::not_found(format!("generator {g} not found")))?;
    Ok(Json(GeneratorDetail {
        book,
        record: state.generators.get(&g).cloned().unwrap_or_default(),
    }))
}

/// The live feed: a websocket of [`doc::FeedItem`]s.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    responses((status = 101, description = "Switching protocols: a websocket of JSON messages: a FeedItem per indexed protocol event; {\"reorg\":{\"to\":n}} after a rollback; {\"lagged\":n} when the client fell behind")))]
async fn events(AxumState(e): Shared, ws: WebSocketUpgrade) -> Response {
    let feed = e.feed.subscribe();
    ws.on_upgrade(move |socket| forward(socket, feed))
}

async fn forward(mut socket: WebSocket, mut feed: tokio::sync::broadcast::Receiver<String>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            item = feed.recv() => match item {
                Ok(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let note = json!({ "lagged": n }).to_string();
                    if socket.send(Message::Text(note.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let p = percentiles((1..=10u64).collect());
        assert_eq!(
            (
                p.count,
                p.p10.as_deref(),
                p.p50.as_deref(),
                p.p90.as_deref()
            ),
            (10, Some("1"), Some("5"), Some("9"))
        );
        let empty = percentiles(Vec::<u64>::new());
        assert_eq!((empty.count, empty.p50), (0, None));
    }

    #[test]
    fn echo_quotes_input_cut_short() {
        assert_eq!(echo("abc"), r#""abc""#);
        let long = "é".repeat(100);
        assert_eq!(
            echo(&long),
            format!("{:?}… (200 bytes)", "é".repeat(ECHO_CHARS))
        );
        assert_eq!(clip("abc", 2), "ab… (3 bytes)");
    }

    /// A panicking handler answers 500 in the error shape, over a real connection, and the server goes on.
    #[tokio::test]
    async fn a_panic_answers_json_500() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let routes = Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("boom");
                }
                "unreachable"
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server =
            tokio::spawn(async move { axum::serve(Listener(listener), json_errors(routes)).await });
        for _ in 0..2 {
            let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
            conn.write_all(b"GET /boom HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .await
                .expect("write");
            let mut out = String::new();
            conn.read_to_string(&mut out).await.expect("read");
            assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
            assert!(out.contains("content-type: application/json\r\n"), "{out}");
            assert!(
                out.ends_with(r#"{"error":"internal error (the engine logged it)"}"#),
                "{out}"
            );
        }
        server.abort();
    }

    #[test]
    fn openapi_documents_every_route() {
        let doc: Value = serde_json::from_str(&openapi_json()).expect("the document parses");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for route in [
            "/health",
            "/metrics",
            "/openapi.json",
            "/v1/markets",
            "/v1/markets/{id}",
            "/v1/markets/{id}/stats",
            "/v1/asks",
            "/v1/asks/{id}",
            "/v1/asks/{id}/proof",
            "/v1/generators",
            "/v1/generators/{address}",
            "/v1/events",
        ] {
            assert!(paths.contains_key(route), "{route} is not documented");
        }
        assert_eq!(
            paths.len(),
            12,
            "documented routes that the router does not serve"
        );
        assert!(
            paths["/health"]["get"]["responses"].get("503").is_some(),
            "/health's 503 is not documented"
        );
        // The shapes come from the types the handlers answer with.
        let schemas = &doc["components"]["schemas"];
        for (schema, field) in [
            ("AskRecord", "\"history"),
            ("AskDetail", "schemas/AskRecord"),
            ("MarketView", "\"openAsks"),
            ("MarketRecord", "\"verifier"),
            ("MarketEntry", "schemas/MarketView"),
            ("MarketEntry", "schemas/MarketRecord"),
            ("GeneratorRecord", "\"earnings"),
            ("GeneratorDetail", "schemas/GeneratorView"),
            ("QuoteView", "\"quote"),
            ("AskStep", "\"txHash"),
            ("FeedItem", "\"market"),
        ] {
            assert!(
                schemas[schema].to_string().contains(field),
                "{schema} does not document {field}: {}",
                schemas[schema]
            );
        }
    }

    /// `crates/engine/openapi.json` is the derived document (for readers and the portal's build); regenerate it
    /// with `UPDATE_OPENAPI=1 cargo test -p kalypso-engine --lib openapi`.
    #[test]
    fn the_committed_openapi_document_is_the_derived_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let derived = format!("{}\n", openapi_json());
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &derived).expect("write openapi.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == derived,
            "crates/engine/openapi.json is not the document the handlers derive: run \
             UPDATE_OPENAPI=1 cargo test -p kalypso-engine --lib openapi"
        );
    }
}
