//! Everything the engine derives from the indexed logs: the matching [`Book`] and a ledger of asks for the API
//! and statistics. Both are pure functions of the log sequence, so a restart or a reorg rebuilds them by
//! replaying the store.

use alloy::primitives::{Address, B256, Bytes, U256};
use kalypso_confidential::Context;
use kalypso_matching::{Book, Event, Quote, Seq};
use kalypso_primitives::{Preference, SkipReason};
use kalypso_sdk::{
    Deployment, ProtocolEvent,
    contracts::{
        generator_registry::GeneratorRegistry::GeneratorRegistryEvents as R,
        key_registry::EntityKeyRegistry::EntityKeyRegistryEvents as K,
        marketplace::ProofMarketplace::ProofMarketplaceEvents as M,
        restaking_pool::RestakingPool::RestakingPoolEvents as RP,
    },
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::store::StoredLog;

/// Where an ask stands, as the chain says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AskStatus {
    /// Waiting for a generator.
    Open,
    /// A generator is proving it.
    Assigned,
    /// Proven; the generator was paid.
    Proven,
    /// Settled as invalid inputs through an IVS attestation.
    InvalidInputs,
    /// Ended without a proof (expired or cancelled); the requester was refunded.
    Refunded,
}

impl AskStatus {
    /// Parses the API's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "assigned" => Self::Assigned,
            "proven" => Self::Proven,
            "invalidInputs" | "invalid-inputs" => Self::InvalidInputs,
            "refunded" => Self::Refunded,
            _ => return None,
        })
    }
}

/// One ask as the API shows it (chain timestamps, unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AskRecord {
    /// Ask id.
    pub id: u64,
    /// Market.
    pub market: u64,
    /// Who created it.
    #[schema(value_type = String)]
    pub requester: Address,
    /// Maximum price (token units, decimal string).
    #[schema(value_type = String)]
    #[serde(with = "decimal")]
    pub reward: u128,
    /// Proof deadline.
    pub deadline: u64,
    /// COST or TIME.
    #[schema(value_type = String, example = "COST")]
    pub preference: Preference,
    /// Status.
    pub status: AskStatus,
    /// When it was created.
    pub created_at: u64,
    /// When it was last assigned.
    pub assigned_at: Option<u64>,
    /// Generator of the current or last task.
    #[schema(value_type = Option<String>)]
    pub generator: Option<Address>,
    /// Price of the current or last task.
    #[schema(value_type = Option<String>)]
    #[serde(with = "decimal_opt")]
    pub price: Option<u128>,
    /// The generator's committed deadline.
    pub task_deadline: Option<u64>,
    /// When it was proven (or settled as invalid).
    pub settled_at: Option<u64>,
    /// Refund paid to the requester on settlement.
    #[schema(value_type = Option<String>)]
    #[serde(with = "decimal_opt")]
    pub refund: Option<u128>,
    /// Times a generator failed it (slashed or discarded).
    pub failures: u32,
    /// Time from creation to its first assignment.
    pub time_to_assign: Option<u64>,
    /// Time from its last assignment to the proof.
    pub time_to_proof: Option<u64>,
    /// Where the proof is: `(block, log index)` of its `ProofSubmitted` log.
    #[serde(skip)]
    pub proof_log: Option<(u64, u64)>,
    /// Why this engine will never assign the ask (a confidential ask whose sealed inputs are the requester's
    /// mistake: its acl does not open with the engine's key or does not belong to its ciphertext). The chain
    /// refunds it at its deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Every step of its life the chain recorded, in order.
    pub history: Vec<AskStep>,
}

/// What happened to an ask (or, in a generator's activity, what the generator did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum StepKind {
    /// `AskCreated` (amount: the reward).
    Created,
    /// `TaskAssigned` (amount: the price).
    Assigned,
    /// `ProofSubmitted` (amount: the price paid).
    Proven,
    /// `InvalidInputsSettled` (amount: the price paid).
    InvalidInputs,
    /// `TaskSlashed`: the generator missed its deadline (amount: the penalty, in the staking token).
    Slashed,
    /// `TaskDiscarded`: the generator gave the task up (amount: the penalty, in the staking token).
    Discarded,
    /// `AskRefunded` (amount: the refund).
    Refunded,
}

/// Which token an amount is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum TokenKind {
    /// The payment token (rewards, prices, refunds).
    Payment,
    /// The staking token (penalties).
    Staking,
}

/// One step of an ask's life, where the chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AskStep {
    /// What happened.
    pub kind: StepKind,
    /// Block of the event.
    pub block: u64,
    /// Its timestamp.
    pub timestamp: u64,
    /// The transaction that emitted it.
    #[schema(value_type = String)]
    pub tx_hash: B256,
    /// The generator it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub generator: Option<Address>,
    /// The amount it moved (decimal string of base units), if any.
    #[schema(value_type = Option<String>)]
    #[serde(with = "decimal_opt")]
    pub amount: Option<u128>,
    /// The token of `amount`.
    pub token: TokenKind,
}

