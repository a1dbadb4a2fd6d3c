//! Matching follows the requester's preference and the contract's rules; an ask nobody can meet blocks nothing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_preference_and_skips_the_unmatchable() {
    let env = Env::new().await;
    let cheap_slow = env.generator(0, 4, 10, 600).await;
    let fast_expensive = env.generator(1, 4, 50, 60).await;

    // Highest reward, so served first every round, but its deadline is too soon for both quotes.
    let unmatchable = env.ask(1_000, 30, Preference::Time).await;
    let cost = env.ask(100, 3_600, Preference::Cost).await;
    let time = env.ask(100, 3_600, Preference::Time).await;
    // COST, but only the fast generator can finish before the deadline.
    let cost_tight = env.ask(100, 300, Preference::Cost).await;
    // The reward is below both prices.
    let too_cheap = env.ask(5, 3_600, Preference::Cost).await;

    let engine = env.start(env.engine_config("engine.db")).await;
    for (ask, expected) in [
        (cost, cheap_slow),
        (time, fast_expensive),
        (cost_tight, fast_expensive),
    ] {
        let got = eventually(
            &format!("ask {ask} assigned"),
            Duration::from_secs(60),
            || async { env.assigned_to(ask).await },
        )
        .await;
        assert_eq!(got, expected, "ask {ask}");
    }
    // The engine never sent the unmatchable ones: nothing was skipped on chain.
    let (assigned, skipped) = env.assignment_events().await;
    assert_eq!(assigned.len(), 3, "{assigned:?}");
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(env.assigned_to(unmatchable).await, None);
    assert_eq!(env.assigned_to(too_cheap).await, None);

    // The engine's view agrees with the chain.
    let (status, body) = engine.get(&format!("/v1/asks/{unmatchable}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "open");
    let (_, body) = engine.get(&format!("/v1/asks/{cost}")).await;
    assert_eq!(body["status"], "assigned", "{body}");
    assert_eq!(body["generator"], serde_json::json!(cheap_slow));

    // A new generator that fits the unmatchable ask's leftover time picks it up without a restart.
    let now = env.now().await;
    let deadline = env
        .client(env.admin)
        .ask(unmatchable)
        .await
        .expect("ask")
        .deadline;
    if deadline > now + 10 {
        let quick = env.generator(2, 4, 20, 5).await;
        let got = eventually(
            "the unmatchable ask matched once a fit generator joined",
            Duration::from_secs(30),
            || async { env.assigned_to(unmatchable).await },
        )
        .await;
        assert_eq!(got, quick);
    }
    engine.stop().await;
}
