use alloy::{
    primitives::{Bytes, U256, keccak256},
    providers::Provider,
};
use kalypso_contracts::marketplace::ProofMarketplace::{
    ProofMarketplaceErrors, ProofMarketplaceEvents,
};
use kalypso_primitives::{AskState, Preference, SkipReason, eip712};
use kalypso_sdk::{AskOutcome, AskParams, ContractError, ProtocolEvent, TaskInfo};
use std::time::Duration;

use crate::{Env, SAMPLE_MARKET, USDC, pond, quote};

fn assignment(ask_id: u64, env: &Env, max_price: u64, max_proof_time: u64) -> eip712::Assignment {
    eip712::Assignment {
        askId: U256::from(ask_id),
        generator: env.generator,
        maxPrice: U256::from(max_price),
        maxProofTime: U256::from(max_proof_time),
        acl: Bytes::new(),
    }
}

/// Creates an ask of the sample market with the fixture's inputs, `reward` units, due in `secs` seconds.
async fn ask(env: &Env, reward: u64, secs: u64) -> u64 {
    let requester = env.client(env.requester);
    let deadline = requester.block_timestamp().await.expect("time") + secs;
    let params = AskParams::new(
        SAMPLE_MARKET,
        U256::from(reward),
        deadline,
        env.fixture.inputs.clone(),
    );
    requester.create_ask(params).await.expect("create ask").0
}

#[tokio::test]
async fn full_lifecycle_with_a_real_groth16_proof() {
    let env = Env::new().await;
    let d = &env.deployment;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    let requester = env.funded_requester(U256::from(5 * USDC)).await;
    let first_block = requester.block_number().await.unwrap() + 1;

    let deadline = requester.block_timestamp().await.unwrap() + 3600;
    let (ask_id, _) = requester
        .create_ask(AskParams {
            preference: Preference::Time,
            ..AskParams::new(
                SAMPLE_MARKET,
                U256::from(5 * USDC),
                deadline,
                env.fixture.inputs.clone(),
            )
        })
        .await
        .expect("create ask");
    assert_eq!(ask_id, 1);
    let ask = requester.ask(ask_id).await.unwrap();
    assert_eq!(ask.state, AskState::Created);
    assert_eq!(
        (ask.market, ask.reward, ask.deadline, ask.preference),
        (
            SAMPLE_MARKET,
            U256::from(5 * USDC),
            deadline,
            Preference::Time
        )
    );
    assert_eq!(ask.refund_address, env.requester);
    assert_eq!(ask.inputs_hash, keccak256(&env.fixture.inputs));
    assert_eq!(ask.task, None);
    assert_eq!(
        env.balance(d.payment_token, env.requester).await,
        U256::ZERO,
        "reward escrowed"
    );
    assert_eq!(
        requester.ask_inputs(ask_id).await.unwrap(),
        env.fixture.inputs
    );
    assert!(requester.ask_proof(ask_id).await.unwrap().is_none());

    // The Matching Engine signs a batch; anyone relays it.
    let item = assignment(ask_id, &env, USDC, 600);
    let expiry = requester.block_timestamp().await.unwrap() + 300;
    let signature = requester
        .sign_assign_batch(&env.me, std::slice::from_ref(&item), U256::from(7), expiry)
        .await
        .unwrap();
    let keeper = env.client(env.keeper);
    let (outcome, _) = keeper
        .relay_assignments(
            std::slice::from_ref(&item),
            U256::from(7),
            expiry,
            signature.clone(),
        )
        .await
        .expect("relay");
    assert!(outcome.skipped.is_empty(), "{outcome:?}");
    assert_eq!(outcome.assigned.len(), 1);
    let assigned = &outcome.assigned[0];
    assert_eq!(
        (assigned.generator, assigned.price),
        (env.generator, U256::from(USDC))
    );
    let err = keeper
        .relay_assignments(&[item], U256::from(7), expiry, signature)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::NonceUsed(_))
        ),
        "{err:?}"
    );
    let ask = requester.ask(ask_id).await.unwrap();
    assert_eq!(ask.state, AskState::Assigned);
    assert_eq!(
        ask.task,
        Some(TaskInfo {
            generator: env.generator,
            price: U256::from(USDC),
            task_deadline: u64::try_from(assigned.taskDeadline).unwrap(),
            compute_per_proof: 1,
        })
    );
    let info = g.generator(env.generator, &[]).await.unwrap();
    assert_eq!(info.registration.unwrap().consumed_compute, 1);
    assert_eq!(info.position.locked, pond(10));

    // The generator reads the inputs back from the chain and submits the real proof.
    let inputs = g.ask_inputs(ask_id).await.unwrap();
    let (submitted, tx) = g
        .submit_proof(ask_id, inputs, env.fixture.proof.clone())
        .await
        .expect("submit proof");
    assert_eq!(
        (submitted.price, submitted.refund, submitted.rewardAddress),
        (U256::from(USDC), U256::from(4 * USDC), env.generator)
    );
    assert!(tx.gas_used > 150_000, "pairing check: {tx:?}");
    assert_eq!(
        requester.ask(ask_id).await.unwrap().state,
        AskState::Completed
    );
    let proof = requester
        .ask_proof(ask_id)
        .await
        .unwrap()
        .expect("proof event");
    assert_eq!(proof.proof, env.fixture.proof);
    assert_eq!(proof.generator, env.generator);

    // Both sides withdraw.
    assert_eq!(g.claimable(env.generator).await.unwrap(), U256::from(USDC));
    assert_eq!(
        requester.claimable(env.requester).await.unwrap(),
        U256::from(4 * USDC)
    );
    g.withdraw(env.generator, U256::from(USDC)).await.unwrap();
    requester
        .withdraw(env.requester, U256::from(4 * USDC))
        .await
        .unwrap();
    assert_eq!(
        env.balance(d.payment_token, env.generator).await,
        U256::from(USDC)
    );
    assert_eq!(
        env.balance(d.payment_token, env.requester).await,
        U256::from(4 * USDC)
    );
    assert_eq!(g.claimable(env.generator).await.unwrap(), U256::ZERO);
    let info = g.generator(env.generator, &[]).await.unwrap();
    assert_eq!(info.registration.unwrap().consumed_compute, 0);
    assert_eq!(info.position.locked, U256::ZERO);

    // The whole story is in the events, in order, whatever the page size.
    let last_block = requester.block_number().await.unwrap();
    let events = requester.events(first_block..=last_block).await.unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            ProtocolEvent::Marketplace(ProofMarketplaceEvents::AskCreated(_)) => Some("AskCreated"),
            ProtocolEvent::Marketplace(ProofMarketplaceEvents::TaskAssigned(_)) => {
                Some("TaskAssigned")
            }
            ProtocolEvent::Marketplace(ProofMarketplaceEvents::ProofSubmitted(_)) => {
                Some("ProofSubmitted")
            }
            ProtocolEvent::Marketplace(ProofMarketplaceEvents::Withdrawn(_)) => Some("Withdrawn"),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "AskCreated",
            "TaskAssigned",
            "ProofSubmitted",
            "Withdrawn",
            "Withdrawn"
        ]
    );
    assert!(
        events
            .windows(2)
            .all(|w| (w[0].block_number, w[0].log_index) < (w[1].block_number, w[1].log_index))
    );
    let paged = requester
        .clone()
        .with_log_page_blocks(2)
        .events(first_block..=last_block)
        .await
        .unwrap();
    assert_eq!(paged, events);
}

