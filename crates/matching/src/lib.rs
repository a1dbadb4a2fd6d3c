#![doc = include_str!("../README.md")]

mod book;
mod index;

use alloy::primitives::Address;
use kalypso_primitives::{Preference, SkipReason};
use serde::{Deserialize, Serialize};

pub use book::Book;

/// A market's id (`ProofMarketplace` market ids fit in `u32`).
pub type MarketId = u64;

/// An ask's id.
pub type AskId = u64;

/// Position of an event in the chain: (block number, log index). Orders "oldest" and "least recently assigned".
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Seq {
    /// Block number.
    pub block: u64,
    /// Log index within the block.
    pub log_index: u64,
}

impl Seq {
    /// The position of log `log_index` of block `block`.
    pub const fn new(block: u64, log_index: u64) -> Self {
        Self { block, log_index }
    }
}

/// A generator's quote in one market (`IGeneratorRegistry.Quote`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    /// Price per proof, in the payment token.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "amount")]
    pub price: u128,
    /// Seconds the generator needs for one proof (its task deadline is the assignment time plus this).
    pub max_proof_time: u64,
    /// Compute units one proof of this market takes from the generator's declared compute.
    pub compute_per_proof: u64,
}

/// Everything the book learns from chain events (the service decodes logs into these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// `MarketCreated`.
    MarketCreated {
        /// The market.
        market: MarketId,
        /// Stake locked per task (and the most a slash takes).
        #[serde(with = "amount")]
        slashing_penalty: u128,
        /// Minimum total stake of a generator to be assigned.
        #[serde(with = "amount")]
        min_stake: u128,
        /// Whether the market needs an enclave key per generator (non-zero prover image).
        confidential: bool,
    },
    /// `MarketFrozen`: a frozen market assigns nothing.
    MarketFrozen {
        /// The market.
        market: MarketId,
        /// Frozen (true) or unfrozen (false).
        frozen: bool,
    },
    /// `GeneratorRegistered`.
    GeneratorRegistered {
        /// The generator.
        generator: Address,
        /// Its declared compute.
        declared_compute: u64,
    },
    /// `DeclaredComputeUpdated`.
    DeclaredComputeUpdated {
        /// The generator.
        generator: Address,
        /// Its new declared compute.
        declared_compute: u64,
    },
    /// `GeneratorDeregistered` (its stake stays: the staking position outlives the registration).
    GeneratorDeregistered {
        /// The generator.
        generator: Address,
    },
    /// `MarketJoined` or `QuoteUpdated`.
    QuoteSet {
        /// The generator.
        generator: Address,
        /// The market.
        market: MarketId,
        /// The quote now in force.
        quote: Quote,
    },
    /// `MarketLeft`.
    MarketLeft {
        /// The generator.
        generator: Address,
        /// The market.
        market: MarketId,
    },
    /// `Staked`: carries the new total stake.
    Staked {
        /// The generator.
        generator: Address,
        /// Its new total stake.
        #[serde(with = "amount")]
        stake: u128,
    },
    /// `UnstakeRequested`: the stake drops by `amount`.
    UnstakeRequested {
        /// The generator.
        generator: Address,
        /// Amount moved from stake to pending withdrawal.
        #[serde(with = "amount")]
        amount: u128,
    },
    /// `UnstakeCancelled`: the stake grows by `amount`.
    UnstakeCancelled {
        /// The generator.
        generator: Address,
        /// Amount returned from pending withdrawal to stake.
        #[serde(with = "amount")]
        amount: u128,
    },
    /// An enclave key of the generator for a (confidential) market was registered or removed.
    GeneratorKeySet {
        /// The generator.
        generator: Address,
        /// The market.
        market: MarketId,
        /// Registered (true) or removed (false).
        present: bool,
    },
    /// `AskCreated`.
    AskCreated {
        /// The ask.
        ask: AskId,
        /// Its market.
        market: MarketId,
        /// The most the requester pays.
        #[serde(with = "amount")]
        reward: u128,
        /// Unix time after which the ask can no longer be assigned.
        deadline: u64,
        /// What the requester optimises for.
        preference: Preference,
    },
    /// `TaskAssigned` (by this engine, another signer or a fallback self-assignment).
    TaskAssigned {
        /// The ask.
        ask: AskId,
        /// The generator now proving it.
        generator: Address,
        /// The price it will be paid.
        #[serde(with = "amount")]
        price: u128,
        /// Compute the task consumes until it ends.
        compute_per_proof: u64,
    },
    /// `AssignmentSkipped`: a relayed assignment did not apply.
    AssignmentSkipped {
        /// The ask.
        ask: AskId,
        /// The generator of the skipped assignment.
        generator: Address,
        /// The first rule that failed.
        reason: SkipReason,
    },
    /// `ProofSubmitted` or `InvalidInputsSettled`: releases the task's compute and stake lock.
    TaskCompleted {
        /// The ask.
        ask: AskId,
    },
    /// `TaskSlashed` or `TaskDiscarded`: releases the task's compute and lock, takes `stake_taken` from the stake.
    TaskFailed {
        /// The ask.
        ask: AskId,
        /// Stake taken from the generator (the sum of the slash's payouts).
        #[serde(with = "amount")]
        stake_taken: u128,
        /// Whether the ask is open again (deadline not passed).
        reopened: bool,
    },
    /// `AskRefunded` (cancelled, expired, or slashed/discarded without time left).
    AskClosed {
        /// The ask.
        ask: AskId,
    },
    /// `CollateralPoolAdded` of a restaking pool, with the pool's parameters (read from the pool): tasks the
    /// native stake cannot cover may lock there (pool `pool` = 1, 2, … in the order added).
    CollateralPool {
        /// The registry's pool id.
        pool: u8,
        /// Capture timestamp of epoch 0.
        epoch_start: u64,
        /// Epoch length in seconds.
        epoch_duration: u64,
        /// How long past the next epoch's start a snapshot still applies.
        offset: u64,
        /// How long after the latest capture a task may be due.
        slash_window: u64,
        /// The smallest penalty the pool locks.
        #[serde(with = "amount")]
        min_lock: u128,
    },
    /// `SnapshotApplied`: the pool's latest epoch.
    PoolEpoch {
        /// The pool.
        pool: u8,
        /// Its latest epoch.
        epoch: u64,
    },
    /// `OperatorStake`: a generator's restaked stake at an epoch's capture.
    PoolStake {
        /// The pool.
        pool: u8,
        /// The generator (operator).
        generator: Address,
        /// The epoch.
        epoch: u64,
        /// Its stake at that epoch's capture.
        #[serde(with = "amount")]
        stake: u128,
    },
    /// `RestakeLocked`: the task of `ask` is covered by `pool` (precedes the ask's `TaskAssigned`).
    RestakeLocked {
        /// The pool.
        pool: u8,
        /// The ask.
        ask: AskId,
    },
    /// `SlashQueued`: `amount` of the generator's restaked stake is pending to be slashed on the L1.
    PoolSlashQueued {
        /// The pool.
        pool: u8,
        /// The generator.
        generator: Address,
        /// The amount.
        #[serde(with = "amount")]
        amount: u128,
    },
    /// `SlashSettled`: a queued slash was settled on the L1; its amount no longer counts as pending.
    PoolSlashSettled {
        /// The pool.
        pool: u8,
        /// The generator.
        generator: Address,
        /// The amount.
        #[serde(with = "amount")]
        amount: u128,
    },
}

