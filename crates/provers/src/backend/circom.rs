//! circom circuits with snarkjs Groth16 keys, proven in-process by [`kalypso_circom`]: the witness from the
//! circuit's `.wasm`, the proof from its `.zkey`.
//!
//! # Prover data: the market's input format
//!
//! A [`CircomConfig`] lists the circuit's public signals in snarkjs order (as `public.json` has them: the
//! main component's outputs, then its public inputs), each marked [`SignalSource::Input`] (the requester
//! supplies it in the ask) or [`SignalSource::Output`] (the circuit computes it; it travels with the proof).
//! With `k` input signals, an ask's prover data is
//!
//! | bytes | what |
//! | --- | --- |
//! | `32·i .. 32·(i+1)`, `i < k` | input signal `i` in the order listed, a 32-byte big-endian word `< r` |
//! | `32·k ..` | `private_inputs = "json"`: a UTF-8 JSON object of the circuit's other inputs (snarkjs `input.json` style, e.g. `{"p":"13","q":"17"}`; may be empty when the circuit has none); `"none"` and `"secret"`: nothing |
//!
//! and the circuit's other (private) inputs come from
//!
//! | `private_inputs` | private inputs |
//! | --- | --- |
//! | `"none"` (default) | none: the circuit has no other inputs |
//! | `"json"` | the JSON tail of the prover data |
//! | `"secret"` | the ask's decrypted secret ([`ProveRequest::secret`]), a UTF-8 JSON object in the same style; the prover data is exactly the `k` words |
//!
//! The `Groth16Verifier` reads only the `k` words (the bytes after them are allowed and ignored), so the JSON
//! tail is for the prover only. It is public like the rest of the ask: a market whose private inputs must
//! stay secret is a confidential market with `private_inputs = "secret"`, where only the generator's enclave
//! (and the IVS checking the ask, [`Prover::check_request`]) sees the decrypted secret. [`prover_data`]
//! builds the prover data from a snarkjs `input.json`, and [`secret_inputs`] the secret for `"secret"`.
//!
//! A proof is what `submitProof` takes: the 256-byte Groth16 proof followed by the output signals in the
//! order listed, one word each ([`evm::encode_proof_with_outputs`]).
//!
//! # Signal order
//!
//! snarkjs orders public signals outputs first; the `Groth16Verifier` takes the ask's inputs first and the
//! proof's outputs after them. [`market_verifying_key`] reorders the verifying key's `IC` points to match
//! (`IC₀`, then the points of the input signals, then those of the outputs, each in the order listed);
//! the proof itself does not change. [`verifier_artifact`] turns a snarkjs key and a sample proof into the
//! verifier's constructor arguments.
//!
//! # Signal names
//!
//! An input signal is named as in `input.json`: `x` for a scalar, `a[2]` for an element of an array (of a
//! multi-dimensional array, by its flattened row-major index). An array is listed whole, its elements
//! together in index order `a[0]` … `a[n-1]`. Output names are labels only.
//!
//! ```no_run
//! use kalypso_provers::{ProverConfig, ProveRequest};
//!
//! let config: ProverConfig = serde_json::from_str(r#"{
//!     "backend": "circom", "wasm": "factors.wasm", "zkey": "factors.zkey",
//!     "public": [{"name": "n", "source": "input"}], "private_inputs": "json"
//! }"#)?;
//! let prover = config.build()?;
//! let mut data = kalypso_provers::evm::encode_inputs(&[kalypso_provers::Fr::from(221u64)]);
//! data.extend_from_slice(br#"{"p": "13", "q": "17"}"#);
//! let proof = prover.prove(&ProveRequest::new(data))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, LazyLock, Mutex, PoisonError},
    time::{Instant, SystemTime},
};

use ark_groth16::{PreparedVerifyingKey, Proof, VerifyingKey, prepare_verifying_key};
use kalypso_circom::{CircomCircuit, Inputs};
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::debug;

use crate::{
    Bn254, Fr, evm,
    groth16::Bn254Groth16,
    hex0x,
    prover::{InputCheck, ProveRequest, Prover, ProverError, ProverInfo, ProverKind},
    setup::VerifierArtifact,
};

/// Configuration of a [`CircomProver`] (the `circom` variant of [`ProverConfig`](crate::ProverConfig)).
///
/// Relative paths are relative to the working directory; [`Self::relative_to`] resolves them against a
/// config file's folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircomConfig {
    /// The witness calculator circom writes with `--wasm` (`<circuit>_js/<circuit>.wasm`).
    pub wasm: PathBuf,
    /// The snarkjs Groth16 proving key of the same circuit.
    pub zkey: PathBuf,
    /// The circuit's public signals in snarkjs order (`public.json`: outputs, then public inputs).
    pub public: Vec<PublicSignal>,
    /// Where the circuit's private inputs come from: nowhere, a JSON tail after the input words, or the
    /// ask's secret.
    #[serde(default)]
    pub private_inputs: PrivateInputs,
    /// Threads per proof (a dedicated pool); default: the global rayon pool (all cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// A snarkjs `input.json` of valid inputs: [`Prover::sample_inputs`] and benchmarks use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<PathBuf>,
}

/// One public signal of the circuit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSignal {
    /// An input signal's name as in `input.json` (`x`, `a[2]`); a label for an output.
    pub name: String,
    /// Whether the ask supplies it or the proof carries it.
    pub source: SignalSource,
}

