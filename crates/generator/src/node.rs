//! The node's main loop: scan the chain for this generator's `TaskAssigned` logs from a durable cursor, record
//! them, and run one driver per unfinished task (see `task.rs`) with a bounded number of proofs at once; with
//! fallback self-assignment on, the same scan follows the open asks of the served markets and the node takes
//! those left unassigned past the market's fallback delay (see `fallback.rs`); the status API beside it.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder, fillers::CachedNonceManager},
    rpc::{client::RpcClient, types::Filter},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use kalypso_confidential::SecretKey;
use kalypso_provers::{Prover, ProverKind};
use kalypso_sdk::{
    BumpPolicy, Deployment, HeadWatcher, Kalypso, MarketId, VerifierKind,
    contracts::marketplace::ProofMarketplace::TaskAssigned,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};
use tokio::{
    sync::{Notify, Semaphore},
    task::JoinSet,
};
use tracing::{debug, info, warn};

use crate::{
    Error, Result,
    fallback::{self, Fallback, MarketTerms},
    ivs::IvsClient,
    metrics::Metrics,
    store::{Recorded, Store, TaskRecord, quantile},
    task,
};

/// Everything the node needs to run. [`NodeConfig::new`] gives defaults for the tuning fields.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// HTTP JSON-RPC endpoint.
    pub rpc_url: String,
    /// Websocket endpoint (`ws://` or `wss://`) whose new heads wake the scan at once; the poll timer stays as
    /// the fallback. None: poll only.
    pub ws_url: Option<String>,
    /// The generator's key: its address is the one tasks are assigned to; it sends proofs and discards.
    pub signer: PrivateKeySigner,
    /// The protocol's addresses.
    pub deployment: Deployment,
    /// The prover of each market the node serves (assignments in other markets are not looked at).
    pub provers: BTreeMap<MarketId, Arc<dyn Prover>>,
    /// SQLite database of the node's tasks (created when missing; tied to one deployment and generator).
    pub db_path: PathBuf,
    /// Base URL of the IVS of the served markets; without it (and without an entry in `ivs_urls`), tasks
    /// with invalid inputs are discarded.
    pub ivs_url: Option<String>,
    /// The IVS of a market, where it is not `ivs_url` (an IVS serves one market).
    pub ivs_urls: BTreeMap<MarketId, String>,
    /// The enclave key registered for the node's confidential markets: it opens the data keys the Matching
    /// Engine re-wraps to it, and signs the proofs of TEE markets (`TeeProof`). Required when a served market is
    /// confidential or has a `TeeVerifier`. Stays in this process (in production, the enclave); never logged.
    pub enclave_key: Option<SecretKey>,
    /// Proofs at once; default: the generator's declared compute over the largest compute per proof of its
    /// markets (what the registry lets the matching engine assign at once).
    pub max_parallel: Option<usize>,
    /// How often to look for new blocks.
    pub poll_interval: Duration,
    /// Address of the status API (`/health`, `/metrics`, `/v1/tasks`); none: no API.
    pub listen: Option<SocketAddr>,
    /// Expected proving time; default: the p90 of this node's latest proofs of the market (none before the
    /// first proof).
    pub proof_time_estimate: Option<Duration>,
    /// Time kept for landing a transaction before the task deadline: a task whose proof cannot be ready by
    /// `taskDeadline - submit_margin` is discarded.
    pub submit_margin: Duration,
    /// Block to scan from when the database is new [default: the deployment block].
    pub from_block: Option<u64>,
    /// Blocks per `eth_getLogs` request.
    pub log_page_blocks: u64,
    /// Blocks behind the cursor scanned again on every poll, so an assignment moved by a shallow reorg is
    /// still seen.
    pub rescan_blocks: u64,
    /// Longest wait between retries of a failed step.
    pub max_backoff: Duration,
    /// How long to wait for a transaction's receipt before the attempt counts as failed; the transaction stays
    /// recorded and the next attempt follows it rather than sending another.
    pub receipt_timeout: Duration,
    /// Re-send a transaction under the same nonce with fees 25% higher after this long without a receipt.
    pub bump_after: Duration,
    /// Highest max fee per gas (wei) a transaction is sent or re-sent with; none: no cap.
    pub max_fee_per_gas: Option<u128>,
    /// Take asks of the served (public) markets left unassigned past the market's fallback delay
    /// (`selfAssign`, at the node's own quote) when they fit its quote and free capacity: asks are still proven
    /// while the Matching Engine is down.
    pub self_assign: bool,
}

