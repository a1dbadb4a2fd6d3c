//! gnark's Groth16 BN254 encodings read into arkworks types, so a circuit written with
//! [gnark](https://github.com/Consensys/gnark) gets a market with the same `Groth16Verifier` contract:
//! [`parse_verifying_key`] → [`evm::encode_verifying_key`] gives the constructor bytes, [`parse_proof`] and
//! [`parse_public_witness`] read what a gnark prover writes, and [`verify`] checks them natively.
//!
//! # Encodings
//!
//! What gnark's `WriteTo` (compressed points) and `WriteRawTo` (uncompressed) write, all integers
//! big-endian; every point carries its own flag, so both forms (and a mix) are read:
//!
//! | item | layout |
//! | --- | --- |
//! | verifying key | `[α]₁ [β]₁ [β]₂ [γ]₂ [δ]₁ [δ]₂`, `u32 n`, `K₀ … Kₙ₋₁ (G1)`, then the commitment section |
//! | commitment section, gnark ≥ 0.11 | `u32 c`, `c × (u32 m, m × u64)` (public wires each commitment covers), `u32 k`, `k ×` Pedersen key (2 G2 points) |
//! | commitment section, gnark 0.9 – 0.10 | the same lists of public wires, then one Pedersen key (written even when unused) |
//! | commitment section, gnark ≤ 0.8 | absent |
//! | proof | `Ar (G1) Bs (G2) Krs (G1)`, then (gnark ≥ 0.9) `u32 c`, `c × commitment (G1)`, `PoK (G1)` |
//! | public witness (`witness.WriteTo`) | `u32 public`, `u32 secret`, `u32 len`, `len × 32-byte scalar` |
//!
//! A point starts with its x coordinate, whose two top bits (free: `q < 2²⁵⁴`) are gnark's flag:
//! `00` uncompressed (`x ‖ y`, 64 / 128 bytes; `(0, 0)` is the point at infinity), `01` infinity (32 / 64
//! bytes, all other bits zero), `10` compressed with the lexicographically smallest `y` of the two roots,
//! `11` with the largest (32 / 64 bytes, `x` only). An Fq value is "largest" when it is above `(q − 1)/2`;
//! an Fq2 value `c0 + c1·u` compares by `c1`, or by `c0` when `c1 = 0`. G2 coordinates are written imaginary
//! part first (`x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`), the EIP-197 order, so an uncompressed proof without
//! commitments starts with exactly the 256 bytes [`evm::encode_proof`] writes. Every point is checked:
//! coordinates below `q`, on the curve, in the prime-order subgroup.
//!
//! # Commitments
//!
//! gnark circuits that call `api.Commit` (`frontend.Committer`), which many standard gadgets do for Groth16
//! (range checks, emulated arithmetic, lookups), add Pedersen commitments to the key and the proof, with
//! an extra pairing check and a public value derived from a hash. The `Groth16Verifier` contract checks
//! plain Groth16 only, so a key or proof with commitments is rejected with [`GnarkError::Commitments`]: a
//! circuit for a Kalypso market must do without `api.Commit` and the gadgets that use it.
//!
//! # Public inputs and the market statement
//!
//! `K₀` belongs to the constant wire `1`; `K₁ … Kₙ₋₁` to the circuit's public inputs in declaration order
//! (the fields of the circuit struct tagged `gnark:",public"`, nested structs and arrays flattened
//! depth-first), which is the order of the public witness gnark writes. A gnark circuit has no outputs:
//! every public value is an input of the circuit. A market splits them as it splits any Groth16 statement:
//! the ask's inputs are the first `numInputs` values, and when a market lists outputs (values the prover
//! computes, such as a hash), they are the last `n − 1 − numInputs` public inputs of the circuit, which the
//! prover appends after the 256-byte proof ([`evm::encode_proof_with_outputs`]). With `numInputs = n − 1`
//! every public value comes from the ask; the contract needs `numInputs ≥ 1`.
//!
//! ```
//! use kalypso_provers::{evm, gnark};
//!
//! // gnark v0.10 `vk.WriteTo`, `proof.WriteTo`, `publicWitness.WriteTo` of `x³ + x + 5 == y` (public y).
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gnark");
//! let key = gnark::parse_verifying_key(&std::fs::read(format!("{dir}/cubic.vk"))?)?;
//! let proof = gnark::parse_proof(&std::fs::read(format!("{dir}/cubic.proof"))?)?;
//! let public = gnark::parse_public_witness(&std::fs::read(format!("{dir}/cubic.pub"))?)?;
//! assert_eq!(key.num_public_inputs(), 1);
//! assert!(gnark::verify(&key.vk, &public, &proof)?);
//!
//! // A market where the ask gives y: the verifier's constructor key, the ask's inputs, the submitted proof.
//! let constructor_vk = evm::encode_verifying_key(&key.vk);
//! let ask_inputs = evm::encode_inputs(&public);
//! let submitted = evm::encode_proof_with_outputs(&proof, &[]);
//! assert_eq!((constructor_vk.len(), ask_inputs.len(), submitted.len()), (576, 32, 256));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine, g1, g2};
use ark_ec::{AffineRepr, short_weierstrass::SWCurveConfig};
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};

use crate::{Bn254, Fr, evm, groth16::Bn254Groth16};

