//! Deploys the protocol exactly as `contracts/script/ProtocolDeployer.sol` does: test tokens when none are
//! given, implementations behind ERC-1967 proxies with their initializers, the wiring between them, and the
//! hand-over of every role to the account configured for it (the deployer keeps none it is not named for).

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    sol_types::SolCall,
};
use kalypso_contracts::{
    AttestationVerifier, ERC1967Proxy, EntityKeyRegistry, GeneratorRegistry, ProofMarketplace,
    TestToken, TimelockController, VerifierFactory,
};
use tracing::info;

use crate::{
    Deployment, Error, Kalypso, MarketParams, ProtocolParams, RestakingPoolConfig, Result,
    TxSummary,
    client::view,
    error::Target,
    restaking::restaking_pool_deployment,
    tx::{self, DEFAULT_RECEIPT_TIMEOUT, Gas},
    types::to_u64,
};

/// What to deploy. [`DeployConfig::devnet`] gives the defaults of `ProtocolDeployer._defaultConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    /// Sends every transaction (the provider's wallet must sign for it). It holds every role while the contracts
    /// are wired and keeps only those [`DeployConfig::roles`] name it for.
    pub deployer: Address,
    /// Who holds each power of the protocol afterwards.
    pub roles: Roles,
    /// Payment token; `None` deploys a mintable test token ("tUSDC", 6 decimals).
    pub payment_token: Option<Address>,
    /// Staking token; `None` deploys a mintable test token ("tPOND", 18 decimals).
    pub staking_token: Option<Address>,
    /// Seconds between an unstake request and the withdrawal.
    pub withdrawal_delay: u64,
    /// Maximum age of an accepted enclave attestation, in milliseconds.
    pub attestation_max_age_ms: u64,
    /// Trusted attestation signers.
    pub attestation_signers: Vec<Address>,
    /// Marketplace parameters.
    pub params: ProtocolParams,
    /// The Matching Engine's 64-byte public key (`x ‖ y`), registered after the wiring when given.
    pub matching_engine_key: Option<Bytes>,
    /// A sample Groth16 market to create (the admin pays its creation cost), when given.
    pub sample_market: Option<SampleMarket>,
    /// A restaking pool to deploy and add to the registry before the roles are handed over (afterwards adding one
    /// is the admin's: a timelock proposal). Its `admin` is replaced by the protocol's admin (the timelock when
    /// there is one).
    pub restaking_pool: Option<RestakingPoolConfig>,
}

impl DeployConfig {
    /// The devnet defaults, `admin` deploying and holding every role and being the treasury: 1-day withdrawal
    /// delay, 10-minute attestation freshness, no attestation signers, [`ProtocolParams::devnet`], test tokens, no
    /// ME key, no sample market.
    pub fn devnet(admin: Address) -> Self {
        Self {
            deployer: admin,
            roles: Roles::all(admin),
            payment_token: None,
            staking_token: None,
            withdrawal_delay: 24 * 60 * 60,
            attestation_max_age_ms: 10 * 60 * 1000,
            attestation_signers: Vec::new(),
            params: ProtocolParams::devnet(admin),
            matching_engine_key: None,
            sample_market: None,
            restaking_pool: None,
        }
    }
}

/// Who holds each power of the protocol after deployment (docs/PROTOCOL.md, "Who can do what").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// `DEFAULT_ADMIN_ROLE` of every contract: upgrades, protocol parameters, the withdrawal delay, trusted
    /// attestation signers, the Matching Engine image, role grants.
    pub admin: Admin,
    /// `PAUSER_ROLE` of the marketplace and the key registry: stops new markets, asks, assignments and key
    /// registrations at once (settlement and withdrawals keep working).
    pub pauser: Address,
    /// `KEY_ADMIN_ROLE` of the key registry: sets or removes the Matching Engine key at once.
    pub key_admin: Address,
}

