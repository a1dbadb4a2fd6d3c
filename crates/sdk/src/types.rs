//! Typed views of the contracts' records and the arguments of the SDK's operations.

use alloy::{
    primitives::{
        Address, B256, Bytes, U256,
        aliases::{U40, U96},
        ruint::UintTryFrom,
    },
    rpc::types::TransactionReceipt,
};
use kalypso_contracts::{generator_registry::IGeneratorRegistry, marketplace::IProofMarketplace};
use kalypso_primitives::{AskState, Preference, SkipReason};
use serde::Serialize;

use crate::{Error, Result};

/// A market id (the contract counts markets in 32 bits).
pub type MarketId = u64;

/// An ask id (the contract counts asks in 64 bits).
pub type AskId = u64;

/// What a mined transaction cost and where it landed; returned by every transaction method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TxSummary {
    /// Transaction hash.
    pub hash: B256,
    /// Block the transaction was mined in.
    pub block_number: u64,
    /// Gas the transaction used.
    pub gas_used: u64,
}

impl From<&TransactionReceipt> for TxSummary {
    fn from(receipt: &TransactionReceipt) -> Self {
        Self {
            hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
        }
    }
}

/// Protocol parameters of the marketplace (`IProofMarketplace.Params`), in Rust units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolParams {
    /// Receives market creation fees, input fees and the treasury share of slashes.
    pub treasury: Address,
    /// Payment-token fee to create a market (at most 2^96 - 1).
    pub market_creation_cost: U256,
    /// Payment-token fee per byte of prover data, secret and ACL, on top of the reward.
    pub fee_per_input_byte: u64,
    /// Seconds between market creation and its first ask.
    pub activation_delay: u32,
    /// Share of a slash or discard penalty held for the requester and paid when a proof completes the ask (to
    /// the treasury when the ask ends without one), in basis points.
    pub requester_share_bps: u16,
    /// Share of a slashed penalty paid to the slasher, capped by `max_keeper_reward` (basis points).
    pub keeper_share_bps: u16,
    /// Share of the slashing penalty a voluntary discard costs (basis points).
    pub discard_penalty_bps: u16,
    /// Cap on the keeper's share, in staking-token units (at most 2^96 - 1).
    pub max_keeper_reward: U256,
    /// Shortest fallback delay a market may have, in seconds (self-assignment never opens earlier).
    pub min_fallback_delay: u16,
}

impl ProtocolParams {
    /// The devnet defaults of `ProtocolDeployer._defaultConfig`: a 10-unit (6 decimals) market creation cost,
    /// no input fee, no activation delay, 50% of a slash held for the requester and 10% (capped at 100 tokens of
    /// 18 decimals) to the keeper, discards cost a quarter of the penalty, fallback delays of at least 5 minutes.
    /// (`kalypso devnet` lowers the minimum to 5 seconds so that self-assignment can be shown.)
    pub fn devnet(treasury: Address) -> Self {
        Self {
            treasury,
            market_creation_cost: U256::from(10_000_000u64),
            fee_per_input_byte: 0,
            activation_delay: 0,
            requester_share_bps: 5000,
            keeper_share_bps: 1000,
            discard_penalty_bps: 2500,
            max_keeper_reward: U256::from(100u64) * U256::from(10u64).pow(U256::from(18)),
            min_fallback_delay: 5 * 60,
        }
    }

    pub(crate) fn to_abi(&self) -> Result<IProofMarketplace::Params> {
        Ok(IProofMarketplace::Params {
            treasury: self.treasury,
            marketCreationCost: narrow(self.market_creation_cost, "market creation cost")?,
            feePerInputByte: self.fee_per_input_byte,
            activationDelay: self.activation_delay,
            requesterShareBps: self.requester_share_bps,
            keeperShareBps: self.keeper_share_bps,
            discardPenaltyBps: self.discard_penalty_bps,
            maxKeeperReward: narrow(self.max_keeper_reward, "max keeper reward")?,
            minFallbackDelay: self.min_fallback_delay,
        })
    }
}

