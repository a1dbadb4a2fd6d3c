//! **INSECURE** deterministic Groth16 setup of the built-in circuits, their key files, and the in-process
//! key cache.
//!
//! [`insecure_setup`] derives the toxic waste from a public seed ([`crate::groth16`] explains why that is
//! devnet-only): by default [`devnet_seed`] of the circuit and size, so everyone who runs the setup of
//! `merkle-20` gets the same keys, and a generator's proving key matches the verifying key a market
//! deployed. A production market uses keys from a ceremony instead (load them with
//! [`CircuitKeys::load`]: the files do not need a seed).
//!
//! Files in a key directory, per circuit and size:
//!
//! - `<circuit>-<size>.pk`: the proving key, for generators (arkworks uncompressed, behind a small header);
//! - `<circuit>-<size>.vk.json`: a [`VerifierArtifact`], everything the `Groth16Verifier` constructor takes
//!   (verifying key, `numInputs`, sample input and proof) in the layout of the committed fixture, so
//!   `kalypso deploy --sample-market <dir>/<circuit>-<size>.vk.json` deploys a market for it.

use std::{
    collections::HashMap,
    fs::File,
    io::{BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
    sync::{Arc, LazyLock, Mutex, PoisonError},
};

use ark_groth16::{PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, prepare_verifying_key};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use tracing::{debug, info};

use crate::{
    Bn254, Error, Fr, Result,
    circuit::CircuitSpec,
    evm,
    groth16::{Bn254Groth16, insecure_devnet_setup, prove_seeded},
    hex0x,
};

/// Domain separator of [`devnet_seed`].
pub const DEVNET_SEED_DOMAIN: &[u8] = b"kalypso/devnet/groth16/setup/v1/";

/// First bytes of a proving-key file.
const PK_MAGIC: &[u8; 16] = b"KALYPSO-G16-PK1\n";

/// The default setup seed of `spec`: `keccak256(DEVNET_SEED_DOMAIN ‖ "<circuit>-<size>")`. Public, hence
/// INSECURE.
pub fn devnet_seed(spec: &CircuitSpec) -> [u8; 32] {
    Keccak256::new()
        .chain_update(DEVNET_SEED_DOMAIN)
        .chain_update(spec.to_string())
        .finalize()
        .into()
}

/// What the on-chain verifier of a circuit needs: the `Groth16Verifier` constructor arguments (`vk`,
/// `numInputs`, `inputs` as sample input, `proof` as sample proof) and where they came from. This is the
/// `<circuit>-<size>.vk.json` file; the layout extends `contracts/test/fixtures/groth16_mimc.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifierArtifact {
    /// Provenance, including the INSECURE-setup warning.
    pub description: String,
    /// Circuit name (`mimc`, `merkle`).
    pub circuit: String,
    /// Circuit size (rounds, depth).
    pub size: usize,
    /// R1CS constraints.
    pub num_constraints: usize,
    /// Public signals: inputs then outputs.
    pub num_public_signals: usize,
    /// Signals the requester supplies (the constructor's `numInputs`).
    pub num_inputs: usize,
    /// Verifying key in the constructor layout ([`evm::encode_verifying_key`]).
    #[serde(with = "hex0x")]
    pub vk: Vec<u8>,
    /// A valid prover data (the constructor's `sampleInput`).
    #[serde(with = "hex0x")]
    pub inputs: Vec<u8>,
    /// Public outputs of the sample, one word each.
    pub outputs: Vec<String>,
    /// Proof of the sample followed by its outputs (the constructor's `sampleProof`).
    #[serde(with = "hex0x")]
    pub proof: Vec<u8>,
    /// The seed of the INSECURE setup, when the keys came from one.
    #[serde(
        default,
        with = "hex0x::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub setup_seed: Option<Vec<u8>>,
}

impl VerifierArtifact {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // A struct of strings, integers and byte strings always serializes.
        let mut json = serde_json::to_string_pretty(self).expect("plain struct serializes");
        json.push('\n');
        json
    }
}

/// The proving and verifying keys of one built-in circuit, with its verifier artifact.
pub struct CircuitKeys {
    spec: CircuitSpec,
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
    artifact: VerifierArtifact,
}

impl std::fmt::Debug for CircuitKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitKeys")
            .field("spec", &self.spec)
            .field("vk", &hex0x::encode(&self.artifact.vk))
            .finish_non_exhaustive()
    }
}

/// Where the key files of a circuit live in a key directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFiles {
    /// `<dir>/<circuit>-<size>.pk`.
    pub proving_key: PathBuf,
    /// `<dir>/<circuit>-<size>.vk.json`.
    pub verifier: PathBuf,
}

impl KeyFiles {
    /// The files of `spec` in `dir`.
    pub fn new(dir: &Path, spec: &CircuitSpec) -> Self {
        Self {
            proving_key: dir.join(format!("{spec}.pk")),
            verifier: dir.join(format!("{spec}.vk.json")),
        }
    }
}

