//! The on-chain part of the devnet: the protocol with test tokens and the Matching Engine key, three Groth16
//! markets (a MiMC hash chain and a Merkle membership proof with keys from the INSECURE seeded setup, and the
//! circom chain circuit from its circuit package), the IVS key of the Merkle market, generators registered,
//! staked and quoting, and a funded requester.

use crate::accounts::{self, Role};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, utils::parse_units},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use anyhow::Context as _;
use kalypso_contracts::TestToken;
use kalypso_provers::{CircuitKind, CircuitSpec, Fr, evm, setup::load_or_setup};
use kalypso_sdk::{
    Admin, DeployConfig, Deployment, Kalypso, MarketId, MarketParams, MarketTerms, Quote, Roles,
    SampleMarket,
};
use serde::Serialize;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// The protocol's minimum fallback delay on a devnet (seconds): markets may let generators self-assign an ask
/// the engine left unassigned this soon (production deployments keep minutes).
pub const MIN_FALLBACK_DELAY: u16 = 5;

/// The devnet timelock's delay: short enough to try an upgrade or a parameter change in a devnet's minutes
/// (`cast send` the timelock's `schedule`, wait, `execute`), unlike the deploy script's two days.
pub const TIMELOCK_DELAY: Duration = Duration::from_secs(60);

/// A wallet provider signing as `role`.
pub fn provider(rpc_url: &str, role: Role) -> anyhow::Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(role.signer()))
        .connect_http(rpc_url.parse().context("bad RPC URL")?)
        .erased())
}

/// An SDK client acting as `role`.
pub fn client(
    rpc_url: &str,
    deployment: &Deployment,
    role: Role,
) -> anyhow::Result<Kalypso<DynProvider>> {
    Ok(Kalypso::new(
        provider(rpc_url, role)?,
        deployment.clone(),
        role.signer().address(),
    ))
}

/// A market of the devnet.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DevnetMarket {
    /// On-chain id.
    pub id: MarketId,
    /// `mimc-64`, `merkle-8`, `chain-16`: the metadata name generators build their prover from.
    pub name: String,
    /// The circuit.
    #[serde(skip)]
    pub circuit: DevnetCircuit,
    /// The market's verifier contract.
    pub verifier: Address,
}

/// The circuit of a devnet market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevnetCircuit {
    /// A built-in circuit (keys from the INSECURE seeded setup).
    Builtin(CircuitSpec),
    /// The circom chain circuit's package ([`CHAIN_PACKAGE`]), fetched by the generators from the devnet's
    /// package server.
    CircomChain,
    /// The circom factors circuit's package ([`FACTORS_PACKAGE`]) as a confidential market: `n` public, the
    /// factors `p` and `q` the ask's secret.
    Factors,
    /// The same package as a confidential TEE market: its `TeeVerifier` accepts the package's proof signed by
    /// the assigned generator's enclave key (attested for the market's INSECURE devnet image) instead of checking
    /// the Groth16 proof on-chain.
    FactorsTee,
}

/// The `i`-th valid factorisation of the devnet: `(n, p, q)` with `p = i + 2` and `q` a fixed large factor, so
/// every `n` differs.
pub fn factors(i: u64) -> (u64, u64, u64) {
    let (p, q) = (i.saturating_add(2) % 1_000_000, 1_000_003);
    let p = p.max(2);
    (p * q, p, q)
}

impl DevnetCircuit {
    /// Valid prover data, different for each `i`.
    pub fn sample_inputs(&self, i: u64) -> Vec<u8> {
        match self {
            Self::Builtin(spec) => spec.sample_inputs(i),
            // x must be non-zero.
            Self::CircomChain => evm::encode_inputs(&[Fr::from(i.saturating_add(2))]),
            Self::Factors | Self::FactorsTee => evm::encode_inputs(&[Fr::from(factors(i).0)]),
        }
    }