#[tokio::test]
async fn slash_after_deadline_reopens_and_compensates() {
    let env = Env::new().await;
    let d = &env.deployment;
    let g = env.onboard(env.generator, quote(USDC, 60)).await;
    env.funded_requester(U256::from(5 * USDC)).await;
    let ask_id = ask(&env, 5 * USDC, 3600).await;
    let me = env.client(env.me.address());
    let keeper = env.client(env.keeper);

    let (assigned, _) = me
        .assign_task(&assignment(ask_id, &env, USDC, 60))
        .await
        .expect("assign");
    let err = keeper.slash(ask_id).await.unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::TaskDeadline(e)) if e.taskDeadline == assigned.taskDeadline),
        "{err:?}"
    );

    env.advance(61).await;
    let (slashed, _) = keeper.slash(ask_id).await.expect("slash");
    assert_eq!(
        (
            slashed.penalty,
            slashed.held,
            slashed.toKeeper,
            slashed.toTreasury
        ),
        (pond(10), pond(5), pond(1), pond(4))
    );
    assert!(slashed.reopened);
    let ask = keeper.ask(ask_id).await.unwrap();
    assert_eq!((ask.state, ask.task), (AskState::Created, None));
    let position = g.generator(env.generator, &[]).await.unwrap().position;
    assert_eq!((position.stake, position.locked), (pond(90), U256::ZERO));

    // Keeper reward and treasury share are staking-token payouts in the registry; the requester's share is held
    // for the ask until a proof completes it.
    let requester = env.client(env.requester);
    assert_eq!(requester.payout(env.requester).await.unwrap(), U256::ZERO);
    assert_eq!(requester.held_compensation(ask_id).await.unwrap(), pond(5));
    assert_eq!(keeper.payout(env.keeper).await.unwrap(), pond(1));
    assert_eq!(keeper.payout(env.admin).await.unwrap(), pond(4));
    assert_eq!(keeper.ask(ask_id).await.unwrap().reopens, 1);

    // Re-opened, it is matched again; a voluntary discard costs a quarter of the penalty.
    me.assign_task(&assignment(ask_id, &env, USDC, 60))
        .await
        .expect("re-assign");
    let (discarded, _) = g.discard(ask_id).await.expect("discard");
    let quarter = pond(10) / U256::from(4);
    assert_eq!(
        (discarded.penalty, discarded.held, discarded.reopened),
        (quarter, quarter / U256::from(2), true)
    );
    assert_eq!(keeper.ask(ask_id).await.unwrap().state, AskState::Created);

    // And finally proven.
    me.assign_task(&assignment(ask_id, &env, USDC, 60))
        .await
        .unwrap();
    g.submit_proof(
        ask_id,
        env.fixture.inputs.clone(),
        env.fixture.proof.clone(),
    )
    .await
    .expect("proof after re-open");
    assert_eq!(keeper.ask(ask_id).await.unwrap().state, AskState::Completed);

    // The proof pays the requester everything held: half the slash and half the discard penalty.
    let held = pond(5) + quarter / U256::from(2);
    assert_eq!(
        requester.held_compensation(ask_id).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(requester.payout(env.requester).await.unwrap(), held);
    requester
        .withdraw_payout(env.requester, held)
        .await
        .unwrap();
    assert_eq!(env.balance(d.staking_token, env.requester).await, held);
    assert_eq!(requester.payout(env.requester).await.unwrap(), U256::ZERO);
}

