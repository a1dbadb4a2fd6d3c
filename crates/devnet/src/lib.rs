//! The whole Kalypso marketplace on one machine, for the `kalypso devnet` demo and the end-to-end tests.
//!
//! [`Devnet::start`] starts anvil (1 s blocks, state kept in a file so it can be stopped and resumed),
//! deploys the protocol with test tokens and three Groth16 markets ([`setup`]: two built-in circuits and a
//! circom circuit package), then runs the matching engine (with a keeper account that slashes missed
//! deadlines), the Merkle market's IVS, a server of the circom package and a node per generator (each
//! fetching the package) as supervised `kalypso` child processes ([`process`]). With
//! [restaking](DevnetConfig::with_restaking) it runs a second chain, the L1, with the real Symbiotic core and Kalypso's
//! network middleware ([`l1`]), a restaking pool on the L2 and the committee relayer between them, and generators
//! backed only by restaked stake. [`Devnet::run_workload`] places a stream of asks and follows each to its end
//! ([`workload`]), giving a [`Report`].

pub mod accounts;
pub mod chain;
pub mod l1;
pub mod process;
pub mod progress;
pub mod report;
pub mod setup;
pub mod workload;

pub use accounts::Role;
pub use l1::{L1Deployment, RestakingConfig};
pub use progress::{Mode as ProgressMode, Progress};
pub use report::{AskOutcome, Expected, Outcome, Report};
pub use setup::{Circuits, DevnetCircuit, DevnetMarket, GeneratorProfile, Provisioned};
pub use workload::{AskPlan, Sealing, SecretPlan, demo_plan};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
};
use anyhow::Context as _;
use chain::{Anvil, free_port};
use kalypso_sdk::{Kalypso, L1SlashStatus, MarketId, QueuedSlash, SymbioticNetwork};
use process::{Spec, Supervisor};
use std::{collections::HashMap, path::PathBuf, time::Duration};
use tokio::task::JoinHandle;

/// What to run.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The `kalypso` executable the services run from.
    pub kalypso: PathBuf,
    /// The anvil executable.
    pub anvil: PathBuf,
    /// Working directory: deployment, keys, databases, logs, anvil state.
    pub dir: PathBuf,
    /// Use this node instead of starting anvil (it must hold anvil's funded dev accounts).
    pub rpc_url: Option<String>,
    /// Seconds per block of the anvil started.
    pub block_time: u64,
    /// Sizes of the two built-in markets' circuits.
    pub circuits: Circuits,
    /// The generators (at most [`accounts::MAX_GENERATORS`]).
    pub generators: Vec<GeneratorProfile>,
    /// Run the engine's keeper (slashes missed deadlines).
    pub keeper: bool,
    /// How long an ask of a devnet market stays unassigned before generator nodes may take it themselves
    /// (fallback self-assignment); at least [`MIN_FALLBACK_DELAY`].
    pub fallback_delay: Duration,
    /// Run an L1 with Symbiotic, a restaking pool and its relayer (needed by generators with
    /// [restaked](GeneratorProfile::restaked) stake).
    pub restaking: Option<RestakingConfig>,
}

/// The shortest fallback delay a devnet takes: the protocol's minimum on the devnet deployment.
pub const MIN_FALLBACK_DELAY: Duration = Duration::from_secs(5);

/// The demo's fallback delay: long enough that the running engine matches every ask first, short enough to
/// see asks proven without it (stop the engine).
pub const DEFAULT_FALLBACK_DELAY: Duration = Duration::from_secs(30);

impl DevnetConfig {
    /// The demo's configuration in `dir`: 1 s blocks, MiMC-64 and Merkle-8 markets, the
    /// [demo generators](GeneratorProfile::demo), keeper on, a [30 s fallback delay](DEFAULT_FALLBACK_DELAY).
    pub fn demo(kalypso: PathBuf, anvil: PathBuf, dir: PathBuf) -> Self {
        Self {
            kalypso,
            anvil,
            dir,
            rpc_url: None,
            block_time: 1,
            circuits: Circuits::default(),
            generators: GeneratorProfile::demo(),
            keeper: true,
            fallback_delay: DEFAULT_FALLBACK_DELAY,
            restaking: None,
        }
    }

