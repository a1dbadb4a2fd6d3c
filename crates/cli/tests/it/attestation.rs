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
