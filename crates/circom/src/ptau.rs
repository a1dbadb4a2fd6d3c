//! An INSECURE prepared powers of tau in snarkjs's `.ptau` format — what `snarkjs powersoftau prepare phase2`
//! writes — computed from a τ, α and β derived from a public seed. Anyone who knows the seed can forge proofs
//! for every key set up from the file: for benchmarks and throw-away circuits only, never for a market.
//!
//! Why it exists: on two cores snarkjs takes about 20 minutes to prepare a 2^15 ceremony and hours for 2^18,
//! because it computes the Lagrange bases with FFTs over curve points. Knowing τ turns each of those into field
//! arithmetic (`Lᵢ(τ) = ωⁱ(τᵐ − 1) / (m(τ − ωⁱ))`) and one fixed-base multiplication per point, so 2^18 takes
//! about a minute. `snarkjs groth16 setup` reads the file like one of its own (`examples/insecure_ptau.rs`).
//!
//! Layout (snarkjs `binfileutils`: magic `ptau`, version 1, the section count, then each section as
//! `id: u32, size: u64, bytes`), for power `p` and `n = 2^p`:
//!
//! | section | content |
//! |---|---|
//! | 1 | header: `n8 = 32`, the base-field modulus q (32 bytes LE), `p`, the ceremony power `p` |
//! | 2 | `τⁱ·G1` for `i < 2n − 1` |
//! | 3, 4, 5 | `τⁱ·G2`, `ατⁱ·G1`, `βτⁱ·G1` for `i < n` |
//! | 6 | `β·G2` |
//! | 7 | the contributions: none (a `u32` 0) |
//! | 12 | `Lᵢ(τ)·G1` for every domain `2^k`, `k = 0 ..= p + 1`, smallest first |
//! | 13, 14, 15 | `Lᵢ(τ)·G2`, `αLᵢ(τ)·G1`, `βLᵢ(τ)·G1` for `k = 0 ..= p` |
//!
//! Points are affine, each coordinate in Montgomery form, 32 bytes little-endian (`Fq2` as `c0 ‖ c1`); `Lᵢ` is
//! the Lagrange basis of the 2^k-th roots of unity that snarkjs and arkworks share (5 generates both).

use std::io::{self, Write};

use ark_bn254::{Fq, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, PrimeGroup, scalar_mul::BatchMulPreprocessing};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, UniformRand, Zero, batch_inversion};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

/// The largest power this writer accepts: 2^24 points per group already make a multi-gigabyte file.
pub const MAX_POWER: u32 = 24;

/// The secrets of an insecure ceremony. Public by construction: derived from a seed anyone can read.
#[derive(Clone, Copy, Debug)]
pub struct InsecureTau {
    tau: Fr,
    alpha: Fr,
    beta: Fr,
}

impl InsecureTau {
    /// τ, α and β drawn from ChaCha20 seeded with `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self {
            tau: Fr::rand(&mut rng),
            alpha: Fr::rand(&mut rng),
            beta: Fr::rand(&mut rng),
        }
    }

    /// Writes the prepared powers of tau of power `power` (circuits up to `2^power` rows) to `out`, calling
    /// `progress(done, total)` as point batches are written (`total` counts every point of the file).
    pub fn write_ptau(
        &self,
        power: u32,
        out: &mut impl Write,
        mut progress: impl FnMut(u64, u64),
    ) -> io::Result<()> {
        if !(1..=MAX_POWER).contains(&power) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("power {power} is out of range 1..={MAX_POWER}"),
            ));
        }
        let n = 1usize << power;
        let g1_points =
            (2 * n - 1) + 2 * n + lagrange_points(power + 1) + 2 * lagrange_points(power);
        let g2_points = n + 1 + lagrange_points(power);
        let total = (g1_points + g2_points) as u64;
        let mut done = 0u64;
        let mut report = |points: usize| {
            done += points as u64;
            progress(done, total);
        };

        // One table per group, sized for the largest batch.
        let g1 = BatchMulPreprocessing::new(G1Projective::generator(), 2 * n);
        let g2 = BatchMulPreprocessing::new(G2Projective::generator(), n);
        let powers = powers_of(self.tau, 2 * n - 1);

        out.write_all(b"ptau")?;
        out.write_all(&1u32.to_le_bytes())?;
        out.write_all(&11u32.to_le_bytes())?;

        section(out, 1, 4 + 32 + 4 + 4)?;
        out.write_all(&32u32.to_le_bytes())?;
        out.write_all(&Fq::MODULUS.to_bytes_le())?;
        out.write_all(&power.to_le_bytes())?;
        out.write_all(&power.to_le_bytes())?;

        section(out, 2, (2 * n - 1) * G1_BYTES)?;
        write_g1(out, &g1.batch_mul(&powers))?;
        report(2 * n - 1);
        section(out, 3, n * G2_BYTES)?;
        write_g2(out, &g2.batch_mul(&powers[..n]))?;
        report(n);
        for (id, factor) in [(4, self.alpha), (5, self.beta)] {
            section(out, id, n * G1_BYTES)?;
            let scaled: Vec<Fr> = powers[..n].iter().map(|p| *p * factor).collect();
            write_g1(out, &g1.batch_mul(&scaled))?;
            report(n);
        }
        section(out, 6, G2_BYTES)?;
        write_g2(out, &[(G2Affine::generator() * self.beta).into()])?;
        report(1);
        section(out, 7, 4)?;
        out.write_all(&0u32.to_le_bytes())?;
        drop(powers);

        section(out, 12, lagrange_points(power + 1) * G1_BYTES)?;
        for k in 0..=power + 1 {
            let basis = lagrange_at(self.tau, k);
            write_g1(out, &g1.batch_mul(&basis))?;
            report(basis.len());
        }
        section(out, 13, lagrange_points(power) * G2_BYTES)?;
        for k in 0..=power {
            let basis = lagrange_at(self.tau, k);
            write_g2(out, &g2.batch_mul(&basis))?;
            report(basis.len());
        }
        for (id, factor) in [(14, self.alpha), (15, self.beta)] {
            section(out, id, lagrange_points(power) * G1_BYTES)?;
            for k in 0..=power {
                let basis: Vec<Fr> = lagrange_at(self.tau, k)
                    .into_iter()
                    .map(|l| l * factor)
                    .collect();
                write_g1(out, &g1.batch_mul(&basis))?;
                report(basis.len());
            }
        }
        out.flush()
    }
}

