//! The keeper: slashes tasks whose generator missed its deadline — which re-opens the ask, so the book matches it
//! to another generator — and, when asked to, refunds open asks past their deadline. It sends from its own
//! account (never the relayer's, whose nonces the submitter manages) and never blocks the main loop: each round
//! collects the transactions that finished and starts new ones, at most `max_in_flight` at once.
//!
//! Each assignment is attempted at most once at a time and is done once a slash lands or the chain says the ask
//! was settled by someone else (a proof, another keeper): attempts are remembered by (ask, generator, task
//! deadline). A failed attempt is retried with back-off, after checking that the task is still assigned on-chain.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::client::RpcClient,
    signers::local::PrivateKeySigner,
    transports::http::reqwest::Url,
};
use kalypso_primitives::AskState;
use kalypso_sdk::{
    Deployment, Kalypso, contracts::marketplace::ProofMarketplace::ProofMarketplaceErrors as E,
};
use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::{
    Error, Result,
    metrics::{KeeperCounters, Metrics},
    state::{AskStatus, State},
};

/// Keeper settings.
#[derive(Debug, Clone)]
pub struct KeeperConfig {
    /// Sends the keeper transactions and earns the keeper share of slashes. Must not be the relayer's or the
    /// Matching Engine's account.
    pub key: PrivateKeySigner,
    /// Also refund open asks past their deadline (`refundExpired`; earns nothing, returns the requester's
    /// escrow without waiting for the requester).
    pub refund_expired: bool,
    /// Keeper transactions in flight at once.
    pub max_in_flight: usize,
    /// Wait before the first retry of a failed attempt; doubles with each further failure.
    pub retry_after: Duration,
    /// Longest wait between retries.
    pub max_retry_after: Duration,
    /// How long to wait for a keeper transaction's receipt before treating the attempt as failed.
    pub receipt_timeout: Duration,
}

impl KeeperConfig {
    /// Defaults for everything but the key.
    pub fn new(key: PrivateKeySigner) -> Self {
        Self {
            key,
            refund_expired: false,
            max_in_flight: 8,
            retry_after: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
            receipt_timeout: Duration::from_secs(60),
        }
    }
}

/// One thing the keeper can do, identified by the terms it applies to: a new assignment of the same ask is a
/// new job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Job {
    /// `slash(ask)` of the generator's assignment with this task deadline.
    Slash {
        ask: u64,
        generator: Address,
        task_deadline: u64,
    },
    /// `refundExpired(ask)` of an open ask with this deadline.
    Refund { ask: u64, deadline: u64 },
}

impl Job {
    fn ask(self) -> u64 {
        match self {
            Self::Slash { ask, .. } | Self::Refund { ask, .. } => ask,
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy)]
enum Attempt {
    /// A transaction (or its pre-check) is running; `tries` counts this one.
    Running { tries: u32 },
    /// Failed `tries` times; try again after `at`.
    Retry { tries: u32, at: Instant },
    /// Landed, or the chain settled the ask otherwise: never again.
    Done,
}

/// How an attempt ended.
#[derive(Debug)]
enum Outcome {
    /// Our slash was mined.
    Slashed {
        tx: B256,
        to_keeper: U256,
        reopened: bool,
    },
    /// Our refund was mined.
    Refunded { tx: B256 },
    /// The ask was already settled (or re-assigned) by someone else.
    Superseded { why: String },
    /// Anything else; retried.
    Failed {
        error: String,
        /// The error may have left a reserved nonce unused: rebuild the provider.
        reset: bool,
    },
}

/// The keeper, driven by the engine's main loop through [`tick`](Keeper::tick).
#[derive(Debug)]
pub struct Keeper {
    config: KeeperConfig,
    url: Url,
    deployment: Deployment,
    client: Kalypso<DynProvider>,
    attempts: HashMap<Job, Attempt>,
    running: JoinSet<(Job, Outcome)>,
    /// The job of each running task (to forget a job whose task panicked).
    tasks: HashMap<tokio::task::Id, Job>,
}

impl Keeper {
    /// A keeper sending to the HTTP endpoint `rpc_url`. Makes no RPC call.
    pub fn new(rpc_url: &str, deployment: Deployment, config: KeeperConfig) -> Result<Self> {
        let url: Url = rpc_url
            .parse()
            .map_err(|e| Error::Config(format!("--rpc-url {rpc_url}: {e}")))?;
        let client = build_client(&url, &deployment, &config);
        Ok(Self {
            config,
            url,
            deployment,
            client,
            attempts: HashMap::new(),
            running: JoinSet::new(),
            tasks: HashMap::new(),
        })
    }

