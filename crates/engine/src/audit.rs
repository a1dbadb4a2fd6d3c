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
        Self::with_restaking_pools(deployment, &[], from, to)
    }

    /// An auditor that also follows the registry's restaking pools (`deployment.restaking_pools`, with their
    /// parameters `pools` in the same order).
    pub fn with_restaking_pools(
        deployment: Deployment,
        pools: &[kalypso_sdk::PoolState],
        from: u64,
        to: u64,
    ) -> Self {
        Self {
            deployment,
            state: State::with_restaking_pools(pools),
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
    let pools = crate::service::restaking_pools(provider, deployment).await?;
    let mut deployment = deployment.clone();
    deployment.restaking_pools = pools.iter().map(|p| p.pool).collect();
    let deployment = &deployment;
    let mut auditor = Auditor::with_restaking_pools(deployment.clone(), &pools, from, to);
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
            logs.push(crate::indexer::stored(log, block, timestamp)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{Bytes, address},
        sol_types::SolEvent,
    };
    use kalypso_sdk::contracts::{
        generator_registry::GeneratorRegistry as G,
        marketplace::{IProofMarketplace, ProofMarketplace as P},
    };

    const G1: Address = address!("0x00000000000000000000000000000000000000a1");
    const G2: Address = address!("0x00000000000000000000000000000000000000a2");

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

    /// Logs in blocks of their own, one transaction each unless `tx` says otherwise.
    #[derive(Default)]
    struct Chain {
        logs: Vec<StoredLog>,
    }

    impl Chain {
        fn push<E: SolEvent>(&mut self, contract: Address, event: &E, block: u64, tx: u8) {
            let log_index = self.logs.iter().filter(|l| l.block == block).count() as u64;
            self.logs.push(StoredLog {
                block,
                timestamp: 1_000 + block,
                log_index,
                tx_hash: B256::repeat_byte(tx),
                address: contract,
                topics: event.encode_topics().into_iter().map(|t| t.0).collect(),
                data: event.encode_data(),
            });
        }
    }

    fn setup(d: &Deployment) -> Chain {
        let mut c = Chain::default();
        c.push(
            d.marketplace,
            &P::MarketCreated {
                marketId: U256::from(1),
                creator: Address::ZERO,
                verifier: Address::ZERO,
                proverImageId: B256::ZERO,
                ivsImageId: B256::ZERO,
                slashingPenalty: U256::from(1),
                minStake: U256::from(1),
                activationTime: U256::ZERO,
                fallbackDelay: U256::ZERO,
                metadata: Bytes::new(),
            },
            1,
            1,
        );
        for (i, g) in [G1, G2].into_iter().enumerate() {
            let block = 2 + i as u64;
            c.push(
                d.generator_registry,
                &G::GeneratorRegistered {
                    generator: g,
                    rewardAddress: g,
                    declaredCompute: U256::from(10),
                    metadata: Bytes::new(),
                },
                block,
                2,
            );
            c.push(
                d.generator_registry,
                &G::Staked {
                    generator: g,
                    payer: g,
                    amount: U256::from(100),
                    stake: U256::from(100),
                },
                block,
                2,
            );
            // The same quote: only recency and address tell them apart (G1 has the lower address).
            c.push(
                d.generator_registry,
                &G::MarketJoined {
                    generator: g,
                    marketId: U256::from(1),
                    computePerProof: U256::from(1),
                    pricePerProof: U256::from(5),
                    maxProofTime: U256::from(60),
                },
                block,
                2,
            );
        }
        for ask in [1u64, 2] {
            c.push(
                d.marketplace,
                &P::AskCreated {
                    askId: U256::from(ask),
                    marketId: U256::from(1),
                    requester: Address::ZERO,
                    request: IProofMarketplace::AskRequest {
                        marketId: U256::from(1),
                        reward: U256::from(10),
                        deadline: U256::from(10_000),
                        preference: 0,
                        refundAddress: Address::ZERO,
                        proverData: Bytes::from_static(b"in"),
                        secret: Bytes::new(),
                        acl: Bytes::new(),
                    },
                    fee: U256::ZERO,
                },
                5,
                3,
            );
        }
        c
    }

    fn assigned(ask: u64, generator: Address) -> P::TaskAssigned {
        P::TaskAssigned {
            askId: U256::from(ask),
            marketId: U256::from(1),
            generator,
            price: U256::from(5),
            taskDeadline: U256::from(2_000),
            computePerProof: U256::from(1),
            fallbackAssignment: false,
            acl: Bytes::new(),
        }
    }

    fn run(c: &Chain) -> AuditReport {
        let mut auditor = Auditor::new(deployment(), 0, u64::MAX);
        auditor.feed(&c.logs);
        auditor.finish()
    }

    #[test]
    fn a_batch_is_one_round_and_recency_is_the_chain_s() {
        let d = deployment();
        // One relayed batch: both tied asks go to G1 (lower address, never assigned); the first item is no
        // assignment yet when the second is matched.
        let mut batch = setup(&d);
        batch.push(d.marketplace, &assigned(1, G1), 6, 9);
        batch.push(d.marketplace, &assigned(2, G1), 6, 9);
        let report = run(&batch);
        assert_eq!(
            (report.checked, report.differences.len()),
            (2, 0),
            "{report:?}"
        );

        // Two transactions: when the second is matched, G1's first assignment is on chain, so G2 (never
        // assigned) is the least recently assigned.
        let mut apart = setup(&d);
        apart.push(d.marketplace, &assigned(1, G1), 6, 9);
        apart.push(d.marketplace, &assigned(2, G1), 7, 10);
        let report = run(&apart);
        let [diff] = report.differences.as_slice() else {
            panic!("one difference expected: {report:?}");
        };
        assert_eq!(
            (diff.ask, diff.block, diff.chosen, diff.expected),
            (2, 7, G1, Some(G2))
        );
        assert!(
            diff.why.contains("assigned less recently (never)"),
            "{}",
            diff.why
        );

        // Fallback self-assignments are not the Matching Engine's choice.
        let mut fallback = setup(&d);
        fallback.push(
            d.marketplace,
            &P::TaskAssigned {
                fallbackAssignment: true,
                ..assigned(1, G2)
            },
            6,
            9,
        );
        let report = run(&fallback);
        assert_eq!((report.checked, report.fallback), (0, 1));
    }
}
