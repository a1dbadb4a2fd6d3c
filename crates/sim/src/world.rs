//! The world a run simulates: generators with their offers per market and the stream of asks, drawn once
//! from the scenario and its seed and shared by every mechanism (common random numbers: the mechanisms see
//! the same generators, the same asks and the same proof outcomes).

use crate::{
    rng::Rng,
    scenario::{Scenario, Service},
};

/// Base units per token (amounts are integers of 10^-6 token).
pub(crate) const UNIT: f64 = 1e6;

/// Tokens to base units.
pub(crate) fn units(tokens: f64) -> u128 {
    // Amounts are non-negative and far below 2^100 base units.
    (tokens * UNIT).round().max(0.0) as u128
}

/// How a generator sets its price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Cost times (1 + its margin).
    CostPlus,
    /// Below the market's median cost-plus price.
    Undercut,
    /// At the market's median cost-plus price.
    Follow,
}

/// A generator's terms in one market.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offer {
    /// Price it asks (quote, bid, reserve), base units.
    pub(crate) price: u128,
    /// Its expected cost of one proof, base units.
    pub(crate) cost: u128,
    /// Expected proving time, ms.
    pub(crate) expected_ms: u64,
    /// Quoted proving time (its promise), ms.
    pub(crate) quoted_ms: u64,
}

/// A generator.
#[derive(Clone, Debug)]
pub(crate) struct Gen {
    /// Compute units it can use at once.
    pub(crate) capacity: u64,
    /// Initial stake, base units.
    pub(crate) stake: u128,
    /// Cost of one compute unit for one ms of proving, base units.
    pub(crate) cost_per_unit_ms: f64,
    /// Its quote strategy.
    pub(crate) strategy: Strategy,
    /// Throughput used to rank generators by size (capacity times speed).
    pub(crate) size: f64,
}

/// A market.
#[derive(Clone, Debug)]
pub(crate) struct Market {
    /// Compute units per proof.
    pub(crate) compute: u64,
    /// Stake locked per task and slashed on failure.
    pub(crate) penalty: u128,
    /// Minimum stake.
    pub(crate) min_stake: u128,
    /// Proving time at speed 1, ms.
    pub(crate) ref_ms: u64,
    /// Its generators, by index.
    pub(crate) members: Vec<u32>,
}

/// An ask.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ask {
    /// Creation time, ms.
    pub(crate) created: u64,
    /// Deadline, ms (absolute).
    pub(crate) deadline: u64,
    /// The most the requester pays, base units.
    pub(crate) reward: u128,
    /// Its market.
    pub(crate) market: u16,
    /// TIME preference (else COST).
    pub(crate) time: bool,
}

/// Generators, markets, offers and asks of one scenario and seed.
#[derive(Clone, Debug)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) gens: Vec<Gen>,
    pub(crate) markets: Vec<Market>,
    /// `offers[g * markets + m]`: generator `g`'s offer in market `m`, if it serves it.
    pub(crate) offers: Vec<Option<Offer>>,
    /// Asks in creation order.
    pub(crate) asks: Vec<Ask>,
    /// Service-time distribution.
    pub(crate) service: Service,
    pub(crate) service_sigma: f64,
    pub(crate) crash: f64,
    pub(crate) late: f64,
    pub(crate) late_factor: f64,
    pub(crate) dishonest: f64,
    /// End of arrivals, ms.
    pub(crate) horizon_ms: u64,
}

/// Random streams of the world (one per purpose, so adding draws to one leaves the others unchanged).
const STREAM_GENERATORS: u64 = 1;
const STREAM_ASKS: u64 = 2;

