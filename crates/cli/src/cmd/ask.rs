//! `kalypso ask ...`.

use super::{relative, sent, units};
use crate::{context::Ctx, opts::AskCmd, output::fields};
use alloy::primitives::Bytes;
use anyhow::Context as _;
use kalypso_sdk::{AskInfo, AskParams, primitives::AskState};
use serde::Serialize;

pub(super) async fn run(ctx: &Ctx, cmd: AskCmd) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        AskCmd::Create {
            market,
            inputs,
            reward,
            deadline,
            preference,
            refund_address,
            from_balance,
        } => {
            ctx.signer()?;
            let reward_units = ctx.payment(&reward).await?;
            // The next block's time: an idle node's latest block can be far behind the clock, and a
            // deadline counted from it would be shorter than asked for.
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let now = client.block_timestamp().await?.max(wall);
            let params = AskParams {
                market,
                reward: reward_units,
                deadline: now + deadline.as_secs(),
                preference,
                refund_address,
                inputs,
                secret: Bytes::new(),
                acl: Bytes::new(),
                from_balance,
            };
            let spinner = ctx.out.spinner("creating ask");
            let (id, tx) = client.create_ask(params).await?;
            spinner.finish_and_clear();
            sent(
                ctx,
                format!(
                    "ask {id} created in market {market} (reward {}, {preference}, deadline in {}s)",
                    reward.0,
                    deadline.as_secs()
                ),
                serde_json::json!({ "ask": id, "market": market }),
                tx,
            );
        }
        AskCmd::Status { ask } => {
            let info = client.ask(ask).await?;
            let now = client.block_timestamp().await?;
            let decimals = ctx.decimals(client.deployment().payment_token).await?;
            ctx.out
                .print(&Status::from(&info), || human(&info, now, decimals));
        }
        AskCmd::Proof { ask, out } => {
            let proof = client.ask_proof(ask).await?.with_context(|| {
                format!("ask {ask} has no proof yet (see `kalypso ask status {ask}`)")
            })?;
            if let Some(path) = out {
                std::fs::write(&path, &proof.proof)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            let value = serde_json::json!({
                "ask": ask,
                "generator": proof.generator,
                "price": proof.price.to_string(),
                "refund": proof.refund.to_string(),
                "proof": proof.proof,
            });
            ctx.out.print(&value, || proof.proof.to_string());
        }
        AskCmd::Cancel { ask } => {
            ctx.signer()?;
            let info = client.ask(ask).await?;
            let (tx, how) = if info.state == AskState::Expired {
                (
                    client.refund_expired(ask).await?,
                    "refunded after its deadline",
                )
            } else {
                (client.cancel_ask(ask).await?, "cancelled")
            };
            sent(
                ctx,
                format!(
                    "ask {ask} {how}; the reward is claimable by {} (`kalypso balance withdraw`)",
                    info.refund_address
                ),
                serde_json::json!({ "ask": ask, "refunded": info.reward.to_string() }),
                tx,
            );
        }
    }
    Ok(())
}

fn human(a: &AskInfo, now: u64, decimals: u8) -> String {
    let mut rows = vec![
        ("ask", a.id.to_string()),
        ("market", a.market.to_string()),
        ("state", a.state.to_string()),
        ("reward", units(a.reward, decimals)),
        ("preference", a.preference.to_string()),
        ("deadline", relative(a.deadline, now)),
        ("refund address", a.refund_address.to_string()),
        ("inputs hash", a.inputs_hash.to_string()),
    ];
    if let Some(t) = &a.task {
        rows.push(("generator", t.generator.to_string()));
        rows.push(("price", units(t.price, decimals)));
        rows.push(("task deadline", relative(t.task_deadline, now)));
    }
    fields(rows)
}

/// `ask status --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    id: u64,
    market: u64,
    state: AskState,
    reward: String,
    preference: kalypso_sdk::primitives::Preference,
    deadline: u64,
    opened_at: u64,
    refund_address: alloy::primitives::Address,
    inputs_hash: alloy::primitives::B256,
    generator: Option<alloy::primitives::Address>,
    price: Option<String>,
    task_deadline: Option<u64>,
}

impl From<&AskInfo> for Status {
    fn from(a: &AskInfo) -> Self {
        Self {
            id: a.id,
            market: a.market,
            state: a.state,
            reward: a.reward.to_string(),
            preference: a.preference,
            deadline: a.deadline,
            opened_at: a.opened_at,
            refund_address: a.refund_address,
            inputs_hash: a.inputs_hash,
            generator: a.task.as_ref().map(|t| t.generator),
            price: a.task.as_ref().map(|t| t.price.to_string()),
            task_deadline: a.task.as_ref().map(|t| t.task_deadline),
        }
    }
}
