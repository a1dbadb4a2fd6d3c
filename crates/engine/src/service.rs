//! The engine's main loop: index, settle batches, match, submit — woken by new heads (websocket) or a poll
//! timer — and the HTTP API beside it.

use alloy::{
    primitives::{B256, Bytes},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use kalypso_confidential::SecretKey;
use kalypso_matching::{AskId, Match};
use kalypso_sdk::Deployment;
use serde::Serialize;
use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tokio::sync::{Notify, broadcast};
use tracing::{debug, info, warn};

use crate::{
    Error, Result,
    confidential::{self, Refusal},
    indexer::{Indexer, IndexerConfig, Step},
    keeper::{Keeper, KeeperConfig},
    metrics::{EventLabel, Metrics, ReasonLabel},
    state::State,
    store::Store,
    submitter::{Settled, Submitter, SubmitterConfig},
};

/// Everything the engine needs to run.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// HTTP JSON-RPC endpoint (queries and transactions).
    pub rpc_url: String,
    /// Websocket endpoint for new-head notifications; without it the engine polls.
    pub ws_url: Option<String>,
    /// The protocol's addresses.
    pub deployment: Deployment,
    /// Sends the relay transactions (pays gas).
    pub relayer: PrivateKeySigner,
    /// The Matching Engine key registered in the EntityKeyRegistry; signs batches.
    pub signer: PrivateKeySigner,
    /// SQLite database.
    pub db_path: PathBuf,
    /// HTTP API address.
    pub listen: SocketAddr,
    /// Poll interval when no new-head notification arrives.
    pub poll_interval: Duration,
    /// Seconds added to the head's timestamp for the time an assignment is expected to be mined.
    pub inclusion_margin: u64,
    /// Indexer settings.
    pub indexer: IndexerConfig,
    /// Submitter settings.
    pub submitter: SubmitterConfig,
    /// The keeper (slashes missed deadlines); none without a keeper key.
    pub keeper: Option<KeeperConfig>,
}

impl EngineConfig {
    /// Defaults for everything but the endpoints, keys, deployment and database.
    pub fn new(
        rpc_url: String,
        deployment: Deployment,
        relayer: PrivateKeySigner,
        signer: PrivateKeySigner,
        db_path: PathBuf,
    ) -> Self {
        Self {
            rpc_url,
            ws_url: None,
            deployment,
            relayer,
            signer,
            db_path,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            poll_interval: Duration::from_millis(1000),
            inclusion_margin: 2,
            indexer: IndexerConfig::default(),
            submitter: SubmitterConfig::default(),
            keeper: None,
        }
    }
}

/// What the engine reports about itself (`/health`).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Chain id.
    pub chain_id: u64,
    /// Marketplace address.
    #[schema(value_type = String)]
    pub marketplace: alloy::primitives::Address,
    /// Address of the Matching Engine key.
    #[schema(value_type = String)]
    pub signer: alloy::primitives::Address,
    /// Chain head seen.
    pub head_block: u64,
    /// Head timestamp.
    pub head_timestamp: u64,
    /// Latest block indexed.
    pub indexed_block: u64,
    /// Whether the index reached the head.
    pub caught_up: bool,
    /// Relay transactions in flight.
    pub in_flight: usize,
    /// Address of the keeper account, when the engine runs a keeper.
    #[schema(value_type = Option<String>)]
    pub keeper: Option<alloy::primitives::Address>,
    /// Keeper transactions in flight.
    pub keeper_in_flight: usize,
    /// Events replayed from the store at start-up.
    pub replayed_events: u64,
    /// Time the start-up replay took (milliseconds).
    pub replay_ms: u64,
    /// Last error of the main loop, if the last round failed.
    pub last_error: Option<String>,
}