impl Roles {
    fn check(&self) -> Result<()> {
        let lost = |reason: &str| Error::InvalidArgument {
            what: "roles",
            reason: reason.into(),
        };
        if let Admin::Timelock { proposers, .. } = &self.admin
            && (proposers.is_empty() || proposers.contains(&Address::ZERO))
        {
            return Err(lost(
                "a timelock needs at least one proposer, none of them the zero address",
            ));
        }
        let holders =
            [RoleName::Admin, RoleName::Pauser, RoleName::KeyAdmin].map(|role| self.holder(role));
        if holders.contains(&Some(Address::ZERO)) {
            return Err(lost(
                "a role holder is the zero address (the role would be lost)",
            ));
        }
        Ok(())
    }

    /// Who receives `role`; `None` for the admin role when it goes to the timelock (deployed first).
    const fn holder(&self, role: RoleName) -> Option<Address> {
        match (role, &self.admin) {
            (RoleName::Admin, Admin::Account(account)) => Some(*account),
            (RoleName::Admin, Admin::Timelock { .. }) => None,
            (RoleName::Pauser, _) => Some(self.pauser),
            (RoleName::KeyAdmin, _) => Some(self.key_admin),
        }
    }

    /// Every role held directly by `account` (tests and throwaway devnets).
    pub fn all(account: Address) -> Self {
        Self {
            admin: Admin::Account(account),
            pauser: account,
            key_admin: account,
        }
    }
}

/// Who holds the admin role of every contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// An OpenZeppelin `TimelockController` deployed with the protocol: `proposers` schedule operations (and may
    /// cancel them), which anyone may execute once `delay` seconds have passed. Only the timelock administers
    /// itself, so changing its delay or proposers is a timelocked operation too.
    Timelock {
        /// Accounts that may schedule and cancel operations (a multisig in production).
        proposers: Vec<Address>,
        /// Seconds between scheduling an operation and executing it.
        delay: u64,
    },
    /// An account holds the admin role directly and acts at once (tests, throwaway devnets).
    Account(Address),
}

/// A Groth16 market created at deployment: a `Groth16Verifier` with this verifying key and sample statement
/// (deployed through the protocol's verifier factory), and a public market on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleMarket {
    /// Verifying key in the `Groth16Verifier` constructor layout.
    pub vk: Bytes,
    /// Number of public inputs the requester supplies (at least one).
    pub num_inputs: U256,
    /// Sample prover data (the verifier's self-check).
    pub inputs: Bytes,
    /// Sample proof of `inputs`, followed by its public outputs.
    pub proof: Bytes,
    /// Staking-token amount locked per task.
    pub slashing_penalty: U256,
    /// Minimum total stake of an assigned generator.
    pub min_stake: U256,
    /// Seconds before fallback self-assignment opens.
    pub fallback_delay: u64,
    /// Market metadata (emitted).
    pub metadata: Bytes,
}

impl SampleMarket {
    /// The sample market of `contracts/script/Deploy.s.sol`: penalty 10 and minimum stake 20 staking tokens (18
    /// decimals), a one-hour fallback delay, MiMC-chain metadata.
    pub fn groth16(vk: Bytes, num_inputs: U256, inputs: Bytes, proof: Bytes) -> Self {
        let token = U256::from(10u64).pow(U256::from(18));
        Self {
            vk,
            num_inputs,
            inputs,
            proof,
            slashing_penalty: U256::from(10u64) * token,
            min_stake: U256::from(20u64) * token,
            fallback_delay: 60 * 60,
            metadata: Bytes::from_static(br#"{"name":"mimc-chain-64","kind":"groth16"}"#),
        }
    }
}

/// One finished deployment step, reported to the progress callback of [`deploy_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployProgress {
    /// Steps done, this one included (1-based).
    pub step: usize,
    /// Steps in this deployment.
    pub total: usize,
    /// What was done (`"ProofMarketplace proxy"`).
    pub label: &'static str,
    /// The step's transaction (the last one when a step took several).
    pub tx: TxSummary,
}