/// Bytes of a compressed G1 point (an uncompressed one has twice as many).
const G1_COMPRESSED: usize = 32;
/// Bytes of a compressed G2 point (an uncompressed one has twice as many).
const G2_COMPRESSED: usize = 64;
/// Bytes of a base or scalar field element.
const WORD: usize = 32;

/// The two top bits of a point's first byte.
const FLAG_MASK: u8 = 0b1100_0000;
/// Flag of an uncompressed point.
const FLAG_UNCOMPRESSED: u8 = 0b0000_0000;
/// Flag of the point at infinity, compressed.
const FLAG_INFINITY: u8 = 0b0100_0000;
/// Flag of a compressed point whose `y` is the lexicographically smallest root.
const FLAG_SMALLEST: u8 = 0b1000_0000;
/// Flag of a compressed point whose `y` is the lexicographically largest root.
const FLAG_LARGEST: u8 = 0b1100_0000;

/// Why gnark bytes were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum GnarkError {
    /// The bytes end before an item does.
    #[error("{item} at byte {offset}: needs {needed} bytes, only {available} left (truncated?)")]
    Truncated {
        /// The item being read (`"K[2] (G1)"`).
        item: String,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// Bytes follow the last item of the encoding.
    #[error("{count} unexpected bytes after the {what} (from byte {offset})")]
    TrailingBytes {
        /// The encoding (`"proof"`).
        what: &'static str,
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// The infinity flag (`01`) is set but the other bits of the point are not all zero.
    #[error("{item} at byte {offset}: infinity flag set but the point's other bits are not zero")]
    BadInfinity {
        /// The point being read.
        item: String,
        /// Where it starts.
        offset: usize,
    },
    /// A coordinate is not below the base field modulus `q`.
    #[error("{item} at byte {offset}: a coordinate is not below the base field modulus")]
    NonCanonicalCoordinate {
        /// The point being read.
        item: String,
        /// Where it starts.
        offset: usize,
    },
    /// A compressed point's `x` has no `y` on the curve (`x³ + b` is not a square).
    #[error("{item} at byte {offset}: compressed x is not the x coordinate of any curve point")]
    NoSquareRoot {
        /// The point being read.
        item: String,
        /// Where it starts.
        offset: usize,
    },
    /// An uncompressed point is not on the curve.
    #[error("{item} at byte {offset}: the point is not on the curve")]
    NotOnCurve {
        /// The point being read.
        item: String,
        /// Where it starts.
        offset: usize,
    },
    /// A G2 point is on the curve but outside the prime-order subgroup.
    #[error("{item} at byte {offset}: the point is not in the prime-order subgroup")]
    NotInSubgroup {
        /// The point being read.
        item: String,
        /// Where it starts.
        offset: usize,
    },
    /// The verifying key has no `K` points (gnark writes at least the constant wire's).
    #[error("the verifying key has no K points (gnark writes at least one, for the constant wire)")]
    EmptyK,
    /// The bytes after `K` match none of gnark's layouts.
    #[error(
        "the {len} bytes after the commitment wire lists match no gnark layout (expected a u32 count \
         and 128- or 256-byte Pedersen keys, or one Pedersen key): not a gnark Groth16 BN254 key?"
    )]
    UnknownLayout {
        /// How many bytes were left.
        len: usize,
    },
    /// The key or proof uses Pedersen commitments, which the `Groth16Verifier` contract cannot check.
    #[error(
        "the {what} uses {count} Pedersen commitment(s) (gnark `api.Commit`, used by range checks and \
         other std gadgets): the Groth16Verifier contract checks plain Groth16 only; compile the circuit \
         without commitments"
    )]
    Commitments {
        /// `"verifying key"` or `"proof"`.
        what: &'static str,
        /// How many commitments it has.
        count: usize,
    },
    /// A witness that holds secret values (the full witness) where the public one was expected.
    #[error(
        "the witness holds {secret} secret values: pass the public witness (`witness.Public()`), never \
         the full one"
    )]
    SecretWitness {
        /// How many secret values it declares.
        secret: u32,
    },
    /// A public witness whose header and vector disagree on its length.
    #[error("the witness declares {declared} public values but its vector holds {actual}")]
    WitnessLength {
        /// Public values in the header.
        declared: u32,
        /// Values in the vector.
        actual: usize,
    },
    /// A witness value that is not a canonical BN254 scalar.
    #[error("public value {index} is not a canonical BN254 scalar (>= r)")]
    NonCanonicalScalar {
        /// Its position in the witness.
        index: usize,
    },
    /// The public values do not match the key's `K` points.
    #[error("{given} public values for a key with {expected} public inputs")]
    PublicInputCount {
        /// Public inputs of the key (`K` points minus the constant's).
        expected: usize,
        /// Values given.
        given: usize,
    },
    /// arkworks failed to verify (a malformed key).
    #[error("verification failed: {0}")]
    Verify(#[from] ark_relations::gr1cs::SynthesisError),
}

/// Result of this module.
pub type Result<T, E = GnarkError> = std::result::Result<T, E>;

/// Which gnark release line wrote a verifying key (how its commitment section looks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyLayout {
    /// gnark ≤ 0.8: nothing after `K`.
    V0_8,
    /// gnark 0.9 – 0.10: the commitment wire lists, then one Pedersen key.
    V0_9,
    /// gnark ≥ 0.11: the commitment wire lists, a count, that many Pedersen keys.
    V0_11,
}

