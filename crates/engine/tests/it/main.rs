//! The matching engine against the real contracts on a fresh anvil per test: preference-following matching, an
//! unmatchable ask that blocks nothing, restarts that lose and duplicate nothing, reorg rollback, the API, the
//! keeper (missed deadlines slashed once and re-matched), and the matching audit.

mod api;
mod audit;
mod confidential;
mod keeper;
mod matching;
mod recovery;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use kalypso_contracts::TestToken;
use kalypso_engine::{Engine, EngineConfig};
use kalypso_primitives::Preference;
use kalypso_sdk::{
    AskParams, DeployConfig, Deployment, Kalypso, ProtocolEvent, Quote, SampleMarket,
};
use kalypso_test_utils::{Chain, Groth16Fixture};
use std::{
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};
use tokio::{sync::oneshot, task::JoinHandle};

const MARKET: u64 = 1;

/// `n` staking tokens (18 decimals).
fn pond(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A deployed protocol with the sample Groth16 market and anvil accounts: 0 admin, 1 Matching Engine key,
/// 2 requester, 3.. generators.
struct Env {
    chain: Chain,
    provider: DynProvider,
    deployment: Deployment,
    fixture: Groth16Fixture,
    admin: Address,
    me: PrivateKeySigner,
    requester: Address,
    dir: PathBuf,
}

/// An engine running in this process.
struct Running {
    api: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<kalypso_engine::Result<()>>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// Graceful stop (Ctrl-C).
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.await.expect("engine task").expect("engine run");
    }

    /// Abrupt stop at whatever await point the engine is in (the closest to kill -9 in-process).
    async fn kill(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }

    /// The value of the metric `kalypso_engine_<name>` (a counter's `_total` included in `name`).
    async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        let text = text.as_str().expect("metrics are text");
        let prefix = format!("kalypso_engine_{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} missing in\n{text}"))
    }

    /// `method path` through reqwest, the whole answer kept.
    async fn request(&self, method: &str, path: &str) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = reqwest::Client::new()
            .request(method, self.url(path))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
            .collect();
        let body = resp.text().await.expect("body");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `request` (a request line, then headers; `Connection: close` is added) written as bytes on a fresh
    /// connection, for what an HTTP client will not send: bytes that are not ASCII in the target, a target
    /// longer than hyper parses.
    async fn raw(&self, request: &[u8]) -> Answer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(self.api)
            .await
            .expect("connect");
        conn.write_all(request).await.expect("write");
        conn.write_all(b"\r\nHost: engine\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut out = Vec::new();
        conn.read_to_end(&mut out).await.expect("read");
        let out = String::from_utf8(out).expect("the answer is UTF-8");
        let (head, body) = out.split_once("\r\n\r\n").expect("a head");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = reqwest::get(self.url(path)).await.expect("GET");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }
}

/// An HTTP answer: status, headers (names in lower case), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The message of an error answer, after checking it is the API's error shape: JSON `{"error": "..."}` and
    /// nothing else, with a JSON content type.
    fn error(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let body = self.json();
        let fields = body.as_object().expect("an object");
        assert_eq!(fields.len(), 1, "{self:?}");
        fields["error"].as_str().expect("a string error").to_owned()
    }
}