impl PublicSignal {
    /// A public input signal `name`, supplied by the ask.
    pub fn input(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            source: SignalSource::Input,
        }
    }

    /// A public output signal labelled `name`, appended to the proof.
    pub fn output(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            source: SignalSource::Output,
        }
    }
}

/// Where the value of a public signal comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// A public input of the circuit, a word of the ask's prover data.
    Input,
    /// A public output of the circuit, a word after the proof.
    Output,
}

/// Where the circuit's private inputs (its inputs other than the public input words) come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivateInputs {
    /// Nowhere: the circuit has no other inputs, and nothing follows the input words.
    #[default]
    None,
    /// The prover data after the input words: a UTF-8 JSON object of the circuit's other inputs, snarkjs
    /// `input.json` style. Public like the rest of the ask.
    Json,
    /// The ask's decrypted secret ([`ProveRequest::secret`], confidential markets): a UTF-8 JSON object of
    /// the circuit's other inputs, snarkjs `input.json` style. The prover data is exactly the input words.
    Secret,
}

impl CircomConfig {
    /// The circuit `wasm` + `zkey` with `public` signals, no private inputs, default threads, no sample.
    pub fn new(
        wasm: impl Into<PathBuf>,
        zkey: impl Into<PathBuf>,
        public: Vec<PublicSignal>,
    ) -> Self {
        Self {
            wasm: wasm.into(),
            zkey: zkey.into(),
            public,
            private_inputs: PrivateInputs::None,
            threads: None,
            sample: None,
        }
    }

    /// The config with its relative paths (`wasm`, `zkey`, `sample`) taken relative to `dir`.
    pub fn relative_to(mut self, dir: &Path) -> Self {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        resolve(&mut self.wasm);
        resolve(&mut self.zkey);
        if let Some(sample) = &mut self.sample {
            resolve(sample);
        }
        self
    }

    /// Input signals (`k`: the words at the start of the prover data, the verifier's `numInputs`).
    pub fn num_inputs(&self) -> usize {
        self.public
            .iter()
            .filter(|s| s.source == SignalSource::Input)
            .count()
    }

    /// The circuit's name: the stem of the wasm file (`chain` for `chain.wasm`).
    pub fn circuit_name(&self) -> String {
        self.wasm
            .file_stem()
            .map_or_else(|| "circom".to_owned(), |s| s.to_string_lossy().into_owned())
    }

    /// Checks the signal list on its own (no files read): at least one input, names well formed and
    /// listed once, arrays whole and in order, outputs before inputs.
    fn layout(&self) -> Result<Layout, ProverError> {
        Layout::new(&self.public)
    }
}

/// The public signals of a config, checked: where each sits in snarkjs order, and the input signals
/// grouped by circom signal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Layout {
    /// snarkjs positions of the input signals, in the order listed.
    inputs: Vec<usize>,
    /// snarkjs positions of the output signals, in the order listed.
    outputs: Vec<usize>,
    /// The input signals by circom signal, in the order listed.
    groups: Vec<Group>,
}

/// The listed elements of one circom input signal.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    /// The signal's name (`a` for `a[0]`, `a[1]`).
    signal: String,
    /// Whether it was listed as a scalar (`a`) rather than by elements (`a[0]` …).
    scalar: bool,
    /// Elements listed (1 for a scalar).
    len: usize,
}

impl Layout {
    fn new(public: &[PublicSignal]) -> Result<Self, ProverError> {
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        for (position, signal) in public.iter().enumerate() {
            let name = signal.name.as_str();
            if name.trim().is_empty() {
                return Err(ProverError::config(format!(
                    "public signal #{position} has an empty name"
                )));
            }
            if public[..position].iter().any(|s| s.name == name) {
                return Err(ProverError::config(format!(
                    "public signal `{name}` is listed twice"
                )));
            }
            match signal.source {
                SignalSource::Output => {
                    if !inputs.is_empty() {
                        return Err(ProverError::config(format!(
                            "output `{name}` is listed after an input: list the public signals in snarkjs \
                             order (public.json), the outputs first"
                        )));
                    }
                    outputs.push(position);
                }
                SignalSource::Input => {
                    inputs.push(position);
                    let (base, index) = parse_input_name(name)?;
                    let continues = groups
                        .last()
                        .is_some_and(|g| g.signal == base && !g.scalar && index == Some(g.len));
                    if continues {
                        if let Some(group) = groups.last_mut() {
                            group.len += 1;
                        }
                        continue;
                    }
                    if groups.iter().any(|g| g.signal == base) {
                        return Err(ProverError::config(format!(
                            "`{name}`: the elements of `{base}` must be listed together, in index order \
                             from `{base}[0]`"
                        )));
                    }
                    match index {
                        Some(0) | None => groups.push(Group {
                            signal: base.to_owned(),
                            scalar: index.is_none(),
                            len: 1,
                        }),
                        Some(_) => {
                            return Err(ProverError::config(format!(
                                "`{name}`: the elements of `{base}` must be listed in index order from \
                                 `{base}[0]`"
                            )));
                        }
                    }
                }
            }
        }
        if inputs.is_empty() {
            return Err(ProverError::config(
                "no public signal has source \"input\": a market's verifier needs at least one signal from \
                 the ask",
            ));
        }
        Ok(Self {
            inputs,
            outputs,
            groups,
        })
    }

    fn num_public(&self) -> usize {
        self.inputs.len() + self.outputs.len()
    }

