//! The webhook client against the reference gateway on a free loopback port.

use std::{net::SocketAddr, sync::Arc, thread::JoinHandle, time::Duration};

use kalypso_provers::{
    CircuitKind, CircuitSpec, Groth16Config, Groth16Prover, InputCheck, Proof, ProveRequest,
    Prover, ProverError, ProverInfo, ProverKind, WebhookConfig, WebhookProver,
    server::{self, GatewayOptions},
    setup,
    webhook_api::{ErrorBody, ErrorCode},
};
use tokio::sync::oneshot;

/// A gateway serving `prover` on its own runtime thread; stopped on drop.
struct Gateway {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Gateway {
    fn start(prover: Arc<dyn Prover>, options: GatewayOptions) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a free port");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                server::serve(listener, prover, options, async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
            });
        });
        let addr = addr_rx.recv().expect("gateway started");
        Self {
            url: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn client(&self) -> WebhookProver {
        WebhookProver::new(&WebhookConfig::new(&self.url)).expect("valid config")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn merkle_prover(depth: usize) -> (Arc<dyn Prover>, CircuitSpec) {
    let config = Groth16Config::new(CircuitKind::Merkle, depth);
    (
        Arc::new(Groth16Prover::from_config(&config).expect("builds")),
        config.spec().expect("valid size"),
    )
}

#[test]
fn client_proves_through_the_reference_gateway() {
    let (prover, spec) = merkle_prover(3);
    let gateway = Gateway::start(prover, GatewayOptions::default());
    let client = gateway.client();
    assert_eq!(client.describe().kind, ProverKind::Webhook);

    let health = client.health().expect("health");
    assert_eq!(
        (health.status.as_str(), health.api_version.as_str()),
        ("ok", "v1")
    );
    assert_eq!(health.prover.circuit.as_deref(), Some("merkle"));
    assert_eq!(health.prover.size, Some(3));

    let inputs = spec.sample_inputs(1);
    assert_eq!(
        client.check_inputs(&inputs).expect("check"),
        InputCheck::Valid
    );
    let (bad, reason) = spec.invalid_sample_inputs();
    assert_eq!(
        client.check_inputs(&bad).expect("check"),
        InputCheck::invalid(reason)
    );

    let request = ProveRequest {
        ask_id: Some(42),
        timeout: Some(Duration::from_secs(60)),
        ..ProveRequest::new(inputs.clone())
    };
    let proof = client.prove(&request).expect("proof over HTTP");
    let keys = setup::load_or_setup(None, spec, None).expect("cached keys");
    assert!(
        keys.verify_submission(&inputs, proof.as_bytes())
            .expect("parses")
    );

    match client.prove(&ProveRequest::new(bad)) {
        Err(ProverError::InvalidInput { reason: r }) => assert_eq!(r, reason),
        other => panic!("expected InvalidInput, got {other:?}"),
    }

    let report = client.benchmark(2).expect("remote benchmark");
    assert_eq!(report.runs, 2);
    assert!(report.p50_ms > 0.0 && report.p50_ms <= report.p90_ms);
    assert!(client.sample_inputs().is_none());
}

/// A raw HTTP call: status and body.
fn raw(method: &str, url: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = match method {
        "GET" => agent.get(url).call(),
        _ => agent
            .post(url)
            .header("content-type", "application/json")
            .send(body),
    }
    .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().expect("body"))
}

fn error_body(text: &str) -> ErrorBody {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an ErrorBody ({e}): {text}"))
}

#[test]
fn malformed_requests_get_4xx_with_a_json_reason() {
    let (prover, spec) = merkle_prover(2);
    let gateway = Gateway::start(prover, GatewayOptions::default());
    let url = |path: &str| format!("{}{path}", gateway.url);

    for (path, body, expected) in [
        ("/v1/prove", "{not json", "malformed JSON"),
        ("/v1/prove", "", "malformed JSON"),
        ("/v1/prove", "{}", "missing field `proverData`"),
        ("/v1/prove", r#"{"proverData": 7}"#, "invalid type"),
        ("/v1/prove", r#"{"proverData": "abcd"}"#, "0x-prefixed"),
        ("/v1/prove", r#"{"proverData": "0xabc"}"#, "invalid hex"),
        (
            "/v1/prove",
            r#"{"proverData": "0x00", "secret": "0xzz"}"#,
            "invalid hex",
        ),
        ("/v1/check-input", r#"{"proverData": "0x1"}"#, "invalid hex"),
        ("/v1/check-input", r#""0x00""#, "invalid type"),
    ] {
        let (status, text) = raw("POST", &url(path), body);
        assert_eq!(status, 400, "{path} {body}: {text}");
        let error = error_body(&text);
        assert_eq!(error.error, ErrorCode::BadRequest);
        assert!(
            error.message.contains(expected),
            "{path} {body}: {}",
            error.message
        );
    }

    let (status, text) = raw("GET", &url("/v1/benchmark?runs=0"), "");
    assert_eq!(status, 400, "{text}");
    assert!(error_body(&text).message.contains("runs must be"));
    let (status, text) = raw("GET", &url("/v1/benchmark?rounds=2"), "");
    assert_eq!(status, 400, "{text}");

    let (status, text) = raw("GET", &url("/v2/health"), "");
    assert_eq!(status, 404);
    assert_eq!(error_body(&text).error, ErrorCode::NotFound);
    let (status, _) = raw("GET", &url("/v1/prove"), "");
    assert_eq!(status, 405);

    // Well-formed but unprovable: 422 with the reason.
    let (bad, reason) = spec.invalid_sample_inputs();
    let body = serde_json::json!({ "proverData": format!("0x{}", hex::encode(&bad)) });
    let (status, text) = raw("POST", &url("/v1/prove"), &body.to_string());
    assert_eq!(status, 422, "{text}");
    let error = error_body(&text);
    assert_eq!(
        (error.error, error.reason.as_deref()),
        (ErrorCode::InvalidInput, Some(reason))
    );

    // A body over the limit.
    let small = Gateway::start(
        merkle_prover(2).0,
        GatewayOptions {
            max_body_bytes: 64,
            ..GatewayOptions::default()
        },
    );
    let body = format!(r#"{{"proverData": "0x{}"}}"#, "00".repeat(100));
    let (status, _) = raw("POST", &format!("{}/v1/prove", small.url), &body);
    assert_eq!(status, 413);
}

/// A prover that sleeps, or fails, on demand.
#[derive(Debug)]
struct Scripted {
    delay: Duration,
    fail: Option<&'static str>,
}

impl Prover for Scripted {
    fn describe(&self) -> ProverInfo {
        ProverInfo::new("scripted", ProverKind::Command)
    }

    fn check_inputs(&self, _: &[u8]) -> Result<InputCheck, ProverError> {
        Ok(InputCheck::Valid)
    }

    fn prove(&self, request: &ProveRequest) -> Result<Proof, ProverError> {
        std::thread::sleep(self.delay);
        match self.fail {
            Some(message) => Err(ProverError::Failed {
                message: message.into(),
            }),
            None => Ok(Proof(request.prover_data.clone())),
        }
    }
}

#[test]
fn transport_errors_timeouts_and_failures_are_typed() {
    // Nothing listens on a port that was just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let nobody = WebhookProver::new(&WebhookConfig::new(format!("http://127.0.0.1:{port}")))
        .expect("valid config");
    let err = nobody
        .prove(&ProveRequest::new(vec![1]))
        .expect_err("refused");
    assert!(matches!(err, ProverError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());

    let slow = Gateway::start(
        Arc::new(Scripted {
            delay: Duration::from_secs(3),
            fail: None,
        }),
        GatewayOptions::default(),
    );
    let impatient = WebhookProver::new(&WebhookConfig {
        timeout_secs: 0.3,
        ..WebhookConfig::new(&slow.url)
    })
    .expect("valid config");
    assert!(matches!(
        impatient.prove(&ProveRequest::new(vec![1])),
        Err(ProverError::Timeout { after }) if after == Duration::from_millis(300)
    ));
    // No sample inputs behind this gateway: its benchmark is unsupported (501).
    assert!(matches!(
        slow.client().benchmark(1),
        Err(ProverError::Unsupported { .. })
    ));

    let failing = Gateway::start(
        Arc::new(Scripted {
            delay: Duration::ZERO,
            fail: Some("GPU fell off the bus"),
        }),
        GatewayOptions::default(),
    );
    let err = failing
        .client()
        .prove(&ProveRequest::new(vec![1]))
        .expect_err("fails");
    assert!(
        matches!(&err, ProverError::Failed { message } if message.contains("GPU fell off the bus")),
        "{err:?}"
    );

    // A URL that is not a v1 gateway (here: the right server under a wrong prefix).
    let wrong = WebhookProver::new(&WebhookConfig::new(format!("{}/api", failing.url)))
        .expect("valid config");
    let err = wrong.check_inputs(&[1]).expect_err("404");
    assert!(
        matches!(&err, ProverError::Config { message } if message.contains("404")),
        "{err:?}"
    );
}

#[test]
fn a_gateway_serves_one_proof_at_a_time_by_default() {
    let gateway = Gateway::start(
        Arc::new(Scripted {
            delay: Duration::from_millis(300),
            fail: None,
        }),
        GatewayOptions::default(),
    );
    let client = gateway.client();
    let started = std::time::Instant::now();
    let handles: Vec<_> = (0..3u8)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || client.prove(&ProveRequest::new(vec![i])))
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let proof = handle.join().expect("thread").expect("proof");
        assert_eq!(proof.as_bytes(), [i as u8]);
    }
    // Serialized: three 300 ms proofs take at least 900 ms.
    assert!(started.elapsed() >= Duration::from_millis(900));
}
