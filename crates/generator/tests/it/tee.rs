//! A generator's enclave in a confidential TEE market (the factors package behind a `TeeVerifier`): it opens
//! the secret, proves with the package, and signs the proof with its enclave key as a `TeeProof` naming the
//! ask's inputs and secret commitment, the output and the generator; the marketplace accepts it. A node refuses to
//! start without an enclave key attested for the verifier's image, and the proof of one ask does not settle
//! another ask with the same public inputs and another secret.

use super::*;
use alloy::{primitives::B256, sol_types::SolValue};
use kalypso_confidential::SecretKey;
use kalypso_package::Package;
use kalypso_provers::evm;
use kalypso_sdk::{MarketTerms, VerifierKind};

const IMAGE: B256 = B256::repeat_byte(0x7e);

/// Seals `secret` into an ask of `market` for `n` and assigns it to the generator with the data key re-wrapped
/// to `enclave` (the Matching Engine's part).
async fn sealed_assigned_ask(
    env: &Env,
    market: u64,
    n: &[u8],
    secret: &[u8],
    enclave: &PrivateKeySigner,
) -> u64 {
    let requester = env.client(env.requester);
    let reward = U256::from(5_000_000u64);
    env.mint(env.deployment.payment_token, env.requester, reward)
        .await;
    let deadline = env.now().await + 3600;
    let mut params = AskParams::new(market, reward, deadline, n.to_vec().into());
    requester
        .seal_secret(&mut params, secret)
        .await
        .expect("seal");
    let (ask, _) = requester.create_ask(params.clone()).await.expect("ask");
    let me_key = SecretKey::from_signing_key(env.chain.account(1).credential());
    let enclave_pub = kalypso_confidential::PublicKey::from_bytes(enclave.public_key().as_slice())
        .expect("enclave key");
    let context = kalypso_confidential::Context {
        chain_id: env.deployment.chain_id,
        marketplace: env.deployment.marketplace,
        market_id: market,
        requester: env.requester,
        inputs_hash: alloy::primitives::keccak256(n),
    };
    let acl = kalypso_confidential::rewrap_for_ciphertext(
        &params.secret,
        &params.acl,
        &context,
        &me_key,
        &enclave_pub,
    )
    .expect("re-wrap")
    .acl;
    env.client(env.me)
        .assign_task(&eip712::Assignment {
            askId: U256::from(ask),
            generator: env.generator.address(),
            maxPrice: U256::MAX,
            maxProofTime: U256::from(600u64),
            acl: acl.into(),
        })
        .await
        .expect("assign");
    ask
}

#[tokio::test]
async fn an_enclave_signs_tee_proofs_bound_to_their_ask() {
    let env = Env::new().await;
    let admin = env.client(env.admin);
    let attester = env.chain.account(5);
    admin
        .add_trusted_attestation_signer(attester.address())
        .await
        .expect("trust the INSECURE dev attester");

    let package = Package::open(&kalypso_test_utils::repo_root().join("circuits/factors/fixture"))
        .expect("the factors package");
    env.mint(
        env.deployment.payment_token,
        env.admin,
        U256::from(100_000_000u64),
    )
    .await;
    let created = admin
        .create_package_market(
            &package,
            "http://127.0.0.1:1/unused",
            MarketTerms {
                slashing_penalty: pond(PENALTY),
                min_stake: pond(2 * PENALTY),
                prover_image_id: IMAGE,
                tee: true,
                ..MarketTerms::default()
            },
            |_| {},
        )
        .await
        .expect("TEE market");
    let market = created.market;
    assert_eq!(
        admin.verifier_kind(created.verifier).await.expect("kind"),
        Some(VerifierKind::Tee { image_id: IMAGE })
    );
    let prover: Arc<dyn Prover> = package
        .prover_config()
        .expect("prover config")
        .build()
        .expect("prover");
    env.join(market, 3, 600).await;
    let enclave = PrivateKeySigner::random();
    let attestation = admin
        .insecure_dev_attestation(
            &attester,
            Bytes::copy_from_slice(enclave.public_key().as_slice()),
            IMAGE,
        )
        .await
        .expect("attestation");
    env.client(env.generator.address())
        .register_enclave_key(market, &attestation, &enclave)
        .await
        .expect("register the enclave key");

    let config = |key: Option<SecretKey>| {
        let mut config = env.node_config(market, prover.clone(), "tee.db");
        // Never contacted here: every secret is valid.
        config.ivs_url = Some("http://127.0.0.1:1".into());
        config.enclave_key = key;
        config
    };
    // No enclave key, or one not attested for the verifier's image: the node refuses to start.
    for (key, expected) in [
        (None, "TeeVerifier"),
        (Some(SecretKey::random()), "is attested for none"),
    ] {
        let started = Node::run(config(key), std::future::pending(), |_| {}).await;
        let e = started.expect_err("the node refuses to start").to_string();
        assert!(e.contains(expected), "{e}");
    }

    let n = evm::encode_inputs(&[kalypso_provers::Fr::from(221u64)]);
    let ask = sealed_assigned_ask(&env, market, &n, br#"{"p":"13","q":"17"}"#, &enclave).await;
    let node = env
        .start(config(Some(SecretKey::from_signing_key(
            enclave.credential(),
        ))))
        .await;
    env.task_in(&node, ask, TaskState::Submitted).await;
    assert_eq!(env.ask_state(ask).await, AskState::Completed);
    node.stop().await;

    let proof = admin
        .ask_proof(ask)
        .await
        .expect("proof query")
        .expect("a proof on-chain")
        .proof;
    let (output, _signature) = <(Bytes, Bytes)>::abi_decode_params(&proof).expect("a TEE proof");
    assert!(
        package.verify_submission(&n, &output).expect("verifies"),
        "the enclave's output is the package's proof for n = 221"
    );

    // The same n with another secret: the first ask's proof does not settle it.
    let other = sealed_assigned_ask(&env, market, &n, br#"{"p":"17","q":"13"}"#, &enclave).await;
    let replayed = env
        .client(env.generator.address())
        .submit_proof(other, n.clone().into(), proof)
        .await;
    let e = replayed
        .expect_err("a replayed TEE proof is rejected")
        .to_string();
    assert!(e.contains("InvalidProof"), "{e}");
    assert_eq!(env.ask_state(other).await, AskState::Assigned);
}