    /// Whether a qualified circom input name (`x`, `a`, `a[1]`, `b.c`) sets one of the public inputs.
    fn sets_public_input(&self, qualified: &str) -> Option<&str> {
        self.groups.iter().map(|g| g.signal.as_str()).find(|s| {
            qualified == *s
                || qualified
                    .strip_prefix(s)
                    .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
        })
    }

    /// The private inputs in `bytes` (the prover data's JSON tail or the ask's secret), named `what` in
    /// reasons: a UTF-8 JSON object of snarkjs inputs ([`Self::private_inputs`]).
    fn private_inputs_from_bytes(&self, bytes: &[u8], what: &str) -> Result<Inputs, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{what} are not UTF-8: {e}"))?;
        let json: Value =
            serde_json::from_str(text).map_err(|e| format!("{what} are not JSON: {e}"))?;
        self.private_inputs(&json, what)
    }

    /// The private inputs of a JSON object of snarkjs inputs, named `what` in reasons: they may not set a
    /// public input (those come from the input words).
    fn private_inputs(&self, json: &Value, what: &str) -> Result<Inputs, String> {
        let private = Inputs::from_json(json).map_err(|e| format!("{what}: {e}"))?;
        if let Some(public) = private.iter().find_map(|(n, _)| self.sets_public_input(n)) {
            return Err(format!(
                "{what} set the public input `{public}`: it comes from the input words"
            ));
        }
        Ok(private)
    }

    /// The verifying key with its `IC` points in market order (inputs, then outputs).
    fn permute(&self, vk: &VerifyingKey<Bn254>) -> Result<VerifyingKey<Bn254>, ProverError> {
        if vk.gamma_abc_g1.len() != self.num_public() + 1 {
            return Err(ProverError::config(format!(
                "the config lists {} public signals but the verifying key has {}",
                self.num_public(),
                vk.gamma_abc_g1.len().saturating_sub(1)
            )));
        }
        let ic = &vk.gamma_abc_g1;
        let mut permuted = vk.clone();
        permuted.gamma_abc_g1 = std::iter::once(ic[0])
            .chain(self.inputs.iter().chain(&self.outputs).map(|&i| ic[i + 1]))
            .collect();
        Ok(permuted)
    }

    /// snarkjs-ordered public signals split into (inputs, outputs), each in the order listed.
    fn split(&self, public: &[Fr]) -> Result<(Vec<Fr>, Vec<Fr>), ProverError> {
        if public.len() != self.num_public() {
            return Err(ProverError::config(format!(
                "{} public signals for a config that lists {}",
                public.len(),
                self.num_public()
            )));
        }
        let pick = |positions: &[usize]| positions.iter().map(|&i| public[i]).collect();
        Ok((pick(&self.inputs), pick(&self.outputs)))
    }

    /// The circom inputs of the input words (one value per listed element).
    fn public_inputs(&self, words: &[Fr]) -> Result<Inputs, ProverError> {
        let mut inputs = Inputs::new();
        let mut rest = words;
        for group in &self.groups {
            let (values, tail) = rest.split_at(group.len);
            rest = tail;
            inputs
                .set(group.signal.clone(), values.to_vec())
                .map_err(|e| ProverError::config(e.to_string()))?;
        }
        Ok(inputs)
    }
}

/// Splits `a[12]` into (`a`, Some(12)) and `x` into (`x`, None).
fn parse_input_name(name: &str) -> Result<(&str, Option<usize>), ProverError> {
    let bad = |why: &str| ProverError::config(format!("input signal name `{name}`: {why}"));
    if name.chars().any(char::is_whitespace) {
        return Err(bad("contains whitespace"));
    }
    let Some(body) = name.strip_suffix(']') else {
        if name.contains(['[', ']']) {
            return Err(bad("unbalanced brackets"));
        }
        return Ok((name, None));
    };
    let (base, index) = body
        .rsplit_once('[')
        .ok_or_else(|| bad("unbalanced brackets"))?;
    if base.is_empty() || base.ends_with(']') {
        return Err(bad(
            "expected `signal` or `signal[i]` (for a multi-dimensional array, the flattened index)",
        ));
    }
    let index = index
        .parse::<usize>()
        .ok()
        .filter(|_| index.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad("the index is not a number"))?;
    Ok((base, Some(index)))
}

/// The verifying key with its `IC` points reordered for the market: `IC₀`, the points of the input signals,
/// then those of the output signals, each in the order `config` lists them. Fails when the key has a
/// different number of public signals.
pub fn market_verifying_key(
    config: &CircomConfig,
    vk: &VerifyingKey<Bn254>,
) -> Result<VerifyingKey<Bn254>, ProverError> {
    config.layout()?.permute(vk)
}

/// Splits public signals in snarkjs order (`public.json`) into the market's (inputs, outputs), each in the
/// order `config` lists them.
pub fn market_signals(
    config: &CircomConfig,
    public: &[Fr],
) -> Result<(Vec<Fr>, Vec<Fr>), ProverError> {
    config.layout()?.split(public)
}

