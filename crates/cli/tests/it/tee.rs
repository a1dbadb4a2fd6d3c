//! `kalypso market create --circuit DIR --prover-image ID --tee`: a TEE market for a circuit package, its verifier
//! a `TeeVerifier` for the image (shown by `market show`); `--tee` without an image is refused by clap.

use super::Cli;
use kalypso_test_utils::Chain;
use predicates::prelude::*;

const IMAGE: &str = "0x7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e";

#[tokio::test(flavor = "multi_thread")]
async fn a_package_becomes_a_tee_market() {
    let chain = Chain::spawn();
    let cli = Cli::new(&chain);
    cli.as_account(&chain, 0)
        .args(["deploy"])
        .assert()
        .success();
    let package = kalypso_test_utils::repo_root().join("circuits/factors/fixture");
    let package = package.to_str().expect("utf-8 path");
    let create = |extra: &[&str]| {
        let mut cmd = cli.as_account(&chain, 0);
        cmd.args([
            "market",
            "create",
            "--circuit",
            package,
            "--slashing-penalty",
            "1",
            "--min-stake",
            "2",
        ]);
        cmd.args(extra);
        cmd
    };
    create(&["--tee"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--prover-image"));

    let out = create(&["--prover-image", IMAGE, "--tee", "--json"])
        .assert()
        .success();
    let created: serde_json::Value =
        serde_json::from_slice(&out.get_output().stdout).expect("json");
    let market = created["market"].as_u64().expect("market id").to_string();

    let out = cli
        .as_account(&chain, 0)
        .args(["market", "show", &market, "--json"])
        .assert()
        .success();
    let shown: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("json");
    assert_eq!(shown["verifierKind"]["kind"], "tee", "{shown}");
    assert_eq!(shown["verifierKind"]["imageId"], IMAGE, "{shown}");
    assert_eq!(shown["verifier"], created["verifier"], "{shown}");
    cli.as_account(&chain, 0)
        .args(["market", "show", &market])
        .assert()
        .success()
        .stdout(predicate::str::contains("TEE: enclaves of image"));
    // The sample market's verifier is a Groth16 one.
    cli.as_account(&chain, 0)
        .args(["market", "show", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(Groth16)"));
}
