//! `kalypso restaking ...`: restaked collateral from Symbiotic — the state of the registry's restaking pools and
//! an operator's collateral in them, the committee relayer between the L1 middleware and an L2 pool, and the
//! admin's deployment of a pool.

use std::time::Duration;

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use kalypso_restaking::{RelayConfig, Relayer};
use kalypso_sdk::{PoolCollateral, RestakingPoolConfig, SymbioticNetwork};
use serde::Serialize;

use super::{keys::parse_key, sent, shutdown_signal, units};
use crate::{
    context::Ctx,
    output::{fields, table},
    parse,
};

/// `kalypso restaking ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RestakingCmd {
    /// The registry's restaking pools (latest epoch, whether its snapshot still applies, slashes queued and
    /// settled) and an operator's restaked collateral in each: stake at the latest snapshot, locked by tasks,
    /// pending slashes, free. With --l1-rpc-url and --l1-middleware also whether the operator is registered
    /// with the network (opted in), its stake on the L1 now and every slash not yet settled with its L1 status.
    Status {
        /// The operator (generator) [default: the signing account; none: pools only].
        #[arg(long, value_parser = parse::address)]
        generator: Option<Address>,
        #[command(flatten)]
        l1: L1Args,
    },
    /// Run the committee relayer until Ctrl-C / SIGTERM: each epoch it posts the L1 stake snapshot (every
    /// operator's stake at the epoch's capture timestamp) to the L2 pool, and it carries each slash the pool
    /// queues to the L1 middleware as a committee-signed slash request, executes it after the veto period (or
    /// closes it when the resolver vetoed it). Everything it needs is on the two chains: a restart resumes.
    /// Transactions go from the signing account on both chains (--private-key / KALYPSO_PRIVATE_KEY), else from
    /// the first committee key.
    Relay {
        /// The L2 restaking pool.
        #[arg(long, value_parser = parse::address)]
        pool: Address,
        #[command(flatten)]
        l1: L1Args,
        /// The environment variable holding the committee keys this relayer signs with (hex, comma-separated).
        /// The keys are never arguments and never printed.
        #[arg(long, value_name = "VAR", default_value = "KALYPSO_COMMITTEE_KEYS")]
        committee_keys_env: String,
        /// L2 block to look for queued slashes from (the pool's deployment block).
        #[arg(long, default_value_t = 0)]
        from_block: u64,
        /// L1 block to look for settled slashes from (the middleware's deployment block).
        #[arg(long, default_value_t = 0)]
        l1_from_block: u64,
        /// Time between steps.
        #[arg(long, value_parser = parse::duration, default_value = "2s")]
        poll_interval: Duration,
    },
    /// Deploy a restaking pool for the registry with the L1 middleware's epochs, and add it to the registry
    /// (the registry's admin: a governance proposal in production; --no-add deploys only).
    DeployPool(DeployPoolArgs),
}

/// Where the L1 middleware is.
#[derive(Debug, Args)]
pub(crate) struct L1Args {
    /// JSON-RPC URL of the L1 (where Symbiotic and Kalypso's middleware live).
    #[arg(long, env = "KALYPSO_L1_RPC_URL")]
    l1_rpc_url: Option<String>,
    /// Kalypso's Symbiotic network middleware on the L1.
    #[arg(long, env = "KALYPSO_L1_MIDDLEWARE", value_parser = parse::address)]
    l1_middleware: Option<Address>,
}

/// `restaking deploy-pool`.
#[derive(Debug, Args)]
pub(crate) struct DeployPoolArgs {
    #[command(flatten)]
    l1: L1Args,
    /// How long past the next epoch's start a snapshot still applies (the relayers' bridging time; shorter
    /// than an epoch) [default: a tenth of an epoch].
    #[arg(long, value_parser = parse::duration)]
    offset: Option<Duration>,
    /// The time a slash needs from a task's deadline to its request on the L1: the keeper, the relayers' poll,
    /// L1 inclusion, clock skew [default: half an epoch].
    #[arg(long, value_parser = parse::duration)]
    slash_latency: Option<Duration>,
    /// How long after a snapshot's capture a task locked against it may be due, at most the middleware's slash
    /// window minus the latency [default: that maximum].
    #[arg(long, value_parser = parse::duration)]
    slash_window: Option<Duration>,
    /// The smallest penalty the pool locks, in staking-token units (each slash costs the relayers two L1
    /// transactions; smaller penalties need native stake).
    #[arg(long, value_parser = parse::amount, default_value = "1")]
    min_lock: parse::Amount,
    /// A committee member (repeat) [default: the middleware's committee].
    #[arg(long = "committee", value_parser = parse::address)]
    committee: Vec<Address>,
    /// Signatures a snapshot needs [default: the middleware's threshold].
    #[arg(long)]
    threshold: Option<u64>,
    /// Deploy only; do not add the pool to the registry.
    #[arg(long)]
    no_add: bool,
}

