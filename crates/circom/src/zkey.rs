//! snarkjs's Groth16 `.zkey`: the proving key and the constraint coefficients the prover needs.
//!
//! A zkey is a binary file `"zkey" ‖ version:u32 ‖ sections:u32` followed by sections `id:u32 ‖ len:u64 ‖
//! bytes`. Integers are little-endian; base-field coordinates are stored in Montgomery form (32 bytes,
//! little-endian), G2 coordinates as `c0 ‖ c1`, the point at infinity as zeros.
//!
//! | id | section | contents |
//! | --- | --- | --- |
//! | 1 | header | prover type (1 = Groth16) |
//! | 2 | Groth16 header | `n8q, q, n8r, r, nVars, nPublic, domainSize, α₁, β₁, β₂, γ₂, δ₁, δ₂` |
//! | 3 | IC | `nPublic + 1` G1 points |
//! | 4 | coefficients | `n:u32`, then `matrix:u32 (0 = A, 1 = B), constraint:u32, signal:u32, value` |
//! | 5, 6, 7 | A, B₁, B₂ | `nVars` points (G1, G1, G2) |
//! | 8 | C | `nVars − nPublic − 1` G1 points |
//! | 9 | H | `domainSize` G1 points, for the evaluations at the odd powers of the `2·domainSize`-th root |
//!
//! Coefficient values are stored as `v·R²` (Montgomery form applied twice, `R = 2²⁵⁶ mod r`). The
//! coefficients hold A and B only (C follows from the witness: `C·w = (A·w) ∘ (B·w)`), including one
//! extra A row per public signal (rows `nConstraints … nConstraints + nPublic`), which snarkjs's setup
//! adds so that the IC points are independent.

use std::{collections::BTreeMap, path::Path};

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, Field, PrimeField, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
#[cfg(feature = "parallel")]
use rayon::prelude::*;

use crate::{Bn254, Error, Fr, Result};

/// Rows of a sparse matrix: row `i` lists `(coefficient, signal)`.
pub type Matrix = Vec<Vec<(Fr, usize)>>;

/// A parsed snarkjs Groth16 zkey.
#[derive(Clone, Debug, PartialEq)]
pub struct Zkey {
    /// The proving key (its `vk` is the verifying key snarkjs exports as `verification_key.json`).
    pub proving_key: ProvingKey<Bn254>,
    /// Matrices A and B by constraint (`num_rows` rows each, the public-signal rows of A included).
    pub matrices: [Matrix; 2],
    /// Witness elements (`1`, public signals, private signals).
    pub num_vars: usize,
    /// Public signals (outputs then public inputs).
    pub num_public: usize,
    /// The evaluation domain, a power of two of at least `num_rows`.
    pub domain_size: usize,
    /// Circuit constraints plus the `num_public + 1` rows of the public signals.
    pub num_rows: usize,
}

const G1_BYTES: usize = 64;
const G2_BYTES: usize = 128;
const COEF_BYTES: usize = 12 + 32;

impl Zkey {
    /// Parses a zkey file's bytes, checking its structure, sizes, field and that every point is on its
    /// curve.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let sections = sections(bytes)?;
        let section = |id: u32| -> Result<&[u8]> {
            sections
                .get(&id)
                .copied()
                .ok_or_else(|| zkey_error(format!("section {id} is missing")))
        };

        let header = section(1)?;
        match read_u32(header, 0)? {
            1 => {}
            2 => return Err(zkey_error("a PLONK key: only Groth16 zkeys are supported")),
            10 => {
                return Err(zkey_error(
                    "an FFLONK key: only Groth16 zkeys are supported",
                ));
            }
            other => return Err(zkey_error(format!("unknown prover type {other}"))),
        }

