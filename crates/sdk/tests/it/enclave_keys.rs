//! Enclave keys registered with a trusted signer's attestation: a generator's enclave key in a confidential
//! market (with the enclave key's own signature; a copy of someone else's attested key registers nothing), the
//! Matching Engine's key for the ME image and an IVS key for a market's IVS image.

use alloy::{
    primitives::{Address, B256, Bytes},
    signers::{SignerSync, local::PrivateKeySigner},
};
use kalypso_contracts::{
    EntityKeyRegistry, key_registry::EntityKeyRegistry::EntityKeyRegistryErrors,
};
use kalypso_sdk::{Error, MarketParams, SignedAttestation};

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
    trust(&env, &attester).await;
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

/// Trusts `attester` in the deployment's AttestationVerifier (the admin is not behind a timelock here).
async fn trust(env: &Env, attester: &PrivateKeySigner) {
    env.client(env.admin)
        .add_trusted_attestation_signer(attester.address())
        .await
        .expect("trust the attester");
}

/// The Matching Engine's key from its enclave's attestation: refused while no ME image is configured, refused
/// for another image (named, before anything is sent), registered for the ME image, and an attestation older
/// than the current key's is refused by the registry (no rollback to an older enclave).
#[tokio::test]
async fn an_attested_matching_engine_key_registers_for_the_me_image_only() {
    let env = Env::new().await;
    let admin = env.client(env.admin);
    let attester = env.ivs.clone();
    trust(&env, &attester).await;
    assert!(
        admin
            .is_trusted_attestation_signer(attester.address())
            .await
            .expect("view")
    );
    assert!(
        !admin
            .is_trusted_attestation_signer(env.other)
            .await
            .expect("view")
    );
    assert_eq!(
        admin.max_attestation_age_ms().await.expect("view"),
        10 * 60 * 1000
    );
    assert_eq!(
        admin.registry_attestation_verifier().await.expect("view"),
        env.deployment.attestation_verifier
    );
    let enclave = PrivateKeySigner::random();
    let attestation = admin
        .insecure_dev_attestation(&attester, pubkey(&enclave), IMAGE)
        .await
        .expect("attestation");

    // The deployment set the ME key directly: no ME image yet.
    assert_eq!(
        admin.matching_engine_image().await.expect("view"),
        B256::ZERO
    );
    let err = admin
        .set_matching_engine_key_with_attestation(&attestation)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NoEnclaveImage { role } if role == "the Matching Engine"),
        "{err}"
    );

    // Governance configures the ME image (this removes the directly set key).
    EntityKeyRegistry::new(env.deployment.key_registry, &env.provider)
        .setMatchingEngineImage(IMAGE)
        .from(env.admin)
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("ME image set");
    assert_eq!(admin.matching_engine_image().await.expect("view"), IMAGE);
    assert_eq!(admin.matching_engine().await.expect("view"), Address::ZERO);

    // An enclave of another image.
    let other_image = B256::repeat_byte(0x43);
    let wrong = admin
        .insecure_dev_attestation(&attester, pubkey(&enclave), other_image)
        .await
        .expect("attestation");
    let err = admin
        .set_matching_engine_key_with_attestation(&wrong)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::WrongEnclaveImage { attested, required, .. } if *attested == other_image && *required == IMAGE),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the attestation is for image {other_image}, but the Matching Engine must run image {IMAGE}"
        )
    );

    // The ME image's enclave.
    admin
        .set_matching_engine_key_with_attestation(&attestation)
        .await
        .expect("attested ME key set");
    assert_eq!(
        admin.matching_engine().await.expect("view"),
        enclave.address()
    );
    assert_eq!(
        admin.matching_engine_attested_at().await.expect("view"),
        attestation.timestamp_ms
    );

    // Another enclave of the same image, attested before the current key's attestation.
    let older_enclave = PrivateKeySigner::random();
    let older_ms = attestation.timestamp_ms - 1_000;
    let older = SignedAttestation {
        enclave_pubkey: pubkey(&older_enclave),
        image_id: IMAGE,
        timestamp_ms: older_ms,
        signature: sign(
            &attester,
            admin.attestation_digest(pubkey(&older_enclave), IMAGE, older_ms),
        ),
    };
    let err = admin
        .set_matching_engine_key_with_attestation(&older)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.key_registry_error(),
            Some(EntityKeyRegistryErrors::StaleAttestation(e))
                if e.timestampMs == older_ms && e.latestTimestampMs == attestation.timestamp_ms
        ),
        "{err}"
    );
    assert_eq!(
        admin.matching_engine().await.expect("view"),
        enclave.address()
    );
}

/// An IVS enclave's key from its attestation, for a market with an IVS image: relayed by anyone, refused for
/// another image (named), and refused for a market whose IVS keys come from its creator.
#[tokio::test]
async fn an_attested_ivs_key_registers_for_the_markets_ivs_image_only() {
    let env = Env::new().await;
    let admin = env.client(env.admin);
    let attester = env.ivs.clone();
    trust(&env, &attester).await;
    let ivs_image = B256::repeat_byte(0x44);
    let verifier = admin.market(SAMPLE_MARKET).await.expect("sample").verifier;
    let (market, _) = admin
        .create_market(MarketParams {
            verifier,
            ivs_image_id: ivs_image,
            slashing_penalty: pond(1),
            min_stake: pond(1),
            ..MarketParams::default()
        })
        .await
        .expect("market with an IVS image");

    let relayer = env.client(env.other);
    let enclave = PrivateKeySigner::random();
    let wrong = admin
        .insecure_dev_attestation(&attester, pubkey(&enclave), IMAGE)
        .await
        .expect("attestation");
    let err = relayer
        .add_ivs_signer_with_attestation(market, &wrong)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the attestation is for image {IMAGE}, but the IVS of market {market} must run image {ivs_image}"
        )
    );
    assert!(
        !relayer
            .is_ivs_signer(market, enclave.address())
            .await
            .expect("view")
    );

    let attestation = admin
        .insecure_dev_attestation(&attester, pubkey(&enclave), ivs_image)
        .await
        .expect("attestation");
    relayer
        .add_ivs_signer_with_attestation(market, &attestation)
        .await
        .expect("attested IVS key added");
    assert!(
        relayer
            .is_ivs_signer(market, enclave.address())
            .await
            .expect("view")
    );

    // The sample market has no IVS image: its creator adds IVS keys directly.
    let err = relayer
        .add_ivs_signer_with_attestation(SAMPLE_MARKET, &attestation)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NoEnclaveImage { role } if role == &format!("the IVS of market {SAMPLE_MARKET}")),
        "{err}"
    );
}
