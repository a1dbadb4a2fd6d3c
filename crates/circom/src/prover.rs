//! Groth16 proving with a snarkjs zkey: snarkjs's R1CS-to-QAP variant on arkworks' prover.

use ark_ec::CurveGroup;
use ark_ff::{Field, PrimeField, UniformRand};
use ark_groth16::{Groth16, Proof, r1cs_to_qap::R1CSToQAP};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::{
    gr1cs::{ConstraintSystemRef, SynthesisError},
    utils::matrix::Matrix as ArkMatrix,
};
use ark_std::{cfg_iter, cfg_iter_mut};
use rand_core::{CryptoRng, RngCore};
#[cfg(feature = "parallel")]
use rayon::prelude::*;

use crate::{
    Bn254, Error, Fr, Result,
    msm::{self, Digits},
    zkey::Zkey,
};

/// snarkjs's reduction: the quotient is handed to the prover as its evaluations on the odd powers of a
/// primitive `2n`-th root of unity `ω₂ₙ` (the coset `ω₂ₙ·H` of the domain `H`), in the order
/// `ω₂ₙ·ωₙʲ`, which is the basis of the zkey's H points. No division by the vanishing polynomial: it is
/// the constant `−2` on that coset, folded into the H points by the setup.
///
/// Only the prover side exists: keys come from snarkjs, so the setup methods fail.
#[derive(Clone, Copy, Debug)]
pub struct CircomReduction;

impl R1CSToQAP for CircomReduction {
    fn instance_map_with_evaluation<F: ark_ff::PrimeField, D: EvaluationDomain<F>>(
        _cs: ConstraintSystemRef<F>,
        _t: &F,
    ) -> Result<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize), SynthesisError> {
        // Setup is snarkjs's job (`snarkjs groth16 setup`).
        Err(SynthesisError::Unsatisfiable)
    }

    fn witness_map_from_matrices<F: ark_ff::PrimeField, D: EvaluationDomain<F>>(
        matrices: &[ArkMatrix<F>],
        _num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> Result<Vec<F>, SynthesisError> {
        let [a_rows, b_rows] = matrices else {
            return Err(SynthesisError::MissingCS);
        };
        let domain = D::new(num_constraints).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let mut a = vec![F::zero(); n];
        let mut b = vec![F::zero(); n];
        cfg_iter_mut!(a[..num_constraints])
            .zip(&mut b[..num_constraints])
            .zip(cfg_iter!(a_rows))
            .zip(cfg_iter!(b_rows))
            .for_each(|(((a, b), a_row), b_row)| {
                *a = row_dot(a_row, full_assignment);
                *b = row_dot(b_row, full_assignment);
            });
        // C·w = (A·w) ∘ (B·w) for a satisfying witness: snarkjs keeps no C matrix.
        let mut c: Vec<F> = cfg_iter!(a)
            .zip(cfg_iter!(b))
            .map(|(a, b)| *a * b)
            .collect();

        let root = D::new(2 * n)
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?
            .element(1);
        for values in [&mut a, &mut b, &mut c] {
            domain.ifft_in_place(values);
            D::distribute_powers_and_mul_by_const(values, root, F::one());
            domain.fft_in_place(values);
        }
        cfg_iter_mut!(a)
            .zip(cfg_iter!(b))
            .zip(cfg_iter!(c))
            .for_each(|((a, b), c)| {
                *a = *a * b - c;
            });
        Ok(a)
    }

    fn h_query_scalars<F: ark_ff::PrimeField, D: EvaluationDomain<F>>(
        _max_power: usize,
        _t: F,
        _zt: F,
        _delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        Err(SynthesisError::Unsatisfiable)
    }
}

fn row_dot<F: Field>(row: &[(F, usize)], assignment: &[F]) -> F {
    row.iter().fold(F::zero(), |acc, (coeff, i)| {
        let v = assignment[*i];
        if coeff.is_one() {
            acc + v
        } else {
            acc + v * coeff
        }
    })
}

