//! Byte encodings read by the `Groth16Verifier` contract (`contracts/src/verifiers/Groth16Verifier.sol`).
//!
//! All words are 32-byte big-endian integers; points use the EIP-196/197 precompile layout, the point at
//! infinity is `(0, 0)`, and G2 coordinates put the imaginary part first.
//!
//! | item | layout | bytes |
//! | --- | --- | --- |
//! | scalar | `v` (must be `< r`) | 32 |
//! | G1 point | `x, y` | 64 |
//! | G2 point | `x.c1, x.c0, y.c1, y.c0` | 128 |
//! | proof | `A (G1), B (G2), C (G1)` | 256 |
//! | verifying key | `α (G1), β (G2), γ (G2), δ (G2), IC₀ … ICₖ (G1)` | `448 + 64·(k+1)` |
//!
//! `k` is the number of public signals. A market statement splits them: the ask's `inputs` are the first
//! `numInputs` signals (optionally followed by bytes the verifier ignores) and the submitted `proof` is the
//! 256-byte proof followed by the remaining signals (the public outputs).

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};

use crate::{Bn254, Error, Fr, Result};

/// Bytes of one field element.
pub const WORD_LEN: usize = 32;
/// Bytes of an encoded G1 point.
pub const G1_LEN: usize = 2 * WORD_LEN;
/// Bytes of an encoded G2 point.
pub const G2_LEN: usize = 4 * WORD_LEN;
/// Bytes of an encoded Groth16 proof (without public outputs).
pub const PROOF_LEN: usize = 2 * G1_LEN + G2_LEN;
/// Bytes of a verifying key before its `IC` points: `α, β, γ, δ`.
pub const VK_HEADER_LEN: usize = G1_LEN + 3 * G2_LEN;

/// A BN254 scalar as a 32-byte big-endian word.
pub fn encode_fr(v: &Fr) -> [u8; WORD_LEN] {
    to_word(&v.into_bigint().to_bytes_be())
}

/// Parses a 32-byte big-endian word as a BN254 scalar, rejecting non-canonical values (`>= r`) as the
/// contract does.
pub fn decode_fr(word: &[u8]) -> Result<Fr> {
    let word: [u8; WORD_LEN] = word.try_into().map_err(|_| Error::InvalidLength {
        expected: WORD_LEN,
        actual: word.len(),
    })?;
    let v = Fr::from_be_bytes_mod_order(&word);
    if encode_fr(&v) != word {
        return Err(Error::NonCanonicalScalar(word));
    }
    Ok(v)
}

/// A G1 point as `x, y`; the point at infinity is `(0, 0)`.
pub fn encode_g1(p: &G1Affine) -> [u8; G1_LEN] {
    let (x, y) = p.xy().unwrap_or((Fq::zero(), Fq::zero()));
    let mut out = [0; G1_LEN];
    out[..WORD_LEN].copy_from_slice(&encode_fq(&x));
    out[WORD_LEN..].copy_from_slice(&encode_fq(&y));
    out
}

/// A G2 point as `x.c1, x.c0, y.c1, y.c0` (EIP-197 order); the point at infinity is all zeros.
pub fn encode_g2(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0; G2_LEN];
    if let Some((x, y)) = p.xy() {
        for (chunk, coordinate) in out.chunks_exact_mut(WORD_LEN).zip([x.c1, x.c0, y.c1, y.c0]) {
            chunk.copy_from_slice(&encode_fq(&coordinate));
        }
    }
    out
}

/// A Groth16 proof as `A, B, C` (256 bytes).
pub fn encode_proof(proof: &Proof<Bn254>) -> [u8; PROOF_LEN] {
    let mut out = [0; PROOF_LEN];
    out[..G1_LEN].copy_from_slice(&encode_g1(&proof.a));
    out[G1_LEN..G1_LEN + G2_LEN].copy_from_slice(&encode_g2(&proof.b));
    out[G1_LEN + G2_LEN..].copy_from_slice(&encode_g1(&proof.c));
    out
}

/// The verifying key in the layout the `Groth16Verifier` constructor takes:
/// `α, β, γ, δ, IC₀ … ICₖ` (`448 + 64·(k+1)` bytes).
pub fn encode_verifying_key(vk: &VerifyingKey<Bn254>) -> Vec<u8> {
    let mut out = Vec::with_capacity(VK_HEADER_LEN + G1_LEN * vk.gamma_abc_g1.len());
    out.extend_from_slice(&encode_g1(&vk.alpha_g1));
    out.extend_from_slice(&encode_g2(&vk.beta_g2));
    out.extend_from_slice(&encode_g2(&vk.gamma_g2));
    out.extend_from_slice(&encode_g2(&vk.delta_g2));
    for ic in &vk.gamma_abc_g1 {
        out.extend_from_slice(&encode_g1(ic));
    }
    out
}