    /// Adds the L1 side (`restaking`) and the [demo's restaked generators](GeneratorProfile::restaked_demo).
    #[must_use]
    pub fn with_restaking(mut self, restaking: RestakingConfig) -> Self {
        self.restaking = Some(restaking);
        self.generators.extend(GeneratorProfile::restaked_demo());
        self
    }
}

/// A running devnet. Dropping it kills every process it started; [`Devnet::shutdown`] stops them gracefully.
#[derive(Debug)]
pub struct Devnet {
    config: DevnetConfig,
    anvil: Option<tokio::sync::Mutex<Anvil>>,
    rpc_url: String,
    /// What is on-chain.
    pub provisioned: Provisioned,
    /// The services.
    pub services: Supervisor,
    watcher: JoinHandle<()>,
    /// The matching engine's API.
    pub engine_url: String,
    /// The portal (`kalypso portal`): the marketplace in a browser.
    pub portal_url: String,
    /// The IVS of the Merkle market.
    pub ivs_url: String,
    /// The IVSs of the confidential markets: `(service name, market, URL)`.
    pub confidential_ivs: Vec<(String, MarketId, String)>,
    /// The circuit package server (`kalypso circuit serve`): `GET /packages`.
    pub packages_url: String,
    /// Status APIs of the generator nodes, by generator name.
    pub generator_urls: Vec<(String, String)>,
    /// The L1 with Symbiotic, when the devnet restakes.
    l1: Option<l1::L1>,
}

/// The restaked side of a running devnet.
#[derive(Debug, Clone, Copy)]
pub struct RestakingView<'a> {
    /// The L1's JSON-RPC endpoint.
    pub l1_rpc_url: &'a str,
    /// What is deployed on the L1.
    pub l1: &'a L1Deployment,
    /// The L2 restaking pool (collateral pool 1).
    pub pool: Address,
}

/// A slash of restaked collateral and where it is on the L1.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestakedSlash {
    /// The slashed generator's name.
    pub generator: String,
    /// The slash as the L2 pool queued it.
    pub slash: QueuedSlash,
    /// Its request on the L1.
    pub l1_status: L1SlashStatus,
}

/// The service name of the portal.
pub const PORTAL_SERVICE: &str = "portal";

/// The service name of the committee relayer.
pub const RELAYER_SERVICE: &str = "relayer";

