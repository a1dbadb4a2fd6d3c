//! Sealed-bid reverse auctions (Succinct-style): each ask is auctioned among the generators free to take it
//! (staked, with free capacity, able to meet the deadline with their quoted time); bids are sealed for
//! `sealed_rounds` blocks, the lowest bid wins. First price: the winner is paid its bid (its strategy's price).
//! Second price: generators bid their cost (truthful bidding is their best strategy) and the winner is paid
//! the second-lowest bid (the reward when it was alone). The winner locks the market's penalty; a task without
//! a valid proof by its quoted time is slashed (a share to the requester) and the ask is auctioned again
//! without that generator while its deadline allows.

use super::pool::{Key, Pool};
use crate::core::{Core, Mechanism, Start};
use std::collections::{BTreeMap, BTreeSet};

/// Generators looked at per ask and round (the cheapest first) before giving up until the next round.
const SCAN: usize = 4096;

pub(crate) struct Sealed {
    second_price: bool,
    pool: Pool,
    /// (round at which bidding closes, ask).
    waiting: BTreeSet<(u64, u32)>,
    excluded: BTreeMap<u32, Vec<u32>>,
    window_ms: u64,
    share: f64,
}

impl Sealed {
    pub(crate) fn new(core: &Core<'_>, second_price: bool, window_ms: u64, share: f64) -> Self {
        let key = if second_price { Key::Cost } else { Key::Price };
        Self {
            second_price,
            pool: Pool::new(core, key),
            waiting: BTreeSet::new(),
            excluded: BTreeMap::new(),
            window_ms,
            share,
        }
    }
}

impl Mechanism for Sealed {
    fn arrive(&mut self, core: &mut Core<'_>, ask: u32) {
        self.waiting.insert((core.now + self.window_ms, ask));
    }

    fn round(&mut self, core: &mut Core<'_>) {
        let now = core.now;
        let ready: Vec<(u64, u32)> = self
            .waiting
            .range(..(now.saturating_add(1), 0))
            .copied()
            .collect();
        for key in ready {
            let ask = key.1;
            let a = core.world.asks[ask as usize];
            if a.deadline < now {
                self.waiting.remove(&key);
                continue;
            }
            if self.pool.is_empty(a.market) {
                continue;
            }
            let excluded = self.excluded.get(&ask);
            let mut bids = self
                .pool
                .iter(a.market)
                .take(SCAN)
                .take_while(|&(bid, ..)| bid <= a.reward)
                .filter(|&(_, time, g)| {
                    now + time <= a.deadline && excluded.is_none_or(|x| !x.contains(&g))
                });
            let Some((bid, time, g)) = bids.next() else {
                continue;
            };
            let price = if self.second_price {
                bids.next().map_or(a.reward, |(second, ..)| second)
            } else {
                bid
            };
            drop(bids);
            self.waiting.remove(&key);
            // Listed generators serve the market (the pool lists only offers).
            let Some(offer) = core.world.offer(g, a.market).copied() else {
                continue;
            };
            let out = core.outcome(ask, g, 1, &offer);
            let lock = core.world.markets[a.market as usize].penalty;
            core.start(Start {
                ask,
                generator: g,
                lock,
                out,
                deadline: now + time,
                cut: u64::MAX,
                price,
            });
            self.pool.refresh(core, g);
        }
    }

    fn task_end(&mut self, core: &mut Core<'_>, task: u32) {
        let t = core.tasks[task as usize];
        if t.valid {
            core.serve(task, t.price);
        } else {
            core.slash(t.generator, t.lock, self.share);
            self.excluded.entry(t.ask).or_default().push(t.generator);
            if core.now <= core.world.asks[t.ask as usize].deadline {
                self.waiting.insert((core.now + self.window_ms, t.ask));
            }
        }
        self.pool.refresh(core, t.generator);
    }

    fn idle(&self) -> bool {
        self.waiting.is_empty()
    }
}
