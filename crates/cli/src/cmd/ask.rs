//! `kalypso ask ...`.

use super::{relative, sent, units};
use crate::{
    context::{Ctx, Token},
    opts::{AskCmd, WaitArgs},
    output::fields,
};
use alloy::primitives::{Address, Bytes};
use anyhow::Context as _;
use kalypso_sdk::{
    AskInfo, AskOutcome, AskParams, ContractError,
    primitives::{AskState, SkipReason},
};
use serde::Serialize;
use std::{io::Read, path::Path, process::ExitCode};
use zeroize::Zeroizing;

pub(super) async fn run(ctx: &Ctx, cmd: AskCmd) -> anyhow::Result<ExitCode> {
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
            secret_file,
            wait,
            follow,
        } => {
            ctx.signer()?;
            if !wait && (follow.out.is_some() || follow.timeout.is_some()) {
                anyhow::bail!("--out and --timeout apply to the wait for the proof: add --wait");
            }
            let secret = secret_file.as_deref().map(read_secret).transpose()?;
            let input_bytes = inputs.len();
            let reward_units = ctx.payment(&reward).await?;
            // The next block's time: an idle node's latest block can be far behind the clock, and a
            // deadline counted from it would be shorter than asked for.
            let wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let now = client.block_timestamp().await?.max(wall);
            let mut params = AskParams {
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
            let secret_commitment = match &secret {
                Some(secret) => Some(client.seal_secret(&mut params, secret).await?),
                None => None,
            };
            let spinner = ctx.out.spinner("creating ask");
            let (id, tx) = client.create_ask(params).await?;
            spinner.finish_and_clear();
            sent(
                ctx,
                format!(
                    "ask {id} created in market {market} ({input_bytes} input bytes{}, reward {}, {preference}, \
                     deadline in {}s)",
                    secret_commitment.map_or(String::new(), |c| format!(
                        ", {} secret bytes sealed to the Matching Engine, commitment {c}",
                        secret.as_ref().map_or(0, |s| s.len())
                    )),
                    reward.0,
                    deadline.as_secs()
                ),
                serde_json::json!({
                    "ask": id,
                    "market": market,
                    "inputBytes": input_bytes,
                    "secretCommitment": secret_commitment,
                }),
                tx,
            );
            if wait {
                return wait_for(ctx, id, &follow).await;
            }
        }
        AskCmd::Wait { ask, follow } => return wait_for(ctx, ask, &follow).await,
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
        AskCmd::SelfAssign { ask } => {
            let me = ctx.signer()?;
            let spinner = ctx.out.spinner("self-assigning");
            let result = client.self_assign(ask).await;
            spinner.finish_and_clear();
            let (event, tx) = match result {
                Ok(done) => done,
                Err(e) => {
                    let reason = e.contract_error().and_then(ContractError::skip_reason);
                    let Some(reason) = reason else {
                        return Err(
                            anyhow::Error::new(e).context(format!("cannot self-assign ask {ask}"))
                        );
                    };
                    let why = not_assignable(ctx, ask, me, reason).await;
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot self-assign ask {ask}: {why}")));
                }
            };
            let decimals = ctx.decimals(client.deployment().payment_token).await?;
            let now = client.block_timestamp().await?;
            let task_deadline = event.taskDeadline.saturating_to::<u64>();
            sent(
                ctx,
                format!(
                    "ask {ask} assigned to {me} by fallback at price {}; prove it by {task_deadline} ({})",
                    units(event.price, decimals),
                    relative(task_deadline, now)
                ),
                serde_json::json!({
                    "ask": ask,
                    "market": event.marketId.saturating_to::<u64>(),
                    "generator": event.generator,
                    "price": event.price.to_string(),
                    "taskDeadline": task_deadline,
                    "computePerProof": event.computePerProof.saturating_to::<u64>(),
                    "fallbackAssignment": event.fallbackAssignment,
                }),
                tx,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit code of `ask wait` when the ask ended without a proof and its reward went back (or can go back).
const EXIT_REFUNDED: u8 = 3;
/// Exit code of `ask wait` when an IVS attested that the ask's inputs cannot be proven.
const EXIT_INVALID_INPUTS: u8 = 4;
/// Exit code of `ask wait` when `--timeout` passed first.
const EXIT_TIMEOUT: u8 = 5;

/// `ask wait`: follows `ask` to its end with progress on stderr, writes the proof, prints the outcome and returns
/// the exit code that names it.
async fn wait_for(ctx: &Ctx, ask: u64, args: &WaitArgs) -> anyhow::Result<ExitCode> {
    let client = &ctx.client;
    let token = ctx.token(client.deployment().payment_token).await?;
    let out = ctx.out;
    let on_update = |info: &AskInfo| out.note(&format!("ask {ask}: {}", progress(info, &token)));
    let waited = client.wait_for_ask(ask, args.poll_interval, on_update);
    let outcome = match args.timeout {
        Some(limit) => match tokio::time::timeout(limit, waited).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let info = client.ask(ask).await?;
                let value = serde_json::json!({
                    "ask": ask,
                    "outcome": "timeout",
                    "state": info.state,
                    "exitCode": EXIT_TIMEOUT,
                });
                ctx.out.print(&value, || {
                    format!(
                        "✗ ask {ask} is still {} after {}s (`kalypso ask wait {ask}` follows it again)",
                        info.state,
                        limit.as_secs()
                    )
                });
                return Ok(ExitCode::from(EXIT_TIMEOUT));
            }
        },
        None => waited.await,
    }
    .with_context(|| format!("cannot follow ask {ask}"))?;
    let mut value = serde_json::json!({ "ask": ask, "outcome": outcome.as_str() });
    let (human, code) = match &outcome {
        AskOutcome::Completed(p) => {
            let written = match &args.out {
                Some(path) => {
                    std::fs::write(path, &p.proof)
                        .with_context(|| format!("cannot write the proof to {}", path.display()))?;
                    value["proofFile"] = serde_json::json!(path);
                    format!("written to {} ({} bytes)", path.display(), p.proof.len())
                }
                None => format!("{} ({} bytes)", p.proof, p.proof.len()),
            };
            value["generator"] = serde_json::json!(p.generator);
            value["price"] = serde_json::json!(p.price.to_string());
            value["refund"] = serde_json::json!(p.refund.to_string());
            value["proof"] = serde_json::json!(p.proof);
            (
                format!(
                    "✓ ask {ask} completed by {} at {} ({} refunded); proof {written}",
                    p.generator,
                    token.format(p.price),
                    token.format(p.refund)
                ),
                0,
            )
        }
        AskOutcome::InvalidInputs(s) => {
            value["generator"] = serde_json::json!(s.generator);
            value["ivsSigner"] = serde_json::json!(s.signer);
            value["price"] = serde_json::json!(s.price.to_string());
            value["refund"] = serde_json::json!(s.refund.to_string());
            (
                format!(
                    "✗ ask {ask}: its inputs cannot be proven (attested by IVS signer {}); {} paid to generator \
                     {}, {} refunded",
                    s.signer,
                    token.format(s.price),
                    s.generator,
                    token.format(s.refund)
                ),
                EXIT_INVALID_INPUTS,
            )
        }
        AskOutcome::Refunded(event) => {
            let how = match event {
                Some(e) => {
                    value["refunded"] = serde_json::json!(e.amount.to_string());
                    value["cancelled"] = serde_json::json!(e.cancelled);
                    value["refundAddress"] = serde_json::json!(e.refundAddress);
                    format!(
                        "{} {} to the balance of {} (`kalypso balance withdraw`)",
                        if e.cancelled {
                            "cancelled; refunded"
                        } else {
                            "ended without a proof; refunded"
                        },
                        token.format(e.amount),
                        e.refundAddress
                    )
                }
                None => "ended without a proof; its reward was refunded".into(),
            };
            (format!("✗ ask {ask} {how}"), EXIT_REFUNDED)
        }
        AskOutcome::Expired => (
            format!(
                "✗ ask {ask} expired unassigned: no generator can take it any more; `kalypso ask cancel {ask}` \
                 refunds its reward"
            ),
            EXIT_REFUNDED,
        ),
    };
    value["exitCode"] = serde_json::json!(code);
    ctx.out.print(&value, || human);
    Ok(ExitCode::from(code))
}

/// One progress line: where the ask stands.
fn progress(info: &AskInfo, token: &Token) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let reopened = if info.reopens > 0 {
        format!(
            " (re-opened {} time(s) after missed or given-up tasks)",
            info.reopens
        )
    } else {
        String::new()
    };
    match (info.state, &info.task) {
        (AskState::Created, _) => format!(
            "open, waiting for a generator{reopened}; deadline {}",
            relative(info.deadline, now)
        ),
        (AskState::Assigned, Some(t)) => format!(
            "assigned to {} at {}; proof due {}{reopened} (a missed task deadline is slashed by a keeper, \
             `kalypso task slash {}`, and the ask re-opens)",
            t.generator,
            token.format(t.price),
            relative(t.task_deadline, now),
            info.id
        ),
        (state, _) => format!("{state}"),
    }
}

