//! The built-in sample circuits by name and size: their input rules, sample inputs and statements.
//!
//! | circuit | size | public inputs (prover data) | public outputs (after the proof) | constraints |
//! | --- | --- | --- | --- | --- |
//! | `mimc` | rounds `n` | `x` (32 bytes) | `y = MiMC⁽ⁿ⁾(x)` | `3n + 1` |
//! | `merkle` | depth `d` | `root ‖ leaf ‖ index ‖ siblings` (`32·(2 + ⌈d/256⌉ + d)` bytes) | none | `332d + 1` |
//!
//! Groth16 pads the constraint system to a power-of-two evaluation domain of `constraints + signals + 1`
//! points, so proving time moves in steps; [`CircuitSpec::largest_in_domain`] gives the largest size of a
//! domain (`mimc` 5460 / 21844 / 87380 and `merkle` 49 / 197 / 789 for 2¹⁴ / 2¹⁶ / 2¹⁸).
//!
//! [`CircuitSpec::check_inputs`] is stricter than the verifier contract's `verifyInputs` (which only checks
//! that the first words are field elements): it rejects any other length and, for `merkle`, a path that does
//! not lead to the root. Those inputs pass the on-chain format check, but no proof of them exists.

use std::{fmt, str::FromStr};

use ark_ff::{BigInteger, PrimeField};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_std::UniformRand;
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::{
    Error, Fr, Result, evm,
    merkle::{self, MerkleCircuit, MerklePath, MimcCompression},
    mimc::{MimcChain, MimcChainCircuit},
    prover::InputCheck,
};

/// Largest evaluation domain a sample circuit may need: `2^MAX_LOG_DOMAIN` points (a proving key of
/// gigabytes; BN254 supports up to 2²⁸).
pub const MAX_LOG_DOMAIN: u32 = 24;

/// A built-in circuit family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CircuitKind {
    /// The MiMC-5 hash chain ([`crate::mimc`]); size = rounds.
    Mimc,
    /// Merkle membership over the MiMC-5 compression ([`crate::merkle`]); size = tree depth.
    Merkle,
}

impl CircuitKind {
    /// Every built-in circuit.
    pub const ALL: [Self; 2] = [Self::Mimc, Self::Merkle];

    /// The circuit's name (`mimc`, `merkle`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mimc => "mimc",
            Self::Merkle => "merkle",
        }
    }

    /// What the size parameter counts.
    pub const fn size_unit(self) -> &'static str {
        match self {
            Self::Mimc => "rounds",
            Self::Merkle => "levels",
        }
    }

    /// Public signals the requester supplies (the verifier's `numInputs`).
    pub const fn num_inputs(self) -> usize {
        match self {
            Self::Mimc => 1,
            Self::Merkle => 2,
        }
    }

    /// Public signals the prover appends to the proof.
    pub const fn num_outputs(self) -> usize {
        match self {
            Self::Mimc => 1,
            Self::Merkle => 0,
        }
    }

    /// Constraints added per unit of size.
    const fn constraints_per_unit(self) -> usize {
        match self {
            Self::Mimc => 3,
            Self::Merkle => merkle::CONSTRAINTS_PER_LEVEL,
        }
    }
}

impl fmt::Display for CircuitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CircuitKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownCircuit(s.to_owned()))
    }
}

/// A built-in circuit at a size: everything about it that does not need keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CircuitSpec {
    kind: CircuitKind,
    size: usize,
}

impl fmt::Display for CircuitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind, self.size)
    }
}

impl CircuitSpec {
    /// `kind` at `size` (MiMC rounds or Merkle depth); the size must be at least 1 and fit a domain of
    /// `2^MAX_LOG_DOMAIN`.
    pub fn new(kind: CircuitKind, size: usize) -> Result<Self> {
        let max = Self::max_size(kind, MAX_LOG_DOMAIN);
        if size == 0 || size > max {
            return Err(Error::CircuitSize {
                circuit: kind.as_str(),
                size,
                max,
            });
        }
        Ok(Self { kind, size })
    }

    /// The largest `kind` whose proving domain has `2^log_domain` points (e.g. 14, 16, 18).
    pub fn largest_in_domain(kind: CircuitKind, log_domain: u32) -> Result<Self> {
        if log_domain > MAX_LOG_DOMAIN {
            return Err(Error::CircuitSize {
                circuit: kind.as_str(),
                size: usize::MAX,
                max: Self::max_size(kind, MAX_LOG_DOMAIN),
            });
        }
        Self::new(kind, Self::max_size(kind, log_domain))
    }

    /// Largest size with `constraints + signals + 1 <= 2^log_domain`.
    fn max_size(kind: CircuitKind, log_domain: u32) -> usize {
        let fixed = 1 + kind.num_inputs() + kind.num_outputs() + 1;
        (1usize << log_domain).saturating_sub(fixed) / kind.constraints_per_unit()
    }

    /// The circuit family.
    pub fn kind(&self) -> CircuitKind {
        self.kind
    }