/// Splits a snarkjs `input.json` into the values of the public input signals (in the order `config` lists
/// them) and the other inputs (a JSON object, `None` when there are none). Public inputs must be top-level
/// keys of the object.
pub fn split_input_json(
    config: &CircomConfig,
    input: &Value,
) -> Result<(Vec<Fr>, Option<Value>), ProverError> {
    let layout = config.layout()?;
    let Value::Object(object) = input else {
        return Err(ProverError::invalid(
            "the inputs must be a JSON object of signal names (snarkjs input.json)",
        ));
    };
    let all = Inputs::from_json(input).map_err(|e| ProverError::invalid(e.to_string()))?;
    let mut public = Vec::with_capacity(layout.inputs.len());
    for group in &layout.groups {
        let values = all.get(&group.signal).ok_or_else(|| {
            ProverError::invalid(format!(
                "the inputs do not set the public input `{}`",
                group.signal
            ))
        })?;
        if values.len() != group.len {
            return Err(ProverError::invalid(format!(
                "the public input `{}` has {} value(s) in the inputs but the config lists {}",
                group.signal,
                values.len(),
                group.len
            )));
        }
        public.extend_from_slice(values);
    }
    let private: serde_json::Map<String, Value> = object
        .iter()
        .filter(|(key, _)| !layout.groups.iter().any(|g| &g.signal == *key))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if private.is_empty() {
        return Ok((public, None));
    }
    let private = Value::Object(private);
    check_private(config, &layout, &private)?;
    Ok((public, Some(private)))
}

/// The private inputs are a JSON object of snarkjs inputs that sets no public input, and the config takes
/// private inputs (`"json"` in the prover data, `"secret"` in the ask's secret).
fn check_private(
    config: &CircomConfig,
    layout: &Layout,
    private: &Value,
) -> Result<(), ProverError> {
    let parsed = layout
        .private_inputs(private, "the private inputs")
        .map_err(ProverError::invalid)?;
    if config.private_inputs == PrivateInputs::None {
        let names: Vec<&str> = parsed.iter().map(|(n, _)| n).collect();
        return Err(ProverError::invalid(format!(
            "the inputs also set {} but the config has private_inputs = \"none\" (a circuit with private \
             inputs needs \"json\", or \"secret\" to take them from the ask's secret)",
            names.join(", ")
        )));
    }
    Ok(())
}

/// Why an `input.json` with private inputs makes no prover data for a `"secret"` market.
const SECRET_IN_PUBLIC: &str = "this market takes private inputs from the ask's secret: pass them with \
                                --secret-file, never in the public inputs";

/// An ask's prover data from a snarkjs `input.json`: the public input signals by name as words, the other
/// inputs as the JSON tail (see the [module docs](self)). What `kalypso ask create --inputs` takes.
///
/// For `private_inputs = "secret"` the prover data is the words only, and an `input.json` that also sets
/// private inputs is refused (they belong in the ask's secret, [`secret_inputs`], never in its public
/// prover data).
pub fn prover_data(config: &CircomConfig, input: &Value) -> Result<Vec<u8>, ProverError> {
    let (public, private) = split_input_json(config, input)?;
    encode_prover_data(config, &public, private.as_ref())
}

/// The ask's secret from a snarkjs `input.json` for `private_inputs = "secret"`: its private inputs (all
/// but the public input signals) as a compact JSON object, `None` when it has none. For `"json"` and
/// `"none"` the secret is always `None` (the private inputs, if allowed, are in [`prover_data`]). With
/// [`prover_data`] it splits one `input.json` into a confidential ask's public prover data and its secret.
pub fn secret_inputs(config: &CircomConfig, input: &Value) -> Result<Option<Vec<u8>>, ProverError> {
    ask_from_input_json(config, input).map(|(_, secret)| secret)
}

/// An ask from a snarkjs `input.json`, whatever `private_inputs` is: its prover data ([`prover_data`] for
/// `"json"` and `"none"`, the words for `"secret"`) and its secret ([`secret_inputs`]).
fn ask_from_input_json(
    config: &CircomConfig,
    input: &Value,
) -> Result<(Vec<u8>, Option<Vec<u8>>), ProverError> {
    let (public, private) = split_input_json(config, input)?;
    if config.private_inputs != PrivateInputs::Secret {
        return Ok((encode_prover_data(config, &public, private.as_ref())?, None));
    }
    let secret = private
        .map(|private| serde_json::to_vec(&private))
        .transpose()
        // A JSON value always serializes.
        .map_err(|e| ProverError::invalid(e.to_string()))?;
    Ok((encode_prover_data(config, &public, None)?, secret))
}

/// An ask's prover data from the values of the public input signals (in the order `config` lists them)
/// and, for `private_inputs = "json"`, a JSON object of the other inputs (refused for `"none"`, which has
/// none, and for `"secret"`, which takes them from the ask's secret).
pub fn encode_prover_data(
    config: &CircomConfig,
    public_inputs: &[Fr],
    private: Option<&Value>,
) -> Result<Vec<u8>, ProverError> {
    let layout = config.layout()?;
    if public_inputs.len() != layout.inputs.len() {
        return Err(ProverError::invalid(format!(
            "{} public input value(s) for a config that lists {}",
            public_inputs.len(),
            layout.inputs.len()
        )));
    }
    let mut data = evm::encode_inputs(public_inputs);
    if let Some(private) = private {
        if config.private_inputs == PrivateInputs::Secret {
            return Err(ProverError::invalid(SECRET_IN_PUBLIC));
        }
        check_private(config, &layout, private)?;
        // A JSON value always serializes.
        data.extend(serde_json::to_vec(private).map_err(|e| ProverError::invalid(e.to_string()))?);
    }
    Ok(data)
}

