//! A generator's enclave key in a confidential market: registered with a trusted signer's attestation and the
//! enclave key's own signature; a copy of someone else's attested key registers nothing.

use alloy::{
    primitives::{B256, Bytes},
    signers::{SignerSync, local::PrivateKeySigner},
};
use kalypso_contracts::{
    AttestationVerifier, key_registry::EntityKeyRegistry::EntityKeyRegistryErrors,
};
use kalypso_sdk::{MarketParams, SignedAttestation};

use crate::{Env, SAMPLE_MARKET, pond, pubkey};

const IMAGE: B256 = B256::repeat_byte(0x42);

fn sign(signer: &PrivateKeySigner, digest: B256) -> Bytes {
    Bytes::from(
        signer
            .sign_hash_sync(&digest)
            .expect("sign")
            .as_bytes()
            .to_vec(),
    )
}

#[tokio::test]
async fn an_attested_enclave_key_registers_only_for_the_generator_it_signed_for() {
    let env = Env::new().await;
    let admin = env.client(env.admin);
    // The IVS account doubles as a trusted attestation signer here (what the attestation-verifier service is).
    let attester = env.ivs.clone();
    AttestationVerifier::new(env.deployment.attestation_verifier, &env.provider)
        .addTrustedSigner(attester.address())
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("trust the attester");
    let verifier = admin.market(SAMPLE_MARKET).await.expect("sample").verifier;
    let (market, _) = admin
        .create_market(MarketParams {
            verifier,
            prover_image_id: IMAGE,
            slashing_penalty: pond(1),
            min_stake: pond(1),
            ..MarketParams::default()
        })
        .await
        .expect("confidential market");

    let enclave = PrivateKeySigner::random();
    let now_ms = admin.block_timestamp().await.expect("time") * 1000;
    let enclave_pubkey = pubkey(&enclave);
    let attestation = SignedAttestation {
        enclave_pubkey: enclave_pubkey.clone(),
        image_id: IMAGE,
        timestamp_ms: now_ms,
        signature: sign(
            &attester,
            admin.attestation_digest(enclave_pubkey, IMAGE, now_ms),
        ),
    };
    let generator = env.client(env.generator);
    let consent = sign(
        &enclave,
        generator.generator_key_registration_digest(env.generator, market),
    );
    generator
        .register_generator_key_with_attestation(market, &attestation, consent.clone())
        .await
        .expect("register");

    // Another account copies the attestation and the enclave's signature from the calldata.
    let copier = env.client(env.other);
    let err = copier
        .register_generator_key_with_attestation(market, &attestation, consent)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.key_registry_error(),
            Some(EntityKeyRegistryErrors::InvalidEnclaveSignature(e)) if e.enclave == enclave.address()
        ),
        "{err:?}"
    );
}