/// A generator's record: what it earned and paid, and its latest activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRecord {
    /// Prices of the asks it proved or settled as invalid (payment token).
    #[schema(value_type = String)]
    #[serde(with = "decimal")]
    pub earnings: u128,
    /// Penalties of its slashes and discards (staking token).
    #[schema(value_type = String)]
    #[serde(with = "decimal")]
    pub penalties: u128,
    /// Proofs, invalid-input settlements, slashes and discards, oldest first (the latest
    /// [`GeneratorRecord::MAX_ACTIVITY`]).
    #[schema(value_type = Vec<Activity>)]
    pub activity: VecDeque<Activity>,
}

impl GeneratorRecord {
    /// Activity entries kept per generator (the sums count all).
    pub const MAX_ACTIVITY: usize = 1_000;
}

/// One entry of a generator's activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// What it did.
    pub kind: StepKind,
    /// The ask.
    pub ask: u64,
    /// Its market.
    pub market: u64,
    /// When.
    pub timestamp: u64,
    /// Earned or paid (decimal string of base units).
    #[schema(value_type = String)]
    #[serde(with = "decimal")]
    pub amount: u128,
    /// The token of `amount`.
    pub token: TokenKind,
}

/// A confidential ask's sealed inputs as its `AskCreated` carried them (public bytes: ciphertext and the data
/// key wrapped to the engine), kept while the ask may still be assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedInputs {
    /// The ask the secret is sealed for (chain, marketplace, market, requester, inputs): the ciphertext and
    /// every acl of it open only under this context.
    pub context: Context,
    /// The encrypted secret (`AskRequest.secret`).
    pub ciphertext: Bytes,
    /// The data key wrapped to the Matching Engine (`AskRequest.acl`).
    pub acl: Bytes,
    /// Where the ask was created (`AskCreated`): the market's images at that point are the ones its requester
    /// trusted with the secret.
    pub created: Seq,
}

/// A market as the ledger knows it (the book has the matching side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketRecord {
    /// Market id.
    pub id: u64,
    /// Creator.
    #[schema(value_type = String)]
    pub creator: Address,
    /// Verifier contract.
    #[schema(value_type = String)]
    pub verifier: Address,
    /// Prover enclave image (zero: public inputs only).
    #[schema(value_type = String)]
    pub prover_image_id: B256,
    /// IVS enclave image (zero: the creator registers the IVS keys, which need not live in enclaves).
    #[schema(value_type = String)]
    pub ivs_image_id: B256,
    /// When asks open.
    pub activation_time: u64,
    /// Creator's metadata, as UTF-8 when it is, else hex.
    pub metadata: String,
}

/// The derived state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The matching book.
    pub book: Book,
    /// Asks by id.
    pub asks: BTreeMap<u64, AskRecord>,
    /// Markets by id.
    pub markets: BTreeMap<u64, MarketRecord>,
    /// Sealed inputs of the confidential asks not yet proven, settled or refunded.
    pub sealed: HashMap<u64, SealedInputs>,
    /// Registered enclave keys (64-byte `x ‖ y`) and the image each was attested for, by `(market, generator)`.
    pub enclave_keys: HashMap<(u64, Address), (Bytes, B256)>,
    /// Extra prover images of the markets, with where they were added (`ExtraImageAdded`; removed ones leave).
    pub extra_images: HashMap<(u64, B256), Seq>,
    /// Events applied.
    pub events: u64,
    /// Protocol events of the last applied logs' kinds, counted by name (for metrics).
    pub by_name: HashMap<String, u64>,
    /// What each generator earned and paid, and its latest activity.
    pub generators: HashMap<Address, GeneratorRecord>,
    /// Assigned asks by `(task deadline, ask id)`: what a keeper may slash once the deadline passed.
    assigned_by_deadline: BTreeSet<(u64, u64)>,
    /// Open asks by `(deadline, ask id)`: what a keeper may refund once the deadline passed.
    open_by_deadline: BTreeSet<(u64, u64)>,
    /// The registry's restaking pools the engine indexes, with their registry id (1, 2, …) and parameters
    /// (read from the pools at startup: their `CollateralPoolAdded` carries only the address).
    restaking_pools: HashMap<Address, (u8, kalypso_sdk::PoolState)>,
}

/// What one applied log meant, for the caller's metrics and feed.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The decoded event.
    pub event: ProtocolEvent,
    /// An ask got its first assignment after this many seconds.
    pub assigned_after: Option<u64>,
    /// An ask was proven this many seconds after its assignment.
    pub proven_after: Option<u64>,
    /// An assignment item was skipped on-chain.
    pub skipped: Option<SkipReason>,
    /// The ask the event concerns, if any.
    pub ask: Option<u64>,
    /// The market the event concerns, if any.
    pub market: Option<u64>,
}