impl Drop for Devnet {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// The service name of a generator's node.
pub fn generator_service(name: &str) -> String {
    format!("generator-{name}")
}

impl Devnet {
    /// Starts the chain, provisions it and starts the services, reporting each step.
    pub async fn start(config: DevnetConfig, progress: &Progress) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.generators.len() <= accounts::MAX_GENERATORS,
            "at most {} generators (anvil's dev accounts)",
            accounts::MAX_GENERATORS
        );
        anyhow::ensure!(
            config.fallback_delay >= MIN_FALLBACK_DELAY,
            "the fallback delay must be at least {MIN_FALLBACK_DELAY:?} (the protocol's minimum on the devnet)"
        );
        if let Some(g) = config.generators.iter().find(|g| g.restaked > 0)
            && config.restaking.is_none()
        {
            anyhow::bail!(
                "generator {} restakes on the L1, but the devnet runs no L1 (DevnetConfig::restaking)",
                g.name
            );
        }
        if let Some(restaking) = &config.restaking {
            let longest = restaking.max_proof_time();
            if let Some(g) = config
                .generators
                .iter()
                .find(|g| g.restaked > 0 && g.max_proof_time.as_secs() > longest)
            {
                anyhow::bail!(
                    "restaked generator {} commits to {:?}, more than the {longest} s a task locked against a \
                     snapshot may take with {} s epochs",
                    g.name,
                    g.max_proof_time,
                    restaking.epoch
                );
            }
        }
        std::fs::create_dir_all(&config.dir)
            .with_context(|| format!("cannot create {}", config.dir.display()))?;
        let (anvil, rpc_url, ws_url) = match &config.rpc_url {
            Some(url) => (None, url.clone(), None),
            None => {
                progress.step("starting anvil");
                let anvil = Anvil::start(
                    &config.anvil,
                    &config.dir,
                    "anvil",
                    0,
                    Some(config.block_time),
                    None,
                )
                .await?;
                let (http, ws) = (anvil.http_url(), anvil.ws_url());
                (Some(tokio::sync::Mutex::new(anvil)), http, Some(ws))
            }
        };
        // The circom market's package, served by hash to the generator nodes (they fetch and check it).
        let package_dir = setup::write_chain_package(&config.dir)?;
        let package_sha256 = kalypso_package::Package::open(&package_dir)?.sha256_hex();
        let packages_port = free_port()?;
        let packages_url = format!("http://127.0.0.1:{packages_port}");
        let package = setup::PackageSource {
            dir: package_dir.clone(),
            url: format!("{packages_url}/packages/{package_sha256}/"),
        };
        // The confidential market's package (factors: p and q are the asks' secrets), served the same way.
        let factors_dir = setup::write_factors_package(&config.dir)?;
        let factors_sha256 = kalypso_package::Package::open(&factors_dir)?.sha256_hex();
        let factors = setup::PackageSource {
            dir: factors_dir.clone(),
            url: format!("{packages_url}/packages/{factors_sha256}/"),
        };
        let services = Supervisor::default();
        let deployment = config.dir.join("deployment.json");
        let env = |role: Role| {
            vec![
                ("KALYPSO_RPC_URL".to_owned(), rpc_url.clone()),
                (
                    "KALYPSO_DEPLOYMENT".to_owned(),
                    deployment.display().to_string(),
                ),
                ("KALYPSO_PRIVATE_KEY".to_owned(), role.key_hex().to_owned()),
            ]
        };
        let spec = |name: String, args: Vec<String>, envs: Vec<(String, String)>| Spec {
            log: config.dir.join(format!("{name}.log")),
            name,
            program: config.kalypso.clone(),
            args,
            envs,
        };
        let path = |p: &str| config.dir.join(p).display().to_string();

        // Served from now on: the port is taken before the minute of provisioning, during which an outgoing
        // connection could otherwise get it from the same ephemeral range.
        services
            .start(spec(
                "packages".into(),
                vec![
                    "circuit".into(),
                    "serve".into(),
                    package_dir.display().to_string(),
                    factors_dir.display().to_string(),
                    "--listen".into(),
                    format!("127.0.0.1:{packages_port}"),
                ],
                Vec::new(),
            ))
            .await?;