impl Env {
    async fn new() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let chain = Chain::spawn();
        let accounts: Vec<PrivateKeySigner> = (0..10).map(|i| chain.account(i)).collect();
        let provider = Self::wallet_provider(&chain);
        let fixture = Groth16Fixture::load();
        let admin = accounts[0].address();
        let me = accounts[1].clone();
        let config = DeployConfig {
            matching_engine_key: Some(Bytes::copy_from_slice(me.public_key().as_slice())),
            sample_market: Some(SampleMarket::groth16(
                fixture.vk.clone(),
                fixture.num_inputs,
                fixture.inputs.clone(),
                fixture.proof.clone(),
            )),
            ..DeployConfig::devnet(admin)
        };
        let deployment = kalypso_sdk::deploy(&provider, config)
            .await
            .expect("deploy");
        let dir = std::env::temp_dir().join(format!(
            "kalypso-engine-it-{}-{}",
            std::process::id(),
            chain.anvil.port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self {
            chain,
            provider,
            deployment,
            fixture,
            admin,
            me,
            requester: accounts[2].address(),
            dir,
        }
    }

    /// One provider signing for every account but the Matching Engine's (one nonce cache per account). A new
    /// one is needed after the chain went back in time: the cache would hand out nonces that are too high.
    fn wallet_provider(chain: &Chain) -> DynProvider {
        let mut wallet = EthereumWallet::new(chain.account(0));
        for i in 2..10 {
            wallet.register_signer(chain.account(i));
        }
        ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(chain.anvil.endpoint_url())
            .erased()
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

    /// Generator `i` (anvil account 3 + i): registered with `compute` units and enough stake for that many
    /// tasks (10 tokens locked per task, 20 minimum), in the market.
    async fn generator(&self, i: usize, compute: u64, price: u64, time: u64) -> Address {
        let g = self.chain.account(3 + i).address();
        let stake = pond(20 + 10 * compute);
        self.mint(self.deployment.staking_token, g, stake).await;
        let c = self.client(g);
        c.register(g, compute, Bytes::from_static(b"test box"))
            .await
            .expect("register");
        c.stake(stake).await.expect("stake");
        c.join_market(
            MARKET,
            Quote {
                price_per_proof: U256::from(price),
                max_proof_time: time,
                compute_per_proof: 1,
            },
        )
        .await
        .expect("join");
        g
    }

    async fn now(&self) -> u64 {
        self.client(self.admin)
            .block_timestamp()
            .await
            .expect("timestamp")
    }

    /// Creates an ask with the fixture's inputs.
    async fn ask(&self, reward: u64, deadline_in: u64, preference: Preference) -> u64 {
        let requester = self.client(self.requester);
        self.mint(
            self.deployment.payment_token,
            self.requester,
            U256::from(reward) * U256::from(2u64),
        )
        .await;
        let deadline = self.now().await + deadline_in;
        let mut params = AskParams::new(
            MARKET,
            U256::from(reward),
            deadline,
            self.fixture.inputs.clone(),
        );
        params.preference = preference;
        requester.create_ask(params).await.expect("create ask").0
    }

    fn engine_config(&self, db: &str) -> EngineConfig {
        let relayer = self.me.clone();
        let mut config = EngineConfig::new(
            self.chain.anvil.endpoint(),
            self.deployment.clone(),
            relayer,
            self.me.clone(),
            self.dir.join(db),
        );
        config.ws_url = Some(self.chain.anvil.ws_endpoint());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.poll_interval = Duration::from_millis(100);
        config
    }

    async fn start(&self, config: EngineConfig) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let (listening, bound) = oneshot::channel();
        let handle = tokio::spawn(Engine::run(
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
            .expect("engine listens within 30 s")
            .expect("engine started");
        Running {
            api,
            stop: Some(stop),
            handle,
        }
    }

    /// The generator an ask is assigned to (on chain), if any.
    async fn assigned_to(&self, ask: u64) -> Option<Address> {
        self.client(self.admin)
            .ask(ask)
            .await
            .expect("ask")
            .task
            .map(|t| t.generator)
    }

    /// Every `TaskAssigned` and `AssignmentSkipped` on chain: (ask, generator) and (ask, reason).
    async fn assignment_events(&self) -> (Vec<(u64, Address)>, Vec<(u64, u8)>) {
        use kalypso_sdk::contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents as M;
        let head = self.provider.get_block_number().await.expect("head");
        let events = self
            .client(self.admin)
            .events(0..=head)
            .await
            .expect("events");
        let mut assigned = Vec::new();
        let mut skipped = Vec::new();
        for e in events {
            match e.event {
                ProtocolEvent::Marketplace(M::TaskAssigned(t)) => {
                    assigned.push((t.askId.to::<u64>(), t.generator));
                }
                ProtocolEvent::Marketplace(M::AssignmentSkipped(s)) => {
                    skipped.push((s.askId.to::<u64>(), s.reason));
                }
                _ => {}
            }
        }
        (assigned, skipped)
    }
}

impl Env {
    /// An anvil RPC call that answers something we ignore.
    async fn anvil(&self, method: &'static str, params: serde_json::Value) {
        let _: serde_json::Value = self
            .provider
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
    }

    /// Moves the chain clock forward by `seconds` and mines a block at the new time.
    async fn advance(&self, seconds: u64) {
        self.anvil("evm_increaseTime", serde_json::json!([seconds]))
            .await;
        self.anvil("evm_mine", serde_json::json!([])).await;
    }

    /// Every `TaskSlashed` on chain with its block number.
    async fn slashes(
        &self,
    ) -> Vec<(
        u64,
        kalypso_sdk::contracts::marketplace::ProofMarketplace::TaskSlashed,
    )> {
        use kalypso_sdk::contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents as M;
        let head = self.provider.get_block_number().await.expect("head");
        let events = self
            .client(self.admin)
            .events(0..=head)
            .await
            .expect("events");
        events
            .into_iter()
            .filter_map(|e| match e.event {
                ProtocolEvent::Marketplace(M::TaskSlashed(s)) => Some((e.block_number, s)),
                _ => None,
            })
            .collect()
    }

    /// Waits until the engine has indexed the chain's head.
    async fn indexed_head(&self, engine: &Running) {
        let head = self.provider.get_block_number().await.expect("head");
        eventually(
            "the engine at the head",
            Duration::from_secs(20),
            || async {
                let (_, health) = engine.get("/health").await;
                (health["indexedBlock"].as_u64() >= Some(head)).then_some(())
            },
        )
        .await;
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
