//! Scenarios: the market to simulate, read from TOML. Every field has a default (the "internet scale" day of
//! the issue: 10,000 generators, 1,000,000 asks), so a scenario file states only what it changes.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A whole simulated market.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Name shown in results.
    pub name: String,
    /// Seed of every random draw (same seed, same results).
    pub seed: u64,
    /// Simulated hours of arrivals (the run continues until every ask has ended).
    pub hours: f64,
    /// Asks per 24 hours, before the load curve and bursts shape them.
    pub asks_per_day: f64,
    /// Matching rounds: one block every `block_time_ms` (assignments, auctions and locks happen at blocks);
    /// 0 = continuous (every event is its own round, for queueing-theory checks).
    pub block_time_ms: u64,
    /// The k values (largest generators colluding to withhold proofs) that `compare` measures.
    pub withholding_k: Vec<usize>,
    /// The generator population.
    pub generators: Generators,
    /// The demand.
    pub asks: Asks,
    /// The markets (circuit sizes).
    pub markets: Vec<MarketSpec>,
    /// Mechanism parameters.
    pub mechanisms: MechanismParams,
}

/// A log-normal draw: `median * exp(sigma * N(0,1))` (exactly `median` when `sigma` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogNormal {
    /// Median.
    pub median: f64,
    /// Shape (0 = constant).
    pub sigma: f64,
}

impl LogNormal {
    /// `median` with shape `sigma`.
    pub const fn new(median: f64, sigma: f64) -> Self {
        Self { median, sigma }
    }
}

/// How long a proof takes around its expected time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// Exponential with the expected time as mean (M/M/c checks).
    Exponential,
    /// Log-normal with mean 1 times the expected time, shape `service_sigma`.
    Lognormal,
}

/// Generators: how many, and the distributions of their parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Generators {
    /// Number of generators.
    pub count: usize,
    /// Proving speed relative to the reference machine (proof time = market work / speed).
    pub speed: LogNormal,
    /// Cost of one second of proving at speed 1, in tokens (a generator's cost per second is this times
    /// `speed ^ speed_cost_exponent`: faster machines cost more per second).
    pub cost_per_second: LogNormal,
    /// Exponent linking speed to cost per second.
    pub speed_cost_exponent: f64,
    /// Concurrent proofs a generator can run (uniform in `capacity_min..=capacity_max`), in compute units of
    /// a `compute = 1` market.
    pub capacity_min: u64,
    /// See `capacity_min`.
    pub capacity_max: u64,
    /// Stake, in tokens.
    pub stake: LogNormal,
    /// Quoted proving time = expected time times this factor (the generator's promise, its task deadline).
    pub time_safety: f64,
    /// Distribution of a proof's duration around the expected time.
    pub service: Service,
    /// Shape of a log-normal service time.
    pub service_sigma: f64,
    /// Probability that a task's generator crashes (no proof).
    pub crash: f64,
    /// Probability that a task's proof takes `late_factor` times longer than drawn (usually past its deadline).
    pub late: f64,
    /// Slow-down of a late task.
    pub late_factor: f64,
    /// Probability that a task's proof is invalid (dishonest or faulty generator).
    pub dishonest: f64,
    /// Shares of quote strategies: cost-plus, undercutting, follow-the-market (normalised).
    pub strategy_cost_plus: f64,
    /// See `strategy_cost_plus`.
    pub strategy_undercut: f64,
    /// See `strategy_cost_plus`.
    pub strategy_follow: f64,
    /// Margin of a cost-plus generator (price = cost * (1 + margin)).
    pub margin: LogNormal,
    /// An undercutting generator quotes this fraction of the market's median cost-plus price (never below
    /// its own cost plus 1 %).
    pub undercut_factor: f64,
}