    /// The size parameter (rounds or depth).
    pub fn size(&self) -> usize {
        self.size
    }

    /// R1CS constraints.
    pub fn num_constraints(&self) -> usize {
        self.kind.constraints_per_unit() * self.size + 1
    }

    /// Public signals: inputs then outputs.
    pub fn num_public_signals(&self) -> usize {
        self.kind.num_inputs() + self.kind.num_outputs()
    }

    /// Points of the Groth16 evaluation domain (a power of two), which sets the proving cost.
    pub fn domain_size(&self) -> usize {
        (self.num_constraints() + self.num_public_signals() + 1).next_power_of_two()
    }

    /// Bytes of valid prover data.
    pub fn inputs_len(&self) -> usize {
        match self.kind {
            CircuitKind::Mimc => evm::WORD_LEN,
            CircuitKind::Merkle => merkle::inputs_len(self.size),
        }
    }

    /// Bytes of a submitted proof: the Groth16 proof and the output words.
    pub fn proof_len(&self) -> usize {
        evm::PROOF_LEN + evm::WORD_LEN * self.kind.num_outputs()
    }

    /// Whether `prover_data` can be proven (see the module docs for the rules).
    pub fn check_inputs(&self, prover_data: &[u8]) -> InputCheck {
        match self.statement(prover_data) {
            Ok(_) => InputCheck::Valid,
            Err(reason) => InputCheck::Invalid { reason },
        }
    }

    /// The circuit with its witness for `prover_data`, or why none exists.
    pub fn statement(&self, prover_data: &[u8]) -> Result<SampleCircuit, String> {
        match self.kind {
            CircuitKind::Mimc => {
                if prover_data.len() != evm::WORD_LEN {
                    return Err(format!(
                        "expected {} bytes (the seed x), got {}",
                        evm::WORD_LEN,
                        prover_data.len()
                    ));
                }
                let x = evm::decode_fr(prover_data).map_err(|_| {
                    format!(
                        "x 0x{} is not a BN254 scalar (>= r)",
                        hex::encode(prover_data)
                    )
                })?;
                Ok(SampleCircuit::Mimc(MimcChain::new(self.size).circuit(x)))
            }
            CircuitKind::Merkle => {
                let path = MerklePath::decode(self.size, prover_data)?;
                let compression = MimcCompression::new();
                if !path.is_valid(&compression) {
                    return Err("the path does not lead to the root".into());
                }
                Ok(SampleCircuit::Merkle(path.circuit(&compression)))
            }
        }
    }

    /// Valid prover data drawn from `seed` (the same seed gives the same bytes).
    pub fn sample_inputs(&self, seed: u64) -> Vec<u8> {
        let digest = Keccak256::new()
            .chain_update(b"kalypso/sample-inputs/v1/")
            .chain_update(self.to_string())
            .chain_update(seed.to_be_bytes())
            .finalize();
        let mut rng = ChaCha20Rng::from_seed(digest.into());
        match self.kind {
            CircuitKind::Mimc => evm::encode_fr(&Fr::rand(&mut rng)).to_vec(),
            CircuitKind::Merkle => {
                MerklePath::random(self.size, &MimcCompression::new(), &mut rng).encode()
            }
        }
    }

    /// Prover data that [`Self::check_inputs`] rejects, and why: for `mimc` a seed `>= r` (the contract's
    /// `verifyInputs` rejects it too); for `merkle` a well-formed statement whose root the path does not
    /// reach (it passes `verifyInputs`, so such an ask can exist, but it cannot be proven: an IVS case).
    pub fn invalid_sample_inputs(&self) -> (Vec<u8>, &'static str) {
        match self.kind {
            CircuitKind::Mimc => (
                // r itself: the smallest non-canonical word.
                Fr::MODULUS.to_bytes_be(),
                "the seed x is not below the BN254 scalar modulus",
            ),
            CircuitKind::Merkle => {
                // The valid sample with root + 1: the same leaf and path, a root they do not reach.
                let mut path = MerklePath::decode(self.size, &self.sample_inputs(0))
                    .unwrap_or_else(|e| unreachable!("the sample decodes: {e}"));
                path.root += Fr::from(1u64);
                (path.encode(), "the path does not lead to the root")
            }
        }
    }

    /// A satisfied instance of this circuit (for setup and self-checks).
    pub fn sample_circuit(&self) -> SampleCircuit {
        // The sample inputs are valid by construction.
        self.statement(&self.sample_inputs(0))
            .unwrap_or_else(|reason| unreachable!("sample inputs are valid: {reason}"))
    }
}

/// A statement of one of the built-in circuits, with its witness.
#[derive(Clone, Debug)]
pub enum SampleCircuit {
    /// A MiMC hash chain.
    Mimc(MimcChainCircuit),
    /// A Merkle membership proof.
    Merkle(MerkleCircuit),
}

impl SampleCircuit {
    /// Public signals the requester supplied.
    pub fn inputs(&self) -> Vec<Fr> {
        match self {
            Self::Mimc(c) => vec![c.input()],
            Self::Merkle(c) => c.public_signals().to_vec(),
        }
    }

