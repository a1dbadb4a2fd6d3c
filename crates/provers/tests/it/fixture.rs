//! The committed Solidity fixture is exactly what the library generates, and its proof verifies natively.

use std::path::PathBuf;

use kalypso_provers::{
    Fr, evm,
    fixture::{FIXTURE_PATH, Groth16Fixture, mimc_fixture},
    groth16,
};

fn committed_fixture() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(FIXTURE_PATH);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn committed_fixture_matches_generator() {
    let generated = mimc_fixture().expect("fixture generation succeeds");
    let committed = committed_fixture();
    assert!(
        generated.fixture.to_json() == committed,
        "{FIXTURE_PATH} is stale: run `cargo run -p kalypso-provers --example groth16_fixture`"
    );
    // The committed file also parses into the same document (guards the serde names).
    let parsed: Groth16Fixture = serde_json::from_str(&committed).expect("fixture is valid JSON");
    assert_eq!(parsed, generated.fixture);
}

#[test]
fn fixture_proof_verifies_natively() {
    let generated = mimc_fixture().expect("fixture generation succeeds");
    let fixture = &generated.fixture;
    assert_eq!(fixture.num_inputs, 1);
    assert_eq!(fixture.num_public_signals, 2);
    assert_eq!(generated.vk.gamma_abc_g1.len(), 3);

    // Decode the statement back from the hex the contract receives, then verify with arkworks.
    let inputs = hex::decode(fixture.inputs.trim_start_matches("0x")).expect("hex");
    let proof = hex::decode(fixture.proof.trim_start_matches("0x")).expect("hex");
    assert_eq!(inputs.len(), 32);
    assert_eq!(proof.len(), evm::PROOF_LEN + 32);
    assert_eq!(proof[..evm::PROOF_LEN], evm::encode_proof(&generated.proof));
    let x = evm::decode_fr(&inputs).expect("canonical input");
    let y = evm::decode_fr(&proof[evm::PROOF_LEN..]).expect("canonical output");
    assert_eq!(vec![x, y], generated.public_signals);
    assert_eq!(
        fixture.outputs,
        vec![format!("0x{}", hex::encode(evm::encode_fr(&y)))]
    );

    assert!(
        groth16::verify(&generated.vk, &[x, y], &generated.proof).expect("signal count matches")
    );
    assert!(
        !groth16::verify(&generated.vk, &[x, y + Fr::from(1u64)], &generated.proof)
            .expect("count matches")
    );
    assert!(
        !groth16::verify(&generated.vk, &[x + Fr::from(1u64), y], &generated.proof)
            .expect("count matches")
    );
}
