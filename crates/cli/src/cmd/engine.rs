//! `kalypso engine run`: the Matching Engine service; `kalypso engine audit`: its assignments checked against
//! the matching rules.

use super::shutdown_signal;
use crate::{
    context::{deployment_path, signer},
    opts::{EngineAuditArgs, EngineCmd, EngineRunArgs, GlobalArgs},
    output::{Output, table},
};
use alloy::{
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context as _, bail};
use kalypso_engine::{
    Engine, EngineConfig,
    audit::{AuditReport, audit},
    indexer::IndexerConfig,
    keeper::KeeperConfig,
    submitter::SubmitterConfig,
};
use kalypso_sdk::Deployment;
use std::process::ExitCode;

/// A plain provider for `--rpc-url` and the deployment of the chain it serves.
pub(super) async fn connect(global: &GlobalArgs) -> anyhow::Result<(DynProvider, Deployment)> {
    let url = global
        .rpc_url
        .parse()
        .with_context(|| format!("--rpc-url '{}' is not a URL", global.rpc_url))?;
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(url)
        .erased();
    let chain_id = provider.get_chain_id().await.with_context(|| {
        format!(
            "cannot reach the chain at {} (is the node running?)",
            global.rpc_url
        )
    })?;
    let path = deployment_path(global, chain_id);
    if !path.exists() {
        bail!(
            "no deployment at {} for chain {chain_id}: run `kalypso deploy` or pass --deployment <file>",
            path.display()
        );
    }
    let deployment =
        Deployment::load(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((provider, deployment))
}

pub(super) async fn run(global: &GlobalArgs, cmd: EngineCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        EngineCmd::Run(args) => run_engine(global, args).await.map(|()| ExitCode::SUCCESS),
        EngineCmd::Audit(args) => run_audit(global, args).await,
    }
}

async fn run_audit(global: &GlobalArgs, args: EngineAuditArgs) -> anyhow::Result<ExitCode> {
    let (provider, deployment) = connect(global).await?;
    if args.to_block.is_some_and(|to| to < args.from_block) {
        bail!("--to-block must not be below --from-block");
    }
    let out = Output::new(global.json);
    let spinner = out.spinner("replaying the protocol's events");
    let report = audit(
        &provider,
        &deployment,
        args.from_block,
        args.to_block,
        args.log_page_blocks,
    )
    .await
    .context("the audit could not read the chain")?;
    spinner.finish_and_clear();
    out.print(&report, || human(&report));
    Ok(if report.differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn human(r: &AuditReport) -> String {
    let summary = format!(
        "blocks {}..={}: {} events replayed, {} Matching Engine assignments checked ({} fallback self-assignments \
         not checked), {} differ",
        r.from_block,
        r.to_block,
        r.events,
        r.checked,
        r.fallback,
        r.differences.len()
    );
    if r.differences.is_empty() {
        return format!("✓ {summary}");
    }
    let rows = r.differences.iter().map(|d| {
        [
            d.ask.to_string(),
            d.market.to_string(),
            format!("{}/{}", d.block, d.log_index),
            d.tx.to_string(),
            d.chosen.to_string(),
            d.expected
                .map_or_else(|| "nobody".to_owned(), |a| a.to_string()),
            d.why.clone(),
        ]
    });
    format!(
        "{}\n✗ {summary}",
        table(
            [
                "ask",
                "market",
                "block/log",
                "tx",
                "chosen",
                "expected",
                "why"
            ],
            rows
        )
    )
}

async fn run_engine(global: &GlobalArgs, args: EngineRunArgs) -> anyhow::Result<()> {
    let relayer = signer(global)?.context(
        "the engine sends relay transactions: set KALYPSO_PRIVATE_KEY (or KALYPSO_KEYSTORE) to a funded key",
    )?;
    let me_key: PrivateKeySigner = match &args.matching_engine_key {
        Some(key) => key
            .0
            .parse()
            .context("--matching-engine-key is not a valid secp256k1 key")?,
        None => relayer.clone(),
    };
    let keeper_key: Option<PrivateKeySigner> = args
        .keeper_key
        .as_ref()
        .map(|key| key.0.parse())
        .transpose()
        .context("--keeper-key is not a valid secp256k1 key")?;
    let (_, deployment) = connect(global).await?;

    let mut config =
        EngineConfig::new(global.rpc_url.clone(), deployment, relayer, me_key, args.db);
    config.ws_url = args.ws_url;
    config.listen = args.listen;
    config.poll_interval = args.poll_interval;
    config.inclusion_margin = args.inclusion_margin;
    config.indexer = IndexerConfig {
        page_blocks: args.log_page_blocks,
        ..IndexerConfig::default()
    };
    config.submitter = SubmitterConfig {
        max_batch: usize::from(args.batch_size),
        max_in_flight: usize::from(args.max_in_flight),
        batch_ttl: args.batch_ttl,
        bump_after: args.bump_after,
    };
    config.keeper = keeper_key.map(|key| KeeperConfig {
        refund_expired: args.keeper_refund_expired,
        max_in_flight: usize::from(args.keeper_max_in_flight),
        ..KeeperConfig::new(key)
    });
    Engine::run(config, shutdown_signal(), |addr| {
        tracing::info!(target: "kalypso::engine", "API at http://{addr} (OpenAPI: http://{addr}/openapi.json)");
    })
    .await
    .context("the matching engine stopped")
}