/// Default [`NodeConfig::max_fee_per_gas`]: 200 gwei.
pub const DEFAULT_MAX_FEE_PER_GAS: u128 = 200_000_000_000;

impl NodeConfig {
    /// Defaults for everything but the endpoint, key, deployment, provers and database: no websocket, 1 s
    /// polls, a 15 s submit margin, 2 000-block log pages, an 8-block rescan, 30 s backoff cap, 120 s receipt
    /// timeout, fee bumps after 30 s up to [`DEFAULT_MAX_FEE_PER_GAS`], fallback self-assignment on.
    pub fn new(
        rpc_url: String,
        signer: PrivateKeySigner,
        deployment: Deployment,
        provers: BTreeMap<MarketId, Arc<dyn Prover>>,
        db_path: PathBuf,
    ) -> Self {
        Self {
            rpc_url,
            ws_url: None,
            signer,
            deployment,
            provers,
            db_path,
            ivs_url: None,
            ivs_urls: BTreeMap::new(),
            enclave_key: None,
            max_parallel: None,
            poll_interval: Duration::from_secs(1),
            listen: None,
            proof_time_estimate: None,
            submit_margin: Duration::from_secs(15),
            from_block: None,
            log_page_blocks: 2_000,
            rescan_blocks: 8,
            max_backoff: Duration::from_secs(30),
            receipt_timeout: Duration::from_secs(120),
            bump_after: Duration::from_secs(30),
            max_fee_per_gas: Some(DEFAULT_MAX_FEE_PER_GAS),
            self_assign: true,
        }
    }

    /// How the node's transactions are re-sent while they linger.
    pub(crate) fn bump_policy(&self) -> BumpPolicy {
        BumpPolicy {
            bump_after: self.bump_after,
            max_fee_per_gas: self.max_fee_per_gas,
            poll_interval: receipt_poll(self.poll_interval),
        }
    }
}

/// How often to look for a receipt: the poll interval, at most every 250 ms (alloy's default for a remote
/// endpoint is 7 s, which would dominate the time from proof to settlement on a fast chain).
fn receipt_poll(poll: Duration) -> Duration {
    poll.min(Duration::from_millis(250))
}

/// What the node reports about itself (`/health`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The generator.
    pub generator: Address,
    /// Chain id.
    pub chain_id: u64,
    /// Markets served.
    pub markets: Vec<MarketId>,
    /// Proofs at once.
    pub max_parallel: usize,
    /// Chain head at the last scan.
    pub head_block: u64,
    /// Latest block scanned for assignments.
    pub scanned_block: u64,
    /// Tasks in progress.
    pub active_tasks: usize,
    /// Whether the new-head subscription is live; none without a websocket URL.
    pub ws_subscribed: Option<bool>,
    /// The last scan's error, if it failed.
    pub last_error: Option<String>,
}

/// A running generator node: shared by the main loop, the task drivers and the status API.
#[derive(Debug)]
pub struct Node {
    pub(crate) config: NodeConfig,
    pub(crate) store: Arc<Store>,
    pub(crate) metrics: Metrics,
    pub(crate) me: Address,
    pub(crate) permits: Arc<Semaphore>,
    /// Proofs at once (the permits' number).
    pub(crate) max_parallel: usize,
    pub(crate) ivs: Option<IvsClient>,
    /// Per-market IVSs (`NodeConfig::ivs_urls`).
    pub(crate) ivs_by_market: BTreeMap<MarketId, IvsClient>,
    /// Fallback self-assignment: the markets it applies to and the claims in flight.
    pub(crate) fallback: Fallback,
    /// The served markets with secret inputs (their tasks are opened with the enclave key).
    pub(crate) confidential: BTreeSet<MarketId>,
    /// The served TEE markets and their `TeeVerifier`s: the enclave key signs their proofs.
    pub(crate) tee: BTreeMap<MarketId, Address>,
    url: reqwest::Url,
    client: RwLock<Kalypso<DynProvider>>,
    running: Mutex<HashSet<u64>>,
    status: RwLock<Status>,
    /// Woken by every new head of the websocket subscription, and by a won self-assignment.
    pub(crate) wake: Arc<Notify>,
    /// The new-head subscription, when a websocket URL is configured; stops with the node.
    heads: Option<HeadWatcher>,
}

