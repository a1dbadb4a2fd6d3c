//! The built-in Groth16 circuits proven in-process (arkworks, BN254).

use std::{path::PathBuf, sync::Arc, time::Instant};

use ark_snark::SNARK;
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::{
    circuit::{CircuitKind, CircuitSpec},
    evm,
    groth16::Bn254Groth16,
    hex0x,
    prover::{InputCheck, Proof, ProveRequest, Prover, ProverError, ProverInfo, ProverKind},
    setup::{self, CircuitKeys},
};

/// Configuration of a [`Groth16Prover`] (the `groth16` variant of [`ProverConfig`](crate::ProverConfig)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Groth16Config {
    /// The built-in circuit.
    pub circuit: CircuitKind,
    /// Its size (MiMC rounds, Merkle depth).
    pub size: usize,
    /// Directory of the key files; keys missing there are made by the INSECURE seeded setup and written
    /// to it. Without it the setup runs in memory (once per process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_dir: Option<PathBuf>,
    /// Threads per proof (a dedicated pool); default: the global rayon pool (all cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Seed of the INSECURE setup (32 bytes, `0x`-hex); default [`setup::devnet_seed`]. With `keys_dir`,
    /// keys found there must come from it.
    #[serde(
        default,
        with = "hex0x::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub setup_seed: Option<Vec<u8>>,
}

impl Groth16Config {
    /// `circuit` at `size` with default keys and threads.
    pub fn new(circuit: CircuitKind, size: usize) -> Self {
        Self {
            circuit,
            size,
            keys_dir: None,
            threads: None,
            setup_seed: None,
        }
    }

    /// The circuit and size, validated.
    pub fn spec(&self) -> Result<CircuitSpec, ProverError> {
        Ok(CircuitSpec::new(self.circuit, self.size)?)
    }
}

/// A built-in circuit with its keys: checks inputs natively, proves with fresh randomness, and verifies each
/// proof before returning it.
#[derive(Debug, Clone)]
pub struct Groth16Prover {
    keys: Arc<CircuitKeys>,
    #[cfg(feature = "parallel")]
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Groth16Prover {
    /// A prover with `keys`, proving on the global thread pool.
    pub fn new(keys: Arc<CircuitKeys>) -> Self {
        Self {
            keys,
            #[cfg(feature = "parallel")]
            pool: None,
        }
    }

    /// Loads or makes the keys ([`setup::load_or_setup`]) and the thread pool of `config`.
    pub fn from_config(config: &Groth16Config) -> Result<Self, ProverError> {
        let spec = config.spec()?;
        let seed = config
            .setup_seed
            .as_deref()
            .map(|s| {
                <[u8; 32]>::try_from(s).map_err(|_| {
                    ProverError::config(format!("setup_seed must be 32 bytes, got {}", s.len()))
                })
            })
            .transpose()?;
        let keys = setup::load_or_setup(config.keys_dir.as_deref(), spec, seed)?;
        let prover = Self::new(keys);
        match config.threads {
            Some(threads) => prover.with_threads(threads),
            None => Ok(prover),
        }
    }

    /// Proves on a dedicated pool of `threads` threads (what one proof's `computePerProof` buys).
    pub fn with_threads(self, threads: usize) -> Result<Self, ProverError> {
        #[cfg(feature = "parallel")]
        {
            Ok(Self {
                pool: Some(super::proving_pool(threads, "groth16")?),
                ..self
            })
        }
        #[cfg(not(feature = "parallel"))]
        {
            super::proving_pool(threads, "groth16")?;
            Ok(self)
        }
    }

    /// The circuit and its keys.
    pub fn keys(&self) -> &Arc<CircuitKeys> {
        &self.keys
    }

    /// Threads one proof uses.
    pub fn threads(&self) -> usize {
        #[cfg(feature = "parallel")]
        {
            self.pool
                .as_ref()
                .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
        }
        #[cfg(not(feature = "parallel"))]
        {
            1
        }
    }

    fn on_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        #[cfg(feature = "parallel")]
        if let Some(pool) = &self.pool {
            return pool.install(f);
        }
        f()
    }
}

impl Prover for Groth16Prover {
    fn describe(&self) -> ProverInfo {
        let spec = self.keys.spec();
        ProverInfo {
            circuit: Some(spec.kind().as_str().to_owned()),
            size: Some(spec.size() as u64),
            constraints: Some(spec.num_constraints() as u64),
            threads: Some(self.threads() as u64),
            ..ProverInfo::new(format!("groth16/{spec}"), ProverKind::Groth16)
        }
    }

    fn check_inputs(&self, prover_data: &[u8]) -> Result<InputCheck, ProverError> {
        Ok(self.keys.spec().check_inputs(prover_data))
    }

    fn prove(&self, request: &ProveRequest) -> Result<Proof, ProverError> {
        let spec = self.keys.spec();
        if request.secret().is_some() {
            return Err(ProverError::invalid(format!(
                "the {spec} circuit takes no secret inputs"
            )));
        }
        let circuit = spec
            .statement(&request.prover_data)
            .map_err(ProverError::invalid)?;
        let signals = circuit.public_signals();
        let outputs = circuit.outputs();
        let started = Instant::now();
        // Fresh blinding factors per proof (zero knowledge); the circuit is satisfied by construction of
        // `statement`, and the proof is verified below anyway.
        let mut rng = ChaCha20Rng::from_entropy();
        let proof = self
            .on_pool(|| Bn254Groth16::prove(self.keys.proving_key(), circuit, &mut rng))
            .map_err(|e| ProverError::failed(format!("arkworks: {e}")))?;
        let proved = started.elapsed();
        if !self.keys.verify(&signals, &proof)? {
            return Err(ProverError::failed(format!(
                "the {spec} proof does not verify against its own key (corrupt proving key?)"
            )));
        }
        debug!(
            target: "kalypso::provers::groth16",
            circuit = %spec,
            ask_id = ?request.ask_id,
            prove_ms = proved.as_millis() as u64,
            "proof made"
        );
        Ok(Proof(evm::encode_proof_with_outputs(&proof, &outputs)))
    }

    fn sample_inputs(&self) -> Option<Vec<u8>> {
        Some(self.keys.spec().sample_inputs(0))
    }
}
