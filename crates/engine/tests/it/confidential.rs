//! Confidential asks through the engine: the data key a requester wrapped to the Matching Engine reaches the
//! assigned generator's enclave re-wrapped in the signed assignment, and asks whose sealed inputs are the
//! requester's mistake are refused with the reason in the API (never assigned), also after a restart; so is a
//! ciphertext and acl copied from another requester's ask (the acl names its ask), whose key therefore reaches no
//! enclave or IVS. A ciphertext the requester corrupted under its own key is assigned: the enclave gets that key,
//! cannot decrypt, and the market's IVS attests it.

use alloy::{
    primitives::{B256, Bytes, U256},
    signers::local::PrivateKeySigner,
};
use kalypso_confidential::SecretKey;
use kalypso_primitives::Preference;
use kalypso_sdk::{AskParams, MarketParams, Quote};
use std::time::Duration;

use crate::{Env, eventually, pond};

const IMAGE: B256 = B256::repeat_byte(0x42);

#[tokio::test]
async fn confidential_asks_are_rewrapped_to_the_enclave_or_refused() {
    let env = Env::new().await;
    let admin = env.client(env.admin);

    // INSECURE dev attestation signer (anvil account 9) trusted by the deployment.
    let attester = env.chain.account(9);
    admin
        .add_trusted_attestation_signer(attester.address())
        .await
        .expect("trust the attester");
    let verifier = admin.market(crate::MARKET).await.expect("sample").verifier;
    let (market, _) = admin
        .create_market(MarketParams {
            verifier,
            prover_image_id: IMAGE,
            slashing_penalty: pond(10),
            min_stake: pond(20),
            ..MarketParams::default()
        })
        .await
        .expect("confidential market");

    // A generator whose enclave key is registered for the market with an attestation.
    let g = env.chain.account(3).address();
    let stake = pond(60);
    env.mint(env.deployment.staking_token, g, stake).await;
    let generator = env.client(g);
    generator
        .register(g, 4, Bytes::from_static(b"enclave box"))
        .await
        .expect("register");
    generator.stake(stake).await.expect("stake");
    generator
        .join_market(
            market,
            Quote {
                price_per_proof: U256::from(1_000u64),
                max_proof_time: 600,
                compute_per_proof: 1,
            },
        )
        .await
        .expect("join");
    let enclave = PrivateKeySigner::random();
    let enclave_key = SecretKey::from_signing_key(enclave.credential());
    let attestation = admin
        .insecure_dev_attestation(
            &attester,
            Bytes::copy_from_slice(enclave.public_key().as_slice()),
            IMAGE,
        )
        .await
        .expect("attestation");
    generator
        .register_enclave_key(market, &attestation, &enclave)
        .await
        .expect("register the enclave key");

    // Three asks: well sealed; an acl that is garbage; the acl of another ask's ciphertext.
    let requester = env.client(env.requester);
    env.mint(
        env.deployment.payment_token,
        env.requester,
        U256::from(100_000_000u64),
    )
    .await;
    let deadline = env.now().await + 3600;
    let params = || {
        let mut p = AskParams::new(
            market,
            U256::from(5_000_000u64),
            deadline,
            env.fixture.inputs.clone(),
        );
        p.preference = Preference::Cost;
        p
    };
    let secret = b"{\"p\":\"13\",\"q\":\"17\"}";
    let mut good = params();
    requester
        .seal_secret(&mut good, secret)
        .await
        .expect("seal");
    let mut garbage = params();
    requester
        .seal_secret(&mut garbage, b"other")
        .await
        .expect("seal");
    garbage.acl = Bytes::from_static(b"not an acl at all");
    let mut mismatched = params();
    requester
        .seal_secret(&mut mismatched, b"third")
        .await
        .expect("seal");
    mismatched.acl = good.acl.clone();
    // Attack: another requester's sealed secret copied into this requester's ask (say, to have its key
    // re-wrapped into a market whose IVS or prover image the copier controls).
    let mut copied = params();
    let engine_pub = requester
        .matching_engine_key()
        .await
        .expect("ME key")
        .expect("registered");
    let victim = kalypso_confidential::Context {
        chain_id: env.deployment.chain_id,
        marketplace: env.deployment.marketplace,
        market_id: market,
        requester: env.chain.account(8).address(),
        inputs_hash: alloy::primitives::keccak256(&env.fixture.inputs),
    };
    let stolen =
        kalypso_confidential::seal(b"the victim's secret", &victim, &engine_pub).expect("seal");
    copied.secret = stolen.ciphertext.into();
    copied.acl = stolen.acl.into();
    // The requester's own ciphertext altered after sealing, its acl re-made over the altered bytes with its own
    // key (here unwrapped with the engine's key, which the test holds).
    let engine_key = SecretKey::from_signing_key(env.me.credential());
    let mut corrupt = params();
    requester
        .seal_secret(&mut corrupt, b"fourth")
        .await
        .expect("seal");
    let own = kalypso_confidential::Context {
        chain_id: env.deployment.chain_id,
        marketplace: env.deployment.marketplace,
        market_id: market,
        requester: env.requester,
        inputs_hash: alloy::primitives::keccak256(&corrupt.inputs),
    };
    let data_key = kalypso_confidential::unwrap(&corrupt.acl, &own, &engine_key).expect("own key");
    let mut ciphertext = corrupt.secret.to_vec();
    *ciphertext.last_mut().expect("bytes") ^= 1;
    corrupt.acl = kalypso_confidential::wrap_data_key(
        &data_key,
        kalypso_confidential::commitment(&ciphertext),
        &own,
        &engine_pub,
    )
    .expect("wrap")
    .into();
    corrupt.secret = ciphertext.into();
    let mut ids = Vec::new();
    for p in [good, garbage, mismatched, copied, corrupt] {
        ids.push(requester.create_ask(p).await.expect("create ask").0);
    }
    let (good, garbage, mismatched, copied, corrupt) = (ids[0], ids[1], ids[2], ids[3], ids[4]);

    let engine = env.start(env.engine_config("confidential.db")).await;
    // The good ask is assigned with an acl only the enclave opens, to the plaintext the requester sealed.
    let sealed = eventually("the good ask assigned", Duration::from_secs(60), || async {
        requester
            .sealed_task(good)
            .await
            .expect("sealed task")
            .filter(|s| s.assignee.is_some())
    })
    .await;
    assert_eq!(sealed.assignee, Some(g));
    let opened = kalypso_confidential::open(
        &sealed.ciphertext,
        &sealed.acl,
        &sealed.context,
        &enclave_key,
    )
    .expect("the enclave opens the assignment's acl");
    assert_eq!(opened.expose(), secret);
    // Nobody else can: not the requester's context on another key, not the engine's own key any more.
    assert!(
        kalypso_confidential::open(
            &sealed.ciphertext,
            &sealed.acl,
            &sealed.context,
            &engine_key
        )
        .is_err()
    );

    // The other two are refused: never assigned, the reason in the API, counted.
    for (ask, expected) in [
        (garbage, "acl"),
        (mismatched, "belongs to the ciphertext"),
        (copied, "acl is corrupt"),
    ] {
        let record = eventually(
            "the refusal in the API",
            Duration::from_secs(30),
            || async {
                let (status, body) = engine.get(&format!("/v1/asks/{ask}")).await;
                (status == 200 && body.get("refused").is_some()).then_some(body)
            },
        )
        .await;
        let reason = record["refused"].as_str().expect("a reason");
        assert!(reason.contains(expected), "ask {ask}: {reason}");
        assert_eq!(record["status"], "open", "{record}");
        assert_eq!(env.assigned_to(ask).await, None, "ask {ask} was assigned");
    }
    assert!(engine.metric("asks_refused_total").await >= 3.0);
    let (_, good_record) = engine.get(&format!("/v1/asks/{good}")).await;
    assert!(good_record.get("refused").is_none(), "{good_record}");

    // The corrupt one is assigned: the enclave gets the ciphertext's own key, and cannot decrypt with it.
    let sealed = eventually(
        "the corrupt ask assigned",
        Duration::from_secs(60),
        || async {
            requester
                .sealed_task(corrupt)
                .await
                .expect("sealed task")
                .filter(|s| s.assignee.is_some())
        },
    )
    .await;
    let key = kalypso_confidential::data_key(
        &sealed.ciphertext,
        &sealed.acl,
        &sealed.context,
        &enclave_key,
    )
    .expect("the acl opens in the enclave");
    assert!(kalypso_confidential::is_key_of(&sealed.ciphertext, &key));
    assert!(
        kalypso_confidential::open(
            &sealed.ciphertext,
            &sealed.acl,
            &sealed.context,
            &enclave_key
        )
        .is_err(),
        "and the ciphertext does not decrypt"
    );

    // After a restart the state is rebuilt from the logs: the refusals come back, nothing is assigned.
    engine.stop().await;
    let engine = env.start(env.engine_config("confidential.db")).await;
    eventually(
        "the refusal after a restart",
        Duration::from_secs(30),
        || async {
            let (_, body) = engine.get(&format!("/v1/asks/{garbage}")).await;
            body.get("refused").is_some().then_some(())
        },
    )
    .await;
    assert_eq!(env.assigned_to(garbage).await, None);
    assert_eq!(env.assigned_to(mismatched).await, None);
    assert_eq!(env.assigned_to(copied).await, None);
    engine.stop().await;
}

