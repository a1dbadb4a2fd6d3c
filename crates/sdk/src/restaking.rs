//! Restaked collateral: the generator registry's external collateral pools (`RestakingPool`s on the L2) and
//! Kalypso's Symbiotic network middleware on the L1 that the restaking committee bridges them from.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    signers::{Signer, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolEvent, SolStruct, SolValue},
};
use kalypso_contracts::{KalypsoMiddleware, RestakingPool};
use kalypso_primitives::eip712;
use serde::Serialize;
use std::{ops::RangeInclusive, time::Duration};

use crate::{
    Error, Kalypso, Result, TxSummary,
    client::latest_timestamp,
    error::Target,
    tx::{self, DEFAULT_RECEIPT_TIMEOUT, Gas},
    types::to_u64,
};

/// Parameters of a new `RestakingPool`. The epochs must be the L1 middleware's
/// ([`SymbioticNetwork::epochs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestakingPoolConfig {
    /// Sets the committee and the slash window afterwards.
    pub admin: Address,
    /// The middleware's `EPOCH_START` (capture timestamp of epoch 0).
    pub epoch_start: u64,
    /// The middleware's `EPOCH_DURATION`, in seconds.
    pub epoch_duration: u64,
    /// How long past the next epoch's start a snapshot still applies (shorter than an epoch).
    pub offset: u64,
    /// The time a slash needs from a task's deadline to its request on the L1 (keeper, relayers, L1 inclusion,
    /// clock skew).
    pub slash_latency: u64,
    /// How long after a snapshot's capture a task locked against it may be due: at most the L1's window
    /// (`2 × epoch_duration`) minus `slash_latency`.
    pub slash_window: u64,
    /// The smallest penalty the pool locks (each slash costs the relayers two L1 transactions).
    pub min_lock: u128,
    /// Committee members (relayer keys).
    pub committee: Vec<Address>,
    /// Signatures a snapshot needs.
    pub threshold: u64,
}

/// Epoch geometry and slash bookkeeping of one `RestakingPool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolState {
    /// The pool.
    pub pool: Address,
    /// Capture timestamp of epoch 0.
    pub epoch_start: u64,
    /// Epoch length in seconds.
    pub epoch_duration: u64,
    /// Seconds past the next epoch's start a snapshot still applies.
    pub offset: u64,
    /// See [`RestakingPoolConfig::slash_latency`].
    pub slash_latency: u64,
    /// See [`RestakingPoolConfig::slash_window`].
    pub slash_window: u64,
    /// See [`RestakingPoolConfig::min_lock`].
    pub min_lock: u128,
    /// The most slashes one snapshot may settle.
    pub max_settle_per_snapshot: u64,
    /// The latest epoch a snapshot was applied for (0: none).
    pub latest_epoch: u64,
    /// Whether that snapshot still applies (new locks are possible).
    pub fresh: bool,
    /// Slash ids below this are settled on the L1.
    pub settled_slashes: u64,
    /// The id the next slash gets.
    pub next_slash_id: u64,
}

impl PoolState {
    /// The capture timestamp of `epoch`.
    pub fn epoch_start_of(&self, epoch: u64) -> u64 {
        self.epoch_start + epoch * self.epoch_duration
    }

    /// Until when a snapshot of `epoch` applies (exclusive).
    pub fn valid_until(&self, epoch: u64) -> u64 {
        self.epoch_start_of(epoch + 1) + self.offset
    }
}

/// A generator's restaked collateral in one pool, as the L2 sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolCollateral {
    /// The pool.
    pub pool: Address,
    /// Its collateral pool id in the registry (1, 2, …; 0 is native stake).
    pub pool_id: u8,
    /// The pool's latest epoch and whether it still applies.
    pub latest_epoch: u64,
    /// See [`PoolState::fresh`].
    pub fresh: bool,
    /// Stake at the capture of `stake_epoch`.
    pub stake: u128,
    /// The epoch of `stake` (it counts only when it is `latest_epoch`).
    pub stake_epoch: u64,
    /// Locked by tasks in flight.
    pub locked: u128,
    /// Slashed on the L2, not yet settled on the L1.
    pub pending_slash: u128,
    /// What a new task could lock now.
    pub free: u128,
}

