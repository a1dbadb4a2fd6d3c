//! The HTTP API: documented routes answer, bad requests get specific 4xx, the websocket feed streams events.

use super::*;
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_and_rejects_clearly() {
    let env = Env::new().await;
    let g = env.generator(0, 4, 10, 600).await;
    let engine = env.start(env.engine_config("api.db")).await;

    // Feed first, so the ask's events arrive on it.
    let (mut feed, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/events", engine.api))
        .await
        .expect("websocket");
    let ask = env.ask(100, 3_600, Preference::Cost).await;
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(Ok(msg)) = feed.next().await {
            let text = msg.into_text().expect("text").to_string();
            let v: serde_json::Value = serde_json::from_str(&text).expect("json");
            seen.push(v["event"].as_str().unwrap_or_default().to_owned());
            if v["event"] == "TaskAssigned" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "feed: {seen:?}");
    assert!(seen.contains(&"AskCreated".to_owned()), "{seen:?}");

    // A round that failed transiently (an RPC hiccup on a loaded machine) reports "degraded" until the next
    // one succeeds: wait for a good round rather than asserting on whichever came last.
    let health = eventually("a healthy round", Duration::from_secs(20), || async {
        let (status, health) = engine.get("/health").await;
        assert_eq!(status, 200);
        (health["status"] == "ok").then_some(health)
    })
    .await;
    assert_eq!(health["signer"], serde_json::json!(env.me.address()));

    let (status, markets) = engine.get("/v1/markets").await;
    assert_eq!(status, 200);
    assert_eq!(markets[0]["market"], MARKET, "{markets}");
    assert_eq!(markets[0]["quotes"], 1, "{markets}");

    let (status, market) = engine.get("/v1/markets/1").await;
    assert_eq!(status, 200);
    assert_eq!(
        market["quotes"][0]["generator"],
        serde_json::json!(g),
        "{market}"
    );

    let (status, stats) = engine.get("/v1/markets/1/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["asks"]["assigned"], 1, "{stats}");
    assert_eq!(stats["timeToAssignSeconds"]["count"], 1, "{stats}");
    assert_eq!(stats["price"]["p50"], "10", "{stats}");

    let (status, list) = engine.get("/v1/asks?status=assigned&market=1").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["asks"][0]["id"], ask, "{list}");

    let (status, gens) = engine.get("/v1/generators").await;
    assert_eq!(status, 200);
    assert_eq!(gens.as_array().map(Vec::len), Some(1), "{gens}");

    let (status, doc) = engine.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");

    let (status, metrics) = engine.get("/metrics").await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().expect("text").to_owned();
    assert!(
        metrics.contains("kalypso_engine_assignments_sent_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kalypso_engine_time_to_assign_seconds_count 1"),
        "{metrics}"
    );

    // Clear 4xx for bad requests.
    for (path, code, needle) in [
        ("/v1/asks?status=bogus", 400, "status must be one of"),
        ("/v1/asks?limit=0", 400, "limit must be"),
        ("/v1/asks?market=x", 400, "market must be"),
        ("/v1/asks?colour=red", 400, "unknown field"),
        ("/v1/asks/abc", 400, "ask id must be"),
        ("/v1/asks/999", 404, "ask 999 not found"),
        ("/v1/asks/1/proof", 404, "has no proof"),
        ("/v1/markets/7", 404, "market 7 not found"),
        ("/v1/generators/0x12", 400, "0x address"),
        ("/v2/nothing", 404, "no such route"),
    ] {
        let (status, body) = engine.get(path).await;
        assert_eq!(status, code, "{path}: {body}");
        assert!(body.to_string().contains(needle), "{path}: {body}");
    }
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_key_that_is_not_the_registered_matching_engine() {
    let env = Env::new().await;
    let mut config = env.engine_config("wrong-key.db");
    config.signer = env.chain.account(9);
    let err = Engine::run(config, std::future::pending(), |_| {})
        .await
        .expect_err("must refuse");
    assert!(
        err.to_string()
            .contains("key registry's Matching Engine is"),
        "{err}"
    );
}