        let l1 = match &config.restaking {
            None => None,
            Some(restaking) => {
                let operators: Vec<(Role, U256)> = config
                    .generators
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.restaked > 0)
                    .map(|(i, g)| {
                        (
                            Role::Generator(i),
                            U256::from(g.restaked) * U256::from(10u64).pow(U256::from(18)),
                        )
                    })
                    .collect();
                Some(
                    l1::start(&config.anvil, &config.dir, restaking, &operators, |s| {
                        progress.step(s);
                    })
                    .await?,
                )
            }
        };
        let provisioned = setup::provision(
            &rpc_url,
            &config.dir,
            setup::ProvisionConfig {
                circuits: config.circuits,
                generators: &config.generators,
                fallback_delay: config.fallback_delay,
                packages: setup::Packages {
                    chain: Some(&package),
                    confidential: Some(&factors),
                    tee: Some(&factors),
                },
                restaking_pool: config
                    .restaking
                    .as_ref()
                    .zip(l1.as_ref())
                    .map(|(r, l1)| r.pool(l1.deployment.epoch_start)),
            },
            |s| progress.step(s),
        )
        .await?;

        progress.step("starting the matching engine, the IVS and the generator nodes");
        let engine_port = free_port()?;
        let mut args = vec![
            "engine".into(),
            "run".into(),
            "--db".into(),
            path("engine.db"),
            "--listen".into(),
            format!("127.0.0.1:{engine_port}"),
            "--poll-interval".into(),
            "1s".into(),
        ];
        if let Some(ws) = &ws_url {
            args.extend(["--ws-url".into(), ws.clone()]);
        }
        let mut envs = env(Role::MatchingEngine);
        envs.push((
            "KALYPSO_MATCHING_ENGINE_KEY".into(),
            Role::MatchingEngine.key_hex().into(),
        ));
        if config.keeper {
            envs.push(("KALYPSO_KEEPER_KEY".into(), Role::Keeper.key_hex().into()));
        }
        services.start(spec("engine".into(), args, envs)).await?;
        let engine_url = format!("http://127.0.0.1:{engine_port}");

        // The portal: the marketplace in a browser, over the engine's API and the chain.
        let portal_port = free_port()?;
        let mut envs = env(Role::Requester);
        envs.retain(|(k, _)| k != "KALYPSO_PRIVATE_KEY");
        services
            .start(spec(
                PORTAL_SERVICE.into(),
                vec![
                    "portal".into(),
                    "--engine".into(),
                    engine_url.clone(),
                    "--listen".into(),
                    format!("127.0.0.1:{portal_port}"),
                ],
                envs,
            ))
            .await?;
        let portal_url = format!("http://127.0.0.1:{portal_port}");

        let merkle = provisioned
            .markets
            .iter()
            .find(|m| m.circuit.is_merkle())
            .context("no Merkle market")?;
        let ivs_port = free_port()?;
        services
            .start(spec(
                "ivs".into(),
                vec![
                    "ivs".into(),
                    "run".into(),
                    "--market".into(),
                    merkle.id.to_string(),
                    "--listen".into(),
                    format!("127.0.0.1:{ivs_port}"),
                    "--keys".into(),
                    path("keys"),
                ],
                env(Role::Ivs),
            ))
            .await?;
        let ivs_url = format!("http://127.0.0.1:{ivs_port}");

        // Each confidential market's IVS: it decrypts what a generator's enclave could not prove, with the
        // data key the enclave wraps to its registered key, and attests.
        let mut confidential_ivs = Vec::new();
        for market in provisioned
            .markets
            .iter()
            .filter(|m| m.circuit.is_confidential())
        {
            let name = format!("ivs-{}", market.name);
            let port = free_port()?;
            let mut envs = env(Role::Ivs);
            envs.push(("KALYPSO_CACHE_DIR".into(), path(&format!("{name}-cache"))));
            services
                .start(spec(
                    name.clone(),
                    vec![
                        "ivs".into(),
                        "run".into(),
                        "--market".into(),
                        market.id.to_string(),
                        "--listen".into(),
                        format!("127.0.0.1:{port}"),
                        "--threads".into(),
                        "1".into(),
                    ],
                    envs,
                ))
                .await?;
            confidential_ivs.push((name, market.id, format!("http://127.0.0.1:{port}")));
        }

        let mut generator_urls = Vec::new();
        for (i, profile) in config.generators.iter().enumerate() {
            if !profile.runs_node {
                continue;
            }
            let port = free_port()?;
            let mut args = vec!["generator".into(), "run".into()];
            let mut serves_confidential = false;
            for (m, market) in provisioned.markets.iter().enumerate() {
                if profile.markets.as_ref().is_none_or(|ms| ms.contains(&m)) {
                    args.extend(["--market".into(), market.id.to_string()]);
                    serves_confidential |= market.circuit.is_confidential();
                    if let Some((_, _, ivs)) =
                        confidential_ivs.iter().find(|(_, m, _)| *m == market.id)
                    {
                        args.extend(["--ivs-url".into(), format!("{}={ivs}", market.id)]);
                    }
                }
            }
            if serves_confidential {
                // INSECURE: the node stands in for the generator's enclave (one key for its confidential markets).
                args.extend([
                    "--enclave-key-file".into(),
                    setup::enclave_key_path(&config.dir, i)
                        .display()
                        .to_string(),
                ]);
            }
            let name = generator_service(&profile.name);
            args.extend([
                "--db".into(),
                path(&format!("{name}.db")),
                "--ivs-url".into(),
                format!("{}={ivs_url}", merkle.id),
                "--keys".into(),
                path("keys"),
                "--threads".into(),
                "1".into(),
                "--submit-margin".into(),
                "2s".into(),
                "--poll-interval".into(),
                "1s".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
            ]);
            if let Some(ws) = &ws_url {
                args.extend(["--ws-url".into(), ws.clone()]);
            }
            // Each node fetches the circom package into its own cache, as separate machines would.
            let mut envs = env(Role::Generator(i));
            envs.push(("KALYPSO_CACHE_DIR".into(), path(&format!("{name}-cache"))));
            services.start(spec(name, args, envs)).await?;
            generator_urls.push((profile.name.clone(), format!("http://127.0.0.1:{port}")));
        }
        if let Some(l1) = &l1 {
            let pool = *provisioned
                .deployment
                .restaking_pools
                .first()
                .context("the deployment added no restaking pool")?;
            // The relayer signs and sends as the committee's only member, on both chains.
            let mut envs = env(Role::Relayer);
            envs.push((
                "KALYPSO_COMMITTEE_KEYS".into(),
                Role::Relayer.key_hex().into(),
            ));
            services
                .start(spec(
                    RELAYER_SERVICE.into(),
                    vec![
                        "restaking".into(),
                        "relay".into(),
                        "--pool".into(),
                        pool.to_string(),
                        "--l1-rpc-url".into(),
                        l1.anvil.http_url(),
                        "--l1-middleware".into(),
                        l1.deployment.middleware.to_string(),
                        "--from-block".into(),
                        provisioned.deployment.deploy_block.to_string(),
                        "--l1-from-block".into(),
                        l1.deployment.deploy_block.to_string(),
                        "--poll-interval".into(),
                        "1s".into(),
                    ],
                    envs,
                ))
                .await?;
        }
        let watcher = services.watch(Duration::from_millis(500));
        let devnet = Self {
            config,
            anvil,
            rpc_url,
            provisioned,
            services,
            watcher,
            engine_url,
            portal_url,
            ivs_url,
            confidential_ivs,
            packages_url,
            generator_urls,
            l1,
        };
        devnet.wait_healthy(Duration::from_secs(60)).await?;
        if let Some(restaking) = devnet.restaking() {
            progress.step("waiting for the relayer's first L1 stake snapshot on the L2 pool");
            // Epoch 1 starts soon after the L1 deployment; two epochs leave room for a slow machine.
            let epoch = devnet.config.restaking.as_ref().map_or(60, |r| r.epoch);
            devnet
                .wait_first_snapshot(restaking, Duration::from_secs(2 * epoch + 30))
                .await?;
        }
        progress.step("all services are up");
        Ok(devnet)
    }

    /// Waits until the pool holds a snapshot in which every restaked generator has stake.
    async fn wait_first_snapshot(
        &self,
        restaking: RestakingView<'_>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let client = self.client(Role::Requester)?;
        let restaked: Vec<(Address, &str)> = self
            .config
            .generators
            .iter()
            .enumerate()
            .filter(|(_, g)| g.restaked > 0)
            .map(|(i, g)| (Role::Generator(i).signer().address(), g.name.as_str()))
            .collect();
        let started = tokio::time::Instant::now();
        loop {
            let mut missing = Vec::new();
            for (address, name) in &restaked {
                let has_stake = client
                    .pool_collateral(*address)
                    .await?
                    .iter()
                    .any(|c| c.pool == restaking.pool && c.stake > 0);
                if !has_stake {
                    missing.push(*name);
                }
            }
            if missing.is_empty() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                let log = self.config.dir.join(format!("{RELAYER_SERVICE}.log"));
                anyhow::bail!(
                    "no snapshot with the restaked stake of {} reached the L2 pool within {timeout:?}; the \
                     relayer's log ({}) ends with:\n{}",
                    missing.join(", "),
                    log.display(),
                    tail(&log, 20)
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The L1 side, when the devnet restakes.
    pub fn restaking(&self) -> Option<RestakingView<'_>> {
        let l1 = self.l1.as_ref()?;
        Some(RestakingView {
            l1_rpc_url: &l1.url,
            l1: &l1.deployment,
            pool: *self.provisioned.deployment.restaking_pools.first()?,
        })
    }

    /// Waits until the engine, the IVS and every node answer `/health`.
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let mut urls = vec![
            ("engine".to_owned(), format!("{}/health", self.engine_url)),
            (
                PORTAL_SERVICE.to_owned(),
                format!("{}/health", self.portal_url),
            ),
            ("ivs".to_owned(), format!("{}/health", self.ivs_url)),
            (
                "packages".to_owned(),
                format!("{}/packages", self.packages_url),
            ),
        ];
        for (name, _, url) in &self.confidential_ivs {
            urls.push((name.clone(), format!("{url}/health")));
        }
        for (name, url) in &self.generator_urls {
            urls.push((generator_service(name), format!("{url}/health")));
        }
        let started = tokio::time::Instant::now();
        for (name, url) in urls {
            loop {
                if http
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    break;
                }
                if started.elapsed() > timeout {
                    let log = self.config.dir.join(format!("{name}.log"));
                    anyhow::bail!(
                        "{name} did not become healthy within {timeout:?} ({url}); its log ({}) ends with:\n{}",
                        log.display(),
                        tail(&log, 20)
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// The chain's HTTP endpoint.
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The working directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.config.dir
    }

    /// The configuration.
    pub fn config(&self) -> &DevnetConfig {
        &self.config
    }

    /// An SDK client acting as `role`.
    pub fn client(&self, role: Role) -> anyhow::Result<Kalypso<DynProvider>> {
        setup::client(&self.rpc_url, &self.provisioned.deployment, role)
    }

    /// Generator names by address.
    pub fn generator_names(&self) -> HashMap<Address, String> {
        self.config
            .generators
            .iter()
            .enumerate()
            .map(|(i, g)| (Role::Generator(i).signer().address(), g.name.clone()))
            .collect()
    }

    /// Places `plan` at `rate` asks per second as the requester and follows every ask to its end.
    pub async fn run_workload(
        &self,
        plan: &[AskPlan],
        rate: f64,
        timeout: Duration,
        progress: &Progress,
    ) -> anyhow::Result<Report> {
        // The requester's transactions are sent concurrently: nonces are tracked locally.
        let provider = alloy::providers::ProviderBuilder::new()
            .with_cached_nonce_management()
            .wallet(alloy::network::EthereumWallet::from(
                Role::Requester.signer(),
            ))
            .connect_http(self.rpc_url.parse()?)
            .erased();
        let client = Kalypso::new(
            provider,
            self.provisioned.deployment.clone(),
            Role::Requester.signer().address(),
        );
        let names = self.generator_names();
        workload::Workload {
            client: &client,
            markets: &self.provisioned.markets,
            names: &names,
            payment_decimals: self.provisioned.payment_decimals,
            rate,
            timeout,
        }
        .run(plan, progress)
        .await
    }

    /// `kill -9` a service, as a crash would; the supervisor restarts it within a second or so.
    pub async fn crash(&self, service: &str) -> anyhow::Result<()> {
        self.services.with(service, async |p| p.kill().await).await
    }

    /// Stops a service gracefully (SIGTERM); it stays down until [`Self::restart`].
    pub async fn stop(&self, service: &str) -> anyhow::Result<()> {
        self.services
            .with(service, async |p| p.stop(Duration::from_secs(10)).await)
            .await
    }

    /// Starts a stopped service again.
    pub async fn restart(&self, service: &str) -> anyhow::Result<()> {
        self.services.with(service, async |p| p.restart()).await?
    }

    /// Stops anvil (every RPC call fails until [`Self::resume_chain`]).
    pub async fn stop_chain(&self) -> anyhow::Result<()> {
        self.anvil
            .as_ref()
            .context("the devnet did not start the node")?
            .lock()
            .await
            .stop()
            .await;
        Ok(())
    }

    /// Starts anvil again from its state file, on the same port.
    pub async fn resume_chain(&self) -> anyhow::Result<()> {
        self.anvil
            .as_ref()
            .context("the devnet did not start the node")?
            .lock()
            .await
            .resume()
            .await
    }

    /// Every slash of restaked collateral the L2 pool queued, with its status on the L1.
    pub async fn restaked_slashes(&self) -> anyhow::Result<Vec<RestakedSlash>> {
        let Some(restaking) = self.restaking() else {
            return Ok(Vec::new());
        };
        let client = self.client(Role::Requester)?;
        let head = client.block_number().await?;
        let queued = client
            .queued_slashes(
                restaking.pool,
                self.provisioned.deployment.deploy_block..=head,
            )
            .await?;
        let l1 = SymbioticNetwork::connect(
            alloy::providers::ProviderBuilder::new()
                .connect_http(restaking.l1_rpc_url.parse()?)
                .erased(),
            restaking.l1.middleware,
            Address::ZERO,
        )
        .await?;
        let names = self.generator_names();
        let mut out = Vec::new();
        for slash in queued {
            let key = kalypso_sdk::slash_key(
                self.provisioned.deployment.chain_id,
                restaking.pool,
                slash.slash_id,
            );
            out.push(RestakedSlash {
                generator: names
                    .get(&slash.operator)
                    .cloned()
                    .unwrap_or_else(|| slash.operator.to_string()),
                l1_status: l1.slash(key).await?.status,
                slash,
            });
        }
        Ok(out)
    }

    /// Waits until every slash of restaked collateral queued so far is closed on the L1 (executed after the veto
    /// period, or vetoed), and returns them.
    pub async fn wait_restaked_slashes_closed(
        &self,
        timeout: Duration,
    ) -> anyhow::Result<Vec<RestakedSlash>> {
        let started = tokio::time::Instant::now();
        loop {
            let slashes = self.restaked_slashes().await?;
            let open: Vec<String> = slashes
                .iter()
                .filter(|s| !matches!(s.l1_status, L1SlashStatus::Executed | L1SlashStatus::Vetoed))
                .map(|s| {
                    format!(
                        "slash {} of {} ({:?})",
                        s.slash.slash_id, s.generator, s.l1_status
                    )
                })
                .collect();
            if open.is_empty() {
                return Ok(slashes);
            }
            if started.elapsed() > timeout {
                let log = self.config.dir.join(format!("{RELAYER_SERVICE}.log"));
                anyhow::bail!(
                    "still open on the L1 after {timeout:?}: {}; the relayer's log ({}) ends with:\n{}",
                    open.join(", "),
                    log.display(),
                    tail(&log, 20)
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// As the vaults' resolver, vetoes restaked slash `slash_id` on the L1 once the relayer has requested it
    /// (waiting up to `timeout` for the request): the relayer then closes it as vetoed and nothing is taken.
    pub async fn veto_restaked_slash(
        &self,
        slash_id: u64,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let restaking = self.restaking().context("the devnet runs no L1")?;
        let resolver = setup::provider(restaking.l1_rpc_url, Role::Resolver)?;
        let l1 = SymbioticNetwork::connect(
            resolver.clone(),
            restaking.l1.middleware,
            Role::Resolver.signer().address(),
        )
        .await?;
        let key = kalypso_sdk::slash_key(
            self.provisioned.deployment.chain_id,
            restaking.pool,
            slash_id,
        );
        let started = tokio::time::Instant::now();
        while l1.slash(key).await?.status != L1SlashStatus::Requested {
            anyhow::ensure!(
                started.elapsed() < timeout,
                "restaked slash {slash_id} was not requested on the L1 within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for (vault, index, _) in l1.slash_parts(key).await? {
            let slasher = restaking
                .l1
                .vaults
                .iter()
                .find(|v| v.vault == vault)
                .with_context(|| format!("vault {vault} is not one of the devnet's"))?
                .slasher;
            l1::veto(&resolver, slasher, index).await?;
        }
        Ok(())
    }

    /// Stops every service, then the chains.
    pub async fn shutdown(mut self) {
        self.watcher.abort();
        self.services.shutdown(Duration::from_secs(10)).await;
        if let Some(anvil) = &self.anvil {
            anvil.lock().await.stop().await;
        }
        if let Some(l1) = self.l1.as_mut() {
            l1.anvil.stop().await;
        }
    }
}

/// The last `lines` lines of a log file.
pub fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
