#![doc = include_str!("../README.md")]

mod cmd;
mod context;
mod opts;
mod output;
mod parse;

use clap::Parser;
use std::process::ExitCode;

/// Runs the command line of this process and returns its exit code: 0 on success, 1 when the command failed
/// (the error and its causes are printed to stderr), 2 for a usage error (printed by clap).
pub fn main() -> ExitCode {
    let cli = opts::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KALYPSO_LOG")
                .unwrap_or_else(|_| cli.default_log_filter().into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

#[allow(clippy::print_stderr)]
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    if let Some(hint) = hint(error) {
        eprintln!("  hint: {hint}");
    }
    ExitCode::FAILURE
}

/// What to do about the errors users meet most.
fn hint(error: &anyhow::Error) -> Option<&'static str> {
    use kalypso_sdk::{ContractError, Error};
    let sdk = error.chain().find_map(|e| e.downcast_ref::<Error>())?;
    match sdk {
        Error::MarketNotFound(_) => {
            Some("`kalypso market list` shows the markets of this deployment")
        }
        Error::AskNotFound(_) => Some("`kalypso events` lists the asks created so far"),
        Error::Reverted { error, .. } => match error.as_ref() {
            ContractError::Erc20(_) => Some(
                "the account lacks tokens or allowance; on a devnet `kalypso faucet` mints test tokens",
            ),
            _ => None,
        },
        _ => None,
    }
}