/// Which rule kept `generator` from taking `ask`, with the numbers that broke it (read from the chain; a
/// failed read leaves just the rule).
async fn not_assignable(ctx: &Ctx, ask: u64, generator: Address, reason: SkipReason) -> String {
    let client = &ctx.client;
    let now = client.block_timestamp().await.ok();
    let info = client.ask(ask).await.ok();
    let quote = match &info {
        Some(a) => client.quote(a.market, generator).await.ok().flatten(),
        None => None,
    };
    let decimals = ctx
        .decimals(client.deployment().payment_token)
        .await
        .unwrap_or(0);
    match reason {
        SkipReason::FallbackNotOpen => match (client.fallback_opens_at(ask).await, now) {
            (Ok(Some(at)), Some(now)) => format!(
                "the fallback opens at {at} ({}): the ask must stay unassigned for its market's fallback delay \
                 since it was created or last re-opened",
                relative(at, now)
            ),
            (Ok(None), _) => {
                "its market has no fallback (confidential, or a zero fallback delay): only the Matching \
                 Engine assigns it"
                    .into()
            }
            _ => "the fallback is not open yet for this ask".into(),
        },
        SkipReason::AskNotOpen => match &info {
            Some(a) => format!("the ask is {} (only an unassigned ask can be taken)", a.state),
            None => "the ask is not open".into(),
        },
        SkipReason::AskExpired => "the ask's deadline has passed".into(),
        SkipReason::MarketNotActive => "the market is frozen".into(),
        SkipReason::NotJoined => format!(
            "{generator} has no quote in the market (`kalypso generator join`)"
        ),
        SkipReason::PriceAboveReward => match (&info, &quote) {
            (Some(a), Some(q)) => format!(
                "your price {} is above the ask's reward {}",
                units(q.price_per_proof, decimals),
                units(a.reward, decimals)
            ),
            _ => "your price is above the ask's reward".into(),
        },
        SkipReason::DeadlineTooSoon => match (&info, &quote, now) {
            (Some(a), Some(q), Some(now)) => format!(
                "your maxProofTime {}s does not fit: the ask's deadline is {}",
                q.max_proof_time,
                relative(a.deadline, now)
            ),
            _ => "your maxProofTime does not fit the ask's deadline".into(),
        },
        SkipReason::InsufficientCompute => {
            "not enough free compute (tasks in progress hold it; `kalypso generator status`)".into()
        }
        SkipReason::InsufficientStake => {
            "not enough free stake to lock the market's slashing penalty (`kalypso generator stake`)".into()
        }
        SkipReason::BelowMinStake => "your stake is below the market's minimum stake".into(),
        SkipReason::NoEnclaveKey => "no enclave key registered for the market".into(),
        SkipReason::CollateralStale => {
            "only your restaked stake could cover the penalty, and its latest snapshot from the L1 is stale \
             (the relayers have not bridged the current epoch; `kalypso restaking status`)"
                .into()
        }
        SkipReason::BeyondSlashWindow => {
            "only your restaked stake could cover the penalty, and the task would be due after the L1 vault can \
             still be slashed for the current epoch's stake"
                .into()
        }
        SkipReason::PenaltyBelowMinLock => {
            "only your restaked stake could cover the penalty, and the market's penalty is below the smallest \
             amount the restaking pool locks (dust penalties need native stake)"
                .into()
        }
        SkipReason::None => "no reason given".into(),
    }
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

/// The secret inputs of a confidential ask, from a file or stdin (`-`), in memory that is wiped when dropped.
fn read_secret(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut source: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .with_context(|| format!("reading the secret from {}", path.display()))?,
        )
    };
    let mut secret = Zeroizing::new(Vec::new());
    source
        .read_to_end(&mut secret)
        .with_context(|| format!("reading the secret from {}", path.display()))?;
    if secret.is_empty() {
        anyhow::bail!("the secret in {} is empty", path.display());
    }
    Ok(secret)
}
