//! `kalypso ask create --secret-file`: the secret is sealed to the Matching Engine's registered key and only
//! the ciphertext goes on-chain; a public market refuses a secret, a confidential one requires it.

use super::Cli;
use kalypso_test_utils::Chain;
use predicates::prelude::*;

#[tokio::test(flavor = "multi_thread")]
async fn ask_create_seals_the_secret_file() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    let me = chain.account(0);
    let pubkey = alloy::hex::encode_prefixed(me.public_key().as_slice());
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", &pubkey])
        .assert()
        .success();
    let deployment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cli.deployment).expect("deployment"))
            .expect("json");
    let verifier = deployment["sampleVerifier"]
        .as_str()
        .expect("sample verifier")
        .to_owned();
    cli.as_account(&chain, 0)
        .args([
            "market",
            "create",
            "--verifier",
            &verifier,
            "--slashing-penalty",
            "1",
            "--min-stake",
            "2",
            "--prover-image",
            "0x0101010101010101010101010101010101010101010101010101010101010101",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("market 2 created"));
    cli.as_account(&chain, 2)
        .args(["faucet"])
        .assert()
        .success();

    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("witness.bin");
    let plaintext = "p=13;q=17 (only the enclave may read this)";
    std::fs::write(&secret, plaintext).expect("write secret");
    let secret = secret.to_str().expect("utf-8 path");
    let inputs = alloy::hex::encode_prefixed(&kalypso_test_utils::Groth16Fixture::load().inputs);
    let ask = |market: &'static str| {
        let mut cmd = cli.as_account(&chain, 2);
        cmd.args([
            "ask", "create", "--market", market, "--inputs", &inputs, "--reward", "5",
        ]);
        cmd
    };

    // The confidential market needs the secret; the public one refuses it.
    ask("2")
        .assert()
        .failure()
        .stderr(predicate::str::contains("takes secret inputs"));
    ask("1")
        .args(["--secret-file", secret])
        .assert()
        .failure()
        .stderr(predicate::str::contains("is public"));

    let out = ask("2")
        .args(["--secret-file", secret, "--json"])
        .assert()
        .success();
    let created: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("json");
    let commitment = created["secretCommitment"]
        .as_str()
        .expect("commitment")
        .to_owned();
    assert_eq!(commitment.len(), 66, "{created}");

    // The on-chain request carries the ciphertext, never the plaintext.
    let events = cli
        .as_account(&chain, 2)
        .args(["events", "--from-block", "0", "--json"])
        .assert()
        .success();
    let events = String::from_utf8_lossy(&events.get_output().stdout).into_owned();
    assert!(!events.contains(plaintext), "plaintext on-chain");
    let hex_plaintext = alloy::hex::encode(plaintext);
    assert!(!events.contains(&hex_plaintext), "plaintext on-chain (hex)");
}
