//! What a run measured, computed from the core's accounting at the end.

use crate::{
    Mechanism,
    core::{Core, NEVER},
    world::UNIT,
};
use serde::{Deserialize, Serialize};

/// Tokens from base units.
fn tokens(v: u128) -> f64 {
    v as f64 / UNIT
}

/// Three quantiles of a distribution (seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

/// Money flows of a run, in tokens. Conservation: `requesters_paid == generators_revenue` and
/// `slashed == compensation + treasury + bounties`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MoneyReport {
    /// Paid by requesters for proofs.
    pub requesters_paid: f64,
    /// Received by generators for proofs.
    pub generators_revenue: f64,
    /// Stake taken by slashes.
    pub slashed: f64,
    /// Slashed stake paid to requesters.
    pub compensation: f64,
    /// Slashed stake to the treasury (or burned).
    pub treasury: f64,
    /// Slashed stake paid to generators that proved a failed request.
    pub bounties: f64,
    /// Exact conservation check on the base-unit integers.
    pub conserved: bool,
}

/// One hour of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hour {
    /// Hour index from the start.
    pub hour: u32,
    /// Asks created in it.
    pub asks: u64,
    /// Of those, proven by their deadline.
    pub served: u64,
}

/// The measures of one run of one mechanism.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Mechanism.
    pub mechanism: Mechanism,
    /// Seed.
    pub seed: u64,
    /// Largest generators withholding proofs (0 = nobody colludes).
    pub withheld: usize,
    /// Asks created.
    pub asks: u64,
    /// Generators.
    pub generators: u64,
    /// Asks proven by their deadline.
    pub served: u64,
    /// Share of asks proven by their deadline.
    pub served_share: f64,
    /// Asks not proven by their deadline (refunded).
    pub missed: u64,
    /// Mean price a requester paid per proof (tokens).
    pub cost_per_proof: f64,
    /// Mean of (price paid / reward) over proven asks.
    pub price_to_reward: f64,
    /// Mean price per proof of COST asks (tokens).
    pub cost_per_proof_cost_asks: f64,
    /// Time from creation to proof of proven asks (seconds).
    pub time_to_proof: Quantiles,
    /// Time to proof of TIME asks (seconds).
    pub time_to_proof_time_asks: Quantiles,
    /// Time from creation to first assignment (lock, race start) of assigned asks (seconds).
    pub time_to_assign: Quantiles,
    /// Slashes.
    pub slashes: u64,
    /// Share of all compute spent on proofs thrown away (lost races, late, failed).
    pub wasted_compute_share: f64,
    /// Compute thrown away, in compute-unit hours.
    pub wasted_compute_hours: f64,
    /// Compute spent, in compute-unit hours.
    pub compute_hours: f64,
    /// Share of all generators' capacity held by tasks over the arrival period.
    pub utilisation: f64,
    /// Utilisation of the median generator.
    pub utilisation_median: f64,
    /// Sum over generators of revenue minus proving cost minus slashed stake (tokens).
    pub generator_profit: f64,
    /// Share of generators with a positive profit.
    pub generators_profitable: f64,
    /// Share of generators that earned anything.
    pub generators_earning: f64,
    /// Gini coefficient of generator revenue (0 = equal, 1 = one takes all).
    pub gini: f64,
    /// Share of revenue earned by the 10 top-earning generators.
    pub top10_share: f64,
    /// Money flows.
    pub money: MoneyReport,
    /// Assignments beyond a generator's compute or stake (0 for every correct mechanism).
    pub capacity_violations: u64,
    /// Asks paid twice (0 for every correct mechanism).
    pub double_serves: u64,
    /// Asks whose requester paid more than the reward (0 for every correct mechanism).
    pub overpaid: u64,
    /// Per hour: asks and how many were proven in time.
    pub hourly: Vec<Hour>,
    /// Time to proof at quantiles 0.005, 0.015, ... 0.995 (200 points, seconds) for CDF plots.
    pub time_to_proof_curve: Vec<f64>,
    /// Lorenz curve of revenue: cumulative share of revenue of the poorest 0 %, 1 %, ..., 100 % of generators.
    pub lorenz: Vec<f64>,
}

fn quantiles(sorted: &[u64]) -> Quantiles {
    if sorted.is_empty() {
        return Quantiles::default();
    }
    let q = |p: f64| {
        let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i] as f64 / 1000.0
    };
    Quantiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        mean: sorted.iter().map(|&v| v as f64).sum::<f64>() / sorted.len() as f64 / 1000.0,
    }
}

/// Gini coefficient of non-negative values.
pub(crate) fn gini(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let total: f64 = v.iter().sum();
    if v.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let weighted: f64 = v
        .iter()
        .enumerate()
        .map(|(i, x)| (i as f64 + 1.0) * x)
        .sum();
    (2.0 * weighted) / (n * total) - (n + 1.0) / n
}

