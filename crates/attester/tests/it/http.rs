//! The HTTP service on a loopback port: a test authority's document attested (CBOR and hex bodies), and every
//! rejection answered with its reason while the service keeps serving: the real AWS document (RSA key; and its
//! certificates expired today), a flipped byte, garbage, a test document under the AWS root, an empty and an
//! oversized body. `/health` and `/metrics` answer.

use std::{sync::Arc, time::Duration};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use kalypso_attester::{
    ATTESTATIONS_PATH, Attester, AttesterClient, BODY_LIMIT, ClientError, Health, Service,
};
use kalypso_confidential::{
    nitro::{AWS_NITRO_ROOT_G1, Policy},
    testing::{self, TEST_PCRS, TestAuthority},
};
use kalypso_primitives::eip712::attestation_domain;
use kalypso_sdk::SignedAttestation;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{AWS_DOCUMENT, AWS_DOCUMENT_MS, MINUTE_MS, now_ms, pubkey, recover};

const CHAIN_ID: u64 = 31337;
const VERIFIER: Address = Address::repeat_byte(0xaa);

/// A service on a free loopback port; dropping `stop` (or sending on it) shuts it down.
struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(service: Service) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(Arc::new(service).serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            url,
            stop: Some(stop),
            task,
        }
    }

    fn client(&self) -> AttesterClient {
        AttesterClient::new(&self.url, Duration::from_secs(10)).expect("client")
    }

    async fn post(&self, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{ATTESTATIONS_PATH}", self.url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "{status}: not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        (status, json)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.url))
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    async fn stop(mut self) {
        drop(self.stop.take());
        self.task.await.expect("joins").expect("served cleanly");
    }
}

fn rejected(result: Result<SignedAttestation, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Rejected { status, reason }) => (status, reason),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// A test authority's documents attested over HTTP, then every kind of bad input rejected with its reason, and
/// a good document attested again after them.
#[tokio::test]
async fn attests_test_documents_and_rejects_bad_input_with_reasons() {
    let authority = TestAuthority::new();
    let image = testing::image_id(&TEST_PCRS);
    let signer = PrivateKeySigner::random();
    let attester = Attester::new(
        signer.clone(),
        CHAIN_ID,
        VERIFIER,
        authority.policy(10 * MINUTE_MS).with_image_id(image),
    );
    let service = Running::start(Service::new(attester)).await;
    let client = service.client();

    // CBOR bytes through the client.
    let enclave = PrivateKeySigner::random();
    let made = now_ms() - 1_000;
    let document = authority.document(&TEST_PCRS, &pubkey(&enclave), made);
    let attestation = client.attest(&document).await.expect("attested");
    assert_eq!(attestation.enclave_pubkey, pubkey(&enclave));
    assert_eq!(
        (attestation.image_id, attestation.timestamp_ms),
        (image, made)
    );
    let digest =
        kalypso_confidential::nitro::verify(&document, &authority.policy(u64::MAX), now_ms())
            .expect("verifies")
            .eip712_digest(CHAIN_ID, VERIFIER);
    assert_eq!(recover(&attestation.signature, digest), signer.address());
    assert_eq!(
        digest,
        alloy::sol_types::SolStruct::eip712_signing_hash(
            &kalypso_primitives::eip712::EnclaveAttestation {
                enclavePubKey: pubkey(&enclave),
                imageId: image,
                timestampMs: made,
            },
            &attestation_domain(CHAIN_ID, VERIFIER)
        )
    );

    // Hex text, as `kalypso attestation verify` also reads it; the JSON is the SignedAttestation's, camelCase.
    let (status, json) = service
        .post(
            "text/plain",
            format!("0x{}\n", alloy::hex::encode(&document)).into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let again: SignedAttestation =
        serde_json::from_value(json.clone()).expect("a SignedAttestation");
    assert_eq!(again.enclave_pubkey, attestation.enclave_pubkey);
    for field in ["enclavePubkey", "imageId", "timestampMs", "signature"] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }

    // A flipped byte in the signed payload (the enclave key).
    let mut flipped = document.clone();
    let at = flipped
        .windows(64)
        .position(|w| w == pubkey(&enclave).as_ref())
        .expect("the key is in the document");
    flipped[at] ^= 1;
    let (status, reason) = rejected(client.attest(&flipped).await);
    assert_eq!(
        (status, reason.as_str()),
        (422, "attestation document signature does not verify")
    );
    // Garbage.
    let (status, reason) = rejected(client.attest(b"\x01\x02 not a document").await);
    assert_eq!(status, 422);
    assert!(
        reason.starts_with("malformed attestation document"),
        "{reason}"
    );
    // Another image than the policy's.
    let other = [[9u8; 48], [9; 48], [9; 48]];
    let (status, reason) = rejected(
        client
            .attest(&authority.document(&other, &pubkey(&enclave), made))
            .await,
    );
    assert_eq!(status, 422);
    assert_eq!(
        reason,
        format!(
            "image id is {}, expected {image}",
            testing::image_id(&other)
        )
    );
    // Older than the policy's maximum age.
    let (status, reason) = rejected(
        client
            .attest(&authority.document(&TEST_PCRS, &pubkey(&enclave), made - 11 * MINUTE_MS))
            .await,
    );
    assert_eq!(status, 422);
    assert!(reason.contains("is older than 600000 ms"), "{reason}");
    // Empty, whitespace and oversized bodies.
    let (status, json) = service.post("application/cbor", Vec::new()).await;
    assert_eq!(status, 400, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("empty body")),
        "{json}"
    );
    let (status, _) = service.post("text/plain", b"  \n".to_vec()).await;
    assert_eq!(status, 400);
    let (status, json) = service
        .post("application/cbor", vec![0x84; BODY_LIMIT + 1])
        .await;
    assert_eq!(status, 413, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains(&BODY_LIMIT.to_string())),
        "{json}"
    );

    // Still serving: a new document of another enclave is attested.
    let second = PrivateKeySigner::random();
    let document = authority.document(&TEST_PCRS, &pubkey(&second), now_ms());
    assert_eq!(
        client
            .attest(&document)
            .await
            .expect("attested")
            .enclave_pubkey,
        pubkey(&second)
    );

    // /health names the signer, the domain and the policy.
    let health = client.health().await.expect("health");
    assert_eq!(
        health,
        Health {
            status: "ok".into(),
            signer: signer.address(),
            chain_id: CHAIN_ID,
            attestation_verifier: VERIFIER,
            policy: kalypso_attester::PolicySummary {
                max_age_ms: 10 * MINUTE_MS,
                max_clock_skew_ms: kalypso_confidential::nitro::MAX_CLOCK_SKEW_MS,
                image_ids: vec![image],
                pcrs: Default::default(),
                allow_debug: false,
                trusted_root: authority.root_fingerprint(),
                aws_root: false,
            },
        }
    );
    // /metrics counts what happened.
    let (status, metrics) = service.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "kalypso_attester_attested_total 3",
        "kalypso_attester_rejected_total{reason=\"bad_signature\"} 1",
        "kalypso_attester_rejected_total{reason=\"malformed\"} 1",
        "kalypso_attester_rejected_total{reason=\"image_id_mismatch\"} 1",
        "kalypso_attester_rejected_total{reason=\"expired\"} 1",
        "kalypso_attester_rejected_total{reason=\"empty\"} 2",
        "kalypso_attester_rejected_total{reason=\"too_large\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    // Unknown routes answer JSON too.
    let (status, body) = service.get("/v1/nothing").await;
    assert_eq!(status, 404);
    assert!(body.contains("POST /v1/attestations"), "{body}");
    service.stop().await;
}