#[tokio::test]
async fn invalid_input_attestation_settles_the_task() {
    let env = Env::new().await;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    env.funded_requester(U256::from(5 * USDC)).await;
    // The admin created the sample market, so it adds the IVS key.
    env.client(env.admin)
        .add_ivs_signer(SAMPLE_MARKET, crate::pubkey(&env.ivs))
        .await
        .expect("add IVS signer");
    let ask_id = ask(&env, 5 * USDC, 3600).await;
    env.client(env.me.address())
        .assign_task(&assignment(ask_id, &env, USDC, 600))
        .await
        .unwrap();
    let inputs_hash = g.ask(ask_id).await.unwrap().inputs_hash;

    // A key that is not an IVS signer of the market is refused.
    let forged = g
        .sign_invalid_input(&env.me, SAMPLE_MARKET, ask_id, inputs_hash)
        .await
        .unwrap();
    let err = g
        .submit_invalid_input_attestation(ask_id, forged)
        .await
        .unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::InvalidAttestation(e)) if e.signer == env.me.address()),
        "{err:?}"
    );

    let signature = g
        .sign_invalid_input(&env.ivs, SAMPLE_MARKET, ask_id, inputs_hash)
        .await
        .unwrap();
    let (settled, _) = g
        .submit_invalid_input_attestation(ask_id, signature)
        .await
        .expect("attestation");
    assert_eq!(settled.signer, env.ivs.address());
    assert_eq!(
        (settled.price, settled.refund),
        (U256::from(USDC), U256::from(4 * USDC))
    );
    assert_eq!(g.ask(ask_id).await.unwrap().state, AskState::Completed);
    assert!(g.ask_proof(ask_id).await.unwrap().is_none());
    assert_eq!(g.claimable(env.generator).await.unwrap(), U256::from(USDC));
}

