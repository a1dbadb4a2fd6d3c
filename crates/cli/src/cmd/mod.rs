//! One module per role; each turns parsed arguments into SDK calls and prints the outcome.

mod ask;
mod attestation;
mod balance;
mod circuit;
mod deploy;
mod devnet;
mod engine;
mod events;
mod generator;
mod ivs;
mod keys;
mod market;
mod portal;
mod prover;
mod restaking;
mod sim;
mod task;

use crate::{
    context::Ctx,
    opts::{Cli, Command, GeneratorCmd, KeysCmd},
    output::Output,
};
use alloy::primitives::{U256, utils::format_units};
use kalypso_sdk::TxSummary;
use serde::Serialize;
use std::process::ExitCode;

pub(crate) use attestation::AttestationCmd;
pub(crate) use circuit::CircuitCmd;
pub(crate) use portal::PortalArgs;
pub(crate) use restaking::RestakingCmd;
pub(crate) use sim::SimCmd;

/// Runs one command and returns the process exit code (`prover check` exits 1 for invalid inputs).
pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Deploy(args) => deploy::run(&cli.global, &args).await?,
        Command::Prover(cmd) => return prover::run(Output::new(cli.global.json), cmd).await,
        Command::Engine(cmd) => return engine::run(&cli.global, cmd).await,
        Command::Generator(GeneratorCmd::Run(args)) => {
            generator::run_node(&cli.global, *args).await?;
        }
        Command::Ivs(cmd) => ivs::run(&cli.global, cmd).await?,
        Command::Devnet(args) => return devnet::run(&cli.global, args).await,
        Command::Keys(KeysCmd::PublicKey { from_env, key_file }) => {
            keys::public_key(&cli.global, from_env.as_deref(), key_file.as_deref())?;
        }
        Command::Sim(cmd) => return sim::run(Output::new(cli.global.json), cmd).await,
        Command::Circuit(cmd) => return circuit::run(Output::new(cli.global.json), cmd).await,
        Command::Attestation(cmd) => return attestation::run(&cli.global, cmd).await,
        Command::Portal(args) => portal::run(&cli.global, args).await?,
        command => {
            let ctx = Ctx::new(&cli.global).await?;
            match command {
                Command::Deploy(_)
                | Command::Prover(_)
                | Command::Engine(_)
                | Command::Ivs(_)
                | Command::Devnet(_)
                | Command::Portal(_)
                | Command::Keys(KeysCmd::PublicKey { .. })
                | Command::Sim(_)
                | Command::Circuit(_)
                | Command::Attestation(_)
                | Command::Generator(GeneratorCmd::Run(_)) => {
                    unreachable!("handled above")
                }
                Command::Market(cmd) => market::run(&ctx, cmd).await?,
                Command::Generator(cmd) => generator::run(&ctx, cmd).await?,
                Command::Ask(cmd) => return ask::run(&ctx, cmd).await,
                Command::Task(cmd) => task::run(&ctx, cmd).await?,
                Command::Keys(cmd) => keys::run(&ctx, cmd).await?,
                Command::Balance(cmd) => balance::run(&ctx, cmd).await?,
                Command::Restaking(cmd) => restaking::run(&ctx, &cli.global, cmd).await?,
                Command::Faucet { amount, to } => balance::faucet(&ctx, &amount, to).await?,
                Command::Events { from_block, follow } => {
                    events::run(&ctx, from_block, follow).await?
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The outcome of a transaction, as printed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sent<T: Serialize> {
    /// What was done.
    action: String,
    /// Command-specific result.
    #[serde(flatten)]
    result: T,
    /// The transaction.
    tx: TxSummary,
}

/// Prints a transaction's outcome: `✓ <action> (tx 0x…, block N, gas M)` or JSON.
pub(crate) fn sent<T: Serialize>(ctx: &Ctx, action: impl Into<String>, result: T, tx: TxSummary) {
    let out = Sent {
        action: action.into(),
        result,
        tx,
    };
    ctx.out.print(&out, || {
        format!(
            "✓ {} (tx {}, block {}, gas {})",
            out.action, out.tx.hash, out.tx.block_number, out.tx.gas_used
        )
    });
}

/// `amount` base units of a token with `decimals`, e.g. `1.5`.
pub(crate) fn units(amount: U256, decimals: u8) -> String {
    format_units(amount, decimals).map_or_else(|_| amount.to_string(), |s| trim_decimals(&s))
}

fn trim_decimals(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

/// A timestamp as seconds from `now`: `in 9m 30s`, `5s ago`.
pub(crate) fn relative(at: u64, now: u64) -> String {
    let (d, future) = if at >= now {
        (at - now, true)
    } else {
        (now - at, false)
    };
    let text = match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m {}s", d / 60, d % 60),
        3600..86_400 => format!("{}h {}m", d / 3600, (d % 3600) / 60),
        _ => format!("{}d {}h", d / 86_400, (d % 86_400) / 3600),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_amounts_and_times() {
        assert_eq!(units(U256::from(1_500_000), 6), "1.5");
        assert_eq!(units(U256::from(2_000_000), 6), "2");
        assert_eq!(relative(1_090, 1_000), "in 1m 30s");
        assert_eq!(relative(1_000, 1_005), "5s ago");
    }
}
