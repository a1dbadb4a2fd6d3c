//! `kalypso prover ...`: setup, sample inputs, checks, proofs, the gateway and benchmarks, with the proofs
//! verified by `kalypso-provers`.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Stdio},
};

use assert_cmd::Command;
use kalypso_provers::{
    CircuitKeys, CircuitKind, CircuitSpec, CommandConfig, CommandProver, InputCheck, ProveRequest,
    Prover, WebhookConfig, WebhookProver, hex0x, setup,
};
use predicates::prelude::*;
use serde_json::Value;

const KALYPSO: &str = env!("CARGO_BIN_EXE_kalypso");

fn kalypso() -> Command {
    let mut cmd = Command::new(KALYPSO);
    cmd.env_remove("KALYPSO_LOG");
    cmd
}

fn json(cmd: &mut Command) -> Value {
    let output = cmd.arg("--json").output().expect("kalypso runs");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn hex_field(v: &Value, field: &str) -> Vec<u8> {
    hex0x::decode(
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {v}")),
    )
    .expect("hex")
}

#[test]
fn setup_sample_check_and_prove_with_key_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys");
    let setup_out = json(
        kalypso()
            .args([
                "prover",
                "setup",
                "--circuit",
                "merkle",
                "--size",
                "3",
                "--out",
            ])
            .arg(&keys),
    );
    assert_eq!(setup_out["constraints"], 332 * 3 + 1);
    assert_eq!(setup_out["insecure"], true);
    assert!(Path::new(setup_out["provingKey"].as_str().expect("path")).ends_with("merkle-3.pk"));
    assert!(keys.join("merkle-3.pk").exists() && keys.join("merkle-3.vk.json").exists());

    // Valid sample inputs, written to a file as hex.
    let sample = kalypso()
        .args([
            "prover",
            "sample-inputs",
            "--circuit",
            "merkle",
            "--size",
            "3",
            "--seed",
            "4",
        ])
        .output()
        .expect("runs");
    assert!(sample.status.success());
    let inputs_file = dir.path().join("inputs.hex");
    std::fs::write(&inputs_file, &sample.stdout).expect("write");
    let inputs = hex0x::decode(String::from_utf8_lossy(&sample.stdout).trim()).expect("hex");

    kalypso()
        .args([
            "prover",
            "check",
            "--circuit",
            "merkle",
            "--size",
            "3",
            "--inputs-file",
        ])
        .arg(&inputs_file)
        .assert()
        .success()
        .stdout("valid\n");

    let proved = json(
        kalypso()
            .args([
                "prover",
                "prove",
                "--circuit",
                "merkle",
                "--size",
                "3",
                "--keys",
            ])
            .arg(&keys)
            .arg("--inputs-file")
            .arg(&inputs_file),
    );
    assert_eq!(proved["prover"]["constraints"], 332 * 3 + 1);
    let spec = CircuitSpec::new(CircuitKind::Merkle, 3).expect("valid size");
    let loaded = CircuitKeys::load(&keys, spec).expect("keys written by setup");
    let proof = hex_field(&proved, "proof");
    assert!(loaded.verify_submission(&inputs, &proof).expect("parses"));

    // Unprovable inputs: exit code 1 with the reason on stdout, and no proof.
    let invalid = json(kalypso().args([
        "prover",
        "sample-inputs",
        "--circuit",
        "merkle",
        "--size",
        "3",
        "--invalid",
    ]));
    assert_eq!(invalid["valid"], false);
    let bad = invalid["inputs"].as_str().expect("hex").to_owned();
    kalypso()
        .args([
            "prover",
            "check",
            "--circuit",
            "merkle",
            "--size",
            "3",
            "--inputs",
            &bad,
        ])
        .assert()
        .code(1)
        .stdout("the path does not lead to the root\n");
    kalypso()
        .args([
            "prover",
            "prove",
            "--circuit",
            "merkle",
            "--size",
            "3",
            "--keys",
        ])
        .arg(&keys)
        .args(["--inputs", &bad])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "invalid input: the path does not lead to the root",
        ));
}

