//! The Kalypso portal: the marketplace in a browser, served by `kalypso portal`.
//!
//! One origin for the page and everything it talks to: the built single-page app (`portal/dist`, embedded in
//! the binary, nothing fetched from a CDN) under `/` and `/assets/`, the matching engine's API proxied under
//! `/api/` (GET only) with its websocket feed at `/api/v1/events`, the chain's JSON-RPC under `/rpc` (POST, read
//! methods only: transactions go through the user's wallet), and `/config.json` (the deployment, the tokens and
//! the ask fee, read from the chain). When the engine or the RPC does not answer, the proxies say so with 502
//! (504 on a timeout) and the page shows it and retries; the portal itself keeps serving.

mod assets;
mod proxy;

use alloy::{
    primitives::Address,
    providers::{DynProvider, Provider, ProviderBuilder},
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use kalypso_contracts::TestToken;
use kalypso_sdk::{Deployment, Kalypso};
use serde::Serialize;
use std::{sync::Arc, time::Duration};
use tokio::sync::{OnceCell, Semaphore};

/// Engine feeds the portal relays at once.
pub(crate) const MAX_FEEDS: usize = 256;

/// What the portal serves.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Base URL of the matching engine's API (`http://host:port`).
    pub engine: String,
    /// The chain's JSON-RPC endpoint.
    pub rpc_url: String,
    /// The deployment the engine indexes.
    pub deployment: Deployment,
}

/// Errors of [`Portal::new`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A URL does not parse.
    #[error("{what} is not a URL: {url}")]
    BadUrl {
        /// Which URL.
        what: &'static str,
        /// The URL.
        url: String,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A token the page shows amounts of.
#[derive(Debug, Clone, Serialize)]
struct Token {
    symbol: String,
    decimals: u8,
}

/// The portal's state, shared by its handlers.
#[derive(Debug)]
pub struct Portal {
    config: PortalConfig,
    engine: reqwest::Url,
    events: String,
    http: reqwest::Client,
    chain: DynProvider,
    tokens: OnceCell<(Token, Token)>,
    feeds: Arc<Semaphore>,
}

/// `/config.json`: what the page needs beside the engine's API.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PageConfig<'a> {
    chain_id: u64,
    marketplace: Address,
    payment_token: Address,
    staking_token: Address,
    payment_symbol: &'a str,
    payment_decimals: u8,
    staking_symbol: &'a str,
    staking_decimals: u8,
    /// Payment-token fee per byte of an ask's inputs, on top of its reward (decimal string).
    fee_per_input_byte: String,
}

impl Portal {
    /// The portal for `config` (nothing is contacted yet).
    pub fn new(config: PortalConfig) -> Result<Self, Error> {
        let engine: reqwest::Url = config.engine.parse().map_err(|_| Error::BadUrl {
            what: "the engine URL",
            url: config.engine.clone(),
        })?;
        // No TLS client is built in: the engine is reached over plain http (a private network or loopback).
        if engine.scheme() != "http" {
            return Err(Error::BadUrl {
                what: "the engine URL (http; the portal reaches the engine on a private network)",
                url: config.engine.clone(),
            });
        }
        let mut events = engine.clone();
        let _ = events.set_scheme("ws");
        events.set_path(&format!(
            "{}/v1/events",
            engine.path().trim_end_matches('/')
        ));
        let rpc: reqwest::Url = config.rpc_url.parse().map_err(|_| Error::BadUrl {
            what: "the RPC URL",
            url: config.rpc_url.clone(),
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(Self {
            engine,
            events: events.to_string(),
            http,
            chain: ProviderBuilder::new().connect_http(rpc).erased(),
            tokens: OnceCell::new(),
            feeds: Arc::new(Semaphore::new(MAX_FEEDS)),
            config,
        })
    }

    /// The routes, every answer with the portal's security headers.
    pub fn router(self) -> Router {
        Router::new()
            .route("/config.json", get(page_config))
            .route(
                "/health",
                get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
            )
            .route("/api/v1/events", get(proxy::events))
            .route("/api/{*path}", get(proxy::api))
            .route("/rpc", post(proxy::rpc))
            .route("/assets/{file}", get(assets::asset))
            .fallback(get(assets::page))
            .with_state(Arc::new(self))
            .layer(middleware::from_fn(security_headers))
    }

    /// Serves the portal on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    async fn tokens(&self) -> Result<&(Token, Token), alloy::contract::Error> {
        self.tokens
            .get_or_try_init(|| async {
                let read = |address: Address| async move {
                    let token = TestToken::new(address, &self.chain);
                    Ok::<_, alloy::contract::Error>(Token {
                        symbol: token.symbol().call().await?,
                        decimals: token.decimals().call().await?,
                    })
                };
                Ok((
                    read(self.config.deployment.payment_token).await?,
                    read(self.config.deployment.staking_token).await?,
                ))
            })
            .await
    }
}

/// A JSON error answer: `{"error": "..."}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn page_config(State(portal): State<Arc<Portal>>) -> Response {
    // The page learns that the chain is down, the log why (without the RPC's URL, which may carry a key).
    let unreachable = |e: &dyn std::fmt::Display| {
        tracing::warn!(target: "kalypso::portal", "the chain's RPC did not answer: {}", proxy::strip_urls(&e.to_string()));
        error(StatusCode::BAD_GATEWAY, "the chain's RPC is not answering")
    };
    let (payment, staking) = match portal.tokens().await {
        Ok(t) => t,
        Err(e) => return unreachable(&e),
    };
    let d = &portal.config.deployment;
    let client = Kalypso::new(portal.chain.clone(), d.clone(), Address::ZERO);
    let fee = match client.params().await {
        Ok(p) => p.fee_per_input_byte,
        Err(e) => return unreachable(&e),
    };
    Json(PageConfig {
        chain_id: d.chain_id,
        marketplace: d.marketplace,
        payment_token: d.payment_token,
        staking_token: d.staking_token,
        payment_symbol: &payment.symbol,
        payment_decimals: payment.decimals,
        staking_symbol: &staking.symbol,
        staking_decimals: staking.decimals,
        fee_per_input_byte: fee.to_string(),
    })
    .into_response()
}

/// Headers on every answer: the page runs only its own script and talks only to its own origin.
async fn security_headers(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