impl From<IProofMarketplace::Params> for ProtocolParams {
    fn from(p: IProofMarketplace::Params) -> Self {
        Self {
            treasury: p.treasury,
            market_creation_cost: U256::from(p.marketCreationCost),
            fee_per_input_byte: p.feePerInputByte,
            activation_delay: p.activationDelay,
            requester_share_bps: p.requesterShareBps,
            keeper_share_bps: p.keeperShareBps,
            discard_penalty_bps: p.discardPenaltyBps,
            max_keeper_reward: U256::from(p.maxKeeperReward),
            min_fallback_delay: p.minFallbackDelay,
        }
    }
}

/// Converts an amount into the contracts' 96-bit integers, or explains which argument is out of range.
fn narrow(value: U256, what: &'static str) -> Result<U96> {
    U96::uint_try_from(value).map_err(|_| Error::InvalidArgument {
        what,
        reason: format!("{value} does not fit 96 bits"),
    })
}

/// A 40-bit ABI integer (times, compute) as `u64`; every 40-bit value fits.
fn u40(value: U40) -> u64 {
    value.to()
}

/// Converts an id or time read from the chain into `u64`.
pub(crate) fn to_u64(value: U256, what: &'static str) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Decode {
        what,
        reason: format!("{value} does not fit 64 bits"),
    })
}

/// Arguments of [`create_market`](crate::Kalypso::create_market).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketParams {
    /// The market's `IVerifier` (it must pass its own sample check).
    pub verifier: Address,
    /// Prover enclave image; zero for a public-input market.
    pub prover_image_id: B256,
    /// IVS enclave image; zero lets the creator add IVS keys directly.
    pub ivs_image_id: B256,
    /// Staking-token amount locked per task and slashed on a missed deadline (positive).
    pub slashing_penalty: U256,
    /// Total stake a generator needs to be assigned tasks (at least the penalty).
    pub min_stake: U256,
    /// Seconds an ask stays unassigned before eligible generators may take it themselves (0: never).
    pub fallback_delay: u64,
    /// The creator's description (name, circuit, prover artifact, input format); emitted, only hashed on-chain.
    pub metadata: Bytes,
}

/// A market as stored on-chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketInfo {
    /// The market id.
    pub id: MarketId,
    /// Who created it (may freeze it and manage its images and IVS keys).
    pub creator: Address,
    /// The proof check.
    pub verifier: Address,
    /// Staking-token amount locked per task and slashed on a missed deadline.
    pub slashing_penalty: U256,
    /// Total stake a generator needs to be assigned tasks.
    pub min_stake: U256,
    /// When asks can first be created (unix seconds).
    pub activation_time: u64,
    /// Frozen by its creator: no new asks or assignments.
    pub frozen: bool,
    /// Takes secret inputs (has a prover enclave image).
    pub confidential: bool,
    /// Seconds before fallback self-assignment opens (0: disabled).
    pub fallback_delay: u64,
    /// Prover enclave image (zero for public markets).
    pub prover_image_id: B256,
    /// IVS enclave image (zero: IVS keys added by the creator).
    pub ivs_image_id: B256,
}

impl MarketInfo {
    pub(crate) fn from_abi(id: MarketId, m: &IProofMarketplace::Market) -> Self {
        Self {
            id,
            creator: m.creator,
            verifier: m.verifier,
            slashing_penalty: U256::from(m.slashingPenalty),
            min_stake: U256::from(m.minStake),
            activation_time: u40(m.activationTime),
            frozen: m.frozen,
            confidential: m.confidential,
            fallback_delay: u64::from(m.fallbackDelay),
            prover_image_id: m.proverImageId,
            ivs_image_id: m.ivsImageId,
        }
    }
}

