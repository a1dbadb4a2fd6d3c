#![doc = include_str!("../README.md")]

mod core;
mod mech;
#[cfg(feature = "plot")]
pub mod plot;
mod report;
mod rng;
pub mod scenario;
mod world;

pub use core::Progress;
pub use report::{Hour, MoneyReport, Quantiles, Report};
pub use scenario::Scenario;

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is not valid TOML for a scenario.
    #[error("cannot read the scenario: {0}")]
    Parse(String),
    /// A scenario parameter is out of range.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// An unknown mechanism name.
    #[error("unknown mechanism {0:?} (expected one of: {names})", names = Mechanism::names())]
    UnknownMechanism(String),
    /// Writing a plot failed.
    #[error("cannot write plot {path}: {message}")]
    Plot {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Result of the simulator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How asks meet generators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// This project's order book: the real `kalypso-matching` core, COST/TIME preference, slashing and
    /// re-matching as the contracts define them.
    OrderBook,
    /// Every (sampled) free generator proves; the first valid proof wins the reward.
    ProofRace,
    /// Leader rotation: generators take asks in turn at the posted reward.
    RoundRobin,
    /// Reverse Dutch auction with lock collateral (Boundless-style).
    DutchAuction,
    /// Sealed-bid auction, first price (Succinct-style).
    SealedFirstPrice,
    /// Sealed-bid auction, second price.
    SealedSecondPrice,
}

impl Mechanism {
    /// Every mechanism, in report order.
    pub const ALL: [Self; 6] = [
        Self::OrderBook,
        Self::ProofRace,
        Self::RoundRobin,
        Self::DutchAuction,
        Self::SealedFirstPrice,
        Self::SealedSecondPrice,
    ];

    /// The name used in files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OrderBook => "order-book",
            Self::ProofRace => "proof-race",
            Self::RoundRobin => "round-robin",
            Self::DutchAuction => "dutch-auction",
            Self::SealedFirstPrice => "sealed-first-price",
            Self::SealedSecondPrice => "sealed-second-price",
        }
    }

    fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mechanism {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| Error::UnknownMechanism(s.to_owned()))
    }
}

/// A scenario with its world drawn (generators, offers, asks): run it under any mechanism; every run sees the
/// same world and the same proof outcomes.
#[derive(Clone, Debug)]
pub struct Simulation {
    scenario: Scenario,
    world: world::World,
}

impl Simulation {
    /// Draws the world of a (validated) scenario.
    pub fn new(scenario: Scenario) -> Result<Self> {
        scenario.validate()?;
        let world = world::World::new(&scenario);
        Ok(Self { scenario, world })
    }

    /// The scenario.
    pub const fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Asks in the drawn world.
    pub fn asks(&self) -> usize {
        self.world.asks.len()
    }

    /// The `k` largest generators (by capacity times speed): those that collude in withholding runs.
    fn largest(&self, k: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.world.gens.len() as u32).collect();
        order.sort_by(|&a, &b| {
            let (ga, gb) = (&self.world.gens[a as usize], &self.world.gens[b as usize]);
            gb.size.total_cmp(&ga.size).then(a.cmp(&b))
        });
        order.truncate(k);
        order
    }

    /// Runs one mechanism with the `withheld` largest generators withholding every proof they take on;
    /// `progress` hears (asks created so far, total) now and then.
    pub fn run(&self, mechanism: Mechanism, withheld: usize, progress: Progress<'_>) -> Report {
        let colluders = self.largest(withheld);
        let mut core = core::Core::new(&self.world, self.scenario.block_time_ms, &colluders);
        mech::run(&mut core, &self.scenario, mechanism, progress);
        report::build(&core, &self.scenario.name, mechanism, withheld)
    }

    /// Runs every mechanism, then every mechanism with each of the scenario's `withholding_k` colluders;
    /// `progress` hears (asks simulated so far, total over all runs).
    pub fn compare(&self, progress: Progress<'_>) -> Comparison {
        let ks: Vec<usize> = self
            .scenario
            .withholding_k
            .iter()
            .copied()
            .filter(|&k| k > 0)
            .collect();
        let per_run = self.asks() as u64;
        let runs = Mechanism::ALL.len() * (1 + ks.len());
        let total = per_run * runs as u64;
        let mut done = 0u64;
        let mut reports = Vec::new();
        let mut withholding = Vec::new();
        for mechanism in Mechanism::ALL {
            let r = self.run(mechanism, 0, &mut |n, _| progress(done + n, total));
            done += per_run;
            withholding.push(WithholdingPoint {
                mechanism,
                k: 0,
                served_share: r.served_share,
                slashes: r.slashes,
            });
            reports.push(r);
            for &k in &ks {
                let r = self.run(mechanism, k, &mut |n, _| progress(done + n, total));
                done += per_run;
                withholding.push(WithholdingPoint {
                    mechanism,
                    k,
                    served_share: r.served_share,
                    slashes: r.slashes,
                });
            }
        }
        Comparison {
            scenario: self.scenario.clone(),
            reports,
            withholding,
        }
    }
}

/// One point of a withholding curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WithholdingPoint {
    /// Mechanism.
    pub mechanism: Mechanism,
    /// Largest generators colluding.
    pub k: usize,
    /// Share of asks still proven by their deadline.
    pub served_share: f64,
    /// Slashes in that run.
    pub slashes: u64,
}

/// Every mechanism on one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The scenario as run (defaults filled in).
    pub scenario: Scenario,
    /// One report per mechanism, nobody withholding.
    pub reports: Vec<Report>,
    /// Served share per mechanism and number of withholding generators.
    pub withholding: Vec<WithholdingPoint>,
}
