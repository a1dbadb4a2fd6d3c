//! The order book as an M/M/c queue: identical generators of one proof at a time (c servers), Poisson arrivals,
//! exponential proving times, no deadlines that bind and continuous matching. Waiting time and utilisation must
//! match the Erlang-C formulas.

use kalypso_sim::{Mechanism, Scenario, Simulation};

/// Erlang C: (probability of waiting, mean wait) for `c` servers, arrival rate `lambda`, service rate `mu`.
fn erlang_c(c: u32, lambda: f64, mu: f64) -> (f64, f64) {
    let a = lambda / mu;
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let last = term * a / f64::from(c) * (f64::from(c) / (f64::from(c) - a));
    let p_wait = last / (sum + last);
    (p_wait, p_wait / (f64::from(c) * mu - lambda))
}

#[test]
fn order_book_matches_erlang_c() {
    let s = Scenario::from_toml(include_str!("../../../../scenarios/mmc.toml"))
        .expect("valid scenario");
    let c = s.generators.count as u32;
    let mu = 1.0 / s.markets[0].work_seconds;
    let lambda = s.asks_per_day / 86_400.0;
    let rho = lambda / (f64::from(c) * mu);
    let (p_wait, wq) = erlang_c(c, lambda, mu);
    let sim = Simulation::new(s).expect("valid");
    let r = sim.run(Mechanism::OrderBook, 0, &mut |_, _| {});
    assert!(r.asks > 400_000, "enough asks for a 5 % check: {}", r.asks);
    assert_eq!(r.served, r.asks, "no deadline binds: every ask is proven");
    let wait = r.time_to_assign.mean;
    assert!(
        (wait - wq).abs() / wq < 0.05,
        "mean wait {wait:.3} s, Erlang C {wq:.3} s (P(wait) {p_wait:.3})"
    );
    assert!(
        (r.utilisation - rho).abs() / rho < 0.05,
        "utilisation {:.4}, theory {rho}",
        r.utilisation
    );
    // Time in system = wait + service.
    let w = wq + 1.0 / mu;
    assert!(
        (r.time_to_proof.mean - w).abs() / w < 0.05,
        "time in system {:.3} s, theory {w:.3} s",
        r.time_to_proof.mean
    );
}
