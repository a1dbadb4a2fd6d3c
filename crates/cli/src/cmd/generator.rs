//! `kalypso generator ...`.

use super::{prover, relative, sent, shutdown_signal, units};
use crate::{
    context::{self, Ctx},
    opts::{
        BackendArgs, GeneratorBenchmarkArgs, GeneratorCmd, GeneratorRunArgs, GlobalArgs,
        MarketProverArgs, QuoteArgs,
    },
    output::{fields, table},
};
use alloy::primitives::Bytes;
use anyhow::Context as _;
use kalypso_generator::{Node, NodeConfig};
use kalypso_package::PackageRef;
use kalypso_provers::{CircuitKind, CircuitSpec, Groth16Config, ProverConfig, fixture};
use kalypso_sdk::{MarketId, Quote};
use serde::Serialize;
use std::{collections::BTreeMap, time::Duration};

pub(super) async fn run(ctx: &Ctx, cmd: GeneratorCmd) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        GeneratorCmd::Register {
            reward_address,
            compute,
            metadata,
        } => {
            let me = ctx.signer()?;
            let reward = reward_address.unwrap_or(me);
            let tx = client
                .register(reward, compute, Bytes::from(metadata.into_bytes()))
                .await?;
            sent(
                ctx,
                format!(
                    "{me} registered as a generator ({compute} compute units, rewards to {reward})"
                ),
                serde_json::json!({ "generator": me, "rewardAddress": reward, "declaredCompute": compute }),
                tx,
            );
        }
        GeneratorCmd::Stake { amount } => {
            ctx.signer()?;
            let value = ctx.staking(&amount).await?;
            let spinner = ctx.out.spinner("staking");
            let tx = client.stake(value).await?;
            spinner.finish_and_clear();
            sent(
                ctx,
                format!("staked {}", amount.0),
                serde_json::json!({ "amount": value.to_string() }),
                tx,
            );
        }
        GeneratorCmd::Unstake {
            amount,
            withdraw,
            cancel,
        } => {
            let me = ctx.signer()?;
            if withdraw {
                let (value, tx) = client.unstake(me).await?;
                sent(
                    ctx,
                    "pending stake withdrawn",
                    serde_json::json!({ "amount": value.to_string() }),
                    tx,
                );
            } else if cancel {
                let tx = client.cancel_unstake().await?;
                sent(ctx, "unstake request cancelled", serde_json::json!({}), tx);
            } else {
                let amount = amount.expect("clap requires the amount without --withdraw/--cancel");
                let value = ctx.staking(&amount).await?;
                let tx = client.request_unstake(value).await?;
                let position = client.generator(me, &[]).await?.position;
                let now = client.block_timestamp().await?;
                sent(
                    ctx,
                    format!(
                        "unstake of {} requested; withdraw with `kalypso generator unstake --withdraw` {}",
                        amount.0,
                        relative(position.unlock_at, now)
                    ),
                    serde_json::json!({ "amount": value.to_string(), "unlockAt": position.unlock_at }),
                    tx,
                );
            }
        }
        GeneratorCmd::Join(q) => {
            ctx.signer()?;
            let (market, quote) = quote(ctx, &q).await?;
            let tx = client.join_market(market, quote).await?;
            sent(
                ctx,
                format!("joined market {market}"),
                serde_json::json!({ "market": market, "quote": quote }),
                tx,
            );
        }
        GeneratorCmd::Update(q) => {
            ctx.signer()?;
            let (market, quote) = quote(ctx, &q).await?;
            let tx = client.update_quote(market, quote).await?;
            sent(
                ctx,
                format!("quote in market {market} updated"),
                serde_json::json!({ "market": market, "quote": quote }),
                tx,
            );
        }
        GeneratorCmd::Leave { market } => {
            ctx.signer()?;
            let tx = client.leave_market(market).await?;
            sent(
                ctx,
                format!("left market {market} (tasks in flight stay binding)"),
                serde_json::json!({ "market": market }),
                tx,
            );
        }
        GeneratorCmd::Run(_) => unreachable!("`generator run` is dispatched before connecting"),
        GeneratorCmd::Benchmark(args) => benchmark(ctx, args).await?,
        GeneratorCmd::Status { generator } => {
            let address = ctx.account_or_signer(generator)?;
            let markets: Vec<u64> = client.markets().await?.iter().map(|m| m.id).collect();
            let info = client.generator(address, &markets).await?;
            let pay = ctx.decimals(client.deployment().payment_token).await?;
            let stake = ctx.decimals(client.deployment().staking_token).await?;
            let (restaked, restaked_rows) =
                super::restaking::collateral_rows(ctx, address, stake).await?;
            let mut status = Status::from(&info);
            status.restaked = restaked;
            ctx.out.print(&status, || {
                let mut text = match &info.registration {
                    None => format!("{address} is not registered (`kalypso generator register`)\n"),
                    Some(r) => {
                        let mut rows = vec![
                            ("generator", address.to_string()),
                            ("reward address", r.reward_address.to_string()),
                            (
                                "compute",
                                format!("{} of {} in use", r.consumed_compute, r.declared_compute),
                            ),
                            ("native stake", units(info.position.stake, stake)),
                            ("locked by tasks", units(info.position.locked, stake)),
                            ("free", units(info.free_stake, stake)),
                            ("pending unstake", units(info.position.pending, stake)),
                        ];
                        rows.extend(restaked_rows.iter().cloned());
                        fields(rows) + "\n"
                    }
                };
                let quotes: Vec<_> = info
                    .quotes
                    .iter()
                    .filter_map(|(m, q)| q.map(|q| (*m, q)))
                    .collect();
                if !quotes.is_empty() {
                    text += &table(
                        [
                            "market",
                            "price per proof",
                            "max proof time",
                            "compute per proof",
                        ],
                        quotes.iter().map(|(m, q)| {
                            [
                                m.to_string(),
                                units(q.price_per_proof, pay),
                                format!("{}s", q.max_proof_time),
                                q.compute_per_proof.to_string(),
                            ]
                        }),
                    );
                }
                text.trim_end().to_owned()
            });
        }
    }
    Ok(())
}

