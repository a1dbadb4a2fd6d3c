//! The two upstreams behind the portal's origin: the engine's `/v1` API (GET) and websocket feed, and the
//! chain's JSON-RPC, narrowed to the three reads the page makes. Nothing an upstream says about itself (its URL,
//! its errors) reaches the page: those go to the portal's log.

use crate::{Portal, error};
use alloy::primitives::Address;
use axum::{
    body::Bytes,
    extract::{
        Path, RawQuery, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use std::{sync::Arc, time::Duration};
use tracing::warn;

/// Largest JSON-RPC request body the portal forwards.
const MAX_RPC_BODY: usize = 16 * 1024;

/// Largest JSON-RPC answer the portal passes on (a receipt or a block header is a few KB).
const MAX_RPC_ANSWER: usize = 1024 * 1024;

/// How long the portal waits for the engine's websocket.
const FEED_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /api/{*path}`: the engine's `/v1/...` (nothing else of the engine: its health and metrics are the
/// operator's).
pub(crate) async fn api(
    State(portal): State<Arc<Portal>>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if !path.starts_with("v1/") || path.split('/').any(|s| s == ".." || s == ".") {
        return error(
            StatusCode::NOT_FOUND,
            "the portal forwards the engine's /v1 API only",
        );
    }
    let mut url = portal.engine.clone();
    url.set_path(&format!(
        "{}/{path}",
        portal.engine.path().trim_end_matches('/')
    ));
    url.set_query(query.as_deref());
    let answer = match portal.http.get(url).send().await {
        Ok(answer) => answer,
        Err(e) => return unreachable("the matching engine", e),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    match answer.bytes().await {
        Ok(body) => {
            let mut response = (status, body).into_response();
            if let Some(t) = content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, t);
            }
            response
        }
        Err(e) => unreachable("the matching engine", e),
    }
}

/// 502, or 504 on a timeout: the page learns which upstream is down, the log why.
fn unreachable(what: &str, e: reqwest::Error) -> Response {
    let status = if e.is_timeout() {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    };
    warn!(target: "kalypso::portal", "{what} did not answer: {}", e.without_url());
    error(status, format!("{what} is not answering"))
}

/// `s` with every `http(s)://…` cut to its scheme: an upstream URL may carry a key (`…/v3/<KEY>`).
pub(crate) fn strip_urls(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let w = w.trim_start_matches('(');
            if w.starts_with("http://") || w.starts_with("https://") {
                "<url>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a browser request comes from the portal's own page: no `Origin` (not a browser's cross-origin call),
/// or one naming the `Host` it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

/// Why the page's JSON-RPC call is refused, if it is: one call (no batch) of `eth_call` to the marketplace or the
/// payment token at `latest` (no state overrides), `eth_getBlockByNumber` without transactions, or
/// `eth_getTransactionReceipt`.
fn refused(portal: &Portal, call: &Value) -> Option<String> {
    let Value::Object(call) = call else {
        return Some("one JSON-RPC request object (no batches)".into());
    };
    let method = call.get("method").and_then(Value::as_str).unwrap_or("");
    let params = call
        .get("params")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let d = &portal.config.deployment;
    match (method, params) {
        ("eth_call", [tx, block]) => {
            let to: Option<Address> = tx
                .get("to")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok());
            let allowed = to.is_some_and(|to| to == d.marketplace || to == d.payment_token);
            let plain = tx
                .as_object()
                .is_some_and(|t| t.keys().all(|k| k == "to" || k == "data"));
            (!(allowed && plain && block == "latest")).then(|| {
                "eth_call: {to, data} to the marketplace or the payment token, at latest".into()
            })
        }
        ("eth_getBlockByNumber", [_, Value::Bool(false)]) | ("eth_getTransactionReceipt", [_]) => {
            None
        }
        _ => Some(format!(
            "the portal forwards eth_call, eth_getBlockByNumber (no transactions) and eth_getTransactionReceipt \
             (got {:?}); send transactions from your wallet",
            method.chars().take(40).collect::<String>()
        )),
    }
}

/// `POST /rpc`: one JSON-RPC read of the page, forwarded to the chain.
pub(crate) async fn rpc(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "the portal's /rpc serves its own page only",
        );
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: application/json",
        );
    }
    if body.len() > MAX_RPC_BODY {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a JSON-RPC request of at most {MAX_RPC_BODY} bytes"),
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    if let Some(reason) = refused(&portal, &request) {
        return error(StatusCode::FORBIDDEN, reason);
    }
    let answer = portal
        .http
        .post(portal.config.rpc_url.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return unreachable("the chain's RPC", e),
    };
    if answer
        .content_length()
        .is_some_and(|n| n > MAX_RPC_ANSWER as u64)
    {
        return error(StatusCode::BAD_GATEWAY, "the chain's answer is too large");
    }
    let status = answer.status();
    match answer.bytes().await {
        Ok(bytes) if bytes.len() <= MAX_RPC_ANSWER => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Ok(_) => error(StatusCode::BAD_GATEWAY, "the chain's answer is too large"),
        Err(e) => unreachable("the chain's RPC", e),
    }
}

/// `GET /api/v1/events` (websocket): the engine's feed, message by message. The engine's socket is opened
/// first: while the engine is down the upgrade is refused (502), so the page backs off instead of seeing a feed
/// that closes at once. At most [`crate::MAX_FEEDS`] relays at a time.
pub(crate) async fn events(
    State(portal): State<Arc<Portal>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "the portal's feed serves its own page only",
        );
    }
    let Ok(permit) = portal.feeds.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open feeds; try again later",
        );
    };
    let engine = match tokio::time::timeout(
        FEED_CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async(portal.events.as_str()),
    )
    .await
    {
        Ok(Ok((engine, _))) => engine,
        Ok(Err(e)) => {
            warn!(target: "kalypso::portal", "the engine's feed did not answer: {}", strip_urls(&e.to_string()));
            return error(
                StatusCode::BAD_GATEWAY,
                "the matching engine's feed is not answering",
            );
        }
        Err(_) => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "the matching engine's feed is not answering",
            );
        }
    };
    ws.on_upgrade(move |socket| async move {
        relay(socket, engine).await;
        drop(permit);
    })
}

async fn relay(
    mut page: WebSocket,
    engine: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) {
    use tokio_tungstenite::tungstenite::Message as Upstream;
    let (mut to_engine, mut from_engine) = engine.split();
    loop {
        tokio::select! {
            item = from_engine.next() => match item {
                Some(Ok(Upstream::Text(text))) => {
                    if page.send(Message::Text(text.as_str().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Upstream::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            incoming = page.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = to_engine.close().await;
    let _ = page.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_never_reach_a_message() {
        let s = strip_urls(
            "error sending request for url (https://mainnet.infura.io/v3/SECRET): timed out",
        );
        assert!(!s.contains("SECRET") && !s.contains("infura"), "{s}");
    }

    #[test]
    fn only_the_pages_origin_passes() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(
            same_origin(&h),
            "no Origin: not a cross-origin browser call"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:3000"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
    }
}
