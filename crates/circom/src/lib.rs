#![doc = include_str!("../README.md")]

pub mod inputs;
mod msm;
mod native_field;
pub mod prover;
pub mod ptau;
pub mod snarkjs;
pub mod witness;
pub mod zkey;

use std::path::{Path, PathBuf};

pub use ark_bn254::{Bn254, Fr};
pub use ark_groth16::{Proof, VerifyingKey};
pub use inputs::Inputs;
pub use prover::CircomReduction;
use rand_core::{CryptoRng, RngCore};
pub use witness::WitnessCalculator;
pub use zkey::Zkey;

/// Errors of loading circom artifacts, computing witnesses and proving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An artifact file is malformed (the message names it).
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// The `.wasm` is not a usable circom 2 witness calculator for BN254.
    #[error("witness calculator: {0}")]
    Wasm(String),
    /// The `.zkey` is malformed or not a Groth16 BN254 key.
    #[error("zkey: {0}")]
    Zkey(String),
    /// The inputs do not fit the circuit: unknown signal, wrong number of values, missing inputs, a value
    /// that is not a number.
    #[error("inputs: {0}")]
    Input(String),
    /// The circuit rejects the inputs: an `assert` or constraint failed while computing the witness.
    #[error("the circuit rejects the inputs: {0}")]
    Witness(String),
    /// The artifacts do not belong together (witness size differs from the zkey's, wrong signal count).
    #[error("mismatched artifacts: {0}")]
    Mismatch(String),
    /// The proof does not verify against the zkey's own verifying key: the witness does not satisfy the
    /// circuit the zkey was made for.
    #[error(
        "the proof does not verify against the zkey's verifying key (the witness does not satisfy the \
         zkey's circuit: wasm and zkey of different circuits, or a corrupt zkey)"
    )]
    Unsatisfied,
    /// A snarkjs JSON file is malformed.
    #[error("snarkjs {what}: {reason}")]
    Json {
        /// Which file (`verification key`, `proof`, `public signals`).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// arkworks failed while proving.
    #[error("arkworks: {0}")]
    Synthesis(#[from] ark_relations::gr1cs::SynthesisError),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn in_file(self, path: &Path) -> Self {
        Self::File {
            path: path.to_owned(),
            source: Box::new(self),
        }
    }

    /// The error without the file it was found in.
    pub fn root(&self) -> &Self {
        match self {
            Self::File { source, .. } => source.root(),
            other => other,
        }
    }

    /// Whether the inputs are at fault (not the artifacts or the prover): [`Error::Input`] and
    /// [`Error::Witness`].
    pub fn is_input_error(&self) -> bool {
        matches!(self.root(), Self::Input(_) | Self::Witness(_))
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A circom circuit ready to prove: its witness calculator and its snarkjs zkey.
#[derive(Clone, Debug)]
pub struct CircomCircuit {
    witness: WitnessCalculator,
    zkey: Zkey,
}

impl CircomCircuit {
    /// Pairs a witness calculator with a zkey, checking that they are for circuits of the same size.
    pub fn new(witness: WitnessCalculator, zkey: Zkey) -> Result<Self> {
        if witness.witness_size() != zkey.num_vars {
            return Err(Error::Mismatch(format!(
                "the wasm computes {} witness elements but the zkey is for {}: not the same circuit",
                witness.witness_size(),
                zkey.num_vars
            )));
        }
        Ok(Self { witness, zkey })
    }

    /// Loads `<circuit>.wasm` and `<circuit>.zkey`.
    pub fn load(wasm: &Path, zkey: &Path) -> Result<Self> {
        Self::new(WitnessCalculator::from_file(wasm)?, Zkey::from_file(zkey)?)
    }

    /// The witness calculator.
    pub fn witness_calculator(&self) -> &WitnessCalculator {
        &self.witness
    }

    /// The zkey.
    pub fn zkey(&self) -> &Zkey {
        &self.zkey
    }

    /// The verifying key (snarkjs's `verification_key.json`).
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        self.zkey.verifying_key()
    }

    /// Public signals of the circuit (outputs, then public inputs).
    pub fn num_public(&self) -> usize {
        self.zkey.num_public
    }

    /// Computes the witness of `inputs`.
    pub fn witness(&self, inputs: &Inputs) -> Result<Vec<Fr>> {
        self.witness.calculate(inputs)
    }

    /// Computes the witness and proves it; returns the proof and the public signals (outputs, then public
    /// inputs, as snarkjs's `public.json`). The proof is checked against the verifying key.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        inputs: &Inputs,
        rng: &mut R,
    ) -> Result<(Proof<Bn254>, Vec<Fr>)> {
        let witness = self.witness(inputs)?;
        let proof = prover::prove(&self.zkey, &witness, rng)?;
        Ok((proof, witness[1..=self.zkey.num_public].to_vec()))
    }
}