/// Deploys and wires the whole protocol (see [`deploy_with_progress`]).
pub async fn deploy<P: Provider>(provider: P, config: DeployConfig) -> Result<Deployment> {
    deploy_with_progress(provider, config, |_| {}).await
}

/// Deploys and wires the whole protocol like `ProtocolDeployer._deployProtocol`, then optionally registers the
/// Matching Engine key and creates the sample market. Transactions go one after the other, each receipt
/// awaited; `on_progress` is called after each step.
pub async fn deploy_with_progress<P: Provider>(
    provider: P,
    config: DeployConfig,
    mut on_progress: impl FnMut(&DeployProgress),
) -> Result<Deployment> {
    let params = config.params.to_abi()?;
    let deployer = config.deployer;
    config.roles.check()?;
    // Each grant to someone other than the deployer is a grant and a renounce.
    let hand_over_steps = 2 * HAND_OVER
        .iter()
        .filter(|(_, role)| config.roles.holder(*role) != Some(deployer))
        .count();
    let total = usize::from(config.payment_token.is_none())
        + usize::from(config.staking_token.is_none())
        + usize::from(matches!(config.roles.admin, Admin::Timelock { .. }))
        + 9 // four implementations, four proxies, the verifier factory
        + 3 // MARKETPLACE_ROLE, two market views
        + usize::from(config.matching_engine_key.is_some())
        + if config.restaking_pool.is_some() { 2 } else { 0 }
        + hand_over_steps
        + if config.sample_market.is_some() { 2 } else { 0 };
    let mut d = Deployer {
        provider: &provider,
        admin: deployer,
        step: 0,
        total,
        on_progress: &mut on_progress,
    };
    let admin = deployer;
    let deploy_block = provider.get_block_number().await?;

    let timelock = match &config.roles.admin {
        Admin::Timelock { proposers, delay } => {
            let call = TimelockController::deploy_builder(
                &provider,
                U256::from(*delay),
                proposers.clone(),
                vec![Address::ZERO], // open execution once the delay has passed
                Address::ZERO,       // administered by itself only
            );
            Some(d.create(call, "TimelockController").await?)
        }
        Admin::Account(_) => None,
    };

    let payment_token = match config.payment_token {
        Some(token) => token,
        None => {
            let call = TestToken::deploy_builder(&provider, "Test USDC".into(), "tUSDC".into(), 6);
            d.create(call, "payment token (tUSDC)").await?
        }
    };
    let staking_token = match config.staking_token {
        Some(token) => token,
        None => {
            let call = TestToken::deploy_builder(&provider, "Test POND".into(), "tPOND".into(), 18);
            d.create(call, "staking token (tPOND)").await?
        }
    };

    let implementation = d
        .create(
            AttestationVerifier::deploy_builder(&provider),
            "AttestationVerifier implementation",
        )
        .await?;
    let init = AttestationVerifier::initializeCall {
        admin,
        maxAgeMs: config.attestation_max_age_ms,
        signers: config.attestation_signers.clone(),
    };
    let attestation_verifier = d
        .proxy(
            implementation,
            init.abi_encode(),
            "AttestationVerifier proxy",
        )
        .await?;

    let implementation = d
        .create(
            GeneratorRegistry::deploy_builder(&provider, staking_token),
            "GeneratorRegistry implementation",
        )
        .await?;
    let init = GeneratorRegistry::initializeCall {
        admin,
        marketView_: Address::ZERO,
        withdrawalDelay_: U256::from(config.withdrawal_delay),
    };
    let generator_registry = d
        .proxy(implementation, init.abi_encode(), "GeneratorRegistry proxy")
        .await?;

    let implementation = d
        .create(
            EntityKeyRegistry::deploy_builder(&provider),
            "EntityKeyRegistry implementation",
        )
        .await?;
    let init = EntityKeyRegistry::initializeCall {
        admin,
        attestationVerifier_: attestation_verifier,
        marketView_: Address::ZERO,
    };
    let key_registry = d
        .proxy(implementation, init.abi_encode(), "EntityKeyRegistry proxy")
        .await?;

    let verifier_factory = d
        .create(
            VerifierFactory::deploy_builder(&provider, key_registry),
            "VerifierFactory",
        )
        .await?;
    let implementation = d
        .create(
            ProofMarketplace::deploy_builder(
                &provider,
                payment_token,
                generator_registry,
                key_registry,
                verifier_factory,
            ),
            "ProofMarketplace implementation",
        )
        .await?;
    let init = ProofMarketplace::initializeCall {
        admin,
        params_: params,
    };
    let marketplace = d
        .proxy(implementation, init.abi_encode(), "ProofMarketplace proxy")
        .await?;

    let registry = GeneratorRegistry::new(generator_registry, &provider);
    let role = view(registry.MARKETPLACE_ROLE(), Target::Registry).await?;
    d.call(
        registry.grantRole(role, marketplace),
        Target::Registry,
        "registry: MARKETPLACE_ROLE to the marketplace",
    )
    .await?;
    d.call(
        registry.setMarketView(marketplace),
        Target::Registry,
        "registry: market view",
    )
    .await?;
    let keys = EntityKeyRegistry::new(key_registry, &provider);
    d.call(
        keys.setMarketView(marketplace),
        Target::KeyRegistry,
        "key registry: market view",
    )
    .await?;

    let mut deployment = Deployment {
        chain_id: provider.get_chain_id().await?,
        deploy_block,
        marketplace,
        generator_registry,
        key_registry,
        attestation_verifier,
        payment_token,
        staking_token,
        timelock,
        sample_verifier: None,
        sample_market_id: None,
        restaking_pools: Vec::new(),
    };

    if let Some(pubkey) = config.matching_engine_key {
        d.call(
            keys.setMatchingEngineKey(pubkey),
            Target::KeyRegistry,
            "Matching Engine key",
        )
        .await?;
    }

    if let Some(mut pool) = config.restaking_pool {
        pool.admin = config
            .roles
            .holder(RoleName::Admin)
            .or(timelock)
            .unwrap_or_else(|| unreachable!("a timelock was deployed for the admin role"));
        let call = restaking_pool_deployment(&provider, generator_registry, &pool);
        let address = d.create(call, "RestakingPool").await?;
        d.call(
            registry.addCollateralPool(address),
            Target::Registry,
            "restaking pool added to the registry",
        )
        .await?;
        deployment.restaking_pools.push(address);
    }

    for (target, role) in HAND_OVER {
        let holder = config
            .roles
            .holder(role)
            .or(timelock)
            .unwrap_or_else(|| unreachable!("a timelock was deployed for the admin role"));
        if holder == deployer {
            continue;
        }
        let contract = match target {
            Target::AttestationVerifier => attestation_verifier,
            Target::Registry => generator_registry,
            Target::KeyRegistry => key_registry,
            _ => marketplace,
        };
        // Every contract inherits AccessControl: the registry's binding encodes grantRole/renounceRole for all.
        let access = GeneratorRegistry::new(contract, &provider);
        let id = role.id();
        d.call(
            access.grantRole(id, holder),
            target,
            "role granted to its holder",
        )
        .await?;
        d.call(
            access.renounceRole(id, deployer),
            target,
            "role renounced by the deployer",
        )
        .await?;
    }

    if let Some(sample) = config.sample_market {
        let client = Kalypso::new(&provider, deployment.clone(), admin);
        let (verifier, summary) = client
            .deploy_groth16_verifier(
                sample.vk,
                to_u64(sample.num_inputs, "number of inputs")?,
                sample.inputs,
                sample.proof,
            )
            .await?;
        d.report("sample Groth16Verifier", summary);
        if config.payment_token.is_none() {
            // Our own test token: mint the creation cost like the forge script does.
            let cost = config.params.market_creation_cost;
            let token = TestToken::new(payment_token, &provider);
            tx::send(
                token.mint(admin, cost),
                admin,
                Target::Token,
                "mint",
                Gas::Estimate,
                Some(DEFAULT_RECEIPT_TIMEOUT),
            )
            .await?;
        }
        let (market_id, summary) = client
            .create_market(MarketParams {
                verifier,
                slashing_penalty: sample.slashing_penalty,
                min_stake: sample.min_stake,
                fallback_delay: sample.fallback_delay,
                metadata: sample.metadata,
                ..MarketParams::default()
            })
            .await?;
        d.report("sample market", summary);
        deployment.sample_verifier = Some(verifier);
        deployment.sample_market_id = Some(market_id);
    }

    info!(
        target: "kalypso::sdk",
        chain_id = deployment.chain_id,
        marketplace = %deployment.marketplace,
        "protocol deployed"
    );
    Ok(deployment)
}

