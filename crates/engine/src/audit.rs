//! The matching audit (`kalypso engine audit`): replays the chain's protocol events through the matching core and
//! checks every assignment the Matching Engine made against the book's choice.
//!
//! For each `TaskAssigned` that is not a fallback self-assignment, in blocks `from..=to`, the book is asked which
//! generator it would choose for that ask at that block's timestamp, given every protocol event before the
//! assignment's transaction. The items of one transaction (a relayed batch) are one matching round: each later
//! item is judged with the earlier ones reserved (their compute and stake held), as the engine matched them. The
//! state is always rebuilt from the deployment block, so the verdict is a function of the chain alone.

use alloy::{
    eips::BlockNumberOrTag,
    network::BlockResponse,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
};
use kalypso_matching::{AskStatus, Match};
use kalypso_primitives::{Preference, SkipReason};
use kalypso_sdk::{
    Deployment, ProtocolEvent,
    contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents as M,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::{Error, Result, state::State, store::StoredLog};

/// An assignment of the Matching Engine that differs from the book's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    /// The ask.
    pub ask: u64,
    /// Its market.
    pub market: u64,
    /// Block of the `TaskAssigned`.
    pub block: u64,
    /// Its log index.
    pub log_index: u64,
    /// Its transaction.
    pub tx: B256,
    /// The generator the Matching Engine assigned.
    pub chosen: Address,
    /// The generator the book chooses (none: nobody is eligible by the book's rules).
    pub expected: Option<Address>,
    /// Why they differ, as far as the book can tell.
    pub why: String,
}

/// The outcome of an audit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// First block checked.
    pub from_block: u64,
    /// Last block checked.
    pub to_block: u64,
    /// Protocol events replayed (from the deployment block to `to_block`).
    pub events: u64,
    /// Matching Engine assignments checked.
    pub checked: u64,
    /// Fallback self-assignments seen in the range (not checked: the generator chose itself).
    pub fallback: u64,
    /// The assignments that differ, in chain order.
    pub differences: Vec<Difference>,
}

/// Replays logs (every protocol log from the deployment block, in chain order, fed in one or more calls) and
/// checks the Matching Engine's assignments in `from..=to`.
#[derive(Debug)]
pub struct Auditor {
    deployment: Deployment,
    state: State,
    report: AuditReport,
}

impl Auditor {
    /// An auditor of the assignments in blocks `from..=to`.
    pub fn new(deployment: Deployment, from: u64, to: u64) -> Self {
        Self {
            deployment,
            state: State::default(),
            report: AuditReport {
                from_block: from,
                to_block: to,
                ..AuditReport::default()
            },
        }
    }

    /// Feeds the next logs (chain order; a transaction's logs must not be split across calls).
    pub fn feed(&mut self, logs: &[StoredLog]) {
        for tx in logs.chunk_by(|a, b| a.block == b.block && a.tx_hash == b.tx_hash) {
            self.transaction(tx);
        }
    }

    /// The report.
    pub fn finish(self) -> AuditReport {
        self.report
    }

    fn transaction(&mut self, logs: &[StoredLog]) {
        let Some(first) = logs.first() else { return };
        let (block, now) = (first.block, first.timestamp);
        if (self.report.from_block..=self.report.to_block).contains(&block) {
            let mut held = Vec::new();
            for log in logs {
                let Ok(ProtocolEvent::Marketplace(M::TaskAssigned(e))) =
                    ProtocolEvent::decode(&self.deployment, log.address, &log.topics, &log.data)
                else {
                    continue;
                };
                if e.fallbackAssignment {
                    self.report.fallback += 1;
                    continue;
                }
                self.report.checked += 1;
                let (ask, market) = (u64_of(e.askId), u64_of(e.marketId));
                let book = &mut self.state.book;
                let expected = book.choose(ask, now);
                if expected.as_ref().map(|m| m.generator) != Some(e.generator) {
                    let why = self.why(ask, e.generator, expected.as_ref(), now);
                    self.report.differences.push(Difference {
                        ask,
                        market,
                        block,
                        log_index: log.log_index,
                        tx: log.tx_hash,
                        chosen: e.generator,
                        expected: expected.map(|m| m.generator),
                        why,
                    });
                }
                // The batch's later items were matched with this one reserved: hold it, without counting it as
                // an assignment (it is not one until its event is applied below).
                let item = Match {
                    ask,
                    market,
                    generator: e.generator,
                    max_price: u128::MAX,
                    max_proof_time: u64::MAX,
                };
                if self.state.book.restore_pending(&item, now).is_ok() {
                    held.push(ask);
                }
            }
            for ask in held {
                self.state.book.release_pending(ask);
            }
        }
        for log in logs {
            if self.state.apply_log(&self.deployment, log).is_some() {
                self.report.events += 1;
            }
        }
    }