impl Node {
    /// Runs the node until `shutdown` resolves: opens the store, resumes its unfinished tasks, serves the status
    /// API when configured (its address goes to `on_listen`), and follows the chain. Dropping the future stops
    /// everything at once; every step of a task is safe to repeat, so a restart picks up where it stopped.
    pub async fn run(
        config: NodeConfig,
        shutdown: impl Future<Output = ()> + Send,
        on_listen: impl FnOnce(SocketAddr) + Send,
    ) -> Result<()> {
        let node = Arc::new(Self::start(config).await?);
        let mut api = None;
        if let Some(listen) = node.config.listen {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let addr = listener.local_addr()?;
            on_listen(addr);
            info!(target: "kalypso::generator", %addr, "status API listening (/health, /metrics, /v1/tasks)");
            let app = router(node.clone());
            api = Some(AbortOnDrop(tokio::spawn(async move {
                axum::serve(listener, app).await
            })));
        }

        let mut drivers = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut next = node.first_block()?;
        loop {
            match node.scan(&mut next).await {
                Ok(()) => node.set_status(|s| s.last_error = None),
                Err(e) => {
                    warn!(target: "kalypso::generator", %e, "scan failed; retrying");
                    node.set_status(|s| s.last_error = Some(e.to_string()));
                }
            }
            while drivers.try_join_next().is_some() {}
            match node.store.active() {
                Ok(active) => {
                    node.metrics.tasks_active.set(active.len() as i64);
                    node.set_status(|s| s.active_tasks = active.len());
                    for ask in active {
                        node.dispatch(&mut drivers, ask);
                    }
                }
                Err(e) => warn!(target: "kalypso::generator", %e, "cannot read the tasks"),
            }
            if node.fallback.enabled()
                && let Err(e) = fallback::step(&node, &mut drivers).await
            {
                warn!(target: "kalypso::generator::fallback", %e, "cannot look for asks to self-assign");
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = node.wake.notified() => {}
                () = tokio::time::sleep(node.config.poll_interval) => {}
            }
        }
        info!(target: "kalypso::generator", "shutting down; unfinished tasks resume on restart");
        drivers.shutdown().await;
        drop(api);
        Ok(())
    }