/// A gnark verifying key without commitments, as arkworks reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct GnarkVerifyingKey {
    /// The key: `α₁, β₂, γ₂, δ₂`, and `K` as `gamma_abc_g1` (`K₀` the constant wire's).
    pub vk: VerifyingKey<Bn254>,
    /// The layout it was written in.
    pub layout: KeyLayout,
}

impl GnarkVerifyingKey {
    /// Public inputs of the circuit: the `K` points but the constant wire's.
    pub fn num_public_inputs(&self) -> usize {
        self.vk.gamma_abc_g1.len() - 1
    }

    /// The verifying key in the layout the `Groth16Verifier` constructor takes.
    pub fn constructor_bytes(&self) -> Vec<u8> {
        evm::encode_verifying_key(&self.vk)
    }
}

/// Reads a verifying key written by gnark's `vk.WriteTo` or `vk.WriteRawTo` (any release since 0.4),
/// rejecting keys with Pedersen commitments.
pub fn parse_verifying_key(bytes: &[u8]) -> Result<GnarkVerifyingKey> {
    let mut r = Reader::new(bytes);
    let alpha_g1 = r.g1("[α]₁ (G1)")?;
    // gnark stores [β]₁ and [δ]₁ too (for its prover); verification does not use them.
    let _beta_g1 = r.g1("[β]₁ (G1)")?;
    let beta_g2 = r.g2("[β]₂ (G2)")?;
    let gamma_g2 = r.g2("[γ]₂ (G2)")?;
    let _delta_g1 = r.g1("[δ]₁ (G1)")?;
    let delta_g2 = r.g2("[δ]₂ (G2)")?;
    let n = r.count("the number of K points", G1_COMPRESSED)?;
    if n == 0 {
        return Err(GnarkError::EmptyK);
    }
    let gamma_abc_g1 = (0..n)
        .map(|i| r.g1(&format!("K[{i}] (G1)")))
        .collect::<Result<Vec<_>>>()?;

    let layout = if r.remaining() == 0 {
        KeyLayout::V0_8
    } else {
        // The public wires each commitment covers: one list per commitment.
        let commitments = r.count("the number of commitments", 4)?;
        if commitments > 0 {
            return Err(GnarkError::Commitments {
                what: "verifying key",
                count: commitments,
            });
        }
        // ≥ 0.11: `u32 k` and k keys of 2 × 64 or 2 × 128 bytes; 0.9 – 0.10: one key, 128 or 256 bytes.
        let pedersen_keys = match r.remaining() {
            len if len % (2 * G2_COMPRESSED) == 4 => {
                let keys = r.count("the number of Pedersen keys", 2 * G2_COMPRESSED)?;
                if keys > 0 {
                    return Err(GnarkError::Commitments {
                        what: "verifying key",
                        count: keys,
                    });
                }
                None
            }
            len if len == 2 * G2_COMPRESSED || len == 4 * G2_COMPRESSED => Some(1),
            len => return Err(GnarkError::UnknownLayout { len }),
        };
        if let Some(keys) = pedersen_keys {
            // Unused without commitments, but gnark reads and checks it: so do we.
            for i in 0..keys {
                let _g = r.g2(&format!("Pedersen key {i}, G (G2)"))?;
                let _g_root_sigma_neg = r.g2(&format!("Pedersen key {i}, G^(-1/σ) (G2)"))?;
            }
            KeyLayout::V0_9
        } else {
            KeyLayout::V0_11
        }
    };
    r.finish("verifying key")?;
    Ok(GnarkVerifyingKey {
        vk: VerifyingKey {
            alpha_g1,
            beta_g2,
            gamma_g2,
            delta_g2,
            gamma_abc_g1,
        },
        layout,
    })
}

/// Reads a proof written by gnark's `proof.WriteTo` or `proof.WriteRawTo` (with or without the
/// commitment fields of gnark ≥ 0.9), rejecting proofs with Pedersen commitments.
pub fn parse_proof(bytes: &[u8]) -> Result<Proof<Bn254>> {
    let mut r = Reader::new(bytes);
    let a = r.g1("Ar (G1)")?;
    let b = r.g2("Bs (G2)")?;
    let c = r.g1("Krs (G1)")?;
    if r.remaining() > 0 {
        let commitments = r.count("the number of commitments", G1_COMPRESSED)?;
        if commitments > 0 {
            return Err(GnarkError::Commitments {
                what: "proof",
                count: commitments,
            });
        }
        // The proof of knowledge of the (absent) commitments: the point at infinity.
        let _pok = r.g1("commitment PoK (G1)")?;
    }
    r.finish("proof")?;
    Ok(Proof { a, b, c })
}