/// State shared between the main loop and the API.
#[derive(Debug)]
pub struct Engine {
    /// Derived state.
    pub state: RwLock<State>,
    /// The store.
    pub store: Arc<Store>,
    /// The deployment served (with the registry's restaking pools read at startup).
    pub deployment: Deployment,
    /// The registry's restaking pools, as read at startup.
    pub restaking_pools: Vec<kalypso_sdk::PoolState>,
    /// Metrics.
    pub metrics: Metrics,
    /// Live feed of indexed events (JSON lines) for websocket clients.
    pub feed: broadcast::Sender<String>,
    /// Status.
    pub status: RwLock<Status>,
}

impl Engine {
    /// Reads the derived state.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the status.
    pub fn status(&self) -> Status {
        self.status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_status(&self, f: impl FnOnce(&mut Status)) {
        f(&mut self
            .status
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Runs the engine until `shutdown` resolves: opens the store, replays it, resumes batches in flight, serves
    /// the API on `config.listen` and follows the chain. Returns the API's bound address through `on_listen`
    /// (useful with port 0).
    pub async fn run(
        config: EngineConfig,
        shutdown: impl Future<Output = ()> + Send,
        on_listen: impl FnOnce(SocketAddr) + Send,
    ) -> Result<()> {
        let url = config
            .rpc_url
            .parse()
            .map_err(|e| Error::Config(format!("--rpc-url {}: {e}", config.rpc_url)))?;
        let provider: DynProvider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(url)
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::Rpc(e.to_string()))?;
        let d = config.deployment.clone();
        if chain_id != d.chain_id {
            return Err(Error::Config(format!(
                "the RPC serves chain {chain_id}, the deployment is for chain {}",
                d.chain_id
            )));
        }
        let registered = kalypso_sdk::Kalypso::new(
            provider.clone(),
            d.clone(),
            alloy::primitives::Address::ZERO,
        )
        .matching_engine()
        .await
        .map_err(|e| Error::Rpc(format!("reading the Matching Engine key: {e}")))?;
        if registered != config.signer.address() {
            return Err(Error::Config(format!(
                "this engine signs as {}, but the key registry's Matching Engine is {registered}: register the \
                 engine's key (`kalypso keys set-matching-engine <pubkey>`) or pass the registered key",
                config.signer.address()
            )));
        }
        let mut keeper = match config.keeper.clone() {
            Some(k) => Some(start_keeper(&config, k).await?),
            None => None,
        };
        // The registry's restaking pools: their events are protocol events too. A pool set other than the one the
        // store was indexed with means events never fetched: re-index.
        let pools = restaking_pools(&provider, &d).await?;
        let mut d = d;
        d.restaking_pools = pools.iter().map(|p| p.pool).collect();
        let store = Arc::new(Store::open(&config.db_path, d.chain_id, d.marketplace)?);
        if store.ensure_restaking_pools(&d.restaking_pools)? {
            info!(target: "kalypso::engine", pools = d.restaking_pools.len(), "indexing the registry's restaking pools from the start");
        }
        let started = Instant::now();
        let state = replay(&store, &d, &pools)?;
        let replay_ms = started.elapsed().as_millis() as u64;
        info!(target: "kalypso::engine", events = state.events, replay_ms, "replayed the store");

        let (feed, _) = broadcast::channel(4096);
        let engine = Arc::new(Self {
            state: RwLock::new(state),
            store: store.clone(),
            deployment: d.clone(),
            restaking_pools: pools.clone(),
            metrics: Metrics::new(),
            feed,
            status: RwLock::new(Status {
                chain_id,
                marketplace: d.marketplace,
                signer: config.signer.address(),
                keeper: keeper.as_ref().map(Keeper::address),
                replayed_events: 0,
                replay_ms,
                ..Status::default()
            }),
        });
        engine.set_status(|s| s.replayed_events = engine.read().events);

        let mut submitter = Submitter::new(
            provider.clone(),
            config.relayer.clone(),
            config.signer.clone(),
            d.clone(),
            store.clone(),
            config.submitter,
        );
        let resumed = submitter.resume()?;
        let cursor_time = store.cursor()?.map_or(0, |c| c.timestamp);
        engine.restore(&resumed, cursor_time + config.inclusion_margin);

        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        on_listen(listener.local_addr()?);
        info!(target: "kalypso::engine", listen = %listener.local_addr()?, "API listening");
        let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let app = crate::api::router(engine.clone());
        let mut api = AbortOnDrop(tokio::spawn(async move {
            axum::serve(crate::api::Listener(listener), app)
                .with_graceful_shutdown(async {
                    let _ = api_stopped.await;
                })
                .await
        }));

        let wake = Arc::new(Notify::new());
        let heads = config
            .ws_url
            .clone()
            .map(|ws| kalypso_sdk::HeadWatcher::spawn(ws, wake.clone()));
        let indexer = Indexer::new(provider, d, store, config.indexer);
        // The Matching Engine key also opens the acls requesters wrap to it (confidential asks).
        let unwrap_key = SecretKey::from_signing_key(config.signer.credential());
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(config.poll_interval) => {}
            }
            match engine
                .round(
                    &indexer,
                    &mut submitter,
                    keeper.as_mut(),
                    &unwrap_key,
                    config.inclusion_margin,
                )
                .await
            {
                Ok(()) => engine.set_status(|s| s.last_error = None),
                Err(e) => {
                    warn!(target: "kalypso::engine", %e, "round failed; retrying");
                    engine.set_status(|s| s.last_error = Some(e.to_string()));
                }
            }
        }
        info!(target: "kalypso::engine", "shutting down");
        drop(heads);
        let _ = stop_api.send(());
        let _ = (&mut api.0).await;
        Ok(())
    }

