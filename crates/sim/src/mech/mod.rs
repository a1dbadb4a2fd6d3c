//! The mechanisms: how asks meet generators.

mod book;
mod dutch;
mod pool;
mod race;
mod rotation;
mod sealed;

use crate::{
    Mechanism,
    core::{Core, Progress},
    scenario::Scenario,
};

/// Runs `mechanism` on the core's world until every ask has ended.
pub(crate) fn run(core: &mut Core<'_>, s: &Scenario, mechanism: Mechanism, progress: Progress<'_>) {
    let p = &s.mechanisms;
    let share = p.slash_requester_share;
    match mechanism {
        Mechanism::OrderBook => {
            let mut m = book::OrderBook::new(core, share);
            core.run(&mut m, progress);
            m.settle(core);
        }
        Mechanism::ProofRace => core.run(&mut race::Race::new(p.race_max_racers), progress),
        Mechanism::RoundRobin => core.run(
            &mut rotation::Rotation::new(core, p.rotation_window, p.rotation_scan, share),
            progress,
        ),
        Mechanism::DutchAuction => {
            let mut m = dutch::Dutch::new(
                core,
                p.dutch_start,
                p.dutch_ramp_seconds,
                p.dutch_lock_fraction,
                p.dutch_bounty_share,
            );
            core.run(&mut m, progress);
        }
        Mechanism::SealedFirstPrice | Mechanism::SealedSecondPrice => {
            let window = p.sealed_rounds * s.block_time_ms;
            let second = mechanism == Mechanism::SealedSecondPrice;
            let mut m = sealed::Sealed::new(core, second, window, share);
            core.run(&mut m, progress);
        }
    }
}
