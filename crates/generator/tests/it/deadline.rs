//! (d) A task the node cannot prove in time is discarded before its deadline (the discard penalty, a quarter
//! of the slash on the devnet parameters) instead of being slashed: at once when the expected proving time
//! does not fit, or when a running proof is not ready by the deadline minus the submit margin.

use super::*;
use kalypso_provers::{CircuitKind, CommandConfig, Groth16Config, ProverConfig};
use kalypso_sdk::contracts::marketplace::ProofMarketplace::TaskDiscarded;

/// The `TaskDiscarded` event and block timestamp of the transaction the node recorded for `task`.
async fn discarded(env: &Env, task: &serde_json::Value) -> (TaskDiscarded, u64) {
    let hash = task["txHash"]
        .as_str()
        .expect("discarding transaction")
        .parse()
        .expect("hash");
    let receipt = env
        .provider
        .get_transaction_receipt(hash)
        .await
        .expect("receipt query")
        .expect("receipt");
    let event = receipt
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<TaskDiscarded>().ok())
        .expect("a TaskDiscarded event")
        .inner
        .data;
    let block = env
        .provider
        .get_block_by_number(receipt.block_number.expect("mined").into())
        .await
        .expect("block query")
        .expect("block");
    (event, block.header.timestamp)
}

async fn stake(env: &Env) -> U256 {
    env.client(env.admin)
        .generator(env.generator.address(), &[])
        .await
        .expect("generator")
        .position
        .stake
}

/// The devnet discard penalty: 2 500 bps of the slashing penalty.
fn discard_penalty() -> U256 {
    pond(PENALTY) * U256::from(2_500u64) / U256::from(10_000u64)
}

#[tokio::test]
async fn a_task_that_cannot_be_proven_in_time_is_discarded_at_once() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 20).await;
    let prover = ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover");
    let mut config = env.node_config(market, prover, "d1.db");
    // The operator knows its proofs take a minute; the quote promises 20 s.
    config.proof_time_estimate = Some(Duration::from_secs(60));
    let node = env.start(config).await;
    let before = stake(&env).await;

    let (ask, task_deadline) = env.assigned_ask(market, spec.sample_inputs(1)).await;
    let task = env.task_in(&node, ask, TaskState::Discarded).await;
    assert!(
        task["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("cannot finish in time")),
        "{task}"
    );
    let (event, at) = discarded(&env, &task).await;
    assert!(at <= task_deadline);
    assert!(event.reopened, "the ask goes back to the market");
    assert_eq!(event.penalty, discard_penalty());
    assert_eq!(stake(&env).await, before - discard_penalty(), "not slashed");
    assert_eq!(env.ask_state(ask).await, AskState::Created);
    assert_eq!(node.metric("tasks_proven_total").await, 0.0);
    assert_eq!(node.metric("tasks_discarded_total").await, 1.0);
    node.stop().await;
}

#[tokio::test]
async fn proofs_not_ready_before_the_deadline_are_given_up_in_time() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 2, 10).await;
    // A prover far slower than the 10 s the quote promises, believed to take 1 s, one proof at a time.
    let prover = ProverConfig::Command(CommandConfig::new(["sh", "-c", "sleep 30; echo 0x00"]))
        .build()
        .expect("prover");
    let mut config = env.node_config(market, prover, "d2.db");
    config.proof_time_estimate = Some(Duration::from_secs(1));
    config.max_parallel = Some(1);
    let node = env.start(config).await;
    let before = stake(&env).await;

    let started = Instant::now();
    let first = env.assigned_ask(market, spec.sample_inputs(1)).await;
    let second = env.assigned_ask(market, spec.sample_inputs(2)).await;
    let mut reasons = Vec::new();
    for (ask, task_deadline) in [first, second] {
        let task = env.task_in(&node, ask, TaskState::Discarded).await;
        let (event, at) = discarded(&env, &task).await;
        assert!(
            at <= task_deadline,
            "ask {ask} discarded at {at}, deadline {task_deadline}"
        );
        assert_eq!(event.penalty, discard_penalty());
        reasons.push(task["lastError"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "did not wait for the prover"
    );
    // One proof ran out of time (while proving, or — on a loaded machine, when the node picks it up late — before
    // it could start), the other never got the proving slot before its latest start.
    reasons.sort();
    assert!(reasons[0].contains("no proving slot"), "{reasons:?}");
    assert!(
        reasons[1].contains("not ready after") || reasons[1].contains("cannot finish in time"),
        "{reasons:?}"
    );
    assert_eq!(
        stake(&env).await,
        before - discard_penalty() * U256::from(2u64),
        "not slashed"
    );
    assert_eq!(node.metric("tasks_proven_total").await, 0.0);
    assert_eq!(node.metric("tasks_discarded_total").await, 2.0);
    node.stop().await;
}
