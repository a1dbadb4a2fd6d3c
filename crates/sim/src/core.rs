//! The discrete-event core shared by every mechanism: the clock and event queue, the generators' compute and
//! stake (tracked here independently of any mechanism, so assigning beyond capacity is caught whoever
//! decides), proof outcomes, and the money and time accounting the report is computed from.

use crate::{
    rng::Rng,
    scenario::Service,
    world::{Offer, World},
};
use std::{cmp::Reverse, collections::BinaryHeap};

/// "Never" as a time.
pub(crate) const NEVER: u64 = u64::MAX;

/// What happens to one task, drawn once per (ask, generator, attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A valid proof after the drawn duration.
    Ok,
    /// The generator crashes part-way (no proof).
    Crash,
    /// A valid proof, `late_factor` times slower (usually past the deadline).
    Late,
    /// An invalid proof (rejected).
    Invalid,
    /// A colluding generator that accepted the task and withholds the proof.
    Withhold,
}

/// The drawn outcome of a task.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub(crate) mode: Mode,
    /// Time the proof would take (or until the crash), ms.
    pub(crate) duration_ms: u64,
}

impl Outcome {
    /// Whether a valid proof comes out of it (in `duration_ms`).
    pub(crate) fn proves(&self) -> bool {
        matches!(self.mode, Mode::Ok | Mode::Late)
    }
}

/// A task: a generator working on an ask.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Task {
    pub(crate) ask: u32,
    pub(crate) generator: u32,
    pub(crate) start: u64,
    /// When its event fires (proof, failure detection, or abort).
    pub(crate) end: u64,
    /// Compute units held.
    pub(crate) compute: u64,
    /// Stake locked.
    pub(crate) lock: u128,
    /// A valid proof is in hand at `end`.
    pub(crate) valid: bool,
    /// Compute time actually spent proving, ms (per compute unit).
    pub(crate) work_ms: u64,
    /// Its proof served the ask.
    pub(crate) used: bool,
    /// Mechanism-defined price or tag.
    pub(crate) price: u128,
}

/// A task to start now: `generator` works on `ask` holding `lock` stake, with the drawn outcome `out`. Its event
/// fires at the proof if a valid proof comes by `deadline`, else at `deadline` (failure detected); `cut` ends
/// it earlier (a lost race: the generator stops). `price` is the mechanism's price for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Start {
    pub(crate) ask: u32,
    pub(crate) generator: u32,
    pub(crate) lock: u128,
    pub(crate) out: Outcome,
    pub(crate) deadline: u64,
    pub(crate) cut: u64,
    pub(crate) price: u128,
}

/// Events of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ev {
    /// An ask is created.
    Arrive(u32),
    /// A task ends (its proof arrives, its failure is detected, or it is aborted).
    TaskEnd(u32),
}

/// Money totals (base units), kept by double entry per flow so conservation can be checked from the parts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Money {
    /// Paid by requesters for proofs.
    pub(crate) requesters_paid: u128,
    /// Received by generators for proofs (must equal `requesters_paid`).
    pub(crate) generators_revenue: u128,
    /// Stake taken by slashes.
    pub(crate) slashed: u128,
    /// Slashed stake paid to requesters.
    pub(crate) compensation: u128,
    /// Slashed stake paid to the treasury (or burned).
    pub(crate) treasury: u128,
    /// Slashed stake paid to other generators (bounties).
    pub(crate) bounties: u128,
}

