//! `kalypso attestation verify` on the real AWS Nitro attestation document that `nitro_attest` ships
//! (eu-central-1, 2025-01-06) and tampered copies: a flipped byte, a wrong PCR, an expired document,
//! garbage. No chain needed.

use assert_cmd::Command;
use kalypso_test_utils::repo_root;
use predicates::prelude::*;
use std::path::PathBuf;

/// The document's timestamp plus one second (its enclave certificate is valid for three hours).
const AT_MS: &str = "1736179626472";
/// `keccak256(PCR0 ‖ PCR1 ‖ PCR2)` of the document.
const IMAGE_ID: &str = "0x4cc37f584e2324f21d431e2e7d26b6698e5724f1cfbd4e208c339824f85603f7";

fn document() -> PathBuf {
    repo_root().join("crates/confidential/tests/fixtures/nitro-attestation.cose")
}

fn kalypso() -> Command {
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.env_remove("KALYPSO_LOG");
    cmd
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(output));
    })
}

#[test]
fn the_real_document_verifies_and_tampered_copies_do_not() {
    let out = kalypso()
        .args(["--json", "attestation", "verify"])
        .arg(document())
        .args(["--at-ms", AT_MS, "--image-id", IMAGE_ID])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["imageId"], IMAGE_ID);
    assert_eq!(v["moduleId"], "i-0bee92034f3d60691-enc01943c5eaab3ad6a");
    // Its enclave put an RSA key in the document: authentic, but no secp256k1 key to register.
    assert!(v["enclaveKey"].is_null(), "{v}");
    assert!(
        v["enclaveKeyError"]
            .as_str()
            .is_some_and(|e| e.contains("294")),
        "{v}"
    );

    // The same document as hex on stdin, with the table output.
    let hex = alloy::hex::encode(std::fs::read(document()).expect("fixture"));
    kalypso()
        .args(["attestation", "verify", "-", "--at-ms", AT_MS])
        .write_stdin(hex)
        .assert()
        .success()
        .stdout(predicate::str::contains(IMAGE_ID).and(predicate::str::contains("none usable")));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut flipped = std::fs::read(document()).expect("fixture");
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    let tampered = dir.path().join("tampered.cose");
    std::fs::write(&tampered, &flipped).expect("write");
    let garbage = dir.path().join("garbage.cose");
    std::fs::write(&garbage, b"\x01\x02 not a document").expect("write");

    let rejected = |args: &[&str], path: &PathBuf, reason: &str| {
        let out = kalypso()
            .args(["--json", "attestation", "verify"])
            .arg(path)
            .args(args)
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        let v = json(&out);
        assert_eq!(v["valid"], false, "{v}");
        let error = v["error"].as_str().expect("an error");
        assert!(error.contains(reason), "{args:?}: {error}");
    };
    // A flipped byte in the middle lands in the certificate bundle: a certificate's signature breaks.
    rejected(
        &["--at-ms", AT_MS],
        &tampered,
        "signature verification failed",
    );
    rejected(
        &["--at-ms", AT_MS, "--pcr", &format!("0={}", "00".repeat(48))],
        &document(),
        "PCR0",
    );
    rejected(
        &[
            "--at-ms",
            AT_MS,
            "--image-id",
            &format!("0x{}", "11".repeat(32)),
        ],
        &document(),
        "image",
    );
    // Now, two years later: its certificates have expired and it is far too old.
    rejected(&[], &document(), "is not valid at");
    rejected(&["--at-ms", AT_MS], &garbage, "malformed");

    kalypso()
        .args([
            "attestation",
            "verify",
            "--at-ms",
            AT_MS,
            "--pcr",
            "zero=00",
        ])
        .arg(document())
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a PCR index"));
    kalypso()
        .args(["attestation", "verify", "/nonexistent/doc.cose"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot read the document"));
}

/// A `kalypso attestation serve` process, killed on drop, with what it printed when it started listening.
struct Attester {
    child: std::process::Child,
    info: serde_json::Value,
    url: String,
    log: PathBuf,
}

impl Drop for Attester {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Attester {
    /// `kalypso attestation serve` on a free port for the CLI's deployment, signing with `key`.
    fn start(cli: &super::Cli, chain: &kalypso_test_utils::Chain, key: &str, log: PathBuf) -> Self {
        use std::io::BufRead as _;
        let cmd = cli.as_account(chain, 0);
        let mut child = std::process::Command::new(cmd.get_program());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => child.env(k, v),
                None => child.env_remove(k),
            };
        }
        let mut child = child
            .current_dir(repo_root())
            .env("ATTESTER_KEY", key)
            .args([
                "--json",
                "attestation",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--signer-key-env",
                "ATTESTER_KEY",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("kalypso starts");
        let stdout = child.stdout.take().expect("piped");
        // The JSON document is printed once the socket is bound; read it up to its closing brace.
        let mut text = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("stdout");
            text.push_str(&line);
            if line == "}" {
                break;
            }
        }
        let info: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{e}: {text}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        let url = info["listening"].as_str().expect("url").to_owned();
        Self {
            child,
            info,
            url,
            log,
        }
    }
}

/// `kalypso attestation serve` for an anvil deployment that trusts its signer, and `kalypso attestation
/// request` of the real AWS document: rejected with the specific reason (today its certificates have long
/// expired) and exit 1, while the service keeps serving; /health shows the signer and the domain. A signer the
/// deployment does not trust is served with a warning; a deployment file whose AttestationVerifier the key
/// registry no longer uses is refused.
#[tokio::test(flavor = "multi_thread")]
async fn serve_and_request_against_a_deployment() {
    let chain = kalypso_test_utils::Chain::spawn();
    let cli = super::Cli::new(&chain);
    let signer = chain.account(9);
    cli.as_account(&chain, 0)
        .args([
            "deploy",
            "--no-sample-market",
            "--no-timelock",
            "--attestation-signer",
            &signer.address().to_string(),
        ])
        .assert()
        .success();
    let deployment: serde_json::Value =
        json(&std::fs::read(&cli.deployment).expect("deployment file"));
    let verifier = deployment["attestationVerifier"]
        .as_str()
        .expect("attestation verifier")
        .to_lowercase();
    let dir = tempfile::tempdir().expect("tempdir");

    let served = Attester::start(
        &cli,
        &chain,
        &alloy::hex::encode(signer.to_bytes()),
        dir.path().join("trusted.log"),
    );
    let info = &served.info;
    assert_eq!(info["trusted"], true, "{info}");
    assert_eq!(info["chainId"], 31337, "{info}");
    assert_eq!(
        info["signer"].as_str().map(str::to_lowercase),
        Some(signer.address().to_string().to_lowercase())
    );
    assert_eq!(
        info["attestationVerifier"].as_str().map(str::to_lowercase),
        Some(verifier.clone())
    );
    // Without --max-age: the AttestationVerifier's maximum attestation age; the AWS root.
    assert_eq!(info["policy"]["maxAgeMs"], 600_000, "{info}");
    assert_eq!(info["policy"]["awsRoot"], true, "{info}");

    let request = |args: &[&str]| {
        let mut cmd = kalypso();
        cmd.args(["attestation", "request"])
            .arg(document())
            .args(["--attester", &served.url])
            .args(args);
        cmd
    };
    request(&[]).assert().code(1).stdout(
        predicate::str::contains("rejected by the attester: certificate 1 (")
            .and(predicate::str::contains("is not valid at")),
    );
    let out = request(&["--json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["attested"], false, "{v}");
    assert_eq!(v["status"], 422, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("certificate 1 (") && e.contains("is not valid at")),
        "{v}"
    );
    // Garbage as hex on stdin: malformed.
    kalypso()
        .args(["attestation", "request", "-", "--attester", &served.url])
        .write_stdin("0x0102030405")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("malformed attestation document"));

    // Still serving; /health shows the signer and the domain, /metrics the rejections.
    let health: serde_json::Value = reqwest::get(format!("{}/health", served.url))
        .await
        .expect("health")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["signer"].as_str().map(str::to_lowercase),
        Some(signer.address().to_string().to_lowercase())
    );
    assert_eq!(health["chainId"], 31337);
    assert_eq!(
        health["attestationVerifier"]
            .as_str()
            .map(str::to_lowercase),
        Some(verifier)
    );
    let metrics = reqwest::get(format!("{}/metrics", served.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("kalypso_attester_rejected_total{reason=\"certificate_not_valid\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kalypso_attester_rejected_total{reason=\"malformed\"} 1"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(&served.log).expect("log");
    assert!(log.contains("document rejected"), "{log}");
    assert!(!log.contains("NOT a trusted signer"), "{log}");
    assert!(
        !log.contains(&alloy::hex::encode(signer.to_bytes())),
        "the key is never logged"
    );

    // An unreachable service is an error, not a rejection.
    let port = served.url.rsplit(':').next().expect("port").to_owned();
    drop(served);
    kalypso()
        .args(["attestation", "request"])
        .arg(document())
        .args(["--attester", &format!("http://127.0.0.1:{port}")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot reach the attester"));

    // A signer the AttestationVerifier does not trust: served, with a warning.
    let untrusted = chain.account(8);
    let served = Attester::start(
        &cli,
        &chain,
        &alloy::hex::encode(untrusted.to_bytes()),
        dir.path().join("untrusted.log"),
    );
    assert_eq!(served.info["trusted"], false, "{}", served.info);
    let log = std::fs::read_to_string(&served.log).expect("log");
    assert!(log.contains("NOT a trusted signer"), "{log}");

    // Governance points the key registry at another AttestationVerifier: the deployment file's is stale, and
    // the service refuses to sign for it.
    drop(served);
    let provider = alloy::providers::ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::new(chain.account(0)))
        .connect_http(chain.anvil.endpoint_url());
    let key_registry: alloy::primitives::Address = deployment["keyRegistry"]
        .as_str()
        .expect("key registry")
        .parse()
        .expect("address");
    let replacement = alloy::primitives::Address::repeat_byte(0x77);
    kalypso_contracts::EntityKeyRegistry::new(key_registry, &provider)
        .setAttestationVerifier(replacement)
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("verifier replaced");
    cli.as_account(&chain, 0)
        .env("ATTESTER_KEY", alloy::hex::encode(signer.to_bytes()))
        .args(["attestation", "serve", "--signer-key-env", "ATTESTER_KEY"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "but the key registry checks attestations with {replacement}"
        )));

    // The key's variable must be set and hold a key.
    kalypso()
        .env("KALYPSO_RPC_URL", chain.anvil.endpoint())
        .env("KALYPSO_DEPLOYMENT", &cli.deployment)
        .env("ATTESTER_KEY", "not a key")
        .args(["attestation", "serve", "--signer-key-env", "ATTESTER_KEY"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("ATTESTER_KEY does not hold the signer's private key")
                .and(predicate::str::contains("not a key").not()),
        );
}
