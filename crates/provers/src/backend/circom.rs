//! TEMPORARY (replaced by the circom-backend branch): the config types only.
#![allow(missing_docs)]
use crate::prover::ProverError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircomConfig {
    pub wasm: PathBuf,
    pub zkey: PathBuf,
    pub public: Vec<PublicSignal>,
    #[serde(default)]
    pub private_inputs: PrivateInputs,
    #[serde(default)]
    pub threads: Option<usize>,
    #[serde(default)]
    pub sample: Option<PathBuf>,
}
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicSignal {
    pub name: String,
    pub source: SignalSource,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalSource {
    Input,
    Output,
}
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivateInputs {
    #[default]
    None,
    Json,
}
pub fn unsupported() -> ProverError {
    ProverError::Unsupported {
        what: "temp".into(),
    }
}