/// A slash of restaked collateral queued by a pool for the L1 (`SlashQueued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedSlash {
    /// The pool's sequential slash id (the L1 request's id).
    pub slash_id: u64,
    /// The slashed generator (Symbiotic operator).
    pub operator: Address,
    /// The task (ask id).
    pub task: u64,
    /// Amount to slash on the L1.
    pub amount: u128,
    /// Capture timestamp of the snapshot the task's lock was taken against.
    pub capture_timestamp: u64,
    /// L2 block of the slash.
    pub block_number: u64,
}

/// The creation of a `RestakingPool` for `registry` with `config`.
pub(crate) fn restaking_pool_deployment<P: Provider>(
    provider: P,
    registry: Address,
    config: &RestakingPoolConfig,
) -> alloy::contract::RawCallBuilder<P> {
    let params = kalypso_contracts::restaking_pool::IRestakingPool::Params {
        epochStart: config.epoch_start,
        epochDuration: config.epoch_duration,
        offset: config.offset,
        slashLatency: config.slash_latency,
        slashWindow: config.slash_window,
        minLock: alloy::primitives::Uint::<96, 2>::saturating_from(config.min_lock),
    };
    RestakingPool::deploy_builder(
        provider,
        registry,
        config.admin,
        params,
        config.committee.clone(),
        U256::from(config.threshold),
    )
}

impl<P: Provider> Kalypso<P> {
    /// Deploys a `RestakingPool` for this deployment's generator registry (add it with
    /// [`Kalypso::add_collateral_pool`]).
    pub async fn deploy_restaking_pool(&self, config: &RestakingPoolConfig) -> Result<Address> {
        let call = restaking_pool_deployment(
            self.provider(),
            self.deployment().generator_registry,
            config,
        );
        let receipt = self
            .send(call, Target::RestakingPool, "deploy RestakingPool")
            .await?;
        receipt.contract_address.ok_or(Error::NotDeployed {
            contract: "RestakingPool",
            tx: receipt.transaction_hash,
        })
    }

