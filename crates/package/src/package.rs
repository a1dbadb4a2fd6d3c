//! A package on disk: open, check offline, pack, scaffold.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof, VerifyingKey};
use ark_serialize::CanonicalDeserialize;
use kalypso_circom::{Inputs, snarkjs};
use kalypso_provers::{
    CircomConfig, PrivateInputs, ProverConfig, PublicSignal, SignalSource, VerifierArtifact,
    backend::circom,
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    Error, Result, layout,
    manifest::{
        CircomArtifacts, Framework, MANIFEST, Manifest, ProvingSystem, PublicLayout, Sample,
    },
    sha256,
};

/// A circuit package in a directory.
#[derive(Clone, Debug)]
pub struct Package {
    dir: PathBuf,
    manifest: Manifest,
    sha256: [u8; 32],
}

/// One file of a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Its path in the package.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// sha256 (hex).
    pub sha256: String,
}

/// What [`Package::check`] established.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// The package's name.
    pub name: String,
    /// Its framework.
    pub framework: Framework,
    /// sha256 of `circuit.toml` (hex): the package's identity.
    pub sha256: String,
    /// Public signals.
    pub num_public_signals: usize,
    /// Of which the ask supplies.
    pub num_inputs: usize,
    /// Of which the proof carries.
    pub num_outputs: usize,
    /// R1CS constraints, when the artifacts say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<u64>,
    /// Every file with its hash (all verified against `[files]`).
    pub files: Vec<FileEntry>,
    /// The verifier's constructor arguments (its sample is the package's sample).
    #[serde(skip)]
    pub verifier: VerifierArtifact,
}