#[tokio::test]
async fn cancel_refund_deposit_and_pay_from_balance() {
    let env = Env::new().await;
    let d = &env.deployment;
    let requester = env.funded_requester(U256::from(10 * USDC)).await;
    let keeper = env.client(env.keeper);

    let first = ask(&env, 5 * USDC, 3600).await;
    let err = keeper.cancel_ask(first).await.unwrap_err();
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::NotRequester(e)) if e.caller == env.keeper),
        "{err:?}"
    );
    requester.cancel_ask(first).await.unwrap();
    assert_eq!(
        requester.ask(first).await.unwrap().state,
        AskState::Refunded
    );
    assert_eq!(
        requester.claimable(env.requester).await.unwrap(),
        U256::from(5 * USDC)
    );

    // The refund pays the next ask: no tokens move.
    let deadline = requester.block_timestamp().await.unwrap() + 3600;
    let (from_balance, _) = requester
        .create_ask(AskParams {
            from_balance: true,
            ..AskParams::new(
                SAMPLE_MARKET,
                U256::from(5 * USDC),
                deadline,
                env.fixture.inputs.clone(),
            )
        })
        .await
        .expect("ask from balance");
    assert_eq!(
        requester.claimable(env.requester).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(
        env.balance(d.payment_token, env.requester).await,
        U256::from(5 * USDC),
        "only the first ask pulled tokens"
    );

    // An ask nobody takes expires and anyone refunds it.
    let expiring = ask(&env, 5 * USDC, 100).await;
    let err = keeper.refund_expired(expiring).await.unwrap_err();
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::AskNotExpired(_))
        ),
        "{err:?}"
    );
    env.advance(101).await;
    assert_eq!(
        requester.ask(expiring).await.unwrap().state,
        AskState::Expired
    );
    keeper.refund_expired(expiring).await.unwrap();
    assert_eq!(
        requester.ask(expiring).await.unwrap().state,
        AskState::Refunded
    );
    assert_eq!(
        requester.claimable(env.requester).await.unwrap(),
        U256::from(5 * USDC)
    );
    assert_eq!(
        requester.ask(from_balance).await.unwrap().state,
        AskState::Created
    );

    // Deposits credit any account (the SDK approves the marketplace).
    env.mint(d.payment_token, env.keeper, U256::from(USDC))
        .await;
    keeper
        .deposit(env.requester, U256::from(USDC))
        .await
        .unwrap();
    assert_eq!(
        requester.claimable(env.requester).await.unwrap(),
        U256::from(6 * USDC)
    );
}

#[tokio::test]
async fn a_lost_race_is_decoded_from_the_mined_failure() {
    let env = Env::new().await;
    let requester = env.funded_requester(U256::from(5 * USDC)).await;
    let keeper = env.client(env.keeper);
    let ask_id = ask(&env, 5 * USDC, 100).await;
    env.advance(101).await;

    // Requester and keeper both settle the expired ask in the same block: one of them loses.
    let _: serde_json::Value = env
        .provider
        .raw_request("evm_setAutomine".into(), (false,))
        .await
        .unwrap();
    let miner = async {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _: serde_json::Value = env
                .provider
                .raw_request("evm_mine".into(), ())
                .await
                .unwrap();
        }
    };
    let (cancelled, refunded, ()) = tokio::join!(
        requester.cancel_ask(ask_id),
        keeper.refund_expired(ask_id),
        miner
    );
    let err = match (cancelled, refunded) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("exactly one should win: {other:?}"),
    };
    assert!(
        matches!(err.marketplace_error(), Some(ProofMarketplaceErrors::InvalidAskState(e)) if e.state == AskState::Refunded as u8),
        "{err:?}"
    );
    assert!(err.to_string().contains("state: Refunded"), "{err}");
    assert_eq!(
        requester.ask(ask_id).await.unwrap().state,
        AskState::Refunded
    );
}

/// Without the Matching Engine a generator takes an ask itself once the market's fallback delay has passed,
/// at its own quote; before that, or once the ask is taken, the call is a typed error before any nonce is used.
#[tokio::test]
async fn a_generator_self_assigns_after_the_fallback_delay() {
    let env = Env::new().await;
    let g = env.onboard(env.generator, quote(2 * USDC, 60)).await;
    env.funded_requester(U256::from(10 * USDC)).await;
    let id = ask(&env, 5 * USDC, 3600 * 3).await;
    let market = g.market(SAMPLE_MARKET).await.expect("market");
    let info = g.ask(id).await.expect("ask");
    let opens = g.fallback_opens_at(id).await.expect("opens at");
    assert_eq!(opens, Some(info.opened_at + market.fallback_delay));
    assert!(
        market.fallback_delay > 0,
        "the sample market has a fallback"
    );

    let nonce = env
        .provider
        .get_transaction_count(env.generator)
        .await
        .unwrap();
    let early = g.prepare_self_assign(id).await.unwrap_err();
    assert_eq!(
        early.contract_error().and_then(ContractError::skip_reason),
        Some(SkipReason::FallbackNotOpen),
        "{early}"
    );
    let early = g.self_assign(id).await.unwrap_err();
    assert_eq!(
        early.contract_error().and_then(ContractError::skip_reason),
        Some(SkipReason::FallbackNotOpen)
    );
    assert_eq!(
        env.provider
            .get_transaction_count(env.generator)
            .await
            .unwrap(),
        nonce,
        "nothing was sent"
    );

    env.advance(market.fallback_delay).await;
    let (assigned, _) = g.self_assign(id).await.expect("self-assign");
    assert!(assigned.fallbackAssignment);
    assert_eq!(assigned.generator, env.generator);
    assert_eq!(assigned.price, U256::from(2 * USDC), "at its own quote");
    let now = g.block_timestamp().await.unwrap();
    assert_eq!(assigned.taskDeadline, U256::from(now + 60));
    assert_eq!(g.ask(id).await.unwrap().state, AskState::Assigned);

    // Taken: a second generator (or the engine) loses the race with AskNotOpen, typed.
    let other = env.onboard(env.other, quote(USDC, 60)).await;
    let lost = other.prepare_self_assign(id).await.unwrap_err();
    assert_eq!(
        lost.contract_error().and_then(ContractError::skip_reason),
        Some(SkipReason::AskNotOpen)
    );
}