/// Demand: the ask stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Asks {
    /// Relative arrival rate for each hour of the day (any length; hour `h` uses entry `h % len`).
    pub load_curve: Vec<f64>,
    /// Bursts on top of the curve.
    pub bursts: Vec<Burst>,
    /// Share of asks with the TIME preference (the rest are COST).
    pub time_share: f64,
    /// Reward as a multiple of the market's median quote.
    pub reward: LogNormal,
    /// Time from creation to deadline as a multiple of the market's reference proving time.
    pub deadline: LogNormal,
}

/// A burst: the arrival rate is multiplied for a while.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// Start, in hours from the beginning.
    pub start_hour: f64,
    /// Length in minutes.
    pub minutes: f64,
    /// Rate multiplier.
    pub multiplier: f64,
}

/// A market (one circuit size).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    /// Name shown in results.
    pub name: String,
    /// Share of the asks.
    pub share: f64,
    /// Proving time at speed 1, in seconds.
    pub work_seconds: f64,
    /// Compute units one proof takes from a generator's capacity.
    pub compute: u64,
    /// Stake locked per task and taken on failure (tokens).
    pub slashing_penalty: f64,
    /// Minimum stake to be assigned (tokens).
    pub min_stake: f64,
    /// Probability that a generator serves this market (each generator serves at least one).
    pub join_share: f64,
}

/// Parameters of the mechanisms other than the order book (which follows the contracts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MechanismParams {
    /// Share of a slash paid to the requester (the rest goes to the treasury), for every mechanism that
    /// slashes except the Dutch auction's secondary fulfilment.
    pub slash_requester_share: f64,
    /// Proof race: generators that race one ask (chosen at random among the free ones that would profit).
    pub race_max_racers: usize,
    /// Round robin: a leader's proving window, as a multiple of the market's reference proving time.
    pub rotation_window: f64,
    /// Round robin: leaders looked at per ask and round before the ask waits for the next round.
    pub rotation_scan: usize,
    /// Dutch auction: starting price as a fraction of the reward (the price rises linearly to the reward).
    pub dutch_start: f64,
    /// Dutch auction: seconds of the price ramp.
    pub dutch_ramp_seconds: f64,
    /// Dutch auction: lock timeout as a fraction of the time from creation to deadline.
    pub dutch_lock_fraction: f64,
    /// Dutch auction: share of the slashed collateral paid to whoever proves a request after its lock
    /// expired (the rest is burned: to the treasury here).
    pub dutch_bounty_share: f64,
    /// Sealed-bid auctions: rounds (blocks) bids are collected before the auction closes.
    pub sealed_rounds: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: "default".into(),
            seed: 1,
            hours: 24.0,
            asks_per_day: 1_000_000.0,
            block_time_ms: 2_000,
            withholding_k: vec![0, 1, 10, 100],
            generators: Generators::default(),
            asks: Asks::default(),
            markets: vec![
                MarketSpec {
                    name: "small".into(),
                    share: 0.6,
                    work_seconds: 60.0,
                    compute: 1,
                    slashing_penalty: 0.2,
                    min_stake: 5.0,
                    join_share: 0.8,
                },
                MarketSpec {
                    name: "medium".into(),
                    share: 0.3,
                    work_seconds: 300.0,
                    compute: 2,
                    slashing_penalty: 1.0,
                    min_stake: 20.0,
                    join_share: 0.6,
                },
                MarketSpec {
                    name: "large".into(),
                    share: 0.1,
                    work_seconds: 1200.0,
                    compute: 2,
                    slashing_penalty: 5.0,
                    min_stake: 100.0,
                    join_share: 0.3,
                },
            ],
            mechanisms: MechanismParams::default(),
        }
    }
}

impl Default for Generators {
    fn default() -> Self {
        Self {
            count: 10_000,
            speed: LogNormal::new(1.0, 0.5),
            cost_per_second: LogNormal::new(0.0005, 0.3),
            speed_cost_exponent: 0.8,
            capacity_min: 1,
            capacity_max: 4,
            stake: LogNormal::new(500.0, 1.2),
            time_safety: 2.0,
            service: Service::Lognormal,
            service_sigma: 0.25,
            crash: 0.002,
            late: 0.005,
            late_factor: 3.0,
            dishonest: 0.001,
            strategy_cost_plus: 0.6,
            strategy_undercut: 0.2,
            strategy_follow: 0.2,
            margin: LogNormal::new(0.3, 0.5),
            undercut_factor: 0.9,
        }
    }
}

