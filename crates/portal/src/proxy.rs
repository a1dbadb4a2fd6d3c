//! The two upstreams behind the portal's origin: the engine's API (GET) and websocket feed, and the chain's
//! JSON-RPC (read methods only).

use crate::{Portal, error};
use axum::{
    body::Bytes,
    extract::{
        Path, RawQuery, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::{SinkExt as _, StreamExt as _};
use std::sync::Arc;
use tracing::debug;

/// Largest JSON-RPC request body the portal forwards.
const MAX_RPC_BODY: usize = 256 * 1024;

/// The JSON-RPC methods the page may call through `/rpc`: reads. Transactions are sent by the user's wallet.
const RPC_METHODS: [&str; 6] = [
    "eth_chainId",
    "eth_blockNumber",
    "eth_getBlockByNumber",
    "eth_call",
    "eth_getTransactionReceipt",
    "eth_getLogs",
];

/// `GET /api/{*path}`: the engine's `/{path}`.
pub(crate) async fn api(
    State(portal): State<Arc<Portal>>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut url = portal.engine.clone();
    url.set_path(&path);
    url.set_query(query.as_deref());
    let answer = match portal.http.get(url).send().await {
        Ok(answer) => answer,
        Err(e) => return unreachable("the matching engine", &portal.config.engine, &e),
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
        Err(e) => unreachable("the matching engine", &portal.config.engine, &e),
    }
}

/// 502, or 504 on a timeout, naming the upstream.
fn unreachable(what: &str, url: &str, e: &reqwest::Error) -> Response {
    let status = if e.is_timeout() {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    };
    debug!(target: "kalypso::portal", %url, "{what} did not answer: {e}");
    error(status, format!("{what} at {url} is not answering"))
}

/// `POST /rpc`: a JSON-RPC request (or batch) of read methods, forwarded to the chain.
pub(crate) async fn rpc(State(portal): State<Arc<Portal>>, body: Bytes) -> Response {
    if body.len() > MAX_RPC_BODY {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a JSON-RPC request of at most {MAX_RPC_BODY} bytes"),
        );
    }
    let request: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    let calls = match &request {
        serde_json::Value::Array(calls) => calls.iter().collect(),
        call => vec![call],
    };
    for call in calls {
        let method = call.get("method").and_then(|m| m.as_str()).unwrap_or("");
        if !RPC_METHODS.contains(&method) {
            return error(
                StatusCode::FORBIDDEN,
                format!(
                    "the portal forwards only {} (got {method:?}); send transactions from your wallet",
                    RPC_METHODS.join(", ")
                ),
            );
        }
    }
    let answer = portal
        .http
        .post(portal.config.rpc_url.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let status = answer.status();
            match answer.bytes().await {
                Ok(bytes) => {
                    let mut response = (status, bytes).into_response();
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    response
                }
                Err(e) => unreachable("the chain's RPC", &portal.config.rpc_url, &e),
            }
        }
        Err(e) => unreachable("the chain's RPC", &portal.config.rpc_url, &e),
    }
}

/// `GET /api/v1/events` (websocket): the engine's feed, message by message. When the engine's side closes or
/// cannot be reached, the page's side is closed too and the page reconnects.
pub(crate) async fn events(State(portal): State<Arc<Portal>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| relay(socket, portal))
}

async fn relay(mut page: WebSocket, portal: Arc<Portal>) {
    let engine = match tokio_tungstenite::connect_async(portal.events.as_str()).await {
        Ok((engine, _)) => engine,
        Err(e) => {
            debug!(target: "kalypso::portal", url = %portal.events, "the engine's feed is not answering: {e}");
            let _ = page.send(Message::Close(None)).await;
            return;
        }
    };
    let (mut to_engine, mut from_engine) = engine.split();
    loop {
        tokio::select! {
            item = from_engine.next() => match item {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                    if page.send(Message::Text(text.as_str().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_)) | None => break,
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
