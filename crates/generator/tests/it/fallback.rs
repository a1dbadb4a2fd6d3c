//! (f) Fallback self-assignment: with no Matching Engine running, the node takes an ask of its market once the
//! market's fallback delay has passed and gets its proof accepted; it never tries before the delay, nor for an
//! ask its quote cannot meet (price above the reward, maxProofTime past the deadline).

use super::*;
use kalypso_provers::{CircuitKind, Groth16Config, ProverConfig};

/// The market's fallback delay; chain time is moved past it with `evm_increaseTime`.
const DELAY: u64 = 3600;

/// Creates an ask of `market` paying `reward` payment-token units, due `deadline_in` seconds from now.
async fn ask(env: &Env, market: u64, seed: u64, reward: u64, deadline_in: u64) -> u64 {
    let reward = U256::from(reward);
    env.mint(env.deployment.payment_token, env.requester, reward)
        .await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let deadline = env.now().await + deadline_in;
    env.client(env.requester)
        .create_ask(AskParams::new(
            market,
            reward,
            deadline,
            spec.sample_inputs(seed).into(),
        ))
        .await
        .expect("create ask")
        .0
}

#[tokio::test]
async fn without_an_engine_the_node_self_assigns_after_the_delay_only_what_its_quote_meets() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market_with_fallback(spec, DELAY).await;
    // Price 1 000 units, 60 s per proof, room for two tasks.
    env.join(market, 2, 60).await;
    let good = ask(&env, market, 1, 5_000_000, 2 * DELAY).await;
    let underpriced = ask(&env, market, 2, 500, 2 * DELAY).await;
    // Open past the delay, but then less than the quote's 60 s remain.
    let too_soon = ask(&env, market, 3, 5_000_000, DELAY + 30).await;

    let prover = ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover");
    let node = env.start(env.node_config(market, prover, "f1.db")).await;
    let nonce = env.generator_nonce().await;
    // The node follows the three open asks (the gauge is set where it looks for due asks)...
    eventually(
        "three open asks followed",
        Duration::from_secs(30),
        || async { (node.metric("open_asks").await == 3.0).then_some(()) },
    )
    .await;
    // ...and, before the delay, takes none and does not even try.
    for id in [good, underpriced, too_soon] {
        assert_eq!(env.ask_state(id).await, AskState::Created);
    }
    assert_eq!(node.metric("self_assigned_total").await, 0.0);
    assert_eq!(node.metric("self_assign_failed_total").await, 0.0);
    assert_eq!(env.generator_nonce().await, nonce, "nothing sent");

    anvil(&env, "evm_increaseTime", serde_json::json!([DELAY + 1])).await;
    anvil(&env, "evm_mine", serde_json::json!([])).await;
    env.task_in(&node, good, TaskState::Submitted).await;
    let info = env.client(env.admin).ask(good).await.expect("ask");
    assert_eq!(info.state, AskState::Completed);
    assert_eq!(
        info.task.expect("task").generator,
        env.generator.address(),
        "proven by the node that took it"
    );
    assert_eq!(node.metric("self_assigned_total").await, 1.0);
    assert_eq!(node.metric("tasks_submitted_total").await, 1.0);

    // The asks its quote cannot meet stay open, and the node never tried them: no revert, no lost race.
    eventually("two open asks left", Duration::from_secs(30), || async {
        (node.metric("open_asks").await == 2.0).then_some(())
    })
    .await;
    assert_eq!(env.ask_state(underpriced).await, AskState::Created);
    assert_eq!(env.ask_state(too_soon).await, AskState::Created);
    assert_eq!(node.metric("self_assign_failed_total").await, 0.0);
    assert_eq!(node.metric("self_assign_lost_total").await, 0.0);
    assert_eq!(node.metric("self_assigned_total").await, 1.0);
    node.stop().await;
}
