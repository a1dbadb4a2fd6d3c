use alloy::primitives::{Address, Bytes, U256};
use kalypso_contracts::{
    generator_registry::GeneratorRegistry::GeneratorRegistryErrors,
    key_registry::EntityKeyRegistry::EntityKeyRegistryErrors,
    marketplace::ProofMarketplace::ProofMarketplaceErrors, test_token::TestToken,
};
use kalypso_primitives::{SkipReason, eip712};
use kalypso_sdk::{AskParams, ContractError, Error, SkippedAssignment};

use crate::{Env, SAMPLE_MARKET, USDC, quote};

fn assignment(ask_id: u64, generator: Address) -> eip712::Assignment {
    eip712::Assignment {
        askId: U256::from(ask_id),
        generator,
        maxPrice: U256::MAX,
        maxProofTime: U256::MAX,
        acl: Bytes::new(),
    }
}

#[tokio::test]
async fn failures_decode_into_typed_errors() {
    let env = Env::new().await;
    let d = &env.deployment;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    let requester = env.funded_requester(U256::from(10 * USDC)).await;
    let me = env.client(env.me.address());
    let keeper = env.client(env.keeper);
    let deadline = requester.block_timestamp().await.unwrap() + 3600;
    let inputs = env.fixture.inputs.clone();

    // Unknown market: caught before anything is approved or sent.
    let err = requester
        .create_ask(AskParams::new(
            42,
            U256::from(USDC),
            deadline,
            inputs.clone(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MarketNotFound(42)), "{err:?}");
    let allowance = TestToken::new(d.payment_token, &env.provider)
        .allowance(env.requester, d.marketplace)
        .call()
        .await
        .unwrap();
    assert_eq!(allowance, U256::ZERO);
    let err = g.join_market(42, quote(USDC, 600)).await.unwrap_err();
    assert!(
        matches!(err.registry_error(), Some(GeneratorRegistryErrors::MarketNotFound(e)) if e.marketId == U256::from(42)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "GeneratorRegistry reverted: MarketNotFound { marketId: 42 }"
    );

    // Price above reward: a direct assignment reverts with the reason by name...
    let (cheap_ask, _) = requester
        .create_ask(AskParams::new(
            SAMPLE_MARKET,
            U256::from(USDC / 2),
            deadline,
            inputs.clone(),
        ))
        .await
        .unwrap();
    let err = me
        .assign_task(&assignment(cheap_ask, env.generator))
        .await
        .unwrap_err();
    assert_eq!(
        err.contract_error().and_then(ContractError::skip_reason),
        Some(SkipReason::PriceAboveReward)
    );
    let shown = format!("{err:?}");
    assert!(
        shown.starts_with("Reverted { contract: \"ProofMarketplace\", error: AskNotAssignable { askId: 1, generator: ")
            && shown.ends_with("reason: PriceAboveReward } }"),
        "{shown}"
    );
    // ...and a signed batch skips the item instead.
    let expiry = deadline;
    let items = [assignment(cheap_ask, env.generator)];
    let signature = me
        .sign_assign_batch(&env.me, &items, U256::from(1), expiry)
        .await
        .unwrap();
    let (outcome, _) = keeper
        .relay_assignments(&items, U256::from(1), expiry, signature)
        .await
        .unwrap();
    assert!(outcome.assigned.is_empty());
    assert_eq!(
        outcome.skipped,
        vec![SkippedAssignment {
            ask_id: cheap_ask,
            generator: env.generator,
            reason: SkipReason::PriceAboveReward,
        }]
    );

    // Unauthorized: only the ME key assigns or signs batches; only key admins set the ME key.
    let (ask_id, _) = requester
        .create_ask(AskParams::new(
            SAMPLE_MARKET,
            U256::from(5 * USDC),
            deadline,
            inputs.clone(),
        ))
        .await
        .unwrap();
    let err = keeper
        .assign_task(&assignment(ask_id, env.generator))
        .await
        .unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::NotMatchingEngine(e)) if e.caller == env.keeper),
        "{err:?}"
    );
    let items = [assignment(ask_id, env.generator)];
    let forged = me
        .sign_assign_batch(&env.ivs, &items, U256::from(2), expiry)
        .await
        .unwrap();
    let err = keeper
        .relay_assignments(&items, U256::from(2), expiry, forged)
        .await
        .unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::InvalidBatchSignature(e)) if e.signer == env.ivs.address()),
        "{err:?}"
    );
    let err = requester
        .set_matching_engine_key(crate::pubkey(&env.ivs))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.key_registry_error(),
            Some(EntityKeyRegistryErrors::AccessControlUnauthorizedAccount(e)) if e.account == env.requester
        ),
        "{err:?}"
    );

    // Wrong proof and wrong inputs are refused; the task stays open for the right ones.
    me.assign_task(&assignment(ask_id, env.generator))
        .await
        .unwrap();
    let mut tampered = env.fixture.proof.to_vec();
    tampered[40] ^= 1;
    let err = g
        .submit_proof(ask_id, inputs.clone(), tampered.into())
        .await
        .unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::InvalidProof(e)) if e.askId == U256::from(ask_id)),
        "{err:?}"
    );
    let mut other_inputs = inputs.to_vec();
    other_inputs[31] ^= 1;
    let err = g
        .submit_proof(ask_id, other_inputs.into(), env.fixture.proof.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::InputsMismatch(_))
        ),
        "{err:?}"
    );
    let err = keeper.discard(ask_id).await.unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::NotAssignedGenerator(_))
        ),
        "{err:?}"
    );
    g.submit_proof(ask_id, inputs, env.fixture.proof.clone())
        .await
        .expect("the right proof");

    // Balances and unknown asks: the requester was refunded 4 units of its 5-unit reward.
    let err = requester
        .withdraw(env.requester, U256::from(5 * USDC))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::InsufficientBalance(e)) if e.available == U256::from(4 * USDC)
        ),
        "{err:?}"
    );
    assert!(matches!(
        requester.ask(99).await,
        Err(Error::AskNotFound(99))
    ));
    assert!(matches!(
        requester.ask_inputs(99).await,
        Err(Error::AskNotFound(99))
    ));
    let err = requester.cancel_ask(99).await.unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::AskNotFound(_))
        ),
        "{err:?}"
    );
    assert!(matches!(
        requester
            .create_ask(AskParams::new(
                SAMPLE_MARKET,
                U256::ZERO,
                deadline,
                Bytes::from_static(b"x")
            ))
            .await,
        Err(Error::ZeroAmount("reward"))
    ));
    assert!(matches!(
        requester.withdraw(env.requester, U256::ZERO).await,
        Err(Error::ZeroAmount(_))
    ));

    // An ERC-20 error surfaces typed too: staking more than the balance.
    let err = g.stake(U256::from(1) << 80).await.unwrap_err();
    assert!(
        matches!(err.contract_error(), Some(ContractError::Erc20(_))),
        "{err:?}"
    );
}
