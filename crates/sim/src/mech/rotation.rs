//! Round robin (leader rotation): the generators of a market take asks in turn, whatever their price or
//! speed. The requester pays its reward (a posted price); the leader may only pass when it lacks the compute
//! or stake, or the reward does not cover its cost. The leader locks the market's penalty and has a fixed
//! proving window (`rotation_window` times the market's reference proving time, at most until the ask's
//! deadline); without a valid proof by then it is slashed (a share to the requester) and the ask passes to
//! the next leader while its deadline allows.

use crate::core::{Core, Mechanism, Start};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) struct Rotation {
    /// (order, ask): asks waiting for a leader, oldest first.
    waiting: BTreeSet<(u64, u32)>,
    /// Per market: position of the next leader in its member list.
    next: Vec<usize>,
    excluded: BTreeMap<u32, Vec<u32>>,
    window: f64,
    scan: usize,
    share: f64,
    order: u64,
}

impl Rotation {
    pub(crate) fn new(core: &Core<'_>, window: f64, scan: usize, share: f64) -> Self {
        Self {
            waiting: BTreeSet::new(),
            next: vec![0; core.world.markets.len()],
            excluded: BTreeMap::new(),
            window,
            scan,
            share,
            order: 0,
        }
    }

    fn queue(&mut self, ask: u32) {
        self.order += 1;
        self.waiting.insert((self.order, ask));
    }
}

impl Mechanism for Rotation {
    fn arrive(&mut self, _core: &mut Core<'_>, ask: u32) {
        self.queue(ask);
    }

    fn round(&mut self, core: &mut Core<'_>) {
        let now = core.now;
        let keys: Vec<(u64, u32)> = self.waiting.iter().copied().collect();
        // Markets whose scan window found no generator with free compute and stake this round: the window
        // only moves on an assignment, so every later ask of that market would scan the same window in vain.
        let mut exhausted = vec![false; self.next.len()];
        for key in keys {
            let ask = key.1;
            let a = core.world.asks[ask as usize];
            if a.deadline < now {
                self.waiting.remove(&key);
                continue;
            }
            if exhausted[a.market as usize] {
                continue;
            }
            let market = &core.world.markets[a.market as usize];
            let n = market.members.len();
            let start = self.next[a.market as usize];
            let excluded = self.excluded.get(&ask);
            let mut chosen = None;
            let mut any_free = false;
            for i in 0..self.scan.min(n) {
                let pos = (start + i) % n;
                let g = market.members[pos];
                if !core.fits(g, a.market, true) {
                    continue;
                }
                any_free = true;
                if excluded.is_some_and(|x| x.contains(&g)) {
                    continue;
                }
                if core
                    .world
                    .offer(g, a.market)
                    .is_some_and(|o| o.cost <= a.reward)
                {
                    chosen = Some((pos, g));
                    break;
                }
            }
            let Some((pos, g)) = chosen else {
                exhausted[a.market as usize] = !any_free;
                continue;
            };
            self.next[a.market as usize] = (pos + 1) % n;
            self.waiting.remove(&key);
            let Some(offer) = core.world.offer(g, a.market).copied() else {
                continue;
            };
            let out = core.outcome(ask, g, 1, &offer);
            let window = (market.ref_ms as f64 * self.window).round() as u64;
            let lock = market.penalty;
            core.start(Start {
                ask,
                generator: g,
                lock,
                out,
                deadline: (now + window).min(a.deadline),
                cut: u64::MAX,
                price: a.reward,
            });
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
                self.queue(t.ask);
            }
        }
    }

    fn idle(&self) -> bool {
        self.waiting.is_empty()
    }
}
