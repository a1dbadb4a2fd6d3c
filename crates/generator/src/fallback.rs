//! Fallback self-assignment: while the Matching Engine is down, the node takes asks of its markets that stayed
//! unassigned for the market's fallback delay (`selfAssign`, at its own quote).
//!
//! - Following: the scan hands every `AskCreated` of a served market, every `TaskAssigned` (to anyone), every
//!   `TaskSlashed`/`TaskDiscarded` (re-opened or not) and `AskRefunded` to [`apply`], which keeps the open asks in
//!   the store.
//! - Taking: after each scan, [`step`] picks the asks past their delay that the node's quote meets (price ≤
//!   reward, now + maxProofTime ≤ deadline, and its own expected proving time + submit margin within
//!   maxProofTime), oldest first, as long as it has a free proving slot and the registry shows free compute
//!   and stake for them; each is claimed by its own short task ([`claim`]). The call is estimated first, so an
//!   ask that cannot be taken is a typed revert before any nonce is used. An ask someone else took first (the
//!   engine or another generator: `AskNotOpen`) is normal: logged at debug and forgotten until an event re-opens
//!   it. Any other failure waits a backoff for that ask. A won ask is recorded as a task at once and then goes
//!   the usual way (`task.rs`).
//!
//! The self-assignment transaction itself is not persisted: after a restart its `TaskAssigned` (if it was
//! mined) is found by the scan like any assignment.

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::Log,
    sol_types::SolEvent,
};
use kalypso_primitives::SkipReason;
use kalypso_sdk::{
    ContractError, MarketId, MarketInfo,
    contracts::marketplace::ProofMarketplace::{
        AskCreated, AskRefunded, TaskAssigned, TaskDiscarded, TaskSlashed,
    },
};
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::{
    Result,
    node::Node,
    store::{LogPosition, OpenAsk},
    task::reset_if_unsent,
};

/// The terms of a market that matter for taking its asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MarketTerms {
    /// Seconds an ask must stay unassigned before it may be taken.
    pub(crate) delay: u64,
    /// Stake locked per task.
    pub(crate) penalty: U256,
    /// Total stake a generator needs in the market.
    pub(crate) min_stake: U256,
}

impl MarketTerms {
    /// The terms of `market`, `None` when it has no fallback (confidential or a zero delay).
    pub(crate) fn of(market: &MarketInfo) -> Option<Self> {
        kalypso_sdk::fallback_opens_at(market, 0).map(|delay| Self {
            delay,
            penalty: market.slashing_penalty,
            min_stake: market.min_stake,
        })
    }
}

/// The node's fallback state: the markets with a fallback it serves, the claims in flight and the asks that
/// wait out a backoff.
#[derive(Debug, Default)]
pub(crate) struct Fallback {
    /// Markets whose asks are followed and may be taken (empty: self-assignment is off).
    pub(crate) markets: BTreeMap<MarketId, MarketTerms>,
    claiming: Mutex<HashSet<u64>>,
    not_before: Mutex<HashMap<u64, Instant>>,
}

impl Fallback {
    /// Whether the node follows and takes asks.
    pub(crate) fn enabled(&self) -> bool {
        !self.markets.is_empty()
    }

