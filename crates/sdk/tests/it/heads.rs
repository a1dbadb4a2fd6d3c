//! New heads over anvil's websocket wake the watcher; an endpoint nobody listens on leaves it unsubscribed.

use kalypso_sdk::HeadWatcher;
use kalypso_test_utils::Chain;
use std::{sync::Arc, time::Duration};
use tokio::sync::Notify;

async fn mine(chain: &Chain) {
    use alloy::providers::Provider;
    let _: serde_json::Value = chain
        .provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
}

#[tokio::test]
async fn every_new_head_wakes_the_watcher() {
    let chain = Chain::spawn();
    let wake = Arc::new(Notify::new());
    let watcher = HeadWatcher::spawn(chain.anvil.ws_endpoint(), wake.clone());
    for _ in 0..100 {
        if watcher.is_subscribed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(watcher.is_subscribed(), "subscribed within 5 s");
    for n in 1..=3 {
        mine(&chain).await;
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .unwrap_or_else(|_| panic!("head {n} woke the watcher"));
    }
    assert!(watcher.heads() >= 3, "{} heads", watcher.heads());
}

#[tokio::test]
async fn an_unreachable_endpoint_leaves_the_watcher_unsubscribed() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let wake = Arc::new(Notify::new());
    let watcher = HeadWatcher::spawn(format!("ws://127.0.0.1:{port}"), wake.clone());
    let woken = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
    assert!(woken.is_err(), "no head without a connection");
    assert!(!watcher.is_subscribed());
    assert_eq!(watcher.heads(), 0);
}