/// The quote of `join`/`update`. The market's prover is prepared first when it names a circuit package
/// (fetched, every hash checked, cached: tasks never wait for a download), and benchmarked when no
/// --max-proof-time is given.
async fn quote(ctx: &Ctx, q: &QuoteArgs) -> anyhow::Result<(u64, Quote)> {
    let price = ctx.payment(&q.price).await?;
    let market = q.market;
    let metadata = ctx.client.market_metadata(market).await?;
    let packaged = PackageRef::from_metadata(&metadata).is_some();
    let max_proof_time = match q.max_proof_time {
        Some(t) => {
            if packaged {
                market_prover(ctx, market, &MarketProverArgs::from_market()).await?;
            }
            t.as_secs()
        }
        None => {
            let config = market_prover(ctx, market, &MarketProverArgs::from_market())
                .await
                .context("--max-proof-time was not given, so the market's prover is benchmarked")?;
            let measured =
                prover::measure(ctx.out, config, 3, 1, 2.0, Duration::from_secs(30), None)
                    .await
                    .context("benchmarking the market's prover for --max-proof-time")?;
            let secs = measured.suggestion.max_proof_time_secs;
            ctx.out.note(&format!(
                "benchmark: p90 {:.0} ms per proof on this machine; committing to maxProofTime {secs}s (2 x p90 + 30s)",
                measured.report.p90_ms
            ));
            secs
        }
    };
    Ok((
        market,
        Quote {
            price_per_proof: price,
            max_proof_time,
            compute_per_proof: q.compute_per_proof,
        },
    ))
}