/// The `Groth16Verifier` constructor arguments of a circom circuit: the verifying key reordered for the
/// market ([`market_verifying_key`]), `numInputs` = the input signals, the sample input (their words, then
/// `sample_private` as JSON when given) and the sample proof (`sample_proof` followed by the output words).
/// The sample input is public: `sample_private` is for `private_inputs = "json"` only (refused for
/// `"secret"`, whose sample input is the words alone).
///
/// `sample_public` are the sample's public signals in snarkjs order (`public.json`). The sample proof is
/// verified against the reordered key first. `circuit` is the wasm's stem; `size`, `num_constraints` are 0
/// (unknown from the key alone: [`CircomProver::sample_verifier_artifact`] fills the constraints in).
pub fn verifier_artifact(
    config: &CircomConfig,
    vk: &VerifyingKey<Bn254>,
    sample_public: &[Fr],
    sample_proof: &Proof<Bn254>,
    sample_private: Option<&Value>,
) -> Result<VerifierArtifact, ProverError> {
    let layout = config.layout()?;
    let market_vk = layout.permute(vk)?;
    let (inputs, outputs) = layout.split(sample_public)?;
    let signals: Vec<Fr> = inputs.iter().chain(&outputs).copied().collect();
    let pvk = prepare_verifying_key(&market_vk);
    if !Bn254Groth16::verify_proof(&pvk, sample_proof, &signals)
        .map_err(|e| ProverError::failed(format!("arkworks: {e}")))?
    {
        return Err(ProverError::config(
            "the sample proof does not verify against the verifying key for these public signals (a proof \
             of another circuit, or signals not in public.json order?)",
        ));
    }
    let sample_input = encode_prover_data(config, &inputs, sample_private)?;
    let name = config.circuit_name();
    let names = |source| {
        config
            .public
            .iter()
            .filter(|s| s.source == source)
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(VerifierArtifact {
        description: format!(
            "Groth16/BN254 verifier of the circom circuit {name} (snarkjs keys), public signals in market \
             order: inputs [{}] from the ask, then outputs [{}] after the proof.",
            names(SignalSource::Input),
            names(SignalSource::Output)
        ),
        circuit: name,
        size: 0,
        num_constraints: 0,
        num_public_signals: layout.num_public(),
        num_inputs: layout.inputs.len(),
        vk: evm::encode_verifying_key(&market_vk),
        inputs: sample_input,
        outputs: outputs
            .iter()
            .map(|y| hex0x::encode(evm::encode_fr(y)))
            .collect(),
        proof: evm::encode_proof_with_outputs(sample_proof, &outputs),
        setup_seed: None,
    })
}

/// The identity of a loaded circuit: both files and their size and modification time, so a rebuilt
/// circuit is loaded again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CircuitFiles {
    wasm: (PathBuf, u64, Option<SystemTime>),
    zkey: (PathBuf, u64, Option<SystemTime>),
}

impl CircuitFiles {
    fn new(wasm: &Path, zkey: &Path) -> Result<Self, ProverError> {
        let stamp = |path: &Path| {
            let absolute = std::path::absolute(path)
                .map_err(|e| ProverError::config(format!("{}: {e}", path.display())))?;
            let meta = std::fs::metadata(&absolute)
                .map_err(|e| ProverError::config(format!("{}: {e}", path.display())))?;
            Ok::<_, ProverError>((absolute, meta.len(), meta.modified().ok()))
        };
        Ok(Self {
            wasm: stamp(wasm)?,
            zkey: stamp(zkey)?,
        })
    }
}

type Slot = Arc<Mutex<Option<Arc<CircomCircuit>>>>;

/// Circuits loaded by this process (parsing a large zkey takes a while). A slot's lock is held while its
/// circuit loads, so concurrent builders wait for one load.
static CIRCUIT_CACHE: LazyLock<Mutex<HashMap<CircuitFiles, Slot>>> =
    LazyLock::new(Default::default);

/// The circuit of `wasm` and `zkey`, from this process's cache or loaded (and cached). Unusable files are
/// a [`ProverError::Config`].
pub fn load_circuit(wasm: &Path, zkey: &Path) -> Result<Arc<CircomCircuit>, ProverError> {
    let files = CircuitFiles::new(wasm, zkey)?;
    let slot = CIRCUIT_CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(files)
        .or_default()
        .clone();
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(circuit) = &*guard {
        return Ok(circuit.clone());
    }
    let started = Instant::now();
    let circuit =
        CircomCircuit::load(wasm, zkey).map_err(|e| ProverError::config(e.to_string()))?;
    debug!(
        target: "kalypso::provers::circom",
        wasm = %wasm.display(),
        zkey = %zkey.display(),
        constraints = circuit.zkey().num_constraints(),
        load_ms = started.elapsed().as_millis() as u64,
        "circuit loaded"
    );
    Ok(guard.insert(Arc::new(circuit)).clone())
}

/// Forgets every cached circuit (they stay alive while provers hold them).
pub fn clear_circuit_cache() {
    CIRCUIT_CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// A circom circuit proving a market's asks: decodes the prover data ([module docs](self)), computes the
/// witness, proves with fresh randomness, and verifies each proof against the market's verifying key before
/// returning it.
#[derive(Clone)]
pub struct CircomProver {
    config: CircomConfig,
    layout: Layout,
    circuit: Arc<CircomCircuit>,
    /// The verifying key in market order, prepared.
    pvk: PreparedVerifyingKey<Bn254>,
    /// The sample's prover data.
    sample: Option<Vec<u8>>,
    /// The sample's secret (`private_inputs = "secret"` with private inputs in the sample).
    sample_secret: Option<Vec<u8>>,
    #[cfg(feature = "parallel")]
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl fmt::Debug for CircomProver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircomProver")
            .field("wasm", &self.config.wasm)
            .field("zkey", &self.config.zkey)
            .field("public", &self.config.public)
            .field("private_inputs", &self.config.private_inputs)
            .field("threads", &self.config.threads)
            .finish_non_exhaustive()
    }
}