    /// Adds an external collateral pool to the registry (its admin; a governance proposal in production). The
    /// pool gets the next id; tasks go to it only when native stake cannot cover them.
    pub async fn add_collateral_pool(&self, pool: Address) -> Result<TxSummary> {
        let receipt = self
            .send(
                self.registry().addCollateralPool(pool),
                Target::Registry,
                "addCollateralPool",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// The registry's external collateral pools; pool `i` has id `i + 1`.
    pub async fn collateral_pools(&self) -> Result<Vec<Address>> {
        Ok(self.registry().collateralPools().call().await?)
    }

    /// A restaking pool's epochs and slash bookkeeping.
    pub async fn restaking_pool_state(&self, pool: Address) -> Result<PoolState> {
        let p = RestakingPool::new(pool, self.provider());
        let latest = p.latestEpoch().call().await?;
        Ok(PoolState {
            pool,
            epoch_start: to_u64(p.EPOCH_START().call().await?, "EPOCH_START")?,
            epoch_duration: to_u64(p.EPOCH_DURATION().call().await?, "EPOCH_DURATION")?,
            offset: to_u64(p.OFFSET().call().await?, "OFFSET")?,
            slash_latency: to_u64(p.SLASH_LATENCY().call().await?, "SLASH_LATENCY")?,
            slash_window: to_u64(p.slashWindow().call().await?, "slashWindow")?,
            min_lock: p.MIN_LOCK().call().await?.saturating_to(),
            max_settle_per_snapshot: to_u64(
                p.MAX_SETTLE_PER_SNAPSHOT().call().await?,
                "MAX_SETTLE_PER_SNAPSHOT",
            )?,
            latest_epoch: latest.epoch,
            fresh: latest.fresh,
            settled_slashes: to_u64(p.settledSlashes().call().await?, "settledSlashes")?,
            next_slash_id: to_u64(p.nextSlashId().call().await?, "nextSlashId")?,
        })
    }

    /// `generator`'s collateral in every restaking pool of the registry.
    pub async fn pool_collateral(&self, generator: Address) -> Result<Vec<PoolCollateral>> {
        let mut out = Vec::new();
        for (i, pool) in self.collateral_pools().await?.into_iter().enumerate() {
            let p = RestakingPool::new(pool, self.provider());
            let latest = p.latestEpoch().call().await?;
            let op = p.operatorOf(generator).call().await?;
            out.push(PoolCollateral {
                pool,
                // At most MAX_COLLATERAL_POOLS (8).
                pool_id: u8::try_from(i + 1).unwrap_or(u8::MAX),
                latest_epoch: latest.epoch,
                fresh: latest.fresh,
                stake: op.stake.to(),
                stake_epoch: op.epoch,
                locked: op.locked.to(),
                pending_slash: op.pendingSlash.to(),
                free: p.freeStake(generator).call().await?.to(),
            });
        }
        Ok(out)
    }

    /// The slashes `pool` queued in `blocks` (paged by [`Kalypso::log_page_blocks`]).
    pub async fn queued_slashes(
        &self,
        pool: Address,
        blocks: RangeInclusive<u64>,
    ) -> Result<Vec<QueuedSlash>> {
        let mut out = Vec::new();
        let page = self.log_page_blocks().max(1);
        let mut from = *blocks.start();
        while from <= *blocks.end() {
            let to = (from + page - 1).min(*blocks.end());
            let filter = Filter::new()
                .address(pool)
                .event_signature(RestakingPool::SlashQueued::SIGNATURE_HASH)
                .from_block(from)
                .to_block(to);
            for log in self.provider().get_logs(&filter).await? {
                let e = RestakingPool::SlashQueued::decode_log(&log.inner).map_err(|e| {
                    Error::Decode {
                        what: "SlashQueued",
                        reason: e.to_string(),
                    }
                })?;
                out.push(QueuedSlash {
                    slash_id: to_u64(e.slashId, "slashId")?,
                    operator: e.operator,
                    task: to_u64(e.taskId, "taskId")?,
                    amount: e.amount.to(),
                    capture_timestamp: to_u64(e.captureTimestamp, "captureTimestamp")?,
                    block_number: log.block_number.unwrap_or_default(),
                });
            }
            from = to + 1;
        }
        Ok(out)
    }

    /// Slash `slash_id` of `pool` as stored: the operator and the amount.
    pub async fn pool_slash(&self, pool: Address, slash_id: u64) -> Result<(Address, u128)> {
        let s = RestakingPool::new(pool, self.provider())
            .slashOf(U256::from(slash_id))
            .call()
            .await?;
        Ok((s.operator, s.amount.to()))
    }

    /// Submits a committee-signed snapshot to `pool` (anyone may send it).
    pub async fn submit_snapshot(
        &self,
        pool: Address,
        snapshot: &eip712::Snapshot,
        signatures: Vec<Bytes>,
    ) -> Result<TxSummary> {
        let p = RestakingPool::new(pool, self.provider());
        let s = kalypso_contracts::restaking_pool::IRestakingPool::Snapshot {
            epoch: snapshot.epoch,
            settledSlashes: snapshot.settledSlashes,
            operators: snapshot.operators.clone(),
            stakes: snapshot.stakes.clone(),
        };
        let receipt = self
            .send(
                p.submitSnapshot(s, signatures),
                Target::RestakingPool,
                "submitSnapshot",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// The EIP-712 domain of `pool`'s snapshots.
    pub fn restaking_pool_domain(&self, pool: Address) -> Eip712Domain {
        eip712::restaking_pool_domain(self.deployment().chain_id, pool)
    }
}

/// Signs `message` under `domain` with each committee key, in ascending signer address order (the order the
/// pool and the middleware require; a key given twice signs once).
pub async fn committee_signatures<M: SolStruct>(
    keys: &[PrivateKeySigner],
    message: &M,
    domain: &Eip712Domain,
) -> Result<Vec<Bytes>> {
    let mut keys: Vec<&PrivateKeySigner> = keys.iter().collect();
    keys.sort_by_key(|k| k.address());
    keys.dedup_by_key(|k| k.address());
    let digest = message.eip712_signing_hash(domain);
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        out.push(Bytes::from(
            key.sign_hash(&digest).await?.as_bytes().to_vec(),
        ));
    }
    Ok(out)
}

/// Status of a slash request on the L1 (`IKalypsoMiddleware.SlashStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum L1SlashStatus {
    /// Not requested on the L1.
    None,
    /// Requested; executes after the veto period unless vetoed.
    Requested,
    /// Executed (for the parts not vetoed).
    Executed,
    /// Every part was vetoed by the resolver.
    Vetoed,
}

impl L1SlashStatus {
    fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::None,
            1 => Self::Requested,
            2 => Self::Executed,
            3 => Self::Vetoed,
            other => {
                return Err(Error::Decode {
                    what: "slash status",
                    reason: format!("unknown value {other}"),
                });
            }
        })
    }
}