    /// The keeper's account.
    pub fn address(&self) -> Address {
        self.config.key.address()
    }

    /// The keeper's native balance (for a start-up warning when it cannot pay gas).
    pub async fn balance(&self) -> Result<U256> {
        self.client
            .provider()
            .get_balance(self.address())
            .await
            .map_err(|e| Error::Rpc(e.to_string()))
    }

    /// Keeper transactions in flight.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// One round at chain time `now` (the head's timestamp): records the attempts that finished, then starts
    /// attempts for overdue tasks (and expired open asks) of `state` while there is room. Never waits on the
    /// chain.
    pub fn tick(&mut self, state: &State, now: u64, metrics: &Metrics) {
        while let Some(joined) = self.running.try_join_next_with_id() {
            match joined {
                Ok((id, (job, outcome))) => {
                    self.tasks.remove(&id);
                    self.finish(job, outcome, metrics);
                }
                // Only a panic ends a task early (the set is aborted only when the keeper is dropped): the job is
                // forgotten, so it is a new candidate in this round.
                Err(e) => {
                    warn!(target: "kalypso::engine::keeper", %e, "keeper task panicked");
                    if let Some(job) = self.tasks.remove(&e.id()) {
                        self.attempts.remove(&job);
                    }
                }
            }
        }

        let mut due: Vec<Job> = state
            .overdue_tasks(now)
            .filter_map(|a| {
                Some(Job::Slash {
                    ask: a.id,
                    generator: a.generator?,
                    task_deadline: a.task_deadline?,
                })
            })
            .collect();
        if self.config.refund_expired {
            due.extend(
                state
                    .expired_open_asks(now)
                    .filter(|a| a.status == AskStatus::Open)
                    .map(|a| Job::Refund {
                        ask: a.id,
                        deadline: a.deadline,
                    }),
            );
        }
        // Forget finished and waiting jobs the ledger no longer lists (the slash was indexed, the ask moved on).
        let listed: HashSet<Job> = due.iter().copied().collect();
        self.attempts
            .retain(|job, a| matches!(a, Attempt::Running { .. }) || listed.contains(job));

        let started = Instant::now();
        for job in due {
            if self.running.len() >= self.config.max_in_flight {
                break;
            }
            let tries = match self.attempts.get(&job) {
                None => 0,
                Some(Attempt::Retry { tries, at }) if *at <= started => *tries,
                Some(_) => continue,
            };
            self.attempts
                .insert(job, Attempt::Running { tries: tries + 1 });
            counters(metrics, job).sent.inc();
            // A first attempt trusts the ledger (a stale view only costs a reverted estimate); a retry checks
            // the chain first so a task settled meanwhile is not sent again.
            let recheck = tries > 0;
            let client = self.client.clone();
            let task = self
                .running
                .spawn(async move { (job, attempt(client, job, recheck).await) });
            self.tasks.insert(task.id(), job);
        }
        metrics.keeper_in_flight.set(self.running.len() as i64);
    }

    fn finish(&mut self, job: Job, outcome: Outcome, metrics: &Metrics) {
        let tries = match self.attempts.get(&job) {
            Some(Attempt::Running { tries }) => *tries,
            _ => 1,
        };
        let c = counters(metrics, job);
        let next = match outcome {
            Outcome::Slashed {
                tx,
                to_keeper,
                reopened,
            } => {
                c.succeeded.inc();
                metrics.keeper_rewards.inc_by(f64::from(to_keeper));
                if let Job::Slash { ask, generator, .. } = job {
                    info!(target: "kalypso::engine::keeper", ask, %generator, %tx, keeper_reward = %to_keeper, reopened, "slashed a missed deadline");
                }
                Attempt::Done
            }
            Outcome::Refunded { tx } => {
                c.succeeded.inc();
                info!(target: "kalypso::engine::keeper", ask = job.ask(), %tx, "refunded an expired ask");
                Attempt::Done
            }
            Outcome::Superseded { why } => {
                c.superseded.inc();
                info!(target: "kalypso::engine::keeper", ?job, why, "already settled by someone else; done");
                Attempt::Done
            }
            Outcome::Failed { error, reset } => {
                c.failed.inc();
                if reset {
                    self.client = build_client(&self.url, &self.deployment, &self.config);
                }
                let wait = backoff(tries, self.config.retry_after, self.config.max_retry_after);
                warn!(target: "kalypso::engine::keeper", ?job, tries, error, retry_in = ?wait, "keeper transaction failed");
                Attempt::Retry {
                    tries,
                    at: Instant::now() + wait,
                }
            }
        };
        self.attempts.insert(job, next);
    }
}

fn counters(metrics: &Metrics, job: Job) -> &KeeperCounters {
    match job {
        Job::Slash { .. } => &metrics.keeper_slashes,
        Job::Refund { .. } => &metrics.keeper_refunds,
    }
}

/// `retry_after · 2^(tries − 1)`, at most `max`.
fn backoff(tries: u32, retry_after: Duration, max: Duration) -> Duration {
    retry_after
        .saturating_mul(1u32 << tries.saturating_sub(1).min(16))
        .min(max)
}

fn build_client(url: &Url, deployment: &Deployment, config: &KeeperConfig) -> Kalypso<DynProvider> {
    // Receipts are polled every 250 ms (alloy's default for a remote node, 7 s, would hold a keeper slot that long).
    let client = RpcClient::new_http(url.clone()).with_poll_interval(Duration::from_millis(250));
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(config.key.clone()))
        .connect_client(client)
        .erased();
    Kalypso::new(provider, deployment.clone(), config.key.address())
        .with_receipt_timeout(Some(config.receipt_timeout))
}

