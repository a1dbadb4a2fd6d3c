#![doc = include_str!("../README.md")]

mod fallback;
pub mod ivs;
pub mod metrics;
mod node;
pub mod store;
mod task;

pub use node::{DEFAULT_MAX_FEE_PER_GAS, Node, NodeConfig, Status};

/// Errors that stop the node or the IVS. Problems of a single task are not errors: they are recorded on the
/// task (`last_error`, `attempts`), logged and retried or settled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON-RPC endpoint failed or the chain answered something unexpected.
    #[error("chain: {0}")]
    Chain(#[from] kalypso_sdk::Error),
    /// SQLite failed, or the database belongs to another deployment or generator.
    #[error("store: {0}")]
    Store(String),
    /// The configuration does not fit the chain (no prover for a market, wrong chain, bad URL).
    #[error("config: {0}")]
    Config(String),
    /// The metrics or IVS listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.to_string())
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Milliseconds since the unix epoch (wall clock).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
