//! The `kalypso` binary against a fresh anvil: the happy path of every role and clear errors for bad input.

mod attestation;
mod audit;
mod circuit;
mod confidential;
mod generator;
mod prover;
mod sim;
mod tee;

use assert_cmd::Command;
use kalypso_test_utils::{Chain, repo_root};
use predicates::prelude::*;
use std::path::PathBuf;

/// `kalypso` with the chain's RPC URL, a funded key and a deployment file in a temp dir.
struct Cli {
    rpc: String,
    deployment: PathBuf,
    _dir: TempDir,
}

/// A temporary directory removed on drop (no extra dependency for one folder).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Cli {
    fn new(chain: &Chain) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "kalypso-cli-{}-{}",
            std::process::id(),
            chain.anvil.port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self {
            rpc: chain.anvil.endpoint(),
            deployment: dir.join("deployment.json"),
            _dir: TempDir(dir),
        }
    }

    /// `kalypso` signing with anvil account `key`.
    fn as_account(&self, chain: &Chain, key: usize) -> Command {
        let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
        cmd.current_dir(repo_root())
            .env("KALYPSO_RPC_URL", &self.rpc)
            .env("KALYPSO_DEPLOYMENT", &self.deployment)
            .env(
                "KALYPSO_PRIVATE_KEY",
                alloy::hex::encode(chain.account(key).to_bytes()),
            )
            .env_remove("KALYPSO_LOG");
        cmd
    }
}

#[test]
fn help_explains_roles() {
    Command::cargo_bin("kalypso")
        .expect("binary built")
        .arg("--help")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("generator")
                .and(predicate::str::contains("Asks: proof requests")),
        );
}