    /// One round: index up to the head, settle batches, start keeper transactions, match and submit.
    async fn round(
        &self,
        indexer: &Indexer,
        submitter: &mut Submitter,
        keeper: Option<&mut Keeper>,
        unwrap_key: &SecretKey,
        margin: u64,
    ) -> Result<()> {
        let head = loop {
            match indexer.step().await? {
                Step::Reorg { to } => {
                    self.metrics.reorgs.inc();
                    submitter.resync_nonce();
                    let mut state = replay(&self.store, &self.deployment, &self.restaking_pools)?;
                    let now = self.store.cursor()?.map_or(0, |c| c.timestamp) + margin;
                    for m in submitter.pending_items() {
                        let _ = state.book.restore_pending(&m, now);
                    }
                    *self.write() = state;
                    let _ = self
                        .feed
                        .send(serde_json::json!({ "reorg": { "to": to } }).to_string());
                }
                Step::Indexed {
                    logs,
                    cursor,
                    head,
                    caught_up,
                } => {
                    self.apply(&logs);
                    self.metrics.indexed_block.set(cursor.number as i64);
                    self.metrics.head_block.set(head.number as i64);
                    self.set_status(|s| {
                        s.head_block = head.number;
                        s.head_timestamp = head.timestamp;
                        s.indexed_block = cursor.number;
                        s.caught_up = caught_up;
                    });
                    if caught_up {
                        break head;
                    }
                }
            }
        };

        for settled in submitter.poll(head.timestamp).await? {
            self.settle(settled);
        }

        if let Some(keeper) = keeper {
            // Starts transactions and returns at once: slashes never hold up matching.
            keeper.tick(&self.read(), head.timestamp, &self.metrics);
            self.set_status(|s| s.keeper_in_flight = keeper.in_flight());
        }

        let capacity = submitter.capacity();
        if capacity > 0 {
            let started = Instant::now();
            let matches = self
                .write()
                .book
                .match_asks(head.timestamp + margin, capacity);
            self.metrics
                .match_round
                .observe(started.elapsed().as_secs_f64());
            let (matches, acls) = self.rewrap(matches, unwrap_key);
            if !matches.is_empty() {
                debug!(target: "kalypso::engine", matches = matches.len(), block = head.number, "matched");
                let sent = matches.len() as u64;
                let before = submitter.in_flight();
                let failed = submitter.submit(matches, &acls, head.timestamp).await?;
                let failed_items: u64 = failed
                    .iter()
                    .map(|f| match f {
                        Settled::Failed { items, .. } => items.len() as u64,
                        Settled::Mined { .. } => 0,
                    })
                    .sum();
                self.metrics.assignments_sent.inc_by(sent - failed_items);
                self.metrics
                    .batches_sent
                    .inc_by((submitter.in_flight().saturating_sub(before)) as u64);
                for f in failed {
                    self.settle(f);
                }
            }
        }
        self.metrics
            .fee_bumps
            .inner()
            .store(submitter.fee_bumps, std::sync::atomic::Ordering::Relaxed);
        self.metrics
            .batches_cancelled
            .inner()
            .store(submitter.cancels, std::sync::atomic::Ordering::Relaxed);
        self.metrics.in_flight.set(submitter.in_flight() as i64);
        self.metrics
            .open_asks
            .set(self.read().book.open_asks(None) as i64);
        self.set_status(|s| s.in_flight = submitter.in_flight());
        Ok(())
    }

