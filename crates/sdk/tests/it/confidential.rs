//! Confidential asks from the requester's side: the secret is sealed to the Matching Engine's registered key
//! for this ask's context, only ciphertext and wrapped key go on-chain, and the ask's secret commitment is the
//! ciphertext's. Asks that mix up secrets and markets are refused before anything is sent.

use alloy::primitives::{B256, U256};
use kalypso_confidential::{Context, Error as SealError, SecretKey};
use kalypso_sdk::{AskParams, Error, MarketParams};

use crate::{Env, SAMPLE_MARKET, USDC, pond};

#[tokio::test]
async fn a_confidential_ask_carries_only_the_sealed_secret() {
    let env = Env::new().await;
    let admin = env.client(env.admin);
    let verifier = admin
        .market(SAMPLE_MARKET)
        .await
        .expect("sample market")
        .verifier;
    let (market, _) = admin
        .create_market(MarketParams {
            verifier,
            prover_image_id: B256::repeat_byte(0x01),
            slashing_penalty: pond(1),
            min_stake: pond(1),
            ..MarketParams::default()
        })
        .await
        .expect("confidential market");
    let requester = env.funded_requester(U256::from(20 * USDC)).await;
    let deadline = requester.block_timestamp().await.expect("time") + 3600;
    let mut params = AskParams::new(
        market,
        U256::from(5 * USDC),
        deadline,
        env.fixture.inputs.clone(),
    );

    // Without its secret the ask is refused locally, naming the fix.
    let err = requester.create_ask(params.clone()).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { what: "secret", reason } if reason.contains("takes secret inputs")),
        "{err}"
    );

    let secret = b"p = 13, q = 17: the witness nobody but the enclave may see";
    let commitment = requester
        .seal_secret(&mut params, secret)
        .await
        .expect("seal");
    assert_eq!(commitment, kalypso_confidential::commitment(&params.secret));
    assert!(
        !params.secret.windows(13).any(|w| w == &secret[..13]),
        "the ciphertext does not contain the plaintext"
    );
    let (ask, _) = requester
        .create_ask(params.clone())
        .await
        .expect("create confidential ask");

    // On-chain: exactly the sealed bytes; the Matching Engine's key opens them for this ask's context only.
    let request = requester.ask_request(ask).await.expect("request");
    assert_eq!(request.secret, params.secret);
    assert_eq!(request.acl, params.acl);
    assert_eq!(
        requester.secret_commitment(ask).await.expect("commitment"),
        commitment,
        "the marketplace stores the commitment proofs bind to"
    );
    let me = SecretKey::from_bytes(env.me.to_bytes().as_slice()).expect("ME key");
    let context = Context {
        chain_id: env.deployment.chain_id,
        marketplace: env.deployment.marketplace,
        market_id: market,
        requester: env.requester,
        inputs_hash: alloy::primitives::keccak256(&request.proverData),
    };
    let opened =
        kalypso_confidential::open(&request.secret, &request.acl, &context, &me).expect("open");
    assert_eq!(opened.expose(), secret);
    // Copied into another requester's ask, or into an ask with other inputs, the acl does not open.
    for elsewhere in [
        Context {
            requester: env.other,
            ..context
        },
        Context {
            inputs_hash: B256::repeat_byte(0x99),
            ..context
        },
    ] {
        assert_eq!(
            kalypso_confidential::open(&request.secret, &request.acl, &elsewhere, &me).unwrap_err(),
            SealError::CorruptAcl
        );
    }
    // Nobody else's key unwraps it.
    let stranger = SecretKey::random();
    assert!(matches!(
        kalypso_confidential::open(&request.secret, &request.acl, &context, &stranger).unwrap_err(),
        SealError::WrongRecipient { .. }
    ));
}

#[tokio::test]
async fn a_public_market_takes_no_secret() {
    let env = Env::new().await;
    let requester = env.funded_requester(U256::from(20 * USDC)).await;
    let deadline = requester.block_timestamp().await.expect("time") + 3600;
    let mut params = AskParams::new(
        SAMPLE_MARKET,
        U256::from(5 * USDC),
        deadline,
        env.fixture.inputs.clone(),
    );
    let err = requester
        .seal_secret(&mut params, b"secret")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { what: "secret", reason } if reason.contains("is public")),
        "{err}"
    );
    params.secret = vec![1u8; 64].into();
    params.acl = vec![2u8; 32].into();
    let err = requester.create_ask(params).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { what: "secret", reason } if reason.contains("is public")),
        "{err}"
    );
}