/// `generator status --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    address: alloy::primitives::Address,
    registered: bool,
    reward_address: Option<alloy::primitives::Address>,
    declared_compute: u64,
    consumed_compute: u64,
    stake: String,
    locked: String,
    free_stake: String,
    pending: String,
    unlock_at: u64,
    quotes: Vec<MarketQuote>,
    /// Restaked collateral in each of the registry's restaking pools.
    restaked: Vec<kalypso_sdk::PoolCollateral>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MarketQuote {
    market: u64,
    price_per_proof: String,
    max_proof_time: u64,
    compute_per_proof: u64,
}

impl From<&kalypso_sdk::GeneratorInfo> for Status {
    fn from(info: &kalypso_sdk::GeneratorInfo) -> Self {
        let r = info.registration;
        Self {
            address: info.address,
            registered: r.is_some(),
            reward_address: r.map(|r| r.reward_address),
            declared_compute: r.map_or(0, |r| r.declared_compute),
            consumed_compute: r.map_or(0, |r| r.consumed_compute),
            stake: info.position.stake.to_string(),
            locked: info.position.locked.to_string(),
            free_stake: info.free_stake.to_string(),
            pending: info.position.pending.to_string(),
            unlock_at: info.position.unlock_at,
            quotes: info
                .quotes
                .iter()
                .filter_map(|(m, q)| {
                    q.map(|q| MarketQuote {
                        market: *m,
                        price_per_proof: q.price_per_proof.to_string(),
                        max_proof_time: q.max_proof_time,
                        compute_per_proof: q.compute_per_proof,
                    })
                })
                .collect(),
            restaked: Vec::new(),
        }
    }
}

/// `kalypso generator run`: the node until Ctrl-C / SIGTERM.
pub(super) async fn run_node(global: &GlobalArgs, args: GeneratorRunArgs) -> anyhow::Result<()> {
    let ctx = Ctx::new(global).await?;
    let signer = context::signer(global)?.context(
        "the node sends proofs from the generator's account: set KALYPSO_PRIVATE_KEY (or KALYPSO_KEYSTORE)",
    )?;
    let mut provers = BTreeMap::new();
    let mut shared = None;
    for &market in &args.markets {
        ctx.client.market(market).await?;
        let by_flags = args.prover.circuit.is_some() || args.prover.prover_config.is_some();
        let prover = match (&shared, by_flags) {
            (Some(prover), true) => std::sync::Arc::clone(prover),
            _ => {
                let config = market_prover(&ctx, market, &args.prover).await?;
                let prover = prover::build_config(ctx.out, config)
                    .await
                    .with_context(|| format!("cannot build the prover of market {market}"))?;
                tracing::info!(target: "kalypso::generator", market, prover = %prover.describe().name, "prover ready");
                if by_flags {
                    shared = Some(std::sync::Arc::clone(&prover));
                }
                prover
            }
        };
        provers.insert(market, prover);
    }
    let mut config = NodeConfig::new(
        global.rpc_url.clone(),
        signer,
        ctx.client.deployment().clone(),
        provers,
        args.db,
    );
    for value in args.ivs_url {
        match value.split_once('=') {
            Some((market, url)) if !market.contains(':') => {
                let market: u64 = market
                    .parse()
                    .with_context(|| format!("--ivs-url {value}: `{market}` is not a market id"))?;
                config.ivs_urls.insert(market, url.to_owned());
            }
            _ if config.ivs_url.is_some() => {
                anyhow::bail!(
                    "--ivs-url: one URL for every market at most; name the market of the others (MARKET=URL)"
                )
            }
            _ => config.ivs_url = Some(value),
        }
    }
    config.enclave_key = args
        .enclave_key_file
        .as_deref()
        .map(super::keys::read_key_file)
        .transpose()?
        .map(|k| kalypso_confidential::SecretKey::from_signing_key(k.credential()));
    config.max_parallel = args
        .max_parallel
        .map(usize::try_from)
        .transpose()
        .context("--max-parallel is too large")?;
    config.ws_url = args.ws_url;
    config.poll_interval = args.poll_interval;
    config.bump_after = args.bump_after;
    config.max_fee_per_gas = args.max_fee_per_gas.0;
    config.listen = args.listen;
    config.proof_time_estimate = args.proof_time_estimate;
    config.submit_margin = args.submit_margin;
    config.from_block = args.from_block;
    config.log_page_blocks = args.log_page_blocks;
    config.self_assign = !args.no_self_assign;
    Node::run(config, shutdown_signal(), |addr| {
        tracing::info!(target: "kalypso::generator", "status at http://{addr}/health, metrics at http://{addr}/metrics");
    })
    .await
    .context("the generator node stopped")
}