    /// Public signals the prover appends to the proof.
    pub fn outputs(&self) -> Vec<Fr> {
        match self {
            Self::Mimc(c) => vec![c.output()],
            Self::Merkle(_) => Vec::new(),
        }
    }

    /// All public signals in circuit order: inputs then outputs.
    pub fn public_signals(&self) -> Vec<Fr> {
        let mut signals = self.inputs();
        signals.extend(self.outputs());
        signals
    }
}

impl ConstraintSynthesizer<Fr> for SampleCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        match self {
            Self::Mimc(c) => c.generate_constraints(cs),
            Self::Merkle(c) => c.generate_constraints(cs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::check_circuit;

    #[test]
    fn names_parse_and_sizes_are_bounded() {
        assert_eq!(
            "MiMC".parse::<CircuitKind>().expect("known"),
            CircuitKind::Mimc
        );
        assert_eq!(
            "merkle".parse::<CircuitKind>().expect("known"),
            CircuitKind::Merkle
        );
        assert!(matches!(
            "poseidon".parse::<CircuitKind>(),
            Err(Error::UnknownCircuit(_))
        ));
        assert!(matches!(
            CircuitSpec::new(CircuitKind::Mimc, 0),
            Err(Error::CircuitSize { size: 0, .. })
        ));
        let spec = CircuitSpec::new(CircuitKind::Merkle, 20).expect("valid size");
        assert_eq!(spec.to_string(), "merkle-20");
    }

    #[test]
    fn largest_in_domain_fills_the_domain() {
        let expected = [
            (CircuitKind::Mimc, [5460, 21844, 87380]),
            (CircuitKind::Merkle, [49, 197, 789]),
        ];
        for (kind, sizes) in expected {
            for (log, size) in [14u32, 16, 18].into_iter().zip(sizes) {
                let spec = CircuitSpec::largest_in_domain(kind, log).expect("fits");
                assert_eq!(spec.size(), size, "{kind} 2^{log}");
                assert_eq!(spec.domain_size(), 1 << log);
                let bigger = CircuitSpec::new(kind, size + 1).expect("valid size");
                assert_eq!(bigger.domain_size(), 2 << log);
            }
        }
    }

    #[test]
    fn constraint_counts_match_synthesis() {
        for kind in CircuitKind::ALL {
            let spec = CircuitSpec::new(kind, 3).expect("valid size");
            let stats = check_circuit(spec.sample_circuit()).expect("sample is satisfied");
            assert_eq!(stats.num_constraints, spec.num_constraints(), "{kind}");
            assert_eq!(stats.num_public_signals, spec.num_public_signals());
        }
    }

    #[test]
    fn samples_are_valid_deterministic_and_distinct() {
        for kind in CircuitKind::ALL {
            let spec = CircuitSpec::new(kind, 4).expect("valid size");
            let a = spec.sample_inputs(0);
            assert_eq!(a.len(), spec.inputs_len());
            assert_eq!(a, spec.sample_inputs(0));
            assert_ne!(a, spec.sample_inputs(1));
            assert!(spec.check_inputs(&a).is_valid(), "{kind}");
            let (bad, why) = spec.invalid_sample_inputs();
            assert_eq!(
                spec.check_inputs(&bad),
                InputCheck::invalid(match kind {
                    CircuitKind::Mimc =>
                        format!("x 0x{} is not a BN254 scalar (>= r)", hex::encode(&bad)),
                    CircuitKind::Merkle => why.to_owned(),
                })
            );
        }
    }

    #[test]
    fn check_inputs_rejects_malformed_inputs() {
        let mimc = CircuitSpec::new(CircuitKind::Mimc, 4).expect("valid size");
        let reason = |check: InputCheck| match check {
            InputCheck::Invalid { reason } => reason,
            InputCheck::Valid => panic!("accepted malformed inputs"),
        };
        assert!(reason(mimc.check_inputs(&[])).contains("expected 32 bytes"));
        assert!(reason(mimc.check_inputs(&[0; 33])).contains("got 33"));
        assert!(reason(mimc.check_inputs(&[0xff; 32])).contains("not a BN254 scalar"));

        let merkle = CircuitSpec::new(CircuitKind::Merkle, 3).expect("valid size");
        let good = merkle.sample_inputs(7);
        assert!(reason(merkle.check_inputs(&good[..good.len() - 32])).contains("expected 192"));
        let mut bad_leaf = good.clone();
        bad_leaf[32..64].fill(0xff);
        assert!(reason(merkle.check_inputs(&bad_leaf)).contains("leaf"));
        let mut bad_sibling = good.clone();
        bad_sibling[5 * 32 - 1] ^= 1;
        assert_eq!(
            reason(merkle.check_inputs(&bad_sibling)),
            "the path does not lead to the root"
        );
        let mut bad_index = good;
        bad_index[3 * 32 - 1] ^= 0x08; // bit 3 of a depth-3 index
        assert!(reason(merkle.check_inputs(&bad_index)).contains("below 2^3"));
    }
}