/// A slash request on the L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Slash {
    /// Its status (`Vetoed` as soon as every part is vetoed, even before it is closed).
    pub status: L1SlashStatus,
    /// Whether the stored record is closed (executed or vetoed), which [`SymbioticNetwork::settled_at`] times.
    pub closed: bool,
    /// Earliest execution time (0 when not requested).
    pub executable_at: u64,
}

/// A stake snapshot read from the L1 middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Snapshot {
    /// The epoch.
    pub epoch: u64,
    /// Its capture timestamp.
    pub capture_timestamp: u64,
    /// Registered operators and their stake at the capture.
    pub stakes: Vec<(Address, U256)>,
}

/// Epoch geometry of the L1 middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Epochs {
    /// Capture timestamp of epoch 0.
    pub epoch_start: u64,
    /// Epoch length in seconds.
    pub epoch_duration: u64,
    /// How old a capture a slash request may name.
    pub slash_window: u64,
}

impl L1Epochs {
    /// The epoch `timestamp` falls in (0 before the start).
    pub fn epoch_at(&self, timestamp: u64) -> u64 {
        timestamp.saturating_sub(self.epoch_start) / self.epoch_duration.max(1)
    }

    /// The capture timestamp of `epoch`.
    pub fn start_of(&self, epoch: u64) -> u64 {
        self.epoch_start + epoch * self.epoch_duration
    }
}

/// A client of Kalypso's Symbiotic network middleware on the L1 (`KalypsoMiddleware`).
#[derive(Debug, Clone)]
pub struct SymbioticNetwork<P> {
    provider: P,
    middleware: Address,
    sender: Address,
    chain_id: u64,
    receipt_timeout: Option<Duration>,
}

impl<P: Provider> SymbioticNetwork<P> {
    /// A client of `middleware`, sending from `sender` (the provider's wallet must sign for it). Reads the chain id
    /// and checks that the middleware has code.
    pub async fn connect(provider: P, middleware: Address, sender: Address) -> Result<Self> {
        let chain_id = provider.get_chain_id().await?;
        if provider.get_code_at(middleware).await?.is_empty() {
            return Err(Error::NoCode {
                contract: "KalypsoMiddleware",
                address: middleware,
            });
        }
        Ok(Self {
            provider,
            middleware,
            sender,
            chain_id,
            receipt_timeout: Some(DEFAULT_RECEIPT_TIMEOUT),
        })
    }

    /// The middleware's address.
    pub fn middleware(&self) -> Address {
        self.middleware
    }

    /// The L1 provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The EIP-712 domain of slash requests.
    pub fn domain(&self) -> Eip712Domain {
        eip712::symbiotic_middleware_domain(self.chain_id, self.middleware)
    }

    fn contract(&self) -> KalypsoMiddleware::KalypsoMiddlewareInstance<&P> {
        KalypsoMiddleware::new(self.middleware, &self.provider)
    }

    /// The middleware's epochs.
    pub async fn epochs(&self) -> Result<L1Epochs> {
        let m = self.contract();
        Ok(L1Epochs {
            epoch_start: m.EPOCH_START().call().await?.to(),
            epoch_duration: m.EPOCH_DURATION().call().await?.to(),
            slash_window: m.SLASH_WINDOW().call().await?.to(),
        })
    }

    /// The latest L1 block's timestamp.
    pub async fn block_timestamp(&self) -> Result<u64> {
        latest_timestamp(&self.provider).await
    }

    /// Every registered operator's stake at the capture timestamp of `epoch` (a past epoch).
    pub async fn snapshot(&self, epoch: u64) -> Result<L1Snapshot> {
        let s = self.contract().snapshot(epoch).call().await?;
        Ok(L1Snapshot {
            epoch,
            capture_timestamp: s.captureTimestamp.to(),
            stakes: s.operators_.into_iter().zip(s.stakes).collect(),
        })
    }

    /// `operator`'s stake for the network at `timestamp`.
    pub async fn stake_at(&self, operator: Address, timestamp: u64) -> Result<U256> {
        let ts = alloy::primitives::aliases::U48::from(timestamp);
        Ok(self.contract().stakeAt(operator, ts).call().await?)
    }

    /// The committee the middleware accepts slash requests from, and its threshold.
    pub async fn committee(&self) -> Result<(Vec<Address>, u64)> {
        let c = self.contract().committee().call().await?;
        Ok((c.members, u64::try_from(c.threshold).unwrap_or(u64::MAX)))
    }

