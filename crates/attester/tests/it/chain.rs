//! A signed attestation is what the deployed `AttestationVerifier` accepts: it recovers to the signer under the
//! deployment's EIP-712 domain and registers the enclave key of a confidential market.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use kalypso_attester::Attester;
use kalypso_confidential::testing::{self, TEST_PCRS, TestAuthority};
use kalypso_contracts::attestation_verifier::AttestationVerifier::AttestationVerifierErrors;
use kalypso_primitives::eip712::attestation_domain;
use kalypso_sdk::{ContractError, DeployConfig, Kalypso, MarketParams, SampleMarket};
use kalypso_test_utils::{Chain, Groth16Fixture};

use crate::{MINUTE_MS, now_ms, pubkey, recover};

#[tokio::test]
async fn an_attested_enclave_key_registers_on_chain() {
    let chain = Chain::spawn();
    let (admin, generator) = (chain.account(0), chain.account(1));
    let mut wallet = EthereumWallet::new(admin.clone());
    wallet.register_signer(generator.clone());
    let provider = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(chain.anvil.endpoint_url())
        .erased();

    // The attester's key is trusted by the deployment (`kalypso deploy --attestation-signer`).
    let signer = PrivateKeySigner::random();
    let fixture = Groth16Fixture::load();
    let config = DeployConfig {
        attestation_signers: vec![signer.address()],
        sample_market: Some(SampleMarket::groth16(
            fixture.vk,
            fixture.num_inputs,
            fixture.inputs,
            fixture.proof,
        )),
        ..DeployConfig::devnet(admin.address())
    };
    let deployment = kalypso_sdk::deploy(&provider, config)
        .await
        .expect("deploy");
    let image = testing::image_id(&TEST_PCRS);
    let admin_client = Kalypso::new(provider.clone(), deployment.clone(), admin.address());
    let (market, _) = admin_client
        .create_market(MarketParams {
            verifier: deployment.sample_verifier.expect("sample verifier"),
            prover_image_id: image,
            slashing_penalty: U256::from(1),
            min_stake: U256::from(1),
            ..MarketParams::default()
        })
        .await
        .expect("confidential market");

    let authority = TestAuthority::new();
    let attester = Attester::new(
        signer.clone(),
        deployment.chain_id,
        deployment.attestation_verifier,
        authority.policy(10 * MINUTE_MS).with_image_id(image),
    );
    assert_eq!(
        attester.domain(),
        attestation_domain(deployment.chain_id, deployment.attestation_verifier)
    );
    let enclave = PrivateKeySigner::random();
    let made = now_ms() - 1_000;
    let document = authority.document(&TEST_PCRS, &pubkey(&enclave), made);
    let attestation = attester.attest(&document, now_ms()).expect("attested");
    assert_eq!(attestation.enclave_pubkey, pubkey(&enclave));
    assert_eq!(attestation.image_id, image);
    assert_eq!(attestation.timestamp_ms, made, "the document's own time");
    // The SDK computes the deployment's digest independently; the signature recovers to the signer.
    let digest = admin_client.attestation_digest(attestation.enclave_pubkey.clone(), image, made);
    assert_eq!(recover(&attestation.signature, digest), signer.address());

    // The AttestationVerifier accepts it: the enclave key registers as the generator's for the market.
    let generator_client = Kalypso::new(provider.clone(), deployment.clone(), generator.address());
    generator_client
        .register_enclave_key(market, &attestation, &enclave)
        .await
        .expect("registered");
    let registered = generator_client
        .generator_key(market, generator.address())
        .await
        .expect("view")
        .expect("a key");
    assert_eq!(registered.to_bytes().as_slice(), pubkey(&enclave).as_ref());

    // The same signer's attestation for another AttestationVerifier (another domain) registers nothing.
    let elsewhere = Attester::new(
        signer,
        deployment.chain_id,
        Address::repeat_byte(0x01),
        authority.policy(10 * MINUTE_MS),
    );
    let other = PrivateKeySigner::random();
    let document = authority.document(&TEST_PCRS, &pubkey(&other), made);
    let foreign = elsewhere.attest(&document, now_ms()).expect("signed");
    let err = generator_client
        .register_enclave_key(market, &foreign, &other)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.contract_error(),
            Some(ContractError::AttestationVerifier(
                AttestationVerifierErrors::UntrustedSigner(_)
            ))
        ),
        "{err}"
    );
}