#[test]
fn bad_prover_arguments_are_usage_errors() {
    kalypso()
        .args([
            "prover",
            "sample-inputs",
            "--circuit",
            "sha256",
            "--size",
            "3",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("possible values: mimc, merkle"));
    kalypso()
        .args([
            "prover",
            "sample-inputs",
            "--circuit",
            "mimc",
            "--size",
            "0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("positive integer"));
    kalypso()
        .args(["prover", "prove", "--circuit", "mimc", "--inputs", "0x00"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--size"));
    kalypso()
        .args([
            "prover",
            "prove",
            "--circuit",
            "mimc",
            "--size",
            "2",
            "--config",
            "x.json",
            "--inputs",
            "0x00",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
    kalypso()
        .args(["prover", "prove", "--circuit", "mimc", "--size", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--inputs"));
    // Too big for a BN254 domain: a clear error, not an allocation failure.
    kalypso()
        .args([
            "prover",
            "sample-inputs",
            "--circuit",
            "mimc",
            "--size",
            "99999999",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("out of range"));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("prover.toml");
    std::fs::write(&config, "backend = \"gpu\"\n").expect("write");
    kalypso()
        .args(["prover", "prove", "--inputs", "0x00", "--config"])
        .arg(&config)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("is not a prover config").and(predicate::str::contains("gpu")),
        );
}

/// `kalypso prover prove|check --circuit mimc --size 8 --inputs-file {input}` as a command backend: a real
/// external prover that is our own binary.
fn kalypso_as_command() -> CommandConfig {
    let args = |verb: &str| {
        [
            KALYPSO,
            "prover",
            verb,
            "--circuit",
            "mimc",
            "--size",
            "8",
            "--inputs-file",
            "{input}",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    CommandConfig {
        check: Some(args("check")),
        timeout_secs: 120.0,
        ..CommandConfig::new(args("prove"))
    }
}

#[test]
fn command_backend_runs_kalypso_itself() {
    let spec = CircuitSpec::new(CircuitKind::Mimc, 8).expect("valid size");
    let prover = CommandProver::new(kalypso_as_command()).expect("valid config");
    let inputs = spec.sample_inputs(2);
    assert_eq!(
        prover.check_inputs(&inputs).expect("check runs"),
        InputCheck::Valid
    );
    let (bad, _) = spec.invalid_sample_inputs();
    match prover.check_inputs(&bad).expect("check runs") {
        InputCheck::Invalid { reason } => {
            assert!(reason.contains("not a BN254 scalar"), "{reason}")
        }
        InputCheck::Valid => panic!("invalid inputs accepted"),
    }
    let proof = prover
        .prove(&ProveRequest::new(inputs.clone()))
        .expect("the child proves");
    // The child used the default seeded setup: the same keys as this process's.
    let keys = setup::load_or_setup(None, spec, None).expect("keys");
    assert!(
        keys.verify_submission(&inputs, proof.as_bytes())
            .expect("parses")
    );
    let err = prover
        .prove(&ProveRequest::new(bad))
        .expect_err("the child fails");
    assert!(err.to_string().contains("exited with code 1"), "{err}");

    // The same backend from a TOML config file, through the CLI.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("prover.toml");
    let toml = format!(
        "backend = \"command\"\nprove = {:?}\ntimeout_secs = 120\n",
        kalypso_as_command().prove
    );
    std::fs::write(&config, toml).expect("write");
    let proved = json(
        kalypso()
            .args(["prover", "prove", "--config"])
            .arg(&config)
            .args(["--inputs", &hex0x::encode(&inputs)]),
    );
    assert_eq!(proved["prover"]["kind"], "command");
    let proof = hex_field(&proved, "proof");
    assert!(keys.verify_submission(&inputs, &proof).expect("parses"));

    // Its benchmark measures the threads per proof from the child's CPU time instead of reporting "unknown".
    let bench = json(
        kalypso()
            .args([
                "prover",
                "benchmark",
                "--runs",
                "1",
                "--warmup",
                "0",
                "--config",
            ])
            .arg(&config)
            .args(["--inputs", &hex0x::encode(&inputs)]),
    );
    let threads = &bench["threadsPerProof"];
    assert_eq!(threads["source"], "measured", "{bench}");
    assert!(
        threads["childCpuSecs"].as_f64().is_some_and(|s| s > 0.0),
        "{bench}"
    );
    assert!(
        threads["wallSecs"].as_f64().is_some_and(|s| s > 0.0),
        "{bench}"
    );
    let measured = bench["report"]["threads"].as_u64().expect("threads set");
    assert!(measured >= 1);
    assert_eq!(
        bench["suggestion"]["computePerProof"].as_u64(),
        Some(measured)
    );
    kalypso()
        .args([
            "prover",
            "benchmark",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--config",
        ])
        .arg(&config)
        .args(["--inputs", &hex0x::encode(&inputs)])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("(measured: the command used")
                .and(predicate::str::contains("unknown").not()),
        );
}

/// A `kalypso prover serve` process, killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    let mut child = std::process::Command::new(KALYPSO)
        .args(["prover", "serve", "--listen", "127.0.0.1:0", "--json"])
        .args(args)
        .env_remove("KALYPSO_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("kalypso starts");
    let stdout = child.stdout.take().expect("piped");
    // The JSON document is printed once the socket is bound; read it up to its closing brace.
    let mut text = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout");
        text.push_str(&line);
        if line == "}" {
            break;
        }
    }
    let started: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    Served {
        child,
        url: started["listening"].as_str().expect("url").to_owned(),
    }
}

#[test]
fn serve_exposes_a_built_in_prover_as_a_gateway() {
    let served = serve(&["--circuit", "merkle", "--size", "2"]);
    let client = WebhookProver::new(&WebhookConfig::new(&served.url)).expect("valid config");
    let health = client.health().expect("health");
    assert_eq!(health.prover.name, "groth16/merkle-2");

    let spec = CircuitSpec::new(CircuitKind::Merkle, 2).expect("valid size");
    let inputs = spec.sample_inputs(9);
    let proof = client
        .prove(&ProveRequest::new(inputs.clone()))
        .expect("proof over HTTP");
    let keys = setup::load_or_setup(None, spec, None).expect("keys");
    assert!(
        keys.verify_submission(&inputs, proof.as_bytes())
            .expect("parses")
    );

    // `benchmark` with a webhook config asks the gateway to benchmark itself.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("gateway.json");
    std::fs::write(
        &config,
        serde_json::json!({ "backend": "webhook", "url": served.url }).to_string(),
    )
    .expect("write");
    let bench = json(
        kalypso()
            .args(["prover", "benchmark", "--runs", "2", "--config"])
            .arg(&config),
    );
    assert_eq!(bench["report"]["runs"], 2);
    assert_eq!(bench["prover"]["kind"], "webhook");
    // The gateway's built-in prover reports its threads; where it does not, 1 is assumed and said so.
    assert!(
        ["configured", "assumed"]
            .contains(&bench["threadsPerProof"]["source"].as_str().unwrap_or("")),
        "{bench}"
    );
    kalypso()
        .args([
            "prover",
            "check",
            "--inputs",
            &hex0x::encode(spec.invalid_sample_inputs().0),
            "--config",
        ])
        .arg(&config)
        .assert()
        .code(1)
        .stdout("the path does not lead to the root\n");
}

#[test]
fn benchmark_reports_percentiles_and_suggests_a_quote() {
    let bench = json(kalypso().args([
        "prover",
        "benchmark",
        "--circuit",
        "mimc",
        "--size",
        "64",
        "--runs",
        "3",
        "--threads",
        "1",
    ]));
    let report = &bench["report"];
    assert_eq!(report["runs"], 3);
    assert_eq!(report["timesMs"].as_array().map(Vec::len), Some(3));
    let p50 = report["p50Ms"].as_f64().expect("p50");
    let p90 = report["p90Ms"].as_f64().expect("p90");
    assert!(p50 > 0.0 && p50 <= p90);
    assert_eq!(report["threads"], 1);
    assert_eq!(bench["threadsPerProof"]["source"], "configured");
    let suggestion = &bench["suggestion"];
    assert_eq!(suggestion["computePerProof"], 1);
    // p90 × 2 + 30 s, rounded up.
    let expected = (p90 * 2.0 / 1e3 + 30.0).ceil();
    assert_eq!(suggestion["maxProofTimeSecs"].as_f64(), Some(expected));

    kalypso()
        .args([
            "prover",
            "benchmark",
            "--circuit",
            "mimc",
            "--size",
            "4",
            "--runs",
            "1",
            "--safety-factor",
            "0.5",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--safety-factor must be at least 1",
        ));
    kalypso()
        .args([
            "prover",
            "benchmark",
            "--circuit",
            "mimc",
            "--size",
            "4",
            "--inputs",
            "0x01",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot be proven"));
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_a_market_from_setup_files_and_verify_a_cli_proof_on_chain() {
    use alloy::primitives::{Address, Bytes, U256};
    use kalypso_contracts::Groth16Verifier;
    use kalypso_test_utils::Chain;

    let chain = Chain::spawn();
    let cli = super::Cli::new(&chain);
    let dir = tempfile::tempdir().expect("temp dir");
    json(
        kalypso()
            .args([
                "prover",
                "setup",
                "--circuit",
                "merkle",
                "--size",
                "4",
                "--out",
            ])
            .arg(dir.path()),
    );
    let vk_json = dir.path().join("merkle-4.vk.json");

    let deployed = json(
        cli.as_account(&chain, 0)
            .arg("deploy")
            .arg("--sample-market")
            .arg(&vk_json),
    );
    let verifier: Address = deployed["sampleVerifier"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no sample verifier in {deployed}"));
    let verifier = Groth16Verifier::new(verifier, chain.provider.clone());
    assert_eq!(
        verifier.numInputs().call().await.expect("numInputs"),
        U256::from(2)
    );

    let spec = CircuitSpec::new(CircuitKind::Merkle, 4).expect("valid size");
    let inputs = spec.sample_inputs(21);
    let proved = json(
        kalypso()
            .args([
                "prover",
                "prove",
                "--circuit",
                "merkle",
                "--size",
                "4",
                "--keys",
            ])
            .arg(dir.path())
            .args(["--inputs", &hex0x::encode(&inputs)]),
    );
    let proof = hex_field(&proved, "proof");
    let verify = |inputs: Vec<u8>, proof: Vec<u8>| {
        let verifier = &verifier;
        async move {
            verifier
                .verify(Bytes::from(inputs), Bytes::from(proof))
                .call()
                .await
                .unwrap_or(false)
        }
    };
    assert!(verify(inputs.clone(), proof.clone()).await);
    assert!(!verify(spec.sample_inputs(22), proof).await);
}
