//! `kalypso engine run` + `kalypso generator run` as processes on a fresh anvil: an ask created with the CLI is
//! assigned by the engine and proven by the node with the prover the sample market's metadata names; and
//! `kalypso generator benchmark` suggests a quote for that market.

use super::Cli;
use kalypso_test_utils::{Chain, Groth16Fixture};
use predicates::prelude::*;
use std::process::{Child, Stdio};

/// A child process killed on drop.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cli: &Cli, chain: &Chain, key: usize, args: &[&str]) -> Service {
    let cmd = cli.as_account(chain, key);
    let mut child = std::process::Command::new(cmd.get_program());
    child.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        child.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => child.env(k, v),
            None => child.env_remove(k),
        };
    }
    Service(child.spawn().expect("kalypso starts"))
}

#[test]
fn engine_and_generator_node_prove_a_cli_ask() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let dir = cli.deployment.parent().expect("temp dir").to_owned();
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    let me_key = format!(
        "0x{}",
        alloy::hex::encode(chain.account(0).public_key().as_slice())
    );
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", &me_key])
        .assert()
        .success();
    for (account, args) in [
        (1, vec!["faucet"]),
        (2, vec!["faucet"]),
        (1, vec!["generator", "register", "--compute", "2"]),
        (1, vec!["generator", "stake", "100"]),
        (
            1,
            vec![
                "generator",
                "join",
                "1",
                "--price",
                "1",
                "--max-proof-time",
                "5m",
            ],
        ),
    ] {
        cli.as_account(&chain, account)
            .args(args)
            .assert()
            .success();
    }

    // The benchmark builds the prover from the market's metadata (the committed fixture's circuit and seed).
    let output = cli
        .as_account(&chain, 1)
        .args([
            "generator",
            "benchmark",
            "--market",
            "1",
            "--runs",
            "2",
            "--json",
        ])
        .output()
        .expect("benchmark runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bench: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(bench["prover"]["name"], "groth16/mimc-64", "{bench}");
    assert_eq!(bench["report"]["runs"], 2);
    assert!(bench["suggestion"]["maxProofTimeSecs"].as_u64() >= Some(30));
    assert_eq!(bench["currentQuote"]["maxProofTime"], 300);

    let _engine = spawn(
        &cli,
        &chain,
        0,
        &[
            "engine",
            "run",
            "--db",
            &dir.join("engine.db").display().to_string(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let _node = spawn(
        &cli,
        &chain,
        1,
        &[
            "generator",
            "run",
            "--market",
            "1",
            "--db",
            &dir.join("generator.db").display().to_string(),
            "--ws-url",
            &chain.anvil.ws_endpoint(),
            "--bump-after",
            "10s",
            "--max-fee-per-gas",
            "50gwei",
        ],
    );
    let inputs = format!(
        "0x{}",
        alloy::hex::encode(Groth16Fixture::load().inputs.as_ref())
    );
    // The requester waits for the proof: `ask create --wait` follows the ask until the node's proof lands
    // and writes it out.
    let proof_file = dir.join("proof.bin");
    let output = cli
        .as_account(&chain, 2)
        .args([
            "ask",
            "create",
            "--market",
            "1",
            "--inputs",
            &inputs,
            "--reward",
            "2",
            "--wait",
            "--timeout",
            "3m",
            "--poll-interval",
            "1s",
            "--json",
            "--out",
        ])
        .arg(&proof_file)
        .output()
        .expect("ask create --wait runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Progress goes to stderr; how many steps it shows depends on how fast the node proves, but the last one
    // is always the completion.
    assert!(stderr.trim_end().ends_with("ask 1: completed"), "{stderr}");
    // Two JSON documents: the creation, then the outcome.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcome: serde_json::Value = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<serde_json::Value>()
        .last()
        .expect("an outcome")
        .expect("JSON");
    assert_eq!(outcome["outcome"], "completed", "{stdout}");
    assert_eq!(outcome["exitCode"], 0);
    let proof = std::fs::read(&proof_file).expect("proof written");
    assert!(!proof.is_empty());
    cli.as_account(&chain, 2)
        .args(["ask", "proof", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(alloy::hex::encode_prefixed(
            &proof,
        )));
    assert_eq!(
        outcome["proof"].as_str(),
        Some(alloy::hex::encode_prefixed(&proof).as_str())
    );
}
