//! `kalypso ivs run`: the input verification service of a market.

use super::{generator::market_prover, prover, shutdown_signal};
use crate::{
    context::{self, Ctx},
    opts::{GlobalArgs, IvsCmd},
    output::fields,
};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context as _;
use kalypso_generator::ivs::Ivs;
use std::sync::Arc;

pub(super) async fn run(global: &GlobalArgs, cmd: IvsCmd) -> anyhow::Result<()> {
    let IvsCmd::Run(args) = cmd;
    let ctx = Ctx::new(global).await?;
    let key: PrivateKeySigner = match &args.ivs_key {
        Some(key) => key
            .0
            .parse()
            .context("--ivs-key is not a valid secp256k1 key")?,
        None => context::signer(global)?.context(
            "the IVS signs attestations: pass --ivs-key or set KALYPSO_PRIVATE_KEY to the IVS key",
        )?,
    };
    let market = args.market;
    ctx.client.market(market).await?;
    let config = market_prover(&ctx, market, &args.prover).await?;
    let prover = prover::build_config(ctx.out, config)
        .await
        .context("cannot build the market's prover")?;
    let pubkey = format!("0x{}", alloy::hex::encode(key.public_key()));
    let ivs = Arc::new(Ivs::new(
        ctx.client.clone(),
        market,
        prover.clone(),
        key,
        usize::try_from(args.max_concurrent).unwrap_or(1),
    ));
    let registered = ivs
        .registered()
        .await
        .context("cannot read the IVS keys of the market")?;
    if !registered {
        tracing::warn!(
            target: "kalypso::ivs",
            signer = %ivs.signer(),
            "the IVS key is not registered for market {market}: attestations will be rejected until the market \
             creator runs `kalypso keys add-ivs {market} {pubkey}`"
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let info = serde_json::json!({
        "listening": format!("http://{addr}"),
        "market": market,
        "signer": ivs.signer(),
        "publicKey": pubkey,
        "registered": registered,
        "prover": prover.describe(),
    });
    ctx.out.print(&info, || {
        format!(
            "IVS of market {market} listening on http://{addr} (POST /v1/check, GET /health; Ctrl-C to stop)\n{}",
            fields([
                ("signer", ivs.signer().to_string()),
                ("public key", pubkey.clone()),
                ("registered", registered.to_string()),
                ("prover", prover.describe().name),
            ])
        )
    });
    ivs.serve(listener, shutdown_signal())
        .await
        .context("the IVS stopped")
}
