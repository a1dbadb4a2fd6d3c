//! `kalypso balance ...`.

use super::{sent, units};
use crate::{context::Ctx, opts::BalanceCmd, output::fields};

pub(super) async fn run(ctx: &Ctx, cmd: BalanceCmd) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        BalanceCmd::Show { account } => {
            let account = ctx.account_or_signer(account)?;
            let claimable = client.claimable(account).await?;
            let payout = client.payout(account).await?;
            let pay = ctx.token(client.deployment().payment_token).await?;
            let stake = ctx.token(client.deployment().staking_token).await?;
            let value = serde_json::json!({
                "account": account,
                "claimable": claimable.to_string(),
                "claimableTokens": units(claimable, pay.decimals),
                "paymentToken": pay.symbol,
                "stakePayouts": payout.to_string(),
                "stakePayoutsTokens": units(payout, stake.decimals),
                "stakingToken": stake.symbol,
            });
            ctx.out.print(&value, || {
                fields([
                    ("account", account.to_string()),
                    ("claimable", pay.format(claimable)),
                    ("slashing payouts", stake.format(payout)),
                ])
            });
        }
        BalanceCmd::Deposit { amount } => {
            let me = ctx.signer()?;
            let value = ctx.payment(&amount).await?;
            let tx = client.deposit(me, value).await?;
            sent(
                ctx,
                format!("deposited {}", amount.0),
                serde_json::json!({ "amount": value.to_string() }),
                tx,
            );
        }
        BalanceCmd::Withdraw {
            amount,
            to,
            payouts,
        } => {
            let me = ctx.signer()?;
            let to = to.unwrap_or(me);
            let (token, value, tx) = if payouts {
                let value = match &amount {
                    Some(a) => ctx.staking(a).await?,
                    None => client.payout(me).await?,
                };
                let tx = client.withdraw_payout(to, value).await?;
                (client.deployment().staking_token, value, tx)
            } else {
                let value = match &amount {
                    Some(a) => ctx.payment(a).await?,
                    None => client.claimable(me).await?,
                };
                let tx = client.withdraw(to, value).await?;
                (client.deployment().payment_token, value, tx)
            };
            let token = ctx.token(token).await?;
            sent(
                ctx,
                format!("withdrew {} to {to}", token.format(value)),
                serde_json::json!({
                    "amount": value.to_string(),
                    "amountTokens": units(value, token.decimals),
                    "token": token.symbol,
                }),
                tx,
            );
        }
    }
    Ok(())
}

/// Mints `amount` of both test tokens to `to` (or the signer).
pub(super) async fn faucet(
    ctx: &Ctx,
    amount: &crate::parse::Amount,
    to: Option<alloy::primitives::Address>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let to = ctx.account_or_signer(to)?;
    let d = ctx.client.deployment();
    let mut minted = Vec::new();
    for (token, value) in [
        (d.payment_token, ctx.payment(amount).await?),
        (d.staking_token, ctx.staking(amount).await?),
    ] {
        let contract = kalypso_contracts::TestToken::new(token, ctx.client.provider().clone());
        let symbol = contract
            .symbol()
            .call()
            .await
            .unwrap_or_else(|_| token.to_string());
        let receipt = contract
            .mint(to, value)
            .send()
            .await
            .with_context(|| {
                format!("{symbol} does not mint (a faucet works with the devnet test tokens only)")
            })?
            .get_receipt()
            .await
            .with_context(|| format!("minting {symbol}"))?;
        anyhow::ensure!(
            receipt.status(),
            "minting {symbol} reverted (not a test token?)"
        );
        minted.push(serde_json::json!({ "token": token, "symbol": symbol, "amount": value.to_string(), "tx": receipt.transaction_hash }));
    }
    let value = serde_json::json!({ "to": to, "minted": minted });
    ctx.out.print(&value, || {
        format!("✓ minted {} tUSDC and {} tPOND to {to}", amount.0, amount.0)
    });
    Ok(())
}