#[test]
fn bad_arguments_name_the_field_and_the_fix() {
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.args(["generator", "status", "0x123"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'0x123' is not an address"));
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.args([
        "ask", "create", "--market", "1", "--inputs", "0x01", "--reward", "five",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("'five' is not an amount"));
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.args([
        "ask",
        "create",
        "--market",
        "1",
        "--inputs",
        "0x01",
        "--reward",
        "1",
        "--deadline",
        "10y",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("unknown unit 'y'"));
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.args([
        "ask",
        "create",
        "--market",
        "1",
        "--inputs",
        "0x01",
        "--reward",
        "1",
        "--preference",
        "fastest",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("expected one of: cost, time"));
    let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
    cmd.args([
        "generator",
        "run",
        "--market",
        "1",
        "--max-fee-per-gas",
        "200",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains("'200' has no unit"));
}

/// Logs written to a pipe (or a file) are plain text: no ANSI colour codes, `NO_COLOR` or not.
#[test]
fn logs_to_a_pipe_have_no_colours() {
    for no_color in [None, Some("1")] {
        let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
        cmd.env("KALYPSO_LOG", "debug").env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        cmd.args(["market", "list", "--rpc-url", "http://127.0.0.1:1"])
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("DEBUG").and(predicate::str::contains("\u{1b}[").not()),
            );
    }
}

/// `kalypso devnet` refuses bad options before it starts anything, and says what was missing.
#[test]
fn devnet_checks_its_options_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let devnet = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("kalypso").expect("binary built");
        cmd.arg("devnet")
            .args(["--dir", &dir.path().display().to_string()])
            .args(args);
        cmd
    };
    devnet(&["--rate", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a rate is above 0"));
    devnet(&["--rate", "fast"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'fast' is not a number"));
    devnet(&["--merkle-depth", "0"]).assert().failure().stderr(
        predicate::str::contains("--merkle-depth").and(predicate::str::contains("out of range")),
    );
    devnet(&["--anvil", "/nonexistent/anvil"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "cannot start anvil at /nonexistent/anvil",
        ));
}

#[test]
fn full_flow_against_anvil() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);

    // Deploy (account 0 = admin), with the sample Groth16 market.
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ProofMarketplace"));
    assert!(cli.deployment.exists());

    cli.as_account(&chain, 0)
        .args(["market", "list", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"id\": 1"));

    // A generator (account 1) registers, stakes and joins.
    cli.as_account(&chain, 1)
        .args(["faucet"])
        .assert()
        .success()
        .stdout(predicate::str::contains("minted 1000"));
    cli.as_account(&chain, 2)
        .args(["faucet", "--amount", "50"])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args(["generator", "register", "--compute", "4"])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args(["generator", "stake", "100"])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args([
            "generator",
            "join",
            "1",
            "--price",
            "1",
            "--max-proof-time",
            "10m",
        ])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args(["generator", "status", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"declaredCompute\": 4"));

    // A second market by another creator (account 2 pays the creation cost), shown and frozen.
    let deployment: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cli.deployment).expect("deployment"))
            .expect("json");
    let verifier = deployment["sampleVerifier"]
        .as_str()
        .expect("sample verifier")
        .to_owned();
    cli.as_account(&chain, 2)
        .args([
            "market",
            "create",
            "--verifier",
            &verifier,
            "--slashing-penalty",
            "1",
            "--min-stake",
            "2",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("market 2 created"));
    cli.as_account(&chain, 2)
        .args(["market", "show", "2", "--json"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("\"minStake\": \"0x1bc16d674ec80000\"")
                .or(predicate::str::contains("2000000000000000000")),
        );
    cli.as_account(&chain, 1)
        .args(["market", "freeze", "2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("NotMarketCreator"));
    cli.as_account(&chain, 2)
        .args(["market", "freeze", "2"])
        .assert()
        .success();

    // Quotes change and markets are left; stake is requested back.
    cli.as_account(&chain, 1)
        .args([
            "generator",
            "join",
            "2",
            "--price",
            "0.2",
            "--max-proof-time",
            "5m",
        ])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args([
            "generator",
            "update",
            "2",
            "--price",
            "0.3",
            "--max-proof-time",
            "4m",
        ])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args(["generator", "leave", "2"])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args(["generator", "unstake", "10"])
        .assert()
        .success()
        .stdout(predicate::str::contains("unstake of 10 requested"));
    cli.as_account(&chain, 1)
        .args(["generator", "unstake", "--withdraw"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("WithdrawalLocked"));

    // A requester (account 2) creates an ask with the fixture inputs and reads it back.
    let fixture = kalypso_test_utils::Groth16Fixture::load();
    let inputs = alloy::hex::encode_prefixed(&fixture.inputs);
    cli.as_account(&chain, 2)
        .args([
            "ask",
            "create",
            "--market",
            "1",
            "--inputs",
            &inputs,
            "--reward",
            "5",
            "--deadline",
            "1h",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("ask 1"));
    cli.as_account(&chain, 2)
        .args(["ask", "status", "1", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"state\": \"CREATED\""));

    // Contract rules come back decoded.
    cli.as_account(&chain, 2)
        .args([
            "ask", "create", "--market", "9", "--inputs", &inputs, "--reward", "5",
        ])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("market 9 does not exist")
                .and(predicate::str::contains("kalypso market list")),
        );
    cli.as_account(&chain, 2)
        .args([
            "ask", "create", "--market", "1", "--inputs", "0x0102", "--reward", "5",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("InvalidInputs"));

    cli.as_account(&chain, 2)
        .args(["ask", "cancel", "1"])
        .assert()
        .success();
    cli.as_account(&chain, 2)
        .args(["balance", "show", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"claimable\": \"5000000\""));
}

/// `kalypso deploy` works from any directory (the sample fixture is built in), `market show` prints the
/// market's metadata, and a custom verifier artifact's market is named after the artifact, not the fixture.
#[test]
fn deploy_anywhere_and_show_the_metadata() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let outside = |cmd: &mut Command| {
        cmd.current_dir(elsewhere.path())
            .env_remove("KALYPSO_DEPLOYMENT");
    };
    let mut deploy = cli.as_account(&chain, 0);
    outside(&mut deploy);
    deploy.args(["deploy"]).assert().success();
    assert!(
        elsewhere
            .path()
            .join("contracts/deployments/31337.json")
            .exists()
    );
    let mut show = cli.as_account(&chain, 0);
    outside(&mut show);
    show.args(["market", "show", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""name":"mimc-chain-64""#));
    let mut show = cli.as_account(&chain, 0);
    outside(&mut show);
    let out = show
        .args(["market", "show", "1", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["metadata"]["name"], "mimc-chain-64");
    assert_eq!(json["metadata"]["kind"], "groth16");
    assert!(
        json["metadataHex"]
            .as_str()
            .is_some_and(|h| h.starts_with("0x7b"))
    );

    // A second deployment whose sample market is a custom artifact (the fixture's key, no circuit fields).
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("contracts/test/fixtures/groth16_mimc.json"))
            .expect("fixture"),
    )
    .expect("json");
    let custom = elsewhere.path().join("poseidon.vk.json");
    let artifact = serde_json::json!({
        "numInputs": fixture["numInputs"],
        "vk": fixture["vk"],
        "inputs": fixture["inputs"],
        "proof": fixture["proof"],
    });
    std::fs::write(&custom, artifact.to_string()).expect("write artifact");
    let second = elsewhere.path().join("second.json");
    let mut deploy = cli.as_account(&chain, 0);
    outside(&mut deploy);
    deploy
        .args(["deploy", "--sample-market"])
        .arg(&custom)
        .arg("--out")
        .arg(&second)
        .assert()
        .success();
    let mut show = cli.as_account(&chain, 0);
    outside(&mut show);
    show.env("KALYPSO_DEPLOYMENT", &second)
        .args(["market", "show", "1"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(r#""name":"poseidon""#)
                .and(predicate::str::contains("mimc-chain").not()),
        );
}

#[test]
fn missing_deployment_says_how_to_get_one() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    cli.as_account(&chain, 0)
        .args(["market", "list"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("kalypso deploy"));
}

#[test]
fn keystore_signs_like_the_raw_key() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    cli.as_account(&chain, 0)
        .args(["deploy", "--no-sample-market"])
        .assert()
        .success();

    let dir = cli.deployment.parent().expect("temp dir").to_path_buf();
    let key = chain.account(3);
    alloy_signer_local::PrivateKeySigner::encrypt_keystore(
        &dir,
        &mut rand::thread_rng(),
        key.to_bytes(),
        "correct horse",
        Some("operator.json"),
    )
    .expect("write keystore");
    let keystore = dir.join("operator.json");

    let mut cmd = cli.as_account(&chain, 0);
    cmd.env_remove("KALYPSO_PRIVATE_KEY")
        .env("KALYPSO_KEYSTORE", &keystore)
        .env("KALYPSO_KEYSTORE_PASSWORD", "correct horse")
        .args(["generator", "register", "--compute", "2", "--json"])
        .assert()
        .success()
        .stdout(predicate::function(move |out: &str| {
            out.to_lowercase()
                .contains(&key.address().to_string().to_lowercase())
        }));

    let mut cmd = cli.as_account(&chain, 0);
    cmd.env_remove("KALYPSO_PRIVATE_KEY")
        .env("KALYPSO_KEYSTORE", &keystore)
        .env("KALYPSO_KEYSTORE_PASSWORD", "wrong")
        .args(["generator", "status"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot decrypt the keystore"));
}

#[test]
fn writes_need_a_key_and_reads_do_not() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    cli.as_account(&chain, 0)
        .args(["deploy", "--no-sample-market"])
        .assert()
        .success();
    let mut cmd = cli.as_account(&chain, 0);
    cmd.env_remove("KALYPSO_PRIVATE_KEY")
        .args(["market", "list"])
        .assert()
        .success();
    let mut cmd = cli.as_account(&chain, 0);
    cmd.env_remove("KALYPSO_PRIVATE_KEY")
        .args(["generator", "register", "--compute", "1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("set KALYPSO_PRIVATE_KEY"));
}

/// Settlement through the CLI: a proof is fetched back, a missed deadline is slashed by a keeper, and the
/// requester withdraws its compensation. The Matching Engine's assignments come from the SDK (the engine has
/// no CLI verb).
#[tokio::test(flavor = "multi_thread")]
async fn proof_slash_and_payouts() {
    use alloy::{
        network::EthereumWallet,
        primitives::{Bytes, U256},
        providers::{Provider, ProviderBuilder},
    };
    use kalypso_sdk::{Deployment, Kalypso, primitives::eip712::Assignment};

    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let me = chain.account(0);
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    // The Matching Engine's public key, printed from its private key (never the private key itself).
    let pubkey = alloy::hex::encode_prefixed(me.public_key().as_slice());
    let secret = alloy::hex::encode(me.to_bytes());
    let me_address = me.address().to_string();
    let mut cmd = cli.as_account(&chain, 3);
    cmd.env("ME_KEY", format!("0x{secret}\n"))
        .args(["keys", "public-key", "--from-env", "ME_KEY"])
        .assert()
        .success()
        .stdout(predicate::eq(format!("{pubkey}\n")));
    let key_file = cli.deployment.with_file_name("me.key");
    std::fs::write(&key_file, &secret).expect("write key file");
    cli.as_account(&chain, 0)
        .args(["keys", "public-key", "--json", "--key-file"])
        .arg(&key_file)
        .assert()
        .success()
        .stdout(
            predicate::str::contains(&pubkey)
                .and(predicate::function(move |out: &str| {
                    out.to_lowercase().contains(&me_address.to_lowercase())
                }))
                .and(predicate::str::contains(&secret).not()),
        );
    cli.as_account(&chain, 0)
        .args(["keys", "public-key"])
        .assert()
        .success()
        .stdout(predicate::eq(format!("{pubkey}\n")));
    let mut cmd = cli.as_account(&chain, 0);
    cmd.env("ME_KEY", "0x1234")
        .args(["keys", "public-key", "--from-env", "ME_KEY"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "ME_KEY does not hold a private key",
        ));
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", &pubkey])
        .assert()
        .success();
    cli.as_account(&chain, 0)
        .args(["keys", "show", "--json"])
        .assert()
        .success()
        .stdout(predicate::function(move |out: &str| {
            out.to_lowercase()
                .contains(&me.address().to_string().to_lowercase())
        }));
    for account in [1, 2] {
        cli.as_account(&chain, account)
            .args(["faucet"])
            .assert()
            .success();
    }
    cli.as_account(&chain, 1)
        .args(["generator", "register", "--compute", "4"])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args(["generator", "stake", "100"])
        .assert()
        .success();
    cli.as_account(&chain, 1)
        .args([
            "generator",
            "join",
            "1",
            "--price",
            "1",
            "--max-proof-time",
            "60s",
        ])
        .assert()
        .success();
    let fixture = kalypso_test_utils::Groth16Fixture::load();
    let inputs = alloy::hex::encode_prefixed(&fixture.inputs);
    for _ in 0..2 {
        cli.as_account(&chain, 2)
            .args([
                "ask", "create", "--market", "1", "--inputs", &inputs, "--reward", "5",
            ])
            .assert()
            .success();
    }

    // The engine assigns both asks to the generator; the generator proves the first.
    let mut wallet = EthereumWallet::new(chain.account(0));
    wallet.register_signer(chain.account(1));
    let provider = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(chain.anvil.endpoint_url())
        .erased();
    let deployment = Deployment::load(&cli.deployment).expect("deployment");
    let engine = Kalypso::new(
        provider.clone(),
        deployment.clone(),
        chain.account(0).address(),
    );
    let generator = chain.account(1).address();
    for ask in [1u64, 2] {
        let assignment = Assignment {
            askId: U256::from(ask),
            generator,
            maxPrice: U256::MAX,
            maxProofTime: U256::MAX,
            acl: Bytes::new(),
        };
        engine.assign_task(&assignment).await.expect("assign");
    }
    Kalypso::new(provider.clone(), deployment, generator)
        .submit_proof(1, fixture.inputs.clone(), fixture.proof.clone())
        .await
        .expect("proof");

    let proof_hex = alloy::hex::encode_prefixed(&fixture.proof);
    cli.as_account(&chain, 2)
        .args(["ask", "proof", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains(proof_hex));
    cli.as_account(&chain, 2)
        .args(["ask", "status", "2", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"state\": \"ASSIGNED\""));

    // The second task's deadline passes: a keeper slashes, the requester is compensated in stake tokens.
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (61u64,))
        .await
        .expect("warp");
    let _: serde_json::Value = provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("mine");
    cli.as_account(&chain, 3)
        .args(["task", "slash", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("slashed").and(predicate::str::contains("re-opened")));
    // The requester's share is held for the ask until a proof completes it.
    cli.as_account(&chain, 2)
        .args(["balance", "show", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"stakePayouts\": \"0\""));
    let assignment = Assignment {
        askId: U256::from(2u64),
        generator,
        maxPrice: U256::MAX,
        maxProofTime: U256::MAX,
        acl: Bytes::new(),
    };
    engine.assign_task(&assignment).await.expect("re-assign");
    Kalypso::new(provider.clone(), engine.deployment().clone(), generator)
        .submit_proof(2, fixture.inputs.clone(), fixture.proof.clone())
        .await
        .expect("proof of the re-opened ask");
    cli.as_account(&chain, 2)
        .args(["balance", "show", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "\"stakePayouts\": \"5000000000000000000\"",
        ));
    // Withdrawals print tokens with their symbol, like `balance show`; --json has the base units too.
    cli.as_account(&chain, 2)
        .args(["balance", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("5 tPOND"));
    cli.as_account(&chain, 2)
        .args(["balance", "withdraw", "--payouts"])
        .assert()
        .success()
        .stdout(predicate::str::contains("withdrew 5 tPOND to"));
    cli.as_account(&chain, 2)
        .args(["balance", "withdraw", "--json"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("\"token\": \"tUSDC\"")
                .and(predicate::str::contains("\"amountTokens\": \"8\""))
                .and(predicate::str::contains("\"amount\": \"8000000\"")),
        );
    cli.as_account(&chain, 2)
        .args(["balance", "show", "--json"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("\"claimable\": \"0\"")
                .and(predicate::str::contains("\"stakePayouts\": \"0\"")),
        );
}

/// `kalypso ask wait` follows an ask to its end and says how it ended, in its exit code and output: a proof
/// (written to --out), a cancellation, an expiry, inputs an IVS attested invalid, and a timeout. The Matching
/// Engine's assignments and the generator's settlements come from the SDK; the proof is the fixture's real one.
#[tokio::test(flavor = "multi_thread")]
async fn ask_wait_names_how_the_ask_ended() {
    use alloy::{
        network::EthereumWallet,
        primitives::{Bytes, U256},
        providers::{Provider, ProviderBuilder},
    };
    use kalypso_sdk::{Deployment, Kalypso, primitives::eip712::Assignment};
    use std::io::BufRead as _;

    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let dir = cli.deployment.parent().expect("temp dir").to_owned();
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    let me = alloy::hex::encode_prefixed(chain.account(0).public_key().as_slice());
    let ivs = alloy::hex::encode_prefixed(chain.account(4).public_key().as_slice());
    for (account, args) in [
        (0, vec!["keys", "set-matching-engine", me.as_str()]),
        (0, vec!["keys", "add-ivs", "1", ivs.as_str()]),
        (1, vec!["faucet"]),
        (2, vec!["faucet"]),
        (1, vec!["generator", "register", "--compute", "4"]),
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
                "60s",
            ],
        ),
    ] {
        cli.as_account(&chain, account)
            .args(args)
            .assert()
            .success();
    }
    let fixture = kalypso_test_utils::Groth16Fixture::load();
    let inputs = alloy::hex::encode_prefixed(&fixture.inputs);
    // Asks 1 (proven), 2 (cancelled), 3 (expires), 4 (invalid inputs), 5 (still open at the timeout).
    for deadline in ["1h", "1h", "2m", "1h", "1h"] {
        cli.as_account(&chain, 2)
            .args([
                "ask",
                "create",
                "--market",
                "1",
                "--inputs",
                &inputs,
                "--reward",
                "5",
                "--deadline",
                deadline,
            ])
            .assert()
            .success();
    }

    let mut wallet = EthereumWallet::new(chain.account(0));
    wallet.register_signer(chain.account(1));
    let provider = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(chain.anvil.endpoint_url())
        .erased();
    let deployment = Deployment::load(&cli.deployment).expect("deployment");
    let engine = Kalypso::new(
        provider.clone(),
        deployment.clone(),
        chain.account(0).address(),
    );
    let generator_address = chain.account(1).address();
    let generator = Kalypso::new(provider.clone(), deployment, generator_address);
    let assign = |ask: u64| Assignment {
        askId: U256::from(ask),
        generator: generator_address,
        maxPrice: U256::MAX,
        maxProofTime: U256::MAX,
        acl: Bytes::new(),
    };

    // Ask 1: a waiter started while the ask is open sees it assigned and proven, and writes the proof.
    let proof_file = dir.join("proof.bin");
    let waiter = cli.as_account(&chain, 2);
    let mut child = std::process::Command::new(waiter.get_program());
    child
        .args(["ask", "wait", "1", "--poll-interval", "1s", "--out"])
        .arg(&proof_file)
        .current_dir(repo_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in waiter.get_envs() {
        match v {
            Some(v) => child.env(k, v),
            None => child.env_remove(k),
        };
    }
    let mut child = child.spawn().expect("kalypso ask wait starts");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("piped"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("progress line");
    assert!(
        first.starts_with("ask 1: open, waiting for a generator"),
        "{first}"
    );
    engine.assign_task(&assign(1)).await.expect("assign");
    generator
        .submit_proof(1, fixture.inputs.clone(), fixture.proof.clone())
        .await
        .expect("proof");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("stderr");
    let output = child.wait_with_output().expect("waiter ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{first}{rest}");
    assert!(stdout.contains("✓ ask 1 completed by"), "{stdout}");
    assert!(stdout.contains("at 1 tUSDC (4 tUSDC refunded)"), "{stdout}");
    assert_eq!(
        std::fs::read(&proof_file).expect("proof written"),
        fixture.proof.to_vec()
    );

    // Ask 2: cancelled by the requester.
    cli.as_account(&chain, 2)
        .args(["ask", "cancel", "2"])
        .assert()
        .success();
    cli.as_account(&chain, 2)
        .args(["ask", "wait", "2"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "✗ ask 2 cancelled; refunded 5 tUSDC",
        ));

    // Ask 4: assigned, then settled with the IVS key's attestation that its inputs cannot be proven.
    engine.assign_task(&assign(4)).await.expect("assign");
    let hash = engine.ask(4).await.expect("ask 4").inputs_hash;
    let signature = engine
        .sign_invalid_input(&chain.account(4), 1, 4, hash)
        .await
        .expect("sign");
    generator
        .submit_invalid_input_attestation(4, signature)
        .await
        .expect("attestation");
    let output = cli
        .as_account(&chain, 2)
        .args(["ask", "wait", "4", "--json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(4));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["outcome"], "invalid-inputs");
    assert_eq!(result["exitCode"], 4);
    assert_eq!(
        result["ivsSigner"].as_str().map(str::to_lowercase),
        Some(chain.account(4).address().to_string().to_lowercase())
    );

    // Ask 5: still open when --timeout passes.
    cli.as_account(&chain, 2)
        .args(["ask", "wait", "5", "--timeout", "1s", "--json"])
        .assert()
        .code(5)
        .stdout(
            predicate::str::contains("\"outcome\": \"timeout\"")
                .and(predicate::str::contains("\"state\": \"CREATED\"")),
        );

    // Ask 3: its deadline passes unassigned: expired (refundable), then refunded.
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (180u64,))
        .await
        .expect("warp");
    let _: serde_json::Value = provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("mine");
    cli.as_account(&chain, 2)
        .args(["ask", "wait", "3"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("✗ ask 3 expired unassigned"));
    cli.as_account(&chain, 3)
        .args(["ask", "cancel", "3"])
        .assert()
        .success();
    cli.as_account(&chain, 2)
        .args(["ask", "wait", "3", "--json"])
        .assert()
        .code(3)
        .stdout(
            predicate::str::contains("\"outcome\": \"refunded\"")
                .and(predicate::str::contains("\"cancelled\": false")),
        );

    // --out without --wait is refused, not ignored.
    cli.as_account(&chain, 2)
        .args([
            "ask", "create", "--market", "1", "--inputs", &inputs, "--reward", "5", "--out",
            "p.bin",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("add --wait"));
}
