//! `circuit.toml`: what a circuit package holds and how its public signals map to an ask.
//!
//! ```toml
//! name = "chain-16"
//! description = "MiMC-style chain, 16 rounds"
//! proving_system = "groth16-bn254"
//! framework = "circom"                      # circom | gnark | arkworks
//! verifying_key = "verification_key.json"   # in the framework's own format
//!
//! [circom]                                  # proving artifacts (framework = "circom")
//! wasm = "chain.wasm"
//! zkey = "chain.zkey"
//! r1cs = "chain.r1cs"                       # optional
//!
//! [public]
//! # The public signals in the framework's order (snarkjs: public.json, outputs first), each taken from the
//! # ask's inputs ("input") or appended to the proof by the prover ("output"). At least one input.
//! signals = [{ name = "y", source = "output" }, { name = "x", source = "input" }]
//! private_inputs = "none"                   # or "json": a JSON object of private inputs follows the words;
//!                                            # or "secret": they are the ask's (confidential) secret
//!
//! [sample]                                  # a statement and its proof, checked offline and on-chain
//! input = "input.json"
//! proof = "proof.json"
//! public = "public.json"
//!
//! [files]                                   # sha256 of every file, written by `kalypso circuit pack`
//! "chain.wasm" = "5d41…"
//! ```
//!
//! The package's hash is the sha256 of `circuit.toml` itself: it names every other file by its hash, so it
//! pins the whole package.

use std::{collections::BTreeMap, fmt, str::FromStr};

use kalypso_provers::{PrivateInputs, ProverConfig, PublicSignal, SignalSource};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The manifest's file name.
pub const MANIFEST: &str = "circuit.toml";

/// The longest file path a manifest may name.
const MAX_PATH_LEN: usize = 200;

/// A package's `circuit.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short name, shown in market metadata (`[A-Za-z0-9._-]`, at most 64 characters).
    pub name: String,
    /// One line about the circuit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The proof system and curve.
    pub proving_system: ProvingSystem,
    /// Which tool made the keys, which decides the key and proof formats and the prover.
    pub framework: Framework,
    /// The verifying key file, in the framework's format: snarkjs `verification_key.json`, gnark's
    /// `vk.WriteTo`/`WriteRawTo` bytes, or arkworks' canonical serialization of `VerifyingKey<Bn254>`.
    pub verifying_key: String,
    /// The circom proving artifacts; required when `framework = "circom"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circom: Option<CircomArtifacts>,
    /// How public signals map to the ask's inputs and the proof's outputs.
    pub public: PublicLayout,
    /// A statement and its proof.
    pub sample: Sample,
    /// The prover for frameworks without a native one (a `command` or `webhook` backend, see
    /// `docs/adapters.md`); generators may override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prover: Option<ProverConfig>,
    /// sha256 (hex) of every file of the package, by path.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

/// The only proof system markets verify today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProvingSystem {
    /// Groth16 over BN254 (the `Groth16Verifier` contract).
    #[serde(rename = "groth16-bn254")]
    Groth16Bn254,
}

/// The framework a circuit and its keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    /// circom + snarkjs: proven natively (witness from the `.wasm`, proof from the `.zkey`).
    Circom,
    /// gnark: keys convert to the verifier; proofs come from the `[prover]` backend.
    Gnark,
    /// arkworks: canonical serialization; proofs come from the `[prover]` backend.
    Arkworks,
}

impl Framework {
    /// The name used in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Circom => "circom",
            Self::Gnark => "gnark",
            Self::Arkworks => "arkworks",
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Framework {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "circom" | "snarkjs" => Ok(Self::Circom),
            "gnark" => Ok(Self::Gnark),
            "arkworks" => Ok(Self::Arkworks),
            other => Err(Error::manifest(format!(
                "unknown framework '{other}' (expected circom, gnark or arkworks)"
            ))),
        }
    }
}

/// circom's proving artifacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircomArtifacts {
    /// The witness calculator (`circom --wasm`).
    pub wasm: String,
    /// The snarkjs proving key.
    pub zkey: String,
    /// The constraint system (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r1cs: Option<String>,
}

/// The public signals and the private-input format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicLayout {
    /// Every public signal in the framework's order.
    pub signals: Vec<PublicSignal>,
    /// What follows the input words in an ask's prover data.
    #[serde(default)]
    pub private_inputs: PrivateInputs,
}

impl PublicLayout {
    /// Signals the ask supplies.
    pub fn num_inputs(&self) -> usize {
        self.count(SignalSource::Input)
    }

    /// Signals the prover appends to the proof.
    pub fn num_outputs(&self) -> usize {
        self.count(SignalSource::Output)
    }

    fn count(&self, source: SignalSource) -> usize {
        self.signals.iter().filter(|s| s.source == source).count()
    }
}

/// The sample statement and proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// circom: the snarkjs `input.json` the proof was made from (public and private inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The proof in the framework's format (snarkjs `proof.json`, gnark proof bytes, arkworks canonical).
    pub proof: String,
    /// The public signals in the framework's order, as snarkjs's `public.json` (decimal strings).
    pub public: String,
}

