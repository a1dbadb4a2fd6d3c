//! Restarts (graceful and abrupt) lose and duplicate nothing; a reorg is rolled back.

use super::*;
use alloy::consensus::Transaction as _;
use std::collections::HashMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_load_loses_and_duplicates_nothing() {
    let env = Env::new().await;
    env.generator(0, 200, 10, 600).await;
    env.generator(1, 200, 20, 300).await;

    let mut asks = Vec::new();
    for i in 0..15 {
        let pref = if i % 2 == 0 {
            Preference::Cost
        } else {
            Preference::Time
        };
        asks.push(env.ask(100 + i, 3_600, pref).await);
    }
    let mut config = env.engine_config("restart.db");
    config.submitter.max_batch = 4;
    let engine = env.start(config.clone()).await;
    eventually("some asks assigned", Duration::from_secs(60), || async {
        let (assigned, _) = env.assignment_events().await;
        (!assigned.is_empty()).then_some(())
    })
    .await;
    // Killed wherever it is: maybe between persisting a batch and sending it.
    engine.kill().await;

    for i in 0..15 {
        asks.push(env.ask(200 + i, 3_600, Preference::Cost).await);
    }
    let engine = env.start(config.clone()).await;
    // A graceful restart in the middle as well.
    eventually("more asks assigned", Duration::from_secs(60), || async {
        let (assigned, _) = env.assignment_events().await;
        (assigned.len() >= 20).then_some(())
    })
    .await;
    engine.stop().await;
    for i in 0..5 {
        asks.push(env.ask(300 + i, 3_600, Preference::Time).await);
    }
    let engine = env.start(config).await;
    let total = asks.len();
    eventually("every ask assigned", Duration::from_secs(90), || async {
        let (assigned, _) = env.assignment_events().await;
        (assigned.len() >= total).then_some(())
    })
    .await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (assigned, skipped) = env.assignment_events().await;
    let mut per_ask: HashMap<u64, usize> = HashMap::new();
    for (ask, _) in &assigned {
        *per_ask.entry(*ask).or_default() += 1;
    }
    for ask in &asks {
        assert_eq!(
            per_ask.get(ask),
            Some(&1),
            "ask {ask} assigned {:?} times",
            per_ask.get(ask)
        );
    }
    assert!(
        skipped.is_empty(),
        "the engine re-sent assignments the chain had to skip: {skipped:?}"
    );

    let (_, health) = engine.get("/health").await;
    assert!(
        health["replayedEvents"].as_u64().unwrap_or(0) > 0,
        "{health}"
    );
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_is_rolled_back() {
    let mut env = Env::new().await;
    let g = env.generator(0, 4, 10, 600).await;
    let engine = env.start(env.engine_config("reorg.db")).await;

    let snapshot: U256 = env
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("snapshot");
    let first = env.ask(100, 3_600, Preference::Cost).await;
    eventually(
        "first ask assigned and indexed",
        Duration::from_secs(60),
        || async {
            let (_, body) = engine.get(&format!("/v1/asks/{first}")).await;
            (body["status"] == "assigned").then_some(())
        },
    )
    .await;
    let (_, generator) = engine.get(&format!("/v1/generators/{g}")).await;
    assert_eq!(generator["consumedCompute"], 1, "{generator}");

    // The chain drops the ask and its assignment, then grows past the old head.
    let reverted: bool = env
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("revert");
    assert!(reverted);
    env.provider = Env::wallet_provider(&env.chain);
    for _ in 0..3 {
        let _: serde_json::Value = env
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("mine");
    }
    // Same id, different ask.
    let second = env.ask(77, 3_600, Preference::Time).await;
    assert_eq!(second, first);
    eventually(
        "the replacement ask assigned",
        Duration::from_secs(60),
        || async {
            let (_, body) = engine.get(&format!("/v1/asks/{second}")).await;
            (body["status"] == "assigned" && body["reward"] == "77").then_some(())
        },
    )
    .await;
    let (_, generator) = engine.get(&format!("/v1/generators/{g}")).await;
    assert_eq!(
        generator["consumedCompute"], 1,
        "the reverted assignment still holds compute: {generator}"
    );
    let (_, metrics) = engine.get("/metrics").await;
    let metrics = metrics.as_str().expect("text").to_owned();
    assert!(
        metrics.contains("kalypso_engine_reorgs_total 1"),
        "{metrics}"
    );
    engine.stop().await;
}

/// A relay transaction that lingers in the mempool is re-sent under the same account nonce with at least +25%
/// fees (never below the market's); the replacement is mined and the ask assigned once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_relay_is_re_sent_with_higher_fees() {
    let env = Env::new().await;
    let generator = env.generator(0, 4, 10, 600).await;
    let ask = env.ask(100, 3_600, Preference::Cost).await;
    let relayer = env.me.address();
    let nonce = env
        .provider
        .get_transaction_count(relayer)
        .await
        .expect("nonce");
    // Nothing is mined until the test says so: the first relay transaction lingers.
    env.anvil("evm_setAutomine", serde_json::json!([false]))
        .await;
    let suggested = env
        .provider
        .estimate_eip1559_fees()
        .await
        .expect("fees")
        .max_fee_per_gas;
    let mut config = env.engine_config("bump.db");
    config.submitter.bump_after = Duration::from_secs(1);
    let engine = env.start(config).await;
    eventually("a fee bump", Duration::from_secs(20), || async {
        (engine.metric("fee_bumps_total").await >= 1.0).then_some(())
    })
    .await;

    env.anvil("evm_mine", serde_json::json!([])).await;
    let got = eventually("the ask assigned", Duration::from_secs(20), || async {
        env.assigned_to(ask).await
    })
    .await;
    assert_eq!(got, generator);
    let head = env
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .full()
        .await
        .expect("block")
        .expect("latest block");
    let relays: Vec<_> = head
        .transactions
        .txns()
        .filter(|tx| tx.inner.signer() == relayer)
        .collect();
    assert_eq!(relays.len(), 1, "one relay transaction mined");
    assert_eq!(relays[0].inner.nonce(), nonce, "the same account nonce");
    assert!(
        relays[0].inner.max_fee_per_gas() >= suggested + suggested / 4,
        "the mined one is the bumped replacement"
    );
    assert_eq!(env.assignment_events().await.0.len(), 1);
    engine.stop().await;
}

