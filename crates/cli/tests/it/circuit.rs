//! `kalypso circuit` and `market create --circuit`: from a circom build directory to a live market that a
//! generator fetches, checks against the market's verifier, benchmarks and joins.

use super::Cli;
use assert_cmd::Command;
use kalypso_test_utils::{Chain, repo_root};
use predicates::prelude::*;
use std::{fs, path::PathBuf};

fn kalypso() -> Command {
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.env_remove("KALYPSO_LOG");
    cmd
}

/// The chain circuit's build (the committed package without its manifest) in a temporary directory.
fn circom_build() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("chain");
    fs::create_dir(&dir).expect("mkdir");
    for entry in fs::read_dir(repo_root().join("circuits/chain/fixture")).expect("fixture") {
        let entry = entry.expect("entry");
        if entry.file_name() != "circuit.toml" {
            fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
    }
    (tmp, dir)
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).expect("--json output")
}

#[test]
fn init_check_pack_and_inputs_make_a_package_from_a_circom_build() {
    let (_tmp, dir) = circom_build();
    let d = dir.display().to_string();

    kalypso()
        .args(["circuit", "init", &d, "--name", "chain-16"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--public-input"));
    kalypso()
        .args([
            "circuit",
            "init",
            &d,
            "--name",
            "chain-16",
            "--public-input",
            "x",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("circuit.toml"));
    kalypso()
        .args(["circuit", "init", &d, "--public-input", "x"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("exists already"));

    // Not packed yet: the error says what to run.
    kalypso()
        .args(["circuit", "check", &d])
        .assert()
        .failure()
        .stderr(predicate::str::contains("kalypso circuit pack"));
    let packed = kalypso()
        .args(["circuit", "pack", &d, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let packed = json(&packed);
    assert_eq!(packed["files"].as_array().expect("files").len(), 7);
    let checked = kalypso()
        .args(["circuit", "check", &d, "--prove", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let checked = json(&checked);
    assert_eq!(checked["sha256"], packed["sha256"]);
    assert_eq!(checked["numInputs"], 1);
    assert_eq!(checked["numOutputs"], 1);
    assert_eq!(checked["constraints"], 49);
    assert!(checked["sampleProvedSecs"].as_f64().is_some());

    let input = dir.join("ask.json");
    fs::write(&input, r#"{"x": "258"}"#).expect("write");
    kalypso()
        .args(["circuit", "inputs", &d, &input.display().to_string()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "0x{}0102\n",
            "00".repeat(30)
        )));

    // A tampered artifact is named.
    let mut wasm = fs::read(dir.join("chain.wasm")).expect("wasm");
    wasm[100] ^= 0xff;
    fs::write(dir.join("chain.wasm"), wasm).expect("write");
    kalypso()
        .args(["circuit", "check", &d])
        .assert()
        .failure()
        .stderr(predicate::str::contains("chain.wasm").and(predicate::str::contains("sha256")));
}

#[test]
fn a_package_becomes_a_market_that_generators_fetch_check_and_join() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let (_tmp, dir) = circom_build();
    let d = dir.display().to_string();
    kalypso()
        .args(["circuit", "init", &d, "--public-input", "x"])
        .assert()
        .success();
    kalypso().args(["circuit", "pack", &d]).assert().success();

    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    cli.as_account(&chain, 2)
        .args(["faucet"])
        .assert()
        .success();
    let created = cli
        .as_account(&chain, 2)
        .args([
            "market",
            "create",
            "--circuit",
            &d,
            "--slashing-penalty",
            "1",
            "--min-stake",
            "2",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let created = json(&created);
    assert_eq!(created["market"], 2);
    let sha256 = created["packageSha256"]
        .as_str()
        .expect("sha256")
        .to_owned();
    let shown = cli
        .as_account(&chain, 2)
        .args(["market", "show", "2", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let shown = json(&shown);
    assert_eq!(shown["metadata"]["package"]["sha256"], sha256.as_str());
    assert_eq!(shown["metadata"]["framework"], "circom");
    assert_eq!(shown["verifier"], created["verifier"]);

    // A generator joins without a hand-written prover config or --max-proof-time: the package is fetched
    // into its cache, checked against the market's verifier and benchmarked.
    let cache = tempfile::tempdir().expect("tempdir");
    let generator = |args: &[&str]| {
        let mut cmd = cli.as_account(&chain, 1);
        cmd.env("KALYPSO_CACHE_DIR", cache.path()).args(args);
        cmd
    };
    generator(&["faucet"]).assert().success();
    generator(&["generator", "register", "--compute", "2"])
        .assert()
        .success();
    generator(&["generator", "stake", "10"]).assert().success();
    generator(&["generator", "join", "2", "--price", "0.1"])
        .assert()
        .success()
        .stderr(predicate::str::contains("committing to maxProofTime"));
    assert!(
        cache
            .path()
            .join("packages")
            .join(&sha256)
            .join("chain.zkey")
            .is_file()
    );
    let benchmark = generator(&[
        "generator",
        "benchmark",
        "--market",
        "2",
        "--runs",
        "2",
        "--json",
    ])
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    assert_eq!(json(&benchmark)["prover"]["kind"], "circom");

    // A market whose metadata names the package but whose verifier is another circuit's: refused before
    // any proof could be slashed.
    let deployment: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cli.deployment).expect("deployment"))
            .expect("json");
    let other_verifier = deployment["sampleVerifier"].as_str().expect("verifier");
    let metadata = shown["metadata"].to_string();
    cli.as_account(&chain, 2)
        .args([
            "market",
            "create",
            "--verifier",
            other_verifier,
            "--slashing-penalty",
            "1",
            "--min-stake",
            "2",
            "--metadata",
            &metadata,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("market 3 created"));
    generator(&["generator", "join", "3", "--price", "0.1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("was not deployed for the key"));
}
