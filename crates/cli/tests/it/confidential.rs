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

/// `kalypso keys set-matching-engine --attestation` and `keys add-ivs --attestation`: the key comes from an
/// attestation JSON (here signed by an INSECURE dev attester the deployment trusts). The ME key registers for
/// the configured ME image; another image is refused naming both, an attestation older than the current key's
/// is refused by the registry. An IVS key registers for the market's IVS image, relayed by any account, and
/// not for another image. The direct and the attested forms exclude each other.
#[tokio::test(flavor = "multi_thread")]
async fn attested_matching_engine_and_ivs_keys_register_from_the_cli() {
    use alloy::{
        network::EthereumWallet,
        primitives::{B256, Bytes},
        providers::ProviderBuilder,
        signers::local::PrivateKeySigner,
    };
    use kalypso_sdk::{Deployment, Kalypso};

    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let attester = chain.account(9);
    cli.as_account(&chain, 0)
        .args([
            "deploy",
            "--no-timelock",
            "--attestation-signer",
            &attester.address().to_string(),
        ])
        .assert()
        .success();
    let deployment = Deployment::load(&cli.deployment).expect("deployment");
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(chain.account(0)))
        .connect_http(chain.anvil.endpoint_url());
    let admin = Kalypso::new(
        provider.clone(),
        deployment.clone(),
        chain.account(0).address(),
    );
    let me_image = B256::repeat_byte(0x42);
    let ivs_image = B256::repeat_byte(0x44);
    let dir = tempfile::tempdir().expect("tempdir");
    let attestation_file = |name: &str, enclave: &PrivateKeySigner, image: B256| {
        let admin = admin.clone();
        let attester = attester.clone();
        let path = dir.path().join(name);
        let enclave = Bytes::copy_from_slice(enclave.public_key().as_slice());
        async move {
            let attestation = admin
                .insecure_dev_attestation(&attester, enclave, image)
                .await
                .expect("attestation");
            std::fs::write(&path, serde_json::to_string(&attestation).expect("JSON"))
                .expect("write");
            (path.to_str().expect("utf-8 path").to_owned(), attestation)
        }
    };

    // Governance configures the ME image (no timelock here: the deployer is the admin).
    kalypso_contracts::EntityKeyRegistry::new(deployment.key_registry, &provider)
        .setMatchingEngineImage(me_image)
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("ME image set");

    let me = PrivateKeySigner::random();
    let (wrong, _) = attestation_file("me-wrong.json", &me, ivs_image).await;
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", "--attestation", &wrong])
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "the attestation is for image {ivs_image}, but the Matching Engine must run image {me_image}"
        )));
    let (me_file, me_attestation) = attestation_file("me.json", &me, me_image).await;
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", "--attestation", &me_file])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Matching Engine key set (enclave {}, image {me_image})",
            me.address()
        )));
    cli.as_account(&chain, 0)
        .args(["keys", "show", "--json"])
        .assert()
        .success()
        .stdout(predicate::function(|out: &str| {
            out.to_lowercase()
                .contains(&me.address().to_string().to_lowercase())
        }));
    // Another ME enclave whose attestation is older than the current key's.
    let older_enclave = PrivateKeySigner::random();
    let older_ms = me_attestation.timestamp_ms - 1_000;
    let older = kalypso_sdk::SignedAttestation {
        enclave_pubkey: Bytes::copy_from_slice(older_enclave.public_key().as_slice()),
        image_id: me_image,
        timestamp_ms: older_ms,
        signature: Bytes::from(
            alloy::signers::SignerSync::sign_hash_sync(
                &attester,
                &admin.attestation_digest(
                    Bytes::copy_from_slice(older_enclave.public_key().as_slice()),
                    me_image,
                    older_ms,
                ),
            )
            .expect("sign")
            .as_bytes()
            .to_vec(),
        ),
    };
    let older_file = dir.path().join("me-older.json");
    std::fs::write(&older_file, serde_json::to_string(&older).expect("JSON")).expect("write");
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", "--attestation"])
        .arg(&older_file)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("StaleAttestation").and(predicate::str::contains(
                "attested later than this attestation",
            )),
        );
    // The two forms exclude each other; one is required.
    let direct = alloy::hex::encode_prefixed(me.public_key().as_slice());
    cli.as_account(&chain, 0)
        .args([
            "keys",
            "set-matching-engine",
            &direct,
            "--attestation",
            &me_file,
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("required"));

    // A market whose IVS runs an attested image; any account relays the IVS enclave's attestation.
    let verifier = deployment
        .sample_verifier
        .expect("sample verifier")
        .to_string();
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
            "--ivs-image",
            &ivs_image.to_string(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("market 2 created"));
    let ivs = PrivateKeySigner::random();
    let (wrong, _) = attestation_file("ivs-wrong.json", &ivs, me_image).await;
    cli.as_account(&chain, 3)
        .args(["keys", "add-ivs", "2", "--attestation", &wrong])
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "the attestation is for image {me_image}, but the IVS of market 2 must run image {ivs_image}"
        )));
    let (ivs_file, _) = attestation_file("ivs.json", &ivs, ivs_image).await;
    let out = cli
        .as_account(&chain, 3)
        .args(["--json", "keys", "add-ivs", "2", "--attestation", &ivs_file])
        .assert()
        .success();
    let added: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("json");
    assert_eq!(added["market"], 2, "{added}");
    assert_eq!(
        added["signer"].as_str().map(str::to_lowercase),
        Some(ivs.address().to_string().to_lowercase()),
        "{added}"
    );
    assert!(admin.is_ivs_signer(2, ivs.address()).await.expect("view"));
    // The sample market has no IVS image: its creator adds keys directly, attestations are refused.
    cli.as_account(&chain, 0)
        .args(["keys", "add-ivs", "1", "--attestation", &ivs_file])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "the IVS of market 1 has no enclave image",
        ));
    cli.as_account(&chain, 0)
        .args(["keys", "add-ivs", "1", &direct, "--attestation", &ivs_file])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}
