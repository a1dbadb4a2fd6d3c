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

/// A production-shaped deployment: the admin role of every contract behind a timelock, the guardian, key
/// admin and treasury on their own accounts, and the deployer left with no role at all.
#[tokio::test]
async fn hands_every_role_to_its_holder_and_the_deployer_keeps_none() {
    use alloy::{
        network::EthereumWallet,
        primitives::{B256, U256},
        providers::ProviderBuilder,
    };
    use kalypso_contracts::{AttestationVerifier, TimelockController};
    use kalypso_sdk::{Admin, DeployConfig, Roles};

    let chain = kalypso_test_utils::Chain::spawn();
    let [deployer, governance, guardian, key_admin, treasury] =
        [0, 1, 2, 3, 4].map(|i| chain.account(i));
    let mut wallet = EthereumWallet::new(deployer.clone());
    wallet.register_signer(governance.clone());
    let provider = ProviderBuilder::new()
        .wallet(wallet)
        .connect_http(chain.anvil.endpoint_url());
    const DELAY: u64 = 3600;
    let mut config = DeployConfig::devnet(deployer.address());
    config.roles = Roles {
        admin: Admin::Timelock {
            proposers: vec![governance.address()],
            delay: DELAY,
        },
        pauser: guardian.address(),
        key_admin: key_admin.address(),
    };
    config.params.treasury = treasury.address();

    // A role given to nobody is refused before anything is sent.
    let mut lost = config.clone();
    lost.roles.pauser = alloy::primitives::Address::ZERO;
    let err = kalypso_sdk::deploy(&provider, lost).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { what: "roles", .. }),
        "{err:?}"
    );
    assert_eq!(
        provider
            .get_transaction_count(deployer.address())
            .await
            .unwrap(),
        0
    );

    let mut steps = 0;
    let d = kalypso_sdk::deploy_with_progress(&provider, config, |p| {
        steps = p.step;
        assert!(p.step <= p.total, "{p:?}");
    })
    .await
    .expect("deploy");
    // Tokens, timelock, 4 implementations + 4 proxies, factory, 3 wiring calls, then 7 roles granted and
    // renounced (admin ×4, pauser ×2, key admin).
    assert_eq!(steps, 2 + 1 + 8 + 1 + 3 + 2 * 7);
    let timelock = d.timelock.expect("a timelock");

    let admin_role = B256::ZERO;
    let market = ProofMarketplace::new(d.marketplace, &provider);
    let registry = GeneratorRegistry::new(d.generator_registry, &provider);
    let keys = EntityKeyRegistry::new(d.key_registry, &provider);
    let attestation = AttestationVerifier::new(d.attestation_verifier, &provider);
    for (name, has) in [
        (
            "marketplace",
            market.hasRole(admin_role, timelock).call().await,
        ),
        (
            "registry",
            registry.hasRole(admin_role, timelock).call().await,
        ),
        (
            "key registry",
            keys.hasRole(admin_role, timelock).call().await,
        ),
        (
            "attestation verifier",
            attestation.hasRole(admin_role, timelock).call().await,
        ),
    ] {
        assert!(has.unwrap(), "the timelock administers the {name}");
    }
    let pauser_role = market.PAUSER_ROLE().call().await.unwrap();
    let key_pauser_role = keys.PAUSER_ROLE().call().await.unwrap();
    let key_admin_role = keys.KEY_ADMIN_ROLE().call().await.unwrap();
    assert!(
        market
            .hasRole(pauser_role, guardian.address())
            .call()
            .await
            .unwrap()
    );
    assert!(
        keys.hasRole(key_pauser_role, guardian.address())
            .call()
            .await
            .unwrap()
    );
    assert!(
        keys.hasRole(key_admin_role, key_admin.address())
            .call()
            .await
            .unwrap()
    );
    let me = deployer.address();
    for (role, has) in [
        (
            "marketplace admin",
            market.hasRole(admin_role, me).call().await,
        ),
        (
            "marketplace pauser",
            market.hasRole(pauser_role, me).call().await,
        ),
        (
            "registry admin",
            registry.hasRole(admin_role, me).call().await,
        ),
        (
            "key registry admin",
            keys.hasRole(admin_role, me).call().await,
        ),
        ("key admin", keys.hasRole(key_admin_role, me).call().await),
        (
            "key registry pauser",
            keys.hasRole(key_pauser_role, me).call().await,
        ),
        (
            "attestation admin",
            attestation.hasRole(admin_role, me).call().await,
        ),
    ] {
        assert!(!has.unwrap(), "the deployer kept the {role} role");
    }
    assert_eq!(
        market.params().call().await.unwrap().treasury,
        treasury.address()
    );

    // A parameter change goes through the timelock: scheduled by governance, executable only after the delay.
    let mut params = market.params().call().await.unwrap();
    params.feePerInputByte = 3;
    let call = market.setParams(params).calldata().clone();
    let tl = TimelockController::new(timelock, &provider);
    assert_eq!(tl.getMinDelay().call().await.unwrap(), U256::from(DELAY));
    let (zero, value) = (B256::ZERO, U256::ZERO);
    tl.schedule(
        d.marketplace,
        value,
        call.clone(),
        zero,
        zero,
        U256::from(DELAY),
    )
    .from(governance.address())
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    let early = tl
        .execute(d.marketplace, value, call.clone(), zero, zero)
        .from(deployer.address())
        .call()
        .await;
    assert!(early.is_err(), "executed before the delay");
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (DELAY,))
        .await
        .unwrap();
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    tl.execute(d.marketplace, value, call, zero, zero)
        .from(deployer.address())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(market.params().call().await.unwrap().feePerInputByte, 3);
}
