//! The [`Prover`] trait every backend implements, and the types it speaks.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::bench::{self, BenchmarkReport};

/// A proving backend for one market: checks an ask's inputs and turns them into the bytes the market's
/// verifier contract accepts in `submitProof(askId, proverData, proof)`.
///
/// Calls block (proving takes seconds to minutes): async callers run them with `spawn_blocking` and bound
/// how many run at once. Implementations are `Send + Sync` and object-safe, so a node holds an
/// `Arc<dyn Prover>` built from a [`ProverConfig`](crate::ProverConfig).
pub trait Prover: Send + Sync + fmt::Debug {
    /// What this backend is: name, kind and circuit size where known.
    fn describe(&self) -> ProverInfo;

    /// Whether a proof can be made for `prover_data` (the ask's inputs exactly as the marketplace stores
    /// them). [`InputCheck::Invalid`] means no honest prover can prove them: the IVS attests that, and a
    /// generator asks for such an attestation instead of proving. An `Err` means the check itself failed.
    fn check_inputs(&self, prover_data: &[u8]) -> Result<InputCheck, ProverError>;

    /// Whether a proof can be made for the whole request: its prover data and, for a confidential ask, its
    /// decrypted secret. This is what an IVS runs for a confidential ask once it has decrypted the secret;
    /// [`Self::check_inputs`] sees only the public part.
    ///
    /// The default checks only `request.prover_data` ([`Self::check_inputs`]): a backend that does not read
    /// secrets can check nothing else. A backend that takes inputs from the secret (the circom backend with
    /// `private_inputs = "secret"`) overrides it to check those too.
    fn check_request(&self, request: &ProveRequest) -> Result<InputCheck, ProverError> {
        self.check_inputs(&request.prover_data)
    }

    /// Proves the ask's statement. Inputs found invalid while proving give [`ProverError::InvalidInput`].
    fn prove(&self, request: &ProveRequest) -> Result<Proof, ProverError>;

    /// A valid `prover_data` for benchmarks and smoke tests, when the backend knows one.
    fn sample_inputs(&self) -> Option<Vec<u8>> {
        None
    }

    /// A valid request for benchmarks and smoke tests: [`Self::sample_inputs`] and, for a backend whose inputs
    /// include a secret (a confidential market), the sample's secret.
    fn sample_request(&self) -> Option<ProveRequest> {
        self.sample_inputs().map(ProveRequest::new)
    }

    /// Proves [`Self::sample_request`] `runs` times (after one untimed warm-up run) and reports the times.
    /// A remote backend measures on its own hardware, without the network round trip.
    fn benchmark(&self, runs: u32) -> Result<BenchmarkReport, ProverError> {
        let request = self
            .sample_request()
            .ok_or_else(|| ProverError::Unsupported {
                what: "benchmark: this backend has no sample inputs".into(),
            })?;
        bench::run(self, &request, 1, runs, &mut |_, _| {})
    }
}

/// One proving job.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProveRequest {
    /// The ask's public inputs, exactly as the marketplace stores them (`proverData`).
    pub prover_data: Vec<u8>,
    /// The ask's decrypted secret inputs (confidential markets); `None` or empty for public markets.
    pub secret: Option<Vec<u8>>,
    /// The ask being proven, for the backend's logs (a gateway may also use it to deduplicate).
    pub ask_id: Option<u64>,
    /// Give up after this long (command and webhook backends; the in-process Groth16 prover cannot be
    /// interrupted and ignores it). The backend's configured timeout applies when it is shorter.
    pub timeout: Option<Duration>,
}

impl ProveRequest {
    /// A request for `prover_data` without secret, ask id or timeout.
    pub fn new(prover_data: impl Into<Vec<u8>>) -> Self {
        Self {
            prover_data: prover_data.into(),
            ..Self::default()
        }
    }

    /// The secret, treating an empty one as none (public markets store empty bytes).
    pub fn secret(&self) -> Option<&[u8]> {
        self.secret.as_deref().filter(|s| !s.is_empty())
    }
}