        let h = section(2)?;
        let mut at = 0;
        let mut next = |len: usize| -> Result<&[u8]> {
            let slice = h
                .get(at..at + len)
                .ok_or_else(|| zkey_error("the Groth16 header is truncated"))?;
            at += len;
            Ok(slice)
        };
        let n8q = read_u32(next(4)?, 0)?;
        let q = next(32)?;
        let n8r = read_u32(next(4)?, 0)?;
        let r = next(32)?;
        if n8q != 32 || n8r != 32 || q != le_bytes(Fq::MODULUS) || r != le_bytes(Fr::MODULUS) {
            return Err(zkey_error(
                "not a BN254 (bn128) key: only BN254 is supported",
            ));
        }
        let num_vars = read_u32(next(4)?, 0)? as usize;
        let num_public = read_u32(next(4)?, 0)? as usize;
        let domain_size = read_u32(next(4)?, 0)? as usize;
        if !domain_size.is_power_of_two() || num_public + 1 > num_vars {
            return Err(zkey_error(format!(
                "inconsistent header: {num_vars} variables, {num_public} public, domain {domain_size}"
            )));
        }
        let alpha_g1 = g1(next(G1_BYTES)?)?;
        let beta_g1 = g1(next(G1_BYTES)?)?;
        let beta_g2 = g2(next(G2_BYTES)?)?;
        let gamma_g2 = g2(next(G2_BYTES)?)?;
        let delta_g1 = g1(next(G1_BYTES)?)?;
        let delta_g2 = g2(next(G2_BYTES)?)?;

        let num_private = num_vars - num_public - 1;
        let vk = VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2,
            delta_g2,
            gamma_abc_g1: g1_section(section(3)?, num_public + 1, "IC")?,
        };
        let proving_key = ProvingKey {
            vk,
            beta_g1,
            delta_g1,
            a_query: g1_section(section(5)?, num_vars, "A")?,
            b_g1_query: g1_section(section(6)?, num_vars, "B1")?,
            b_g2_query: g2_section(section(7)?, num_vars)?,
            l_query: g1_section(section(8)?, num_private, "C")?,
            h_query: g1_section(section(9)?, domain_size, "H")?,
        };

        let (a, b, num_rows) = coefficients(section(4)?, num_vars, num_public, domain_size)?;
        Ok(Self {
            proving_key,
            matrices: [a, b],
            num_vars,
            num_public,
            domain_size,
            num_rows,
        })
    }

    /// Reads and parses the zkey at `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| e.in_file(path))
    }

    /// The verifying key (what snarkjs exports as `verification_key.json`).
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.proving_key.vk
    }

    /// R1CS constraints of the circuit (without the rows snarkjs adds for the public signals).
    pub fn num_constraints(&self) -> usize {
        self.num_rows - self.num_public - 1
    }
}

fn zkey_error(reason: impl Into<String>) -> Error {
    Error::Zkey(reason.into())
}

/// The sections by id (a zkey holds each once).
fn sections(bytes: &[u8]) -> Result<BTreeMap<u32, &[u8]>> {
    if bytes.get(..4) != Some(b"zkey") {
        return Err(zkey_error("not a zkey file (no `zkey` magic)"));
    }
    let version = read_u32(bytes, 4)?;
    if version != 1 {
        return Err(zkey_error(format!("unsupported zkey version {version}")));
    }
    let count = read_u32(bytes, 8)?;
    let mut at = 12usize;
    let mut sections = BTreeMap::new();
    for _ in 0..count {
        let id = read_u32(bytes, at)?;
        let len = bytes
            .get(at + 4..at + 12)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| zkey_error("truncated section table"))?;
        let start = at + 12;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| {
                zkey_error(format!(
                    "section {id} ({len} bytes) runs past the end of the file ({} bytes): truncated?",
                    bytes.len()
                ))
            })?;
        if sections.insert(id, &bytes[start..end]).is_some() {
            return Err(zkey_error(format!("section {id} appears twice")));
        }
        at = end;
    }
    Ok(sections)
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| zkey_error("unexpected end of data"))
}

fn le_bytes<B: ark_ff::BigInteger>(v: B) -> Vec<u8> {
    v.to_bytes_le()
}

fn limbs(bytes: &[u8]) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        *limb = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    BigInt(limbs)
}

/// A base-field element stored in Montgomery form.
fn fq(bytes: &[u8]) -> Result<Fq> {
    let raw = limbs(bytes);
    if raw >= Fq::MODULUS {
        return Err(zkey_error(
            "a coordinate is not below the base field modulus",
        ));
    }
    Ok(Fq::new_unchecked(raw))
}

fn g1(bytes: &[u8]) -> Result<G1Affine> {
    let (x, y) = (fq(&bytes[..32])?, fq(&bytes[32..64])?);
    if x.is_zero() && y.is_zero() {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(zkey_error("a G1 point is not on the curve"));
    }
    Ok(p)
}