    fn apply(&self, logs: &[crate::store::StoredLog]) {
        if logs.is_empty() {
            return;
        }
        let mut feed = Vec::with_capacity(logs.len());
        {
            let mut state = self.write();
            for log in logs {
                let Some(applied) = state.apply_log(&self.deployment, log) else {
                    continue;
                };
                let name = applied.event.name();
                self.metrics
                    .events
                    .get_or_create(&EventLabel {
                        event: name.clone(),
                    })
                    .inc();
                if let Some(after) = applied.assigned_after {
                    self.metrics.time_to_assign.observe(after as f64);
                }
                if let Some(after) = applied.proven_after {
                    self.metrics.time_to_proof.observe(after as f64);
                }
                if let Some(reason) = applied.skipped {
                    self.metrics
                        .assignments_skipped
                        .get_or_create(&ReasonLabel {
                            reason: reason.to_string(),
                        })
                        .inc();
                }
                feed.push(
                    serde_json::json!({
                        "block": log.block,
                        "logIndex": log.log_index,
                        "timestamp": log.timestamp,
                        "txHash": log.tx_hash,
                        "contract": applied.event.contract(),
                        "event": name,
                        "ask": applied.ask,
                        "market": applied.market,
                        "data": applied.event.to_string(),
                    })
                    .to_string(),
                );
            }
        }
        if self.feed.receiver_count() > 0 {
            for item in feed {
                let _ = self.feed.send(item);
            }
        }
    }

    /// Gives each match of a confidential ask its acl (the data key re-wrapped to the generator's enclave).
    /// Asks whose sealed inputs are the requester's mistake leave matching with the reason in the API; a match
    /// to a generator without a usable enclave key is released.
    fn rewrap(&self, matches: Vec<Match>, key: &SecretKey) -> (Vec<Match>, HashMap<AskId, Bytes>) {
        let mut acls = HashMap::new();
        let mut state = self.write();
        if state.sealed.is_empty() {
            return (matches, acls);
        }
        let mut kept = Vec::with_capacity(matches.len());
        for m in matches {
            let Some(sealed) = state.sealed.get(&m.ask) else {
                kept.push(m);
                continue;
            };
            let (enclave_key, image) = match state.enclave_keys.get(&(m.market, m.generator)) {
                Some((key, image)) => (Some(key.clone()), *image),
                None => (None, B256::ZERO),
            };
            if enclave_key.is_some() && !state.image_allowed(m.market, image, sealed.created) {
                warn!(target: "kalypso::engine", ask = m.ask, generator = %m.generator, %image, "match released: the generator's enclave image was not one of the market's images when the ask was created");
                state.book.exclude_pending(m.ask);
                continue;
            }
            match confidential::acl_for(key, sealed, enclave_key.as_ref()) {
                Ok((acl, decrypts)) => {
                    if !decrypts {
                        info!(target: "kalypso::engine", ask = m.ask, "the ask's ciphertext does not decrypt under its own key: assigned for the market's IVS to attest");
                    }
                    acls.insert(m.ask, acl);
                    kept.push(m);
                }
                Err(Refusal::Ask(reason)) => {
                    warn!(target: "kalypso::engine", ask = m.ask, %reason, "confidential ask refused: it is never assigned");
                    self.metrics.asks_refused.inc();
                    state.book.withdraw(m.ask);
                    if let Some(a) = state.asks.get_mut(&m.ask) {
                        a.refused = Some(reason);
                    }
                }
                Err(Refusal::Generator(reason)) => {
                    warn!(target: "kalypso::engine", ask = m.ask, generator = %m.generator, %reason, "match released; the ask goes to another generator");
                    state.book.exclude_pending(m.ask);
                }
            }
        }
        (kept, acls)
    }