/// With the production policy (the AWS root): the real AWS document is authentic but carries an RSA key,
/// which is named; at today's time its certificates have expired; a test authority's document is refused for
/// its root.
#[tokio::test]
async fn the_real_aws_document_is_rejected_for_its_key_and_its_age() {
    let signer = PrivateKeySigner::random();
    let attester = |policy| Attester::new(signer.clone(), CHAIN_ID, VERIFIER, policy);

    // At the document's own time.
    let at_its_time = Running::start(
        Service::new(attester(Policy::new(5 * MINUTE_MS)))
            .with_clock(Arc::new(|| AWS_DOCUMENT_MS + 1_000)),
    )
    .await;
    let (status, reason) = rejected(at_its_time.client().attest(AWS_DOCUMENT).await);
    assert_eq!(status, 422);
    assert_eq!(
        reason,
        "attestation public key is not a secp256k1 key: an RSA-2048 key (294 bytes)"
    );
    let health: Health = at_its_time.client().health().await.expect("health");
    assert!(health.policy.aws_root);
    assert_eq!(health.policy.trusted_root, AWS_NITRO_ROOT_G1);
    assert!(health.policy.image_ids.is_empty());
    let (_, metrics) = at_its_time.get("/metrics").await;
    assert!(
        metrics.contains("kalypso_attester_rejected_total{reason=\"public_key\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kalypso_attester_attested_total 0"),
        "{metrics}"
    );
    at_its_time.stop().await;

    // Now, on the system clock.
    let now = Running::start(Service::new(attester(Policy::new(5 * MINUTE_MS)))).await;
    let (status, reason) = rejected(now.client().attest(AWS_DOCUMENT).await);
    assert_eq!(status, 422);
    assert!(
        reason.starts_with("certificate 1 (") && reason.contains("is not valid at"),
        "{reason}"
    );
    // A test authority's document under the AWS root.
    let authority = TestAuthority::new();
    let enclave = PrivateKeySigner::random();
    let document = authority.document(&TEST_PCRS, &pubkey(&enclave), now_ms());
    let (status, reason) = rejected(now.client().attest(&document).await);
    assert_eq!(status, 422);
    assert!(
        reason.starts_with("certificate chain ends in an untrusted root"),
        "{reason}"
    );
    now.stop().await;
}