pub(crate) fn build(
    core: &Core<'_>,
    scenario: &str,
    mechanism: Mechanism,
    withheld: usize,
) -> Report {
    let w = core.world;
    let n = w.asks.len();
    let mut ttp = Vec::new();
    let mut ttp_time = Vec::new();
    let mut assign = Vec::new();
    let (mut ratio, mut cost_asks_paid, mut cost_asks_served) = (0.0, 0u128, 0u64);
    let hours = (w.horizon_ms.div_ceil(3_600_000)).max(1) as usize;
    let mut hourly: Vec<Hour> = (0..hours)
        .map(|h| Hour {
            hour: h as u32,
            ..Hour::default()
        })
        .collect();
    for (i, a) in w.asks.iter().enumerate() {
        let h = ((a.created / 3_600_000) as usize).min(hours - 1);
        hourly[h].asks += 1;
        if core.assigned_at[i] != NEVER {
            assign.push(core.assigned_at[i] - a.created);
        }
        if core.served_at[i] != NEVER {
            hourly[h].served += 1;
            let d = core.served_at[i] - a.created;
            ttp.push(d);
            if a.time {
                ttp_time.push(d);
            } else {
                cost_asks_paid += core.paid[i];
                cost_asks_served += 1;
            }
            ratio += core.paid[i] as f64 / a.reward as f64;
        }
    }
    let served = ttp.len() as u64;
    ttp.sort_unstable();
    ttp_time.sort_unstable();
    assign.sort_unstable();
    let curve = if ttp.is_empty() {
        Vec::new()
    } else {
        (0..200)
            .map(|i| {
                let p = (i as f64 + 0.5) / 200.0;
                ttp[((ttp.len() as f64 * p) as usize).min(ttp.len() - 1)] as f64 / 1000.0
            })
            .collect()
    };
    let ng = w.gens.len();
    let revenue: Vec<f64> = core.revenue.iter().map(|&r| tokens(r)).collect();
    let profit: Vec<f64> = (0..ng)
        .map(|g| revenue[g] - core.cost[g] / UNIT - tokens(core.gen_slashed[g]))
        .collect();
    let mut sorted_rev = revenue.clone();
    sorted_rev.sort_by(|a, b| b.total_cmp(a));
    let total_rev: f64 = sorted_rev.iter().sum();
    let top10 = if total_rev > 0.0 {
        sorted_rev.iter().take(10).sum::<f64>() / total_rev
    } else {
        0.0
    };
    sorted_rev.reverse();
    let lorenz = (0..=100)
        .map(|pct| {
            if total_rev <= 0.0 {
                return pct as f64 / 100.0;
            }
            let k = (ng * pct) / 100;
            sorted_rev[..k].iter().sum::<f64>() / total_rev
        })
        .collect();
    let horizon = w.horizon_ms.max(1) as f64;
    let mut util: Vec<f64> = (0..ng)
        .map(|g| core.busy_unit_ms[g] as f64 / (w.gens[g].capacity as f64 * horizon))
        .collect();
    let total_capacity: f64 = w.gens.iter().map(|g| g.capacity as f64 * horizon).sum();
    let utilisation = core.busy_unit_ms.iter().map(|&b| b as f64).sum::<f64>() / total_capacity;
    util.sort_by(f64::total_cmp);
    let m = &core.money;
    let money = MoneyReport {
        requesters_paid: tokens(m.requesters_paid),
        generators_revenue: tokens(m.generators_revenue),
        slashed: tokens(m.slashed),
        compensation: tokens(m.compensation),
        treasury: tokens(m.treasury),
        bounties: tokens(m.bounties),
        conserved: m.requesters_paid == m.generators_revenue
            && m.slashed == m.compensation + m.treasury + m.bounties
            && core.revenue.iter().sum::<u128>() == m.generators_revenue + m.bounties
            && core.gen_slashed.iter().sum::<u128>() == m.slashed
            && core.paid.iter().sum::<u128>() == m.requesters_paid,
    };
    let per = |v: f64, d: u64| if d == 0 { 0.0 } else { v / d as f64 };
    Report {
        scenario: scenario.to_owned(),
        mechanism,
        seed: w.seed,
        withheld,
        asks: n as u64,
        generators: ng as u64,
        served,
        served_share: per(served as f64, n as u64),
        missed: n as u64 - served,
        cost_per_proof: per(tokens(m.requesters_paid), served),
        price_to_reward: per(ratio, served),
        cost_per_proof_cost_asks: per(tokens(cost_asks_paid), cost_asks_served),
        time_to_proof: quantiles(&ttp),
        time_to_proof_time_asks: quantiles(&ttp_time),
        time_to_assign: quantiles(&assign),
        slashes: core.slashes,
        wasted_compute_share: if core.total_unit_ms == 0 {
            0.0
        } else {
            core.wasted_unit_ms as f64 / core.total_unit_ms as f64
        },
        wasted_compute_hours: core.wasted_unit_ms as f64 / 3.6e6,
        compute_hours: core.total_unit_ms as f64 / 3.6e6,
        utilisation,
        utilisation_median: util.get(ng / 2).copied().unwrap_or(0.0),
        generator_profit: profit.iter().sum(),
        generators_profitable: per(
            profit.iter().filter(|&&p| p > 0.0).count() as f64,
            ng as u64,
        ),
        generators_earning: per(
            revenue.iter().filter(|&&r| r > 0.0).count() as f64,
            ng as u64,
        ),
        gini: gini(&revenue),
        top10_share: top10,
        money,
        capacity_violations: core.capacity_violations,
        double_serves: core.double_serves,
        overpaid: w
            .asks
            .iter()
            .zip(&core.paid)
            .filter(|(a, p)| **p > a.reward)
            .count() as u64,
        hourly,
        time_to_proof_curve: curve,
        lorenz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_of_known_distributions() {
        assert_eq!(gini(&[1.0, 1.0, 1.0, 1.0]), 0.0);
        // One of n takes everything: (n - 1) / n.
        assert!((gini(&[0.0, 0.0, 0.0, 4.0]) - 0.75).abs() < 1e-12);
        assert!((gini(&[1.0, 2.0, 3.0, 4.0]) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|s| s * 1000).collect();
        let q = quantiles(&v);
        assert_eq!((q.p50, q.p90, q.p99), (50.0, 90.0, 99.0));
        assert!((q.mean - 50.5).abs() < 1e-9);
    }
}