impl Default for Asks {
    fn default() -> Self {
        Self {
            // A day with a night trough and an afternoon peak (relative rates per hour, UTC).
            load_curve: vec![
                0.5, 0.4, 0.35, 0.35, 0.4, 0.5, 0.7, 0.9, 1.1, 1.2, 1.3, 1.35, 1.4, 1.45, 1.5, 1.5,
                1.45, 1.4, 1.3, 1.2, 1.0, 0.85, 0.7, 0.6,
            ],
            bursts: vec![Burst {
                start_hour: 14.0,
                minutes: 30.0,
                multiplier: 3.0,
            }],
            time_share: 0.3,
            reward: LogNormal::new(2.0, 0.4),
            deadline: LogNormal::new(6.0, 0.5),
        }
    }
}

impl Default for MechanismParams {
    fn default() -> Self {
        Self {
            slash_requester_share: 0.5,
            race_max_racers: 8,
            rotation_window: 4.0,
            rotation_scan: 256,
            dutch_start: 0.1,
            dutch_ramp_seconds: 60.0,
            dutch_lock_fraction: 0.5,
            dutch_bounty_share: 0.5,
            sealed_rounds: 1,
        }
    }
}

impl Scenario {
    /// Parses and validates a scenario from TOML.
    pub fn from_toml(text: &str) -> Result<Self> {
        let scenario: Self = toml::from_str(text).map_err(|e| Error::Parse(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks every parameter's range, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str| Err(Error::Invalid(format!("{field}: {why}")));
        let g = &self.generators;
        let positive = [
            ("hours", self.hours),
            ("asks_per_day", self.asks_per_day),
            ("generators.speed.median", g.speed.median),
            (
                "generators.cost_per_second.median",
                g.cost_per_second.median,
            ),
            ("generators.stake.median", g.stake.median),
            ("generators.time_safety", g.time_safety),
            ("generators.late_factor", g.late_factor),
            ("generators.undercut_factor", g.undercut_factor),
            ("asks.reward.median", self.asks.reward.median),
            ("asks.deadline.median", self.asks.deadline.median),
            (
                "mechanisms.rotation_window",
                self.mechanisms.rotation_window,
            ),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(field, "must be a positive number");
            }
        }
        let shares = [
            ("generators.crash", g.crash),
            ("generators.late", g.late),
            ("generators.dishonest", g.dishonest),
            ("asks.time_share", self.asks.time_share),
            (
                "mechanisms.slash_requester_share",
                self.mechanisms.slash_requester_share,
            ),
            ("mechanisms.dutch_start", self.mechanisms.dutch_start),
            (
                "mechanisms.dutch_lock_fraction",
                self.mechanisms.dutch_lock_fraction,
            ),
            (
                "mechanisms.dutch_bounty_share",
                self.mechanisms.dutch_bounty_share,
            ),
        ];
        for (field, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, "must be between 0 and 1");
            }
        }
        let non_negative = [
            ("generators.speed.sigma", g.speed.sigma),
            ("generators.cost_per_second.sigma", g.cost_per_second.sigma),
            ("generators.stake.sigma", g.stake.sigma),
            ("generators.margin.median", g.margin.median),
            ("generators.margin.sigma", g.margin.sigma),
            ("generators.service_sigma", g.service_sigma),
            ("generators.speed_cost_exponent", g.speed_cost_exponent),
            ("generators.strategy_cost_plus", g.strategy_cost_plus),
            ("generators.strategy_undercut", g.strategy_undercut),
            ("generators.strategy_follow", g.strategy_follow),
            ("asks.reward.sigma", self.asks.reward.sigma),
            ("asks.deadline.sigma", self.asks.deadline.sigma),
            (
                "mechanisms.dutch_ramp_seconds",
                self.mechanisms.dutch_ramp_seconds,
            ),
        ];
        for (field, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, "must be a non-negative number");
            }
        }
        if g.crash + g.late + g.dishonest > 1.0 {
            return bad("generators", "crash + late + dishonest must not exceed 1");
        }
        if g.strategy_cost_plus + g.strategy_undercut + g.strategy_follow <= 0.0 {
            return bad(
                "generators",
                "at least one quote strategy needs a positive share",
            );
        }
        if g.count == 0 || g.count > 1_000_000 {
            return bad("generators.count", "must be between 1 and 1,000,000");
        }
        if g.capacity_min == 0 || g.capacity_max < g.capacity_min {
            return bad(
                "generators.capacity_min",
                "must be at least 1 and at most capacity_max",
            );
        }
        if self.asks_per_day * self.hours / 24.0 > 50_000_000.0 {
            return bad("asks_per_day", "more than 50 million asks in one run");
        }
        if self.asks.load_curve.is_empty()
            || self
                .asks
                .load_curve
                .iter()
                .any(|v| !(v.is_finite() && *v >= 0.0))
            || self.asks.load_curve.iter().sum::<f64>() <= 0.0
        {
            return bad(
                "asks.load_curve",
                "needs at least one entry, all non-negative, not all zero",
            );
        }
        for b in &self.asks.bursts {
            if !(b.start_hour >= 0.0 && b.minutes > 0.0 && b.multiplier > 0.0) {
                return bad(
                    "asks.bursts",
                    "start_hour >= 0, minutes > 0 and multiplier > 0",
                );
            }
        }
        if self.markets.is_empty() || self.markets.len() > 64 {
            return bad("markets", "between 1 and 64 markets");
        }
        for m in &self.markets {
            if !(m.share >= 0.0 && m.share.is_finite()) {
                return bad(&format!("markets.{}.share", m.name), "must be non-negative");
            }
            if !(m.work_seconds > 0.0 && m.work_seconds.is_finite()) {
                return bad(
                    &format!("markets.{}.work_seconds", m.name),
                    "must be positive",
                );
            }
            if m.compute == 0 || m.compute > g.capacity_max {
                return bad(
                    &format!("markets.{}.compute", m.name),
                    "must be at least 1 and fit the largest capacity",
                );
            }
            if !(m.slashing_penalty >= 0.0 && m.min_stake >= 0.0) {
                return bad(
                    &format!("markets.{}", m.name),
                    "penalty and minimum stake must be non-negative",
                );
            }
            if !(0.0..=1.0).contains(&m.join_share) {
                return bad(
                    &format!("markets.{}.join_share", m.name),
                    "must be between 0 and 1",
                );
            }
        }
        if self.markets.iter().map(|m| m.share).sum::<f64>() <= 0.0 {
            return bad("markets", "the shares must not all be zero");
        }
        if self.mechanisms.race_max_racers == 0 || self.mechanisms.rotation_scan == 0 {
            return bad(
                "mechanisms",
                "race_max_racers and rotation_scan must be at least 1",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_partial_files_fill_in() {
        Scenario::default().validate().unwrap();
        let s = Scenario::from_toml("name = \"x\"\n[generators]\ncount = 5\n").unwrap();
        assert_eq!((s.name.as_str(), s.generators.count), ("x", 5));
        assert_eq!(s.asks_per_day, 1_000_000.0);
    }

    #[test]
    fn bad_files_name_the_field() {
        let err = Scenario::from_toml("[generators]\ncrash = 2.0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid scenario: generators.crash: must be between 0 and 1"
        );
        let err = Scenario::from_toml("[generators]\ncapacity = 3\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `capacity`"),
            "{err}"
        );
    }
}