/// A generator's quote in one market: what it charges and commits to per proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// Price per proof in payment-token units (at most 2^88 - 1).
    pub price_per_proof: U256,
    /// Seconds within which it delivers a proof after assignment (positive, 32 bits).
    pub max_proof_time: u64,
    /// Share of its declared compute one proof occupies (positive, at most the declared compute).
    pub compute_per_proof: u64,
}

impl Quote {
    pub(crate) fn from_abi(q: &IGeneratorRegistry::Quote) -> Option<Self> {
        (q.maxProofTime != 0).then(|| Self {
            price_per_proof: U256::from(q.pricePerProof),
            max_proof_time: u64::from(q.maxProofTime),
            compute_per_proof: u40(q.computePerProof),
        })
    }
}

/// A generator's registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// Where its earnings are credited.
    pub reward_address: Address,
    /// Total compute it declared.
    pub declared_compute: u64,
    /// Compute its assigned tasks hold, across all markets.
    pub consumed_compute: u64,
    /// Number of markets it joined.
    pub markets_joined: u64,
}

/// A generator's stake in the native staking pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StakePosition {
    /// Stake that backs tasks (locked or free).
    pub stake: U256,
    /// Part of `stake` locked by assigned tasks.
    pub locked: U256,
    /// Stake requested for withdrawal (not counted, not lockable).
    pub pending: U256,
    /// When `pending` can be withdrawn (unix seconds).
    pub unlock_at: u64,
}

/// Everything the registry knows about one generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorInfo {
    /// The generator's address.
    pub address: Address,
    /// Its registration, `None` when not registered.
    pub registration: Option<Registration>,
    /// Its stake.
    pub position: StakePosition,
    /// Stake that can still be locked for new tasks.
    pub free_stake: U256,
    /// Its quote in each market that was asked about (`None`: not joined).
    pub quotes: Vec<(MarketId, Option<Quote>)>,
}

/// A trusted attestation signer's verdict on an enclave key (EIP-712 `EnclaveAttestation`), as
/// [`register_generator_key_with_attestation`](crate::Kalypso::register_generator_key_with_attestation) takes it.
/// Its JSON (camelCase) is what the attestation-verifier service answers and `kalypso keys register-enclave
/// --attestation` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedAttestation {
    /// The enclave's 64-byte public key (`x ‖ y`).
    pub enclave_pubkey: Bytes,
    /// The enclave image (`keccak256(PCR0 ‖ PCR1 ‖ PCR2)`).
    pub image_id: B256,
    /// The attestation document's time, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The trusted attestation signer's 65-byte EIP-712 `EnclaveAttestation` signature.
    pub signature: Bytes,
}

impl SignedAttestation {
    /// The address of the attested enclave key (its signer address), or `None` when the bytes are not a key.
    pub fn enclave_address(&self) -> Option<Address> {
        kalypso_confidential::PublicKey::from_bytes(&self.enclave_pubkey)
            .ok()
            .map(|k| k.address())
    }
}

/// A confidential ask's sealed inputs as its assignee reads them ([`sealed_task`](crate::Kalypso::sealed_task)):
/// public bytes only; the enclave key opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedTask {
    /// Where the ask was created and by whom: the ciphertext decrypts only for this context.
    pub context: kalypso_confidential::Context,
    /// The encrypted secret (the ask's `secret`).
    pub ciphertext: Bytes,
    /// The generator of the latest assignment, if any.
    pub assignee: Option<Address>,
    /// The data key wrapped to the assignee's enclave key (the latest `TaskAssigned`'s `acl`; empty before an
    /// assignment or after a self-assignment, which carries none).
    pub acl: Bytes,
}