impl Package {
    /// Reads and validates `dir/circuit.toml` (files are checked by [`Self::verify_files`] and
    /// [`Self::check`]).
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::manifest(format!("{} is not UTF-8", path.display())))?;
        Ok(Self {
            dir: dir.to_owned(),
            manifest: Manifest::parse(text)?,
            sha256: sha256(&bytes),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// sha256 of `circuit.toml`: the package's identity, which market metadata carries.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// [`Self::sha256`] as hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Path of a package file.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Checks every file the manifest refers to, and every file in `[files]`, against its recorded sha256;
    /// [`Error::NotPacked`] when one has no hash.
    pub fn verify_files(&self) -> Result<Vec<FileEntry>> {
        for file in self.manifest.referenced_files() {
            if !self.manifest.files.contains_key(file) {
                return Err(Error::NotPacked(file.to_owned()));
            }
        }
        let mut entries = Vec::new();
        for (file, expected) in &self.manifest.files {
            let entry = hash_file(&self.path(file), file)?;
            if !entry
                .sha256
                .eq_ignore_ascii_case(expected.trim_start_matches("0x"))
            {
                return Err(Error::HashMismatch {
                    what: file.clone(),
                    expected: expected.clone(),
                    actual: entry.sha256,
                });
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// The verifying key in arkworks form (framework order of public signals).
    pub fn verifying_key(&self) -> Result<VerifyingKey<Bn254>> {
        let file = &self.manifest.verifying_key;
        match self.manifest.framework {
            Framework::Circom => snarkjs::parse_verification_key(&self.read_json(file)?)
                .map_err(|e| Error::artifact(file, e)),
            Framework::Arkworks => {
                VerifyingKey::<Bn254>::deserialize_compressed(&self.read(file)?[..])
                    .map_err(|e| Error::artifact(file, format!("arkworks verifying key: {e}")))
            }
            Framework::Gnark => kalypso_provers::gnark::parse_verifying_key(&self.read(file)?)
                .map(|k| k.vk)
                .map_err(|e| Error::artifact(file, e)),
        }
    }

    /// The sample's public signals (framework order) and proof.
    pub fn sample(&self) -> Result<(Vec<Fr>, Proof<Bn254>)> {
        let Sample { proof, public, .. } = &self.manifest.sample;
        let signals = match self.manifest.framework {
            // gnark's `publicWitness.WriteTo` bytes, or the snarkjs-style JSON list.
            Framework::Gnark if serde_json::from_slice::<Value>(&self.read(public)?).is_err() => {
                kalypso_provers::gnark::parse_public_witness(&self.read(public)?)
                    .map_err(|e| Error::artifact(public, e))?
            }
            _ => snarkjs::parse_public_signals(&self.read_json(public)?)
                .map_err(|e| Error::artifact(public, e))?,
        };
        let proof_value = match self.manifest.framework {
            Framework::Circom => snarkjs::parse_proof(&self.read_json(proof)?)
                .map_err(|e| Error::artifact(proof, e))?,
            Framework::Arkworks => {
                Proof::<Bn254>::deserialize_compressed(&self.read(proof)?[..])
                    .map_err(|e| Error::artifact(proof, format!("arkworks proof: {e}")))?
            }
            Framework::Gnark => kalypso_provers::gnark::parse_proof(&self.read(proof)?)
                .map_err(|e| Error::artifact(proof, e))?,
        };
        Ok((signals, proof_value))
    }

    /// Checks the package offline: every hash, the key, the sample proof against the key, the signal layout
    /// against the sample, and for circom that the wasm, the zkey and the key belong together. Returns what
    /// the verifier will be deployed with.
    pub fn check(&self) -> Result<CheckReport> {
        let files = self.verify_files()?;
        let m = &self.manifest;
        let ProvingSystem::Groth16Bn254 = m.proving_system;
        let vk = self.verifying_key()?;
        let num_public = vk.gamma_abc_g1.len().saturating_sub(1);
        if num_public != m.public.signals.len() {
            return Err(Error::artifact(
                &m.verifying_key,
                format!(
                    "the key has {num_public} public signals but public.signals lists {}",
                    m.public.signals.len()
                ),
            ));
        }
        let (public, proof) = self.sample()?;
        if public.len() != num_public {
            return Err(Error::artifact(
                &m.sample.public,
                format!("{} public signals, the key has {num_public}", public.len()),
            ));
        }
        let pvk = ark_groth16::prepare_verifying_key(&vk);
        let verified = Groth16::<Bn254>::verify_proof(&pvk, &proof, &public)
            .map_err(|e| Error::artifact(&m.sample.proof, e))?;
        if !verified {
            return Err(Error::SampleRejected);
        }
        let (tail, constraints) = match (m.framework, &m.circom) {
            (Framework::Circom, Some(artifacts)) => self.check_circom(artifacts, &vk, &public)?,
            _ => (Vec::new(), None),
        };
        let verifier =
            layout::verifier_artifact(&m.name, &vk, &m.public.signals, &public, &proof, &tail)?;
        Ok(CheckReport {
            name: m.name.clone(),
            framework: m.framework,
            sha256: self.sha256_hex(),
            num_public_signals: num_public,
            num_inputs: m.public.num_inputs(),
            num_outputs: m.public.num_outputs(),
            constraints,
            files,
            verifier: VerifierArtifact {
                num_constraints: constraints.map_or(0, |c| c as usize),
                ..verifier
            },
        })
    }

    /// circom: the zkey's key is the package's key, the wasm computes the zkey's witness, and the sample
    /// input gives the sample's public signals with the inputs where the layout says. Returns the sample's
    /// private tail and the constraint count.
    fn check_circom(
        &self,
        artifacts: &CircomArtifacts,
        vk: &VerifyingKey<Bn254>,
        public: &[Fr],
    ) -> Result<(Vec<u8>, Option<u64>)> {
        // Through the backend's per-process cache: the prover built for this package reuses the parsed zkey.
        let circuit =
            circom::load_circuit(&self.path(&artifacts.wasm), &self.path(&artifacts.zkey))
                .map_err(|e| Error::artifact(&artifacts.zkey, e))?;
        if circuit.verifying_key() != vk {
            return Err(Error::artifact(
                &artifacts.zkey,
                format!(
                    "its verifying key differs from {}: proofs made with it would not verify",
                    self.manifest.verifying_key
                ),
            ));
        }
        let input_file = self.manifest.sample.input.as_deref().unwrap_or_default();
        let input_json = self.read_json(input_file)?;
        let config = self.circom_config(artifacts);
        let (inputs, _) = circom::split_input_json(&config, &input_json)
            .map_err(|e| Error::artifact(input_file, e))?;
        // The sample's private tail of the prover data (none when the private inputs come from a secret).
        let tail = match config.private_inputs {
            PrivateInputs::Json => circom::prover_data(&config, &input_json)
                .map_err(|e| Error::artifact(input_file, e))?
                .split_off(32 * inputs.len()),
            PrivateInputs::None | PrivateInputs::Secret => Vec::new(),
        };
        let (expected_inputs, _) = layout::split(&self.manifest.public.signals, public)?;
        if inputs != expected_inputs {
            return Err(Error::artifact(
                input_file,
                "the input signals public.signals names do not have the sample's public values: check the \
                 order and the names of the public signals",
            ));
        }
        let all = Inputs::from_json(&input_json).map_err(|e| Error::artifact(input_file, e))?;
        let witness = circuit
            .witness(&all)
            .map_err(|e| Error::artifact(input_file, e))?;
        if witness.get(1..=public.len()) != Some(public) {
            return Err(Error::artifact(
                input_file,
                format!(
                    "its witness's public signals differ from {}",
                    self.manifest.sample.public
                ),
            ));
        }
        Ok((tail, Some(circuit.zkey().num_constraints() as u64)))
    }

    /// The prover a generator runs for this package: native for circom, else the manifest's `[prover]`.
    pub fn prover_config(&self) -> Result<ProverConfig> {
        let m = &self.manifest;
        match (&m.circom, &m.prover) {
            (_, Some(prover)) => Ok(prover.clone()),
            (Some(artifacts), None) => Ok(ProverConfig::Circom(self.circom_config(artifacts))),
            (None, None) => Err(Error::manifest(format!(
                "a {} package needs a [prover] table (a command or webhook backend, see docs/adapters.md)",
                m.framework
            ))),
        }
    }

    /// The verifying key in the verifier's signal order and byte layout: what the market's
    /// `Groth16Verifier.verifyingKey()` returns when it was deployed for this package.
    pub fn verifier_key_bytes(&self) -> Result<Vec<u8>> {
        let key = layout::verifier_key(&self.verifying_key()?, &self.manifest.public.signals)?;
        Ok(kalypso_provers::evm::encode_verifying_key(&key))
    }

    /// Whether `proof` (as submitted: `A‖B‖C` ‖ output words) proves the ask whose prover data is
    /// `prover_data`, as the market's verifier decides it (key in the verifier's order).
    pub fn verify_submission(&self, prover_data: &[u8], proof: &[u8]) -> Result<bool> {
        use kalypso_provers::evm;
        let layout = &self.manifest.public;
        let key = layout::verifier_key(&self.verifying_key()?, &layout.signals)?;
        let k = layout.num_inputs();
        if prover_data.len() < evm::WORD_LEN * k {
            return Err(Error::artifact(
                "inputs",
                format!(
                    "{} bytes, the package needs {} input words",
                    prover_data.len(),
                    k
                ),
            ));
        }
        let mut public = prover_data[..evm::WORD_LEN * k]
            .chunks_exact(evm::WORD_LEN)
            .map(evm::decode_fr)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::artifact("inputs", e))?;
        let (proof, outputs) = evm::decode_proof_with_outputs(proof, layout.num_outputs())
            .map_err(|e| Error::artifact("proof", e))?;
        public.extend(outputs);
        let pvk = ark_groth16::prepare_verifying_key(&key);
        Groth16::<Bn254>::verify_proof(&pvk, &proof, &public)
            .map_err(|e| Error::artifact("proof", e))
    }

    fn circom_config(&self, artifacts: &CircomArtifacts) -> CircomConfig {
        let m = &self.manifest;
        CircomConfig {
            wasm: self.path(&artifacts.wasm),
            zkey: self.path(&artifacts.zkey),
            public: m.public.signals.clone(),
            private_inputs: m.public.private_inputs,
            threads: None,
            sample: m.sample.input.as_deref().map(|f| self.path(f)),
        }
    }

    /// Market metadata naming this package and where to fetch it.
    pub fn metadata(&self, url: &str) -> Value {
        serde_json::json!({
            "name": self.manifest.name,
            "kind": "groth16",
            "framework": self.manifest.framework,
            "package": { "sha256": self.sha256_hex(), "url": url },
        })
    }

    /// An ask's prover data from a snarkjs-style input JSON: the input signals as words, the rest as the
    /// private JSON tail (circom packages).
    pub fn prover_data(&self, input_json: &Value) -> Result<Vec<u8>> {
        let Some(artifacts) = &self.manifest.circom else {
            return Err(Error::manifest(format!(
                "inputs from JSON are for circom packages; a {} package's ask inputs are its public \
                 input words",
                self.manifest.framework
            )));
        };
        circom::prover_data(&self.circom_config(artifacts), input_json)
            .map_err(|e| Error::artifact("inputs", e))
    }

    fn read(&self, file: &str) -> Result<Vec<u8>> {
        let path = self.path(file);
        fs::read(&path).map_err(|e| Error::io(&path, e))
    }

    fn read_json(&self, file: &str) -> Result<Value> {
        serde_json::from_slice(&self.read(file)?)
            .map_err(|e| Error::artifact(file, format!("not JSON: {e}")))
    }
}

fn hash_file(path: &Path, name: &str) -> Result<FileEntry> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(FileEntry {
        path: name.to_owned(),
        size: bytes.len() as u64,
        sha256: hex::encode(sha256(&bytes)),
    })
}

/// Writes the sha256 of every file the manifest refers to into its `[files]` table (replacing the old one,
/// which must be the last table of the file; comments elsewhere are kept) and returns the package.
pub fn pack(dir: &Path) -> Result<Package> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let manifest = Manifest::parse(&text)?;
    let mut files = BTreeMap::new();
    for file in manifest.referenced_files() {
        let entry = hash_file(&dir.join(file), file)?;
        files.insert(entry.path, entry.sha256);
    }
    let body = match text.find("\n[files]") {
        Some(at) => {
            let rest = &text[at + "\n[files]".len()..];
            if rest.lines().any(|l| l.trim_start().starts_with('[')) {
                return Err(Error::manifest(
                    "[files] must be the last table of circuit.toml for `pack` to rewrite it",
                ));
            }
            text[..=at].to_owned()
        }
        None if text.starts_with("[files]") => String::new(),
        None => {
            let mut t = text.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t.push('\n');
            t
        }
    };
    let mut out = body;
    out.push_str("[files]\n");
    for (file, hash) in &files {
        // File paths are `[A-Za-z0-9._/-]`: quoting needs no escapes.
        let _ = writeln!(out, "\"{file}\" = \"{hash}\"");
    }
    Manifest::parse(&out)?;
    write_atomically(&path, out.as_bytes())?;
    Package::open(dir)
}

/// Writes `circuit.toml` for the circom build in `dir` (one `.wasm`, one `.zkey`, `verification_key.json`,
/// optional `.r1cs`, and the sample `input.json`, `proof.json`, `public.json`), with `public_inputs` the
/// names of the circuit's public inputs in declaration order; the remaining public signals (first in
/// snarkjs's order) are outputs `out0`, `out1`, …. Refuses to overwrite a manifest.
pub fn init(
    dir: &Path,
    name: &str,
    public_inputs: &[String],
    private_inputs: PrivateInputs,
) -> Result<PathBuf> {
    let path = dir.join(MANIFEST);
    if path.exists() {
        return Err(Error::manifest(format!(
            "{} exists already (edit it, or remove it to start over)",
            path.display()
        )));
    }
    if public_inputs.is_empty() {
        return Err(Error::manifest(
            "name at least one public input (the signals the ask supplies)",
        ));
    }
    let find = |ext: &str| -> Result<String> {
        let mut found = Vec::new();
        let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.ends_with(ext) {
                found.push(file);
            }
        }
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::manifest(format!(
                "no *{ext} file in {}",
                dir.display()
            ))),
            many => Err(Error::manifest(format!(
                "several *{ext} files in {}: {}",
                dir.display(),
                many.join(", ")
            ))),
        }
    };
    let (wasm, zkey) = (find(".wasm")?, find(".zkey")?);
    let r1cs = find(".r1cs").ok();
    for required in [
        "verification_key.json",
        "input.json",
        "proof.json",
        "public.json",
    ] {
        if !dir.join(required).is_file() {
            return Err(Error::manifest(format!(
                "no {required} in {} (snarkjs zkey export verificationkey; groth16 fullprove)",
                dir.display()
            )));
        }
    }
    let vk_path = dir.join("verification_key.json");
    let vk_json: Value =
        serde_json::from_slice(&fs::read(&vk_path).map_err(|e| Error::io(&vk_path, e))?)
            .map_err(|e| Error::artifact("verification_key.json", e))?;
    let vk = snarkjs::parse_verification_key(&vk_json)
        .map_err(|e| Error::artifact("verification_key.json", e))?;
    let num_public = vk.gamma_abc_g1.len() - 1;
    let outputs = num_public.checked_sub(public_inputs.len()).ok_or_else(|| {
        Error::manifest(format!(
            "{} public inputs named but the key has only {num_public} public signals",
            public_inputs.len()
        ))
    })?;
    let signals: Vec<PublicSignal> = (0..outputs)
        .map(|i| PublicSignal {
            name: format!("out{i}"),
            source: SignalSource::Output,
        })
        .chain(public_inputs.iter().map(|n| PublicSignal {
            name: n.clone(),
            source: SignalSource::Input,
        }))
        .collect();
    let manifest = Manifest {
        name: name.to_owned(),
        description: None,
        proving_system: ProvingSystem::Groth16Bn254,
        framework: Framework::Circom,
        verifying_key: "verification_key.json".into(),
        circom: Some(CircomArtifacts { wasm, zkey, r1cs }),
        public: PublicLayout {
            signals,
            private_inputs,
        },
        sample: Sample {
            input: Some("input.json".into()),
            proof: "proof.json".into(),
            public: "public.json".into(),
        },
        prover: None,
        files: BTreeMap::new(),
    };
    manifest.validate()?;
    let body = toml::to_string(&manifest).map_err(|e| Error::manifest(e.to_string()))?;
    let text = format!(
        "# A Kalypso circuit package (docs/circuits.md). Check the public signals: snarkjs orders them\n\
         # outputs first, then public inputs in declaration order; `kalypso circuit check` verifies the layout\n\
         # against the sample. `kalypso circuit pack` fills [files].\n{body}"
    );
    write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
