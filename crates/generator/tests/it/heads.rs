//! (f) New heads: a node with a websocket URL sees an assignment at the next head, long before its poll
//! timer; a node whose websocket endpoint is unreachable keeps working by polling.

use super::*;
use kalypso_provers::{CircuitKind, Groth16Config, ProverConfig};

fn groth16(spec: CircuitSpec) -> Arc<dyn Prover> {
    ProverConfig::Groth16(Groth16Config::new(spec.kind(), spec.size()))
        .build()
        .expect("prover")
}

async fn health(node: &Running) -> serde_json::Value {
    let (status, body) = node.get("/health").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("health JSON")
}

#[tokio::test]
async fn a_node_with_a_websocket_picks_up_an_assignment_at_the_next_head() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 300).await;
    let poll = Duration::from_secs(60);
    let config = NodeConfig {
        ws_url: Some(env.chain.anvil.ws_endpoint()),
        poll_interval: poll,
        ..env.node_config(market, groth16(spec), "h.db")
    };
    let node = env.start(config).await;
    eventually("a live subscription", Duration::from_secs(10), || async {
        (health(&node).await["wsSubscribed"] == true).then_some(())
    })
    .await;

    let (ask, _) = env.assigned_ask(market, spec.sample_inputs(7)).await;
    let assigned = Instant::now();
    eventually("the assignment seen", Duration::from_secs(10), || async {
        node.task(ask).await
    })
    .await;
    let seen = assigned.elapsed();
    assert!(
        seen < Duration::from_secs(5),
        "seen {seen:?} after the assignment; the poll timer is {poll:?}"
    );
    env.task_in(&node, ask, TaskState::Submitted).await;
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    node.stop().await;
}

#[tokio::test]
async fn a_node_whose_websocket_is_unreachable_keeps_polling() {
    let env = Env::new().await;
    let spec = CircuitSpec::new(CircuitKind::Mimc, 16).expect("spec");
    let market = env.market(spec).await;
    env.join(market, 1, 300).await;
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = NodeConfig {
        ws_url: Some(format!("ws://127.0.0.1:{port}")),
        ..env.node_config(market, groth16(spec), "i.db")
    };
    let node = env.start(config).await;
    let (ask, _) = env.assigned_ask(market, spec.sample_inputs(8)).await;
    env.task_in(&node, ask, TaskState::Submitted).await;
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    let health = health(&node).await;
    assert_eq!(health["wsSubscribed"], false, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    node.stop().await;
}
