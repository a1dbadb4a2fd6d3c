//! Cross-language check: the same typed messages hashed by the deployed contracts (Solidity) and by
//! `kalypso-primitives` (Rust) give the same EIP-712 digests, and the type strings agree.

use alloy::{
    primitives::{Address, B256, Bytes, U256, b256, keccak256},
    providers::Provider,
    signers::Signer,
    sol_types::{SolCall, SolStruct, SolValue},
};
use kalypso_contracts::{
    AttestationVerifier, ERC1967Proxy, EntityKeyRegistry, ProofMarketplace, TeeVerifier,
};
use kalypso_primitives::eip712;
use kalypso_test_utils::Chain;

fn sample_batch() -> eip712::AssignBatch {
    eip712::AssignBatch {
        assignments: vec![
            eip712::Assignment {
                askId: U256::from(1),
                generator: Address::repeat_byte(0x11),
                maxPrice: U256::from(1_000_000u64),
                maxProofTime: U256::from(600),
                acl: Bytes::new(),
            },
            eip712::Assignment {
                askId: U256::from(42),
                generator: Address::repeat_byte(0x22),
                maxPrice: U256::MAX,
                maxProofTime: U256::from(60),
                acl: Bytes::from_static(b"wrapped aes key"),
            },
        ],
        nonce: U256::from(7),
        expiry: U256::from(1_900_000_000u64),
    }
}

#[tokio::test]
async fn marketplace_messages_hash_identically() {
    let chain = Chain::spawn();
    let chain_id = chain.provider.get_chain_id().await.expect("chain id");
    // The implementation contract hashes with `address(this)`, exactly like the proxy does for itself.
    let market = ProofMarketplace::deploy(
        chain.provider.clone(),
        Address::ZERO,
        Address::ZERO,
        Address::ZERO,
        Address::ZERO,
    )
    .await
    .expect("deploy marketplace");
    let domain = eip712::marketplace_domain(chain_id, *market.address());

    assert_eq!(
        market.domainSeparator().call().await.expect("domain"),
        domain.separator()
    );

    // The marketplace exposes only its domain separator; the digests are pinned as known answers for a fixed
    // domain, the same values the Solidity tests' independent digests assert
    // (`test_digests_matchContractTypesAndKnownAnswers` in contracts/test/unit/ProofMarketplace.t.sol).
    let fixed = eip712::marketplace_domain(31_337, Address::repeat_byte(0x4b));
    assert_eq!(
        sample_batch().eip712_signing_hash(&fixed),
        b256!("8a55291fdda0de747880398eef3d0a2482ae230255ee763b34302319b2de5d9b")
    );
    let attestation = eip712::InvalidInput {
        marketId: U256::from(3),
        askId: U256::from(9),
        inputsHash: keccak256(b"inputs"),
    };
    assert_eq!(
        attestation.eip712_signing_hash(&fixed),
        b256!("d7604c00dd511d90452484077989203e61fae43629b971f0a4d885ca0ee90044")
    );

    assert_eq!(
        eip712::Assignment::eip712_encode_type(),
        kalypso_contracts::ASSIGNMENT_TYPE
    );
    assert_eq!(
        eip712::AssignBatch::eip712_encode_type(),
        kalypso_contracts::ASSIGN_BATCH_TYPE
    );
    assert_eq!(
        eip712::InvalidInput::eip712_encode_type(),
        kalypso_contracts::INVALID_INPUT_TYPE
    );
}

#[tokio::test]
async fn enclave_attestation_hashes_identically() {
    let chain = Chain::spawn();
    let chain_id = chain.provider.get_chain_id().await.expect("chain id");
    let implementation = AttestationVerifier::deploy(chain.provider.clone())
        .await
        .expect("deploy attestation verifier");
    let init = AttestationVerifier::initializeCall {
        admin: chain.signer.address(),
        maxAgeMs: 600_000,
        signers: vec![chain.signer.address()],
    }
    .abi_encode();
    let proxy = ERC1967Proxy::deploy(
        chain.provider.clone(),
        *implementation.address(),
        init.into(),
    )
    .await
    .expect("deploy proxy");
    let verifier = AttestationVerifier::new(*proxy.address(), chain.provider.clone());

    let message = eip712::EnclaveAttestation {
        enclavePubKey: Bytes::from(vec![0xab; 64]),
        imageId: keccak256(b"pcr0pcr1pcr2"),
        timestampMs: 1_700_000_000_000,
    };
    let solidity = verifier
        .attestationDigest(
            message.enclavePubKey.clone(),
            message.imageId,
            message.timestampMs,
        )
        .call()
        .await
        .expect("digest");
    assert_eq!(
        solidity,
        message.eip712_signing_hash(&eip712::attestation_domain(chain_id, *proxy.address()))
    );
    assert_eq!(
        eip712::EnclaveAttestation::eip712_encode_type(),
        kalypso_contracts::ENCLAVE_ATTESTATION_TYPE
    );
}