    fn settle(&self, settled: Settled) {
        match settled {
            Settled::Mined { id, gas_used } => {
                debug!(target: "kalypso::engine", id, gas_used, "batch mined");
            }
            Settled::Failed { id, items, reason } => {
                warn!(target: "kalypso::engine", id, items = items.len(), reason, "batch assigned nothing; items released");
                self.metrics.batches_failed.inc();
                let mut state = self.write();
                for m in &items {
                    state.book.release_pending(m.ask);
                }
            }
        }
    }

    fn restore(&self, items: &[Match], now: u64) {
        let mut state = self.write();
        for m in items {
            if let Err(reason) = state.book.restore_pending(m, now) {
                debug!(target: "kalypso::engine", ask = m.ask, %reason, "pending assignment no longer applies");
            }
        }
    }
}

/// Checks the keeper's account and builds the keeper. Its account must be neither the relayer's (the submitter
/// hands out that account's nonces itself) nor the Matching Engine's.
async fn start_keeper(config: &EngineConfig, k: KeeperConfig) -> Result<Keeper> {
    let address = k.key.address();
    if address == config.relayer.address() || address == config.signer.address() {
        return Err(Error::Config(format!(
            "the keeper key ({address}) must be an account of its own, not the relayer's or the Matching Engine's: \
             the engine manages their transactions' nonces itself"
        )));
    }
    let keeper = Keeper::new(&config.rpc_url, config.deployment.clone(), k)?;
    match keeper.balance().await {
        Ok(b) if b.is_zero() => {
            warn!(target: "kalypso::engine::keeper", keeper = %address, "the keeper account has no funds for gas")
        }
        Ok(_) => {}
        Err(e) => warn!(target: "kalypso::engine::keeper", %e, "cannot read the keeper's balance"),
    }
    info!(target: "kalypso::engine::keeper", keeper = %address, "keeper on: slashing missed task deadlines");
    Ok(keeper)
}

/// Replays every stored log into a fresh state.
/// The registry's restaking pools (in id order) with their parameters: their events are protocol events too.
pub(crate) async fn restaking_pools(
    provider: &DynProvider,
    deployment: &Deployment,
) -> Result<Vec<kalypso_sdk::PoolState>> {
    let reader = kalypso_sdk::Kalypso::new(
        provider.clone(),
        deployment.clone(),
        alloy::primitives::Address::ZERO,
    );
    let mut pools = Vec::new();
    for pool in reader
        .collateral_pools()
        .await
        .map_err(|e| Error::Rpc(format!("reading the registry's collateral pools: {e}")))?
    {
        pools.push(
            reader
                .restaking_pool_state(pool)
                .await
                .map_err(|e| Error::Rpc(format!("reading restaking pool {pool}: {e}")))?,
        );
    }
    Ok(pools)
}

fn replay(
    store: &Store,
    deployment: &Deployment,
    pools: &[kalypso_sdk::PoolState],
) -> Result<State> {
    let mut state = State::with_restaking_pools(pools);
    store.for_each_log(|log| {
        state.apply_log(deployment, &log);
        Ok(())
    })?;
    Ok(state)
}

/// A spawned task that ends with its owner: when the engine's future is dropped (aborted), the API server stops
/// too (the head watcher stops when dropped by itself).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
