//! (a) Tasks assigned to the node are proven and their proofs accepted on-chain.

use super::*;
use kalypso_provers::{CircuitKind, Groth16Config, ProverConfig};

#[tokio::test]
async fn assigned_tasks_are_proven_and_accepted_on_chain() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 2, 120).await;
    let prover = ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover");
    let node = env.start(env.node_config(market, prover, "a.db")).await;

    let mut asks = Vec::new();
    for seed in 1..=2 {
        let (ask, _) = env.assigned_ask(market, spec.sample_inputs(seed)).await;
        asks.push(ask);
    }
    for &ask in &asks {
        let task = env.task_in(&node, ask, TaskState::Submitted).await;
        assert!(task["txHash"].is_string(), "{task}");
        assert!(task["provingMs"].as_u64().is_some(), "{task}");
        assert_eq!(task["attempts"], 0, "{task}");
        assert_eq!(env.ask_state(ask).await, AskState::Completed);
        let proof = env
            .client(env.admin)
            .ask_proof(ask)
            .await
            .expect("proof event")
            .expect("a ProofSubmitted event");
        assert_eq!(proof.generator, env.generator.address());
        assert_eq!(proof.proof.len(), spec.proof_len());
    }
    assert_eq!(node.metric("tasks_seen_total").await, 2.0);
    assert_eq!(node.metric("tasks_proven_total").await, 2.0);
    assert_eq!(node.metric("tasks_submitted_total").await, 2.0);
    assert_eq!(node.metric("tasks_discarded_total").await, 0.0);
    let overhead = node.metric("node_overhead_seconds_sum").await / 2.0;
    let proving = node.metric("proving_time_seconds_sum").await / 2.0;
    tracing::info!(overhead_s = overhead, proving_s = proving, "mean per task");
    assert!(overhead > 0.0 && overhead < 30.0, "overhead {overhead}");
    let (status, health) = node.get("/health").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(health["maxParallel"], 2, "declared compute 2 / 1 per proof");
    assert_eq!(health["status"], "ok");
    node.stop().await;
}
