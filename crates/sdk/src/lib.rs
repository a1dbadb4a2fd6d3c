#![doc = include_str!("../README.md")]

mod ask;
mod client;
mod deploy;
mod deployment;
mod error;
mod events;
mod generator;
mod heads;
mod market;
#[cfg(feature = "packages")]
mod package;
mod pending;
mod restaking;
mod tee;
mod tx;
mod types;
mod wait;

pub use ask::fallback_opens_at;
pub use client::{DEFAULT_LOG_PAGE_BLOCKS, Kalypso};
pub use deploy::{
    Admin, DeployConfig, DeployProgress, Roles, SampleMarket, deploy, deploy_with_progress,
};
pub use deployment::Deployment;
pub use error::{ContractError, Error, Result};
pub use events::{EventRecord, ProtocolEvent};
pub use heads::{HeadWatcher, MAX_RECONNECT_BACKOFF, is_ws_url};
#[cfg(feature = "packages")]
pub use package::{MarketTerms, PackageMarket, PackageMarketStep};
pub use pending::{BUMP_PERCENT, BumpPolicy, Fees, PendingTx, TxCall, TxStatus};
pub use restaking::{
    L1Epochs, L1Slash, L1SlashStatus, L1Snapshot, PoolCollateral, PoolState, QueuedSlash,
    RestakingPoolConfig, SymbioticNetwork, committee_signatures, slash_key,
};
pub use tee::{VerifierKind, tee_proof, tee_proof_digest};
pub use tx::DEFAULT_RECEIPT_TIMEOUT;
pub use types::{
    AskId, AskInfo, AskParams, GeneratorInfo, MarketId, MarketInfo, MarketParams, ProtocolParams,
    Quote, Registration, RelayOutcome, SealedTask, SignedAttestation, SkippedAssignment,
    StakePosition, TaskInfo, TxSummary,
};
pub use wait::AskOutcome;

/// The contract bindings the SDK's results use (events, ABI structs, error enums).
pub use kalypso_contracts as contracts;
/// The protocol's enums and EIP-712 messages (`Preference`, `AskState`, `SkipReason`, `eip712::Assignment`).
pub use kalypso_primitives as primitives;