impl L1Args {
    fn given(&self) -> Option<(&str, Address)> {
        Some((self.l1_rpc_url.as_deref()?, self.l1_middleware?))
    }

    fn required(&self) -> anyhow::Result<(&str, Address)> {
        self.given()
            .context("pass --l1-rpc-url and --l1-middleware (or KALYPSO_L1_RPC_URL and KALYPSO_L1_MIDDLEWARE)")
    }

    async fn connect(
        &self,
        signer: Option<PrivateKeySigner>,
    ) -> anyhow::Result<SymbioticNetwork<DynProvider>> {
        let (url, middleware) = self.required()?;
        let (provider, sender, _) =
            crate::context::connect_url(url, "--l1-rpc-url", signer).await?;
        let sender = sender.unwrap_or(Address::ZERO);
        Ok(SymbioticNetwork::connect(provider, middleware, sender).await?)
    }
}

pub(crate) async fn run(
    ctx: &Ctx,
    global: &crate::opts::GlobalArgs,
    cmd: RestakingCmd,
) -> anyhow::Result<()> {
    match cmd {
        RestakingCmd::Status { generator, l1 } => status(ctx, generator, &l1).await,
        RestakingCmd::Relay {
            pool,
            l1,
            committee_keys_env,
            from_block,
            l1_from_block,
            poll_interval,
        } => {
            let committee = committee_keys(&committee_keys_env)?;
            let sender = crate::context::signer(global)?.unwrap_or_else(|| committee[0].clone());
            let l1 = l1.connect(Some(sender.clone())).await?;
            let (l2_provider, _, _) =
                crate::context::connect_with(global, Some(sender.clone())).await?;
            let l2 = kalypso_sdk::Kalypso::new(
                l2_provider,
                ctx.client.deployment().clone(),
                sender.address(),
            );
            let config = RelayConfig {
                pool,
                committee,
                from_block,
                l1_from_block,
                poll_interval,
            };
            let mut relayer = Relayer::new(l1, l2, config).await?;
            tracing::info!(target: "kalypso::restaking", %pool, sender = %sender.address(), "relaying");
            relayer.run(shutdown_signal()).await?;
            Ok(())
        }
        RestakingCmd::DeployPool(args) => deploy_pool(ctx, args).await,
    }
}

