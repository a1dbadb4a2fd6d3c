//! The API's OpenAPI document, derived from the handlers' `#[utoipa::path]` annotations and the types they
//! answer with (so the document, the server and its clients — the portal — cannot drift), and those types.

use alloy::primitives::{Address, B256, Bytes};
use kalypso_matching::{AskView, GeneratorView, MarketView, QuoteView};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::Percentiles;
use crate::{
    service::Status,
    state::{AskRecord, GeneratorRecord, MarketRecord},
};

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kalypso matching engine API",
        description = "What the matching engine knows: markets with their book depth, quotes and figures, asks with \
            their history, generators with what they earned and paid, a live websocket feed, health and metrics. \
            Amounts are decimal strings of token base units; times are unix seconds of block timestamps. Every \
            error answer is `{\"error\": \"...\"}`.",
    ),
    paths(
        super::health,
        super::metrics,
        super::openapi,
        super::markets,
        super::market,
        super::market_stats,
        super::asks,
        super::ask,
        super::proof,
        super::generators,
        super::generator,
        super::events,
    ),
    components(schemas(FeedItem, ErrorBody)),
    tags(
        (name = "markets", description = "Markets, their book depth, quotes and figures"),
        (name = "asks", description = "Asks, their history and proofs"),
        (name = "generators", description = "Generators, their compute, stake, earnings and penalties"),
        (name = "events", description = "The live feed"),
        (name = "meta", description = "Health, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON (served at `/openapi.json`; `crates/engine/openapi.json` is a copy checked by a
/// test).
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| {
        format!("{{\"error\":\"the OpenAPI document does not serialise: {e}\"}}")
    })
}

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong; user input quoted in it is cut short.
    pub error: String,
}

/// The engine's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum HealthState {
    /// Caught up with the chain; the last round had no error.
    Ok,
    /// Still indexing towards the head.
    Syncing,
    /// The last round failed (`lastError`).
    Degraded,
}

/// `/health`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthBody {
    /// The verdict.
    pub status: HealthState,
    /// The engine's figures.
    #[serde(flatten)]
    pub engine: Status,
}

/// A market: the book's depth and the ledger's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketEntry {
    /// The book's side.
    #[serde(flatten)]
    pub book: MarketView,
    /// The ledger's side.
    #[serde(flatten)]
    pub record: MarketRecord,
}

/// A market with its quotes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketDetail {
    /// The market.
    #[serde(flatten)]
    pub entry: MarketEntry,
    /// Its quotes (`quotes` is their number).
    pub quote_list: Vec<QuoteView>,
}

/// A market's asks by status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AskCounts {
    /// Every ask.
    pub total: usize,
    /// Waiting for a generator.
    pub open: usize,
    /// Being proven.
    pub assigned: usize,
    /// Proven.
    pub proven: usize,
    /// Settled as invalid inputs.
    pub invalid_inputs: usize,
    /// Refunded.
    pub refunded: usize,
}

/// A market's figures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketStats {
    /// The market.
    pub market: u64,
    /// Its book depth.
    pub depth: MarketView,
    /// Its quotes.
    pub quotes: Vec<QuoteView>,
    /// Its asks by status.
    pub asks: AskCounts,
    /// Seconds from creation to first assignment.
    pub time_to_assign_seconds: Percentiles,
    /// Seconds from the last assignment to the proof.
    pub time_to_proof_seconds: Percentiles,
    /// Prices paid (payment-token base units).
    pub price: Percentiles,
    /// Rewards offered (payment-token base units).
    pub reward: Percentiles,
}

/// A page of asks.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AsksPage {
    /// Asks matching the filter.
    pub total: usize,
    /// Asks skipped.
    pub offset: usize,
    /// This page.
    pub asks: Vec<AskRecord>,
}

/// One ask.
#[derive(Debug, Serialize, ToSchema)]
pub struct AskDetail {
    /// Its record and history.
    #[serde(flatten)]
    pub record: AskRecord,
    /// Where it stands in the book (none once the book forgot it).
    pub book: Option<AskView>,
}

/// A proof.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofBody {
    /// The ask.
    pub ask_id: u64,
    /// Who proved it.
    #[schema(value_type = String)]
    pub generator: Address,
    /// The proof bytes (0x hex), as submitted.
    #[schema(value_type = String)]
    pub proof: Bytes,
    /// Block of its `ProofSubmitted`.
    pub block: u64,
    /// Its transaction.
    #[schema(value_type = String)]
    pub tx_hash: B256,
}

/// One generator.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratorDetail {
    /// The book's side: compute, stake, markets.
    #[serde(flatten)]
    pub book: GeneratorView,
    /// What it earned and paid, and its latest activity.
    #[serde(flatten)]
    pub record: GeneratorRecord,
}

/// One message of the `/v1/events` websocket for an indexed protocol event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeedItem {
    /// Block of the event.
    pub block: u64,
    /// Its log index.
    pub log_index: u64,
    /// Block timestamp.
    pub timestamp: u64,
    /// Its transaction.
    #[schema(value_type = String)]
    pub tx_hash: B256,
    /// Emitting contract (`marketplace`, `registry`, …).
    pub contract: String,
    /// Event name (`AskCreated`, `TaskAssigned`, …).
    pub event: String,
    /// The ask it concerns, if any.
    pub ask: Option<u64>,
    /// The market it concerns, if any.
    pub market: Option<u64>,
    /// The event, readable.
    pub data: String,
}