#[tokio::test]
async fn wait_for_ask_follows_an_ask_to_its_outcome() {
    let env = Env::new().await;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    let requester = env.funded_requester(U256::from(10 * USDC)).await;
    let proven = ask(&env, 5 * USDC, 3600).await;
    let cancelled = ask(&env, 5 * USDC, 3600).await;
    assert!(requester.ask_outcome(proven).await.unwrap().is_none());

    // A waiter started while the ask is open reports each change and ends with the proof.
    let (updates, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let client = env.client(env.requester);
    let waiter = tokio::spawn(async move {
        client
            .wait_for_ask(proven, Duration::from_millis(50), move |a| {
                let _ = updates.send(a.state);
            })
            .await
    });
    assert_eq!(seen.recv().await, Some(AskState::Created));
    env.client(env.me.address())
        .assign_task(&assignment(proven, &env, USDC, 600))
        .await
        .expect("assign");
    g.submit_proof(
        proven,
        env.fixture.inputs.clone(),
        env.fixture.proof.clone(),
    )
    .await
    .expect("proof");
    match waiter.await.expect("joins").expect("waits") {
        AskOutcome::Completed(p) => {
            assert_eq!(p.proof, env.fixture.proof);
            assert_eq!(p.generator, env.generator);
            assert_eq!(p.price, U256::from(USDC));
        }
        other => panic!("expected a proof, got {other:?}"),
    }
    let mut last = None;
    while let Some(state) = seen.recv().await {
        last = Some(state);
    }
    assert_eq!(last, Some(AskState::Completed));

    // A cancelled ask ends refunded, with its refund event.
    requester.cancel_ask(cancelled).await.expect("cancel");
    match requester
        .wait_for_ask(cancelled, Duration::from_millis(50), |_| {})
        .await
        .expect("waits")
    {
        AskOutcome::Refunded(Some(e)) => {
            assert!(e.cancelled);
            assert_eq!(e.amount, U256::from(5 * USDC));
            assert_eq!(e.refundAddress, env.requester);
        }
        other => panic!("expected a refund, got {other:?}"),
    }
    assert_eq!(
        requester
            .ask_outcome(cancelled)
            .await
            .unwrap()
            .map(|o| o.as_str()),
        Some("refunded")
    );
}

/// A node that cannot be reached does not end the wait: the ask is read again at the next poll.
#[tokio::test]
async fn wait_for_ask_rides_out_an_unreachable_node() {
    use alloy::providers::ProviderBuilder;
    let zero = alloy::primitives::Address::ZERO;
    let deployment: kalypso_sdk::Deployment = serde_json::from_value(serde_json::json!({
        "chainId": 31337,
        "marketplace": zero,
        "generatorRegistry": zero,
        "keyRegistry": zero,
        "attestationVerifier": zero,
        "paymentToken": zero,
        "stakingToken": zero,
    }))
    .expect("deployment");
    let provider = ProviderBuilder::new()
        .connect_http("http://127.0.0.1:1".parse().expect("url"))
        .erased();
    let client = kalypso_sdk::Kalypso::new(provider, deployment, zero);
    // The read fails at once; the direct call says so, the wait keeps polling until the timeout.
    let err = client.ask(1).await.expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err,
            kalypso_sdk::Error::Contract(_) | kalypso_sdk::Error::Rpc(_)
        ),
        "{err:?}"
    );
    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        client.wait_for_ask(1, Duration::from_millis(20), |_| {}),
    )
    .await;
    assert!(waited.is_err(), "the wait ended: {waited:?}");
}