/// One assignment the engine should sign: the generator's quote at match time is the signed cap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// The ask.
    pub ask: AskId,
    /// The ask's market.
    pub market: MarketId,
    /// The chosen generator.
    pub generator: Address,
    /// Signed price cap (`Assignment.maxPrice`): the generator's price at match time.
    #[serde(with = "amount")]
    pub max_price: u128,
    /// Signed proving-time cap (`Assignment.maxProofTime`): the generator's time at match time.
    pub max_proof_time: u64,
}

/// Where an ask stands in the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AskStatus {
    /// Waiting for a generator (offered by [`Book::match_asks`]).
    Open,
    /// Matched by this book, assignment not yet mined.
    Pending {
        /// The matched generator.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        generator: Address,
    },
    /// Assigned on chain.
    Assigned {
        /// The generator proving it.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        generator: Address,
        /// Its price.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        #[serde(with = "amount")]
        price: u128,
    },
    /// Proven (or settled as invalid input).
    Done,
    /// Refunded (cancelled, expired or failed without time left).
    Closed,
    /// Still open on chain but no longer offered, until a chain event settles it: its deadline passed
    /// (`AskExpired`: the refund's `AskClosed` follows) or the chain reported it not open (`AskNotOpen`).
    Parked {
        /// Why the ask is off the book.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        reason: SkipReason,
    },
}

