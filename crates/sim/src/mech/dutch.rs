//! Reverse Dutch auction with lock collateral (Boundless-style). The offered price starts at `dutch_start` of
//! the reward and rises linearly to the reward over `dutch_ramp_seconds`; the first free generator whose
//! reserve price (its strategy's price) is reached and that can prove by the lock timeout locks the request at
//! the current price, putting up the market's penalty as collateral. The lock timeout is `dutch_lock_fraction`
//! of the time from creation to deadline.
//!
//! - Locked and proven by the lock timeout: paid the lock price.
//! - Locked and not proven by the lock timeout: the collateral is slashed (burned: to the treasury here); the
//!   request stays open until its deadline and whoever proves it then earns `dutch_bounty_share` of the
//!   collateral while the requester is refunded (pays nothing).
//! - Never locked by the lock timeout: any free generator may prove it without a lock until the deadline, paid
//!   the reward (the ramp has ended).
//!
//! Requests are visited oldest first each block; the requester's COST/TIME preference plays no part.

use super::pool::{Key, Pool};
use crate::core::{Core, Mechanism, Start};
use std::collections::BTreeMap;

/// Generators looked at per request and round, cheapest first.
const SCAN: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The price ramps; a generator may lock.
    Ramp,
    /// A locked task failed: a bounty of this amount waits for whoever proves it.
    Bounty(u128),
}

pub(crate) struct Dutch {
    pool: Pool,
    /// Open requests (not being proven), oldest first.
    open: BTreeMap<u32, Phase>,
    /// Bounty of requests being proven by a secondary prover.
    bounty: BTreeMap<u32, u128>,
    excluded: BTreeMap<u32, Vec<u32>>,
    start: f64,
    ramp_ms: f64,
    lock_fraction: f64,
    bounty_share: f64,
}

impl Dutch {
    pub(crate) fn new(
        core: &Core<'_>,
        start: f64,
        ramp_s: f64,
        lock_fraction: f64,
        bounty_share: f64,
    ) -> Self {
        Self {
            pool: Pool::new(core, Key::Price),
            open: BTreeMap::new(),
            bounty: BTreeMap::new(),
            excluded: BTreeMap::new(),
            start,
            ramp_ms: ramp_s * 1000.0,
            lock_fraction,
            bounty_share,
        }
    }

    fn lock_deadline(&self, created: u64, deadline: u64) -> u64 {
        created + ((deadline - created) as f64 * self.lock_fraction).round() as u64
    }
}

impl Mechanism for Dutch {
    fn arrive(&mut self, _core: &mut Core<'_>, ask: u32) {
        self.open.insert(ask, Phase::Ramp);
    }

    fn round(&mut self, core: &mut Core<'_>) {
        let now = core.now;
        let asks: Vec<(u32, Phase)> = self.open.iter().map(|(&a, &p)| (a, p)).collect();
        for (ask, phase) in asks {
            let a = core.world.asks[ask as usize];
            if a.deadline < now {
                self.open.remove(&ask);
                continue;
            }
            if self.pool.is_empty(a.market) {
                continue;
            }
            let lock_deadline = self.lock_deadline(a.created, a.deadline);
            // (price offered now, proof due by, collateral to lock)
            let (price, due, lock) = match phase {
                Phase::Ramp if now <= lock_deadline => {
                    let elapsed = (now - a.created) as f64;
                    let f = if self.ramp_ms > 0.0 {
                        (elapsed / self.ramp_ms).min(1.0)
                    } else {
                        1.0
                    };
                    let floor = a.reward as f64 * self.start;
                    let price = (floor + (a.reward as f64 - floor) * f).round() as u128;
                    (
                        price,
                        lock_deadline,
                        core.world.markets[a.market as usize].penalty,
                    )
                }
                Phase::Ramp => (a.reward, a.deadline, 0),
                Phase::Bounty(b) => (b, a.deadline, 0),
            };
            let excluded = self.excluded.get(&ask);
            let found = self
                .pool
                .iter(a.market)
                .take(SCAN)
                .take_while(|&(reserve, ..)| reserve <= price)
                .find(|&(_, time, g)| {
                    now + time <= due && excluded.is_none_or(|x| !x.contains(&g))
                });
            let Some((_, _, g)) = found else { continue };
            self.open.remove(&ask);
            let Some(offer) = core.world.offer(g, a.market).copied() else {
                continue;
            };
            let out = core.outcome(ask, g, 1, &offer);
            let paid = match phase {
                Phase::Bounty(b) => {
                    self.bounty.insert(ask, b);
                    0
                }
                Phase::Ramp => price,
            };
            core.start(Start {
                ask,
                generator: g,
                lock,
                out,
                deadline: due,
                cut: u64::MAX,
                price: paid,
            });
            self.pool.refresh(core, g);
        }
    }

    fn task_end(&mut self, core: &mut Core<'_>, task: u32) {
        let t = core.tasks[task as usize];
        let bounty = self.bounty.remove(&t.ask);
        if t.valid {
            core.serve(task, t.price);
            if let Some(b) = bounty {
                core.bounty(t.generator, b);
            }
        } else {
            self.excluded.entry(t.ask).or_default().push(t.generator);
            let next = if t.lock > 0 {
                // Lock expired without a proof: collateral burned, a share offered to a secondary prover.
                let taken = core.slash(t.generator, t.lock, 0.0);
                Phase::Bounty(((taken as f64) * self.bounty_share).floor() as u128)
            } else {
                bounty.map_or(Phase::Ramp, Phase::Bounty)
            };
            if core.now <= core.world.asks[t.ask as usize].deadline {
                self.open.insert(t.ask, next);
            }
        }
        self.pool.refresh(core, t.generator);
    }

    fn idle(&self) -> bool {
        self.open.is_empty()
    }
}