impl State {
    /// An empty state that indexes `pools` (the registry's restaking pools, in id order).
    pub fn with_restaking_pools(pools: &[kalypso_sdk::PoolState]) -> Self {
        let mut state = Self::default();
        for (i, p) in pools.iter().enumerate() {
            // At most MAX_COLLATERAL_POOLS (8).
            let id = u8::try_from(i + 1).unwrap_or(u8::MAX);
            state.restaking_pools.insert(p.pool, (id, *p));
        }
        state
    }

    /// Whether a confidential ask created at `created` in `market` may have its data key re-wrapped to an enclave
    /// key attested for `image`: the market's prover image, or an extra image the market already had when the
    /// ask was created (a creator who adds an image later, one that leaks its input, gets no secret of the
    /// asks made before). A key registered without attestation (zero image) never qualifies.
    pub fn image_allowed(&self, market: u64, image: B256, created: Seq) -> bool {
        if image.is_zero() {
            return false;
        }
        self.markets
            .get(&market)
            .is_some_and(|m| m.prover_image_id == image)
            || self
                .extra_images
                .get(&(market, image))
                .is_some_and(|&added| added < created)
    }

    /// Decodes and applies one stored log. Logs that are not protocol events (cannot happen for logs the
    /// indexer selected by address, unless the ABI changed) are reported and skipped.
    pub fn apply_log(&mut self, deployment: &Deployment, log: &StoredLog) -> Option<Applied> {
        let event = match ProtocolEvent::decode(deployment, log.address, &log.topics, &log.data) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(target: "kalypso::engine", block = log.block, index = log.log_index, %e, "undecodable log skipped");
                return None;
            }
        };
        let seq = Seq {
            block: log.block,
            log_index: log.log_index,
        };
        let mut applied = Applied {
            event: event.clone(),
            assigned_after: None,
            proven_after: None,
            skipped: None,
            ask: None,
            market: None,
        };
        for e in self.ledger(deployment, &event, log, seq, &mut applied) {
            self.book.apply(seq, &e);
        }
        if let Some(step) = step_of(&event) {
            self.record(log, step);
            applied.ask = Some(step.ask);
        }
        applied.market = match &event {
            ProtocolEvent::Marketplace(M::MarketCreated(e)) => Some(u64_of(e.marketId)),
            _ => applied
                .ask
                .and_then(|id| self.asks.get(&id))
                .map(|a| a.market),
        };
        self.events += 1;
        *self.by_name.entry(event.name()).or_default() += 1;
        Some(applied)
    }

    /// Updates the ledger and returns the events the book needs.
    fn ledger(
        &mut self,
        deployment: &Deployment,
        event: &ProtocolEvent,
        log: &StoredLog,
        seq: Seq,
        applied: &mut Applied,
    ) -> Vec<Event> {
        let ts = log.timestamp;
        match event {
            ProtocolEvent::Marketplace(e) => match e {
                M::MarketCreated(e) => {
                    let id = u64_of(e.marketId);
                    self.markets.insert(
                        id,
                        MarketRecord {
                            id,
                            creator: e.creator,
                            verifier: e.verifier,
                            prover_image_id: e.proverImageId,
                            ivs_image_id: e.ivsImageId,
                            activation_time: u64_of(e.activationTime),
                            metadata: match std::str::from_utf8(&e.metadata) {
                                Ok(s) => s.to_owned(),
                                Err(_) => e.metadata.to_string(),
                            },
                        },
                    );
                    vec![Event::MarketCreated {
                        market: id,
                        slashing_penalty: u128_of(e.slashingPenalty),
                        min_stake: u128_of(e.minStake),
                        confidential: e.proverImageId != B256::ZERO,
                    }]
                }
                M::MarketFrozen(e) => {
                    vec![Event::MarketFrozen {
                        market: u64_of(e.marketId),
                        frozen: e.frozen,
                    }]
                }
                M::ExtraImageAdded(e) => {
                    self.extra_images
                        .insert((u64_of(e.marketId), e.imageId), seq);
                    vec![]
                }
                M::ExtraImageRemoved(e) => {
                    self.extra_images.remove(&(u64_of(e.marketId), e.imageId));
                    vec![]
                }
                M::AskCreated(e) => {
                    let (id, market) = (u64_of(e.askId), u64_of(e.marketId));
                    let preference =
                        Preference::try_from(e.request.preference).unwrap_or(Preference::Cost);
                    let reward = u128_of(e.request.reward);
                    let deadline = u64_of(e.request.deadline);
                    self.insert_ask(AskRecord {
                        id,
                        market,
                        requester: e.requester,
                        reward,
                        deadline,
                        preference,
                        status: AskStatus::Open,
                        created_at: ts,
                        assigned_at: None,
                        generator: None,
                        price: None,
                        task_deadline: None,
                        settled_at: None,
                        refund: None,
                        failures: 0,
                        time_to_assign: None,
                        time_to_proof: None,
                        proof_log: None,
                        refused: None,
                        history: Vec::new(),
                    });
                    if !e.request.secret.is_empty() || !e.request.acl.is_empty() {
                        self.sealed.insert(
                            id,
                            SealedInputs {
                                context: Context {
                                    chain_id: deployment.chain_id,
                                    marketplace: deployment.marketplace,
                                    market_id: market,
                                    requester: e.requester,
                                    inputs_hash: alloy::primitives::keccak256(
                                        &e.request.proverData,
                                    ),
                                },
                                ciphertext: e.request.secret.clone(),
                                acl: e.request.acl.clone(),
                                created: seq,
                            },
                        );
                    }
                    vec![Event::AskCreated {
                        ask: id,
                        market,
                        reward,
                        deadline,
                        preference,
                    }]
                }
                M::TaskAssigned(e) => {
                    let id = u64_of(e.askId);
                    let price = u128_of(e.price);
                    self.update_ask(id, |a| {
                        a.status = AskStatus::Assigned;
                        a.assigned_at = Some(ts);
                        a.generator = Some(e.generator);
                        a.price = Some(price);
                        a.task_deadline = Some(u64_of(e.taskDeadline));
                        if a.time_to_assign.is_none() {
                            let after = ts.saturating_sub(a.created_at);
                            a.time_to_assign = Some(after);
                            applied.assigned_after = Some(after);
                        }
                    });
                    vec![Event::TaskAssigned {
                        ask: id,
                        generator: e.generator,
                        price,
                        compute_per_proof: u64_of(e.computePerProof),
                    }]
                }
                M::AssignmentSkipped(e) => {
                    let reason = SkipReason::try_from(e.reason).unwrap_or(SkipReason::None);
                    applied.skipped = Some(reason);
                    vec![Event::AssignmentSkipped {
                        ask: u64_of(e.askId),
                        generator: e.generator,
                        reason,
                    }]
                }
                M::ProofSubmitted(e) => {
                    let id = u64_of(e.askId);
                    self.update_ask(id, |a| {
                        a.status = AskStatus::Proven;
                        a.settled_at = Some(ts);
                        a.refund = Some(u128_of(e.refund));
                        a.proof_log = Some((log.block, log.log_index));
                        let after = a.assigned_at.map(|at| ts.saturating_sub(at));
                        a.time_to_proof = after;
                        applied.proven_after = after;
                    });
                    self.sealed.remove(&id);
                    vec![Event::TaskCompleted { ask: id }]
                }
                M::InvalidInputsSettled(e) => {
                    let id = u64_of(e.askId);
                    self.update_ask(id, |a| {
                        a.status = AskStatus::InvalidInputs;
                        a.settled_at = Some(ts);
                        a.refund = Some(u128_of(e.refund));
                    });
                    self.sealed.remove(&id);
                    vec![Event::TaskCompleted { ask: id }]
                }
                M::TaskDiscarded(e) => self.failed(u64_of(e.askId), u128_of(e.penalty), e.reopened),
                M::TaskSlashed(e) => {
                    let taken = u128_of(e.held)
                        .saturating_add(u128_of(e.toKeeper))
                        .saturating_add(u128_of(e.toTreasury));
                    self.failed(u64_of(e.askId), taken, e.reopened)
                }
                M::AskRefunded(e) => {
                    let id = u64_of(e.askId);
                    self.update_ask(id, |a| {
                        a.status = AskStatus::Refunded;
                        a.settled_at = Some(ts);
                        a.refund = Some(u128_of(e.amount));
                    });
                    self.sealed.remove(&id);
                    vec![Event::AskClosed { ask: id }]
                }
                _ => vec![],
            },
            ProtocolEvent::Registry(e) => match e {
                R::GeneratorRegistered(e) => vec![Event::GeneratorRegistered {
                    generator: e.generator,
                    declared_compute: u64_of(e.declaredCompute),
                }],
                R::DeclaredComputeUpdated(e) => vec![Event::DeclaredComputeUpdated {
                    generator: e.generator,
                    declared_compute: u64_of(e.declaredCompute),
                }],
                R::GeneratorDeregistered(e) => {
                    vec![Event::GeneratorDeregistered {
                        generator: e.generator,
                    }]
                }
                R::MarketJoined(e) => vec![Event::QuoteSet {
                    generator: e.generator,
                    market: u64_of(e.marketId),
                    quote: Quote {
                        price: u128_of(e.pricePerProof),
                        max_proof_time: u64_of(e.maxProofTime),
                        compute_per_proof: u64_of(e.computePerProof),
                    },
                }],
                R::QuoteUpdated(e) => vec![Event::QuoteSet {
                    generator: e.generator,
                    market: u64_of(e.marketId),
                    quote: Quote {
                        price: u128_of(e.pricePerProof),
                        max_proof_time: u64_of(e.maxProofTime),
                        compute_per_proof: u64_of(e.computePerProof),
                    },
                }],
                R::MarketLeft(e) => {
                    vec![Event::MarketLeft {
                        generator: e.generator,
                        market: u64_of(e.marketId),
                    }]
                }
                R::Staked(e) => {
                    vec![Event::Staked {
                        generator: e.generator,
                        stake: u128_of(e.stake),
                    }]
                }
                R::UnstakeRequested(e) => {
                    vec![Event::UnstakeRequested {
                        generator: e.generator,
                        amount: u128_of(e.amount),
                    }]
                }
                R::UnstakeCancelled(e) => {
                    vec![Event::UnstakeCancelled {
                        generator: e.generator,
                        amount: u128_of(e.amount),
                    }]
                }
                R::CollateralPoolAdded(e) => match self.restaking_pools.get(&e.pool) {
                    Some(&(id, p)) => vec![Event::CollateralPool {
                        pool: id,
                        epoch_start: p.epoch_start,
                        epoch_duration: p.epoch_duration,
                        offset: p.offset,
                        slash_window: p.slash_window,
                        min_lock: p.min_lock,
                    }],
                    None => {
                        tracing::warn!(target: "kalypso::engine", pool = %e.pool,
                            "a restaking pool was added after the engine started: restart the engine to index it");
                        vec![]
                    }
                },
                _ => vec![],
            },
            ProtocolEvent::Restaking { pool, event } => {
                let Some(&(id, _)) = self.restaking_pools.get(pool) else {
                    return vec![];
                };
                match event {
                    RP::SnapshotApplied(e) => vec![Event::PoolEpoch {
                        pool: id,
                        epoch: u64_of(e.epoch),
                    }],
                    RP::OperatorStake(e) => vec![Event::PoolStake {
                        pool: id,
                        generator: e.operator,
                        epoch: u64_of(e.epoch),
                        stake: u128_of(e.stake),
                    }],
                    RP::RestakeLocked(e) => vec![Event::RestakeLocked {
                        pool: id,
                        ask: u64_of(e.taskId),
                    }],
                    RP::SlashQueued(e) => vec![Event::PoolSlashQueued {
                        pool: id,
                        generator: e.operator,
                        amount: u128_of(e.amount),
                    }],
                    RP::SlashSettled(e) => vec![Event::PoolSlashSettled {
                        pool: id,
                        generator: e.operator,
                        amount: u128_of(e.amount),
                    }],
                    _ => vec![],
                }
            }
            ProtocolEvent::Keys(e) => match e {
                K::GeneratorKeyRegistered(e) => {
                    let market = u64_of(e.marketId);
                    self.enclave_keys
                        .insert((market, e.generator), (e.pubkey.clone(), e.imageId));
                    vec![Event::GeneratorKeySet {
                        generator: e.generator,
                        market,
                        present: true,
                    }]
                }
                K::GeneratorKeyRemoved(e) => {
                    let market = u64_of(e.marketId);
                    self.enclave_keys.remove(&(market, e.generator));
                    vec![Event::GeneratorKeySet {
                        generator: e.generator,
                        market,
                        present: false,
                    }]
                }
                _ => vec![],
            },
        }
    }

    /// Appends `step` to its ask's history and, for what a generator did, to the generator's record.
    fn record(&mut self, log: &StoredLog, step: Step) {
        let Some(a) = self.asks.get_mut(&step.ask) else {
            return;
        };
        a.history.push(AskStep {
            kind: step.kind,
            block: log.block,
            timestamp: log.timestamp,
            tx_hash: log.tx_hash,
            generator: step.generator,
            amount: Some(step.amount),
            token: step.token,
        });
        let market = a.market;
        let Some(generator) = step.generator else {
            return;
        };
        let (earned, paid) = match step.kind {
            StepKind::Proven | StepKind::InvalidInputs => (step.amount, 0),
            StepKind::Slashed | StepKind::Discarded => (0, step.amount),
            _ => return,
        };
        let g = self.generators.entry(generator).or_default();
        g.earnings = g.earnings.saturating_add(earned);
        g.penalties = g.penalties.saturating_add(paid);
        if g.activity.len() == GeneratorRecord::MAX_ACTIVITY {
            g.activity.pop_front();
        }
        g.activity.push_back(Activity {
            kind: step.kind,
            ask: step.ask,
            market,
            timestamp: log.timestamp,
            amount: step.amount,
            token: step.token,
        });
    }

    fn failed(&mut self, id: u64, taken: u128, reopened: bool) -> Vec<Event> {
        self.update_ask(id, |a| {
            a.failures += 1;
            if reopened {
                a.status = AskStatus::Open;
            }
        });
        vec![Event::TaskFailed {
            ask: id,
            stake_taken: taken,
            reopened,
        }]
    }

    /// Assigned asks whose task deadline is before `now`, earliest deadline first: the chain accepts a `slash`
    /// of each in a block at `now` or later.
    pub fn overdue_tasks(&self, now: u64) -> impl Iterator<Item = &AskRecord> + '_ {
        self.assigned_by_deadline
            .range(..(now, 0))
            .filter_map(|(_, id)| self.asks.get(id))
    }

    /// Open asks whose deadline is before `now`, earliest first: the chain accepts a `refundExpired` of each in
    /// a block at `now` or later.
    pub fn expired_open_asks(&self, now: u64) -> impl Iterator<Item = &AskRecord> + '_ {
        self.open_by_deadline
            .range(..(now, 0))
            .filter_map(|(_, id)| self.asks.get(id))
    }

    fn insert_ask(&mut self, record: AskRecord) {
        let id = record.id;
        if let Some(old) = self.asks.insert(id, record) {
            self.unindex(&old);
        }
        if let Some(a) = self.asks.get(&id) {
            let key = Self::deadline_key(a);
            self.index(key);
        }
    }

    /// Changes an ask's record and keeps the deadline indexes in step.
    fn update_ask(&mut self, id: u64, f: impl FnOnce(&mut AskRecord)) {
        let Some(a) = self.asks.get_mut(&id) else {
            return;
        };
        let before = Self::deadline_key(a);
        f(a);
        let after = Self::deadline_key(a);
        if before != after {
            self.unindex_key(before);
            self.index(after);
        }
    }

    /// Which index holds the ask (true: assigned, false: open) and its key there.
    fn deadline_key(a: &AskRecord) -> Option<(bool, (u64, u64))> {
        match a.status {
            AskStatus::Assigned => Some((true, (a.task_deadline.unwrap_or(0), a.id))),
            AskStatus::Open => Some((false, (a.deadline, a.id))),
            _ => None,
        }
    }

    fn index(&mut self, key: Option<(bool, (u64, u64))>) {
        match key {
            Some((true, k)) => self.assigned_by_deadline.insert(k),
            Some((false, k)) => self.open_by_deadline.insert(k),
            None => false,
        };
    }

    fn unindex(&mut self, a: &AskRecord) {
        self.unindex_key(Self::deadline_key(a));
    }

    fn unindex_key(&mut self, key: Option<(bool, (u64, u64))>) {
        match key {
            Some((true, k)) => self.assigned_by_deadline.remove(&k),
            Some((false, k)) => self.open_by_deadline.remove(&k),
            None => false,
        };
    }
}