/// The ask's prover data for a Groth16 market: the requester's public inputs as consecutive words.
pub fn encode_inputs(inputs: &[Fr]) -> Vec<u8> {
    inputs.iter().flat_map(encode_fr).collect()
}

/// The bytes a generator submits: the 256-byte proof followed by the public outputs as words.
pub fn encode_proof_with_outputs(proof: &Proof<Bn254>, outputs: &[Fr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PROOF_LEN + WORD_LEN * outputs.len());
    out.extend_from_slice(&encode_proof(proof));
    for v in outputs {
        out.extend_from_slice(&encode_fr(v));
    }
    out
}

/// Parses a 256-byte `A, B, C` proof, checking that every point is canonical, on its curve and in its
/// subgroup (the contract rejects the rest too).
pub fn decode_proof(bytes: &[u8]) -> Result<Proof<Bn254>> {
    if bytes.len() != PROOF_LEN {
        return Err(Error::InvalidLength {
            expected: PROOF_LEN,
            actual: bytes.len(),
        });
    }
    Ok(Proof {
        a: decode_g1(&bytes[..G1_LEN])?,
        b: decode_g2(&bytes[G1_LEN..G1_LEN + G2_LEN])?,
        c: decode_g1(&bytes[G1_LEN + G2_LEN..])?,
    })
}

/// Splits submitted proof bytes into the proof and `num_outputs` output words.
pub fn decode_proof_with_outputs(
    bytes: &[u8],
    num_outputs: usize,
) -> Result<(Proof<Bn254>, Vec<Fr>)> {
    let expected = PROOF_LEN + WORD_LEN * num_outputs;
    if bytes.len() != expected {
        return Err(Error::InvalidLength {
            expected,
            actual: bytes.len(),
        });
    }
    let proof = decode_proof(&bytes[..PROOF_LEN])?;
    let outputs = bytes[PROOF_LEN..]
        .chunks_exact(WORD_LEN)
        .map(decode_fr)
        .collect::<Result<_>>()?;
    Ok((proof, outputs))
}

/// Parses a G1 point `x, y` (`(0, 0)` is the point at infinity).
pub fn decode_g1(bytes: &[u8]) -> Result<G1Affine> {
    let [x, y] = [0, 1].map(|i| decode_fq(&bytes[WORD_LEN * i..WORD_LEN * (i + 1)]));
    let (x, y) = (x?, y?);
    if x.is_zero() && y.is_zero() {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(Error::InvalidPoint("G1 point not on the curve"));
    }
    Ok(p)
}

/// Parses a G2 point `x.c1, x.c0, y.c1, y.c0` (all zero is the point at infinity).
pub fn decode_g2(bytes: &[u8]) -> Result<G2Affine> {
    let [x1, x0, y1, y0] =
        [0, 1, 2, 3].map(|i| decode_fq(&bytes[WORD_LEN * i..WORD_LEN * (i + 1)]));
    let (x, y) = (Fq2::new(x0?, x1?), Fq2::new(y0?, y1?));
    if x.is_zero() && y.is_zero() {
        return Ok(G2Affine::zero());
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(Error::InvalidPoint(
            "G2 point not on the curve or outside the subgroup",
        ));
    }
    Ok(p)
}

fn decode_fq(word: &[u8]) -> Result<Fq> {
    let v = Fq::from_be_bytes_mod_order(word);
    if encode_fq(&v) != word {
        return Err(Error::InvalidPoint(
            "coordinate not below the base field modulus",
        ));
    }
    Ok(v)
}

fn encode_fq(v: &Fq) -> [u8; WORD_LEN] {
    to_word(&v.into_bigint().to_bytes_be())
}

/// Left-pads a big-endian integer of at most 32 bytes (BN254 limbs are exactly 32 bytes).
fn to_word(be: &[u8]) -> [u8; WORD_LEN] {
    let mut out = [0; WORD_LEN];
    out[WORD_LEN - be.len()..].copy_from_slice(be);
    out
}

#[cfg(test)]
mod tests {
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::One;

    use super::*;

    /// BN254 scalar field modulus r.
    const R: &str = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
    /// BN254 base field modulus q.
    const Q: &str = "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";

