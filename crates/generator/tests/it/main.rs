//! The generator node and the IVS against the real contracts on a fresh anvil per test, with real Groth16
//! proofs verified on-chain: a task proven and accepted, invalid inputs settled through an IVS on a loopback
//! port, a restart between proving and submitting, discards before a deadline that cannot be met, fee bumps of
//! a submission held in the mempool (also across a restart), new heads over a websocket, and asks taken by
//! fallback self-assignment when no Matching Engine assigns them.

mod confidential;
mod deadline;
mod fallback;
mod fees;
mod heads;
mod ivs;
mod prove;
mod restart;
mod tee;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use kalypso_contracts::TestToken;
use kalypso_generator::{Node, NodeConfig, store::TaskState};
use kalypso_primitives::{AskState, eip712};
use kalypso_provers::{CircuitSpec, Prover, setup};
use kalypso_sdk::{AskParams, DeployConfig, Deployment, Kalypso, MarketParams, Quote};
use kalypso_test_utils::Chain;
use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{sync::oneshot, task::JoinHandle};

/// `n` staking tokens (18 decimals).
fn pond(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// Slashing penalty of the test markets, in staking tokens.
const PENALTY: u64 = 10;

/// A deployed protocol and anvil accounts: 0 admin (market creator), 1 Matching Engine key, 2 requester,
/// 3 generator, 4 IVS key.
struct Env {
    chain: Chain,
    /// Signs for the admin, the Matching Engine, the requester and (before a node runs) the generator.
    provider: DynProvider,
    deployment: Deployment,
    admin: Address,
    me: Address,
    requester: Address,
    generator: PrivateKeySigner,
    ivs_key: PrivateKeySigner,
    dir: tempfile::TempDir,
}

/// A node running in this process.
struct Running {
    api: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<kalypso_generator::Result<()>>,
}

impl Running {
    /// Graceful stop.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.await.expect("node task").expect("node run");
    }

    /// Abrupt stop at whatever await point the node is in (the closest to kill -9 in-process).
    async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(format!("http://{}{path}", self.api))
            .await
            .expect("GET");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// The node's record of a task (`/v1/tasks/{ask}`), if it has one.
    async fn task(&self, ask: u64) -> Option<serde_json::Value> {
        let (status, body) = self.get(&format!("/v1/tasks/{ask}")).await;
        (status == 200).then(|| serde_json::from_str(&body).expect("task JSON"))
    }

    /// A counter or gauge of `/metrics` (`kalypso_generator_<name>`), or the sum of a histogram.
    async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        let prefix = format!("kalypso_generator_{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} missing in\n{text}"))
    }
}

