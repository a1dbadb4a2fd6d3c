//! `kalypso portal`: the marketplace in a browser, over a matching engine's API and the chain.

use crate::opts::GlobalArgs;
use anyhow::Context as _;
use clap::Args;
use kalypso_portal::{Portal, PortalConfig};
use kalypso_sdk::Deployment;
use std::net::SocketAddr;

/// `kalypso portal`.
#[derive(Debug, Args)]
pub(crate) struct PortalArgs {
    /// Base URL of the matching engine's API (`kalypso engine run --listen`).
    #[arg(
        long,
        env = "KALYPSO_ENGINE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    engine: String,
    /// Address to serve the portal on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
}

pub(super) async fn run(global: &GlobalArgs, args: PortalArgs) -> anyhow::Result<()> {
    // With --deployment the portal starts without the chain (it says so in the page until the chain answers).
    let deployment = match &global.deployment {
        Some(path) => {
            Deployment::load(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        None => super::engine::connect(global).await?.1,
    };
    let portal = Portal::new(PortalConfig {
        engine: args.engine.clone(),
        rpc_url: global.rpc_url.clone(),
        deployment,
    })?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(target: "kalypso::portal", engine = %args.engine, "portal at http://{addr}");
    portal
        .serve(listener, super::shutdown_signal())
        .await
        .context("the portal stopped")
}