/// Attack (a market creator): after asks are sealed for the market's images, the creator adds an extra prover
/// image (one that leaks its input), registers as a cheaper generator with an enclave key attested for it, and
/// waits to be matched. The engine re-wraps an ask's key only to enclaves of images the market had when the ask
/// was created: the earlier ask goes to the other generator; an ask created after the image was added (its
/// requester saw it) may go to the new one.
#[tokio::test]
async fn a_secret_goes_only_to_images_the_market_had_when_it_was_sealed() {
    const EXTRA: B256 = B256::repeat_byte(0x44);
    let env = Env::new().await;
    let admin = env.client(env.admin);
    let attester = env.chain.account(9);
    admin
        .add_trusted_attestation_signer(attester.address())
        .await
        .expect("trust the attester");
    let verifier = admin.market(crate::MARKET).await.expect("sample").verifier;
    let (market, _) = admin
        .create_market(MarketParams {
            verifier,
            prover_image_id: IMAGE,
            slashing_penalty: pond(10),
            min_stake: pond(20),
            ..MarketParams::default()
        })
        .await
        .expect("confidential market");

    // Generator i (anvil account 3 + i) with an enclave key attested for `image`, quoting `price`.
    let join = |i: usize, price: u64, image: B256| {
        let env = &env;
        let admin = &admin;
        let attester = &attester;
        async move {
            let g = env.chain.account(3 + i).address();
            let stake = pond(60);
            env.mint(env.deployment.staking_token, g, stake).await;
            let generator = env.client(g);
            generator
                .register(g, 4, Bytes::from_static(b"enclave box"))
                .await
                .expect("register");
            generator.stake(stake).await.expect("stake");
            generator
                .join_market(
                    market,
                    Quote {
                        price_per_proof: U256::from(price),
                        max_proof_time: 600,
                        compute_per_proof: 1,
                    },
                )
                .await
                .expect("join");
            let enclave = PrivateKeySigner::random();
            let attestation = admin
                .insecure_dev_attestation(
                    attester,
                    Bytes::copy_from_slice(enclave.public_key().as_slice()),
                    image,
                )
                .await
                .expect("attestation");
            generator
                .register_enclave_key(market, &attestation, &enclave)
                .await
                .expect("register the enclave key");
            g
        }
    };
    let honest = join(0, 2_000, IMAGE).await;

    let requester = env.client(env.requester);
    env.mint(
        env.deployment.payment_token,
        env.requester,
        U256::from(100_000_000u64),
    )
    .await;
    let deadline = env.now().await + 3600;
    let sealed_ask = |secret: &'static [u8]| {
        let requester = &requester;
        let inputs = env.fixture.inputs.clone();
        async move {
            let mut p = AskParams::new(market, U256::from(5_000_000u64), deadline, inputs);
            p.preference = Preference::Cost;
            requester.seal_secret(&mut p, secret).await.expect("seal");
            requester.create_ask(p).await.expect("create ask").0
        }
    };
    let before = sealed_ask(b"sealed while the market had one image").await;
    admin
        .add_extra_image(market, EXTRA)
        .await
        .expect("the creator adds an image");
    let creator_box = join(1, 1_000, EXTRA).await;
    let after = sealed_ask(b"sealed after the image was added").await;

    let engine = env.start(env.engine_config("images.db")).await;
    for (ask, expected) in [(before, honest), (after, creator_box)] {
        let assigned = eventually("the ask assigned", Duration::from_secs(60), || async {
            env.assigned_to(ask).await
        })
        .await;
        assert_eq!(assigned, expected, "ask {ask}");
    }
    engine.stop().await;
}
