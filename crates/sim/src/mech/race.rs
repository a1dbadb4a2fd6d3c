//! Proof race: an ask is open to every generator; free generators for which the reward covers their cost and
//! who expect to finish by the deadline race it, the first valid proof wins the whole reward and the others'
//! work is thrown away (they stop when the winner's proof lands). No stake, no slashing: a failed race (no
//! valid proof) is raced again by other free generators while the deadline allows. Racing every free generator
//! of a 10k market on every ask would cost 10k proofs per ask; the race is limited to `race_max_racers`
//! generators drawn at random among those that qualify. An ask that finds no racer is retried after 1, 2, 4, 8,
//! then every 16 rounds.

use crate::{
    core::{Core, Mechanism, Start},
    rng::Rng,
};
use std::collections::{BTreeMap, BTreeSet};

/// Random stream of racer draws.
const STREAM_RACERS: u64 = 4;

pub(crate) struct Race {
    waiting: BTreeSet<(u64, u32)>,
    /// Per racing ask: racers still running, the winner's task (if any), the race number.
    racing: BTreeMap<u32, (u32, Option<u32>)>,
    races: BTreeMap<u32, u32>,
    /// Asks that found no racer: (failed rounds, next round to try). Retried after 1, 2, 4, 8, then every 16
    /// rounds, which bounds the simulator's cost when most generators are busy.
    backoff: BTreeMap<u32, (u32, u64)>,
    max_racers: usize,
    order: u64,
}

impl Race {
    pub(crate) fn new(max_racers: usize) -> Self {
        Self {
            waiting: BTreeSet::new(),
            racing: BTreeMap::new(),
            races: BTreeMap::new(),
            backoff: BTreeMap::new(),
            max_racers,
            order: 0,
        }
    }

    fn queue(&mut self, ask: u32) {
        self.order += 1;
        self.waiting.insert((self.order, ask));
    }
}

impl Mechanism for Race {
    fn arrive(&mut self, _core: &mut Core<'_>, ask: u32) {
        self.queue(ask);
    }

    fn round(&mut self, core: &mut Core<'_>) {
        let now = core.now;
        let keys: Vec<(u64, u32)> = self.waiting.iter().copied().collect();
        let mut racers: Vec<u32> = Vec::with_capacity(self.max_racers);
        // Markets found without any generator with free compute this round (their asks cannot be raced).
        let mut full: Vec<Option<bool>> = vec![None; core.world.markets.len()];
        for key in keys {
            let ask = key.1;
            let a = core.world.asks[ask as usize];
            if a.deadline < now {
                self.waiting.remove(&key);
                self.backoff.remove(&ask);
                continue;
            }
            let members = &core.world.markets[a.market as usize].members;
            if members.is_empty() || full[a.market as usize] == Some(true) {
                continue;
            }
            if self.backoff.get(&ask).is_some_and(|&(_, at)| at > now) {
                continue;
            }
            let race = *self.races.entry(ask).or_insert(0) + 1;
            let mut rng = Rng::keyed(
                core.world.seed,
                STREAM_RACERS,
                u64::from(ask),
                u64::from(race),
            );
            racers.clear();
            for _ in 0..self.max_racers * 4 {
                if racers.len() == self.max_racers {
                    break;
                }
                let g = members[rng.range(0, members.len() as u64 - 1) as usize];
                if racers.contains(&g)
                    || core.withholding[g as usize]
                    || !core.fits(g, a.market, false)
                {
                    continue;
                }
                if core
                    .world
                    .offer(g, a.market)
                    .is_some_and(|o| o.cost <= a.reward && now + o.expected_ms <= a.deadline)
                {
                    racers.push(g);
                }
            }
            if racers.is_empty() {
                let tick = core.tick_ms();
                let b = self.backoff.entry(ask).or_insert((0, now));
                b.0 += 1;
                b.1 = now + tick * (1u64 << b.0.min(5).saturating_sub(1));
                // Checked once per market and round, only when a draw came back empty.
                let m = a.market;
                full[m as usize]
                    .get_or_insert_with(|| !members.iter().any(|&g| core.fits(g, m, false)));
                continue;
            }
            self.waiting.remove(&key);
            self.backoff.remove(&ask);
            self.races.insert(ask, race);
            // Draw every racer's outcome; the earliest valid proof by the deadline wins and stops the others.
            let outs: Vec<_> = racers
                .iter()
                .map(|&g| {
                    let offer = core.world.offer(g, a.market).copied();
                    offer.map(|o| core.outcome(ask, g, race, &o))
                })
                .collect();
            let winner = racers
                .iter()
                .zip(&outs)
                .enumerate()
                .filter_map(|(i, (_, o))| {
                    let o = (*o)?;
                    let end = now.saturating_add(o.duration_ms);
                    (o.proves() && end <= a.deadline).then_some((end, i))
                })
                .min();
            let cut = winner.map_or(u64::MAX, |(end, _)| end);
            let mut winner_task = None;
            for (i, (&g, o)) in racers.iter().zip(&outs).enumerate() {
                let Some(o) = *o else { continue };
                let id = core.start(Start {
                    ask,
                    generator: g,
                    lock: 0,
                    out: o,
                    deadline: a.deadline,
                    cut,
                    price: a.reward,
                });
                if winner.is_some_and(|(_, w)| w == i) {
                    winner_task = Some(id);
                }
            }
            self.racing.insert(ask, (racers.len() as u32, winner_task));
        }
    }

    fn task_end(&mut self, core: &mut Core<'_>, task: u32) {
        let t = core.tasks[task as usize];
        let Some((running, winner)) = self.racing.get_mut(&t.ask) else {
            return;
        };
        if *winner == Some(task) {
            core.serve(task, t.price);
        }
        *running -= 1;
        if *running == 0 {
            self.racing.remove(&t.ask);
            if core.served_at[t.ask as usize] == crate::core::NEVER
                && core.now <= core.world.asks[t.ask as usize].deadline
            {
                self.queue(t.ask);
            }
        }
    }

    fn idle(&self) -> bool {
        self.waiting.is_empty()
    }
}