/// A TEE proof signed in Rust is accepted by the Solidity TeeVerifier: its constructor verifies the sample
/// proof against the sample signer, so deploying it at all proves the two sides agree.
#[tokio::test]
async fn tee_proof_signed_in_rust_verifies_in_solidity() {
    let chain = Chain::spawn();
    let chain_id = chain.provider.get_chain_id().await.expect("chain id");
    let deployer = chain.signer.address();
    let nonce = chain
        .provider
        .get_transaction_count(deployer)
        .await
        .expect("nonce");
    let predicted = deployer.create(nonce);

    let enclave = chain.account(5);
    let input = Bytes::from_static(b"statement");
    let output = Bytes::from_static(b"result");
    // The sample names no ask secret and no generator.
    let message = eip712::TeeProof {
        inputsHash: keccak256(&input),
        secretCommitment: B256::ZERO,
        outputHash: keccak256(&output),
        generator: Address::ZERO,
    };
    let signature = enclave
        .sign_hash(&message.eip712_signing_hash(&eip712::tee_domain(chain_id, predicted)))
        .await
        .expect("sign");
    let proof: Bytes = (output, Bytes::from(signature.as_bytes().to_vec()))
        .abi_encode_params()
        .into();

    let tee = TeeVerifier::deploy(
        chain.provider.clone(),
        Address::repeat_byte(0x33),
        B256::repeat_byte(0x44),
        enclave.address(),
        input.clone(),
        proof.clone(),
    )
    .await
    .expect("the constructor accepts the Rust-signed sample proof");
    assert_eq!(*tee.address(), predicted);
    assert!(
        tee.checkSampleInputsAndProof()
            .call()
            .await
            .expect("self-check")
    );
    assert_eq!(
        eip712::TeeProof::eip712_encode_type(),
        kalypso_contracts::TEE_PROOF_TYPE
    );

    // With an ask's secret commitment and a generator: the digest the contract computes is Rust's.
    let named = eip712::TeeProof {
        inputsHash: keccak256(&input),
        secretCommitment: B256::repeat_byte(0x5e),
        outputHash: keccak256(b"other result"),
        generator: Address::repeat_byte(0x6e),
    };
    assert_eq!(
        tee.proofDigest(
            input.clone(),
            named.secretCommitment,
            Bytes::from_static(b"other result"),
            named.generator
        )
        .call()
        .await
        .expect("digest"),
        named.eip712_signing_hash(&eip712::tee_domain(chain_id, predicted))
    );
    assert_eq!(
        eip712::GeneratorKeyRegistration::eip712_encode_type(),
        kalypso_contracts::GENERATOR_KEY_REGISTRATION_TYPE
    );
    // The restaking committee's messages (their digests are checked against the contracts in
    // kalypso-restaking's two-chain test, where the pool and the middleware accept the signatures).
    assert_eq!(
        eip712::Snapshot::eip712_encode_type(),
        kalypso_contracts::RESTAKING_SNAPSHOT_TYPE
    );
    assert_eq!(
        eip712::SlashRequest::eip712_encode_type(),
        kalypso_contracts::SLASH_REQUEST_TYPE
    );
}

/// The registration an enclave key signs: the registry's digest is Rust's, and the type strings agree.
#[tokio::test]
async fn generator_key_registration_digest_matches_the_registry() {
    let chain = Chain::spawn();
    let chain_id = chain.provider.get_chain_id().await.expect("chain id");
    let implementation = EntityKeyRegistry::deploy(chain.provider.clone())
        .await
        .expect("deploy registry implementation");
    // The EIP-712 name and version are set by `initialize`, through the proxy.
    let init = EntityKeyRegistry::initializeCall {
        admin: chain.signer.address(),
        attestationVerifier_: Address::repeat_byte(0xa7),
        marketView_: Address::ZERO,
    }
    .abi_encode();
    let proxy = ERC1967Proxy::deploy(
        chain.provider.clone(),
        *implementation.address(),
        init.into(),
    )
    .await
    .expect("deploy proxy");
    let registry = EntityKeyRegistry::new(*proxy.address(), chain.provider.clone());
    let message = eip712::GeneratorKeyRegistration {
        generator: Address::repeat_byte(0x6e),
        marketId: U256::from(7),
    };
    assert_eq!(
        registry
            .generatorKeyRegistrationDigest(message.generator, message.marketId)
            .call()
            .await
            .expect("digest"),
        message.eip712_signing_hash(&eip712::key_registry_domain(chain_id, *registry.address()))
    );
    assert_eq!(
        registry
            .GENERATOR_KEY_REGISTRATION_TYPEHASH()
            .call()
            .await
            .expect("typehash"),
        keccak256(kalypso_contracts::GENERATOR_KEY_REGISTRATION_TYPE)
    );
    assert_eq!(
        eip712::GeneratorKeyRegistration::eip712_encode_type(),
        kalypso_contracts::GENERATOR_KEY_REGISTRATION_TYPE
    );
    // The restaking committee's messages (their digests are checked against the contracts in
    // kalypso-restaking's two-chain test, where the pool and the middleware accept the signatures).
    assert_eq!(
        eip712::Snapshot::eip712_encode_type(),
        kalypso_contracts::RESTAKING_SNAPSHOT_TYPE
    );
    assert_eq!(
        eip712::SlashRequest::eip712_encode_type(),
        kalypso_contracts::SLASH_REQUEST_TYPE
    );
}