/// A role the deployment hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleName {
    /// `DEFAULT_ADMIN_ROLE`, to [`Roles::admin`].
    Admin,
    /// `PAUSER_ROLE`, to [`Roles::pauser`].
    Pauser,
    /// `KEY_ADMIN_ROLE`, to [`Roles::key_admin`].
    KeyAdmin,
}

impl RoleName {
    /// The AccessControl role id (the contracts' `keccak256("<NAME>")` constants; the admin role is zero).
    fn id(self) -> B256 {
        match self {
            Self::Admin => B256::ZERO,
            Self::Pauser => keccak256("PAUSER_ROLE"),
            Self::KeyAdmin => keccak256("KEY_ADMIN_ROLE"),
        }
    }
}

/// `ProtocolDeployer._handOver`'s grants, in its order: the contract and the role its holder receives.
const HAND_OVER: [(Target, RoleName); 7] = [
    (Target::AttestationVerifier, RoleName::Admin),
    (Target::Registry, RoleName::Admin),
    (Target::KeyRegistry, RoleName::KeyAdmin),
    (Target::KeyRegistry, RoleName::Pauser),
    (Target::KeyRegistry, RoleName::Admin),
    (Target::Marketplace, RoleName::Pauser),
    (Target::Marketplace, RoleName::Admin),
];

