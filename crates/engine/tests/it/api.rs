//! The HTTP API: documented routes answer, bad requests get specific 4xx, every error answer (malformed
//! requests hyper rejects itself included) has the JSON error shape and quotes user input cut short, `/health`
//! is 503 unless healthy, the websocket feed streams events.

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
        assert_eq!(
            status == 200,
            health["status"] == "ok",
            "{status}: {health}"
        );
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
        market["quoteList"][0]["generator"],
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

    // Clear 4xx for bad requests, in the JSON error shape.
    for (path, code, needle) in [
        ("/v1/asks?status=bogus", 400, "status must be one of"),
        ("/v1/asks?limit=0", 400, "limit must be"),
        ("/v1/asks?market=x", 400, "market must be"),
        (
            "/v1/asks?colour=red",
            400,
            "unknown query parameter \"colour\"",
        ),
        ("/v1/asks?limit=1&limit=2", 400, "limit given twice"),
        ("/v1/asks/abc", 400, "ask id must be"),
        ("/v1/asks/999", 404, "ask 999 not found"),
        ("/v1/asks/1/proof", 404, "has no proof"),
        ("/v1/markets/7", 404, "market 7 not found"),
        ("/v1/generators/0x12", 400, "0x address"),
        ("/v2/nothing", 404, "no such route"),
        // Percent-encoding that is not UTF-8, or not percent-encoding.
        ("/v1/asks/%FF%FE", 400, "Invalid UTF-8 in `id`"),
        ("/v1/markets/%C3%28/stats", 400, "Invalid UTF-8 in `id`"),
        ("/v1/asks?status=%FF", 400, "status must be one of"),
        (
            "/v1/asks/%ZZ",
            400,
            "ask id must be a non-negative integer, got \"%ZZ\"",
        ),
        ("/v2/%FF", 404, "no such route"),
        // The feed without a websocket handshake.
        ("/v1/events", 400, ""),
    ] {
        let answer = engine.request("GET", path).await;
        assert_eq!(answer.status, code, "{path}: {answer:?}");
        let error = answer.error();
        assert!(error.contains(needle), "{path}: {error}");
    }

    // A wrong method: 405 with its Allow header.
    for (method, path) in [
        ("POST", "/v1/markets"),
        ("DELETE", "/health"),
        ("PUT", "/v1/asks/1"),
    ] {
        let answer = engine.request(method, path).await;
        assert_eq!(answer.status, 405, "{method} {path}: {answer:?}");
        assert_eq!(answer.header("allow"), Some("GET,HEAD"), "{answer:?}");
        assert!(answer.error().contains("method not allowed"), "{answer:?}");
    }

    // User input is quoted cut short, with its length: never echoed whole.
    let long = "7".repeat(20_000);
    for (path, needle) in [
        (format!("/v1/asks/{long}"), "ask id must be"),
        (format!("/v1/markets/{long}/stats"), "market id must be"),
        (format!("/v1/generators/0x{long}"), "0x address"),
        (format!("/v1/asks?market={long}"), "market must be"),
        (format!("/v1/asks?{long}=1"), "unknown query parameter"),
    ] {
        let answer = engine.request("GET", &path).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        let error = answer.error();
        assert!(error.contains(needle), "{error}");
        let quoted = format!("{}\"… (", &"7".repeat(62));
        assert!(error.contains(&quoted), "{error}");
        assert!(error.contains("bytes)"), "{error}");
        assert!(!error.contains(&"7".repeat(65)), "{error}");
        assert!(
            answer.body.len() < 300,
            "{} bytes: {error}",
            answer.body.len()
        );
    }

    // What hyper rejects before the router: bytes that are not ASCII in the target, a target too long to parse.
    for (request, code, needle) in [
        (
            b"GET /v1/asks/\xff\xfe HTTP/1.1".to_vec(),
            400,
            "malformed request",
        ),
        (
            b"GET /v1/asks?status=op\xe9n HTTP/1.1".to_vec(),
            400,
            "malformed request",
        ),
        (
            [
                &b"GET /v1/asks/"[..],
                "1".repeat(70_000).as_bytes(),
                b" HTTP/1.1",
            ]
            .concat(),
            414,
            "URI too long",
        ),
    ] {
        let answer = engine.raw(&request).await;
        assert_eq!(answer.status, code, "{answer:?}");
        let error = answer.error();
        assert!(error.contains(needle), "{error}");
        assert_eq!(
            answer.header("content-length"),
            Some(answer.body.len().to_string().as_str()),
            "{answer:?}"
        );
    }

    // Still serving after all that.
    let (status, markets) = engine.get("/v1/markets").await;
    assert_eq!(status, 200);
    assert_eq!(markets[0]["market"], MARKET, "{markets}");
    let answer = engine
        .raw(format!("GET /v1/asks/{ask} HTTP/1.1").as_bytes())
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["id"], ask, "{answer:?}");
    let (status, health) = engine.get("/health").await;
    assert_eq!(
        (status, &health["status"]),
        (200, &serde_json::json!("ok")),
        "{health}"
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_unless_healthy() {
    let mut env = Env::new().await;

    // Before its first round the engine has indexed nothing: syncing. Without a websocket and with an hour
    // between polls, it stays there.
    let mut config = env.engine_config("health-syncing.db");
    config.ws_url = None;
    config.poll_interval = Duration::from_secs(3_600);
    let engine = env.start(config).await;
    let answer = engine.request("GET", "/health").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let health = answer.json();
    assert_eq!(health["status"], "syncing", "{health}");
    assert_eq!(health["signer"], serde_json::json!(env.me.address()));
    engine.stop().await;

    let engine = env.start(env.engine_config("health.db")).await;
    let answer = eventually("a healthy round", Duration::from_secs(30), || async {
        let answer = engine.request("GET", "/health").await;
        (answer.json()["status"] == "ok").then_some(answer)
    })
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));

    // The RPC goes away: every round fails and the engine reports it.
    env.chain.anvil.child_mut().kill().expect("kill anvil");
    let answer = eventually("a failed round", Duration::from_secs(30), || async {
        let answer = engine.request("GET", "/health").await;
        (answer.json()["status"] == "degraded").then_some(answer)
    })
    .await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.json()["lastError"].is_string(), "{answer:?}");
    engine.kill().await;
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