/// A decoded ask: the circom inputs and the input words.
struct Statement {
    inputs: Inputs,
    words: Vec<Fr>,
}

impl CircomProver {
    /// Loads the circuit ([`load_circuit`], cached) and checks `config` against it: as many public signals
    /// as the zkey has, input names that are input signals of the circuit with their full length, a
    /// usable sample.
    pub fn new(config: &CircomConfig) -> Result<Self, ProverError> {
        let layout = config.layout()?;
        if config.threads == Some(0) {
            return Err(ProverError::config("threads must be at least 1"));
        }
        let circuit = load_circuit(&config.wasm, &config.zkey)?;
        let num_public = circuit.num_public();
        if layout.num_public() != num_public {
            return Err(ProverError::config(format!(
                "the config lists {} public signals but {} has {num_public} (outputs, then public inputs, \
                 as in public.json)",
                layout.num_public(),
                config.zkey.display()
            )));
        }
        let wc = circuit.witness_calculator();
        for group in &layout.groups {
            let signal = &group.signal;
            let size = wc
                .input_signal_size(signal)
                .map_err(|e| ProverError::config(e.to_string()))?
                .ok_or_else(|| {
                    ProverError::config(format!(
                        "{} has no input signal `{signal}`",
                        config.wasm.display()
                    ))
                })?;
            if group.scalar && size != 1 {
                return Err(ProverError::config(format!(
                    "`{signal}` is an array of {size} elements: list `{signal}[0]` … `{signal}[{}]`",
                    size - 1
                )));
            }
            if !group.scalar && group.len != size {
                return Err(ProverError::config(format!(
                    "`{signal}` has {size} elements but the config lists {}",
                    group.len
                )));
            }
        }
        let pvk = prepare_verifying_key(&layout.permute(circuit.verifying_key())?);
        let mut prover = Self {
            config: config.clone(),
            layout,
            circuit,
            pvk,
            sample: None,
            sample_secret: None,
            #[cfg(feature = "parallel")]
            pool: None,
        };
        if let Some(threads) = config.threads {
            prover = prover.with_threads(threads)?;
        }
        if let Some(path) = &config.sample {
            let (data, secret) = prover.load_sample(path)?;
            prover.sample = Some(data);
            prover.sample_secret = secret;
        }
        Ok(prover)
    }

    /// Proves on a dedicated pool of `threads` threads (what one proof's `computePerProof` buys).
    pub fn with_threads(self, threads: usize) -> Result<Self, ProverError> {
        #[cfg(feature = "parallel")]
        {
            Ok(Self {
                pool: Some(super::proving_pool(threads, "circom")?),
                ..self
            })
        }
        #[cfg(not(feature = "parallel"))]
        {
            super::proving_pool(threads, "circom")?;
            Ok(self)
        }
    }

    /// The config this prover was built from.
    pub fn config(&self) -> &CircomConfig {
        &self.config
    }

    /// The circuit: witness calculator and zkey.
    pub fn circuit(&self) -> &Arc<CircomCircuit> {
        &self.circuit
    }