/// Sends the deployment's transactions and counts its steps.
struct Deployer<'a, P, F> {
    provider: &'a P,
    admin: Address,
    step: usize,
    total: usize,
    on_progress: &'a mut F,
}

impl<P: Provider, F: FnMut(&DeployProgress)> Deployer<'_, P, F> {
    fn report(&mut self, label: &'static str, tx: TxSummary) {
        self.step += 1;
        (self.on_progress)(&DeployProgress {
            step: self.step,
            total: self.total,
            label,
            tx,
        });
    }

    /// Sends a contract creation and returns the new contract's address.
    async fn create<Q: Provider>(
        &mut self,
        call: alloy::contract::RawCallBuilder<Q>,
        label: &'static str,
    ) -> Result<Address> {
        let receipt = tx::send(
            call,
            self.admin,
            Target::Other(label),
            label,
            Gas::Estimate,
            Some(DEFAULT_RECEIPT_TIMEOUT),
        )
        .await?;
        let address = receipt.contract_address.ok_or(Error::NotDeployed {
            contract: label,
            tx: receipt.transaction_hash,
        })?;
        self.report(label, TxSummary::from(&receipt));
        Ok(address)
    }

    /// Deploys an ERC-1967 proxy to `implementation`, initialised with `init`.
    async fn proxy(
        &mut self,
        implementation: Address,
        init: Vec<u8>,
        label: &'static str,
    ) -> Result<Address> {
        let call = ERC1967Proxy::deploy_builder(self.provider, implementation, init.into());
        self.create(call, label).await
    }

    async fn call<Q: Provider, D: alloy::contract::CallDecoder>(
        &mut self,
        call: alloy::contract::CallBuilder<Q, D>,
        target: Target,
        label: &'static str,
    ) -> Result<()> {
        let receipt = tx::send(
            call,
            self.admin,
            target,
            label,
            Gas::Estimate,
            Some(DEFAULT_RECEIPT_TIMEOUT),
        )
        .await?;
        self.report(label, TxSummary::from(&receipt));
        Ok(())
    }
}
