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

/// `kalypso deploy --attestation-signer` trusts the attestation-verifier service's key, and `kalypso keys
/// register-enclave` registers a generator's enclave key for a confidential market with that signer's
/// attestation (here the INSECURE dev path: the signer's key signs in the CLI, no enclave document); a key
/// the deployment does not trust registers nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_enclave_key_registers_with_a_trusted_attestation() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let attester = chain.account(9);
    let image = "0x4242424242424242424242424242424242424242424242424242424242424242";
    cli.as_account(&chain, 0)
        .args([
            "deploy",
            "--attestation-signer",
            &attester.address().to_string(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(attester.address().to_string()));
    let deployment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cli.deployment).expect("deployment"))
            .expect("json");
    let verifier = deployment["sampleVerifier"]
        .as_str()
        .expect("verifier")
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
            image,
        ])
        .assert()
        .success();

    let dir = tempfile::tempdir().expect("tempdir");
    let enclave = alloy::signers::local::PrivateKeySigner::random();
    let key_file = dir.path().join("enclave.key");
    std::fs::write(&key_file, alloy::hex::encode_prefixed(enclave.to_bytes())).expect("write");
    let register = |attester_key: String| {
        let mut cmd = cli.as_account(&chain, 1);
        cmd.env("DEV_ATTESTER_KEY", attester_key).args([
            "--json",
            "keys",
            "register-enclave",
            "2",
            "--enclave-key-file",
            key_file.to_str().expect("path"),
            "--insecure-dev-attester-env",
            "DEV_ATTESTER_KEY",
            "--image-id",
            image,
        ]);
        cmd
    };
    // An attester the deployment does not trust.
    register(alloy::hex::encode(chain.account(8).to_bytes()))
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("UntrustedSigner").or(predicate::str::contains("trusted")),
        );
    let out = register(alloy::hex::encode(attester.to_bytes()))
        .assert()
        .success();
    let registered: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("json");
    assert_eq!(
        registered["enclave"].as_str().map(str::to_lowercase),
        Some(enclave.address().to_string().to_lowercase())
    );
    // The key's private part appears in neither output.
    let secret = alloy::hex::encode(enclave.to_bytes());
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains(&secret));
    assert!(!String::from_utf8_lossy(&out.get_output().stderr).contains(&secret));
}