/// An ask as the book sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AskView {
    /// The ask.
    pub ask: AskId,
    /// Its market.
    pub market: MarketId,
    /// The most the requester pays.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "amount")]
    pub reward: u128,
    /// Unix time after which it cannot be assigned.
    pub deadline: u64,
    /// What the requester optimises for.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "COST"))]
    pub preference: Preference,
    /// Where it stands.
    pub status: AskStatus,
    /// Position of its `AskCreated` event.
    pub created: Seq,
    /// Its place in the queue (the chain's `openedAt`): the position of its `AskCreated`, or of the
    /// `TaskSlashed`/`TaskDiscarded` that last re-opened it.
    pub opened: Seq,
    /// Generators never matched to it again (they failed it: slashed or discarded), by address.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub excluded: Vec<Address>,
}

/// A market as the book sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketView {
    /// The market.
    pub market: MarketId,
    /// Stake locked per task.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "amount")]
    pub slashing_penalty: u128,
    /// Minimum total stake to be assigned.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "amount")]
    pub min_stake: u128,
    /// Needs enclave keys.
    pub confidential: bool,
    /// Frozen (assigns nothing).
    pub frozen: bool,
    /// Open asks (offered).
    pub open_asks: usize,
    /// Asks matched by this book and not yet mined.
    pub pending_asks: usize,
    /// Asks assigned on chain and not settled.
    pub assigned_asks: usize,
    /// Generators with a quote in the market.
    pub quotes: usize,
    /// Generators currently eligible by capacity (free compute and stake, minimum stake, enclave key); zero
    /// while frozen.
    pub listed: usize,
}

/// A quote as the book sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuoteView {
    /// The generator.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub generator: Address,
    /// Its quote.
    pub quote: Quote,
    /// Whether it can be matched now (capacity fits and the market is not frozen); per-ask rules (reward,
    /// deadline, exclusions) come on top.
    pub listed: bool,
    /// Position of its last `TaskAssigned` in this market (provisional matches do not count).
    pub last_assigned: Option<Seq>,
}

/// A generator as the book sees it. Compute and lock include provisional (pending) reservations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeneratorView {
    /// The generator.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub generator: Address,
    /// Registered in the `GeneratorRegistry`.
    pub registered: bool,
    /// Declared compute.
    pub declared_compute: u64,
    /// Compute taken by assigned and pending tasks.
    pub consumed_compute: u64,
    /// Total stake (not counting pending withdrawals).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "amount")]
    pub stake: u128,
    /// Stake locked by assigned and pending tasks.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[serde(with = "amount")]
    pub locked: u128,
    /// Markets it has a quote in.
    pub markets: Vec<MarketId>,
    /// Markets it has an enclave key for.
    pub enclave_keys: Vec<MarketId>,
}

/// Amounts (`u128`) as decimal strings in serialised form: JSON numbers lose precision above 2^53 and
/// `serde_json::Value` cannot hold integers above 2^64, while stakes of 18-decimal tokens exceed both.
/// Deserialising also accepts plain numbers.
mod amount {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(u128),
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) => t
                .parse()
                .map_err(|_| D::Error::custom(format!("not an amount: {t:?}"))),
            Repr::Number(n) => Ok(n),
        }
    }
}
