//! Invariants of every mechanism on random small markets: money is conserved, no generator is ever given more
//! than its compute or stake allows, no ask is paid twice or above its reward.

use kalypso_sim::{Mechanism, Scenario, Simulation, scenario::MarketSpec};
use proptest::prelude::*;

fn scenario(
    seed: u64,
    gens: usize,
    asks: f64,
    markets: usize,
    block: u64,
    (crash, late, dishonest): (f64, f64, f64),
    cap: u64,
) -> Scenario {
    let mut s = Scenario {
        name: "prop".into(),
        seed,
        hours: 0.5,
        asks_per_day: asks * 48.0,
        block_time_ms: block,
        ..Scenario::default()
    };
    s.generators.count = gens;
    s.generators.capacity_max = cap;
    s.generators.crash = crash;
    s.generators.late = late;
    s.generators.dishonest = dishonest;
    // Small stakes so that slashes exhaust some generators' stake.
    s.generators.stake.median = 3.0;
    s.markets = (0..markets)
        .map(|i| MarketSpec {
            name: format!("m{i}"),
            share: 1.0 + i as f64,
            work_seconds: 30.0 * (1 + i) as f64,
            compute: 1 + (i as u64 % cap),
            slashing_penalty: 0.5 * (1 + i) as f64,
            min_stake: 1.0,
            join_share: 0.7,
        })
        .collect();
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn every_mechanism_conserves_money_and_capacity(
        seed in any::<u64>(),
        gens in 3usize..40,
        asks in 50.0f64..600.0,
        markets in 1usize..4,
        block in prop_oneof![Just(0u64), Just(1000), Just(4000)],
        failures in (0.0f64..0.2, 0.0f64..0.2, 0.0f64..0.1),
        cap in 1u64..4,
        withheld in 0usize..3,
    ) {
        let sim = Simulation::new(scenario(seed, gens, asks, markets, block, failures, cap)).expect("valid");
        for m in Mechanism::ALL {
            let r = sim.run(m, withheld, &mut |_, _| {});
            prop_assert!(r.money.conserved, "{m}: money not conserved: {:?}", r.money);
            prop_assert_eq!(r.capacity_violations, 0, "{}: assigned beyond capacity", m);
            prop_assert_eq!(r.double_serves, 0, "{}: an ask paid twice", m);
            prop_assert_eq!(r.overpaid, 0, "{}: an ask paid above its reward", m);
            prop_assert_eq!(r.served + r.missed, r.asks);
            prop_assert!(r.money.slashed <= 3.0 * 100.0 * gens as f64);
            if m == Mechanism::ProofRace {
                prop_assert_eq!(r.slashes, 0, "races do not slash");
            }
        }
    }
}
