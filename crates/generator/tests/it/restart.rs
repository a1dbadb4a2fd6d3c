//! (c) A node killed after proving but before its proof is submitted: the restarted node submits the stored
//! proof (without proving again) exactly once, and a node started after that sends nothing. A node killed
//! while its submission is still in the mempool: the restarted node does not send it a second time.

use super::*;
use axum::{
    Router,
    body::Bytes as Body,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use kalypso_generator::store::Store;
use kalypso_provers::{CircuitKind, Groth16Config, ProverConfig};
use std::sync::atomic::{AtomicBool, Ordering};

/// A JSON-RPC proxy in front of anvil that refuses `eth_estimateGas` while `blocked` is set: the node behind it
/// reads the chain and proves, but cannot send anything (the SDK estimates the gas of every transaction
/// before it takes a nonce). The one fault of this test that a real node cannot be made to produce on cue.
struct Proxy {
    url: String,
    blocked: Arc<AtomicBool>,
    server: JoinHandle<()>,
}

#[derive(Clone)]
struct Upstream {
    http: reqwest::Client,
    url: String,
    blocked: Arc<AtomicBool>,
}

async fn forward(State(up): State<Upstream>, body: Body) -> Response {
    let estimate = body.windows(15).any(|w| w == b"eth_estimateGas");
    if estimate && up.blocked.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "sends are blocked by the test",
        )
            .into_response();
    }
    let sent = up
        .http
        .post(&up.url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status =
                StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let bytes = r.bytes().await.unwrap_or_default();
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                bytes.to_vec(),
            )
                .into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let blocked = Arc::new(AtomicBool::new(true));
        let state = Upstream {
            http: reqwest::Client::new(),
            url: upstream,
            blocked: blocked.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().route("/", post(forward)).with_state(state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            blocked,
            server,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[tokio::test]
async fn a_restart_submits_the_stored_proof_once_without_proving_again() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 300).await;
    let prover = ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover");
    let proxy = Proxy::start(env.chain.anvil.endpoint()).await;
    let config = NodeConfig {
        rpc_url: proxy.url.clone(),
        ..env.node_config(market, prover, "c.db")
    };

    // First life: proves, then fails to submit (the proxy refuses the gas estimate) and is killed.
    let node = env.start(config.clone()).await;
    let (ask, _) = env.assigned_ask(market, spec.sample_inputs(3)).await;
    let task = eventually("a failed submission", Duration::from_secs(60), || async {
        node.task(ask)
            .await
            .filter(|t| t["state"] == "proved" && t["attempts"].as_u64() >= Some(1))
    })
    .await;
    assert!(
        task["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("submission")),
        "{task}"
    );
    assert_eq!(node.metric("tasks_proven_total").await, 1.0);
    node.kill().await;
    assert_eq!(env.ask_state(ask).await, AskState::Assigned);
    let sent_before = env.generator_nonce().await;
    let stored = {
        let d = &env.deployment;
        let store = Store::open(
            env.db("c.db"),
            d.chain_id,
            d.marketplace,
            env.generator.address(),
        )
        .expect("open the store");
        let task = store.task(ask).expect("read").expect("recorded");
        assert_eq!(task.state, TaskState::Proved);
        task.proof.expect("the proof is stored")
    };

    // Second life: the chain is reachable again; the stored proof is submitted, nothing is proven.
    proxy.blocked.store(false, Ordering::SeqCst);
    let node = env.start(config.clone()).await;
    env.task_in(&node, ask, TaskState::Submitted).await;
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    let accepted = env
        .client(env.admin)
        .ask_proof(ask)
        .await
        .expect("proof event")
        .expect("a ProofSubmitted event");
    // Groth16 proofs are randomised: a second proof of the same inputs would differ from the stored one.
    assert_eq!(
        accepted.proof.to_vec(),
        stored,
        "the stored proof was submitted"
    );
    assert_eq!(node.metric("tasks_proven_total").await, 0.0);
    assert_eq!(node.metric("tasks_submitted_total").await, 1.0);
    assert_eq!(
        env.generator_nonce().await,
        sent_before + 1,
        "exactly one transaction (the submission)"
    );
    node.stop().await;

    // Third life: the task is done; the node sends nothing.
    let node = env.start(config).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let task = node.task(ask).await.expect("still recorded");
    assert_eq!(task["state"], "submitted", "{task}");
    assert_eq!(node.metric("tasks_submitted_total").await, 0.0);
    assert_eq!(env.generator_nonce().await, sent_before + 1);
    node.stop().await;
}

#[tokio::test]
async fn a_submission_in_flight_when_the_node_dies_is_not_sent_again() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 300).await;
    let prover = ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover");
    let proxy = Proxy::start(env.chain.anvil.endpoint()).await;
    let config = NodeConfig {
        rpc_url: proxy.url.clone(),
        ..env.node_config(market, prover, "c2.db")
    };

    // First life: the proof is made; blocks stop being mined; the submission is sent and stays pending; the
    // node dies waiting for its receipt.
    let node = env.start(config.clone()).await;
    let (ask, _) = env.assigned_ask(market, spec.sample_inputs(4)).await;
    eventually(
        "a proof waiting to be sent",
        Duration::from_secs(60),
        || async {
            node.task(ask)
                .await
                .filter(|t| t["state"] == "proved" && t["attempts"].as_u64() >= Some(1))
        },
    )
    .await;
    anvil(&env, "evm_setAutomine", serde_json::json!([false])).await;
    proxy.blocked.store(false, Ordering::SeqCst);
    let (latest, _) = eventually(
        "the submission in the mempool",
        Duration::from_secs(30),
        || async {
            let (latest, pending) = counts(&env).await;
            (pending == latest + 1).then_some((latest, pending))
        },
    )
    .await;
    node.kill().await;

    // Second life: the stored proof may already be on its way; the node waits instead of sending it again.
    let node = env.start(config).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        counts(&env).await,
        (latest, latest + 1),
        "no second submission while the first is pending"
    );
    anvil(&env, "evm_setAutomine", serde_json::json!([true])).await;
    anvil(&env, "evm_mine", serde_json::json!([])).await;
    env.task_in(&node, ask, TaskState::Submitted).await;
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    assert_eq!(counts(&env).await, (latest + 1, latest + 1));
    assert_eq!(node.metric("tasks_proven_total").await, 0.0);
    node.stop().await;
}