fn g2(bytes: &[u8]) -> Result<G2Affine> {
    let x = Fq2::new(fq(&bytes[..32])?, fq(&bytes[32..64])?);
    let y = Fq2::new(fq(&bytes[64..96])?, fq(&bytes[96..128])?);
    if x.is_zero() && y.is_zero() {
        return Ok(G2Affine::zero());
    }
    let p = G2Affine::new_unchecked(x, y);
    // The subgroup check costs a scalar multiplication per point: done for the verifying key's points
    // (`g2` of the header); a B₂ point outside the subgroup would only give a proof that fails the
    // prover's own verification.
    if !p.is_on_curve() {
        return Err(zkey_error("a G2 point is not on the curve"));
    }
    Ok(p)
}

fn g1_section(bytes: &[u8], count: usize, name: &str) -> Result<Vec<G1Affine>> {
    if bytes.len() != count * G1_BYTES {
        return Err(zkey_error(format!(
            "section {name} has {} bytes, expected {count} G1 points ({} bytes)",
            bytes.len(),
            count * G1_BYTES
        )));
    }
    #[cfg(feature = "parallel")]
    let chunks = bytes.par_chunks_exact(G1_BYTES);
    #[cfg(not(feature = "parallel"))]
    let chunks = bytes.chunks_exact(G1_BYTES);
    chunks
        .map(g1)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| zkey_error(format!("section {name}: {e}")))
}

fn g2_section(bytes: &[u8], count: usize) -> Result<Vec<G2Affine>> {
    if bytes.len() != count * G2_BYTES {
        return Err(zkey_error(format!(
            "section B2 has {} bytes, expected {count} G2 points ({} bytes)",
            bytes.len(),
            count * G2_BYTES
        )));
    }
    #[cfg(feature = "parallel")]
    let chunks = bytes.par_chunks_exact(G2_BYTES);
    #[cfg(not(feature = "parallel"))]
    let chunks = bytes.chunks_exact(G2_BYTES);
    chunks
        .map(g2)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| zkey_error(format!("section B2: {e}")))
}

/// Matrices A and B from the coefficient section, and the number of rows.
fn coefficients(
    bytes: &[u8],
    num_vars: usize,
    num_public: usize,
    domain_size: usize,
) -> Result<(Matrix, Matrix, usize)> {
    let count = read_u32(bytes, 0)? as usize;
    let body = &bytes[4..];
    if body.len() != count * COEF_BYTES {
        return Err(zkey_error(format!(
            "the coefficient section has {} bytes for {count} coefficients",
            bytes.len()
        )));
    }
    // Stored as v·R²: v = stored · R⁻², with R = 2²⁵⁶ mod r.
    let r = Fr::from_bigint(Fr::R).expect("R mod r is below r");
    let r2_inv = (r * r).inverse().expect("R is invertible");
    let mut a: Matrix = Vec::new();
    let mut b: Matrix = Vec::new();
    for (i, entry) in body.chunks_exact(COEF_BYTES).enumerate() {
        let matrix = read_u32(entry, 0)?;
        let row = read_u32(entry, 4)? as usize;
        let signal = read_u32(entry, 8)? as usize;
        if signal >= num_vars || row >= domain_size {
            return Err(zkey_error(format!(
                "coefficient {i} refers to signal {signal} of constraint {row}: out of range"
            )));
        }
        let stored = Fr::from_bigint(limbs(&entry[12..]))
            .ok_or_else(|| zkey_error(format!("coefficient {i} is not below the field modulus")))?;
        let target = match matrix {
            0 => &mut a,
            1 => &mut b,
            m => return Err(zkey_error(format!("coefficient {i} names matrix {m}"))),
        };
        if target.len() <= row {
            target.resize_with(row + 1, Vec::new);
        }
        target[row].push((stored * r2_inv, signal));
    }
    // snarkjs appends the A rows of the public signals (1 at signal s in row nConstraints + s) last.
    let num_rows = a.len();
    if num_rows < num_public + 1 || b.len() > num_rows - num_public - 1 {
        return Err(zkey_error(
            "the coefficients lack the rows of the public signals",
        ));
    }
    let first_public_row = num_rows - num_public - 1;
    for s in 0..=num_public {
        if a[first_public_row + s] != [(Fr::from(1u64), s)] {
            return Err(zkey_error(format!(
                "row {} should select public signal {s}",
                first_public_row + s
            )));
        }
    }
    b.resize_with(num_rows, Vec::new);
    Ok((a, b, num_rows))
}