    /// Whether `operator` is registered with the network's middleware at `timestamp` (a Symbiotic operator opted
    /// in to the network and registered by the network's admin).
    pub async fn is_operator_active(&self, operator: Address, timestamp: u64) -> Result<bool> {
        let ts = alloy::primitives::aliases::U48::from(timestamp);
        Ok(self
            .contract()
            .isOperatorActiveAt(operator, ts)
            .call()
            .await?)
    }

    /// The registered operators.
    pub async fn operators(&self) -> Result<Vec<Address>> {
        Ok(self.contract().operators().call().await?)
    }

    /// Slash request `key` ([`slash_key`]).
    pub async fn slash(&self, key: B256) -> Result<L1Slash> {
        let m = self.contract();
        let status = L1SlashStatus::from_u8(m.slashStatus(key).call().await?)?;
        let stored = m.slashes(key).call().await?;
        let stored_status = L1SlashStatus::from_u8(stored.status)?;
        Ok(L1Slash {
            status,
            closed: matches!(
                stored_status,
                L1SlashStatus::Executed | L1SlashStatus::Vetoed
            ),
            executable_at: stored.executableAt.to(),
        })
    }

    /// The vault slash requests (`VetoSlasher` indices) slash `key` was split into: `(vault, slash index,
    /// amount)`. A resolver vetoes them one by one on the vaults' slashers.
    pub async fn slash_parts(&self, key: B256) -> Result<Vec<(Address, u64, U256)>> {
        Ok(self
            .contract()
            .slashParts(key)
            .call()
            .await?
            .into_iter()
            .map(|p| (p.vault, p.slashIndex, p.amount))
            .collect())
    }

    /// When slash `key` was closed on the L1 (the block time of its `SlashExecuted` or `SlashVetoed` event), if
    /// it was. Looks from `from_block` (the middleware's deployment block; some providers cap log ranges).
    pub async fn settled_at(&self, key: B256, from_block: u64) -> Result<Option<u64>> {
        let filter = Filter::new()
            .address(self.middleware)
            .event_signature(vec![
                KalypsoMiddleware::SlashExecuted::SIGNATURE_HASH,
                KalypsoMiddleware::SlashVetoed::SIGNATURE_HASH,
            ])
            .topic1(key)
            .from_block(from_block);
        let Some(log) = self.provider.get_logs(&filter).await?.into_iter().next() else {
            return Ok(None);
        };
        if let Some(ts) = log.block_timestamp {
            return Ok(Some(ts));
        }
        let number = log.block_number.unwrap_or_default();
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await?
            .ok_or(Error::Decode {
                what: "L1 block of a settled slash",
                reason: format!("block {number} not found"),
            })?;
        Ok(Some(block.header.timestamp))
    }

    /// Requests a committee-signed slash (anyone may send it).
    pub async fn request_slash(
        &self,
        request: &eip712::SlashRequest,
        signatures: Vec<Bytes>,
    ) -> Result<TxSummary> {
        let req = kalypso_contracts::symbiotic_middleware::IKalypsoMiddleware::SlashRequest {
            l2ChainId: request.l2ChainId,
            pool: request.pool,
            slashId: request.slashId,
            operator: request.operator,
            amount: request.amount,
            captureTimestamp: request.captureTimestamp,
        };
        self.send(
            self.contract().requestSlash(req, signatures),
            "requestSlash",
        )
        .await
    }

    /// Executes a requested slash after its veto period, or closes one every part of which was vetoed.
    pub async fn execute_slash(&self, key: B256) -> Result<TxSummary> {
        self.send(self.contract().executeSlash(key), "executeSlash")
            .await
    }

    async fn send<Q: Provider, D: alloy::contract::CallDecoder>(
        &self,
        call: alloy::contract::CallBuilder<Q, D>,
        what: &'static str,
    ) -> Result<TxSummary> {
        let receipt = tx::send(
            call,
            self.sender,
            Target::SymbioticMiddleware,
            what,
            Gas::Estimate,
            self.receipt_timeout,
        )
        .await?;
        Ok(TxSummary::from(&receipt))
    }
}

/// The L1 middleware's key of slash `slash_id` of restaking pool `pool` on chain `l2_chain_id`
/// (`keccak256(abi.encode(l2ChainId, pool, slashId))`): slash ids of different pools never collide.
pub fn slash_key(l2_chain_id: u64, pool: Address, slash_id: u64) -> B256 {
    keccak256((U256::from(l2_chain_id), pool, slash_id).abi_encode())
}