/// INSECURE: keys of `spec` whose toxic waste is derived from the public `seed`, with a sample proof for
/// the verifier's self-check. Deterministic: the same seed gives byte-identical files.
pub fn insecure_setup(spec: CircuitSpec, seed: [u8; 32]) -> Result<CircuitKeys> {
    let started = std::time::Instant::now();
    let circuit = spec.sample_circuit();
    let (pk, vk) = insecure_devnet_setup(circuit.clone(), seed)?;
    let sample_seed: [u8; 32] = Keccak256::digest(seed).into();
    let proof = prove_seeded(&pk, circuit.clone(), sample_seed)?;
    let outputs = circuit.outputs();
    let artifact = VerifierArtifact {
        description: format!(
            "Groth16/BN254 keys of the kalypso-provers circuit {spec} ({} constraints). INSECURE setup: the toxic \
             waste is derived from the public setupSeed, anyone can forge proofs; devnet and tests only.",
            spec.num_constraints()
        ),
        circuit: spec.kind().as_str().to_owned(),
        size: spec.size(),
        num_constraints: spec.num_constraints(),
        num_public_signals: spec.num_public_signals(),
        num_inputs: spec.kind().num_inputs(),
        vk: evm::encode_verifying_key(&vk),
        inputs: spec.sample_inputs(0),
        outputs: outputs
            .iter()
            .map(|y| hex0x::encode(evm::encode_fr(y)))
            .collect(),
        proof: evm::encode_proof_with_outputs(&proof, &outputs),
        setup_seed: Some(seed.to_vec()),
    };
    info!(
        target: "kalypso::provers::setup",
        circuit = %spec,
        constraints = spec.num_constraints(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "INSECURE seeded setup done"
    );
    Ok(CircuitKeys::new(spec, pk, artifact))
}

impl CircuitKeys {
    fn new(spec: CircuitSpec, pk: ProvingKey<Bn254>, artifact: VerifierArtifact) -> Self {
        let pvk = prepare_verifying_key(&pk.vk);
        Self {
            spec,
            pk,
            pvk,
            artifact,
        }
    }

    /// The circuit these keys are for.
    pub fn spec(&self) -> CircuitSpec {
        self.spec
    }

    /// The proving key.
    pub fn proving_key(&self) -> &ProvingKey<Bn254> {
        &self.pk
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.pk.vk
    }

    /// The verifier's data: `Groth16Verifier` constructor arguments and provenance.
    pub fn verifier_artifact(&self) -> &VerifierArtifact {
        &self.artifact
    }

    /// Native verification of `proof` against the public signals (inputs then outputs).
    pub fn verify(&self, public_signals: &[Fr], proof: &Proof<Bn254>) -> Result<bool> {
        let expected = self.spec.num_public_signals();
        if public_signals.len() != expected {
            return Err(Error::InvalidLength {
                expected,
                actual: public_signals.len(),
            });
        }
        Ok(Bn254Groth16::verify_proof(
            &self.pvk,
            proof,
            public_signals,
        )?)
    }

    /// Native verification of a submission exactly as the `Groth16Verifier` contract sees it: the signals
    /// are the first `numInputs` words of `prover_data`, then the output words after the 256-byte proof.
    /// `Ok(false)` for a proof that does not verify; an error for bytes that do not parse (the contract
    /// reverts or returns false for those).
    pub fn verify_submission(&self, prover_data: &[u8], proof: &[u8]) -> Result<bool> {
        let num_inputs = self.spec.kind().num_inputs();
        let inputs_len = evm::WORD_LEN * num_inputs;
        if prover_data.len() < inputs_len {
            return Err(Error::InvalidLength {
                expected: inputs_len,
                actual: prover_data.len(),
            });
        }
        let mut signals = prover_data[..inputs_len]
            .chunks_exact(evm::WORD_LEN)
            .map(evm::decode_fr)
            .collect::<Result<Vec<_>>>()?;
        let (proof, outputs) =
            evm::decode_proof_with_outputs(proof, self.spec.kind().num_outputs())?;
        signals.extend(outputs);
        self.verify(&signals, &proof)
    }

    /// Writes the key files of this circuit into `dir` (created if missing). Each file is written to a
    /// temporary name first and renamed, so a concurrent reader never sees half a key.
    pub fn save(&self, dir: &Path) -> Result<KeyFiles> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let files = KeyFiles::new(dir, &self.spec);
        write_atomically(&files.verifier, |w| {
            w.write_all(self.artifact.to_json().as_bytes())
                .map_err(|e| Error::io(&files.verifier, e))
        })?;
        write_atomically(&files.proving_key, |w| {
            w.write_all(PK_MAGIC)
                .map_err(|e| Error::io(&files.proving_key, e))?;
            let header = self.spec.to_string();
            header
                .serialize_uncompressed(&mut *w)
                .and_then(|()| self.pk.serialize_uncompressed(&mut *w))
                .map_err(|e| Error::KeyFile {
                    path: files.proving_key.clone(),
                    reason: e.to_string(),
                })
        })?;
        debug!(target: "kalypso::provers::setup", circuit = %self.spec, dir = %dir.display(), "keys written");
        Ok(files)
    }

    /// Reads the key files of `spec` from `dir` and checks that they belong together: the header names
    /// `spec`, and the verifying key inside the proving key is the one in the verifier artifact.
    ///
    /// The curve points are not re-validated (that would take longer than a proof): the files are the
    /// operator's own, and every proof is verified before it is returned, so a corrupt key gives a
    /// [`ProverError::Failed`](crate::ProverError::Failed), never a bad submission.
    pub fn load(dir: &Path, spec: CircuitSpec) -> Result<Self> {
        let files = KeyFiles::new(dir, &spec);
        let text =
            std::fs::read_to_string(&files.verifier).map_err(|e| Error::io(&files.verifier, e))?;
        let artifact: VerifierArtifact =
            serde_json::from_str(&text).map_err(|e| Error::KeyFile {
                path: files.verifier.clone(),
                reason: e.to_string(),
            })?;
        if (artifact.circuit.as_str(), artifact.size) != (spec.kind().as_str(), spec.size()) {
            return Err(Error::KeyFile {
                path: files.verifier,
                reason: format!("holds {}-{}, not {spec}", artifact.circuit, artifact.size),
            });
        }

        let bad_pk = |reason: String| Error::KeyFile {
            path: files.proving_key.clone(),
            reason,
        };
        let file = File::open(&files.proving_key).map_err(|e| Error::io(&files.proving_key, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; PK_MAGIC.len()];
        reader
            .read_exact(&mut magic)
            .map_err(|e| Error::io(&files.proving_key, e))?;
        if &magic != PK_MAGIC {
            return Err(bad_pk("not a kalypso proving-key file".into()));
        }
        let header = String::deserialize_uncompressed(&mut reader)
            .map_err(|e| bad_pk(format!("header: {e}")))?;
        if header != spec.to_string() {
            return Err(bad_pk(format!("holds {header}, not {spec}")));
        }
        let pk = ProvingKey::<Bn254>::deserialize_uncompressed_unchecked(&mut reader)
            .map_err(|e| bad_pk(e.to_string()))?;
        if evm::encode_verifying_key(&pk.vk) != artifact.vk {
            return Err(bad_pk(format!(
                "its verifying key differs from the one in {}",
                files.verifier.display()
            )));
        }
        Ok(Self::new(spec, pk, artifact))
    }
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        w.flush().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where cached keys came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeySource {
    Dir(PathBuf),
    Seed([u8; 32]),
}

type Slot = Arc<Mutex<Option<Arc<CircuitKeys>>>>;

/// Keys already loaded or made by this process, so building another prover for the same circuit does not
/// redo the setup. One slot per circuit and source; a slot's lock is held while its keys are made, so
/// concurrent builders wait for one setup instead of running several.
static KEY_CACHE: LazyLock<Mutex<HashMap<(CircuitSpec, KeySource), Slot>>> =
    LazyLock::new(Default::default);

/// The keys of `spec`, from this process's cache, else from `dir`, else from a new setup.
///
/// - `dir` given and holding the files: they are loaded (and must come from `seed`, when one is given);
/// - `dir` given without them: INSECURE setup from `seed` (default [`devnet_seed`]), written to `dir`;
/// - no `dir`: INSECURE setup in memory.
pub fn load_or_setup(
    dir: Option<&Path>,
    spec: CircuitSpec,
    seed: Option<[u8; 32]>,
) -> Result<Arc<CircuitKeys>> {
    let source = match dir {
        Some(dir) => KeySource::Dir(std::path::absolute(dir).map_err(|e| Error::io(dir, e))?),
        None => KeySource::Seed(seed.unwrap_or_else(|| devnet_seed(&spec))),
    };
    let slot = KEY_CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry((spec, source))
        .or_default()
        .clone();
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    let keys = match &*guard {
        Some(keys) => keys.clone(),
        None => {
            let made = match dir {
                Some(dir) if KeyFiles::new(dir, &spec).proving_key.exists() => {
                    CircuitKeys::load(dir, spec)?
                }
                Some(dir) => {
                    let made = insecure_setup(spec, seed.unwrap_or_else(|| devnet_seed(&spec)))?;
                    made.save(dir)?;
                    made
                }
                None => insecure_setup(spec, seed.unwrap_or_else(|| devnet_seed(&spec)))?,
            };
            guard.insert(Arc::new(made)).clone()
        }
    };
    drop(guard);
    if let (Some(seed), Some(dir)) = (seed, dir)
        && keys.artifact.setup_seed.as_deref() != Some(&seed[..])
    {
        return Err(Error::KeyFile {
            path: KeyFiles::new(dir, &spec).verifier,
            reason: format!(
                "the keys come from setup seed {}, not the requested {}",
                keys.artifact
                    .setup_seed
                    .as_deref()
                    .map_or_else(|| "none (a ceremony?)".to_owned(), hex0x::encode),
                hex0x::encode(seed)
            ),
        });
    }
    Ok(keys)
}

/// Forgets every cached key (they stay alive while provers hold them).
pub fn clear_key_cache() {
    KEY_CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}
