//! Real gnark bytes (`tests/fixtures/gnark`, see its README): a gnark proof checked natively and by the
//! `Groth16Verifier` contract deployed with the converted gnark key, a key compared with the coordinates
//! gnark's own Solidity export printed, SP1's key, and the rejection of a key with commitments.

use std::{path::PathBuf, str::FromStr};

use alloy::primitives::{Bytes, U256};
use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use kalypso_contracts::Groth16Verifier;
use kalypso_provers::{
    Fr, GnarkError, evm,
    gnark::{self, KeyLayout},
};
use kalypso_test_utils::Chain;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gnark")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `uint256 constant NAME = value;` lines of gnark's Solidity export.
fn sol_constant(name: &str) -> Fq {
    let text = String::from_utf8(fixture("blank_nocommit.sol-constants.txt")).expect("text");
    let value = text
        .lines()
        .find_map(|line| {
            line.strip_prefix(&format!("uint256 constant {name} = "))?
                .strip_suffix(';')
        })
        .unwrap_or_else(|| panic!("no constant {name}"));
    Fq::from_str(value).unwrap_or_else(|()| panic!("{name} is not a field element"))
}

fn sol_g1(prefix: &str) -> G1Affine {
    let p = G1Affine::new(
        sol_constant(&format!("{prefix}_X")),
        sol_constant(&format!("{prefix}_Y")),
    );
    assert!(p.is_on_curve());
    p
}

/// gnark exports β, γ, δ negated, as `X_0` (real) and `X_1` (imaginary) parts.
fn sol_neg_g2(prefix: &str) -> G2Affine {
    let c = |part: &str| sol_constant(&format!("{prefix}_NEG_{part}"));
    -G2Affine::new(Fq2::new(c("X_0"), c("X_1")), Fq2::new(c("Y_0"), c("Y_1")))
}

#[test]
fn key_matches_gnarks_solidity_export() {
    let key = gnark::parse_verifying_key(&fixture("blank_nocommit.vk")).expect("parses");
    assert_eq!(key.layout, KeyLayout::V0_11);
    // A · B == Out, all public: the constant's K point and three more.
    assert_eq!(key.num_public_inputs(), 3);
    assert_eq!(key.vk.alpha_g1, sol_g1("ALPHA"));
    assert_eq!(key.vk.beta_g2, sol_neg_g2("BETA"));
    assert_eq!(key.vk.gamma_g2, sol_neg_g2("GAMMA"));
    assert_eq!(key.vk.delta_g2, sol_neg_g2("DELTA"));
    assert_eq!(
        key.vk.gamma_abc_g1,
        [
            sol_g1("CONSTANT"),
            sol_g1("PUB_0"),
            sol_g1("PUB_1"),
            sol_g1("PUB_2")
        ]
    );
    assert_eq!(
        key.constructor_bytes().len(),
        evm::VK_HEADER_LEN + 4 * evm::G1_LEN
    );
}

#[test]
fn a_key_with_a_commitment_is_rejected() {
    let err = gnark::parse_verifying_key(&fixture("blank_commit.vk")).expect_err("commitment");
    assert!(
        matches!(
            err,
            GnarkError::Commitments {
                what: "verifying key",
                count: 1
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Pedersen commitment"), "{err}");
}

#[test]
fn sp1_groth16_key_parses() {
    let key = gnark::parse_verifying_key(&fixture("sp1_v6.1.0_groth16.vk")).expect("parses");
    assert_eq!(key.layout, KeyLayout::V0_11);
    assert_eq!(key.num_public_inputs(), 5);
    assert!(key.vk.gamma_abc_g1.iter().all(|p| p.is_on_curve()));
    // Every flag bit matters: the same bytes with α's root flipped are another key.
    let mut flipped = fixture("sp1_v6.1.0_groth16.vk");
    flipped[0] ^= 0b0100_0000;
    let other = gnark::parse_verifying_key(&flipped).expect("still a point");
    assert_eq!(other.vk.alpha_g1, -key.vk.alpha_g1);
}

#[tokio::test]
async fn a_gnark_proof_verifies_natively_and_on_chain() {
    let key = gnark::parse_verifying_key(&fixture("cubic.vk")).expect("key");
    let proof = gnark::parse_proof(&fixture("cubic.proof")).expect("proof");
    let public = gnark::parse_public_witness(&fixture("cubic.pub")).expect("witness");
    assert_eq!(key.layout, KeyLayout::V0_9);
    // x³ + x + 5 == y with x = 3.
    assert_eq!(public, [Fr::from(35u64)]);
    assert!(gnark::verify(&key.vk, &public, &proof).expect("verifies"));
    assert!(!gnark::verify(&key.vk, &[Fr::from(36u64)], &proof).expect("runs"));

    // A market whose asks give y: numInputs = 1, the proof is the 256-byte A ‖ B ‖ C.
    let chain = Chain::spawn();
    let inputs = evm::encode_inputs(&public);
    let submitted = evm::encode_proof_with_outputs(&proof, &[]);
    let verifier = Groth16Verifier::deploy(
        chain.provider.clone(),
        key.constructor_bytes().into(),
        U256::from(1),
        inputs.clone().into(),
        submitted.clone().into(),
    )
    .await
    .expect("deploy the verifier of the gnark key");
    assert!(
        verifier
            .checkSampleInputsAndProof()
            .call()
            .await
            .expect("self-check")
    );
    assert_eq!(
        verifier.numPublicSignals().call().await.expect("signals"),
        U256::from(1)
    );
    let verify = |inputs: Vec<u8>, proof: Vec<u8>| {
        let verifier = &verifier;
        async move {
            verifier
                .verify(Bytes::from(inputs), Bytes::from(proof))
                .call()
                .await
        }
    };
    assert!(
        verify(inputs.clone(), submitted.clone())
            .await
            .expect("verify")
    );
    // Another y, or the proof of the flipped-flag Ar: false.
    let other = evm::encode_inputs(&[Fr::from(36u64)]);
    assert!(!verify(other, submitted.clone()).await.expect("verify"));
    let mut flipped = fixture("cubic.proof");
    flipped[0] ^= 0b0100_0000;
    let flipped = gnark::parse_proof(&flipped).expect("still a point");
    assert!(
        !verify(inputs, evm::encode_proof_with_outputs(&flipped, &[]))
            .await
            .expect("verify")
    );
}
