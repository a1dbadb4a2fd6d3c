//! `kalypso engine audit`: zero differences (exit 0) until the Matching Engine key assigns an ask to a dearer
//! generator than the book's choice; then exactly that one is listed and the command exits 1.

use super::Cli;
use alloy::{
    network::EthereumWallet,
    primitives::{Bytes, U256},
    providers::{Provider, ProviderBuilder},
};
use kalypso_sdk::{Deployment, Kalypso, primitives::eip712::Assignment};
use kalypso_test_utils::Chain;
use predicates::prelude::*;

#[tokio::test(flavor = "multi_thread")]
async fn audit_lists_an_assignment_the_book_would_not_make() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    let me = chain.account(0);
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    let pubkey = alloy::hex::encode_prefixed(me.public_key().as_slice());
    cli.as_account(&chain, 0)
        .args(["keys", "set-matching-engine", &pubkey])
        .assert()
        .success();
    // Generators 1 (price 1) and 3 (price 4), requester 2.
    for (account, price) in [(1, "1"), (3, "4")] {
        cli.as_account(&chain, account)
            .args(["faucet"])
            .assert()
            .success();
        cli.as_account(&chain, account)
            .args(["generator", "register", "--compute", "4"])
            .assert()
            .success();
        cli.as_account(&chain, account)
            .args(["generator", "stake", "100"])
            .assert()
            .success();
        cli.as_account(&chain, account)
            .args([
                "generator",
                "join",
                "1",
                "--price",
                price,
                "--max-proof-time",
                "60s",
            ])
            .assert()
            .success();
    }
    cli.as_account(&chain, 2)
        .args(["faucet"])
        .assert()
        .success();
    let fixture = kalypso_test_utils::Groth16Fixture::load();
    let inputs = alloy::hex::encode_prefixed(&fixture.inputs);
    cli.as_account(&chain, 2)
        .args([
            "ask", "create", "--market", "1", "--inputs", &inputs, "--reward", "5",
        ])
        .assert()
        .success();

    // Nothing assigned yet: nothing differs.
    cli.as_account(&chain, 2)
        .args(["engine", "audit", "--from-block", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 differ"));

    // The Matching Engine key assigns the (COST) ask to the dearer generator 3.
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::new(chain.account(0)))
        .connect_http(chain.anvil.endpoint_url())
        .erased();
    let deployment = Deployment::load(&cli.deployment).expect("deployment");
    let (cheap, dear) = (chain.account(1).address(), chain.account(3).address());
    let (_, tx) = Kalypso::new(provider.clone(), deployment, me.address())
        .assign_task(&Assignment {
            askId: U256::from(1),
            generator: dear,
            maxPrice: U256::MAX,
            maxProofTime: U256::MAX,
            acl: Bytes::new(),
        })
        .await
        .expect("assign");

    let out = cli
        .as_account(&chain, 2)
        .args(["engine", "audit", "--from-block", "0", "--json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON report");
    assert_eq!(report["checked"], 1, "{report}");
    let differences = report["differences"].as_array().expect("differences");
    assert_eq!(differences.len(), 1, "{report}");
    let d = &differences[0];
    assert_eq!(d["ask"], 1);
    assert_eq!(d["block"], tx.block_number);
    assert_eq!(d["tx"], serde_json::json!(tx.hash));
    assert_eq!(d["chosen"], serde_json::json!(dear));
    assert_eq!(d["expected"], serde_json::json!(cheap));
    assert!(
        d["why"]
            .as_str()
            .is_some_and(|w| w.contains("cheaper quote")),
        "{d}"
    );
    // The table names the same assignment; a range that ends before it finds nothing.
    cli.as_account(&chain, 2)
        .args(["engine", "audit", "--from-block", "0"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("1 differ").and(predicate::str::contains("cheaper quote")),
        );
    let before = (provider.get_block_number().await.expect("head")).min(tx.block_number - 1);
    cli.as_account(&chain, 2)
        .args([
            "engine",
            "audit",
            "--from-block",
            "0",
            "--to-block",
            &before.to_string(),
        ])
        .assert()
        .success();
}