/// Proves `witness` (from [`crate::WitnessCalculator::calculate`]) with `zkey`, blinding with `rng`, and
/// checks the proof against the zkey's verifying key before returning it.
///
/// Fails with [`Error::Mismatch`] when the witness does not have the zkey's size, and with
/// [`Error::Unsatisfied`] when the proof does not verify (the witness does not satisfy the circuit the
/// zkey was made for).
pub fn prove<R: RngCore + CryptoRng>(
    zkey: &Zkey,
    witness: &[Fr],
    rng: &mut R,
) -> Result<Proof<Bn254>> {
    if witness.len() != zkey.num_vars {
        return Err(Error::Mismatch(format!(
            "the witness has {} elements but the zkey is for {} (wasm and zkey of different circuits?)",
            witness.len(),
            zkey.num_vars
        )));
    }
    if witness[0] != Fr::from(1u64) {
        return Err(Error::Mismatch(
            "the witness does not start with the constant 1".into(),
        ));
    }
    let domain = GeneralEvaluationDomain::<Fr>::new(zkey.num_rows)
        .ok_or_else(|| Error::Zkey("the domain is too large for BN254".into()))?;
    if domain.size() != zkey.domain_size {
        return Err(Error::Zkey(format!(
            "domain of {} for {} rows, expected {}",
            zkey.domain_size,
            zkey.num_rows,
            domain.size()
        )));
    }
    let (r, s) = (Fr::rand(rng), Fr::rand(rng));
    let proof = create_proof(zkey, r, s, witness)?;
    let public = &witness[1..=zkey.num_public];
    if !verify(zkey.verifying_key(), public, &proof)? {
        return Err(Error::Unsatisfied);
    }
    Ok(proof)
}

/// Groth16's prover (as arkworks' `create_proof_with_reduction_and_matrices`, whose result it equals for the
/// same `r` and `s`) on this crate's MSM ([`crate::msm`]), with the digits of the witness computed once for
/// the three MSMs over it.
fn create_proof(zkey: &Zkey, r: Fr, s: Fr, witness: &[Fr]) -> Result<Proof<Bn254>> {
    let pk = &zkey.proving_key;
    let num_inputs = zkey.num_public + 1;
    let h = CircomReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
        &zkey.matrices,
        num_inputs,
        zkey.num_rows,
        witness,
    )?;
    let bits = Fr::MODULUS_BIT_SIZE as usize;
    let h_acc = msm::msm(&pk.h_query, &Digits::new(&msm::bigints(&h), bits));
    drop(h);
    let witness = msm::bigints(witness);
    let l_acc = msm::msm(&pk.l_query, &Digits::new(&witness[num_inputs..], bits));
    // Signal 0 is the constant 1: its query points are added as they are.
    let digits = Digits::new(&witness[1..], bits);
    let a_acc = msm::msm(&pk.a_query[1..], &digits);
    let b1_acc = msm::msm(&pk.b_g1_query[1..], &digits);
    let b2_acc = msm::msm(&pk.b_g2_query[1..], &digits);
    drop(digits);

    let g_a = pk.delta_g1 * r + pk.a_query[0] + a_acc + pk.vk.alpha_g1;
    let g1_b = pk.delta_g1 * s + pk.b_g1_query[0] + b1_acc + pk.beta_g1;
    let g2_b = pk.vk.delta_g2 * s + pk.b_g2_query[0] + b2_acc + pk.vk.beta_g2;
    let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l_acc + h_acc;
    Ok(Proof {
        a: g_a.into_affine(),
        b: g2_b.into_affine(),
        c: g_c.into_affine(),
    })
}

/// Verifies `proof` for the public signals in snarkjs order (outputs, then public inputs).
pub fn verify(
    vk: &ark_groth16::VerifyingKey<Bn254>,
    public_signals: &[Fr],
    proof: &Proof<Bn254>,
) -> Result<bool> {
    if public_signals.len() + 1 != vk.gamma_abc_g1.len() {
        return Err(Error::Mismatch(format!(
            "{} public signals for a key with {}",
            public_signals.len(),
            vk.gamma_abc_g1.len() - 1
        )));
    }
    let pvk = ark_groth16::prepare_verifying_key(vk);
    Ok(Groth16::<Bn254>::verify_proof(&pvk, proof, public_signals)?)
}