impl World {
    /// Draws the world of `s` with its seed.
    pub(crate) fn new(s: &Scenario) -> Self {
        let gs = &s.generators;
        let nm = s.markets.len();
        let mut rng = Rng::keyed(s.seed, STREAM_GENERATORS, 0, 0);
        let mut markets: Vec<Market> = s
            .markets
            .iter()
            .map(|m| Market {
                compute: m.compute,
                penalty: units(m.slashing_penalty),
                min_stake: units(m.min_stake),
                ref_ms: (m.work_seconds * 1000.0).round().max(1.0) as u64,
                members: Vec::new(),
            })
            .collect();
        let total_strategy = gs.strategy_cost_plus + gs.strategy_undercut + gs.strategy_follow;
        let mut gens = Vec::with_capacity(gs.count);
        // Per generator: speed and margin (offers need the market medians first).
        let mut draws = Vec::with_capacity(gs.count);
        for g in 0..gs.count {
            let speed = rng.lognormal(gs.speed.median, gs.speed.sigma).max(1e-3);
            let cost_per_s = rng.lognormal(gs.cost_per_second.median, gs.cost_per_second.sigma)
                * speed.powf(gs.speed_cost_exponent);
            let capacity = rng.range(gs.capacity_min, gs.capacity_max);
            let stake = units(rng.lognormal(gs.stake.median, gs.stake.sigma));
            let pick = rng.unit() * total_strategy;
            let strategy = if pick < gs.strategy_cost_plus {
                Strategy::CostPlus
            } else if pick < gs.strategy_cost_plus + gs.strategy_undercut {
                Strategy::Undercut
            } else {
                Strategy::Follow
            };
            let margin = rng.lognormal(gs.margin.median, gs.margin.sigma);
            let mut joined = false;
            for (m, spec) in s.markets.iter().enumerate() {
                if rng.chance(spec.join_share) {
                    markets[m].members.push(g as u32);
                    joined = true;
                }
            }
            if !joined {
                // Everyone serves at least one market: the one it fits best by chance.
                let m = rng.range(0, nm as u64 - 1) as usize;
                markets[m].members.push(g as u32);
            }
            gens.push(Gen {
                capacity,
                stake,
                cost_per_unit_ms: cost_per_s * UNIT / 1000.0,
                strategy,
                size: capacity as f64 * speed,
            });
            draws.push((speed, margin));
        }
        // Offers: cost and time from the generator, price from its strategy and the market's median cost-plus
        // price.
        let mut offers: Vec<Option<Offer>> = vec![None; gs.count * nm];
        for (m, market) in markets.iter().enumerate() {
            let mut cost_plus: Vec<u128> = Vec::with_capacity(market.members.len());
            for &g in &market.members {
                let (speed, margin) = draws[g as usize];
                let expected_ms = ((market.ref_ms as f64 / speed).round() as u64).max(1);
                let spec = &gens[g as usize];
                let cost = (spec.cost_per_unit_ms * market.compute as f64 * expected_ms as f64)
                    .round() as u128;
                let quoted_ms = ((expected_ms as f64 * gs.time_safety).ceil() as u64).max(1);
                let price = (cost as f64 * (1.0 + margin)).round() as u128;
                cost_plus.push(price);
                offers[g as usize * nm + m] = Some(Offer {
                    price,
                    cost,
                    expected_ms,
                    quoted_ms,
                });
            }
            cost_plus.sort_unstable();
            let median = cost_plus.get(cost_plus.len() / 2).copied().unwrap_or(0);
            for &g in &market.members {
                let spec = &gens[g as usize];
                let Some(o) = offers[g as usize * nm + m].as_mut() else {
                    continue;
                };
                let floor = (o.cost as f64 * 1.01).ceil() as u128;
                o.price = match spec.strategy {
                    Strategy::CostPlus => o.price,
                    Strategy::Undercut => {
                        floor.max((median as f64 * gs.undercut_factor).round() as u128)
                    }
                    Strategy::Follow => floor.max(median),
                }
                .max(1);
            }
        }
        // Each market's median quote (rewards are drawn around it).
        let medians: Vec<u128> = (0..nm)
            .map(|m| {
                let mut p: Vec<u128> = markets[m]
                    .members
                    .iter()
                    .filter_map(|&g| offers[g as usize * nm + m].map(|o| o.price))
                    .collect();
                p.sort_unstable();
                p.get(p.len() / 2).copied().unwrap_or(1)
            })
            .collect();
        let asks = draw_asks(s, &markets, &medians);
        Self {
            seed: s.seed,
            gens,
            markets,
            offers,
            asks,
            service: gs.service,
            service_sigma: gs.service_sigma,
            crash: gs.crash,
            late: gs.late,
            late_factor: gs.late_factor,
            dishonest: gs.dishonest,
            horizon_ms: (s.hours * 3_600_000.0).round() as u64,
        }
    }

