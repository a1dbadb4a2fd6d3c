use alloy::primitives::{Bytes, U256};
use kalypso_contracts::generator_registry::GeneratorRegistry::GeneratorRegistryErrors;
use kalypso_sdk::{Error, StakePosition};

use crate::{Env, SAMPLE_MARKET, USDC, pond, quote};

#[tokio::test]
async fn register_stake_join_update_leave_unstake() {
    let env = Env::new().await;
    let d = &env.deployment;
    let g = env.client(env.generator);
    let reward = env.other;

    let info = g.generator(env.generator, &[SAMPLE_MARKET]).await.unwrap();
    assert_eq!(info.registration, None);
    assert_eq!(info.quotes, vec![(SAMPLE_MARKET, None)]);

    g.register(reward, 4, Bytes::from_static(b"gpu-box"))
        .await
        .unwrap();
    env.mint(d.staking_token, env.generator, pond(100)).await;
    // `stake` approves the registry itself.
    g.stake(pond(60)).await.unwrap();
    g.stake(pond(40)).await.unwrap();
    g.join_market(SAMPLE_MARKET, quote(USDC, 600))
        .await
        .unwrap();

    let info = g
        .generator(env.generator, &[SAMPLE_MARKET, 7])
        .await
        .unwrap();
    let registration = info.registration.unwrap();
    assert_eq!(registration.reward_address, reward);
    assert_eq!(
        (
            registration.declared_compute,
            registration.consumed_compute,
            registration.markets_joined
        ),
        (4, 0, 1)
    );
    assert_eq!(info.position.stake, pond(100));
    assert_eq!(info.free_stake, pond(100));
    assert_eq!(
        info.quotes,
        vec![(SAMPLE_MARKET, Some(quote(USDC, 600))), (7, None)]
    );
    assert_eq!(
        env.balance(d.staking_token, env.generator).await,
        U256::ZERO
    );

    g.update_quote(SAMPLE_MARKET, quote(2 * USDC, 300))
        .await
        .unwrap();
    assert_eq!(
        g.quote(SAMPLE_MARKET, env.generator).await.unwrap(),
        Some(quote(2 * USDC, 300))
    );
    g.update_reward_address(env.generator).await.unwrap();
    g.update_declared_compute(8).await.unwrap();
    let registration = g
        .generator(env.generator, &[])
        .await
        .unwrap()
        .registration
        .unwrap();
    assert_eq!(
        (registration.reward_address, registration.declared_compute),
        (env.generator, 8)
    );

    // Deregistering needs every market left first.
    let err = g.deregister().await.unwrap_err();
    assert!(
        matches!(err.registry_error(), Some(GeneratorRegistryErrors::StillInMarkets(e)) if e.marketsJoined == U256::from(1)),
        "{err:?}"
    );
    g.leave_market(SAMPLE_MARKET).await.unwrap();
    assert_eq!(g.quote(SAMPLE_MARKET, env.generator).await.unwrap(), None);

    // Unstake: request, cancel, request again, wait out the one-day delay, withdraw.
    g.request_unstake(pond(30)).await.unwrap();
    g.cancel_unstake().await.unwrap();
    assert_eq!(
        g.generator(env.generator, &[])
            .await
            .unwrap()
            .position
            .stake,
        pond(100)
    );
    g.request_unstake(pond(30)).await.unwrap();
    let position = g.generator(env.generator, &[]).await.unwrap().position;
    assert_eq!((position.stake, position.pending), (pond(70), pond(30)));
    let now = g.block_timestamp().await.unwrap();
    assert!(position.unlock_at >= now + 86_400 - 1);
    let err = g.unstake(env.generator).await.unwrap_err();
    assert!(
        matches!(
            err.registry_error(),
            Some(GeneratorRegistryErrors::WithdrawalLocked(_))
        ),
        "{err:?}"
    );
    env.advance(86_400 + 1).await;
    let (amount, _) = g.unstake(env.generator).await.unwrap();
    assert_eq!(amount, pond(30));
    assert_eq!(env.balance(d.staking_token, env.generator).await, pond(30));
    let err = g.unstake(env.generator).await.unwrap_err();
    assert!(
        matches!(
            err.registry_error(),
            Some(GeneratorRegistryErrors::NothingPending(_))
        ),
        "{err:?}"
    );

    g.deregister().await.unwrap();
    let info = g.generator(env.generator, &[]).await.unwrap();
    assert_eq!(info.registration, None);
    assert_eq!(
        info.position,
        StakePosition {
            stake: pond(70),
            ..StakePosition::default()
        }
    );

    // Client-side checks: nothing is sent for zero amounts.
    assert!(matches!(
        g.stake(U256::ZERO).await,
        Err(Error::ZeroAmount(_))
    ));
    assert!(matches!(
        g.register(reward, 0, Bytes::new()).await,
        Err(Error::ZeroAmount("declared compute"))
    ));
}
