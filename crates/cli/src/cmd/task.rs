//! `kalypso task ...`.

use super::sent;
use crate::{context::Ctx, opts::TaskCmd};

pub(super) async fn run(ctx: &Ctx, cmd: TaskCmd) -> anyhow::Result<()> {
    ctx.signer()?;
    match cmd {
        TaskCmd::Slash { ask } => {
            let (event, tx) = ctx.client.slash(ask).await?;
            let reopened = event.reopened;
            let what = if reopened {
                "re-opened for matching"
            } else {
                "refunded (no time left)"
            };
            sent(
                ctx,
                format!(
                    "generator {} slashed for ask {ask}; ask {what}",
                    event.generator
                ),
                serde_json::json!({
                    "ask": ask,
                    "generator": event.generator,
                    "penalty": event.penalty.to_string(),
                    "heldForRequester": event.held.to_string(),
                    "toKeeper": event.toKeeper.to_string(),
                    "toTreasury": event.toTreasury.to_string(),
                    "reopened": reopened,
                }),
                tx,
            );
        }
        TaskCmd::Discard { ask } => {
            let (event, tx) = ctx.client.discard(ask).await?;
            sent(
                ctx,
                format!("task of ask {ask} discarded (penalty {})", event.penalty),
                serde_json::json!({ "ask": ask, "penalty": event.penalty.to_string(), "reopened": event.reopened }),
                tx,
            );
        }
    }
    Ok(())
}
