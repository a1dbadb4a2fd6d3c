//! A MiMC-5 hash chain over the BN254 scalar field: the benchmark circuit of the devnet markets.
//!
//! One round maps `s ↦ (s + cᵢ)⁵`. Because `gcd(5, r − 1) = 1` for the BN254 scalar field, every round is a
//! permutation; `n` rounds with a zero key are the MiMC-5 permutation `MiMC⁽ⁿ⁾`. The circuit proves
//! knowledge of nothing secret: it proves that the public output `y` equals `MiMC⁽ⁿ⁾(x)` for the public
//! seed `x`, i.e. it is a verifiable-computation workload whose cost grows linearly with `n`
//! ([`MimcChain::num_constraints`] `= 3n + 1`). It makes no claim to be a secure hash at any round count.
//!
//! Round constants: `cᵢ = keccak256("kalypso.mimc5.bn254" ‖ be32(i)) mod r` for `i = 0..n`, so any
//! implementation (Solidity, circom, another language) can reproduce them.

use std::sync::Arc;

use ark_ff::{Field, PrimeField};
use ark_r1cs_std::{
    alloc::AllocVar,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use sha3::{Digest, Keccak256};

use crate::Fr;

/// Domain separator hashed into every round constant.
pub const ROUND_CONSTANT_DOMAIN: &[u8] = b"kalypso.mimc5.bn254";

/// The MiMC exponent; coprime to `r − 1` for BN254, so each round is a permutation.
pub const EXPONENT: u64 = 5;

/// A MiMC-5 chain of a fixed number of rounds with its round constants.
///
/// Cheap to clone: the constants are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MimcChain {
    round_constants: Arc<[Fr]>,
}

impl MimcChain {
    /// A chain of `rounds` rounds with the documented keccak-derived constants.
    pub fn new(rounds: usize) -> Self {
        let round_constants = (0..rounds).map(round_constant).collect();
        Self { round_constants }
    }

    /// Number of rounds `n`.
    pub fn rounds(&self) -> usize {
        self.round_constants.len()
    }

    /// The round constants `c₀..cₙ₋₁`.
    pub fn round_constants(&self) -> &[Fr] {
        &self.round_constants
    }

    /// R1CS constraints of the chain circuit: three per round (`t²`, `t⁴`, `t⁴·t`) plus one binding the
    /// public output.
    pub fn num_constraints(&self) -> usize {
        3 * self.rounds() + 1
    }

    /// Native evaluation `MiMC⁽ⁿ⁾(x)`.
    pub fn evaluate(&self, x: Fr) -> Fr {
        self.round_constants.iter().fold(x, |state, c| {
            let t = state + c;
            t.square().square() * t
        })
    }

    /// The circuit proving `y = MiMC⁽ⁿ⁾(x)` for the public seed `x`; `y` is computed natively.
    pub fn circuit(&self, x: Fr) -> MimcChainCircuit {
        MimcChainCircuit {
            chain: self.clone(),
            x,
            y: self.evaluate(x),
        }
    }
}

/// `cᵢ = keccak256(ROUND_CONSTANT_DOMAIN ‖ be32(i)) mod r`.
fn round_constant(i: usize) -> Fr {
    // The chain is bounded by memory long before 2³² rounds; saturating keeps the function total.
    let index = u32::try_from(i).unwrap_or(u32::MAX);
    let digest = Keccak256::new()
        .chain_update(ROUND_CONSTANT_DOMAIN)
        .chain_update(index.to_be_bytes())
        .finalize();
    Fr::from_be_bytes_mod_order(&digest)
}

/// The Groth16 circuit of a [`MimcChain`]: public signals `[x, y]` with `y = MiMC⁽ⁿ⁾(x)`.
///
/// The requester supplies `x` (the market's public input); the prover publishes `y` (the public output).
#[derive(Clone, Debug)]
pub struct MimcChainCircuit {
    chain: MimcChain,
    x: Fr,
    y: Fr,
}

impl MimcChainCircuit {
    /// Overrides the claimed output, e.g. to build a deliberately unsatisfied witness in tests.
    pub fn with_output(mut self, y: Fr) -> Self {
        self.y = y;
        self
    }

    /// The public seed `x`.
    pub fn input(&self) -> Fr {
        self.x
    }

    /// The public output `y`.
    pub fn output(&self) -> Fr {
        self.y
    }

    /// The public signals in circuit order: `[x, y]`.
    pub fn public_signals(&self) -> [Fr; 2] {
        [self.x, self.y]
    }
}

impl ConstraintSynthesizer<Fr> for MimcChainCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        // Instance variables are allocated in signal order: x first, then y.
        let x = FpVar::new_input(cs.clone(), || Ok(self.x))?;
        let y = FpVar::new_input(cs, || Ok(self.y))?;

        let mut state = x;
        for c in self.chain.round_constants.iter() {
            let t = state + *c; // linear: no constraint
            let t4 = t.square()?.square()?; // 2 constraints
            state = t4 * t; // 1 constraint
        }
        state.enforce_equal(&y) // 1 constraint
    }
}

/// The exponent as a field power, for tests that want the textbook form `(s + c)^5`.
#[cfg(test)]
fn pow5(t: Fr) -> Fr {
    t.pow([EXPONENT])
}

#[cfg(test)]
mod tests {
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::UniformRand;
    use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

    use super::*;

    fn synthesize(circuit: MimcChainCircuit) -> ConstraintSystemRef<Fr> {
        let cs = ConstraintSystem::new_ref();
        circuit
            .generate_constraints(cs.clone())
            .expect("synthesis of a well-formed circuit succeeds");
        cs.finalize();
        cs
    }

    #[test]
    fn evaluate_matches_textbook_definition() {
        let chain = MimcChain::new(7);
        let x = Fr::from(3u64);
        let expected = chain.round_constants().iter().fold(x, |s, c| pow5(s + c));
        assert_eq!(chain.evaluate(x), expected);
        assert_ne!(chain.evaluate(x), x);
    }

    #[test]
    fn round_constants_are_deterministic_and_distinct() {
        let a = MimcChain::new(16);
        assert_eq!(a, MimcChain::new(16));
        assert_eq!(
            &MimcChain::new(20).round_constants()[..16],
            a.round_constants()
        );
        let mut sorted = a.round_constants().to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 16);
    }

    #[test]
    fn circuit_agrees_with_native() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for rounds in [0, 1, 2, 13, 64] {
            let chain = MimcChain::new(rounds);
            let x = Fr::rand(&mut rng);
            let circuit = chain.circuit(x);
            assert_eq!(circuit.output(), chain.evaluate(x));
            let cs = synthesize(circuit);
            assert!(
                cs.is_satisfied().expect("prove mode has assignments"),
                "rounds = {rounds}"
            );
            assert_eq!(
                cs.num_constraints(),
                chain.num_constraints(),
                "rounds = {rounds}"
            );
            // Instance = [1, x, y].
            assert_eq!(
                cs.instance_assignment().expect("prove mode"),
                vec![Fr::from(1u64), x, chain.evaluate(x)]
            );
        }
    }

    #[test]
    fn circuit_rejects_wrong_output() {
        let chain = MimcChain::new(5);
        let x = Fr::from(11u64);
        let wrong = chain.evaluate(x) + Fr::from(1u64);
        let cs = synthesize(chain.circuit(x).with_output(wrong));
        assert!(!cs.is_satisfied().expect("prove mode has assignments"));
    }
}