    /// The verifying key in market order ([`market_verifying_key`]).
    pub fn market_verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.pvk.vk
    }

    /// The secret that goes with [`Prover::sample_inputs`]: for `private_inputs = "secret"`, the sample's
    /// private inputs as a JSON object ([`secret_inputs`]); `None` otherwise.
    pub fn sample_secret(&self) -> Option<&[u8]> {
        self.sample_secret.as_deref()
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

    /// Native verification of a submission exactly as the `Groth16Verifier` contract sees it: the signals
    /// are the first `k` words of `prover_data`, then the output words after the 256-byte proof. `Ok(false)`
    /// for a proof that does not verify; an error for bytes that do not parse.
    pub fn verify_submission(&self, prover_data: &[u8], proof: &[u8]) -> Result<bool, ProverError> {
        let k = self.layout.inputs.len();
        if prover_data.len() < evm::WORD_LEN * k {
            return Err(ProverError::invalid(format!(
                "expected at least {} bytes of inputs, got {}",
                evm::WORD_LEN * k,
                prover_data.len()
            )));
        }
        let mut signals = prover_data[..evm::WORD_LEN * k]
            .chunks_exact(evm::WORD_LEN)
            .map(evm::decode_fr)
            .collect::<crate::Result<Vec<_>>>()?;
        let (proof, outputs) = evm::decode_proof_with_outputs(proof, self.layout.outputs.len())?;
        signals.extend(outputs);
        self.verify(&signals, &proof)
    }

    /// The verifier artifact of this circuit for the config's `sample` ([`verifier_artifact`] with a fresh
    /// proof of it and the zkey's constraint count): what `kalypso deploy` needs to create the market.
    pub fn sample_verifier_artifact(&self) -> Result<VerifierArtifact, ProverError> {
        let path = self.config.sample.as_ref().ok_or_else(|| {
            ProverError::config("the config has no `sample` input.json to make the sample proof of")
        })?;
        let json = read_json(path)?;
        let (_, private) = split_input_json(&self.config, &json)
            .map_err(|e| ProverError::config(format!("{}: {e}", path.display())))?;
        // The sample input is public: a secret market's private inputs stay out of it.
        let private = private.filter(|_| self.config.private_inputs == PrivateInputs::Json);
        let inputs = Inputs::from_json(&json).map_err(|e| ProverError::config(e.to_string()))?;
        let mut rng = ChaCha20Rng::from_entropy();
        let (proof, public) = self
            .on_pool(|| self.circuit.prove(&inputs, &mut rng))
            .map_err(|e| ProverError::config(format!("{}: {e}", path.display())))?;
        let mut artifact = verifier_artifact(
            &self.config,
            self.circuit.verifying_key(),
            &public,
            &proof,
            private.as_ref(),
        )?;
        artifact.num_constraints = self.circuit.zkey().num_constraints();
        Ok(artifact)
    }

    fn verify(&self, market_signals: &[Fr], proof: &Proof<Bn254>) -> Result<bool, ProverError> {
        if market_signals.len() != self.layout.num_public() {
            return Err(ProverError::invalid(format!(
                "{} public signals for a circuit with {}",
                market_signals.len(),
                self.layout.num_public()
            )));
        }
        Bn254Groth16::verify_proof(&self.pvk, proof, market_signals)
            .map_err(|e| ProverError::failed(format!("arkworks: {e}")))
    }

    /// The sample's prover data and secret (for `private_inputs = "secret"`), checked by its witness.
    fn load_sample(&self, path: &Path) -> Result<(Vec<u8>, Option<Vec<u8>>), ProverError> {
        let json = read_json(path)?;
        let in_sample = |e| ProverError::config(format!("sample {}: {e}", path.display()));
        let (data, secret) = ask_from_input_json(&self.config, &json).map_err(in_sample)?;
        // The sample's witness shows whether the listed input names sit where the circuit puts its public
        // inputs (a wrong order is otherwise found only by the first proof).
        let statement = self.statement(&data, secret.as_deref()).map_err(|reason| {
            ProverError::config(format!("sample {}: {reason}", path.display()))
        })?;
        let witness = self
            .circuit
            .witness(&statement.inputs)
            .map_err(|e| ProverError::config(format!("sample {}: {e}", path.display())))?;
        self.check_public_order(&witness[1..=self.layout.num_public()], &statement.words)?;
        Ok((data, secret))
    }

    /// The public inputs the circuit computed (snarkjs order) are the words the ask gave, in the listed
    /// positions: otherwise the config's order is not the circuit's.
    fn check_public_order(&self, public: &[Fr], words: &[Fr]) -> Result<(), ProverError> {
        for ((&position, word), signal) in self.layout.inputs.iter().zip(words).zip(
            self.config
                .public
                .iter()
                .filter(|s| s.source == SignalSource::Input),
        ) {
            if public.get(position) != Some(word) {
                return Err(ProverError::config(format!(
                    "public signal #{position} of the circuit is not the input `{}`: list the public signals \
                     in public.json order (outputs, then the public inputs as `component main {{public [...]}}` \
                     declares them)",
                    signal.name
                )));
            }
        }
        Ok(())
    }

    /// Decodes an ask into circom inputs, or says why it is not a valid ask: the input words of
    /// `prover_data`, and the private inputs from its JSON tail (`"json"`) or from `secret` (`"secret"`; none
    /// when `secret` is `None`, so the statement has the public inputs only). `secret` is not read for
    /// `"json"` and `"none"`: [`Self::secret_for`] refuses a request that has one.
    fn statement(&self, prover_data: &[u8], secret: Option<&[u8]>) -> Result<Statement, String> {
        let k = self.layout.inputs.len();
        let words_len = evm::WORD_LEN * k;
        let names = || {
            self.config
                .public
                .iter()
                .filter(|s| s.source == SignalSource::Input)
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let private = match self.config.private_inputs {
            PrivateInputs::None | PrivateInputs::Secret if prover_data.len() != words_len => {
                let from_secret = if self.config.private_inputs == PrivateInputs::Secret {
                    "; the private inputs come from the ask's secret"
                } else {
                    ""
                };
                return Err(format!(
                    "expected {words_len} bytes ({k} input word(s): {}{from_secret}), got {}",
                    names(),
                    prover_data.len()
                ));
            }
            PrivateInputs::Json if prover_data.len() < words_len => {
                return Err(format!(
                    "expected at least {words_len} bytes ({k} input word(s): {}, then the private inputs as \
                     JSON), got {}",
                    names(),
                    prover_data.len()
                ));
            }
            PrivateInputs::None => None,
            PrivateInputs::Json => Some((
                &prover_data[words_len..],
                "the private inputs after the input words",
            )),
            PrivateInputs::Secret => secret.map(|s| (s, "the private inputs in the secret")),
        };
        let words = prover_data[..words_len]
            .chunks_exact(evm::WORD_LEN)
            .zip(
                self.config
                    .public
                    .iter()
                    .filter(|s| s.source == SignalSource::Input),
            )
            .map(|(word, signal)| {
                evm::decode_fr(word).map_err(|_| {
                    format!(
                        "input `{}` 0x{} is not a BN254 scalar (>= r)",
                        signal.name,
                        hex::encode(word)
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut inputs = self
            .layout
            .public_inputs(&words)
            .map_err(|e| e.to_string())?;
        if let Some((bytes, what)) = private.filter(|(bytes, _)| !bytes.is_empty()) {
            let private = self.layout.private_inputs_from_bytes(bytes, what)?;
            inputs.extend(private).map_err(|e| e.to_string())?;
        }
        Ok(Statement { inputs, words })
    }

    /// The secret of `request` the config reads: the ask's secret for `"secret"` (which needs one), none
    /// for `"json"` and `"none"` (which refuse one); otherwise why the request cannot be proven.
    fn secret_for<'r>(&self, request: &'r ProveRequest) -> Result<Option<&'r [u8]>, String> {
        match (self.config.private_inputs, request.secret()) {
            (PrivateInputs::Secret, Some(secret)) => Ok(Some(secret)),
            (PrivateInputs::Secret, None) => Err(
                "this market takes its private inputs from the ask's secret; the ask has no secret inputs"
                    .into(),
            ),
            (PrivateInputs::Json, Some(_)) => Err(
                "this market takes its private inputs from the prover data's JSON tail, not from a secret"
                    .into(),
            ),
            (PrivateInputs::None, Some(_)) => {
                Err("this market's circuit takes no private inputs: the ask may not have a secret".into())
            }
            (PrivateInputs::Json | PrivateInputs::None, None) => Ok(None),
        }
    }

    /// [`Prover::check_inputs`] of a decoded ask: its statement, then its witness, which runs the circuit's
    /// asserts and constraints (cheap next to a proof).
    fn check_witness(
        &self,
        prover_data: &[u8],
        secret: Option<&[u8]>,
    ) -> Result<InputCheck, ProverError> {
        let statement = match self.statement(prover_data, secret) {
            Ok(statement) => statement,
            Err(reason) => return Ok(InputCheck::invalid(reason)),
        };
        match self.circuit.witness(&statement.inputs) {
            Ok(_) => Ok(InputCheck::Valid),
            Err(e) => match circom_error(&e) {
                ProverError::InvalidInput { reason } => Ok(InputCheck::invalid(reason)),
                other => Err(other),
            },
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

fn read_json(path: &Path) -> Result<Value, ProverError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ProverError::config(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| ProverError::config(format!("{}: not JSON: {e}", path.display())))
}

/// An error of kalypso-circom while computing a witness or proving: the inputs' fault, or the prover's.
fn circom_error(e: &kalypso_circom::Error) -> ProverError {
    if e.is_input_error() {
        ProverError::invalid(e.to_string())
    } else {
        ProverError::failed(e.to_string())
    }
}

impl Prover for CircomProver {
    fn describe(&self) -> ProverInfo {
        let name = self.config.circuit_name();
        ProverInfo {
            constraints: Some(self.circuit.zkey().num_constraints() as u64),
            threads: Some(self.threads() as u64),
            circuit: Some(name.clone()),
            ..ProverInfo::new(format!("circom/{name}"), ProverKind::Circom)
        }
    }

    /// For `private_inputs = "secret"` only the public part: the length and each word `< r` (the circuit
    /// cannot run without the private inputs; [`Prover::check_request`] runs it with the secret's).
    fn check_inputs(&self, prover_data: &[u8]) -> Result<InputCheck, ProverError> {
        if self.config.private_inputs == PrivateInputs::Secret {
            return Ok(match self.statement(prover_data, None) {
                Ok(_) => InputCheck::Valid,
                Err(reason) => InputCheck::invalid(reason),
            });
        }
        self.check_witness(prover_data, None)
    }

    /// For `private_inputs = "secret"`, the witness of the prover data's words and the secret's private
    /// inputs, exactly as [`Prover::check_inputs`] runs it for a JSON tail: invalid without a secret. A
    /// request with a secret for `"json"` or `"none"` is invalid ([`Prover::prove`] refuses it too).
    fn check_request(&self, request: &ProveRequest) -> Result<InputCheck, ProverError> {
        match self.secret_for(request) {
            Ok(secret) => self.check_witness(&request.prover_data, secret),
            Err(reason) => Ok(InputCheck::invalid(reason)),
        }
    }

    fn prove(&self, request: &ProveRequest) -> Result<crate::Proof, ProverError> {
        let secret = self.secret_for(request).map_err(ProverError::invalid)?;
        let statement = self
            .statement(&request.prover_data, secret)
            .map_err(ProverError::invalid)?;
        let started = Instant::now();
        // Fresh blinding factors per proof (zero knowledge).
        let mut rng = ChaCha20Rng::from_entropy();
        let (proof, public) = self
            .on_pool(|| self.circuit.prove(&statement.inputs, &mut rng))
            .map_err(|e| circom_error(&e))?;
        let proved = started.elapsed();
        self.check_public_order(&public, &statement.words)?;
        let (inputs, outputs) = self.layout.split(&public)?;
        let signals: Vec<Fr> = inputs.into_iter().chain(outputs.iter().copied()).collect();
        if !self.verify(&signals, &proof)? {
            return Err(ProverError::failed(format!(
                "the {} proof does not verify against the market's verifying key",
                self.config.circuit_name()
            )));
        }
        debug!(
            target: "kalypso::provers::circom",
            circuit = %self.config.circuit_name(),
            ask_id = ?request.ask_id,
            prove_ms = proved.as_millis() as u64,
            "proof made"
        );
        Ok(crate::Proof(evm::encode_proof_with_outputs(
            &proof, &outputs,
        )))
    }

    fn sample_inputs(&self) -> Option<Vec<u8>> {
        self.sample.clone()
    }

    /// The sample with its secret ([`CircomProver::sample_secret`]) for a confidential market.
    fn sample_request(&self) -> Option<ProveRequest> {
        Some(ProveRequest {
            secret: self.sample_secret.clone(),
            ..ProveRequest::new(self.sample.clone()?)
        })
    }
}