/// Arguments of [`create_ask`](crate::Kalypso::create_ask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskParams {
    /// The market.
    pub market: MarketId,
    /// Maximum price paid (escrowed), in payment-token units.
    pub reward: U256,
    /// Time by which the proof must be on-chain (unix seconds, chain time).
    pub deadline: u64,
    /// Cost or time.
    pub preference: Preference,
    /// Receives the unspent reward, refunds and slashing compensation; `None`: the sender.
    pub refund_address: Option<Address>,
    /// The prover data (public inputs plus any non-secret witness data).
    pub inputs: Bytes,
    /// Encrypted secret inputs (confidential markets only).
    pub secret: Bytes,
    /// The secret's key wrapped to the Matching Engine key (confidential markets only).
    pub acl: Bytes,
    /// Pay from the sender's balance in the marketplace instead of pulling tokens.
    pub from_balance: bool,
}

impl AskParams {
    /// An ask of a public market paid by token transfer, preferring cost, refunds to the sender.
    pub fn new(market: MarketId, reward: U256, deadline: u64, inputs: Bytes) -> Self {
        Self {
            market,
            reward,
            deadline,
            preference: Preference::Cost,
            refund_address: None,
            inputs,
            secret: Bytes::new(),
            acl: Bytes::new(),
            from_balance: false,
        }
    }
}

/// An ask as stored on-chain, with its state as the contract reports it (`Expired` derived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AskInfo {
    /// The ask id.
    pub id: AskId,
    /// The market.
    pub market: MarketId,
    /// Lifecycle state (`Expired`: open past its deadline, refundable).
    pub state: AskState,
    /// Receives the unspent reward, refunds and slashing compensation.
    pub refund_address: Address,
    /// Maximum price (escrowed).
    pub reward: U256,
    /// keccak256 of the prover data.
    pub inputs_hash: B256,
    /// Proof deadline (unix seconds).
    pub deadline: u64,
    /// When the ask was created or last re-opened (unix seconds).
    pub opened_at: u64,
    /// Cost or time.
    pub preference: Preference,
    /// How often failed tasks (slash, discard) re-opened the ask; the contract refunds it instead after
    /// `MAX_REOPENS`.
    pub reopens: u8,
    /// The task, while assigned or once completed.
    pub task: Option<TaskInfo>,
}

/// The assignment of an ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// The assigned generator.
    pub generator: Address,
    /// Its price (paid on completion).
    pub price: U256,
    /// Its committed deadline (unix seconds).
    pub task_deadline: u64,
    /// Compute the task holds in the registry.
    pub compute_per_proof: u64,
}

impl AskInfo {
    pub(crate) fn from_abi(id: AskId, a: &IProofMarketplace::Ask, state: u8) -> Result<Self> {
        let decode = |what: &'static str, e: kalypso_primitives::ParseError| Error::Decode {
            what,
            reason: e.to_string(),
        };
        Ok(Self {
            id,
            market: u64::from(a.marketId),
            state: AskState::try_from(state).map_err(|e| decode("ask state", e))?,
            refund_address: a.refundAddress,
            reward: U256::from(a.reward),
            inputs_hash: a.inputsHash,
            deadline: u40(a.deadline),
            opened_at: u40(a.openedAt),
            preference: Preference::try_from(a.preference).map_err(|e| decode("preference", e))?,
            reopens: a.reopens,
            task: (a.generator != Address::ZERO).then(|| TaskInfo {
                generator: a.generator,
                price: U256::from(a.price),
                task_deadline: u40(a.taskDeadline),
                compute_per_proof: u40(a.computePerProof),
            }),
        })
    }
}

/// An item of a relayed assignment batch that the marketplace skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedAssignment {
    /// The ask.
    pub ask_id: AskId,
    /// The generator it was not assigned to.
    pub generator: Address,
    /// Why.
    pub reason: SkipReason,
}

/// What a relayed assignment batch did: each item was either assigned or skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayOutcome {
    /// `TaskAssigned` events of the items that were assigned.
    pub assigned: Vec<kalypso_contracts::marketplace::ProofMarketplace::TaskAssigned>,
    /// The items that were skipped.
    pub skipped: Vec<SkippedAssignment>,
}