/// Values the contracts store in at most 64 bits (ids, times, compute).
fn u64_of(v: U256) -> u64 {
    v.saturating_to()
}

/// Amounts the contracts store in at most 96 bits.
fn u128_of(v: U256) -> u128 {
    v.saturating_to()
}

/// Amounts as decimal strings in JSON (JavaScript numbers cannot hold 96-bit values).
/// A step of an ask's life that an event records.
#[derive(Debug, Clone, Copy)]
struct Step {
    ask: u64,
    kind: StepKind,
    generator: Option<Address>,
    amount: u128,
    token: TokenKind,
}

/// The ask step `event` records, if it is one.
fn step_of(event: &ProtocolEvent) -> Option<Step> {
    let ProtocolEvent::Marketplace(e) = event else {
        return None;
    };
    let step = |ask: &U256, kind, generator, amount: &U256, token| Step {
        ask: u64_of(*ask),
        kind,
        generator,
        amount: u128_of(*amount),
        token,
    };
    Some(match e {
        M::AskCreated(e) => step(
            &e.askId,
            StepKind::Created,
            None,
            &e.request.reward,
            TokenKind::Payment,
        ),
        M::TaskAssigned(e) => step(
            &e.askId,
            StepKind::Assigned,
            Some(e.generator),
            &e.price,
            TokenKind::Payment,
        ),
        M::ProofSubmitted(e) => step(
            &e.askId,
            StepKind::Proven,
            Some(e.generator),
            &e.price,
            TokenKind::Payment,
        ),
        M::InvalidInputsSettled(e) => step(
            &e.askId,
            StepKind::InvalidInputs,
            Some(e.generator),
            &e.price,
            TokenKind::Payment,
        ),
        M::TaskSlashed(e) => step(
            &e.askId,
            StepKind::Slashed,
            Some(e.generator),
            &e.penalty,
            TokenKind::Staking,
        ),
        M::TaskDiscarded(e) => step(
            &e.askId,
            StepKind::Discarded,
            Some(e.generator),
            &e.penalty,
            TokenKind::Staking,
        ),
        M::AskRefunded(e) => step(
            &e.askId,
            StepKind::Refunded,
            None,
            &e.amount,
            TokenKind::Payment,
        ),
        _ => return None,
    })
}