/// What a mechanism does on the core's events.
pub(crate) trait Mechanism {
    /// An ask is created (at `core.now`).
    fn arrive(&mut self, core: &mut Core<'_>, ask: u32);
    /// A matching round (a block, or every event time in continuous mode).
    fn round(&mut self, core: &mut Core<'_>);
    /// Task `task` ended (its compute and lock are already released).
    fn task_end(&mut self, core: &mut Core<'_>, task: u32);
    /// Whether rounds can change nothing until the next event (then empty blocks are skipped).
    fn idle(&self) -> bool;
}

/// Progress of a run: asks created so far, of the total.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The simulation state shared by the mechanisms.
pub(crate) struct Core<'w> {
    pub(crate) world: &'w World,
    pub(crate) now: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    seq: u64,
    pub(crate) tasks: Vec<Task>,
    /// Compute in use per generator.
    pub(crate) used: Vec<u64>,
    /// Stake locked per generator.
    pub(crate) locked: Vec<u128>,
    /// Current stake per generator.
    pub(crate) stake: Vec<u128>,
    /// Colluding generators (withhold every proof).
    pub(crate) withholding: Vec<bool>,
    /// Per ask: time the proof was accepted (NEVER if not).
    pub(crate) served_at: Vec<u64>,
    /// Per ask: first assignment time (NEVER if none).
    pub(crate) assigned_at: Vec<u64>,
    /// Per ask: amount the requester paid.
    pub(crate) paid: Vec<u128>,
    /// Per generator: revenue, slashed stake, bounties received, compute-ms busy, cost of compute spent.
    pub(crate) revenue: Vec<u128>,
    pub(crate) gen_slashed: Vec<u128>,
    pub(crate) busy_unit_ms: Vec<u64>,
    pub(crate) cost: Vec<f64>,
    pub(crate) money: Money,
    pub(crate) slashes: u64,
    /// Compute-ms (compute units times ms) spent on proofs never used.
    pub(crate) wasted_unit_ms: u64,
    /// Compute-ms spent in total.
    pub(crate) total_unit_ms: u64,
    /// Assignments that exceeded the generator's compute or stake (must stay 0).
    pub(crate) capacity_violations: u64,
    /// Asks served twice (must stay 0).
    pub(crate) double_serves: u64,
    block_ms: u64,
}

/// Random stream of task outcomes.
const STREAM_TASKS: u64 = 3;

impl<'w> Core<'w> {
    pub(crate) fn new(world: &'w World, block_ms: u64, colluders: &[u32]) -> Self {
        let n = world.gens.len();
        let na = world.asks.len();
        let mut withholding = vec![false; n];
        for &g in colluders {
            withholding[g as usize] = true;
        }
        let mut queue = BinaryHeap::with_capacity(na.min(1 << 20) + 1024);
        for (i, a) in world.asks.iter().enumerate() {
            queue.push(Reverse((a.created, i as u64, Ev::Arrive(i as u32))));
        }
        Self {
            world,
            now: 0,
            queue,
            seq: na as u64,
            tasks: Vec::with_capacity(na + na / 8),
            used: vec![0; n],
            locked: vec![0; n],
            stake: world.gens.iter().map(|g| g.stake).collect(),
            withholding,
            served_at: vec![NEVER; na],
            assigned_at: vec![NEVER; na],
            paid: vec![0; na],
            revenue: vec![0; n],
            gen_slashed: vec![0; n],
            busy_unit_ms: vec![0; n],
            cost: vec![0.0; n],
            money: Money::default(),
            slashes: 0,
            wasted_unit_ms: 0,
            total_unit_ms: 0,
            capacity_violations: 0,
            double_serves: 0,
            block_ms,
        }
    }

    /// Runs until every ask has ended.
    pub(crate) fn run(&mut self, mech: &mut dyn Mechanism, progress: Progress<'_>) {
        let total = self.world.asks.len() as u64;
        let mut arrived = 0u64;
        let mut last_round = 0u64;
        // Continuous mode still needs clock ticks for mechanisms whose state moves with time (Dutch prices).
        let tick = if self.block_ms == 0 {
            1000
        } else {
            self.block_ms
        };
        loop {
            let next_ev = self.queue.peek().map(|Reverse((t, ..))| *t);
            let idle = mech.idle();
            let next_round = if self.block_ms > 0 {
                // Skip empty blocks: nothing changes before the next event.
                let from = if idle {
                    next_ev.unwrap_or(NEVER).max(last_round + 1)
                } else {
                    self.now.max(last_round + 1)
                };
                if from == NEVER {
                    NEVER
                } else {
                    from.div_ceil(tick).saturating_mul(tick)
                }
            } else if idle {
                NEVER
            } else {
                last_round.max(self.now) + tick
            };
            match next_ev {
                Some(t) if t <= next_round => {
                    self.now = t;
                    while let Some(&Reverse((t2, _, ev))) = self.queue.peek() {
                        if t2 != t {
                            break;
                        }
                        self.queue.pop();
                        match ev {
                            Ev::Arrive(a) => {
                                arrived += 1;
                                if arrived.is_multiple_of(16_384) {
                                    progress(arrived, total);
                                }
                                mech.arrive(self, a);
                            }
                            Ev::TaskEnd(id) => {
                                self.end_task(id);
                                mech.task_end(self, id);
                                let task = &self.tasks[id as usize];
                                if !task.used {
                                    self.wasted_unit_ms += task.work_ms * task.compute;
                                }
                            }
                        }
                    }
                    if self.block_ms == 0 || t == next_round {
                        mech.round(self);
                        last_round = t;
                    }
                }
                _ if next_round != NEVER => {
                    self.now = next_round;
                    mech.round(self);
                    last_round = next_round;
                }
                _ => break,
            }
        }
        progress(total, total);
    }

    /// Length of a round: the block time, or 1 s in continuous mode.
    pub(crate) const fn tick_ms(&self) -> u64 {
        if self.block_ms == 0 {
            1000
        } else {
            self.block_ms
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, ev)));
    }

    /// Whether generator `g` has the free compute and stake for a task of market `m` (the capacity rules
    /// every staked mechanism shares; `lock` false for mechanisms without collateral).
    pub(crate) fn fits(&self, g: u32, m: u16, lock: bool) -> bool {
        let market = &self.world.markets[m as usize];
        let gi = g as usize;
        if self.used[gi] + market.compute > self.world.gens[gi].capacity {
            return false;
        }
        !lock
            || (self.stake[gi] >= market.min_stake
                && self.stake[gi].saturating_sub(self.locked[gi]) >= market.penalty)
    }

