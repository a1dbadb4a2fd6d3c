//! The matching audit against the chain: the engine's own assignments pass; an assignment the Matching Engine
//! key makes directly to a worse generator is reported, alone.

use super::*;
use kalypso_engine::audit::audit;
use kalypso_sdk::primitives::eip712::Assignment;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_passes_the_engine_and_reports_a_worse_direct_assignment() {
    let env = Env::new().await;
    let cheap_slow = env.generator(0, 4, 10, 600).await;
    let fast_dear = env.generator(1, 4, 50, 60).await;
    let cost = env.ask(100, 3_600, Preference::Cost).await;
    let time = env.ask(100, 3_600, Preference::Time).await;

    let engine = env.start(env.engine_config("engine.db")).await;
    for (ask, expected) in [(cost, cheap_slow), (time, fast_dear)] {
        let got = eventually(
            &format!("ask {ask} assigned"),
            Duration::from_secs(60),
            || async { env.assigned_to(ask).await },
        )
        .await;
        assert_eq!(got, expected, "ask {ask}");
    }
    engine.stop().await;

    let from = env.deployment.deploy_block;
    let clean = audit(&env.provider, &env.deployment, from, None, 7)
        .await
        .expect("audit");
    assert_eq!((clean.checked, clean.fallback), (2, 0), "{clean:?}");
    assert!(clean.differences.is_empty(), "{clean:?}");
    assert!(clean.events > 0);

    // The Matching Engine key assigns a COST ask to the dearer generator itself: the book picks the cheaper one.
    let worse = env.ask(100, 3_600, Preference::Cost).await;
    let wallet = alloy::network::EthereumWallet::new(env.me.clone());
    let me = Kalypso::new(
        ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(env.chain.anvil.endpoint_url())
            .erased(),
        env.deployment.clone(),
        env.me.address(),
    );
    let (_, tx) = me
        .assign_task(&Assignment {
            askId: U256::from(worse),
            generator: fast_dear,
            maxPrice: U256::MAX,
            maxProofTime: U256::MAX,
            acl: Bytes::new(),
        })
        .await
        .expect("direct assignment");
    assert_eq!(env.assigned_to(worse).await, Some(fast_dear));

    let report = audit(&env.provider, &env.deployment, from, None, 7)
        .await
        .expect("audit");
    assert_eq!(report.checked, 3, "{report:?}");
    let [d] = report.differences.as_slice() else {
        panic!("one difference expected: {report:?}");
    };
    assert_eq!(
        (d.ask, d.market, d.block, d.chosen, d.expected),
        (worse, MARKET, tx.block_number, fast_dear, Some(cheap_slow))
    );
    assert_eq!(d.tx, tx.hash);
    assert!(d.why.contains("cheaper quote: 10 against 50"), "{}", d.why);

    // The checked range bounds the verdict: before the direct assignment, nothing differs.
    let before = audit(
        &env.provider,
        &env.deployment,
        from,
        Some(tx.block_number - 1),
        1_000,
    )
    .await
    .expect("audit");
    assert_eq!((before.checked, before.differences.len()), (2, 0));
}
