#![doc = include_str!("../README.md")]

pub mod api;
pub mod audit;
pub mod confidential;
pub mod indexer;
pub mod keeper;
pub mod metrics;
mod service;
pub mod state;
pub mod store;
pub mod submitter;

pub use service::{Engine, EngineConfig, Status};

/// Errors of the engine. Per-batch and per-log problems are not errors: they are logged, counted and the
/// engine goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON-RPC endpoint failed or answered nonsense.
    #[error("RPC: {0}")]
    Rpc(String),
    /// SQLite failed.
    #[error("store: {0}")]
    Store(String),
    /// Signing failed.
    #[error("signer: {0}")]
    Signer(String),
    /// The configuration does not fit the chain.
    #[error("config: {0}")]
    Config(String),
    /// The API could not listen.
    #[error("API: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.to_string())
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
