//! A generator's enclave in a confidential market (the factors circuit, p and q secret): it opens the secret
//! the Matching Engine re-wrapped to its enclave key, proves with it (the proof verifies on-chain), and hands
//! what it cannot prove to the IVS with the data key wrapped to the IVS's registered key: a secret the circuit
//! rejects, and a ciphertext the requester corrupted under its own key (the engine passes it on). The IVS
//! decrypts, judges and attests, so no honest generator pays for a requester's garbage. The plaintext stays out of the node's database, and
//! the reasons that could quote it are withheld.

use super::*;
use alloy::primitives::B256;
use kalypso_confidential::SecretKey;
use kalypso_generator::ivs::Ivs;
use kalypso_package::Package;
use kalypso_provers::evm;
use kalypso_sdk::{MarketTerms, SignedAttestation};

const IMAGE: B256 = B256::repeat_byte(0x42);

#[tokio::test]
async fn an_enclave_proves_with_the_secret_and_the_ivs_settles_what_it_cannot() {
    let env = Env::new().await;
    let admin = env.client(env.admin);
    let attester = env.chain.account(5);
    admin
        .add_trusted_attestation_signer(attester.address())
        .await
        .expect("trust the INSECURE dev attester");

    // The factors package as a confidential market: n public, p and q from the ask's secret.
    let package = Package::open(&kalypso_test_utils::repo_root().join("circuits/factors/fixture"))
        .expect("the factors package");
    env.mint(
        env.deployment.payment_token,
        env.admin,
        U256::from(100_000_000u64),
    )
    .await;
    let market = admin
        .create_package_market(
            &package,
            "http://127.0.0.1:1/unused",
            MarketTerms {
                slashing_penalty: pond(PENALTY),
                min_stake: pond(2 * PENALTY),
                prover_image_id: IMAGE,
                ..MarketTerms::default()
            },
            |_| {},
        )
        .await
        .expect("confidential market")
        .market;
    let prover: Arc<dyn Prover> = package
        .prover_config()
        .expect("prover config")
        .build()
        .expect("prover");
    env.join(market, 3, 600).await;
    let enclave = PrivateKeySigner::random();
    let attestation: SignedAttestation = admin
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
    admin
        .add_ivs_signer(
            market,
            Bytes::copy_from_slice(env.ivs_key.public_key().as_slice()),
        )
        .await
        .expect("add the IVS key");

    // The IVS of the market.
    let read = ProviderBuilder::new()
        .connect_http(env.chain.anvil.endpoint_url())
        .erased();
    let ivs = Arc::new(Ivs::new(
        Kalypso::new(read, env.deployment.clone(), Address::ZERO),
        market,
        prover.clone(),
        env.ivs_key.clone(),
        2,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let ivs_url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(ivs.serve(listener, std::future::pending()));

    // Three asks for n = 221: the right factors; factors the circuit rejects; a ciphertext altered after
    // sealing (the requester re-committed it, so only its AEAD tag is wrong).
    let requester = env.client(env.requester);
    let n = evm::encode_inputs(&[kalypso_provers::Fr::from(221u64)]);
    let me = env.chain.account(1);
    let me_key = SecretKey::from_signing_key(me.credential());
    let enclave_pub = kalypso_confidential::PublicKey::from_bytes(enclave.public_key().as_slice())
        .expect("enclave key");
    let mut asks = Vec::new();
    for (secret, corrupt) in [
        (&br#"{"p":"13","q":"17"}"#[..], false),
        (&br#"{"p":"3","q":"7"}"#[..], false),
        (&br#"{"p":"13","q":"17"}"#[..], true),
    ] {
        let reward = U256::from(5_000_000u64);
        env.mint(env.deployment.payment_token, env.requester, reward)
            .await;
        let deadline = env.now().await + 3600;
        let mut params = AskParams::new(market, reward, deadline, n.clone().into());
        requester
            .seal_secret(&mut params, secret)
            .await
            .expect("seal");
        let context = kalypso_confidential::Context {
            chain_id: env.deployment.chain_id,
            marketplace: env.deployment.marketplace,
            market_id: market,
            requester: env.requester,
            inputs_hash: alloy::primitives::keccak256(&n),
        };
        if corrupt {
            let key = kalypso_confidential::unwrap(&params.acl, &context, &me_key).expect("key");
            let mut ciphertext = params.secret.to_vec();
            let last = ciphertext.len() - 1;
            ciphertext[last] ^= 1;
            params.acl = kalypso_confidential::wrap_data_key(
                &key,
                kalypso_confidential::commitment(&ciphertext),
                &context,
                &me_key.public_key(),
            )
            .expect("wrap")
            .into();
            params.secret = ciphertext.into();
        }
        let (ask, _) = requester.create_ask(params.clone()).await.expect("ask");
        // The Matching Engine's part: re-wrap to the enclave in the signed assignment. The corrupt ciphertext
        // is the requester's own under its own key: it goes on, for the IVS to attest.
        let rewrapped = kalypso_confidential::rewrap_for_ciphertext(
            &params.secret,
            &params.acl,
            &context,
            &me_key,
            &enclave_pub,
        )
        .expect("the acl is this ask's and its key the ciphertext's");
        assert_eq!(rewrapped.decrypts, !corrupt);
        let acl = rewrapped.acl;
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
        asks.push(ask);
    }

    let mut config = env.node_config(market, prover, "confidential.db");
    config.ivs_url = Some(ivs_url);
    config.enclave_key = Some(SecretKey::from_signing_key(enclave.credential()));
    let node = env.start(config).await;
    env.task_in(&node, asks[0], TaskState::Submitted).await;
    let rejected = env.task_in(&node, asks[1], TaskState::Attested).await;
    let undecryptable = env.task_in(&node, asks[2], TaskState::Attested).await;
    for ask in &asks {
        assert_eq!(env.ask_state(*ask).await, AskState::Completed, "ask {ask}");
    }
    let proof = admin
        .ask_proof(asks[0])
        .await
        .expect("proof query")
        .expect("a proof on-chain");
    assert!(
        package
            .verify_submission(&n, &proof.proof)
            .expect("verifies"),
        "the on-chain proof is a factors proof for n = 221"
    );
    assert!(
        admin.ask_proof(asks[1]).await.expect("query").is_none(),
        "settled by attestation"
    );
    // The reasons: a decryption failure is named, a circuit rejection of secret inputs is withheld.
    let note = |t: &serde_json::Value| t["lastError"].as_str().unwrap_or_default().to_owned();
    assert!(
        note(&undecryptable).contains("do not decrypt"),
        "{undecryptable}"
    );
    assert!(
        note(&rejected).contains("details stay in the enclave"),
        "{rejected}"
    );
    assert!(!note(&rejected).contains("\"p\""), "{rejected}");
    assert_eq!(node.metric("tasks_attested_total").await, 2.0);
    assert_eq!(node.metric("tasks_proven_total").await, 1.0);
    node.stop().await;
    server.abort();

    // The node's database holds no plaintext.
    let db = std::fs::read(env.db("confidential.db")).expect("db");
    for plain in [&b"\"p\":\"13\""[..], b"\"p\":\"3\""] {
        assert!(
            !db.windows(plain.len()).any(|w| w == plain),
            "plaintext in the node's database"
        );
    }
}
