//! The [`Prover`](crate::Prover) implementations: built-in Groth16 circuits and circom circuits proven
//! in-process, an external command per proof, and a prover gateway over HTTP.

pub mod circom;
pub mod command;
pub mod groth16;
pub mod webhook;

use crate::prover::ProverError;

/// The dedicated pool of `threads` threads one proof runs on (what its `computePerProof` buys), threads named
/// `<name>-<i>`.
#[cfg(feature = "parallel")]
pub(crate) fn proving_pool(
    threads: usize,
    name: &'static str,
) -> Result<std::sync::Arc<rayon::ThreadPool>, ProverError> {
    if threads == 0 {
        return Err(ProverError::config("threads must be at least 1"));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .map(std::sync::Arc::new)
        .map_err(|e| ProverError::config(format!("cannot start {threads} threads: {e}")))
}

/// Without the `parallel` feature a proof runs on the calling thread: only one thread is possible.
#[cfg(not(feature = "parallel"))]
pub(crate) fn proving_pool(threads: usize, _name: &'static str) -> Result<(), ProverError> {
    match threads {
        0 => Err(ProverError::config("threads must be at least 1")),
        1 => Ok(()),
        _ => Err(ProverError::config(
            "kalypso-provers was built without the `parallel` feature: one thread per proof",
        )),
    }
}