fn committee_keys(var: &str) -> anyhow::Result<Vec<PrivateKeySigner>> {
    let text = std::env::var(var)
        .with_context(|| format!("set {var} to the committee keys (hex, comma-separated)"))?;
    let keys = text
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .enumerate()
        .map(|(i, k)| {
            parse_key(k).with_context(|| format!("{var}: entry {} is not a private key", i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!keys.is_empty(), "{var} holds no key");
    Ok(keys)
}

async fn deploy_pool(ctx: &Ctx, args: DeployPoolArgs) -> anyhow::Result<()> {
    let admin = ctx.signer()?;
    let l1 = args.l1.connect(None).await?;
    let epochs = l1.epochs().await?;
    let (members, threshold) = l1.committee().await?;
    let offset = args
        .offset
        .map_or(epochs.epoch_duration / 10, |d| d.as_secs());
    anyhow::ensure!(
        offset < epochs.epoch_duration,
        "--offset {offset}s must be shorter than the L1 epoch ({}s)",
        epochs.epoch_duration
    );
    let slash_latency = args
        .slash_latency
        .map_or(epochs.epoch_duration / 2, |d| d.as_secs());
    let max_window = epochs.slash_window.saturating_sub(slash_latency);
    let slash_window = args.slash_window.map_or(max_window, |w| w.as_secs());
    anyhow::ensure!(
        slash_window <= max_window,
        "--slash-window {slash_window}s is longer than the L1's window ({}s) minus the latency ({slash_latency}s)",
        epochs.slash_window
    );
    let min_lock = ctx.staking(&args.min_lock).await?;
    let config = RestakingPoolConfig {
        admin,
        epoch_start: epochs.epoch_start,
        epoch_duration: epochs.epoch_duration,
        offset,
        slash_latency,
        slash_window,
        min_lock: min_lock.saturating_to(),
        committee: if args.committee.is_empty() {
            members
        } else {
            args.committee
        },
        threshold: args.threshold.unwrap_or(threshold),
    };
    let pool = ctx.client.deploy_restaking_pool(&config).await?;
    ctx.out.note(&format!(
        "deployed RestakingPool {pool} (epochs of {}s from {}, offset {offset}s, slash window {slash_window}s, \
         {}-of-{} committee)",
        config.epoch_duration,
        config.epoch_start,
        config.threshold,
        config.committee.len()
    ));
    if args.no_add {
        ctx.out
            .print(&serde_json::json!({ "pool": pool }), || pool.to_string());
        return Ok(());
    }
    let tx = match ctx.client.add_collateral_pool(pool).await {
        Ok(tx) => tx,
        Err(e) => {
            let hint = match ctx.client.deployment().timelock {
                Some(t) => format!(
                    "; the registry's admin is the timelock {t}: propose addCollateralPool({pool}) through it"
                ),
                None => String::new(),
            };
            return Err(anyhow::Error::new(e).context(format!(
                "pool {pool} is deployed but not added to the registry{hint}"
            )));
        }
    };
    sent(
        ctx,
        format!("added collateral pool {pool} to the registry"),
        serde_json::json!({ "pool": pool }),
        tx,
    );
    Ok(())
}

/// `restaking status --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    pools: Vec<kalypso_sdk::PoolState>,
    generator: Option<Address>,
    collateral: Vec<PoolCollateral>,
    l1: Option<L1Status>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct L1Status {
    epoch: u64,
    /// Whether the operator is registered with the network's middleware now (opted in and registered).
    registered: Option<bool>,
    stake_now: Option<String>,
    unsettled_slashes: Vec<UnsettledSlash>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UnsettledSlash {
    pool: Address,
    slash_id: u64,
    operator: Address,
    task: u64,
    amount: String,
    capture_timestamp: u64,
    l1_status: kalypso_sdk::L1SlashStatus,
}

async fn status(ctx: &Ctx, generator: Option<Address>, l1_args: &L1Args) -> anyhow::Result<()> {
    let client = &ctx.client;
    let generator = generator.or_else(|| ctx.signer().ok());
    let mut pools = Vec::new();
    for pool in client.collateral_pools().await? {
        pools.push(client.restaking_pool_state(pool).await?);
    }
    let collateral = match generator {
        Some(g) => client.pool_collateral(g).await?,
        None => Vec::new(),
    };
    let l1 = match l1_args.given() {
        None => None,
        Some(_) => {
            let l1 = l1_args.connect(None).await?;
            let now = l1.block_timestamp().await?;
            let epochs = l1.epochs().await?;
            let (registered, stake_now) = match generator {
                Some(g) => (
                    Some(l1.is_operator_active(g, now).await?),
                    Some(l1.stake_at(g, now).await?.to_string()),
                ),
                None => (None, None),
            };
            let head = client.block_number().await?;
            let mut unsettled = Vec::new();
            for p in &pools {
                if p.settled_slashes == p.next_slash_id {
                    continue;
                }
                for q in client
                    .queued_slashes(p.pool, client.deployment().deploy_block..=head)
                    .await?
                {
                    if q.slash_id < p.settled_slashes || generator.is_some_and(|g| g != q.operator)
                    {
                        continue;
                    }
                    unsettled.push(UnsettledSlash {
                        pool: p.pool,
                        slash_id: q.slash_id,
                        operator: q.operator,
                        task: q.task,
                        amount: q.amount.to_string(),
                        capture_timestamp: q.capture_timestamp,
                        l1_status: l1
                            .slash(kalypso_sdk::slash_key(
                                client.deployment().chain_id,
                                p.pool,
                                q.slash_id,
                            ))
                            .await?
                            .status,
                    });
                }
            }
            Some(L1Status {
                epoch: epochs.epoch_at(now),
                registered,
                stake_now,
                unsettled_slashes: unsettled,
            })
        }
    };
    let decimals = ctx.decimals(client.deployment().staking_token).await?;
    let status = Status {
        pools,
        generator,
        collateral,
        l1,
    };
    ctx.out.print(&status, || {
        if status.pools.is_empty() {
            return "the registry has no restaking pool (`kalypso restaking deploy-pool`)"
                .to_owned();
        }
        let mut text = table(
            [
                "pool",
                "id",
                "latest epoch",
                "snapshot",
                "slash window",
                "slashes settled / queued",
            ],
            status.pools.iter().enumerate().map(|(i, p)| {
                [
                    p.pool.to_string(),
                    (i + 1).to_string(),
                    p.latest_epoch.to_string(),
                    if p.fresh {
                        "fresh".into()
                    } else {
                        "stale: no new locks".into()
                    },
                    format!("{}s", p.slash_window),
                    format!("{} / {}", p.settled_slashes, p.next_slash_id),
                ]
            }),
        );
        if let Some(g) = status.generator {
            text += &format!("\nrestaked collateral of {g}:\n");
            text += &table(
                ["pool", "stake (epoch)", "locked", "pending slashes", "free"],
                status.collateral.iter().map(|c| {
                    [
                        c.pool_id.to_string(),
                        format!(
                            "{} ({})",
                            units(U256::from(c.stake), decimals),
                            c.stake_epoch
                        ),
                        units(U256::from(c.locked), decimals),
                        units(U256::from(c.pending_slash), decimals),
                        units(U256::from(c.free), decimals),
                    ]
                }),
            );
        }
        if let Some(l1) = &status.l1 {
            let mut rows = vec![("L1 epoch", l1.epoch.to_string())];
            if let Some(r) = l1.registered {
                rows.push((
                    "registered with the network",
                    if r {
                        "yes".into()
                    } else {
                        "no: register as a Symbiotic operator, opt in to the network and to a vault, and ask the \
                         network to register you"
                            .into()
                    },
                ));
            }
            if let Some(s) = &l1.stake_now {
                rows.push((
                    "L1 stake now",
                    units(s.parse().unwrap_or_default(), decimals),
                ));
            }
            text += &format!("\n{}\n", fields(rows));
            if l1.unsettled_slashes.is_empty() {
                text += "no unsettled slash";
            } else {
                text += &table(
                    [
                        "slash",
                        "operator",
                        "task",
                        "amount",
                        "capture",
                        "on the L1",
                    ],
                    l1.unsettled_slashes.iter().map(|s| {
                        [
                            s.slash_id.to_string(),
                            s.operator.to_string(),
                            s.task.to_string(),
                            units(s.amount.parse().unwrap_or_default(), decimals),
                            s.capture_timestamp.to_string(),
                            format!("{:?}", s.l1_status),
                        ]
                    }),
                );
            }
        }
        text.trim_end().to_owned()
    });
    Ok(())
}

/// The restaked-collateral rows of `generator status`.
pub(crate) async fn collateral_rows(
    ctx: &Ctx,
    generator: Address,
    decimals: u8,
) -> anyhow::Result<(Vec<PoolCollateral>, Vec<(&'static str, String)>)> {
    let collateral = ctx.client.pool_collateral(generator).await?;
    let rows = collateral
        .iter()
        .map(|c| {
            (
                "restaked collateral",
                format!(
                    "pool {}: {} free of {} at epoch {}{}; locked {}, pending slashes {}",
                    c.pool_id,
                    units(U256::from(c.free), decimals),
                    units(U256::from(c.stake), decimals),
                    c.stake_epoch,
                    if c.fresh {
                        ""
                    } else {
                        " (stale snapshot: no new locks)"
                    },
                    units(U256::from(c.locked), decimals),
                    units(U256::from(c.pending_slash), decimals),
                ),
            )
        })
        .collect();
    Ok((collateral, rows))
}