const G1_BYTES: usize = 64;
const G2_BYTES: usize = 128;

/// Points of the Lagrange sections for domains `2^0 ..= 2^power`.
fn lagrange_points(power: u32) -> usize {
    (1usize << (power + 1)) - 1
}

fn section(out: &mut impl Write, id: u32, size: usize) -> io::Result<()> {
    out.write_all(&id.to_le_bytes())?;
    out.write_all(&(size as u64).to_le_bytes())
}

/// `1, x, x², …` (`count` values).
fn powers_of(x: Fr, count: usize) -> Vec<Fr> {
    let mut powers = Vec::with_capacity(count);
    let mut acc = Fr::ONE;
    for _ in 0..count {
        powers.push(acc);
        acc *= x;
    }
    powers
}

/// `Lᵢ(τ)` for the domain of the `2^k`-th roots of unity: `ωⁱ(τᵐ − 1) / (m(τ − ωⁱ))`.
fn lagrange_at(tau: Fr, k: u32) -> Vec<Fr> {
    let m = 1usize << k;
    let domain = Radix2EvaluationDomain::<Fr>::new(m).expect("BN254 has 2^28 roots of unity");
    let roots: Vec<Fr> = domain.elements().collect();
    let mut denominators: Vec<Fr> = roots.iter().map(|w| tau - w).collect();
    assert!(
        denominators.iter().all(|d| !d.is_zero()),
        "τ is a root of unity: pick another seed"
    );
    batch_inversion(&mut denominators);
    let numerator = (tau.pow([m as u64]) - Fr::ONE) * domain.size_inv();
    roots
        .iter()
        .zip(denominators)
        .map(|(w, inv)| *w * numerator * inv)
        .collect()
}

fn write_fq(out: &mut impl Write, x: &Fq) -> io::Result<()> {
    // `Fq` keeps its value in Montgomery form, which is what snarkjs stores.
    out.write_all(&x.0.to_bytes_le())
}

fn write_g1(out: &mut impl Write, points: &[G1Affine]) -> io::Result<()> {
    for p in points {
        let (x, y) = p.xy().unwrap_or((Fq::ZERO, Fq::ZERO));
        write_fq(out, &x)?;
        write_fq(out, &y)?;
    }
    Ok(())
}

fn write_g2(out: &mut impl Write, points: &[G2Affine]) -> io::Result<()> {
    for p in points {
        let (x, y) = p.xy().unwrap_or_default();
        for c in [x.c0, x.c1, y.c0, y.c1] {
            write_fq(out, &c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The closed form agrees with the definition: `Σ Lᵢ(τ)·ωⁱʲ = τʲ` for every `j < m`.
    #[test]
    fn lagrange_basis_interpolates_the_powers_of_tau() {
        let tau = InsecureTau::from_seed([7; 32]).tau;
        for k in 0..5 {
            let basis = lagrange_at(tau, k);
            let domain = Radix2EvaluationDomain::<Fr>::new(1 << k).expect("domain");
            for j in 0..basis.len() {
                let sum: Fr = domain
                    .elements()
                    .zip(&basis)
                    .map(|(w, l)| w.pow([j as u64]) * l)
                    .sum();
                assert_eq!(sum, tau.pow([j as u64]), "k = {k}, j = {j}");
            }
        }
    }

    #[test]
    fn the_file_has_every_section_at_its_size() {
        let mut bytes = Vec::new();
        InsecureTau::from_seed([1; 32])
            .write_ptau(3, &mut bytes, |_, _| {})
            .expect("write");
        assert_eq!(&bytes[..4], b"ptau");
        let mut at = 12;
        let mut sizes = Vec::new();
        while at < bytes.len() {
            let id = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
            let size = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().expect("8")) as usize;
            sizes.push((id, size));
            at += 12 + size;
        }
        assert_eq!(at, bytes.len());
        let (n, g1, g2) = (8, G1_BYTES, G2_BYTES);
        assert_eq!(
            sizes,
            [
                (1, 44),
                (2, (2 * n - 1) * g1),
                (3, n * g2),
                (4, n * g1),
                (5, n * g1),
                (6, g2),
                (7, 4),
                (12, 31 * g1),
                (13, 15 * g2),
                (14, 15 * g1),
                (15, 15 * g1),
            ]
        );
    }

    #[test]
    fn a_power_out_of_range_is_refused() {
        for power in [0, MAX_POWER + 1] {
            let err = InsecureTau::from_seed([0; 32])
                .write_ptau(power, &mut io::sink(), |_, _| {})
                .expect_err("out of range");
            assert!(err.to_string().contains("out of range"), "{err}");
        }
    }
}
