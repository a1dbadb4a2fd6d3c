#![doc = include_str!("../README.md")]

pub mod backend;
pub mod bench;
pub mod circuit;
pub mod config;
pub mod evm;
pub mod fixture;
pub mod gnark;
pub mod groth16;
pub mod hex0x;
pub mod merkle;
pub mod mimc;
mod prover;
#[cfg(feature = "server")]
pub mod server;
pub mod setup;
pub mod webhook_api;

use std::path::{Path, PathBuf};

pub use ark_bn254::{Bn254, Fr};
pub use backend::{
    circom::{CircomConfig, CircomProver, PrivateInputs, PublicSignal, SignalSource},
    command::{CommandConfig, CommandProver, IoEncoding},
    groth16::{Groth16Config, Groth16Prover},
    webhook::{WebhookConfig, WebhookProver},
};
pub use bench::{BenchmarkReport, QuoteSuggestion};
pub use circuit::{CircuitKind, CircuitSpec};
pub use config::ProverConfig;
pub use gnark::{GnarkError, GnarkVerifyingKey};
pub use prover::{InputCheck, Proof, ProveRequest, Prover, ProverError, ProverInfo, ProverKind};
pub use setup::{CircuitKeys, KeyFiles, VerifierArtifact};

/// Errors of the circuits, the setup and the key files (the [`Prover`] trait reports [`ProverError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Constraint synthesis, key generation or proving failed inside arkworks.
    #[error("constraint system: {0}")]
    Synthesis(#[from] ark_relations::gr1cs::SynthesisError),
    /// The witness does not satisfy the circuit, so no valid proof exists for it.
    #[error("the witness does not satisfy the circuit (first failing constraint: {0})")]
    Unsatisfied(String),
    /// A 32-byte big-endian word is not a canonical BN254 scalar (it is `>= r`).
    #[error("0x{} is not a canonical BN254 scalar (>= r)", hex::encode(.0))]
    NonCanonicalScalar([u8; 32]),
    /// A byte string does not have the length its encoding requires.
    #[error("expected {expected} bytes, got {actual}")]
    InvalidLength {
        /// The length the encoding requires.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// Bytes that should encode a curve point do not.
    #[error("invalid curve point: {0}")]
    InvalidPoint(&'static str),
    /// No built-in circuit has this name.
    #[error("unknown circuit '{0}' (expected mimc or merkle)")]
    UnknownCircuit(String),
    /// The size is zero or too large for the circuit.
    #[error("{circuit} size {size} is out of range (1..={max})")]
    CircuitSize {
        /// The circuit.
        circuit: &'static str,
        /// The requested size.
        size: usize,
        /// The largest supported size.
        max: usize,
    },
    /// Reading or writing a key file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file is malformed or does not belong to the circuit it was loaded for.
    #[error("{}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

impl From<Error> for ProverError {
    fn from(e: Error) -> Self {
        match e {
            Error::NonCanonicalScalar(_) | Error::InvalidLength { .. } => {
                Self::invalid(e.to_string())
            }
            Error::Synthesis(_) | Error::Unsatisfied(_) | Error::InvalidPoint(_) => {
                Self::failed(e.to_string())
            }
            Error::UnknownCircuit(_)
            | Error::CircuitSize { .. }
            | Error::Io { .. }
            | Error::KeyFile { .. } => Self::config(e.to_string()),
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
