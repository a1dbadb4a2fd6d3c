//! The bindings against real contracts on a fresh anvil: deployment from the checked-in bytecode, calls,
//! typed revert decoding, and the EIP-712 type strings the Rust side signs with.

use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::{SolError, SolInterface},
};
use kalypso_contracts::{
    Groth16Verifier, ProofMarketplace,
    marketplace::{IProofMarketplace, ProofMarketplace::ProofMarketplaceErrors},
};
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh anvil (the pinned one from `scripts/setup.sh`) and a provider signing with its first account.
async fn chain() -> (AnvilInstance, DynProvider) {
    let anvil = Anvil::new()
        .path(repo_root().join(".tools/bin/anvil"))
        .try_spawn()
        .expect("anvil from .tools/bin (run scripts/setup.sh)");
    let signer: PrivateKeySigner = anvil.keys()[0].clone().into();
    let provider = ProviderBuilder::new()
        .wallet(signer)
        .connect_http(anvil.endpoint_url())
        .erased();
    (anvil, provider)
}

struct Fixture {
    vk: Bytes,
    num_inputs: U256,
    inputs: Bytes,
    proof: Bytes,
}

fn fixture() -> Fixture {
    let path = repo_root().join("contracts/test/fixtures/groth16_mimc.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
            .expect("fixture json");
    let bytes = |k: &str| json[k].as_str().expect(k).parse::<Bytes>().expect(k);
    Fixture {
        vk: bytes("vk"),
        num_inputs: U256::from(json["numInputs"].as_u64().expect("numInputs")),
        inputs: bytes("inputs"),
        proof: bytes("proof"),
    }
}

#[tokio::test]
async fn groth16_verifier_checks_real_proof_on_chain() {
    let (_anvil, provider) = chain().await;
    let f = fixture();
    let verifier = Groth16Verifier::deploy(
        provider.clone(),
        f.vk.clone(),
        f.num_inputs,
        f.inputs.clone(),
        f.proof.clone(),
    )
    .await
    .expect("deploy verifier");

    assert!(
        verifier
            .checkSampleInputsAndProof()
            .call()
            .await
            .expect("self-check")
    );
    assert!(
        verifier
            .verify(f.inputs.clone(), f.proof.clone())
            .call()
            .await
            .expect("verify")
    );

    let mut tampered = f.proof.to_vec();
    tampered[40] ^= 1;
    assert!(
        !verifier
            .verify(f.inputs, tampered.into())
            .call()
            .await
            .expect("verify tampered")
    );
}

#[tokio::test]
async fn marketplace_reverts_decode_into_typed_errors() {
    let (_anvil, provider) = chain().await;
    // The implementation alone: every market lookup fails, which is enough to see a typed revert.
    let market = ProofMarketplace::deploy(
        provider.clone(),
        Address::ZERO,
        Address::ZERO,
        Address::ZERO,
    )
    .await
    .expect("deploy marketplace implementation");
    let request = IProofMarketplace::AskRequest {
        marketId: U256::from(7),
        reward: U256::from(1),
        deadline: U256::from(u64::MAX),
        preference: 0, // Preference.Cost
        refundAddress: Address::repeat_byte(1),
        proverData: Bytes::from_static(b"inputs"),
        secret: Bytes::new(),
        acl: Bytes::new(),
    };
    let err = market
        .createAsk(request)
        .call()
        .await
        .expect_err("unknown market");
    let decoded = err
        .as_decoded_interface_error::<ProofMarketplaceErrors>()
        .expect("typed error");
    match decoded {
        ProofMarketplaceErrors::MarketNotFound(e) => assert_eq!(e.marketId, U256::from(7)),
        other => panic!("unexpected error {other:?}"),
    }
    // The selector list is complete enough to recognise every custom error of the contract.
    assert!(ProofMarketplaceErrors::valid_selector(
        ProofMarketplace::AskNotAssignable::SELECTOR
    ));
}

#[tokio::test]
async fn eip712_type_strings_match_the_contracts() {
    let (_anvil, provider) = chain().await;
    let market = ProofMarketplace::deploy(provider, Address::ZERO, Address::ZERO, Address::ZERO)
        .await
        .expect("deploy marketplace implementation");
    assert_eq!(
        market
            .ASSIGN_BATCH_TYPEHASH()
            .call()
            .await
            .expect("typehash"),
        keccak256(kalypso_contracts::ASSIGN_BATCH_TYPE)
    );
    assert_eq!(
        market
            .INVALID_INPUT_TYPEHASH()
            .call()
            .await
            .expect("typehash"),
        keccak256(kalypso_contracts::INVALID_INPUT_TYPE)
    );
}