mod decimal {
    use serde::Serializer;

    pub(super) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
}

mod decimal_opt {
    use serde::Serializer;

    pub(super) fn serialize<S: Serializer>(v: &Option<u128>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{Bytes, address},
        sol_types::SolEvent,
    };
    use kalypso_sdk::contracts::marketplace::{IProofMarketplace, ProofMarketplace as P};

    const GEN: Address = address!("0x00000000000000000000000000000000000000aa");

    fn deployment() -> Deployment {
        let a = |n: u8| Address::with_last_byte(n);
        Deployment {
            chain_id: 1,
            deploy_block: 0,
            marketplace: a(1),
            generator_registry: a(2),
            key_registry: a(3),
            attestation_verifier: a(4),
            payment_token: a(5),
            staking_token: a(6),
            timelock: None,
            sample_verifier: None,
            sample_market_id: None,
            restaking_pools: Vec::new(),
        }
    }

    /// Applies a marketplace event in block `block` at time `timestamp`.
    fn apply<E: SolEvent>(state: &mut State, block: u64, timestamp: u64, event: &E) {
        let d = deployment();
        let log = StoredLog {
            block,
            timestamp,
            log_index: 0,
            tx_hash: B256::ZERO,
            address: d.marketplace,
            topics: event.encode_topics().into_iter().map(|t| t.0).collect(),
            data: event.encode_data(),
        };
        assert!(state.apply_log(&d, &log).is_some());
    }

