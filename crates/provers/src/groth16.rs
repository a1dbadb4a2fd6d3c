//! Groth16 over BN254 with reproducible randomness.
//!
//! # INSECURE devnet setup
//!
//! [`insecure_devnet_setup`] derives the toxic waste (τ, α, β, γ, δ) from a public 32-byte seed with
//! ChaCha20. Anyone who knows the seed can forge proofs for the circuit. It exists so that devnets, tests and
//! committed fixtures are byte-for-byte reproducible; a production market must use keys from a trusted
//! setup ceremony instead.
//!
//! Proving is deterministic too ([`prove_seeded`] takes the seed of the blinding factors `r`, `s`), which
//! makes fixtures stable; proofs from the same seed for different statements are still sound, but they
//! share blinding factors, so use a fresh seed per proof when zero knowledge matters.

use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};
use ark_snark::{CircuitSpecificSetupSNARK, SNARK};
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

use crate::{Bn254, Error, Fr, Result};

/// The Groth16 instantiation used by every Kalypso market: BN254, the libsnark QAP reduction (as snarkjs).
pub type Bn254Groth16 = Groth16<Bn254>;

/// Size facts of a synthesized circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitStats {
    /// R1CS constraints.
    pub num_constraints: usize,
    /// Public signals (instance variables without the constant `1`).
    pub num_public_signals: usize,
}

/// Synthesizes `circuit` with its witness and reports its size; fails with [`Error::Unsatisfied`] if the
/// witness does not satisfy it.
pub fn check_circuit<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<CircuitStats> {
    let cs = ConstraintSystem::new_ref();
    // The same goal the Groth16 generator and prover use, so the counts match the keys.
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    if let Some(failing) = cs.which_is_unsatisfied()? {
        return Err(Error::Unsatisfied(failing));
    }
    Ok(CircuitStats {
        num_constraints: cs.num_constraints(),
        num_public_signals: cs.num_instance_variables() - 1,
    })
}

/// INSECURE: circuit-specific keys whose toxic waste is derived from the public `seed`. See the module docs.
pub fn insecure_devnet_setup<C: ConstraintSynthesizer<Fr>>(
    circuit: C,
    seed: [u8; 32],
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>)> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    Ok(Bn254Groth16::setup(circuit, &mut rng)?)
}

/// Proves `circuit` with blinding factors drawn from `seed`, after checking that its witness satisfies it
/// (arkworks would otherwise return a proof that does not verify, or panic in debug builds).
pub fn prove_seeded<C: ConstraintSynthesizer<Fr> + Clone>(
    pk: &ProvingKey<Bn254>,
    circuit: C,
    seed: [u8; 32],
) -> Result<Proof<Bn254>> {
    check_circuit(circuit.clone())?;
    let mut rng = ChaCha20Rng::from_seed(seed);
    Ok(Bn254Groth16::prove(pk, circuit, &mut rng)?)
}

/// Native verification of `proof` against the public signals in circuit order.
///
/// Returns `Ok(false)` for a proof that does not verify and an error when the number of signals does not
/// match the key.
pub fn verify(
    vk: &VerifyingKey<Bn254>,
    public_signals: &[Fr],
    proof: &Proof<Bn254>,
) -> Result<bool> {
    let expected = vk.gamma_abc_g1.len() - 1;
    if public_signals.len() != expected {
        return Err(Error::InvalidLength {
            expected,
            actual: public_signals.len(),
        });
    }
    Ok(Bn254Groth16::verify(vk, public_signals, proof)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mimc::MimcChain;

    #[test]
    fn setup_and_proof_are_reproducible_and_verify() {
        let chain = MimcChain::new(8);
        let circuit = chain.circuit(Fr::from(5u64));
        let (pk, vk) = insecure_devnet_setup(circuit.clone(), [1; 32]).expect("setup");
        let (_, vk_again) = insecure_devnet_setup(circuit.clone(), [1; 32]).expect("setup");
        assert_eq!(vk, vk_again);
        let (_, vk_other) = insecure_devnet_setup(circuit.clone(), [2; 32]).expect("setup");
        assert_ne!(vk, vk_other);

        let proof = prove_seeded(&pk, circuit.clone(), [3; 32]).expect("prove");
        assert_eq!(
            proof,
            prove_seeded(&pk, circuit.clone(), [3; 32]).expect("prove")
        );
        assert_ne!(
            proof,
            prove_seeded(&pk, circuit.clone(), [4; 32]).expect("prove")
        );

        let signals = circuit.public_signals();
        assert!(verify(&vk, &signals, &proof).expect("verify"));
        assert!(!verify(&vk, &[signals[0], signals[1] + Fr::from(1u64)], &proof).expect("verify"));
        assert!(!verify(&vk_other, &signals, &proof).expect("verify"));
        assert!(matches!(
            verify(&vk, &signals[..1], &proof),
            Err(Error::InvalidLength {
                expected: 2,
                actual: 1
            })
        ));
    }

    #[test]
    fn prove_rejects_unsatisfied_witness() {
        let chain = MimcChain::new(3);
        let circuit = chain.circuit(Fr::from(5u64));
        let (pk, _) = insecure_devnet_setup(circuit.clone(), [1; 32]).expect("setup");
        let bad = circuit.with_output(Fr::from(0u64));
        assert!(matches!(
            prove_seeded(&pk, bad, [3; 32]),
            Err(Error::Unsatisfied(_))
        ));
    }

    #[test]
    fn check_circuit_reports_size() {
        let chain = MimcChain::new(10);
        let stats = check_circuit(chain.circuit(Fr::from(9u64))).expect("satisfied");
        assert_eq!(
            stats,
            CircuitStats {
                num_constraints: chain.num_constraints(),
                num_public_signals: 2
            }
        );
    }
}