    #[test]
    fn scalars_are_big_endian_words() {
        assert_eq!(encode_fr(&Fr::one()), {
            let mut w = [0; 32];
            w[31] = 1;
            w
        });
        assert_eq!(
            hex::encode(encode_fr(&-Fr::one())),
            "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000000"
        );
        let v = Fr::from(0x1234_5678u64);
        assert_eq!(decode_fr(&encode_fr(&v)).expect("canonical"), v);
    }

    #[test]
    fn decode_rejects_non_canonical_and_short_words() {
        let r: [u8; 32] = hex::decode(R).expect("hex").try_into().expect("32 bytes");
        assert!(matches!(decode_fr(&r), Err(Error::NonCanonicalScalar(w)) if w == r));
        assert!(matches!(
            decode_fr(&[0xff; 32]),
            Err(Error::NonCanonicalScalar(_))
        ));
        assert!(matches!(
            decode_fr(&[0; 31]),
            Err(Error::InvalidLength {
                expected: 32,
                actual: 31
            })
        ));
    }

    #[test]
    fn generators_use_precompile_layout() {
        let g1 = encode_g1(&G1Affine::generator());
        assert_eq!(g1[31], 1);
        assert_eq!(g1[63], 2);
        assert!(g1[..31].iter().chain(&g1[32..63]).all(|b| *b == 0));
        assert_eq!(encode_g1(&G1Affine::zero()), [0; 64]);

        // EIP-197 lists the G2 generator as x = (x.c1, x.c0), y = (y.c1, y.c0) with these words.
        let g2 = hex::encode(encode_g2(&G2Affine::generator()));
        assert_eq!(
            g2,
            concat!(
                "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2",
                "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed",
                "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b",
                "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa",
            )
        );
        assert_eq!(encode_g2(&G2Affine::zero()), [0; 128]);
    }

    #[test]
    fn negated_point_has_q_minus_y() {
        // The contract negates A as (x, q - y); check that this is the group negation.
        let p = (G1Affine::generator() * Fr::from(77u64)).into_affine();
        let neg = encode_g1(&-p);
        let pos = encode_g1(&p);
        assert_eq!(neg[..32], pos[..32]);
        let q = Fq::from_be_bytes_mod_order(&hex::decode(Q).expect("hex"));
        assert!(q.is_zero());
        let y = Fq::from_be_bytes_mod_order(&pos[32..]);
        assert_eq!(Fq::from_be_bytes_mod_order(&neg[32..]), -y);
    }

    #[test]
    fn points_and_proofs_decode_back() {
        let g1 = (G1Affine::generator() * Fr::from(5u64)).into_affine();
        let g2 = (G2Affine::generator() * Fr::from(9u64)).into_affine();
        assert_eq!(decode_g1(&encode_g1(&g1)).expect("valid"), g1);
        assert_eq!(decode_g2(&encode_g2(&g2)).expect("valid"), g2);
        assert!(decode_g1(&[0; 64]).expect("infinity").is_zero());
        let proof = Proof::<Bn254> {
            a: g1,
            b: g2,
            c: -g1,
        };
        let bytes = encode_proof_with_outputs(&proof, &[Fr::from(3u64)]);
        let (decoded, outputs) = decode_proof_with_outputs(&bytes, 1).expect("valid");
        assert_eq!((decoded, outputs), (proof, vec![Fr::from(3u64)]));

        let mut off_curve = encode_g1(&g1);
        off_curve[63] ^= 1;
        assert!(matches!(decode_g1(&off_curve), Err(Error::InvalidPoint(_))));
        let mut too_big = encode_g2(&g2);
        too_big[..32].fill(0xff);
        assert!(matches!(decode_g2(&too_big), Err(Error::InvalidPoint(_))));
        assert!(matches!(
            decode_proof_with_outputs(&bytes, 0),
            Err(Error::InvalidLength { expected: 256, .. })
        ));
    }

    #[test]
    fn verifying_key_layout() {
        let vk = VerifyingKey::<Bn254> {
            alpha_g1: G1Affine::generator(),
            beta_g2: G2Affine::generator(),
            gamma_g2: G2Affine::zero(),
            delta_g2: G2Affine::generator(),
            gamma_abc_g1: vec![G1Affine::generator(); 3],
        };
        let bytes = encode_verifying_key(&vk);
        assert_eq!(bytes.len(), VK_HEADER_LEN + 3 * G1_LEN);
        assert_eq!(bytes[..64], encode_g1(&vk.alpha_g1));
        assert_eq!(bytes[64..192], encode_g2(&vk.beta_g2));
        assert_eq!(bytes[192..320], [0; 128]);
        assert_eq!(bytes[320..448], encode_g2(&vk.delta_g2));
        assert_eq!(bytes[448 + 128..], encode_g1(&G1Affine::generator()));
    }
}