/// Reads a public witness written by gnark's `witness.WriteTo` (of `witness.Public()`): the circuit's
/// public inputs in declaration order.
pub fn parse_public_witness(bytes: &[u8]) -> Result<Vec<Fr>> {
    let mut r = Reader::new(bytes);
    let public = r.u32("the number of public values")?;
    let secret = r.u32("the number of secret values")?;
    if secret > 0 {
        return Err(GnarkError::SecretWitness { secret });
    }
    let len = r.count("the witness vector's length", WORD)?;
    if public as usize != len {
        return Err(GnarkError::WitnessLength {
            declared: public,
            actual: len,
        });
    }
    let values = (0..len)
        .map(|index| {
            let word = r.take(WORD, || format!("public value {index}"))?;
            evm::decode_fr(word).map_err(|_| GnarkError::NonCanonicalScalar { index })
        })
        .collect::<Result<Vec<_>>>()?;
    r.finish("witness")?;
    Ok(values)
}

/// Checks `proof` against `vk` for the public values (without the constant wire's `1`), as gnark's
/// `groth16.Verify` does for a circuit without commitments.
pub fn verify(vk: &VerifyingKey<Bn254>, public: &[Fr], proof: &Proof<Bn254>) -> Result<bool> {
    let expected = vk.gamma_abc_g1.len().saturating_sub(1);
    if public.len() != expected {
        return Err(GnarkError::PublicInputCount {
            expected,
            given: public.len(),
        });
    }
    let pvk = ark_groth16::prepare_verifying_key(vk);
    Ok(Bn254Groth16::verify_proof(&pvk, proof, public)?)
}

/// Whether gnark calls `v` the lexicographically largest of `v` and `−v`: `v > (q − 1)/2`.
fn fq_is_largest(v: &Fq) -> bool {
    v.into_bigint() > Fq::MODULUS_MINUS_ONE_DIV_TWO
}

/// gnark's order on Fq2: by the imaginary part, or the real part when the imaginary part is zero.
fn fq2_is_largest(v: &Fq2) -> bool {
    if v.c1.is_zero() {
        fq_is_largest(&v.c0)
    } else {
        fq_is_largest(&v.c1)
    }
}

/// A cursor over gnark bytes that names what it reads in its errors.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, item: impl FnOnce() -> String) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(GnarkError::Truncated {
                item: item(),
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u32(&mut self, item: &str) -> Result<u32> {
        let b = self.take(4, || item.to_owned())?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `u32` count of items of at least `min_item` bytes each, checked against the bytes left so that a
    /// corrupt count fails here and allocates nothing.
    fn count(&mut self, item: &str, min_item: usize) -> Result<usize> {
        let offset = self.pos;
        let n = self.u32(item)? as usize;
        let needed = n.saturating_mul(min_item);
        if needed > self.remaining() {
            return Err(GnarkError::Truncated {
                item: format!("{n} items announced by {item}"),
                offset,
                needed,
                available: self.remaining(),
            });
        }
        Ok(n)
    }

    fn finish(&self, what: &'static str) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(GnarkError::TrailingBytes {
                what,
                offset: self.pos,
                count,
            }),
        }
    }

    /// The flag of the point starting here, and its encoded size.
    fn flag(&self, compressed_len: usize, item: &str) -> Result<(Flag, usize)> {
        let first = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| GnarkError::Truncated {
                item: item.to_owned(),
                offset: self.pos,
                needed: compressed_len,
                available: 0,
            })?;
        let flag = match first & FLAG_MASK {
            FLAG_UNCOMPRESSED => Flag::Uncompressed,
            FLAG_INFINITY => Flag::Infinity,
            bits => {
                debug_assert!(bits == FLAG_SMALLEST || bits == FLAG_LARGEST);
                Flag::Compressed {
                    largest: bits == FLAG_LARGEST,
                }
            }
        };
        let len = if flag == Flag::Uncompressed {
            2 * compressed_len
        } else {
            compressed_len
        };
        Ok((flag, len))
    }

    fn g1(&mut self, item: &str) -> Result<G1Affine> {
        let offset = self.pos;
        let (flag, len) = self.flag(G1_COMPRESSED, item)?;
        let bytes = self.take(len, || item.to_owned())?;
        let err = PointErr { item, offset };
        match flag {
            Flag::Infinity => err.infinity(bytes).map(|()| G1Affine::zero()),
            Flag::Uncompressed => {
                let (x, y) = (err.fq(&bytes[..WORD])?, err.fq(&bytes[WORD..])?);
                if x.is_zero() && y.is_zero() {
                    return Ok(G1Affine::zero());
                }
                let p = G1Affine::new_unchecked(x, y);
                // G1 has cofactor 1: on the curve is in the subgroup.
                if !p.is_on_curve() {
                    return Err(err.not_on_curve());
                }
                Ok(p)
            }
            Flag::Compressed { largest } => {
                let x = err.fq(&clear_flag(bytes))?;
                let y2 = x.square() * x + g1::Config::COEFF_B;
                let y = y2.sqrt().ok_or_else(|| err.no_root())?;
                let y = if fq_is_largest(&y) == largest { y } else { -y };
                Ok(G1Affine::new_unchecked(x, y))
            }
        }
    }

    fn g2(&mut self, item: &str) -> Result<G2Affine> {
        let offset = self.pos;
        let (flag, len) = self.flag(G2_COMPRESSED, item)?;
        let bytes = self.take(len, || item.to_owned())?;
        let err = PointErr { item, offset };
        let fq2 = |hi: &[u8], lo: &[u8]| Ok::<_, GnarkError>(Fq2::new(err.fq(lo)?, err.fq(hi)?));
        let p = match flag {
            Flag::Infinity => return err.infinity(bytes).map(|()| G2Affine::zero()),
            Flag::Uncompressed => {
                let x = fq2(&bytes[..WORD], &bytes[WORD..2 * WORD])?;
                let y = fq2(&bytes[2 * WORD..3 * WORD], &bytes[3 * WORD..])?;
                if x.is_zero() && y.is_zero() {
                    return Ok(G2Affine::zero());
                }
                let p = G2Affine::new_unchecked(x, y);
                if !p.is_on_curve() {
                    return Err(err.not_on_curve());
                }
                p
            }
            Flag::Compressed { largest } => {
                let x = fq2(&clear_flag(&bytes[..WORD]), &bytes[WORD..])?;
                let y2 = x.square() * x + g2::Config::COEFF_B;
                let y = y2.sqrt().ok_or_else(|| err.no_root())?;
                let y = if fq2_is_largest(&y) == largest { y } else { -y };
                G2Affine::new_unchecked(x, y)
            }
        };
        if !p.is_in_correct_subgroup_assuming_on_curve() {
            return Err(GnarkError::NotInSubgroup {
                item: item.to_owned(),
                offset,
            });
        }
        Ok(p)
    }
}

