#![doc = include_str!("../README.md")]

use alloy::{
    primitives::{Address, U256, aliases::U48},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use kalypso_contracts::{
    restaking_pool::RestakingPool::RestakingPoolErrors,
    symbiotic_middleware::KalypsoMiddleware::KalypsoMiddlewareErrors,
};
use kalypso_primitives::eip712;
use kalypso_sdk::{
    Kalypso, L1Epochs, L1SlashStatus, PoolState, QueuedSlash, SymbioticNetwork, TxSummary,
    committee_signatures, slash_key,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};
use tracing::{info, warn};

/// Result of the relayer's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a relay step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chain call failed (RPC, a revert the relayer does not handle, a decode error).
    #[error(transparent)]
    Sdk(#[from] kalypso_sdk::Error),
    /// The relayer holds no committee key.
    #[error("no committee key: the relayer signs snapshots and slash requests with at least one")]
    NoCommitteeKey,
    /// The pool's epochs are not the middleware's: snapshots would name the wrong captures.
    #[error(
        "the pool's epochs (start {pool_start}, {pool_duration}s) differ from the L1 middleware's (start \
         {l1_start}, {l1_duration}s)"
    )]
    EpochMismatch {
        /// The pool's `EPOCH_START`.
        pool_start: u64,
        /// The pool's `EPOCH_DURATION`.
        pool_duration: u64,
        /// The middleware's `EPOCH_START`.
        l1_start: u64,
        /// The middleware's `EPOCH_DURATION`.
        l1_duration: u64,
    },
}

/// How the relayer runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The L2 restaking pool.
    pub pool: Address,
    /// The committee keys this relayer signs with (at least the pool's and the middleware's threshold, or other
    /// relayers' signatures are missing: the contracts reject the submission).
    pub committee: Vec<PrivateKeySigner>,
    /// L2 block to look for queued slashes from (the pool's deployment block; 0 scans from genesis).
    pub from_block: u64,
    /// L1 block to look for settled slashes from (the middleware's deployment block).
    pub l1_from_block: u64,
    /// Time between steps.
    pub poll_interval: Duration,
}

