use alloy::primitives::{B256, Bytes, U256};
use kalypso_contracts::marketplace::ProofMarketplace::ProofMarketplaceErrors;
use kalypso_sdk::{AskParams, Error, MarketParams};

use crate::{Env, SAMPLE_MARKET, USDC, pond};

#[tokio::test]
async fn create_show_freeze_and_images() {
    let env = Env::new().await;
    let d = &env.deployment;
    let verifier = d.sample_verifier.unwrap();
    // A third party creates markets: the SDK approves the creation cost, which goes to the treasury.
    env.mint(d.payment_token, env.other, U256::from(20 * USDC))
        .await;
    let treasury_before = env.balance(d.payment_token, env.admin).await;
    let creator = env.client(env.other);
    let (id, tx) = creator
        .create_market(MarketParams {
            verifier,
            slashing_penalty: pond(1),
            min_stake: pond(2),
            fallback_delay: 0,
            metadata: Bytes::from_static(b"{\"name\":\"second\"}"),
            ..MarketParams::default()
        })
        .await
        .expect("create market");
    assert_eq!(id, 2);
    assert_ne!(tx.block_number, 0);
    assert_eq!(
        env.balance(d.payment_token, env.admin).await - treasury_before,
        U256::from(10 * USDC)
    );
    assert_eq!(
        env.balance(d.payment_token, env.other).await,
        U256::from(10 * USDC)
    );

    let market = creator.market(id).await.unwrap();
    assert_eq!(market.creator, env.other);
    assert_eq!(market.verifier, verifier);
    assert_eq!(
        (market.slashing_penalty, market.min_stake),
        (pond(1), pond(2))
    );
    assert!(!market.frozen && !market.confidential);
    let all = creator.markets().await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![SAMPLE_MARKET, 2]
    );
    assert!(matches!(
        creator.market(3).await,
        Err(Error::MarketNotFound(3))
    ));

    // Only the creator (or an admin) freezes; a frozen market takes no asks.
    let err = env
        .client(env.requester)
        .set_market_frozen(id, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::NotMarketCreator(e)) if e.caller == env.requester),
        "{err:?}"
    );
    creator.set_market_frozen(id, true).await.unwrap();
    assert!(creator.market(id).await.unwrap().frozen);
    let requester = env.funded_requester(U256::from(10 * USDC)).await;
    let deadline = requester.block_timestamp().await.unwrap() + 3600;
    let ask = AskParams::new(id, U256::from(USDC), deadline, env.fixture.inputs.clone());
    let err = requester.create_ask(ask.clone()).await.unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::MarketNotActive(e)) if e.frozen),
        "{err:?}"
    );
    creator.set_market_frozen(id, false).await.unwrap();
    requester.create_ask(ask).await.expect("ask after unfreeze");

    // Extra images belong to confidential markets.
    let image = B256::repeat_byte(0x42);
    let err = creator.add_extra_image(id, image).await.unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::ImageUnchanged(_))
        ),
        "{err:?}"
    );
    let (confidential, _) = creator
        .create_market(MarketParams {
            verifier,
            prover_image_id: B256::repeat_byte(0x01),
            slashing_penalty: pond(1),
            min_stake: pond(1),
            ..MarketParams::default()
        })
        .await
        .unwrap();
    assert!(creator.market(confidential).await.unwrap().confidential);
    creator.add_extra_image(confidential, image).await.unwrap();
    creator
        .remove_extra_image(confidential, image)
        .await
        .unwrap();
    let err = creator
        .remove_extra_image(confidential, image)
        .await
        .unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::ImageUnchanged(e)) if e.imageId == image),
        "{err:?}"
    );
}

/// `follow_events` delivers the backlog, then events of blocks mined after it started, in order.
#[tokio::test]
async fn follow_events_sees_new_blocks() {
    use futures::StreamExt;
    use kalypso_contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents;
    use kalypso_sdk::ProtocolEvent;

    let env = Env::new().await;
    let d = &env.deployment;
    let admin = env.client(env.admin);
    let follower = env.client(env.admin);
    let stream = follower.follow_events(0, std::time::Duration::from_millis(50));
    futures::pin_mut!(stream);
    let mut created = Vec::new();
    let creation = async {
        admin
            .create_market(MarketParams {
                verifier: d.sample_verifier.unwrap(),
                slashing_penalty: pond(1),
                min_stake: pond(1),
                ..MarketParams::default()
            })
            .await
            .expect("create market")
    };
    let collect = async {
        while created.len() < 2 {
            let record = stream
                .next()
                .await
                .expect("stream never ends")
                .expect("event");
            if let ProtocolEvent::Marketplace(ProofMarketplaceEvents::MarketCreated(e)) =
                record.event
            {
                created.push(e.marketId);
            }
        }
    };
    let (_, timed_out) = tokio::join!(
        creation,
        tokio::time::timeout(std::time::Duration::from_secs(20), collect)
    );
    timed_out.expect("the new market's event arrived");
    assert_eq!(created, vec![U256::from(1), U256::from(2)]);
}
