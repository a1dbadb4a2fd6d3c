//! Load driver of the matching engine on a local anvil with 1-second blocks: requesters send asks at a fixed
//! rate while the engine assigns them; reports time-to-assign (in blocks) and the sustained assignment rate.
//!
//! ```text
//! cargo run -p kalypso-engine --example load -- [asks-per-second] [seconds]
//! ```
//! (defaults 50 asks/s for 20 s). Loopback only; stops by itself.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use alloy::{
    network::{EthereumWallet, NetworkWallet, TransactionBuilder},
    node_bindings::Anvil,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use kalypso_contracts::TestToken;
use kalypso_engine::{Engine, EngineConfig};
use kalypso_sdk::{
    DeployConfig, Kalypso, Quote, SampleMarket,
    contracts::marketplace::{IProofMarketplace, ProofMarketplace},
};
use kalypso_test_utils::{Groth16Fixture, anvil_path};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

const REQUESTERS: usize = 16;
const GENERATORS: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rate: u64 = args
        .first()
        .map_or(50, |a| a.parse().expect("asks per second"));
    let seconds: u64 = args.get(1).map_or(20, |a| a.parse().expect("seconds"));

    let anvil = Anvil::new()
        .path(anvil_path())
        .args([
            "--block-time",
            "1",
            "--gas-limit",
            "1000000000",
            "--accounts",
            "30",
        ])
        .try_spawn()
        .expect("anvil");
    let keys: Vec<PrivateKeySigner> = anvil.keys().iter().map(|k| k.clone().into()).collect();
    let mut wallet = EthereumWallet::new(keys[0].clone());
    for k in &keys[2..] {
        wallet.register_signer(k.clone());
    }
    let provider = ProviderBuilder::new()
        .wallet(wallet.clone())
        .connect_http(anvil.endpoint_url())
        .erased();
    let admin = keys[0].address();
    let me = keys[1].clone();
    let fixture = Groth16Fixture::load();
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
    println!("deploying on {} (1 s blocks)…", anvil.endpoint());
    let deployment = kalypso_sdk::deploy(&provider, config)
        .await
        .expect("deploy");
    let client = |a: Address| Kalypso::new(provider.clone(), deployment.clone(), a);
    let mint = |token: Address, to: Address, amount: U256| {
        let provider = provider.clone();
        async move {
            TestToken::new(token, &provider)
                .mint(to, amount)
                .from(admin)
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
    };
    let big = U256::from(10u64).pow(U256::from(27));
    for (i, k) in keys[2..2 + GENERATORS].iter().enumerate() {
        let g = k.address();
        mint(deployment.staking_token, g, big).await;
        let c = client(g);
        c.register(g, 1_000_000, Bytes::new()).await.unwrap();
        c.stake(big).await.unwrap();
        let quote = Quote {
            price_per_proof: U256::from(10 + 5 * i as u64),
            max_proof_time: 600 - 60 * i as u64,
            compute_per_proof: 1,
        };
        c.join_market(1, quote).await.unwrap();
    }
    let requesters: Vec<PrivateKeySigner> =
        keys[2 + GENERATORS..2 + GENERATORS + REQUESTERS].to_vec();
    for r in &requesters {
        mint(deployment.payment_token, r.address(), big).await;
        client(r.address()).deposit(r.address(), big).await.unwrap();
    }

    let dir = std::env::temp_dir().join(format!("kalypso-load-{}", std::process::id()));
    let mut config = EngineConfig::new(
        anvil.endpoint(),
        deployment.clone(),
        me.clone(),
        me.clone(),
        dir.join("engine.db"),
    );
    config.ws_url = Some(anvil.ws_endpoint());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.poll_interval = Duration::from_millis(250);
    config.inclusion_margin = 1;
    config.submitter.max_in_flight = 8;
    config.submitter.max_batch = 128;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound) = tokio::sync::oneshot::channel();
    let engine = tokio::spawn(Engine::run(
        config,
        async {
            let _ = stopped.await;
        },
        move |a| {
            let _ = bound_tx.send(a);
        },
    ));
    let api = bound.await.unwrap();

    // Senders: raw signed transactions with locally tracked nonces, so the send rate is not bounded by
    // receipts.
    let start_ts = client(admin).block_timestamp().await.unwrap();
    println!(
        "load: {rate} asks/s for {seconds} s from {REQUESTERS} requesters; engine API http://{api}"
    );
    let total = rate * seconds;
    let per_sender = total.div_ceil(REQUESTERS as u64);
    let interval = Duration::from_secs_f64(REQUESTERS as f64 / rate as f64);
    let started = Instant::now();
    let mut senders = Vec::new();
    for r in requesters.clone() {
        let provider: DynProvider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(anvil.endpoint_url())
            .erased();
        let marketplace = deployment.marketplace;
        let inputs = fixture.inputs.clone();
        let chain_id = deployment.chain_id;
        let deadline = start_ts + 3_600;
        senders.push(tokio::spawn(async move {
            let wallet = EthereumWallet::new(r.clone());
            let mut nonce = provider.get_transaction_count(r.address()).await.unwrap();
            let mut ticker = tokio::time::interval(interval);
            for i in 0..per_sender {
                ticker.tick().await;
                let request = IProofMarketplace::AskRequest {
                    marketId: U256::from(1),
                    reward: U256::from(1_000),
                    deadline: U256::from(deadline),
                    preference: (i % 2) as u8,
                    refundAddress: r.address(),
                    proverData: inputs.clone(),
                    secret: Bytes::new(),
                    acl: Bytes::new(),
                };
                let tx = TransactionRequest::default()
                    .with_from(r.address())
                    .with_to(marketplace)
                    .with_input(ProofMarketplace::createAskFromBalanceCall { request }.abi_encode())
                    .with_chain_id(chain_id)
                    .with_nonce(nonce)
                    .with_gas_limit(400_000)
                    .with_max_fee_per_gas(100_000_000_000)
                    .with_max_priority_fee_per_gas(1_000_000_000);
                let envelope = NetworkWallet::<alloy::network::Ethereum>::sign_request(&wallet, tx)
                    .await
                    .unwrap();
                let _pending = provider.send_tx_envelope(envelope).await.unwrap();
                nonce += 1;
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let sent_in = started.elapsed();
    println!(
        "sent {} asks in {:.1} s ({:.0}/s)",
        per_sender * REQUESTERS as u64,
        sent_in.as_secs_f64(),
        (per_sender * REQUESTERS as u64) as f64 / sent_in.as_secs_f64()
    );

    // Wait until every ask is assigned (or 60 s pass).
    let http = reqwest::Client::new();
    let expected = per_sender * REQUESTERS as u64;
    let wait = Instant::now();
    let asks = loop {
        let body: serde_json::Value = http
            .get(format!("http://{api}/v1/asks?status=assigned&limit=1000"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let assigned = body["total"].as_u64().unwrap_or(0);
        if assigned >= expected || wait.elapsed() > Duration::from_secs(60) {
            let mut all = Vec::new();
            let mut offset = 0;
            loop {
                let page: serde_json::Value = http
                    .get(format!("http://{api}/v1/asks?limit=1000&offset={offset}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let items = page["asks"].as_array().cloned().unwrap_or_default();
                if items.is_empty() {
                    break;
                }
                offset += items.len();
                all.extend(items);
            }
            break all;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut delays: Vec<u64> = asks
        .iter()
        .filter_map(|a| a["timeToAssign"].as_u64())
        .collect();
    delays.sort_unstable();
    let assigned = delays.len();
    let pct = |p: usize| {
        delays
            .get((p * assigned).div_ceil(100).max(1) - 1)
            .copied()
            .unwrap_or(0)
    };
    let first_created = asks
        .iter()
        .filter_map(|a| a["createdAt"].as_u64())
        .min()
        .unwrap_or(0);
    let last_assigned = asks
        .iter()
        .filter_map(|a| a["assignedAt"].as_u64())
        .max()
        .unwrap_or(0);
    let span = last_assigned.saturating_sub(first_created).max(1);
    let metrics = http
        .get(format!("http://{api}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sent_batches = metrics
        .lines()
        .find(|l| l.starts_with("kalypso_engine_batches_sent_total"))
        .unwrap_or_default()
        .to_owned();
    println!("asks created: {}, assigned: {assigned}", asks.len());
    println!(
        "time to assign (chain seconds = blocks at 1 s): p50 {} p90 {} max {}",
        pct(50),
        pct(90),
        delays.last().copied().unwrap_or(0)
    );
    println!(
        "sustained: {assigned} asks assigned over {span} s of chain time = {:.0} asks/s",
        assigned as f64 / span as f64
    );
    println!("{sent_batches}");
    let _ = stop.send(());
    let _ = engine.await;
    let _ = std::fs::remove_dir_all(dir);
}