    /// Generator `g`'s offer in market `m`.
    pub(crate) fn offer(&self, g: u32, m: u16) -> Option<&Offer> {
        self.offers[g as usize * self.markets.len() + m as usize].as_ref()
    }

    /// The markets generator `g` serves.
    pub(crate) fn markets_of(&self, g: u32) -> impl Iterator<Item = u16> + '_ {
        let nm = self.markets.len();
        (0..nm)
            .filter(move |&m| self.offers[g as usize * nm + m].is_some())
            .map(|m| m as u16)
    }
}

/// The ask stream: a Poisson process whose rate follows the load curve and bursts (by thinning), markets
/// by share, rewards around the market's median quote, deadlines around its reference proving time.
fn draw_asks(s: &Scenario, markets: &[Market], medians: &[u128]) -> Vec<Ask> {
    let horizon_ms = s.hours * 3_600_000.0;
    let curve = &s.asks.load_curve;
    let shape = |t_ms: f64| -> f64 {
        let hour = (t_ms / 3_600_000.0).floor() as usize;
        let mut v = curve[hour % curve.len()];
        for b in &s.asks.bursts {
            let start = b.start_hour * 3_600_000.0;
            if t_ms >= start && t_ms < start + b.minutes * 60_000.0 {
                v *= b.multiplier;
            }
        }
        v
    };
    // Scale the shape so the expected number of asks is asks_per_day * hours / 24 (integrated per second).
    let target = s.asks_per_day * s.hours / 24.0;
    let mut integral = 0.0;
    let mut t = 0.0;
    while t < horizon_ms {
        let step = (horizon_ms - t).min(1000.0);
        integral += shape(t) * step;
        t += step;
    }
    let scale = if integral > 0.0 {
        target / integral
    } else {
        0.0
    };
    let max_burst: f64 = s
        .asks
        .bursts
        .iter()
        .map(|b| b.multiplier.max(1.0))
        .product();
    let max_rate = curve.iter().copied().fold(0.0, f64::max) * max_burst * scale;
    let share_total: f64 = s.markets.iter().map(|m| m.share).sum();
    let mut rng = Rng::keyed(s.seed, STREAM_ASKS, 0, 0);
    let mut asks = Vec::with_capacity((target * 1.05) as usize + 16);
    let mut t = 0.0;
    if max_rate <= 0.0 {
        return asks;
    }
    loop {
        t += rng.exp(1.0 / max_rate);
        if t >= horizon_ms {
            break;
        }
        if rng.unit() * max_rate > shape(t) * scale {
            continue;
        }
        let mut pick = rng.unit() * share_total;
        let mut market = s.markets.len() - 1;
        for (i, m) in s.markets.iter().enumerate() {
            if pick < m.share {
                market = i;
                break;
            }
            pick -= m.share;
        }
        let created = t as u64;
        let reward = ((medians[market] as f64)
            * rng.lognormal(s.asks.reward.median, s.asks.reward.sigma))
        .round()
        .max(1.0) as u128;
        let window = markets[market].ref_ms as f64
            * rng.lognormal(s.asks.deadline.median, s.asks.deadline.sigma);
        asks.push(Ask {
            created,
            deadline: created + window.round().max(1.0) as u64,
            reward,
            market: market as u16,
            time: rng.chance(s.asks.time_share),
        });
    }
    asks
}
