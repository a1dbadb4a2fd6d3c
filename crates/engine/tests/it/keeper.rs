//! The keeper: an offline generator's missed deadline is slashed once and its ask re-matched to another
//! generator; a proof in time is never slashed; a slash lost to another keeper is done, not retried; expired
//! open asks are refunded on request.

use super::*;
use kalypso_engine::keeper::KeeperConfig;
use kalypso_sdk::contracts::marketplace::ProofMarketplace;

/// Anvil account of the engine's keeper.
const KEEPER: usize = 9;

fn keeper_config(env: &Env, db: &str) -> EngineConfig {
    let mut config = env.engine_config(db);
    config.keeper = Some(KeeperConfig {
        retry_after: Duration::from_millis(500),
        ..KeeperConfig::new(env.chain.account(KEEPER))
    });
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_deadline_is_slashed_once_and_rematched() {
    let env = Env::new().await;
    // Cheapest with a short proof time, so COST asks go to it first; nobody proves for it.
    let offline = env.generator(0, 4, 10, 5).await;
    let online = env.generator(1, 4, 50, 600).await;
    let keeper = env.chain.account(KEEPER).address();
    let engine = env.start(keeper_config(&env, "keeper.db")).await;

    let ask = env.ask(100, 3_600, Preference::Cost).await;
    let got = eventually("the ask assigned", Duration::from_secs(20), || async {
        env.assigned_to(ask).await
    })
    .await;
    assert_eq!(got, offline);
    env.indexed_head(&engine).await;
    assert_eq!(engine.metric("keeper_slashes_sent_total").await, 0.0);

    // Past the task deadline (5 s after the assignment).
    env.advance(10).await;
    let (slash_block, slashed) = eventually("the slash", Duration::from_secs(20), || async {
        env.slashes().await.into_iter().next()
    })
    .await;
    assert_eq!(slashed.askId, U256::from(ask));
    assert_eq!(slashed.generator, offline);
    assert_eq!(slashed.keeper, keeper);
    assert!(slashed.reopened);
    // The sample market's penalty is 10 tokens: half held for the requester until a proof completes the ask,
    // 10% to the keeper (devnet parameters).
    assert_eq!(slashed.held, pond(5));
    assert_eq!(slashed.toKeeper, pond(1));
    let c = env.client(env.admin);
    assert_eq!(c.held_compensation(ask).await.expect("held"), slashed.held);
    assert_eq!(c.payout(env.requester).await.expect("payout"), U256::ZERO);
    assert_eq!(c.payout(keeper).await.expect("payout"), slashed.toKeeper);

    // The book re-opened the ask without the offline generator: the next one gets it within a few blocks.
    let got = eventually("the ask re-assigned", Duration::from_secs(20), || async {
        env.assigned_to(ask).await.filter(|g| *g != offline)
    })
    .await;
    assert_eq!(got, online);
    let (assigned, _) = env.assignment_events().await;
    assert_eq!(assigned, vec![(ask, offline), (ask, online)]);
    let head = env.provider.get_block_number().await.expect("head");
    assert!(
        head <= slash_block + 3,
        "re-assigned in block {head}, slashed in {slash_block}"
    );

    // More heads after the slash (and past every deadline the offline task had): nothing is sent again.
    for _ in 0..3 {
        env.advance(1).await;
    }
    env.indexed_head(&engine).await;
    // The keeper records an outcome in the round after its receipt arrived.
    eventually(
        "the slash recorded as succeeded",
        Duration::from_secs(10),
        || async { (engine.metric("keeper_slashes_succeeded_total").await == 1.0).then_some(()) },
    )
    .await;
    assert_eq!(env.slashes().await.len(), 1);
    assert_eq!(engine.metric("keeper_slashes_sent_total").await, 1.0);
    assert_eq!(engine.metric("keeper_slashes_failed_total").await, 0.0);
    assert_eq!(engine.metric("keeper_slashes_superseded_total").await, 0.0);
    assert_eq!(engine.metric("keeper_rewards_total").await, 1e18);
    let (_, body) = engine.get(&format!("/v1/asks/{ask}")).await;
    assert_eq!(body["status"], "assigned", "{body}");
    assert_eq!(body["failures"], 1, "{body}");
    assert_eq!(body["generator"], serde_json::json!(online));
    let (_, health) = engine.get("/health").await;
    assert_eq!(health["keeper"], serde_json::json!(keeper), "{health}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_in_the_last_second_is_not_slashed() {
    let env = Env::new().await;
    let g = env.generator(0, 4, 10, 5).await;
    let engine = env.start(keeper_config(&env, "in-time.db")).await;
    let ask = env.ask(100, 3_600, Preference::Cost).await;
    eventually("the ask assigned", Duration::from_secs(20), || async {
        env.assigned_to(ask).await
    })
    .await;
    let task_deadline = env
        .client(env.admin)
        .ask(ask)
        .await
        .expect("ask")
        .task
        .expect("task")
        .task_deadline;

    // The proof lands in a block stamped exactly at the task deadline (the last second the contract accepts).
    env.anvil(
        "evm_setNextBlockTimestamp",
        serde_json::json!([task_deadline]),
    )
    .await;
    let (proven, tx) = env
        .client(g)
        .submit_proof(ask, env.fixture.inputs.clone(), env.fixture.proof.clone())
        .await
        .expect("proof in time");
    assert_eq!(proven.askId, U256::from(ask));
    let block = env
        .provider
        .get_block_by_number(tx.block_number.into())
        .await
        .expect("block")
        .expect("block exists");
    assert_eq!(block.header.timestamp, task_deadline);

    // Heads well past the deadline: the proven task is left alone.
    for _ in 0..3 {
        env.advance(5).await;
    }
    env.indexed_head(&engine).await;
    assert!(env.slashes().await.is_empty());
    assert_eq!(engine.metric("keeper_slashes_sent_total").await, 0.0);
    let (_, body) = engine.get(&format!("/v1/asks/{ask}")).await;
    assert_eq!(body["status"], "proven", "{body}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_lost_to_another_keeper_is_done_not_retried() {
    let env = Env::new().await;
    let offline = env.generator(0, 4, 10, 5).await;
    let online = env.generator(1, 4, 50, 600).await;
    let keeper = env.chain.account(KEEPER).address();
    let rival = env.chain.account(8).address();
    let engine = env.start(keeper_config(&env, "race.db")).await;
    let ask = env.ask(100, 3_600, Preference::Cost).await;
    let got = eventually("the ask assigned", Duration::from_secs(20), || async {
        env.assigned_to(ask).await
    })
    .await;
    assert_eq!(got, offline);
    env.indexed_head(&engine).await;

    // Blocks are mined by hand from here: the engine's slash waits in the mempool.
    env.anvil("evm_setAutomine", serde_json::json!([false]))
        .await;
    env.advance(10).await;
    eventually(
        "the engine's slash in the mempool",
        Duration::from_secs(20),
        || async {
            let latest = env
                .provider
                .get_transaction_count(keeper)
                .await
                .expect("nonce");
            let pending = env
                .provider
                .get_transaction_count(keeper)
                .pending()
                .await
                .expect("pending nonce");
            (pending == latest + 1).then_some(())
        },
    )
    .await;
    // Another keeper outbids it into the same block: its slash is mined first and the engine's reverts.
    let rival_tx = ProofMarketplace::new(env.deployment.marketplace, &env.provider)
        .slash(U256::from(ask))
        .from(rival)
        .gas(500_000)
        .max_fee_per_gas(200_000_000_000)
        .max_priority_fee_per_gas(100_000_000_000)
        .send()
        .await
        .expect("rival slash sent");
    env.anvil("evm_setAutomine", serde_json::json!([true]))
        .await;
    env.anvil("evm_mine", serde_json::json!([])).await;
    let receipt = rival_tx.get_receipt().await.expect("rival receipt");
    assert!(receipt.status());

    eventually(
        "the engine's attempt settled as superseded",
        Duration::from_secs(20),
        || async { (engine.metric("keeper_slashes_superseded_total").await == 1.0).then_some(()) },
    )
    .await;
    let slashes = env.slashes().await;
    assert_eq!(slashes.len(), 1);
    assert_eq!(slashes[0].1.keeper, rival);
    let got = eventually("the ask re-assigned", Duration::from_secs(20), || async {
        env.assigned_to(ask).await.filter(|g| *g != offline)
    })
    .await;
    assert_eq!(got, online);

    for _ in 0..3 {
        env.advance(1).await;
    }
    env.indexed_head(&engine).await;
    assert_eq!(engine.metric("keeper_slashes_sent_total").await, 1.0);
    assert_eq!(engine.metric("keeper_slashes_succeeded_total").await, 0.0);
    assert_eq!(engine.metric("keeper_slashes_failed_total").await, 0.0);
    assert_eq!(engine.metric("keeper_rewards_total").await, 0.0);
    assert_eq!(
        env.client(env.admin).payout(keeper).await.expect("payout"),
        U256::ZERO
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_open_asks_are_refunded_on_request() {
    let env = Env::new().await;
    env.generator(0, 4, 50, 5).await;
    let mut config = keeper_config(&env, "refund.db");
    if let Some(k) = &mut config.keeper {
        k.refund_expired = true;
    }
    let engine = env.start(config).await;
    // Below the only price: nobody can take it.
    let ask = env.ask(20, 30, Preference::Cost).await;
    env.indexed_head(&engine).await;
    assert_eq!(engine.metric("keeper_refunds_sent_total").await, 0.0);

    env.advance(31).await;
    eventually("the refund", Duration::from_secs(20), || async {
        let (_, body) = engine.get(&format!("/v1/asks/{ask}")).await;
        (body["status"] == "refunded").then_some(())
    })
    .await;
    assert_eq!(
        env.client(env.admin)
            .claimable(env.requester)
            .await
            .expect("claimable"),
        U256::from(20u64)
    );
    for _ in 0..2 {
        env.advance(1).await;
    }
    env.indexed_head(&engine).await;
    eventually(
        "the refund recorded as succeeded",
        Duration::from_secs(10),
        || async { (engine.metric("keeper_refunds_succeeded_total").await == 1.0).then_some(()) },
    )
    .await;
    assert_eq!(engine.metric("keeper_refunds_sent_total").await, 1.0);
    assert_eq!(engine.metric("keeper_slashes_sent_total").await, 0.0);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_key_must_be_an_account_of_its_own() {
    let env = Env::new().await;
    let mut config = env.engine_config("own.db");
    config.keeper = Some(KeeperConfig::new(env.me.clone()));
    let err = Engine::run(config, std::future::pending(), |_| {})
        .await
        .expect_err("the relayer's key as keeper key");
    assert!(
        matches!(&err, kalypso_engine::Error::Config(m) if m.contains("account of its own")),
        "{err}"
    );
}