impl fmt::Debug for ProveRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProveRequest")
            .field(
                "prover_data",
                &format_args!("{} bytes", self.prover_data.len()),
            )
            .field(
                "secret",
                &self
                    .secret()
                    .map(|s| format!("<{} bytes redacted>", s.len())),
            )
            .field("ask_id", &self.ask_id)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The bytes a generator submits: what the market's verifier accepts as `proof` (for a Groth16 market the
/// 256-byte proof followed by the public outputs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proof(pub Vec<u8>);

impl Proof {
    /// The proof bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The proof bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(&self.0))
    }
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proof({})", self.to_hex())
    }
}

impl From<Vec<u8>> for Proof {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

/// The verdict of [`Prover::check_inputs`] and [`Prover::check_request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum InputCheck {
    /// A proof can be made for these inputs.
    Valid,
    /// No proof can be made for these inputs.
    Invalid {
        /// Why, for people (logs, attestation requests).
        reason: String,
    },
}

impl InputCheck {
    /// An [`InputCheck::Invalid`] with `reason`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid {
            reason: reason.into(),
        }
    }

    /// Whether the inputs are valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid)
    }
}

/// The family of a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProverKind {
    /// A built-in Groth16 circuit proven in-process (arkworks, BN254).
    Groth16,
    /// A circom circuit with snarkjs Groth16 keys proven in-process (kalypso-circom).
    Circom,
    /// An external program run per proof.
    Command,
    /// A prover gateway reached over HTTP.
    Webhook,
}

impl fmt::Display for ProverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Groth16 => "groth16",
            Self::Circom => "circom",
            Self::Command => "command",
            Self::Webhook => "webhook",
        })
    }
}

/// What [`Prover::describe`] reports; the fields a backend cannot know are `None`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProverInfo {
    /// Human-readable name (`groth16/merkle-20`, `circom/chain`, the command's program, the gateway's URL).
    pub name: String,
    /// Backend family.
    pub kind: ProverKind,
    /// Circuit identifier (`mimc`, `merkle`, a circom circuit's wasm stem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit: Option<String>,
    /// The circuit's size parameter (MiMC rounds, Merkle depth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// R1CS constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<u64>,
    /// Threads one proof uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
}

impl ProverInfo {
    /// Info with only a name and a kind.
    pub fn new(name: impl Into<String>, kind: ProverKind) -> Self {
        Self {
            name: name.into(),
            kind,
            circuit: None,
            size: None,
            constraints: None,
            threads: None,
        }
    }
}

/// Why a backend could not produce a proof or a verdict.
///
/// [`ProverError::InvalidInput`] is about the ask (ask the IVS for an attestation); [`ProverError::Failed`],
/// [`ProverError::Timeout`] and [`ProverError::Transport`] are about the backend (retry, or discard the
/// task in time); [`ProverError::Config`] needs an operator.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    /// The inputs cannot be proven: wrong length, a value outside the field, a false statement.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong with the inputs.
        reason: String,
    },
    /// The backend ran and failed (non-zero exit, HTTP 5xx, a proof that does not verify).
    #[error("prover failed: {message}")]
    Failed {
        /// What failed, with the backend's own message (stderr, response body).
        message: String,
    },
    /// The backend did not answer in time.
    #[error("prover timed out after {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// The backend could not be reached or answered with something that is not the protocol (connection
    /// refused, DNS, a malformed response).
    #[error("cannot reach the prover: {message}")]
    Transport {
        /// What went wrong on the way.
        message: String,
    },
    /// The backend is misconfigured: unknown circuit, unusable key files, a command that cannot start.
    #[error("prover configuration: {message}")]
    Config {
        /// What to fix.
        message: String,
    },
    /// The backend does not offer this operation.
    #[error("not supported: {what}")]
    Unsupported {
        /// The operation.
        what: String,
    },
}

impl ProverError {
    /// Whether trying again later may succeed (timeouts, unreachable or failing backends); invalid inputs,
    /// configuration errors and unsupported operations fail the same way every time.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. } | Self::Timeout { .. } | Self::Transport { .. }
        )
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            reason: reason.into(),
        }
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::Failed {
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    pub(crate) fn transport(message: impl Into<String>) -> Self {
        Self::Transport {
            message: message.into(),
        }
    }
}
