//! `kalypso generator ...`.

use super::{relative, sent, units};
use crate::{
    context::Ctx,
    opts::{GeneratorCmd, QuoteArgs},
    output::{fields, table},
};
use alloy::primitives::Bytes;
use kalypso_sdk::Quote;
use serde::Serialize;

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
        GeneratorCmd::Status { generator } => {
            let address = ctx.account_or_signer(generator)?;
            let markets: Vec<u64> = client.markets().await?.iter().map(|m| m.id).collect();
            let info = client.generator(address, &markets).await?;
            let pay = ctx.decimals(client.deployment().payment_token).await?;
            let stake = ctx.decimals(client.deployment().staking_token).await?;
            let status = Status::from(&info);
            ctx.out.print(&status, || {
                let mut text = match &info.registration {
                    None => format!("{address} is not registered (`kalypso generator register`)\n"),
                    Some(r) => {
                        fields([
                            ("generator", address.to_string()),
                            ("reward address", r.reward_address.to_string()),
                            (
                                "compute",
                                format!("{} of {} in use", r.consumed_compute, r.declared_compute),
                            ),
                            ("stake", units(info.position.stake, stake)),
                            ("locked by tasks", units(info.position.locked, stake)),
                            ("free", units(info.free_stake, stake)),
                            ("pending unstake", units(info.position.pending, stake)),
                        ]) + "\n"
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

async fn quote(ctx: &Ctx, q: &QuoteArgs) -> anyhow::Result<(u64, Quote)> {
    let price = ctx.payment(&q.price).await?;
    Ok((
        q.market,
        Quote {
            price_per_proof: price,
            max_proof_time: q.max_proof_time.as_secs(),
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
        }
    }
}
