#![doc = include_str!("../README.md")]

pub mod evm;
pub mod fixture;
pub mod groth16;
pub mod mimc;

pub use ark_bn254::{Bn254, Fr};

/// Errors of the proving backends.
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
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
