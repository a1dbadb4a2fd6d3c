#![doc = include_str!("../README.md")]

mod cmd;
mod context;
mod opts;
mod output;
mod parse;

use clap::Parser;
use std::{ffi::OsStr, io::IsTerminal as _, process::ExitCode};

/// Runs the command line of this process and returns its exit code: 0 on success, 1 when the command failed
/// (the error and its causes are printed to stderr), 2 for a usage error (printed by clap).
pub fn main() -> ExitCode {
    let cli = opts::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(log_colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
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

/// Whether log lines carry ANSI colours: only on a terminal, and never when `NO_COLOR` is set to anything
/// but the empty string (<https://no-color.org>). Logs sent to a file or a pipe stay plain text.
fn log_colours(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
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
    use kalypso_sdk::{
        ContractError, Error,
        contracts::{
            attestation_verifier::AttestationVerifier::AttestationVerifierErrors,
            key_registry::EntityKeyRegistry::EntityKeyRegistryErrors,
        },
    };
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
            ContractError::AttestationVerifier(AttestationVerifierErrors::UntrustedSigner(_)) => {
                Some(
                    "the attestation's signer is not trusted by this deployment's AttestationVerifier (or it was \
                 signed for another deployment): ask this deployment's attestation-verifier service \
                 (`kalypso attestation request`)",
                )
            }
            ContractError::AttestationVerifier(AttestationVerifierErrors::AttestationExpired(
                _,
            )) => Some(
                "the attestation is older than the AttestationVerifier accepts: attest a fresh document \
                 (`kalypso attestation request`)",
            ),
            ContractError::EntityKeyRegistry(EntityKeyRegistryErrors::StaleAttestation(_)) => Some(
                "the current Matching Engine key was attested later than this attestation: attest the new \
                 enclave's fresh document (`kalypso attestation request`)",
            ),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(log_colours(true, None));
        assert!(log_colours(true, Some(OsStr::new(""))));
        assert!(!log_colours(true, Some(OsStr::new("1"))));
        assert!(!log_colours(false, None));
    }
}