impl RelayConfig {
    /// Polls every 2 seconds and scans the L2 from genesis.
    pub fn new(pool: Address, committee: Vec<PrivateKeySigner>) -> Self {
        Self {
            pool,
            committee,
            from_block: 0,
            l1_from_block: 0,
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    /// The epoch whose snapshot was posted, and its transaction.
    pub snapshot: Option<(u64, TxSummary)>,
    /// Slash ids requested on the L1.
    pub requested: Vec<u64>,
    /// Slash ids executed (or closed as vetoed) on the L1.
    pub executed: Vec<u64>,
    /// Slash ids the L1 can never take (given up; they settle on the L2 with the next snapshot). Each is a
    /// collateral loss for the requester: an operator evaded it (logged as a warning).
    pub given_up: Vec<u64>,
    /// Slash ids whose step failed (retried next step), with the error.
    pub failed: Vec<(u64, String)>,
}

/// The relayer between the L1 middleware and the L2 pool. See the crate docs.
#[derive(Debug)]
pub struct Relayer<P1, P2> {
    l1: SymbioticNetwork<P1>,
    l2: Kalypso<P2>,
    config: RelayConfig,
    epochs: L1Epochs,
    /// Queued slashes read so far, by id, and the last L2 block scanned.
    queued: BTreeMap<u64, QueuedSlash>,
    scanned: Option<u64>,
    given_up: BTreeSet<u64>,
}

impl<P1: Provider, P2: Provider> Relayer<P1, P2> {
    /// A relayer for `config.pool` on `l2` and the middleware of `l1`; checks that both use the same epochs.
    pub async fn new(
        l1: SymbioticNetwork<P1>,
        l2: Kalypso<P2>,
        config: RelayConfig,
    ) -> Result<Self> {
        if config.committee.is_empty() {
            return Err(Error::NoCommitteeKey);
        }
        let epochs = l1.epochs().await?;
        let pool = l2.restaking_pool_state(config.pool).await?;
        if (pool.epoch_start, pool.epoch_duration) != (epochs.epoch_start, epochs.epoch_duration) {
            return Err(Error::EpochMismatch {
                pool_start: pool.epoch_start,
                pool_duration: pool.epoch_duration,
                l1_start: epochs.epoch_start,
                l1_duration: epochs.epoch_duration,
            });
        }
        Ok(Self {
            l1,
            l2,
            config,
            epochs,
            queued: BTreeMap::new(),
            scanned: None,
            given_up: BTreeSet::new(),
        })
    }

    /// Runs steps until `shutdown` resolves; a failed step is logged and retried at the next poll.
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            match self.tick().await {
                Ok(t) if t != Tick::default() => {
                    info!(target: "kalypso::restaking", snapshot = ?t.snapshot.map(|s| s.0),
                          requested = ?t.requested, executed = ?t.executed, given_up = ?t.given_up,
                          failed = t.failed.len(), "relayed");
                }
                Ok(_) => {}
                Err(e) => warn!(target: "kalypso::restaking", %e, "relay step failed; retrying"),
            }
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// One step: slashes first (so a snapshot's settled cursor sees executions of this step), then the
    /// snapshot of a new epoch. A slash that fails is reported in [`Tick::failed`] and does not hold up the
    /// others or the snapshot.
    pub async fn tick(&mut self) -> Result<Tick> {
        let mut tick = Tick::default();
        // Neither step changes what the other reads of the pool: its settled cursor moves only with a snapshot, and
        // a slash queued meanwhile is picked up next step.
        let state = self.l2.restaking_pool_state(self.config.pool).await?;
        let now = self.l1.block_timestamp().await?;
        let slashes = self.bridge_slashes(&state, now, &mut tick).await;
        let snapshot = self.bridge_snapshot(&state, now, &mut tick).await;
        slashes.and(snapshot)?;
        Ok(tick)
    }

    fn key(&self, slash_id: u64) -> alloy::primitives::B256 {
        slash_key(self.l2.deployment().chain_id, self.config.pool, slash_id)
    }

    async fn bridge_slashes(&mut self, state: &PoolState, now: u64, tick: &mut Tick) -> Result<()> {
        let pool = self.config.pool;
        if state.settled_slashes == state.next_slash_id {
            return Ok(());
        }
        let head = self.l2.block_number().await?;
        let from = self.scanned.map_or(self.config.from_block, |b| b + 1);
        if from <= head {
            for q in self.l2.queued_slashes(pool, from..=head).await? {
                self.queued.insert(q.slash_id, q);
            }
            self.scanned = Some(head);
        }
        // In id order: each operator's captures never decrease with the id, which is the order the L1 takes them.
        for id in state.settled_slashes..state.next_slash_id {
            if self.given_up.contains(&id) {
                continue;
            }
            if let Err(e) = self.bridge_slash(id, now, tick).await {
                warn!(target: "kalypso::restaking", slash_id = id, %e, "slash step failed; retrying next step");
                tick.failed.push((id, e.to_string()));
            }
        }
        Ok(())
    }

    async fn bridge_slash(&mut self, id: u64, now: u64, tick: &mut Tick) -> Result<()> {
        let Some(q) = self.queued.get(&id).copied() else {
            // Not in the logs scanned (a reorg, or a provider that dropped logs): scan again from the start.
            self.queued.clear();
            self.scanned = None;
            return Err(Error::Sdk(kalypso_sdk::Error::Decode {
                what: "queued slash",
                reason: format!("slash {id} not found in the L2 logs; rescanning"),
            }));
        };
        let key = self.key(id);
        let l1 = self.l1.slash(key).await?;
        match l1.status {
            L1SlashStatus::None => {
                // The pool's own record must match the log (a reorged log could name another operator).
                let (operator, amount) = self.l2.pool_slash(self.config.pool, id).await?;
                if (operator, amount) != (q.operator, q.amount) {
                    self.queued.clear();
                    self.scanned = None;
                    return Err(Error::Sdk(kalypso_sdk::Error::Decode {
                        what: "queued slash",
                        reason: format!(
                            "slash {id}'s log differs from the pool's record; rescanning"
                        ),
                    }));
                }
                match self.request(&q).await {
                    Ok(_) => tick.requested.push(id),
                    Err(Error::Sdk(e)) if never_slashable(&e) => {
                        warn!(target: "kalypso::restaking", slash_id = id, operator = %q.operator, amount = q.amount, %e,
                              "the L1 cannot take this slash: the operator evades it; giving it up");
                        self.given_up.insert(id);
                        tick.given_up.push(id);
                    }
                    Err(e) => return Err(e),
                }
            }
            L1SlashStatus::Requested if now >= l1.executable_at => {
                self.l1.execute_slash(key).await?;
                tick.executed.push(id);
            }
            L1SlashStatus::Vetoed if !l1.closed => {
                self.l1.execute_slash(key).await?;
                tick.executed.push(id);
            }
            _ => {}
        }
        Ok(())
    }

    async fn request(&self, q: &QueuedSlash) -> Result<TxSummary> {
        let request = eip712::SlashRequest {
            l2ChainId: U256::from(self.l2.deployment().chain_id),
            pool: self.config.pool,
            slashId: q.slash_id,
            operator: q.operator,
            amount: U256::from(q.amount),
            captureTimestamp: U48::from(q.capture_timestamp),
        };
        let signatures =
            committee_signatures(&self.config.committee, &request, &self.l1.domain()).await?;
        Ok(self.l1.request_slash(&request, signatures).await?)
    }

    async fn bridge_snapshot(
        &mut self,
        state: &PoolState,
        now: u64,
        tick: &mut Tick,
    ) -> Result<()> {
        let pool = self.config.pool;
        let epoch = self.epochs.epoch_at(now);
        let capture = self.epochs.start_of(epoch);
        // Epoch 0 has no snapshot; the current second's stake may still change.
        if epoch == 0 || epoch <= state.latest_epoch || now <= capture {
            return Ok(());
        }
        let snapshot = self.l1.snapshot(epoch).await?;
        let mut settled = state.settled_slashes;
        let last = state
            .next_slash_id
            .min(state.settled_slashes + state.max_settle_per_snapshot);
        while settled < last {
            let done = self.given_up.contains(&settled)
                || self
                    .l1
                    .settled_at(self.key(settled), self.config.l1_from_block)
                    .await?
                    .is_some_and(|t| t <= capture);
            if !done {
                break;
            }
            settled += 1;
        }
        let (operators, stakes) = snapshot.stakes.into_iter().unzip();
        let message = eip712::Snapshot {
            epoch,
            settledSlashes: settled,
            operators,
            stakes,
        };
        let signatures = committee_signatures(
            &self.config.committee,
            &message,
            &self.l2.restaking_pool_domain(pool),
        )
        .await?;
        match self.l2.submit_snapshot(pool, &message, signatures).await {
            Ok(tx) => tick.snapshot = Some((epoch, tx)),
            // The L2's clock is behind the L1's: the capture is still in the L2's future. Retry next step.
            Err(e)
                if matches!(
                    e.restaking_pool_error(),
                    Some(RestakingPoolErrors::SnapshotFromFuture(_))
                ) =>
            {
                warn!(target: "kalypso::restaking", epoch, "the L2 clock is behind the capture; retrying");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// Whether the L1 middleware refused a slash request for good (the capture left the slashing window, the
/// operator or its vaults hold nothing slashable, a capture older than one already requested for the operator),
/// as opposed to a transient failure.
fn never_slashable(e: &kalypso_sdk::Error) -> bool {
    matches!(
        e.middleware_error(),
        Some(
            KalypsoMiddlewareErrors::CaptureTooOld(_)
                | KalypsoMiddlewareErrors::NothingSlashable(_)
                | KalypsoMiddlewareErrors::OperatorNotActiveAt(_)
                | KalypsoMiddlewareErrors::CaptureOutOfOrder(_)
        )
    )
}