/// The prover of `market`: `--prover-config`, `--circuit`/`--size`, else the built-in circuit its metadata
/// names.
pub(super) async fn market_prover(
    ctx: &Ctx,
    market: MarketId,
    args: &MarketProverArgs,
) -> anyhow::Result<ProverConfig> {
    if args.circuit.is_some() || args.prover_config.is_some() {
        return prover::prover_config(&BackendArgs {
            circuit: args.circuit,
            size: args.size,
            keys: args.keys.clone(),
            threads: args.threads,
            config: args.prover_config.clone(),
        });
    }
    let metadata = ctx.client.market_metadata(market).await?;
    if let Some(package) = PackageRef::from_metadata(&metadata) {
        return package_prover(ctx, market, package?, args.threads).await;
    }
    let (spec, setup_seed) = circuit_of_metadata(&metadata).with_context(|| {
        format!(
            "market {market}'s metadata ({}) names no built-in circuit: pass --circuit and --size, or \
             --prover-config",
            String::from_utf8_lossy(&metadata)
        )
    })?;
    Ok(ProverConfig::Groth16(Groth16Config {
        keys_dir: args.keys.clone(),
        threads: args
            .threads
            .map(usize::try_from)
            .transpose()
            .context("--threads is too large")?,
        setup_seed: setup_seed.map(|s| s.to_vec()),
        ..Groth16Config::new(spec.kind(), spec.size())
    }))
}

/// The prover of a market whose metadata names a circuit package: fetched (or found in the cache), every hash
/// checked, and refused unless the market's verifier was deployed for exactly its key.
async fn package_prover(
    ctx: &Ctx,
    market: MarketId,
    package: PackageRef,
    threads: Option<u64>,
) -> anyhow::Result<ProverConfig> {
    let package = super::circuit::fetch(ctx.out, package).await?;
    let verifier = ctx.client.market(market).await?.verifier;
    // A TEE market's verifier checks the enclave's signature, not the package's key: the package is what the
    // enclave runs, and the node checks its enclave key against the verifier's image at start.
    let tee = matches!(
        ctx.client.verifier_kind(verifier).await?,
        Some(kalypso_sdk::VerifierKind::Tee { .. })
    );
    anyhow::ensure!(
        tee || ctx
            .client
            .verifier_matches_package(verifier, &package)
            .await?,
        "market {market}'s verifier {verifier} was not deployed for the key of the package its metadata names \
         ({}, sha256 {}): proofs made with that package would not verify, so this node will not prove for it",
        package.manifest().name,
        package.sha256_hex()
    );
    let mut config = package.prover_config()?;
    if let ProverConfig::Circom(c) = &mut config {
        c.threads = threads
            .map(usize::try_from)
            .transpose()
            .context("--threads is too large")?;
    }
    tracing::info!(
        target: "kalypso::generator",
        market,
        package = %package.manifest().name,
        sha256 = %package.sha256_hex(),
        dir = %package.dir().display(),
        "market {market} proves circuit package {}",
        package.manifest().name
    );
    Ok(config)
}