    async fn start(config: NodeConfig) -> Result<Self> {
        if config.provers.is_empty() {
            return Err(Error::Config("no market to serve".into()));
        }
        let url: reqwest::Url = config
            .rpc_url
            .parse()
            .map_err(|e| Error::Config(format!("RPC URL {}: {e}", config.rpc_url)))?;
        if config
            .ws_url
            .as_deref()
            .is_some_and(|ws| !kalypso_sdk::is_ws_url(ws))
        {
            return Err(Error::Config(
                "the websocket URL must start with ws:// or wss://".into(),
            ));
        }
        if config.bump_after.is_zero() {
            return Err(Error::Config("bump_after must be positive".into()));
        }
        let me = config.signer.address();
        let d = config.deployment.clone();
        let nonces = CachedNonceManager::default();
        let provider = build_provider(&url, &config.signer, config.poll_interval, &nonces);
        let client = Kalypso::connect(provider, d.clone(), me)
            .await?
            .with_receipt_timeout(Some(config.receipt_timeout))
            .with_nonce_manager(nonces);
        let markets: Vec<MarketId> = config.provers.keys().copied().collect();
        let mut fallback = Fallback::default();
        let mut confidential = BTreeSet::new();
        let mut tee = BTreeMap::new();
        for &market in &markets {
            let info = client.market(market).await?;
            let Some(kind) = client.verifier_kind(info.verifier).await? else {
                return Err(Error::Config(format!(
                    "market {market}'s verifier {} was not deployed by this deployment's verifier factory: this \
                     node cannot tell what its proofs are",
                    info.verifier
                )));
            };
            if let VerifierKind::Tee { image_id } = kind {
                let Some(key) = &config.enclave_key else {
                    return Err(Error::Config(format!(
                        "market {market}'s verifier is a TeeVerifier: its proofs are signatures of an enclave key \
                         attested for image {image_id} (--enclave-key-file)"
                    )));
                };
                let attested = client.enclave_image_of(key.public_key().address()).await?;
                if attested != image_id {
                    return Err(Error::Config(format!(
                        "market {market}'s TeeVerifier accepts enclave keys attested for image {image_id}, and the \
                         configured enclave key {} is attested for {}: its proofs would not verify (register it \
                         with an attestation for that image: `kalypso keys register-enclave`)",
                        key.public_key().address(),
                        if attested.is_zero() {
                            "none".to_owned()
                        } else {
                            attested.to_string()
                        }
                    )));
                }
                if config.provers[&market].describe().kind == ProverKind::Webhook {
                    return Err(Error::Config(format!(
                        "market {market} is a TEE market: the enclave signs what its prover outputs, so the prover \
                         runs inside the enclave (in-process or a command), not behind a webhook"
                    )));
                }
                // A TeeVerifier takes any inputs (only the program can judge them): invalid ones are settled
                // through the IVS, else the task would be discarded at the generator's cost.
                if config
                    .ivs_urls
                    .get(&market)
                    .or(config.ivs_url.as_ref())
                    .is_none()
                {
                    return Err(Error::Config(format!(
                        "market {market} is a TEE market: its verifier accepts any inputs, so invalid ones are \
                         settled only through the market's IVS (--ivs-url), else the task would be discarded at \
                         the generator's cost"
                    )));
                }
                info!(target: "kalypso::generator", market, verifier = %info.verifier, %image_id, "TEE market: proofs are signed by the enclave key");
                tee.insert(market, info.verifier);
            }
            if info.confidential {
                let Some(key) = &config.enclave_key else {
                    return Err(Error::Config(format!(
                        "market {market} is confidential: its asks' secrets open only with the enclave key \
                         registered for it (--enclave-key-file)"
                    )));
                };
                if config
                    .ivs_urls
                    .get(&market)
                    .or(config.ivs_url.as_ref())
                    .is_none()
                {
                    return Err(Error::Config(format!(
                        "market {market} is confidential: a secret the circuit rejects is settled only through \
                         the market's IVS (--ivs-url), else the task would be discarded at the generator's cost"
                    )));
                }
                let prover = &config.provers[&market];
                if prover.describe().kind == ProverKind::Webhook {
                    return Err(Error::Config(format!(
                        "market {market} is confidential: a webhook backend would send its secrets out of the \
                         enclave; prove in-process or with a command backend inside the enclave"
                    )));
                }
                match client.generator_key(market, me).await? {
                    Some(registered) if registered == key.public_key() => {}
                    Some(registered) => {
                        return Err(Error::Config(format!(
                            "the enclave key registered for market {market} ({}) is not the configured one ({}): \
                             its tasks would not open; register this key (`kalypso keys register-enclave`) or \
                             configure the registered one",
                            registered.address(),
                            key.public_key().address()
                        )));
                    }
                    None => warn!(
                        target: "kalypso::generator",
                        market,
                        "no enclave key registered for this confidential market: no task will be assigned \
                         (`kalypso keys register-enclave`)"
                    ),
                }
                confidential.insert(market);
            }
            if !config.self_assign {
                continue;
            }
            match MarketTerms::of(&info) {
                Some(terms) => {
                    fallback.markets.insert(market, terms);
                }
                None => {
                    info!(target: "kalypso::generator", market, "the market has no fallback (confidential or a zero delay): only the Matching Engine assigns its asks")
                }
            }
        }
        let info = client.generator(me, &markets).await?;
        for (market, quote) in &info.quotes {
            let Some(q) = quote else { continue };
            let needed = config.proof_time_estimate.unwrap_or_default() + config.submit_margin;
            if Duration::from_secs(q.max_proof_time) < needed {
                warn!(
                    target: "kalypso::generator",
                    market,
                    max_proof_time_s = q.max_proof_time,
                    needed_s = needed.as_secs_f64(),
                    "the quote's maxProofTime is below the expected proving time + submit margin: tasks of this \
                     market will be discarded; raise it with `kalypso generator update`"
                );
            }
        }
        let derived = match &info.registration {
            None => {
                warn!(target: "kalypso::generator", generator = %me, "not registered: no task will be assigned");
                1
            }
            Some(r) => {
                let per_proof = info
                    .quotes
                    .iter()
                    .filter_map(|(market, quote)| {
                        if quote.is_none() {
                            warn!(target: "kalypso::generator", market, "not joined: no task of this market will be assigned");
                        }
                        quote.map(|q| q.compute_per_proof)
                    })
                    .max()
                    .unwrap_or(1)
                    .max(1);
                usize::try_from(r.declared_compute / per_proof).unwrap_or(usize::MAX)
            }
        };
        let max_parallel = config.max_parallel.unwrap_or(derived).max(1);
        let store = Arc::new(Store::open(&config.db_path, d.chain_id, d.marketplace, me)?);
        let ivs = config
            .ivs_url
            .as_deref()
            .map(|u| IvsClient::new(u, Duration::from_secs(60)))
            .transpose()
            .map_err(|e| Error::Config(format!("IVS URL: {e}")))?;
        let ivs_by_market = config
            .ivs_urls
            .iter()
            .map(|(market, url)| {
                IvsClient::new(url, Duration::from_secs(60))
                    .map(|c| (*market, c))
                    .map_err(|e| Error::Config(format!("IVS URL of market {market}: {e}")))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        info!(
            target: "kalypso::generator",
            generator = %me,
            ?markets,
            max_parallel,
            ivs = config.ivs_url.as_deref().unwrap_or("none"),
            new_heads = if config.ws_url.is_some() { "websocket + poll" } else { "poll" },
            bump_after = ?config.bump_after,
            self_assign = ?fallback.markets.iter().map(|(m, t)| (*m, t.delay)).collect::<Vec<_>>(),
            max_fee_per_gas = ?config.max_fee_per_gas,
            db = %config.db_path.display(),
            "generator node starting"
        );
        let status = Status {
            generator: me,
            chain_id: d.chain_id,
            markets,
            max_parallel,
            ..Status::default()
        };
        let wake = Arc::new(Notify::new());
        let heads = config
            .ws_url
            .as_ref()
            .map(|ws| HeadWatcher::spawn(ws.clone(), wake.clone()));
        Ok(Self {
            wake,
            heads,
            store,
            metrics: Metrics::new(),
            me,
            permits: Arc::new(Semaphore::new(max_parallel)),
            max_parallel,
            ivs,
            ivs_by_market,
            fallback,
            confidential,
            tee,
            url,
            client: RwLock::new(client),
            running: Mutex::new(HashSet::new()),
            status: RwLock::new(status),
            config,
        })
    }

    /// The IVS of `market`, if one is configured.
    pub(crate) fn ivs_for(&self, market: MarketId) -> Option<&IvsClient> {
        self.ivs_by_market.get(&market).or(self.ivs.as_ref())
    }

    /// The chain client (a clone; cheap).
    pub(crate) fn client(&self) -> Kalypso<DynProvider> {
        self.client
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the provider after a transaction could not be sent: its nonce cache may have handed out a nonce
    /// that never reached the chain, which would stall every later transaction of the account. A new provider
    /// and nonce manager read the account's nonce from the chain again (the pending count, so transactions in
    /// the mempool keep theirs).
    pub(crate) fn reset_client(&self) {
        let nonces = CachedNonceManager::default();
        let provider = build_provider(
            &self.url,
            &self.config.signer,
            self.config.poll_interval,
            &nonces,
        );
        let client = Kalypso::new(provider, self.config.deployment.clone(), self.me)
            .with_receipt_timeout(Some(self.config.receipt_timeout))
            .with_nonce_manager(nonces);
        *self
            .client
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = client;
        debug!(target: "kalypso::generator", "provider rebuilt (nonce cache reset)");
    }

    /// The prover of `market`.
    pub(crate) fn prover(&self, market: MarketId) -> Option<Arc<dyn Prover>> {
        self.config.provers.get(&market).cloned()
    }

    /// Expected proving time of a proof of `market`: the configured estimate, else the p90 of the latest 20
    /// proofs this node made for it, else zero.
    pub(crate) fn expected_proving(&self, market: MarketId) -> Duration {
        if let Some(estimate) = self.config.proof_time_estimate {
            return estimate;
        }
        self.store
            .recent_proving_ms(market, 20)
            .ok()
            .and_then(|times| quantile(&times, 0.9))
            .map_or(Duration::ZERO, Duration::from_millis)
    }

    /// The clock task deadlines are measured against: the latest block's timestamp, or the wall clock when it
    /// is ahead (the next block cannot be older than now).
    pub(crate) async fn chain_now(&self) -> kalypso_sdk::Result<u64> {
        let block = self.client().block_timestamp().await?;
        Ok(block.max(crate::unix_ms() / 1000))
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self
            .status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// The status.
    pub fn status(&self) -> Status {
        let mut status = self
            .status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        status.ws_subscribed = self.heads.as_ref().map(HeadWatcher::is_subscribed);
        status
    }

    fn first_block(&self) -> Result<u64> {
        Ok(match self.store.cursor()? {
            Some(cursor) => cursor + 1,
            None => self
                .config
                .from_block
                .unwrap_or(self.config.deployment.deploy_block),
        })
    }

    /// Records this generator's assignments from `*next` (minus the rescan window) to the head.
    async fn scan(&self, next: &mut u64) -> Result<()> {
        let client = self.client();
        let head = client.block_number().await?;
        self.set_status(|s| s.head_block = head);
        let floor = self
            .config
            .from_block
            .unwrap_or(self.config.deployment.deploy_block);
        let mut from = next.saturating_sub(self.config.rescan_blocks).max(floor);
        let markets: Vec<B256> = self
            .config
            .provers
            .keys()
            .map(|&m| B256::from(U256::from(m)))
            .collect();
        let page = self.config.log_page_blocks.max(1);
        let following = self.fallback.enabled();
        while from <= head {
            let to = from.saturating_add(page - 1).min(head);
            let marketplace = self.config.deployment.marketplace;
            let logs = if following {
                // Every assignment and creation in the served markets (to follow the open asks), plus the
                // events that re-open or refund an ask (not indexed by market), in chain order.
                let by_market = Filter::new()
                    .address(marketplace)
                    .event_signature(fallback::BY_MARKET.to_vec())
                    .topic2(markets.clone())
                    .from_block(from)
                    .to_block(to);
                let by_ask = Filter::new()
                    .address(marketplace)
                    .event_signature(fallback::BY_ASK.to_vec())
                    .from_block(from)
                    .to_block(to);
                let provider = client.provider();
                let mut logs = provider
                    .get_logs(&by_market)
                    .await
                    .map_err(kalypso_sdk::Error::from)?;
                logs.extend(
                    provider
                        .get_logs(&by_ask)
                        .await
                        .map_err(kalypso_sdk::Error::from)?,
                );
                logs.sort_by_key(|l| (l.block_number, l.log_index));
                logs
            } else {
                let filter = Filter::new()
                    .address(marketplace)
                    .event_signature(TaskAssigned::SIGNATURE_HASH)
                    .topic2(markets.clone())
                    .topic3(self.me.into_word())
                    .from_block(from)
                    .to_block(to);
                client
                    .provider()
                    .get_logs(&filter)
                    .await
                    .map_err(kalypso_sdk::Error::from)?
            };
            let mut times = HashMap::new();
            for log in &logs {
                let mine = log.topic0() == Some(&TaskAssigned::SIGNATURE_HASH)
                    && log.topics().get(3) == Some(&self.me.into_word());
                if mine {
                    let Ok(decoded) = log.log_decode::<TaskAssigned>() else {
                        warn!(target: "kalypso::generator", ?log, "undecodable TaskAssigned log");
                        continue;
                    };
                    self.record_task_assigned(&decoded.inner.data, log.block_number.unwrap_or(to))?;
                }
                if following {
                    fallback::apply(self, log, &mut times).await?;
                }
            }
            self.store.set_cursor(to)?;
            self.metrics.scanned_block.set(to as i64);
            self.set_status(|s| s.scanned_block = to);
            *next = to + 1;
            from = to + 1;
        }
        Ok(())
    }

    /// Records an assignment of this generator (from a scanned log or a won self-assignment) as a task.
    pub(crate) fn record_task_assigned(&self, e: &TaskAssigned, block: u64) -> Result<()> {
        let (Ok(ask), Ok(market), Ok(deadline)) = (
            u64::try_from(e.askId),
            u64::try_from(e.marketId),
            u64::try_from(e.taskDeadline),
        ) else {
            warn!(target: "kalypso::generator", ask = %e.askId, "TaskAssigned values out of range");
            return Ok(());
        };
        match self.store.record_assignment(ask, market, deadline, block)? {
            Recorded::Known => {}
            recorded => {
                self.metrics.tasks_seen.inc();
                info!(
                    target: "kalypso::generator",
                    ask_id = ask,
                    market,
                    task_deadline = deadline,
                    block,
                    reassigned = recorded == Recorded::Reassigned,
                    fallback = e.fallbackAssignment,
                    "task assigned"
                );
            }
        }
        Ok(())
    }

    /// Starts the driver of `ask` unless one runs.
    fn dispatch(self: &Arc<Self>, drivers: &mut JoinSet<()>, ask: u64) {
        let fresh = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ask);
        if !fresh {
            return;
        }
        let node = self.clone();
        drivers.spawn(async move {
            let _running = Running {
                node: node.clone(),
                ask,
            };
            task::drive(node, ask).await;
        });
    }
}

/// A provider signing with `signer` that polls for receipts every `poll`, at most every 250 ms, and takes
/// nonces from `nonces` (shared with the client's replaceable transactions, so both draw from one sequence).
fn build_provider(
    url: &reqwest::Url,
    signer: &PrivateKeySigner,
    poll: Duration,
    nonces: &CachedNonceManager,
) -> DynProvider {
    let client = RpcClient::new_http(url.clone()).with_poll_interval(receipt_poll(poll));
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_nonce_management(nonces.clone())
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_client(client)
        .erased()
}

/// Marks a task's driver as running for as long as it lives (also when it is aborted).
struct Running {
    node: Arc<Node>,
    ask: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.node
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.ask);
    }
}

/// A spawned task that ends with its owner.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---------------------------------------------------------------------------------------------------------
// Status API
// ---------------------------------------------------------------------------------------------------------

fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/tasks", get(tasks))
        .route("/v1/tasks/{ask}", get(one_task))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "no such route: /health, /metrics, /v1/tasks[/{askId}]" })),
            )
        })
        .with_state(node)
}

async fn health(State(node): State<Arc<Node>>) -> Json<serde_json::Value> {
    let s = node.status();
    let mut body = serde_json::to_value(&s).unwrap_or_default();
    body["status"] = json!(if s.last_error.is_some() {
        "degraded"
    } else {
        "ok"
    });
    Json(body)
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        node.metrics.render(),
    )
}

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
}

async fn tasks(
    State(node): State<Arc<Node>>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<TaskRecord>>, (StatusCode, Json<serde_json::Value>)> {
    node.store
        .tasks(page.limit.unwrap_or(100).min(1000))
        .map(Json)
        .map_err(|e| internal(&e))
}

async fn one_task(
    State(node): State<Arc<Node>>,
    Path(ask): Path<u64>,
) -> Result<Json<TaskRecord>, (StatusCode, Json<serde_json::Value>)> {
    match node.store.task(ask).map_err(|e| internal(&e))? {
        Some(t) => Ok(Json(t)),
        None => Err((
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no task for ask {ask}") })),
        )),
    }
}

fn internal(e: &Error) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "error": e.to_string() })),
    )
}