    fn claiming(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.claiming
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn not_before(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Instant>> {
        self.not_before
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn back_off(&self, ask: u64, wait: Duration) {
        self.not_before().insert(ask, Instant::now() + wait);
    }
}

/// The event signatures the scan asks for with the served markets as topic 2 (the market is indexed there).
pub(crate) const BY_MARKET: [B256; 2] = [AskCreated::SIGNATURE_HASH, TaskAssigned::SIGNATURE_HASH];

/// The event signatures the scan asks for without a market filter (they do not index the market): applied
/// only to followed asks.
pub(crate) const BY_ASK: [B256; 3] = [
    TaskSlashed::SIGNATURE_HASH,
    TaskDiscarded::SIGNATURE_HASH,
    AskRefunded::SIGNATURE_HASH,
];

/// Applies one marketplace log (other than this generator's own `TaskAssigned`, which the scan records as a
/// task first) to the followed asks. `times` caches block timestamps for logs that lack one.
pub(crate) async fn apply(node: &Node, log: &Log, times: &mut HashMap<u64, u64>) -> Result<()> {
    let (Some(block), Some(index)) = (log.block_number, log.log_index) else {
        return Ok(());
    };
    let at: LogPosition = (block, index);
    let id = |v: U256| u64::try_from(v).ok();
    match log.topic0() {
        Some(&AskCreated::SIGNATURE_HASH) => {
            let Ok(e) = log.log_decode::<AskCreated>() else {
                warn!(target: "kalypso::generator::fallback", ?log, "undecodable AskCreated log");
                return Ok(());
            };
            let e = e.inner.data;
            let (Some(ask_id), Some(market_id)) = (id(e.askId), id(e.marketId)) else {
                return Ok(());
            };
            if !node.fallback.markets.contains_key(&market_id) {
                return Ok(());
            }
            let opened_at = block_time(node, log, times).await?;
            node.store.track_ask(
                &OpenAsk {
                    ask_id,
                    market_id,
                    reward: e.request.reward,
                    deadline: id(e.request.deadline).unwrap_or(u64::MAX),
                    opened_at,
                },
                at,
            )?;
        }
        Some(&TaskAssigned::SIGNATURE_HASH) => {
            if let Some(ask) = log
                .log_decode::<TaskAssigned>()
                .ok()
                .and_then(|e| id(e.inner.data.askId))
            {
                node.store.ask_event(ask, None, at)?;
            }
        }
        Some(&TaskSlashed::SIGNATURE_HASH) => {
            if let Ok(e) = log.log_decode::<TaskSlashed>() {
                let e = e.inner.data;
                reopen_or_close(node, log, times, id(e.askId), e.reopened, at).await?;
            }
        }
        Some(&TaskDiscarded::SIGNATURE_HASH) => {
            if let Ok(e) = log.log_decode::<TaskDiscarded>() {
                let e = e.inner.data;
                reopen_or_close(node, log, times, id(e.askId), e.reopened, at).await?;
            }
        }
        Some(&AskRefunded::SIGNATURE_HASH) => {
            if let Some(ask) = log
                .log_decode::<AskRefunded>()
                .ok()
                .and_then(|e| id(e.inner.data.askId))
            {
                node.store.ask_event(ask, None, at)?;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn reopen_or_close(
    node: &Node,
    log: &Log,
    times: &mut HashMap<u64, u64>,
    ask: Option<u64>,
    reopened: bool,
    at: LogPosition,
) -> Result<()> {
    let Some(ask) = ask else { return Ok(()) };
    let reopened_at = if reopened {
        Some(block_time(node, log, times).await?)
    } else {
        None
    };
    node.store.ask_event(ask, reopened_at, at)?;
    // A re-opened ask starts a fresh delay: forget an earlier backoff.
    node.fallback.not_before().remove(&ask);
    Ok(())
}

/// The timestamp of the log's block (from the log when the node includes it, else from the block).
async fn block_time(node: &Node, log: &Log, times: &mut HashMap<u64, u64>) -> Result<u64> {
    if let Some(ts) = log.block_timestamp {
        return Ok(ts);
    }
    let block = log.block_number.unwrap_or_default();
    if let Some(&ts) = times.get(&block) {
        return Ok(ts);
    }
    let header = node
        .client()
        .provider()
        .get_block_by_number(block.into())
        .await
        .map_err(kalypso_sdk::Error::from)?
        .ok_or_else(|| kalypso_sdk::Error::Decode {
            what: "block",
            reason: format!("block {block} of a log is unknown to the node"),
        })?;
    let ts = header.header.timestamp;
    times.insert(block, ts);
    Ok(ts)
}

/// Takes the open asks that are due and fit, within the node's free capacity; each claim runs in `drivers`.
pub(crate) async fn step(node: &Arc<Node>, drivers: &mut JoinSet<()>) -> Result<()> {
    let open = node.store.open_asks()?;
    node.metrics.open_asks.set(open.len() as i64);
    if open.is_empty() {
        return Ok(());
    }
    let now = node.chain_now().await?;
    if open.iter().any(|a| a.deadline < now) {
        node.store.prune_asks(now)?;
    }
    let due: Vec<OpenAsk> = {
        let claiming = node.fallback.claiming();
        let mut not_before = node.fallback.not_before();
        let wall = Instant::now();
        not_before.retain(|_, until| *until > wall);
        open.into_iter()
            .filter(|a| {
                a.deadline >= now
                    && node
                        .fallback
                        .markets
                        .get(&a.market_id)
                        .is_some_and(|t| now >= a.opened_at.saturating_add(t.delay))
                    && !claiming.contains(&a.ask_id)
                    && !not_before.contains_key(&a.ask_id)
            })
            .collect()
    };
    if due.is_empty() {
        return Ok(());
    }

    // The node's own limit: proofs at once, counting the tasks it holds and the claims in flight.
    let in_flight = node.fallback.claiming().len();
    let active = node.store.active()?.len();
    let mut slots = node.max_parallel.saturating_sub(active + in_flight);
    if slots == 0 {
        debug!(target: "kalypso::generator::fallback", due = due.len(), active, in_flight, "asks are due but no proving slot is free");
        return Ok(());
    }
    // The registry's: free compute and stake, and the quotes as they are now.
    let markets: Vec<MarketId> = due
        .iter()
        .map(|a| a.market_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let info = node.client().generator(node.me, &markets).await?;
    let Some(registration) = info.registration else {
        debug!(target: "kalypso::generator::fallback", "not registered: no self-assignment");
        return Ok(());
    };
    let quotes: HashMap<MarketId, _> = info
        .quotes
        .iter()
        .filter_map(|(m, q)| q.map(|q| (*m, q)))
        .collect();
    let mut free_compute = registration
        .declared_compute
        .saturating_sub(registration.consumed_compute);
    let mut free_stake = info.free_stake;
    // Claims in flight may not show in the registry yet: count them as taken.
    {
        let claiming = node.fallback.claiming();
        free_compute = free_compute.saturating_sub(claiming.len() as u64);
    }

    for ask in due {
        if slots == 0 {
            break;
        }
        let (Some(quote), Some(terms)) = (
            quotes.get(&ask.market_id),
            node.fallback.markets.get(&ask.market_id),
        ) else {
            continue;
        };
        let needed = node.expected_proving(ask.market_id) + node.config.submit_margin;
        let fits = quote.price_per_proof <= ask.reward
            && now.saturating_add(quote.max_proof_time) <= ask.deadline
            && Duration::from_secs(quote.max_proof_time) >= needed;
        if !fits {
            continue;
        }
        if free_compute < quote.compute_per_proof
            || free_stake < terms.penalty
            || info.position.stake < terms.min_stake
        {
            debug!(
                target: "kalypso::generator::fallback",
                ask_id = ask.ask_id,
                free_compute,
                free_stake = %free_stake,
                "an ask is due but the registry shows no free compute or stake for it"
            );
            continue;
        }
        free_compute -= quote.compute_per_proof;
        free_stake -= terms.penalty;
        slots -= 1;
        node.fallback.claiming().insert(ask.ask_id);
        let node = node.clone();
        drivers.spawn(async move {
            let _claim = Claim {
                node: node.clone(),
                ask: ask.ask_id,
            };
            claim(&node, &ask).await;
        });
    }
    Ok(())
}

/// Marks an ask as being claimed for as long as it lives (also when the claim is aborted).
struct Claim {
    node: Arc<Node>,
    ask: u64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.node.fallback.claiming().remove(&self.ask);
    }
}

/// Sends `selfAssign` for `ask` and records the task it wins.
async fn claim(node: &Arc<Node>, ask: &OpenAsk) {
    let id = ask.ask_id;
    let client = node.client();
    let result = match client.prepare_self_assign(id).await {
        Ok(call) => {
            debug!(target: "kalypso::generator::fallback", ask_id = id, "self-assigning an ask left unassigned past the fallback delay");
            let sending = client.send_until_mined(&call, None, node.config.bump_policy(), |p| {
                debug!(target: "kalypso::generator::fallback", ask_id = id, nonce = p.nonce, hash = %p.hash(), "selfAssign sent");
            });
            match tokio::time::timeout(node.config.receipt_timeout, sending).await {
                Ok(result) => result,
                Err(_) => {
                    // Still pending: if it is mined, the scan finds its TaskAssigned.
                    node.metrics.self_assign_failed.inc();
                    warn!(target: "kalypso::generator::fallback", ask_id = id, timeout = ?node.config.receipt_timeout, "no receipt for selfAssign yet; its assignment, if mined, is picked up by the scan");
                    node.fallback.back_off(id, node.config.receipt_timeout);
                    return;
                }
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(receipt) => {
            node.metrics.self_assigned.inc();
            if let Err(e) = node.store.close_ask(id) {
                warn!(target: "kalypso::generator::fallback", ask_id = id, %e, "cannot mark the ask taken");
            }
            match node.client().marketplace_event::<TaskAssigned>(&receipt) {
                Ok(e) => {
                    let now = node.chain_now().await.unwrap_or(0);
                    info!(
                        target: "kalypso::generator",
                        ask_id = id,
                        market = ask.market_id,
                        price = %e.price,
                        task_deadline = %e.taskDeadline,
                        open_for_s = now.saturating_sub(ask.opened_at),
                        "self-assigned an ask the Matching Engine left unassigned"
                    );
                    let block = receipt.block_number.unwrap_or_default();
                    if let Err(e) = node.record_task_assigned(&e, block) {
                        // The scan records it from the log.
                        warn!(target: "kalypso::generator::fallback", ask_id = id, %e, "cannot record the task yet");
                    }
                    node.wake.notify_one();
                }
                Err(e) => {
                    warn!(target: "kalypso::generator::fallback", ask_id = id, %e, "selfAssign receipt without TaskAssigned")
                }
            }
        }
        Err(e) => {
            let reason = e.contract_error().and_then(ContractError::skip_reason);
            match reason {
                Some(SkipReason::AskNotOpen | SkipReason::AskExpired) => {
                    node.metrics.self_assign_lost.inc();
                    debug!(target: "kalypso::generator::fallback", ask_id = id, ?reason, "the ask was taken first (or expired)");
                    if let Err(e) = node.store.close_ask(id) {
                        warn!(target: "kalypso::generator::fallback", ask_id = id, %e, "cannot mark the ask taken");
                    }
                }
                Some(SkipReason::FallbackNotOpen) => {
                    // The chain's clock is behind the node's (an idle chain): try again shortly.
                    node.metrics.self_assign_failed.inc();
                    debug!(target: "kalypso::generator::fallback", ask_id = id, "the fallback is not open yet on-chain");
                    node.fallback
                        .back_off(id, node.config.poll_interval.max(Duration::from_secs(1)));
                }
                Some(reason) => {
                    node.metrics.self_assign_failed.inc();
                    info!(target: "kalypso::generator::fallback", ask_id = id, %reason, retry_in = ?node.config.max_backoff, "cannot self-assign the ask");
                    node.fallback.back_off(id, node.config.max_backoff);
                }
                None => {
                    node.metrics.self_assign_failed.inc();
                    reset_if_unsent(node, &e);
                    warn!(target: "kalypso::generator::fallback", ask_id = id, error = %e, retry_in = ?node.config.max_backoff, "selfAssign failed");
                    node.fallback.back_off(id, node.config.max_backoff);
                }
            }
        }
    }
}