    fn created(ask: u64, deadline: u64) -> P::AskCreated {
        P::AskCreated {
            askId: U256::from(ask),
            marketId: U256::from(1),
            requester: Address::ZERO,
            request: IProofMarketplace::AskRequest {
                marketId: U256::from(1),
                reward: U256::from(100),
                deadline: U256::from(deadline),
                preference: 0,
                refundAddress: Address::ZERO,
                proverData: Bytes::from_static(b"in"),
                secret: Bytes::new(),
                acl: Bytes::new(),
            },
            fee: U256::ZERO,
        }
    }

    fn assigned(ask: u64, task_deadline: u64) -> P::TaskAssigned {
        P::TaskAssigned {
            askId: U256::from(ask),
            marketId: U256::from(1),
            generator: GEN,
            price: U256::from(10),
            taskDeadline: U256::from(task_deadline),
            computePerProof: U256::from(1),
            fallbackAssignment: false,
            acl: Bytes::new(),
        }
    }

    fn ids<'a>(records: impl Iterator<Item = &'a AskRecord>) -> Vec<u64> {
        records.map(|a| a.id).collect()
    }

    #[test]
    fn deadline_indexes_follow_the_ask_lifecycle() {
        let mut s = State::default();
        apply(&mut s, 1, 100, &created(1, 1_000));
        apply(&mut s, 1, 100, &created(2, 500));
        assert_eq!(ids(s.expired_open_asks(500)), Vec::<u64>::new());
        assert_eq!(ids(s.expired_open_asks(501)), vec![2]);

        apply(&mut s, 2, 110, &assigned(1, 160));
        assert_eq!(ids(s.expired_open_asks(2_000)), vec![2]);
        // Slashable only in a block after the task deadline.
        assert_eq!(ids(s.overdue_tasks(160)), Vec::<u64>::new());
        assert_eq!(ids(s.overdue_tasks(161)), vec![1]);

        // A slash re-opens it; a new assignment has a new task deadline.
        apply(
            &mut s,
            3,
            170,
            &P::TaskSlashed {
                askId: U256::from(1),
                generator: GEN,
                keeper: Address::ZERO,
                penalty: U256::from(10),
                held: U256::from(5),
                toKeeper: U256::from(1),
                toTreasury: U256::from(4),
                reopened: true,
            },
        );
        assert_eq!(ids(s.overdue_tasks(2_000)), Vec::<u64>::new());
        assert_eq!(ids(s.expired_open_asks(2_000)), vec![2, 1]);
        apply(&mut s, 4, 180, &assigned(1, 300));
        assert_eq!(ids(s.overdue_tasks(301)), vec![1]);

        // Proven and refunded asks leave both indexes.
        apply(
            &mut s,
            5,
            190,
            &P::ProofSubmitted {
                askId: U256::from(1),
                generator: GEN,
                rewardAddress: GEN,
                price: U256::from(10),
                refund: U256::from(90),
                proof: Bytes::new(),
            },
        );
        apply(
            &mut s,
            6,
            600,
            &P::AskRefunded {
                askId: U256::from(2),
                refundAddress: Address::ZERO,
                amount: U256::from(100),
                cancelled: false,
            },
        );
        assert_eq!(ids(s.overdue_tasks(u64::MAX)), Vec::<u64>::new());
        assert_eq!(ids(s.expired_open_asks(u64::MAX)), Vec::<u64>::new());

        // Each ask's history, in order with its blocks; the generator's earnings, penalties and activity.
        let steps = |id: u64| -> Vec<(StepKind, u64, Option<u128>)> {
            s.asks[&id]
                .history
                .iter()
                .map(|h| (h.kind, h.block, h.amount))
                .collect()
        };
        assert_eq!(
            steps(1),
            vec![
                (StepKind::Created, 1, Some(100)),
                (StepKind::Assigned, 2, Some(10)),
                (StepKind::Slashed, 3, Some(10)),
                (StepKind::Assigned, 4, Some(10)),
                (StepKind::Proven, 5, Some(10)),
            ]
        );
        assert_eq!(
            steps(2),
            vec![
                (StepKind::Created, 1, Some(100)),
                (StepKind::Refunded, 6, Some(100))
            ]
        );
        let g = &s.generators[&GEN];
        assert_eq!((g.earnings, g.penalties), (10, 10));
        assert_eq!(
            g.activity
                .iter()
                .map(|a| (a.kind, a.ask))
                .collect::<Vec<_>>(),
            vec![(StepKind::Slashed, 1), (StepKind::Proven, 1)]
        );
        assert_eq!(g.activity[0].token, TokenKind::Staking);
    }

    /// The registry's and a restaking pool's events become the book's collateral events, with the pool's id and
    /// the parameters read at startup; a pool the engine was not started with is ignored.
    #[test]
    fn restaking_pool_events_reach_the_book() {
        use kalypso_sdk::contracts::{
            generator_registry::GeneratorRegistry as G, restaking_pool::RestakingPool as R,
        };
        let pool = Address::with_last_byte(9);
        let params = kalypso_sdk::PoolState {
            pool,
            epoch_start: 0,
            epoch_duration: 100,
            offset: 10,
            slash_latency: 50,
            slash_window: 150,
            min_lock: 1,
            max_settle_per_snapshot: 128,
            latest_epoch: 0,
            fresh: false,
            settled_slashes: 0,
            next_slash_id: 0,
        };
        let mut s = State::with_restaking_pools(&[params]);
        let mut d = deployment();
        d.restaking_pools = vec![pool];
        let mut events = |address: Address, topics: Vec<B256>, data: Vec<u8>| {
            let log = StoredLog {
                block: 1,
                timestamp: 100,
                log_index: 0,
                tx_hash: B256::ZERO,
                address,
                topics,
                data,
            };
            let event =
                ProtocolEvent::decode(&d, address, &log.topics, &log.data).expect("decodes");
            let mut applied = Applied {
                event: event.clone(),
                assigned_after: None,
                proven_after: None,
                skipped: None,
                ask: None,
                market: None,
            };
            s.ledger(&d, &event, &log, Seq::new(1, 0), &mut applied)
        };
        let added = G::CollateralPoolAdded {
            poolId: U256::from(1),
            pool,
        };
        assert_eq!(
            events(
                d_registry(),
                added.encode_topics().into_iter().map(|t| t.0).collect(),
                added.encode_data()
            ),
            vec![Event::CollateralPool {
                pool: 1,
                epoch_start: 0,
                epoch_duration: 100,
                offset: 10,
                slash_window: 150,
                min_lock: 1,
            }]
        );
        let stake = R::OperatorStake {
            operator: GEN,
            epoch: U256::from(7),
            stake: U256::from(500),
        };
        assert_eq!(
            events(
                pool,
                stake.encode_topics().into_iter().map(|t| t.0).collect(),
                stake.encode_data()
            ),
            vec![Event::PoolStake {
                pool: 1,
                generator: GEN,
                epoch: 7,
                stake: 500,
            }]
        );
        let locked = R::RestakeLocked {
            operator: GEN,
            taskId: U256::from(4),
            amount: U256::from(10),
            epoch: U256::from(7),
        };
        assert_eq!(
            events(
                pool,
                locked.encode_topics().into_iter().map(|t| t.0).collect(),
                locked.encode_data()
            ),
            vec![Event::RestakeLocked { pool: 1, ask: 4 }]
        );
        let queued = R::SlashQueued {
            slashId: U256::ZERO,
            operator: GEN,
            taskId: U256::from(4),
            amount: U256::from(10),
            captureTimestamp: U256::from(700),
        };
        assert_eq!(
            events(
                pool,
                queued.encode_topics().into_iter().map(|t| t.0).collect(),
                queued.encode_data()
            ),
            vec![Event::PoolSlashQueued {
                pool: 1,
                generator: GEN,
                amount: 10,
            }]
        );
        // A pool added after the engine started is not indexed (a restart picks it up).
        let other = G::CollateralPoolAdded {
            poolId: U256::from(2),
            pool: Address::with_last_byte(10),
        };
        assert_eq!(
            events(
                d_registry(),
                other.encode_topics().into_iter().map(|t| t.0).collect(),
                other.encode_data()
            ),
            vec![]
        );
    }

    fn d_registry() -> Address {
        deployment().generator_registry
    }
}