/// Runs one attempt of `job`; with `recheck`, first reads the ask on-chain and gives up if the job no longer
/// applies.
async fn attempt(client: Kalypso<DynProvider>, job: Job, recheck: bool) -> Outcome {
    if recheck {
        match client.ask(job.ask()).await {
            Ok(info) => {
                let applies = match job {
                    Job::Slash {
                        generator,
                        task_deadline,
                        ..
                    } => {
                        info.state == AskState::Assigned
                            && info.task.is_some_and(|t| {
                                t.generator == generator && t.task_deadline == task_deadline
                            })
                    }
                    Job::Refund { .. } => {
                        matches!(info.state, AskState::Created | AskState::Expired)
                    }
                };
                if !applies {
                    return Outcome::Superseded {
                        why: format!("the ask is {:?} on-chain", info.state),
                    };
                }
            }
            Err(e) => {
                return Outcome::Failed {
                    error: format!("reading the ask: {e}"),
                    reset: false,
                };
            }
        }
    }
    let result = match job {
        Job::Slash { ask, .. } => client.slash(ask).await.map(|(e, tx)| Outcome::Slashed {
            tx: tx.hash,
            to_keeper: e.toKeeper,
            reopened: e.reopened,
        }),
        Job::Refund { ask, .. } => client
            .refund_expired(ask)
            .await
            .map(|tx| Outcome::Refunded { tx: tx.hash }),
    };
    result.unwrap_or_else(|e| classify(&e))
}

/// An `InvalidAskState` revert means the ask left the state the job needs (proven, slashed, refunded or
/// re-assigned by someone else): the job is done. Every other error is a failure to retry.
fn classify(e: &kalypso_sdk::Error) -> Outcome {
    match e.marketplace_error() {
        Some(E::InvalidAskState(_)) => Outcome::Superseded { why: e.to_string() },
        _ => Outcome::Failed {
            error: e.to_string(),
            reset: matches!(
                e,
                kalypso_sdk::Error::Rpc(_)
                    | kalypso_sdk::Error::Contract(_)
                    | kalypso_sdk::Error::PendingTx(_)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kalypso_sdk::{ContractError, contracts::marketplace::ProofMarketplace};

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (base, cap) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(backoff(1, base, cap), Duration::from_secs(2));
        assert_eq!(backoff(2, base, cap), Duration::from_secs(4));
        assert_eq!(backoff(5, base, cap), Duration::from_secs(32));
        assert_eq!(backoff(6, base, cap), cap);
        assert_eq!(backoff(1_000, base, cap), cap);
    }

    fn reverted(error: E) -> kalypso_sdk::Error {
        kalypso_sdk::Error::Reverted {
            contract: "ProofMarketplace",
            error: Box::new(ContractError::ProofMarketplace(error)),
        }
    }

    #[test]
    fn a_settled_ask_is_done_and_other_errors_are_retried() {
        let settled = reverted(E::InvalidAskState(ProofMarketplace::InvalidAskState {
            askId: U256::from(7),
            state: AskState::Completed as u8,
        }));
        assert!(matches!(classify(&settled), Outcome::Superseded { .. }));

        let early = reverted(E::TaskDeadline(ProofMarketplace::TaskDeadline {
            askId: U256::from(7),
            taskDeadline: U256::from(100),
            now_: U256::from(100),
        }));
        assert!(matches!(
            classify(&early),
            Outcome::Failed { reset: false, .. }
        ));

        let mined_and_failed = kalypso_sdk::Error::TxFailed {
            hash: B256::ZERO,
            block: 9,
        };
        assert!(matches!(
            classify(&mined_and_failed),
            Outcome::Failed { reset: false, .. }
        ));
    }
}