/// A relay transaction dropped before its batch expires: the engine gives the batch up, cancels its nonce on-chain
/// (the signed batch was public in the mempool, so nobody can relay it later) and re-matches the ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_relay_is_cancelled_on_chain() {
    use alloy::{network::TransactionBuilder, rpc::types::TransactionRequest, sol_types::SolCall};
    use kalypso_sdk::contracts::marketplace::ProofMarketplace;

    let env = Env::new().await;
    let generator = env.generator(0, 4, 10, 600).await;
    let ask = env.ask(100, 3_600, Preference::Cost).await;
    let relayer = env.me.address();
    let nonce = env
        .provider
        .get_transaction_count(relayer)
        .await
        .expect("nonce");
    env.anvil("evm_setAutomine", serde_json::json!([false]))
        .await;
    let mut config = env.engine_config("cancel.db");
    // No re-send of the relay within the test: it is dropped, not lingering.
    config.submitter.bump_after = Duration::from_secs(3_600);
    let engine = env.start(config).await;

    // The relay transaction waits in the pool: take its signed batch, then drop it.
    let (hash, input) = eventually("the relay in the pool", Duration::from_secs(20), || async {
        let pool: serde_json::Value = env
            .provider
            .raw_request("txpool_content".into(), ())
            .await
            .ok()?;
        let (_, txs) = pool["pending"]
            .as_object()?
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(&relayer.to_string()))?;
        let tx = &txs[nonce.to_string()];
        Some((
            tx["hash"].as_str()?.to_owned(),
            tx["input"].as_str()?.parse::<Bytes>().ok()?,
        ))
    })
    .await;
    let batch = ProofMarketplace::relayAssignmentsCall::abi_decode(&input).expect("a relay call");
    env.anvil("anvil_dropTransaction", serde_json::json!([hash]))
        .await;
    // Another transaction of the relayer takes its account nonce: the relay is gone for good.
    let me_provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(env.me.clone()))
        .connect_http(env.chain.anvil.endpoint_url());
    let _pending = me_provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(relayer)
                .with_value(U256::ZERO)
                .with_nonce(nonce),
        )
        .await
        .expect("a transaction under the relay's nonce");

    // The engine cancels the batch's nonce and re-matches the ask; mine whatever it sends.
    let market = ProofMarketplace::new(env.deployment.marketplace, &env.provider);
    eventually(
        "the batch nonce cancelled",
        Duration::from_secs(30),
        || async {
            env.anvil("evm_mine", serde_json::json!([])).await;
            let used = market.nonceUsed(relayer, batch.nonce).call().await.ok()?;
            used.then_some(())
        },
    )
    .await;
    let got = eventually("the ask re-matched", Duration::from_secs(30), || async {
        env.anvil("evm_mine", serde_json::json!([])).await;
        env.assigned_to(ask).await
    })
    .await;
    assert_eq!(got, generator);
    assert_eq!(engine.metric("batches_cancelled_total").await, 1.0);

    // Whoever kept the signed batch cannot relay it any more.
    let err = market
        .relayAssignments(
            batch.assignments,
            batch.nonce,
            batch.expiry,
            batch.signature,
        )
        .from(env.requester)
        .call()
        .await
        .expect_err("the cancelled batch is refused");
    let decoded = err
        .as_decoded_interface_error::<ProofMarketplace::ProofMarketplaceErrors>()
        .expect("a marketplace error");
    assert!(
        matches!(
            decoded,
            ProofMarketplace::ProofMarketplaceErrors::NonceUsed(_)
        ),
        "{decoded:?}"
    );
    assert_eq!(env.assignment_events().await.0, vec![(ask, generator)]);
    engine.stop().await;
}
