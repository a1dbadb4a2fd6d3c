//! `kalypso keys ...`.

use super::sent;
use crate::{context::Ctx, opts::KeysCmd, output::fields};

pub(super) async fn run(ctx: &Ctx, cmd: KeysCmd) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        KeysCmd::Show => {
            let me = client.matching_engine().await?;
            let value = serde_json::json!({ "matchingEngine": me });
            ctx.out.print(&value, || {
                fields([("Matching Engine signer", me.to_string())])
            });
        }
        KeysCmd::SetMatchingEngine { pubkey } => {
            ctx.signer()?;
            let tx = client.set_matching_engine_key(pubkey).await?;
            sent(ctx, "Matching Engine key set", serde_json::json!({}), tx);
        }
        KeysCmd::AddIvs { market, pubkey } => {
            ctx.signer()?;
            let tx = client.add_ivs_signer(market, pubkey).await?;
            sent(
                ctx,
                format!("IVS signer added to market {market}"),
                serde_json::json!({ "market": market }),
                tx,
            );
        }
        KeysCmd::RegisterGenerator { market, pubkey } => {
            ctx.signer()?;
            let tx = client.register_generator_key(market, pubkey).await?;
            sent(
                ctx,
                format!("generator key registered for market {market}"),
                serde_json::json!({ "market": market }),
                tx,
            );
        }
    }
    Ok(())
}
