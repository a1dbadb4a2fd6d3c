//! The bindings against real contracts on a fresh anvil: deployment from the checked-in bytecode, calls,
//! typed revert decoding, and the EIP-712 type strings the Rust side signs with.

use alloy::{
    primitives::{Address, Bytes, U256, keccak256},
    sol_types::{SolError, SolInterface},
};
use kalypso_contracts::{
    Groth16Verifier, ProofMarketplace,
    marketplace::{IProofMarketplace, ProofMarketplace::ProofMarketplaceErrors},
};
use kalypso_test_utils::{Chain, Groth16Fixture};

#[tokio::test]
async fn groth16_verifier_checks_real_proof_on_chain() {
    let chain = Chain::spawn();
    let provider = chain.provider.clone();
    let f = Groth16Fixture::load();
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
    let chain = Chain::spawn();
    let provider = chain.provider.clone();
    // The implementation alone: every market lookup fails, which is enough to see a typed revert.
    let market = ProofMarketplace::deploy(
        provider.clone(),
        Address::ZERO,
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
    let chain = Chain::spawn();
    let provider = chain.provider.clone();
    let market = ProofMarketplace::deploy(
        provider,
        Address::ZERO,
        Address::ZERO,
        Address::ZERO,
        Address::ZERO,
    )
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