/// Whether a market's metadata names a built-in circuit a generator derives its prover from.
pub(super) fn names_builtin_circuit(metadata: &[u8]) -> bool {
    circuit_of_metadata(metadata).is_some()
}

/// The circuit a market's metadata names: `{"name": "<circuit>-<size>", "kind": "groth16"}` as `kalypso deploy`
/// writes it for `kalypso prover setup` files (keys from the default devnet seed), or `"mimc-chain-<rounds>"`
/// for the committed fixture (keys from its own seed).
fn circuit_of_metadata(metadata: &[u8]) -> Option<(CircuitSpec, Option<[u8; 32]>)> {
    let json: serde_json::Value = serde_json::from_slice(metadata).ok()?;
    if json.get("kind").and_then(|k| k.as_str()) != Some("groth16") {
        return None;
    }
    let name = json.get("name")?.as_str()?;
    let (head, size) = name.rsplit_once('-')?;
    let size: usize = size.parse().ok()?;
    if head == "mimc-chain" {
        let spec = CircuitSpec::new(CircuitKind::Mimc, size).ok()?;
        return Some((spec, Some(fixture::FIXTURE_SETUP_SEED)));
    }
    let spec = CircuitSpec::new(head.parse().ok()?, size).ok()?;
    Some((spec, None))
}

/// `generator benchmark --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MarketBenchmark {
    market: MarketId,
    #[serde(flatten)]
    benchmark: prover::BenchmarkOutput,
    /// The signing generator's quote in the market, if it joined.
    current_quote: Option<Quote>,
}

async fn benchmark(ctx: &Ctx, args: GeneratorBenchmarkArgs) -> anyhow::Result<()> {
    let market = args.market;
    ctx.client.market(market).await?;
    let config = market_prover(ctx, market, &args.prover).await?;
    let benchmark = prover::measure(
        ctx.out,
        config,
        args.runs,
        args.warmup,
        args.safety_factor,
        args.margin,
        None,
    )
    .await?;
    let current_quote = match ctx.signer() {
        Ok(me) => ctx.client.quote(market, me).await?,
        Err(_) => None,
    };
    let result = MarketBenchmark {
        market,
        benchmark,
        current_quote,
    };
    ctx.out.print(&result, || {
        let mut text = prover::human_benchmark(&result.benchmark, Some(market));
        if let Some(q) = result.current_quote {
            let suggested = result.benchmark.suggestion.max_proof_time_secs;
            text += &format!(
                "\ncurrent quote: maxProofTime {}s, computePerProof {}",
                q.max_proof_time, q.compute_per_proof
            );
            if q.max_proof_time < suggested {
                text += &format!(
                    "\nwarning: the current maxProofTime is below the suggested {suggested}s: tasks risk being \
                     discarded or slashed"
                );
            }
            text += &format!(
                "\nupdate with: kalypso generator update {market} --price <PRICE> --max-proof-time {suggested}s \
                 --compute-per-proof {}",
                result.benchmark.suggestion.compute_per_proof
            );
        }
        text
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_metadata_names_the_circuit() {
        let (spec, seed) =
            circuit_of_metadata(br#"{"name":"merkle-20","kind":"groth16"}"#).expect("merkle");
        assert_eq!(
            (spec.kind(), spec.size(), seed),
            (CircuitKind::Merkle, 20, None)
        );
        let (spec, seed) =
            circuit_of_metadata(br#"{"name":"mimc-chain-64","kind":"groth16"}"#).expect("fixture");
        assert_eq!((spec.kind(), spec.size()), (CircuitKind::Mimc, 64));
        assert_eq!(seed, Some(fixture::FIXTURE_SETUP_SEED));
        assert!(circuit_of_metadata(br#"{"name":"sha-3","kind":"groth16"}"#).is_none());
        assert!(circuit_of_metadata(br#"{"name":"mimc-3","kind":"risc0"}"#).is_none());
        assert!(circuit_of_metadata(b"my market").is_none());
    }
}
