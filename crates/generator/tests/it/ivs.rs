//! (b) An ask whose inputs pass the verifier's format check but cannot be proven (a Merkle path that does not
//! reach its root) is settled through an attestation of a real IVS on a loopback port; the IVS never signs
//! valid inputs nor inputs that are not the chain's.

use super::*;
use kalypso_generator::ivs::{CHECK_PATH, CheckResponse, Ivs};
use kalypso_provers::{CircuitKind, Groth16Config, ProverConfig};
use kalypso_sdk::contracts::marketplace::ProofMarketplace::InvalidInputsSettled;

#[tokio::test]
async fn invalid_inputs_are_settled_with_an_ivs_attestation() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Merkle, 3).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 120).await;
    env.client(env.admin)
        .add_ivs_signer(
            market,
            Bytes::copy_from_slice(env.ivs_key.public_key().as_slice()),
        )
        .await
        .expect("add the IVS key");
    let prover = ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover");

    // The IVS: a read-only client, the market's prover and the IVS key.
    let read = ProviderBuilder::new()
        .connect_http(env.chain.anvil.endpoint_url())
        .erased();
    let ivs = Arc::new(Ivs::new(
        Kalypso::new(read, env.deployment.clone(), Address::ZERO),
        market,
        prover.clone(),
        env.ivs_key.clone(),
        2,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ivs_url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(ivs.serve(listener, std::future::pending()));
    let health: serde_json::Value = reqwest::get(format!("{ivs_url}/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("health JSON");
    assert_eq!(health["registered"], true, "{health}");
    assert_eq!(health["status"], "ok", "{health}");

    let mut config = env.node_config(market, prover, "b.db");
    config.ivs_url = Some(ivs_url.clone());
    let node = env.start(config).await;
    let (bad, _) = spec.invalid_sample_inputs();
    // createAsk accepted them: the verifier's format check passes.
    let (ask, _) = env.assigned_ask(market, bad.clone()).await;
    let task = env.task_in(&node, ask, TaskState::Attested).await;
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    assert!(
        env.client(env.admin)
            .ask_proof(ask)
            .await
            .expect("proof query")
            .is_none(),
        "settled without a proof"
    );
    let hash = task["txHash"]
        .as_str()
        .expect("settling transaction")
        .parse()
        .expect("hash");
    let receipt = env
        .provider
        .get_transaction_receipt(hash)
        .await
        .expect("receipt query")
        .expect("receipt");
    let settled = receipt
        .logs()
        .iter()
        .find_map(|l| l.log_decode::<InvalidInputsSettled>().ok())
        .expect("an InvalidInputsSettled event")
        .inner
        .data;
    assert_eq!(settled.signer, env.ivs_key.address());
    assert_eq!(settled.generator, env.generator.address());
    assert_eq!(node.metric("tasks_attested_total").await, 1.0);
    assert_eq!(node.metric("tasks_proven_total").await, 0.0);
    node.stop().await;

    // The IVS on its own: valid inputs get no signature, claimed inputs must be the chain's.
    let good = env.create_ask(market, spec.sample_inputs(1)).await;
    let http = reqwest::Client::new();
    let check = |body: serde_json::Value| {
        let request = http.post(format!("{ivs_url}{CHECK_PATH}")).json(&body);
        async move {
            let response = request.send().await.expect("POST");
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        }
    };
    let (status, body) = check(serde_json::json!({ "askId": good })).await;
    assert_eq!(status, 200, "{body}");
    let verdict: CheckResponse = serde_json::from_str(&body).expect("check response");
    assert!(verdict.valid && verdict.signature.is_none(), "{body}");
    let (status, body) = check(serde_json::json!({
        "askId": good,
        "proverData": format!("0x{}", alloy::hex::encode(&bad)),
    }))
    .await;
    assert_eq!(status, 400, "inputs that are not the ask's: {body}");
    let (status, _) = check(serde_json::json!({ "askId": 999 })).await;
    assert_eq!(status, 404);
    let (status, _) = check(serde_json::json!({ "ask": good })).await;
    assert_eq!(status, 400);
    let (status, body) = check(serde_json::json!({ "askId": ask })).await;
    assert_eq!(status, 409, "a settled ask: {body}");
    server.abort();
}