impl Manifest {
    /// Parses and validates `circuit.toml`.
    pub fn parse(text: &str) -> Result<Self> {
        let manifest: Self =
            toml::from_str(text).map_err(|e| Error::manifest(e.message().to_owned()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The files the manifest refers to (verifying key, artifacts, sample), each once, in a stable order.
    pub fn referenced_files(&self) -> Vec<&str> {
        let mut files = vec![self.verifying_key.as_str()];
        if let Some(c) = &self.circom {
            files.extend([c.wasm.as_str(), c.zkey.as_str()]);
            files.extend(c.r1cs.as_deref());
        }
        files.extend(self.sample.input.as_deref());
        files.extend([self.sample.proof.as_str(), self.sample.public.as_str()]);
        let mut seen = std::collections::BTreeSet::new();
        files.retain(|f| seen.insert(*f));
        files
    }

    /// Checks names, paths and the signal layout (not the files: [`crate::Package::check`] does).
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(Error::manifest(format!(
                "name '{}' must be 1-64 characters of A-Z a-z 0-9 . _ -",
                self.name
            )));
        }
        match (self.framework, &self.circom) {
            (Framework::Circom, None) => {
                return Err(Error::manifest(
                    "framework = \"circom\" needs a [circom] table with wasm and zkey",
                ));
            }
            (Framework::Gnark | Framework::Arkworks, Some(_)) => {
                return Err(Error::manifest(format!(
                    "a [circom] table in a {} package",
                    self.framework
                )));
            }
            (Framework::Circom, Some(_)) if self.sample.input.is_none() => {
                return Err(Error::manifest(
                    "a circom package needs sample.input (the input.json of the sample proof)",
                ));
            }
            _ => {}
        }
        for path in self.referenced_files() {
            check_path(path)?;
        }
        for (path, hash) in &self.files {
            check_path(path)?;
            parse_sha256(hash).map_err(|e| Error::manifest(format!("files.\"{path}\": {e}")))?;
        }
        let layout = &self.public;
        if layout.signals.is_empty() {
            return Err(Error::manifest("public.signals is empty"));
        }
        if layout.num_inputs() == 0 {
            return Err(Error::manifest(
                "public.signals has no input: at least one public signal must come from the ask (else one \
                 proof would settle every ask)",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &layout.signals {
            if s.name.is_empty() {
                return Err(Error::manifest("a public signal has an empty name"));
            }
            if !names.insert(s.name.as_str()) {
                return Err(Error::manifest(format!(
                    "public signal '{}' is listed twice",
                    s.name
                )));
            }
        }
        Ok(())
    }

    /// The sha256 the manifest records for `path`.
    pub fn file_hash(&self, path: &str) -> Option<[u8; 32]> {
        self.files.get(path).and_then(|h| parse_sha256(h).ok())
    }
}

/// A path inside a package: relative, `/`-separated segments of `[A-Za-z0-9._-]`, none empty or starting
/// with a dot (so no `..`, no hidden files, nothing outside the package), not the manifest itself.
pub fn check_path(path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && path.len() <= MAX_PATH_LEN
        && path != MANIFEST
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::manifest(format!(
            "'{path}' is not a package file path (relative, segments of A-Z a-z 0-9 . _ - not starting with a \
             dot, not circuit.toml)"
        )))
    }
}

/// Parses 64 hex digits (optionally `0x`-prefixed).
pub fn parse_sha256(hex_str: &str) -> Result<[u8; 32], String> {
    let digits = hex_str.strip_prefix("0x").unwrap_or(hex_str);
    let mut out = [0u8; 32];
    hex::decode_to_slice(digits, &mut out)
        .map_err(|_| format!("'{hex_str}' is not a sha256 (64 hex digits)"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = r#"
name = "chain-16"
proving_system = "groth16-bn254"
framework = "circom"
verifying_key = "verification_key.json"

[circom]
wasm = "chain.wasm"
zkey = "chain.zkey"

[public]
signals = [{ name = "y", source = "output" }, { name = "x", source = "input" }]

[sample]
input = "input.json"
proof = "proof.json"
public = "public.json"
"#;

    #[test]
    fn parses_a_circom_manifest() {
        let m = Manifest::parse(CHAIN).expect("valid");
        assert_eq!(m.framework, Framework::Circom);
        assert_eq!((m.public.num_inputs(), m.public.num_outputs()), (1, 1));
        assert_eq!(m.public.private_inputs, PrivateInputs::None);
        assert_eq!(
            m.referenced_files(),
            [
                "verification_key.json",
                "chain.wasm",
                "chain.zkey",
                "input.json",
                "proof.json",
                "public.json"
            ]
        );
    }

    #[test]
    fn rejects_what_a_market_could_not_use() {
        let err = |text: String| Manifest::parse(&text).unwrap_err().to_string();
        assert!(
            err(CHAIN.replace(r#"source = "input""#, r#"source = "output""#)).contains("no input")
        );
        assert!(err(CHAIN.replace(r#"name = "x""#, r#"name = "y""#)).contains("listed twice"));
        assert!(
            err(CHAIN.replace("chain.wasm", "../../etc/passwd"))
                .contains("not a package file path")
        );
        assert!(err(CHAIN.replace("chain.wasm", "/abs.wasm")).contains("not a package file path"));
        assert!(err(CHAIN.replace("chain.wasm", ".hidden")).contains("not a package file path"));
        assert!(err(CHAIN.replace("groth16-bn254", "plonk")).contains("unknown variant"));
        assert!(err(CHAIN.replace(r#""circom""#, r#""gnark""#)).contains("[circom] table"));
        assert!(err(CHAIN.replace("chain-16", "chain 16")).contains("name"));
        assert!(err(format!("{CHAIN}\nextra = 1\n")).contains("unknown field"));
        assert!(err(format!("{CHAIN}\n[files]\n\"chain.wasm\" = \"abc\"\n")).contains("sha256"));
        assert!(
            err(CHAIN.replace("input = \"input.json\"\n", "")).contains("sample.input"),
            "circom needs its input.json"
        );
    }
}