    /// The outcome of `generator` working on `ask` (attempt `attempt` of that pair), the same in every mechanism.
    pub(crate) fn outcome(&self, ask: u32, generator: u32, attempt: u32, offer: &Offer) -> Outcome {
        let w = self.world;
        if self.withholding[generator as usize] {
            return Outcome {
                mode: Mode::Withhold,
                duration_ms: 0,
            };
        }
        let mut rng = Rng::keyed(
            w.seed,
            STREAM_TASKS,
            u64::from(ask),
            (u64::from(generator) << 16) | u64::from(attempt),
        );
        let u = rng.unit();
        let mode = if u < w.crash {
            Mode::Crash
        } else if u < w.crash + w.late {
            Mode::Late
        } else if u < w.crash + w.late + w.dishonest {
            Mode::Invalid
        } else {
            Mode::Ok
        };
        let factor = match w.service {
            Service::Exponential => rng.exp(1.0),
            Service::Lognormal => {
                let s = w.service_sigma;
                (s * rng.normal() - s * s / 2.0).exp()
            }
        };
        let mut d = offer.expected_ms as f64 * factor;
        match mode {
            Mode::Late => d *= w.late_factor,
            Mode::Crash => d *= rng.unit(),
            _ => {}
        }
        Outcome {
            mode,
            duration_ms: (d.round() as u64).max(1),
        }
    }

    /// Starts a task (see [`Start`]). Records a capacity violation if the generator lacks the compute or stake.
    pub(crate) fn start(&mut self, s: Start) -> u32 {
        let Start {
            ask,
            generator,
            lock,
            out,
            deadline,
            cut,
            price,
        } = s;
        let m = self.world.asks[ask as usize].market;
        let compute = self.world.markets[m as usize].compute;
        let gi = generator as usize;
        if self.used[gi] + compute > self.world.gens[gi].capacity
            || self.locked[gi] + lock > self.stake[gi]
        {
            self.capacity_violations += 1;
        }
        self.used[gi] += compute;
        self.locked[gi] += lock;
        let now = self.now;
        let proof_at = now.saturating_add(out.duration_ms);
        let in_time = out.proves() && proof_at <= deadline;
        let (mut end, mut valid) = if in_time {
            (proof_at, true)
        } else {
            (deadline.max(now), false)
        };
        if cut < end {
            (end, valid) = (cut, false);
        }
        let work_ms = match out.mode {
            Mode::Withhold => 0,
            _ => out.duration_ms.min(end - now),
        };
        if self.assigned_at[ask as usize] == NEVER {
            self.assigned_at[ask as usize] = now;
        }
        let id = self.tasks.len() as u32;
        self.tasks.push(Task {
            ask,
            generator,
            start: now,
            end,
            compute,
            lock,
            valid,
            work_ms,
            used: false,
            price,
        });
        self.push(end, Ev::TaskEnd(id));
        id
    }

    fn end_task(&mut self, id: u32) {
        let t = self.tasks[id as usize];
        let gi = t.generator as usize;
        self.used[gi] -= t.compute;
        self.locked[gi] -= t.lock;
        let held = (t.end - t.start) * t.compute;
        self.busy_unit_ms[gi] += held;
        let spent = t.work_ms * t.compute;
        self.total_unit_ms += spent;
        self.cost[gi] += spent as f64 * self.world.gens[gi].cost_per_unit_ms;
    }

    /// Task `task`'s proof serves its ask now; the requester pays `price` to the generator.
    pub(crate) fn serve(&mut self, task: u32, price: u128) {
        let t = &mut self.tasks[task as usize];
        t.used = true;
        let (ask, generator) = (t.ask as usize, t.generator as usize);
        if self.served_at[ask] != NEVER {
            self.double_serves += 1;
            return;
        }
        self.served_at[ask] = self.now;
        self.paid[ask] += price;
        self.revenue[generator] += price;
        self.money.requesters_paid += price;
        self.money.generators_revenue += price;
    }

    /// Takes `amount` of `generator`'s stake (at most what it has): `to_requester` of it to the requester,
    /// `bounty` to generator `bounty_to`, the rest to the treasury. Returns the amount taken.
    pub(crate) fn slash(&mut self, generator: u32, amount: u128, requester_share: f64) -> u128 {
        let gi = generator as usize;
        let taken = amount.min(self.stake[gi]);
        self.stake[gi] -= taken;
        self.gen_slashed[gi] += taken;
        self.slashes += 1;
        self.money.slashed += taken;
        let to_requester = ((taken as f64) * requester_share).floor() as u128;
        self.money.compensation += to_requester;
        self.money.treasury += taken - to_requester;
        taken
    }

    /// Moves `amount` of slashed stake already counted in the treasury to generator `generator` as a bounty.
    pub(crate) fn bounty(&mut self, generator: u32, amount: u128) {
        let amount = amount.min(self.money.treasury);
        self.money.treasury -= amount;
        self.money.bounties += amount;
        self.revenue[generator as usize] += amount;
    }

    /// Moves `amount` of compensation held for a requester to the treasury (the ask was never proven).
    pub(crate) fn forfeit_compensation(&mut self, amount: u128) {
        let amount = amount.min(self.money.compensation);
        self.money.compensation -= amount;
        self.money.treasury += amount;
    }
}
