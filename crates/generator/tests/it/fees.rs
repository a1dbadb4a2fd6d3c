//! (e) Fee bumps: blocks stop being mined (automine off) so the node's proof submission sits in the mempool;
//! the node re-sends it under the same nonce with higher fees; once a block is mined the replacement is the
//! transaction that lands, and the proof is accepted once. A node restarted meanwhile follows the recorded
//! transaction (and keeps bumping it) instead of sending the proof again.

use super::*;
use alloy::consensus::Transaction as _;
use kalypso_generator::store::Store;
use kalypso_provers::{CircuitKind, Groth16Config, ProverConfig};

/// Nonce, hashes and latest max fee per gas of the node's recorded pending transaction of `ask`
/// (`/v1/tasks/{ask}`), once it was sent at least `n` times.
async fn pending_hashes(node: &Running, ask: u64, n: usize) -> (u64, Vec<String>, u128) {
    eventually(
        &format!("{n} sends of the task's transaction"),
        Duration::from_secs(60),
        || async {
            let task = node.task(ask).await?;
            let pending = &task["pendingTx"];
            let hashes: Vec<String> = pending["hashes"]
                .as_array()?
                .iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect();
            let fee: u128 = pending["fees"]["maxFeePerGas"]
                .as_str()
                .and_then(|f| f.parse().ok())
                .expect("fee");
            (hashes.len() >= n).then(|| (pending["nonce"].as_u64().expect("nonce"), hashes, fee))
        },
    )
    .await
}

/// A mined transaction's `maxFeePerGas` and nonce.
async fn sent_tx(env: &Env, hash: &str) -> (u128, u64) {
    let tx = env
        .provider
        .get_transaction_by_hash(hash.parse().expect("hash"))
        .await
        .expect("get transaction")
        .expect("known transaction");
    (tx.max_fee_per_gas(), tx.nonce())
}

async fn receipt_exists(env: &Env, hash: &str) -> bool {
    env.provider
        .get_transaction_receipt(hash.parse().expect("hash"))
        .await
        .expect("receipt")
        .is_some()
}

fn groth16(spec: CircuitSpec) -> Arc<dyn Prover> {
    ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover")
}

#[tokio::test]
async fn a_lingering_submission_is_re_sent_with_higher_fees_and_accepted_once() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 300).await;
    let (ask, _) = env.assigned_ask(market, spec.sample_inputs(5)).await;
    let (latest, _) = counts(&env).await;

    // Blocks stop: whatever the node sends stays in the mempool.
    anvil(&env, "evm_setAutomine", serde_json::json!([false])).await;
    let config = NodeConfig {
        bump_after: Duration::from_secs(1),
        ..env.node_config(market, groth16(spec), "e.db")
    };
    let node = env.start(config).await;
    let (nonce, _, first_fee) = pending_hashes(&node, ask, 1).await;
    assert_eq!(nonce, latest, "the account's next nonce");
    let (_, hashes, _) = pending_hashes(&node, ask, 2).await;
    assert!(node.metric("fee_bumps_total").await >= 1.0);
    assert_eq!(
        counts(&env).await,
        (latest, latest + 1),
        "one transaction in the mempool: the replacement took the original's place"
    );

    anvil(&env, "evm_mine", serde_json::json!([])).await;
    anvil(&env, "evm_setAutomine", serde_json::json!([true])).await;
    let task = env.task_in(&node, ask, TaskState::Submitted).await;
    assert!(
        task["pendingTx"].is_null(),
        "nothing left to follow: {task}"
    );
    let landed = task["txHash"].as_str().expect("txHash").to_owned();
    assert_ne!(
        landed, hashes[0],
        "the replacement landed, not the original"
    );
    let (landed_fee, landed_nonce) = sent_tx(&env, &landed).await;
    assert_eq!(landed_nonce, nonce);
    assert!(
        landed_fee >= first_fee * 5 / 4,
        "fees raised by at least 25%: {first_fee} -> {landed_fee}"
    );
    assert!(
        !receipt_exists(&env, &hashes[0]).await,
        "the original was replaced"
    );
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    assert_eq!(
        counts(&env).await,
        (latest + 1, latest + 1),
        "one transaction mined"
    );
    assert_eq!(node.metric("tasks_submitted_total").await, 1.0);
    assert_eq!(node.metric("tasks_discarded_total").await, 0.0);
    let bumps = node.metric("fee_bumps_total").await;
    assert!(bumps >= 1.0, "{bumps} fee bumps counted");
    node.stop().await;
}

#[tokio::test]
async fn a_restarted_node_follows_its_recorded_transaction_instead_of_sending_again() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 300).await;
    let (ask, _) = env.assigned_ask(market, spec.sample_inputs(6)).await;
    let (latest, _) = counts(&env).await;
    anvil(&env, "evm_setAutomine", serde_json::json!([false])).await;
    let config = NodeConfig {
        bump_after: Duration::from_secs(1),
        ..env.node_config(market, groth16(spec), "f.db")
    };

    // First life: the submission and one replacement are sent, then the node dies.
    let node = env.start(config.clone()).await;
    let (nonce, before, _) = pending_hashes(&node, ask, 2).await;
    node.kill().await;
    let recorded = {
        let d = &env.deployment;
        let store = Store::open(
            env.db("f.db"),
            d.chain_id,
            d.marketplace,
            env.generator.address(),
        )
        .expect("open the store");
        store
            .pending_tx(ask)
            .expect("read")
            .expect("the transaction is recorded")
    };
    assert_eq!(recorded.pending.nonce, nonce);
    assert!(recorded.pending.hashes.len() >= 2);

    // Second life: the same nonce is followed and bumped again; no second submission under a new nonce.
    let node = env.start(config).await;
    let (again, after, _) = pending_hashes(&node, ask, recorded.pending.hashes.len() + 1).await;
    assert_eq!(again, nonce, "same nonce after the restart");
    assert_eq!(after[..before.len()], before[..], "earlier sends kept");
    assert_eq!(counts(&env).await, (latest, latest + 1));
    assert!(node.metric("fee_bumps_total").await >= 1.0);

    anvil(&env, "evm_mine", serde_json::json!([])).await;
    anvil(&env, "evm_setAutomine", serde_json::json!([true])).await;
    let task = env.task_in(&node, ask, TaskState::Submitted).await;
    let landed = task["txHash"].as_str().expect("txHash").to_owned();
    assert_eq!(sent_tx(&env, &landed).await.1, nonce);
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    assert_eq!(counts(&env).await, (latest + 1, latest + 1));
    assert_eq!(
        node.metric("tasks_proven_total").await,
        0.0,
        "not proven again"
    );
    assert_eq!(node.metric("tasks_submitted_total").await, 1.0);
    node.stop().await;
}