/// What the two top bits of a point's first byte say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flag {
    /// `00`: `x ‖ y`.
    Uncompressed,
    /// `01`: the point at infinity.
    Infinity,
    /// `10` (smallest) or `11` (largest): `x` and which root `y` is.
    Compressed {
        /// `y` is the lexicographically largest of the two roots.
        largest: bool,
    },
}

/// The first word of a compressed point without its flag bits.
fn clear_flag(bytes: &[u8]) -> [u8; WORD] {
    let mut word = [0; WORD];
    word.copy_from_slice(&bytes[..WORD]);
    word[0] &= !FLAG_MASK;
    word
}

/// The errors of one point.
struct PointErr<'a> {
    item: &'a str,
    offset: usize,
}

impl PointErr<'_> {
    fn fq(&self, word: &[u8]) -> Result<Fq> {
        let v = Fq::from_be_bytes_mod_order(word);
        let canonical = v.into_bigint().to_bytes_be();
        if canonical.as_slice() != word {
            return Err(GnarkError::NonCanonicalCoordinate {
                item: self.item.to_owned(),
                offset: self.offset,
            });
        }
        Ok(v)
    }

    fn infinity(&self, bytes: &[u8]) -> Result<()> {
        if bytes[0] & !FLAG_MASK != 0 || bytes[1..].iter().any(|b| *b != 0) {
            return Err(GnarkError::BadInfinity {
                item: self.item.to_owned(),
                offset: self.offset,
            });
        }
        Ok(())
    }

    fn not_on_curve(&self) -> GnarkError {
        GnarkError::NotOnCurve {
            item: self.item.to_owned(),
            offset: self.offset,
        }
    }

    fn no_root(&self) -> GnarkError {
        GnarkError::NoSquareRoot {
            item: self.item.to_owned(),
            offset: self.offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use ark_ec::CurveGroup;
    use ark_ff::One;

    use super::*;

    const CUBIC_VK: &[u8] = include_bytes!("../tests/fixtures/gnark/cubic.vk");
    const CUBIC_PROOF: &[u8] = include_bytes!("../tests/fixtures/gnark/cubic.proof");

    // An encoder written from gnark-crypto's `marshal.go` (`Bytes`, `RawBytes`), to make the raw forms and
    // the damaged bytes the tests need.

    fn word(v: &Fq) -> [u8; WORD] {
        let mut out = [0; WORD];
        out.copy_from_slice(&v.into_bigint().to_bytes_be());
        out
    }

    fn put_g1(out: &mut Vec<u8>, p: &G1Affine, raw: bool) {
        match (p.xy(), raw) {
            (None, true) => out.extend([0; 2 * WORD]),
            (None, false) => {
                out.push(FLAG_INFINITY);
                out.extend([0; WORD - 1]);
            }
            (Some((x, y)), true) => {
                out.extend(word(&x));
                out.extend(word(&y));
            }
            (Some((x, y)), false) => {
                let mut x = word(&x);
                x[0] |= if fq_is_largest(&y) {
                    FLAG_LARGEST
                } else {
                    FLAG_SMALLEST
                };
                out.extend(x);
            }
        }
    }

    fn put_g2(out: &mut Vec<u8>, p: &G2Affine, raw: bool) {
        match (p.xy(), raw) {
            (None, true) => out.extend([0; 4 * WORD]),
            (None, false) => {
                out.push(FLAG_INFINITY);
                out.extend([0; 2 * WORD - 1]);
            }
            (Some((x, y)), true) => {
                for c in [x.c1, x.c0, y.c1, y.c0] {
                    out.extend(word(&c));
                }
            }
            (Some((x, y)), false) => {
                let mut hi = word(&x.c1);
                hi[0] |= if fq2_is_largest(&y) {
                    FLAG_LARGEST
                } else {
                    FLAG_SMALLEST
                };
                out.extend(hi);
                out.extend(word(&x.c0));
            }
        }
    }

    /// A key in `layout` (with `[β]₁, [δ]₁`), with gnark's unused Pedersen key (two G2 points) for
    /// 0.9 – 0.10.
    fn write_vk(
        vk: &VerifyingKey<Bn254>,
        [beta_g1, delta_g1]: [G1Affine; 2],
        raw: bool,
        layout: KeyLayout,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        put_g1(&mut out, &vk.alpha_g1, raw);
        put_g1(&mut out, &beta_g1, raw);
        put_g2(&mut out, &vk.beta_g2, raw);
        put_g2(&mut out, &vk.gamma_g2, raw);
        put_g1(&mut out, &delta_g1, raw);
        put_g2(&mut out, &vk.delta_g2, raw);
        out.extend((vk.gamma_abc_g1.len() as u32).to_be_bytes());
        for k in &vk.gamma_abc_g1 {
            put_g1(&mut out, k, raw);
        }
        match layout {
            KeyLayout::V0_8 => {}
            KeyLayout::V0_9 => {
                out.extend(0u32.to_be_bytes());
                put_g2(&mut out, &G2Affine::generator(), raw);
                put_g2(&mut out, &-G2Affine::generator(), raw);
            }
            KeyLayout::V0_11 => out.extend([0; 8]),
        }
        out
    }

    /// A proof, with the commitment fields of gnark ≥ 0.9 when `commitments` is set.
    fn write_proof(proof: &Proof<Bn254>, raw: bool, commitments: bool) -> Vec<u8> {
        let mut out = Vec::new();
        put_g1(&mut out, &proof.a, raw);
        put_g2(&mut out, &proof.b, raw);
        put_g1(&mut out, &proof.c, raw);
        if commitments {
            out.extend(0u32.to_be_bytes());
            put_g1(&mut out, &G1Affine::zero(), raw);
        }
        out
    }

    fn g1(k: u64) -> G1Affine {
        (G1Affine::generator() * Fr::from(k)).into_affine()
    }

    fn g2(k: u64) -> G2Affine {
        (G2Affine::generator() * Fr::from(k)).into_affine()
    }

    fn read_g1(bytes: &[u8]) -> Result<G1Affine> {
        let mut r = Reader::new(bytes);
        let p = r.g1("p")?;
        r.finish("point")?;
        Ok(p)
    }

    fn read_g2(bytes: &[u8]) -> Result<G2Affine> {
        let mut r = Reader::new(bytes);
        let p = r.g2("p")?;
        r.finish("point")?;
        Ok(p)
    }

    /// `[β]₁, [δ]₁` of the fixture key (gnark stores them; verification does not use them).
    fn cubic_g1_extras() -> [G1Affine; 2] {
        [32, 192].map(|at| Reader::new(&CUBIC_VK[at..at + 32]).g1("G1").expect("valid"))
    }

    fn cubic() -> (GnarkVerifyingKey, Proof<Bn254>) {
        (
            parse_verifying_key(CUBIC_VK).expect("the fixture key parses"),
            parse_proof(CUBIC_PROOF).expect("the fixture proof parses"),
        )
    }

    #[test]
    fn lexicographic_order_is_gnarks() {
        let half = Fq::from_bigint(Fq::MODULUS_MINUS_ONE_DIV_TWO).expect("below q");
        assert!(!fq_is_largest(&half));
        assert!(fq_is_largest(&(half + Fq::one())));
        assert!(fq_is_largest(&-Fq::one()));
        assert!(!fq_is_largest(&Fq::zero()));
        // Fq2: the imaginary part decides, the real part only when the imaginary part is zero.
        assert!(fq2_is_largest(&Fq2::new(Fq::one(), -Fq::one())));
        assert!(!fq2_is_largest(&Fq2::new(-Fq::one(), Fq::one())));
        assert!(fq2_is_largest(&Fq2::new(-Fq::one(), Fq::zero())));
        // Of v and −v (v ≠ 0), exactly one is the largest.
        for k in 1..20u64 {
            let y = g2(k).y;
            assert_ne!(fq2_is_largest(&y), fq2_is_largest(&-y));
            let y = g1(k).y;
            assert_ne!(fq_is_largest(&y), fq_is_largest(&-y));
        }
    }

    #[test]
    fn points_read_back_in_every_form() {
        for k in 1..16u64 {
            for p in [g1(k), -g1(k)] {
                for raw in [false, true] {
                    let mut bytes = Vec::new();
                    put_g1(&mut bytes, &p, raw);
                    assert_eq!(bytes.len(), if raw { 64 } else { 32 });
                    assert_eq!(read_g1(&bytes).expect("valid"), p, "k = {k}, raw = {raw}");
                }
            }
            for p in [g2(k), -g2(k)] {
                for raw in [false, true] {
                    let mut bytes = Vec::new();
                    put_g2(&mut bytes, &p, raw);
                    assert_eq!(bytes.len(), if raw { 128 } else { 64 });
                    assert_eq!(read_g2(&bytes).expect("valid"), p, "k = {k}, raw = {raw}");
                }
            }
        }
        // Infinity: 0x40 then zeros, or all zeros uncompressed.
        let mut inf = vec![FLAG_INFINITY];
        inf.extend([0; 31]);
        assert!(read_g1(&inf).expect("infinity").is_zero());
        assert!(read_g1(&[0; 64]).expect("raw infinity").is_zero());
        inf.extend([0; 32]);
        assert!(read_g2(&inf).expect("infinity").is_zero());
        assert!(read_g2(&[0; 128]).expect("raw infinity").is_zero());
        // The uncompressed G1 and G2 forms are the EVM layout.
        assert_eq!(
            {
                let mut b = Vec::new();
                put_g2(&mut b, &g2(7), true);
                b
            },
            evm::encode_g2(&g2(7))
        );
    }

    #[test]
    fn damaged_points_give_specific_errors() {
        let p = g1(5);
        let mut compressed = Vec::new();
        put_g1(&mut compressed, &p, false);

        // The other flag of the pair: the negated point.
        let mut other = compressed.clone();
        other[0] ^= FLAG_LARGEST ^ FLAG_SMALLEST;
        assert_eq!(read_g1(&other).expect("valid"), -p);

        // Infinity flag over a non-zero x.
        let mut inf = compressed.clone();
        inf[0] = (inf[0] & !FLAG_MASK) | FLAG_INFINITY;
        assert!(matches!(
            read_g1(&inf),
            Err(GnarkError::BadInfinity { offset: 0, .. })
        ));
        let mut inf = vec![FLAG_INFINITY | 1];
        inf.extend([0; 31]);
        assert!(matches!(read_g1(&inf), Err(GnarkError::BadInfinity { .. })));

        // Uncompressed flag on a compressed point: 32 bytes short.
        let mut short = compressed.clone();
        short[0] &= !FLAG_MASK;
        assert!(matches!(
            read_g1(&short),
            Err(GnarkError::Truncated {
                needed: 64,
                available: 32,
                ..
            })
        ));

        // A point off the curve (y + 1).
        let mut raw = Vec::new();
        put_g1(&mut raw, &p, true);
        let y = Fq::from_be_bytes_mod_order(&raw[32..]) + Fq::one();
        raw[32..].copy_from_slice(&word(&y));
        let err = read_g1(&raw).expect_err("off the curve");
        assert!(matches!(err, GnarkError::NotOnCurve { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "p at byte 0: the point is not on the curve"
        );

        // x with no curve point: x³ + 3 is not a square for some small x.
        let x = (1..100u64)
            .map(Fq::from)
            .find(|x| (x.square() * x + g1::Config::COEFF_B).sqrt().is_none())
            .expect("half of all x have no point");
        let mut bytes = word(&x).to_vec();
        bytes[0] |= FLAG_SMALLEST;
        assert!(matches!(
            read_g1(&bytes),
            Err(GnarkError::NoSquareRoot { .. })
        ));

        // x = q (not reduced).
        let mut q = hex::decode("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47")
            .expect("hex");
        q[0] |= FLAG_LARGEST;
        assert!(matches!(
            read_g1(&q),
            Err(GnarkError::NonCanonicalCoordinate { .. })
        ));

        // A point of the twist outside the prime-order subgroup (the cofactor is huge: almost every x).
        let (x, y) = (1..100u64)
            .find_map(|i| {
                let x = Fq2::new(Fq::from(i), Fq::one());
                let y = (x.square() * x + g2::Config::COEFF_B).sqrt()?;
                let p = G2Affine::new_unchecked(x, y);
                (!p.is_in_correct_subgroup_assuming_on_curve()).then_some((x, y))
            })
            .expect("a twist point outside G2");
        let mut raw = Vec::new();
        for c in [x.c1, x.c0, y.c1, y.c0] {
            raw.extend(word(&c));
        }
        assert!(matches!(
            read_g2(&raw),
            Err(GnarkError::NotInSubgroup { .. })
        ));
        let mut compressed = raw[..64].to_vec();
        compressed[0] |= FLAG_SMALLEST;
        assert!(matches!(
            read_g2(&compressed),
            Err(GnarkError::NotInSubgroup { .. })
        ));
    }

    #[test]
    fn the_real_key_and_proof_read_back_in_every_layout_and_encoding() {
        let (key, proof) = cubic();
        assert_eq!(key.layout, KeyLayout::V0_9);
        let public = [Fr::from(35u64)];
        assert!(verify(&key.vk, &public, &proof).expect("verifies"));

        for raw in [false, true] {
            for layout in [KeyLayout::V0_8, KeyLayout::V0_9, KeyLayout::V0_11] {
                let bytes = write_vk(&key.vk, cubic_g1_extras(), raw, layout);
                let again = parse_verifying_key(&bytes).expect("parses");
                assert_eq!(
                    again,
                    GnarkVerifyingKey {
                        vk: key.vk.clone(),
                        layout
                    }
                );
            }
            for commitments in [false, true] {
                let bytes = write_proof(&proof, raw, commitments);
                assert_eq!(parse_proof(&bytes).expect("parses"), proof);
            }
        }
        // The compressed writer gives back the fixture's own bytes.
        assert_eq!(write_proof(&proof, false, true), CUBIC_PROOF);
        assert_eq!(
            write_vk(&key.vk, cubic_g1_extras(), false, KeyLayout::V0_11)[..0x164],
            CUBIC_VK[..0x164]
        );
        // gnark's uncompressed proof without commitment fields is the contract's proof layout.
        assert_eq!(write_proof(&proof, true, false), evm::encode_proof(&proof));
    }

    #[test]
    fn damaged_keys_and_proofs_give_specific_errors() {
        let (_, proof) = cubic();

        // Truncated inside the last point of the proof, extra bytes after it.
        let err = parse_proof(&CUBIC_PROOF[..CUBIC_PROOF.len() - 1]).expect_err("truncated");
        assert!(
            matches!(&err, GnarkError::Truncated { item, offset: 132, needed: 32, available: 31 } if item == "commitment PoK (G1)"),
            "{err:?}"
        );
        let mut long = CUBIC_PROOF.to_vec();
        long.push(0);
        assert!(matches!(
            parse_proof(&long),
            Err(GnarkError::TrailingBytes {
                what: "proof",
                offset: 164,
                count: 1
            })
        ));
        // A flipped flag bit in Ar: the other root, a proof that no longer verifies.
        let mut flipped = CUBIC_PROOF.to_vec();
        flipped[0] ^= 0b0100_0000;
        let other = parse_proof(&flipped).expect("still a point");
        assert_eq!(other.a, -proof.a);
        let (key, _) = cubic();
        assert!(!verify(&key.vk, &[Fr::from(35u64)], &other).expect("runs"));
        // A proof with a commitment.
        let mut committed = CUBIC_PROOF[..128].to_vec();
        committed.extend(1u32.to_be_bytes());
        put_g1(&mut committed, &g1(3), false);
        put_g1(&mut committed, &g1(4), false);
        let err = parse_proof(&committed).expect_err("commitments");
        assert!(matches!(
            err,
            GnarkError::Commitments {
                what: "proof",
                count: 1
            }
        ));
        assert!(
            err.to_string()
                .contains("Groth16Verifier contract checks plain Groth16 only")
        );

        // The key: cut inside γ₂, a K count larger than the bytes, a tail of no known layout.
        let err = parse_verifying_key(&CUBIC_VK[..0x90]).expect_err("truncated");
        assert_eq!(
            err.to_string(),
            "[γ]₂ (G2) at byte 128: needs 64 bytes, only 16 left (truncated?)"
        );
        let mut huge = CUBIC_VK.to_vec();
        huge[0x120..0x124].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            parse_verifying_key(&huge),
            Err(GnarkError::Truncated { offset: 0x120, .. })
        ));
        assert!(matches!(
            parse_verifying_key(&CUBIC_VK[..0x150]),
            Err(GnarkError::Truncated {
                offset: 0x120,
                needed: 64,
                available: 44,
                ..
            })
        ));
        assert!(matches!(
            parse_verifying_key(&CUBIC_VK[..CUBIC_VK.len() - 1]),
            Err(GnarkError::UnknownLayout { len: 127 })
        ));
        let mut empty_k = CUBIC_VK[..0x120].to_vec();
        empty_k.extend([0; 4]);
        assert!(matches!(
            parse_verifying_key(&empty_k),
            Err(GnarkError::EmptyK)
        ));
        // α with the infinity flag and a non-zero x.
        let mut bad = CUBIC_VK.to_vec();
        bad[0] = (bad[0] & !FLAG_MASK) | FLAG_INFINITY;
        let err = parse_verifying_key(&bad).expect_err("bad infinity");
        assert_eq!(
            err.to_string(),
            "[α]₁ (G1) at byte 0: infinity flag set but the point's other bits are not zero"
        );
        // γ₂ raw with a coordinate changed: off the curve.
        let (key, _) = cubic();
        let mut raw = write_vk(&key.vk, cubic_g1_extras(), true, KeyLayout::V0_11);
        raw[64 + 64 + 128 + 127] ^= 1;
        assert!(matches!(
            parse_verifying_key(&raw),
            Err(GnarkError::NotOnCurve { offset: 256, ref item }) if item == "[γ]₂ (G2)"
        ));
    }

    #[test]
    fn witnesses_and_counts() {
        let witness = |public: u32, secret: u32, values: &[u64]| {
            let mut out = Vec::new();
            out.extend(public.to_be_bytes());
            out.extend(secret.to_be_bytes());
            out.extend((values.len() as u32).to_be_bytes());
            for v in values {
                out.extend(evm::encode_fr(&Fr::from(*v)));
            }
            out
        };
        assert_eq!(
            parse_public_witness(&witness(2, 0, &[7, 8])).expect("valid"),
            vec![Fr::from(7u64), Fr::from(8u64)]
        );
        assert!(
            parse_public_witness(&witness(0, 0, &[]))
                .expect("valid")
                .is_empty()
        );
        assert!(matches!(
            parse_public_witness(&witness(1, 1, &[7, 3])),
            Err(GnarkError::SecretWitness { secret: 1 })
        ));
        assert!(matches!(
            parse_public_witness(&witness(2, 0, &[7])),
            Err(GnarkError::WitnessLength {
                declared: 2,
                actual: 1
            })
        ));
        let mut not_canonical = witness(1, 0, &[0]);
        not_canonical[12..].fill(0xff);
        assert!(matches!(
            parse_public_witness(&not_canonical),
            Err(GnarkError::NonCanonicalScalar { index: 0 })
        ));
        let (key, proof) = cubic();
        assert!(matches!(
            verify(&key.vk, &[], &proof),
            Err(GnarkError::PublicInputCount {
                expected: 1,
                given: 0
            })
        ));
    }
}
