use alloy::providers::Provider;
use kalypso_contracts::{EntityKeyRegistry, GeneratorRegistry, ProofMarketplace};
use kalypso_sdk::{Error, Kalypso, ProtocolParams};

use crate::{Env, SAMPLE_MARKET, pond};

#[tokio::test]
async fn deploys_and_wires_like_the_forge_script() {
    let env = Env::new().await;
    let d = &env.deployment;

    // Tokens, 4 implementations + 4 proxies, the verifier factory, 3 wiring calls, ME key, verifier, sample
    // market.
    let total = 2 + 8 + 1 + 3 + 1 + 2;
    assert_eq!(env.progress.len(), total);
    for (i, p) in env.progress.iter().enumerate() {
        assert_eq!((p.step, p.total), (i + 1, total), "{p:?}");
        assert_ne!(p.tx.gas_used, 0);
    }
    assert_eq!(env.progress.last().unwrap().label, "sample market");

    assert_eq!(d.chain_id, env.provider.get_chain_id().await.unwrap());
    assert_eq!(d.sample_market_id, Some(SAMPLE_MARKET));
    let client = Kalypso::connect(env.provider.clone(), d.clone(), env.admin)
        .await
        .expect("connect");

    // Wiring: the marketplace's immutables, the registry role and both market views.
    let market = ProofMarketplace::new(d.marketplace, &env.provider);
    assert_eq!(market.paymentToken().call().await.unwrap(), d.payment_token);
    assert_eq!(
        market.generatorRegistry().call().await.unwrap(),
        d.generator_registry
    );
    assert_eq!(market.keyRegistry().call().await.unwrap(), d.key_registry);
    // The sample market's verifier came from the marketplace's verifier factory.
    let factory = kalypso_contracts::VerifierFactory::new(
        market.verifierFactory().call().await.unwrap(),
        &env.provider,
    );
    assert!(
        factory
            .isVerifier(d.sample_verifier.unwrap())
            .call()
            .await
            .unwrap()
    );
    let registry = GeneratorRegistry::new(d.generator_registry, &env.provider);
    let role = registry.MARKETPLACE_ROLE().call().await.unwrap();
    assert!(registry.hasRole(role, d.marketplace).call().await.unwrap());
    assert_eq!(
        registry.stakingToken().call().await.unwrap(),
        d.staking_token
    );
    let keys = EntityKeyRegistry::new(d.key_registry, &env.provider);
    assert_eq!(keys.marketView().call().await.unwrap(), d.marketplace);
    assert_eq!(
        keys.attestationVerifier().call().await.unwrap(),
        d.attestation_verifier
    );

    // Defaults of `_defaultConfig` and `Deploy.s.sol`.
    assert_eq!(
        client.params().await.unwrap(),
        ProtocolParams::devnet(env.admin)
    );
    assert_eq!(
        registry.withdrawalDelay().call().await.unwrap(),
        alloy::primitives::U256::from(86_400)
    );
    assert_eq!(client.matching_engine().await.unwrap(), env.me.address());
    let sample = client.market(SAMPLE_MARKET).await.unwrap();
    assert_eq!(sample.creator, env.admin);
    assert_eq!(Some(sample.verifier), d.sample_verifier);
    assert_eq!(
        (
            sample.slashing_penalty,
            sample.min_stake,
            sample.fallback_delay
        ),
        (pond(10), pond(20), 3600)
    );
    assert!(!sample.confidential && !sample.frozen);
}

#[tokio::test]
async fn connect_rejects_another_chain_and_missing_contracts() {
    let env = Env::new().await;
    let mut wrong_chain = env.deployment.clone();
    wrong_chain.chain_id = 1;
    let err = Kalypso::connect(env.provider.clone(), wrong_chain, env.admin)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ChainMismatch {
                expected: 1,
                actual: 31337
            }
        ),
        "{err:?}"
    );

    let mut no_code = env.deployment.clone();
    no_code.generator_registry = env.other;
    let err = Kalypso::connect(env.provider.clone(), no_code, env.admin)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NoCode { contract: "GeneratorRegistry", address } if address == env.other),
        "{err:?}"
    );
}