    /// The secret inputs that go with [`Self::sample_inputs`] (confidential markets only).
    pub fn sample_secret(&self, i: u64) -> Option<Vec<u8>> {
        if !self.is_confidential() {
            return None;
        }
        let (_, p, q) = factors(i);
        Some(format!(r#"{{"p":"{p}","q":"{q}"}}"#).into_bytes())
    }

    /// Whether the market takes secret inputs.
    pub fn is_confidential(&self) -> bool {
        matches!(self, Self::Factors | Self::FactorsTee)
    }

    /// Whether the market's verifier is a `TeeVerifier`.
    pub fn is_tee(&self) -> bool {
        matches!(self, Self::FactorsTee)
    }

    /// Whether this is the Merkle market (the one with an IVS).
    pub fn is_merkle(&self) -> bool {
        matches!(self, Self::Builtin(spec) if spec.kind() == CircuitKind::Merkle)
    }
}

/// The circom chain circuit package (`circuits/chain/fixture`, 16 rounds, INSECURE setup), built into the
/// binary so a devnet runs outside the checkout: `(file, bytes)`.
pub const CHAIN_PACKAGE: [(&str, &[u8]); 8] = [
    (
        "circuit.toml",
        include_bytes!("../../../circuits/chain/fixture/circuit.toml"),
    ),
    (
        "chain.r1cs",
        include_bytes!("../../../circuits/chain/fixture/chain.r1cs"),
    ),
    (
        "chain.wasm",
        include_bytes!("../../../circuits/chain/fixture/chain.wasm"),
    ),
    (
        "chain.zkey",
        include_bytes!("../../../circuits/chain/fixture/chain.zkey"),
    ),
    (
        "input.json",
        include_bytes!("../../../circuits/chain/fixture/input.json"),
    ),
    (
        "proof.json",
        include_bytes!("../../../circuits/chain/fixture/proof.json"),
    ),
    (
        "public.json",
        include_bytes!("../../../circuits/chain/fixture/public.json"),
    ),
    (
        "verification_key.json",
        include_bytes!("../../../circuits/chain/fixture/verification_key.json"),
    ),
];

/// The circom factors circuit package (`circuits/factors/fixture`, `private_inputs = "secret"`, INSECURE
/// setup), built into the binary: `(file, bytes)`.
pub const FACTORS_PACKAGE: [(&str, &[u8]); 8] = [
    (
        "circuit.toml",
        include_bytes!("../../../circuits/factors/fixture/circuit.toml"),
    ),
    (
        "factors.r1cs",
        include_bytes!("../../../circuits/factors/fixture/factors.r1cs"),
    ),
    (
        "factors.wasm",
        include_bytes!("../../../circuits/factors/fixture/factors.wasm"),
    ),
    (
        "factors.zkey",
        include_bytes!("../../../circuits/factors/fixture/factors.zkey"),
    ),
    (
        "input.json",
        include_bytes!("../../../circuits/factors/fixture/input.json"),
    ),
    (
        "proof.json",
        include_bytes!("../../../circuits/factors/fixture/proof.json"),
    ),
    (
        "public.json",
        include_bytes!("../../../circuits/factors/fixture/public.json"),
    ),
    (
        "verification_key.json",
        include_bytes!("../../../circuits/factors/fixture/verification_key.json"),
    ),
];

/// Writes [`CHAIN_PACKAGE`] to `dir/packages/chain-16` and returns the directory.
pub fn write_chain_package(dir: &Path) -> anyhow::Result<PathBuf> {
    write_package(dir, "chain-16", &CHAIN_PACKAGE)
}

/// Writes [`FACTORS_PACKAGE`] to `dir/packages/factors-secret` and returns the directory.
pub fn write_factors_package(dir: &Path) -> anyhow::Result<PathBuf> {
    write_package(dir, "factors-secret", &FACTORS_PACKAGE)
}

fn write_package(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> anyhow::Result<PathBuf> {
    let out = dir.join("packages").join(name);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for (file, bytes) in files {
        let path = out.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(out)
}

/// A circuit package market: the package's directory and the URL generators fetch it from.
#[derive(Debug, Clone)]
pub struct PackageSource {
    /// The package.
    pub dir: PathBuf,
    /// Where it is served (`http://…/packages/<sha256>/`).
    pub url: String,
}

/// The circuit-package markets [`provision`] creates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Packages<'a> {
    /// The circom chain circuit's package, as a public market.
    pub chain: Option<&'a PackageSource>,
    /// The factors package, as a confidential market.
    pub confidential: Option<&'a PackageSource>,
    /// The factors package, as a confidential TEE market.
    pub tee: Option<&'a PackageSource>,
}

/// A generator's part in the devnet.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorProfile {
    /// Short name (`cheap-slow`).
    pub name: String,
    /// Declared compute (proofs at once, with compute per proof 1).
    pub compute: u64,
    /// Native stake, in whole staking tokens (0: none).
    pub stake: u64,
    /// Stake restaked for it on the L1, in whole staking tokens, in a Symbiotic vault of its own (0: none; needs
    /// a devnet with [restaking](crate::DevnetConfig::restaking)).
    pub restaked: u64,
    /// Price per proof, in payment tokens (`"1.5"`).
    pub price: String,
    /// Committed proving time.
    #[serde(with = "secs")]
    pub max_proof_time: Duration,
    /// Markets it quotes in, by index into the devnet's markets (`None`: all).
    pub markets: Option<Vec<usize>>,
    /// Whether a node runs for it. A generator without one never proves: once assigned, it misses its
    /// deadline and is slashed.
    pub runs_node: bool,
}

mod secs {
    pub(super) fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

impl GeneratorProfile {
    fn new(name: &str, compute: u64, stake: u64, price: &str, max_proof_time: u64) -> Self {
        Self {
            name: name.to_owned(),
            compute,
            stake,
            price: price.to_owned(),
            max_proof_time: Duration::from_secs(max_proof_time),
            markets: None,
            runs_node: true,
            restaked: 0,
        }
    }

    /// The demo's generators: cheap-slow, middle and fast-expensive run nodes on every market (fast-expensive
    /// with room for one TIME ask per market at once); "unresponsive"
    /// is the cheapest in the MiMC market, stakes exactly the minimum and runs no node, so the first COST ask
    /// there goes to it, misses its deadline, is slashed and re-matched (after which its stake is below the
    /// minimum and it gets nothing more).
    pub fn demo() -> Vec<Self> {
        vec![
            Self::new("cheap-slow", 1, 100, "1", 45),
            Self::new("middle", 2, 100, "2", 25),
            Self::new("fast-expensive", 3, 100, "4", 10),
            Self {
                markets: Some(vec![0]),
                runs_node: false,
                ..Self::new("unresponsive", 1, 20, "0.5", 6)
            },
        ]
    }

    /// The demo's restaked generators, with no native stake: "restaked" runs a node on every market and is the
    /// cheapest of those that do (100 restaked), so COST asks go to it first; "restaked-idle" is the cheapest in
    /// the circom market and runs no node (30 restaked): its first task there misses the deadline and is slashed
    /// on the L2 (the ask is re-matched to another generator), the relayer carries the slash to the L1, where it
    /// is executed on its vault after the veto period (30 less 10 still meets the minimum of 20: it stays in the
    /// market).
    pub fn restaked_demo() -> Vec<Self> {
        vec![
            Self {
                stake: 0,
                restaked: 100,
                ..Self::new("restaked", 1, 0, "0.75", 20)
            },
            Self {
                stake: 0,
                restaked: 30,
                markets: Some(vec![2]),
                runs_node: false,
                ..Self::new("restaked-idle", 1, 0, "0.25", 12)
            },
        ]
    }
}

/// What [`provision`] made.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The deployment (also written to `dir/deployment.json`).
    pub deployment: Deployment,
    /// The markets: MiMC chain first, Merkle second, the circom package's third and the confidential factors
    /// package's fourth (when given).
    pub markets: Vec<DevnetMarket>,
    /// Payment-token decimals.
    pub payment_decimals: u8,
}

/// Circuit sizes of the two built-in markets.
#[derive(Debug, Clone, Copy)]
pub struct Circuits {
    /// MiMC rounds of the first market.
    pub mimc_rounds: usize,
    /// Merkle depth of the second market.
    pub merkle_depth: usize,
}

impl Default for Circuits {
    fn default() -> Self {
        Self {
            mimc_rounds: 64,
            merkle_depth: 8,
        }
    }
}

/// What [`provision`] puts on the chain.
#[derive(Debug, Clone)]
pub struct ProvisionConfig<'a> {
    /// Sizes of the built-in markets' circuits.
    pub circuits: Circuits,
    /// The generators to register, stake and quote.
    pub generators: &'a [GeneratorProfile],
    /// The markets' fallback delay.
    pub fallback_delay: Duration,
    /// The circuit-package markets.
    pub packages: Packages<'a>,
    /// A restaking pool to deploy with the protocol (collateral pool 1).
    pub restaking_pool: Option<kalypso_sdk::RestakingPoolConfig>,
}

/// Everything on-chain, reporting each step to `on_step`: deploy (with the restaking pool, if any), markets (with
/// the fallback delay), IVS key, generators, requester.
/// Keys of the circuits go to `dir/keys` (made by the INSECURE seeded setup when missing).
pub async fn provision(
    rpc_url: &str,
    dir: &Path,
    config: ProvisionConfig<'_>,
    mut on_step: impl FnMut(&str),
) -> anyhow::Result<Provisioned> {
    let ProvisionConfig {
        circuits,
        generators,
        fallback_delay,
        packages:
            Packages {
                chain: package,
                confidential,
                tee,
            },
        restaking_pool,
    } = config;
    let keys_dir = dir.join("keys");
    let specs = [
        CircuitSpec::new(CircuitKind::Mimc, circuits.mimc_rounds)?,
        CircuitSpec::new(CircuitKind::Merkle, circuits.merkle_depth)?,
    ];
    on_step("setting up the circuits' keys (INSECURE seeded setup)");
    let mut samples = Vec::new();
    for spec in specs {
        let dir = keys_dir.clone();
        let keys = tokio::task::spawn_blocking(move || load_or_setup(Some(&dir), spec, None))
            .await?
            .with_context(|| format!("setup of {spec}"))?;
        let a = keys.verifier_artifact();
        let token = U256::from(10u64).pow(U256::from(18));
        samples.push(SampleMarket {
            slashing_penalty: U256::from(10u64) * token,
            min_stake: U256::from(20u64) * token,
            metadata: Bytes::from(format!(r#"{{"name":"{spec}","kind":"groth16"}}"#).into_bytes()),
            fallback_delay: fallback_delay.as_secs(),
            ..SampleMarket::groth16(
                a.vk.clone().into(),
                U256::from(a.num_inputs),
                a.inputs.clone().into(),
                a.proof.clone().into(),
            )
        });
    }

    on_step("deploying the protocol and the MiMC market");
    let admin = Role::Admin.signer().address();
    let admin_provider = provider(rpc_url, Role::Admin)?;
    let mut config = DeployConfig::devnet(admin);
    // Roles as a production deployment has them, each with its own account: the admin role of every contract
    // behind a timelock that governance proposes to, a guardian that pauses, a treasury without powers.
    config.roles = Roles {
        admin: Admin::Timelock {
            proposers: vec![Role::Governance.signer().address()],
            delay: TIMELOCK_DELAY.as_secs(),
        },
        pauser: Role::Guardian.signer().address(),
        key_admin: admin,
    };
    config.params.treasury = Role::Treasury.signer().address();
    // Low enough that self-assignment (liveness without the engine) can be shown in a devnet's minutes.
    config.params.min_fallback_delay = MIN_FALLBACK_DELAY;
    config.matching_engine_key = Some(Bytes::copy_from_slice(
        Role::MatchingEngine.signer().public_key().as_slice(),
    ));
    config.sample_market = Some(samples[0].clone());
    // Added before the admin role goes to the timelock (afterwards adding a pool is a timelocked proposal).
    config.restaking_pool = restaking_pool;
    // INSECURE: a local key stands in for the attestation-verifier service (no enclaves on a devnet).
    config.attestation_signers = vec![accounts::insecure_attester().address()];
    let deployment = kalypso_sdk::deploy(admin_provider.clone(), config).await?;
    deployment.save(dir.join("deployment.json"))?;
    let mut markets = vec![DevnetMarket {
        id: deployment
            .sample_market_id
            .context("the deployment made no sample market")?,
        name: specs[0].to_string(),
        circuit: DevnetCircuit::Builtin(specs[0]),
        verifier: deployment
            .sample_verifier
            .context("the deployment made no sample verifier")?,
    }];

    on_step("creating the Merkle market and registering its IVS key");
    let admin_client = Kalypso::new(admin_provider.clone(), deployment.clone(), admin);
    let sample = samples[1].clone();
    let (verifier, _) = admin_client
        .deploy_groth16_verifier(
            sample.vk,
            u64::try_from(sample.num_inputs).context("number of inputs")?,
            sample.inputs,
            sample.proof,
        )
        .await
        .context("deploying the Merkle market's Groth16Verifier")?;
    let cost = admin_client.params().await?.market_creation_cost;
    mint(&admin_provider, deployment.payment_token, admin, cost).await?;
    let (merkle_id, _) = admin_client
        .create_market(MarketParams {
            verifier,
            slashing_penalty: sample.slashing_penalty,
            min_stake: sample.min_stake,
            fallback_delay: sample.fallback_delay,
            metadata: sample.metadata,
            ..MarketParams::default()
        })
        .await?;
    markets.push(DevnetMarket {
        id: merkle_id,
        name: specs[1].to_string(),
        circuit: DevnetCircuit::Builtin(specs[1]),
        verifier,
    });
    admin_client
        .add_ivs_signer(
            merkle_id,
            Bytes::copy_from_slice(Role::Ivs.signer().public_key().as_slice()),
        )
        .await?;

    if let Some(source) = package {
        on_step(
            "creating the circom market from its circuit package (verifier for the package's key)",
        );
        let package = kalypso_package::Package::open(&source.dir)?;
        mint(&admin_provider, deployment.payment_token, admin, cost).await?;
        let created = admin_client
            .create_package_market(
                &package,
                &source.url,
                MarketTerms {
                    slashing_penalty: sample.slashing_penalty,
                    min_stake: sample.min_stake,
                    fallback_delay: sample.fallback_delay,
                    ..MarketTerms::default()
                },
                |_| {},
            )
            .await
            .context("creating the circom package market")?;
        markets.push(DevnetMarket {
            id: created.market,
            name: package.manifest().name.clone(),
            circuit: DevnetCircuit::CircomChain,
            verifier: created.verifier,
        });
    }

    let confidential = [
        (confidential, DevnetCircuit::Factors),
        (tee, DevnetCircuit::FactorsTee),
    ];
    for (source, circuit) in confidential {
        let Some(source) = source else { continue };
        let what = if circuit.is_tee() {
            "confidential TEE factors market (TeeVerifier)"
        } else {
            "confidential factors market"
        };
        on_step(&format!(
            "creating the {what} (images: INSECURE devnet ids) and registering its IVS key"
        ));
        let package = kalypso_package::Package::open(&source.dir)?;
        mint(&admin_provider, deployment.payment_token, admin, cost).await?;
        let created = admin_client
            .create_package_market(
                &package,
                &source.url,
                MarketTerms {
                    slashing_penalty: sample.slashing_penalty,
                    min_stake: sample.min_stake,
                    prover_image_id: accounts::insecure_prover_image(),
                    // The TEE market's IVS is an attested enclave image: its key is registered with an
                    // attestation (the other market's IVS key is the creator's).
                    ivs_image_id: if circuit.is_tee() {
                        accounts::insecure_ivs_image()
                    } else {
                        B256::ZERO
                    },
                    tee: circuit.is_tee(),
                    ..MarketTerms::default()
                },
                |_| {},
            )
            .await
            .with_context(|| format!("creating the {what}"))?;
        let ivs_key = Bytes::copy_from_slice(Role::Ivs.signer().public_key().as_slice());
        if circuit.is_tee() {
            let attestation = admin_client
                .insecure_dev_attestation(
                    &accounts::insecure_attester(),
                    ivs_key,
                    accounts::insecure_ivs_image(),
                )
                .await?;
            admin_client
                .add_ivs_signer_with_attestation(created.market, &attestation)
                .await
                .context("registering the TEE market's IVS key with its attestation")?;
        } else {
            admin_client.add_ivs_signer(created.market, ivs_key).await?;
        }
        let name = package.manifest().name.clone();
        markets.push(DevnetMarket {
            id: created.market,
            name: if circuit.is_tee() {
                format!("{name}-tee")
            } else {
                name
            },
            circuit,
            verifier: created.verifier,
        });
    }

    let payment_decimals = TestToken::new(deployment.payment_token, &admin_provider)
        .decimals()
        .call()
        .await?;
    let stake_unit = U256::from(10u64).pow(U256::from(18));
    for (i, profile) in generators.iter().enumerate() {
        on_step(&format!("registering generator {}", profile.name));
        let role = Role::Generator(i);
        let address = role.signer().address();
        let client = client(rpc_url, &deployment, role)?;
        client
            .register(
                address,
                profile.compute,
                Bytes::from(format!(r#"{{"name":"{}"}}"#, profile.name).into_bytes()),
            )
            .await
            .with_context(|| format!("registering {}", profile.name))?;
        if profile.stake > 0 {
            let stake = U256::from(profile.stake) * stake_unit;
            mint(&admin_provider, deployment.staking_token, address, stake).await?;
            client.stake(stake).await?;
        }
        let price = parse_units(&profile.price, payment_decimals)
            .with_context(|| format!("price of {}", profile.name))?
            .get_absolute();
        for (m, market) in markets.iter().enumerate() {
            if profile.markets.as_ref().is_some_and(|ms| !ms.contains(&m)) {
                continue;
            }
            client
                .join_market(
                    market.id,
                    Quote {
                        price_per_proof: price,
                        max_proof_time: profile.max_proof_time.as_secs(),
                        compute_per_proof: 1,
                    },
                )
                .await
                .with_context(|| format!("{} joining market {}", profile.name, market.id))?;
            if market.circuit.is_confidential() {
                register_enclave(&admin_client, &client, market.id, i, dir).await?;
            }
        }
    }

    on_step("funding the requester");
    let requester = Role::Requester.signer().address();
    let funds = parse_units("1000000", payment_decimals)?.get_absolute();
    mint(&admin_provider, deployment.payment_token, requester, funds).await?;
    Ok(Provisioned {
        deployment,
        markets,
        payment_decimals,
    })
}

/// Registers generator `i`'s INSECURE enclave key for the confidential `market` with an INSECURE dev
/// attestation, and writes the key to `dir/enclave-<i>.key` for its node.
async fn register_enclave(
    admin: &Kalypso<DynProvider>,
    generator: &Kalypso<DynProvider>,
    market: MarketId,
    i: usize,
    dir: &Path,
) -> anyhow::Result<()> {
    let enclave = accounts::insecure_enclave(i);
    let attestation = admin
        .insecure_dev_attestation(
            &accounts::insecure_attester(),
            Bytes::copy_from_slice(enclave.public_key().as_slice()),
            accounts::insecure_prover_image(),
        )
        .await?;
    generator
        .register_enclave_key(market, &attestation, &enclave)
        .await
        .with_context(|| format!("registering the enclave key of generator {i}"))?;
    let path = enclave_key_path(dir, i);
    std::fs::write(
        &path,
        format!("0x{}\n", alloy::hex::encode(enclave.to_bytes())),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Where the INSECURE enclave key of generator `i` is written.
pub fn enclave_key_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("enclave-{i}.key"))
}

/// Mints test tokens (the devnet's tokens are `TestToken`s anyone may mint).
async fn mint(
    provider: &DynProvider,
    token: Address,
    to: Address,
    amount: U256,
) -> anyhow::Result<()> {
    let receipt = TestToken::new(token, provider)
        .mint(to, amount)
        .send()
        .await?
        .get_receipt()
        .await?;
    anyhow::ensure!(receipt.status(), "minting {amount} of {token} reverted");
    Ok(())
}