impl Env {
    async fn new() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let chain = Chain::spawn();
        let mut wallet = EthereumWallet::new(chain.account(0));
        for i in 1..4 {
            wallet.register_signer(chain.account(i));
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(chain.anvil.endpoint_url())
            .erased();
        let admin = chain.account(0).address();
        let me = chain.account(1);
        let config = DeployConfig {
            matching_engine_key: Some(Bytes::copy_from_slice(me.public_key().as_slice())),
            ..DeployConfig::devnet(admin)
        };
        let deployment = kalypso_sdk::deploy(&provider, config)
            .await
            .expect("deploy");
        Self {
            provider,
            deployment,
            admin,
            me: me.address(),
            requester: chain.account(2).address(),
            generator: chain.account(3),
            ivs_key: chain.account(4),
            chain,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn client(&self, sender: Address) -> Kalypso<DynProvider> {
        Kalypso::new(self.provider.clone(), self.deployment.clone(), sender)
    }

    async fn mint(&self, token: Address, to: Address, amount: U256) {
        TestToken::new(token, &self.provider)
            .mint(to, amount)
            .from(self.admin)
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("mint receipt");
    }

    /// A public market for `spec` on a `Groth16Verifier` with the circuit's seeded (INSECURE) keys, without
    /// fallback self-assignment.
    async fn market(&self, spec: CircuitSpec) -> u64 {
        self.market_with_fallback(spec, 0).await
    }

    /// [`market`](Self::market) whose asks generators may take themselves after `fallback_delay` seconds.
    async fn market_with_fallback(&self, spec: CircuitSpec, fallback_delay: u64) -> u64 {
        let keys = setup::load_or_setup(None, spec, None).expect("keys");
        let a = keys.verifier_artifact();
        let (verifier, _) = self
            .client(self.admin)
            .deploy_groth16_verifier(
                a.vk.clone().into(),
                a.num_inputs as u64,
                a.inputs.clone().into(),
                a.proof.clone().into(),
            )
            .await
            .expect("deploy verifier");
        self.mint(
            self.deployment.payment_token,
            self.admin,
            U256::from(100_000_000u64),
        )
        .await;
        let (id, _) = self
            .client(self.admin)
            .create_market(MarketParams {
                verifier,
                slashing_penalty: pond(PENALTY),
                min_stake: pond(2 * PENALTY),
                fallback_delay,
                metadata: Bytes::from(
                    format!(r#"{{"name":"{spec}","kind":"groth16"}}"#).into_bytes(),
                ),
                ..MarketParams::default()
            })
            .await
            .expect("create market");
        id
    }

    /// Registers the generator with `compute` units and stake for that many tasks, in `market` with a quote
    /// of `max_proof_time` seconds and one compute unit per proof.
    async fn join(&self, market: u64, compute: u64, max_proof_time: u64) {
        let g = self.generator.address();
        let c = self.client(g);
        if c.generator(g, &[])
            .await
            .expect("generator")
            .registration
            .is_none()
        {
            let stake = pond(2 * PENALTY + PENALTY * compute);
            self.mint(self.deployment.staking_token, g, stake).await;
            c.register(g, compute, Bytes::from_static(b"test box"))
                .await
                .expect("register");
            c.stake(stake).await.expect("stake");
        }
        c.join_market(
            market,
            Quote {
                price_per_proof: U256::from(1_000u64),
                max_proof_time,
                compute_per_proof: 1,
            },
        )
        .await
        .expect("join");
    }

    /// Creates an ask for `inputs` (reward 5 tUSDC, deadline in an hour).
    async fn create_ask(&self, market: u64, inputs: Vec<u8>) -> u64 {
        let reward = U256::from(5_000_000u64);
        self.mint(self.deployment.payment_token, self.requester, reward)
            .await;
        let deadline = self.now().await + 3600;
        self.client(self.requester)
            .create_ask(AskParams::new(market, reward, deadline, inputs.into()))
            .await
            .expect("create ask")
            .0
    }

    /// Assigns `ask` to the generator directly with the Matching Engine key; returns the task deadline.
    async fn assign(&self, ask: u64) -> u64 {
        let (assigned, _) = self
            .client(self.me)
            .assign_task(&eip712::Assignment {
                askId: U256::from(ask),
                generator: self.generator.address(),
                maxPrice: U256::MAX,
                maxProofTime: U256::from(3600u64),
                acl: Bytes::new(),
            })
            .await
            .expect("assign");
        assigned.taskDeadline.to::<u64>()
    }

    /// An ask for `inputs` assigned to the generator; returns the ask id and its task deadline.
    async fn assigned_ask(&self, market: u64, inputs: Vec<u8>) -> (u64, u64) {
        let ask = self.create_ask(market, inputs).await;
        (ask, self.assign(ask).await)
    }

    async fn now(&self) -> u64 {
        self.client(self.admin)
            .block_timestamp()
            .await
            .expect("timestamp")
    }

    async fn ask_state(&self, ask: u64) -> AskState {
        self.client(self.admin).ask(ask).await.expect("ask").state
    }

    /// Transactions the generator account has sent.
    async fn generator_nonce(&self) -> u64 {
        self.provider
            .get_transaction_count(self.generator.address())
            .await
            .expect("nonce")
    }

    fn db(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A node of the generator serving `market` with `prover`, polling every 100 ms, with a 2 s submit margin
    /// and its status API on a free loopback port.
    fn node_config(&self, market: u64, prover: Arc<dyn Prover>, db: &str) -> NodeConfig {
        let mut config = NodeConfig::new(
            self.chain.anvil.endpoint(),
            self.generator.clone(),
            self.deployment.clone(),
            BTreeMap::from([(market, prover)]),
            self.db(db),
        );
        config.poll_interval = Duration::from_millis(100);
        config.submit_margin = Duration::from_secs(2);
        config.max_backoff = Duration::from_millis(500);
        config.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config
    }

    async fn start(&self, config: NodeConfig) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let (listening, bound) = oneshot::channel();
        let handle = tokio::spawn(Node::run(
            config,
            async {
                let _ = stopped.await;
            },
            move |addr| {
                let _ = listening.send(addr);
            },
        ));
        let api = tokio::time::timeout(Duration::from_secs(30), bound)
            .await
            .expect("node listens within 30 s")
            .expect("node started");
        Running {
            api,
            stop: Some(stop),
            handle,
        }
    }

    /// Waits until the node's record of `ask` is in `state`; returns the record.
    async fn task_in(&self, node: &Running, ask: u64, state: TaskState) -> serde_json::Value {
        eventually(
            &format!("task {ask} {state}"),
            Duration::from_secs(60),
            || async {
                node.task(ask)
                    .await
                    .filter(|t| t["state"] == state.as_str())
            },
        )
        .await
    }
}

/// `(latest, pending)` transaction counts of the generator.
async fn counts(env: &Env) -> (u64, u64) {
    let g = env.generator.address();
    let latest = env
        .provider
        .get_transaction_count(g)
        .latest()
        .await
        .expect("latest");
    let pending = env
        .provider
        .get_transaction_count(g)
        .pending()
        .await
        .expect("pending");
    (latest, pending)
}

async fn anvil(env: &Env, method: &'static str, params: serde_json::Value) {
    env.provider
        .raw_request::<_, serde_json::Value>(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
}

/// Polls `check` until it returns `Some`, or panics after `timeout` naming `what`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