    /// Why the book would not choose `chosen` for `ask` at `now` (it chose `expected`).
    fn why(&self, ask: u64, chosen: Address, expected: Option<&Match>, now: u64) -> String {
        let book = &self.state.book;
        let Some(view) = book.ask(ask) else {
            return "the book does not know the ask".into();
        };
        if view.status != AskStatus::Open {
            return format!("the book does not hold the ask open ({:?})", view.status);
        }
        let q = match book.eligibility(ask, chosen, now) {
            Ok(q) => q,
            Err(SkipReason::None) => {
                return format!("{chosen} failed this ask before (slashed or discarded)");
            }
            Err(reason) => {
                return format!("{chosen} is not eligible by the book's rules: {reason}");
            }
        };
        let Some(e) = expected else {
            return "the book chooses nobody".into();
        };
        let (price, time) = (q.price, q.max_proof_time);
        let (e_price, e_time) = (e.max_price, e.max_proof_time);
        let better = match view.preference {
            Preference::Cost if e_price < price => {
                Some(format!("cheaper quote: {e_price} against {price}"))
            }
            Preference::Cost if e_time < time => Some(format!(
                "same price, faster quote: {e_time} s against {time} s"
            )),
            Preference::Time if e_time < time => {
                Some(format!("faster quote: {e_time} s against {time} s"))
            }
            Preference::Time if e_price < price => Some(format!(
                "same time, cheaper quote: {e_price} against {price}"
            )),
            _ => None,
        };
        if let Some(better) = better {
            return format!("{}: {better}", view.preference);
        }
        let quotes = book.quotes(view.market);
        let last = |g: Address| {
            quotes
                .iter()
                .find(|q| q.generator == g)
                .and_then(|q| q.last_assigned)
        };
        match (last(e.generator), last(chosen)) {
            (a, b) if a < b => format!(
                "same quote; {} was assigned less recently ({}) than {chosen} (block {})",
                e.generator,
                a.map_or_else(|| "never".to_owned(), |s| format!("block {}", s.block)),
                b.map_or(0, |s| s.block)
            ),
            (a, b) if a == b => format!("same quote and recency; {} has the lower address", e.generator),
            _ => "the book ranks the chosen generator first: its choice differs in a rule it cannot name".into(),
        }
    }
}

/// Fetches the protocol's logs from the deployment block to `to` (default: the head) in bounded `eth_getLogs`
/// ranges of `page_blocks` blocks and audits the Matching Engine's assignments from block `from` on.
pub async fn audit(
    provider: &DynProvider,
    deployment: &Deployment,
    from: u64,
    to: Option<u64>,
    page_blocks: u64,
) -> Result<AuditReport> {
    let head = provider.get_block_number().await.map_err(rpc)?;
    let to = to.map_or(head, |t| t.min(head));
    let mut auditor = Auditor::new(deployment.clone(), from, to);
    let mut start = deployment.deploy_block;
    let page = page_blocks.max(1);
    while start <= to {
        let end = start.saturating_add(page - 1).min(to);
        let filter = Filter::new()
            .address(ProtocolEvent::sources(deployment))
            .from_block(start)
            .to_block(end);
        let raw = provider.get_logs(&filter).await.map_err(rpc)?;
        let mut times: HashMap<u64, u64> = HashMap::new();
        let mut logs = Vec::with_capacity(raw.len());
        for log in &raw {
            let block = log
                .block_number
                .ok_or_else(|| Error::Rpc("log without block number".into()))?;
            let timestamp = match (times.get(&block), log.block_timestamp) {
                (Some(&t), _) | (None, Some(t)) => t,
                (None, None) => {
                    provider
                        .get_block_by_number(BlockNumberOrTag::Number(block))
                        .await
                        .map_err(rpc)?
                        .ok_or_else(|| Error::Rpc(format!("block {block} not found")))?
                        .header()
                        .timestamp
                }
            };
            times.insert(block, timestamp);
            logs.push(StoredLog {
                block,
                timestamp,
                log_index: log
                    .log_index
                    .ok_or_else(|| Error::Rpc("log without index".into()))?,
                tx_hash: log.transaction_hash.unwrap_or_default(),
                address: log.address(),
                topics: log.topics().to_vec(),
                data: log.data().data.to_vec(),
            });
        }
        auditor.feed(&logs);
        start = end + 1;
    }
    Ok(auditor.finish())
}

fn u64_of(v: U256) -> u64 {
    v.saturating_to()
}

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::Rpc(e.to_string())
}
