//! Multi-scalar multiplication for the prover: Pippenger's bucket method with signed window digits, the
//! buckets accumulated in affine coordinates with one field inversion per batch of additions.
//!
//! An affine addition costs 5 multiplications and a squaring once its inversion is shared by the batch
//! (Montgomery's trick), against 8 and 2 for the mixed XYZZ addition arkworks' MSM uses. Windows are
//! processed in parallel (one set of buckets per window). Additions that would touch a bucket twice in one
//! batch, and the rare ones of points with equal `x`, go to a per-bucket XYZZ accumulator instead, so skewed
//! scalars (many equal digits) cost no more than the plain bucket method.

use ark_ec::{
    AffineRepr,
    short_weierstrass::{Affine, Bucket, Projective, SWCurveConfig},
};
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField, Zero};
#[cfg(feature = "parallel")]
use rayon::prelude::*;

/// Signed window digits of a list of scalars, window-major (`digits[w·n + i]` is window `w` of scalar `i`):
/// `scalar_i = Σ_w digits[w·n + i] · 2^(c·w)` with every digit in `[−2^(c−1), 2^(c−1)]`. Computed once per
/// scalar list and shared by the MSMs over the same scalars.
pub(crate) struct Digits {
    /// Window width in bits.
    c: usize,
    /// Number of scalars.
    n: usize,
    /// `windows · n` digits.
    digits: Vec<i32>,
}

impl Digits {
    /// The digits of `scalars` (of a field with `num_bits`-bit modulus), with the window width the cost
    /// model picks for their number.
    pub(crate) fn new<B: BigInteger>(scalars: &[B], num_bits: usize) -> Self {
        let n = scalars.len();
        let c = window_bits(n);
        let windows = (num_bits + 1).div_ceil(c);
        let mut digits = vec![0i32; windows * n];
        // Each chunk of scalars writes its slice of every window: split the window-major array accordingly.
        let chunk = n.div_ceil(rayon_threads() * 4).max(1024);
        let mut parts: Vec<Vec<&mut [i32]>> = (0..n.div_ceil(chunk)).map(|_| Vec::new()).collect();
        if n > 0 {
            for window in digits.chunks_mut(n) {
                for (k, part) in window.chunks_mut(chunk).enumerate() {
                    parts[k].push(part);
                }
            }
        }
        let fill = |(k, mut part): (usize, Vec<&mut [i32]>)| {
            let half = 1i64 << (c - 1);
            for (i, scalar) in scalars[k * chunk..].iter().take(chunk).enumerate() {
                let limbs = scalar.as_ref();
                let mut carry = 0i64;
                for (w, window) in part.iter_mut().enumerate() {
                    let raw = bits(limbs, w * c, c) as i64 + carry;
                    let (digit, next) = if raw > half {
                        (raw - (1 << c), 1)
                    } else {
                        (raw, 0)
                    };
                    // |digit| ≤ 2^(c−1) with c ≤ MAX_WINDOW_BITS < 32.
                    window[i] = digit as i32;
                    carry = next;
                }
                debug_assert_eq!(carry, 0, "the windows cover the scalar and its last carry");
            }
        };
        #[cfg(feature = "parallel")]
        parts.into_par_iter().enumerate().for_each(fill);
        #[cfg(not(feature = "parallel"))]
        parts.into_iter().enumerate().for_each(fill);
        Self { c, n, digits }
    }

    fn windows(&self) -> usize {
        self.digits.len().checked_div(self.n).unwrap_or(0)
    }
}

/// The base field of a curve the MSM runs on, with the products its affine additions use.
pub(crate) trait BaseField: Field {
    /// `self · rhs`.
    #[inline(always)]
    fn product(self, rhs: Self) -> Self {
        self * rhs
    }

    /// `self²`.
    #[inline(always)]
    fn squared(self) -> Self {
        self.square()
    }
}

impl BaseField for ark_bn254::Fq {}

impl BaseField for ark_bn254::Fq2 {
    /// Karatsuba over `Fq[u]/(u² + 1)`: `(a₀ + a₁u)(b₀ + b₁u) = (a₀b₀ − a₁b₁) + ((a₀ + a₁)(b₀ + b₁) − a₀b₀ − a₁b₁)u`.
    #[inline(always)]
    fn product(self, rhs: Self) -> Self {
        let v0 = self.c0 * rhs.c0;
        let v1 = self.c1 * rhs.c1;
        let c1 = (self.c0 + self.c1) * (rhs.c0 + rhs.c1) - v0 - v1;
        Self::new(v0 - v1, c1)
    }

    /// `(a₀ + a₁u)² = (a₀ + a₁)(a₀ − a₁) + 2a₀a₁u`.
    #[inline(always)]
    fn squared(self) -> Self {
        let c0 = (self.c0 + self.c1) * (self.c0 - self.c1);
        let c1 = self.c0 * self.c1;
        Self::new(c0, c1.double())
    }
}

/// `Σ scalar_i · bases_i` for the scalars `digits` was made from. Like arkworks' MSM, the longer of the two
/// lists is cut to the length of the shorter.
pub(crate) fn msm<P: SWCurveConfig>(bases: &[Affine<P>], digits: &Digits) -> Projective<P>
where
    P::BaseField: BaseField,
{
    let n = bases.len().min(digits.n);
    let window_sum =
        |w: usize| window_sum(&bases[..n], &digits.digits[w * digits.n..][..n], digits.c);
    #[cfg(feature = "parallel")]
    let sums: Vec<Projective<P>> = (0..digits.windows())
        .into_par_iter()
        .map(window_sum)
        .collect();
    #[cfg(not(feature = "parallel"))]
    let sums: Vec<Projective<P>> = (0..digits.windows()).map(window_sum).collect();
    // Σ_w sums[w] · 2^(c·w), highest window first.
    let mut total = Projective::zero();
    for sum in sums.iter().rev() {
        for _ in 0..digits.c {
            total.double_in_place();
        }
        total += sum;
    }
    total
}

/// Widest window considered (bucket arrays of 2^(c−1) points must stay cache-sized).
const MAX_WINDOW_BITS: usize = 16;

/// The window width minimising the estimated cost: per window, one affine addition (≈ 7 multiplications
/// with its share of the batch inversion) per scalar and two XYZZ additions (≈ 26) per bucket.
fn window_bits(n: usize) -> usize {
    let cost = |c: usize| (256usize.div_ceil(c)) * (7 * n + 26 * (1usize << (c - 1)));
    (2..=MAX_WINDOW_BITS).min_by_key(|&c| cost(c)).unwrap_or(2)
}

/// Bits `start .. start + c` of the little-endian limbs (zero past the end).
fn bits(limbs: &[u64], start: usize, c: usize) -> u64 {
    let (limb, offset) = (start / 64, start % 64);
    let Some(&low) = limbs.get(limb) else {
        return 0;
    };
    let mut v = low >> offset;
    if offset + c > 64
        && let Some(&high) = limbs.get(limb + 1)
    {
        v |= high << (64 - offset);
    }
    v & ((1u64 << c) - 1)
}

#[cfg(feature = "parallel")]
fn rayon_threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(not(feature = "parallel"))]
fn rayon_threads() -> usize {
    1
}

/// `Σ_i digits_i · bases_i` for one window.
fn window_sum<P: SWCurveConfig>(bases: &[Affine<P>], digits: &[i32], c: usize) -> Projective<P>
where
    P::BaseField: BaseField,
{
    let num_buckets = 1usize << (c - 1);
    let mut acc = Accumulator::<P>::new(num_buckets);
    for (base, &digit) in bases.iter().zip(digits) {
        if digit == 0 || base.is_zero() {
            continue;
        }
        let bucket = (digit.unsigned_abs() - 1) as usize;
        let point = if digit > 0 { *base } else { -*base };
        acc.add(bucket, point);
    }
    acc.flush();
    // Σ_b (b + 1) · bucket_b = Σ_b (running sum of the buckets from the top down to b).
    let mut running = Bucket::<P>::ZERO;
    let mut sum = Bucket::<P>::ZERO;
    for (affine, overflow) in acc.buckets.iter().zip(&acc.overflow).rev() {
        add_affine(&mut running, affine);
        add(&mut running, overflow);
        add(&mut sum, &running);
    }
    sum.into()
}

/// `bucket += point` (madd-2008-s, as arkworks' `Bucket += Affine`) with [`BaseField`]'s products; the
/// identity and equal points go to arkworks.
fn add_affine<P: SWCurveConfig>(bucket: &mut Bucket<P>, point: &Affine<P>)
where
    P::BaseField: BaseField,
{
    if bucket.is_zero() || point.is_zero() {
        *bucket += point;
        return;
    }
    let u2 = point.x.product(bucket.zz);
    let s2 = point.y.product(bucket.zzz);
    if bucket.x == u2 {
        *bucket += point;
        return;
    }
    let p = u2 - bucket.x;
    let r = s2 - bucket.y;
    let pp = p.squared();
    let ppp = pp.product(p);
    let q = bucket.x.product(pp);
    let x = r.squared() - ppp - q.double();
    bucket.y = r.product(q - x) - bucket.y.product(ppp);
    bucket.x = x;
    bucket.zz = bucket.zz.product(pp);
    bucket.zzz = bucket.zzz.product(ppp);
}

/// `bucket += other` (add-2008-s, as arkworks' `Bucket += &Bucket`) with [`BaseField`]'s products; the
/// identity and equal points go to arkworks.
fn add<P: SWCurveConfig>(bucket: &mut Bucket<P>, other: &Bucket<P>)
where
    P::BaseField: BaseField,
{
    if bucket.is_zero() || other.is_zero() {
        *bucket += other;
        return;
    }
    let u1 = bucket.x.product(other.zz);
    let u2 = other.x.product(bucket.zz);
    let s1 = bucket.y.product(other.zzz);
    let s2 = other.y.product(bucket.zzz);
    if u1 == u2 {
        *bucket += other;
        return;
    }
    let p = u2 - u1;
    let r = s2 - s1;
    let pp = p.squared();
    let ppp = pp.product(p);
    let q = u1.product(pp);
    let x = r.squared() - ppp - q.double();
    bucket.y = r.product(q - x) - s1.product(ppp);
    bucket.x = x;
    bucket.zz = bucket.zz.product(pp).product(other.zz);
    bucket.zzz = bucket.zzz.product(ppp).product(other.zzz);
}

/// The buckets of one window and the batch of additions pending on them.
struct Accumulator<P: SWCurveConfig> {
    /// Affine part of each bucket (the identity when empty).
    buckets: Vec<Affine<P>>,
    /// What could not be added in affine form (conflicts within a batch, equal `x`).
    overflow: Vec<Bucket<P>>,
    /// Whether the bucket has an addition in the current batch.
    busy: Vec<bool>,
    /// The batch: bucket index and the point to add to it.
    batch: Vec<(usize, Affine<P>)>,
    /// Prefix products of the batch's denominators.
    scratch: Vec<P::BaseField>,
    /// Additions per batch (one inversion each).
    batch_size: usize,
}

impl<P: SWCurveConfig> Accumulator<P>
where
    P::BaseField: BaseField,
{
    fn new(num_buckets: usize) -> Self {
        // Few enough that conflicts stay rare (≈ batch / (2 · buckets) of the additions), enough to spread
        // the inversion.
        let batch_size = (num_buckets / 8).clamp(16, 1024);
        Self {
            buckets: vec![Affine::identity(); num_buckets],
            overflow: vec![Bucket::ZERO; num_buckets],
            busy: vec![false; num_buckets],
            batch: Vec::with_capacity(batch_size),
            scratch: Vec::with_capacity(batch_size),
            batch_size,
        }
    }

    fn add(&mut self, bucket: usize, point: Affine<P>) {
        let current = self.buckets[bucket];
        if self.busy[bucket] {
            add_affine(&mut self.overflow[bucket], &point);
        } else if current.is_zero() {
            self.buckets[bucket] = point;
        } else if current.x == point.x {
            // Doubling or cancellation: not the affine addition formula.
            add_affine(&mut self.overflow[bucket], &point);
        } else {
            self.busy[bucket] = true;
            self.batch.push((bucket, point));
            if self.batch.len() == self.batch_size {
                self.flush();
            }
        }
    }

    /// Performs the batch's additions with one inversion.
    fn flush(&mut self) {
        self.scratch.clear();
        let mut product = P::BaseField::ONE;
        for &(bucket, point) in &self.batch {
            self.scratch.push(product);
            product = product.product(point.x - self.buckets[bucket].x);
        }
        // Every denominator is non-zero (`add` keeps equal `x` out of the batch), so the product is too.
        let Some(mut inverse) = product.inverse() else {
            unreachable!("the batch holds no addition of points with equal x")
        };
        for (&(bucket, point), prefix) in self.batch.iter().zip(&self.scratch).rev() {
            let q = self.buckets[bucket];
            let dx = point.x - q.x;
            let dx_inverse = inverse.product(*prefix);
            inverse = inverse.product(dx);
            let lambda = (point.y - q.y).product(dx_inverse);
            let x = lambda.squared() - q.x - point.x;
            let y = lambda.product(q.x - x) - q.y;
            self.buckets[bucket] = Affine::new_unchecked(x, y);
            self.busy[bucket] = false;
        }
        self.batch.clear();
    }
}

/// The scalars as the MSMs take them (canonical big integers).
pub(crate) fn bigints<F: PrimeField>(scalars: &[F]) -> Vec<F::BigInt> {
    #[cfg(feature = "parallel")]
    let iter = scalars.par_iter();
    #[cfg(not(feature = "parallel"))]
    let iter = scalars.iter();
    iter.map(|s| s.into_bigint()).collect()
}

#[cfg(test)]
mod tests {
    use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::{CurveGroup, VariableBaseMSM};
    use ark_ff::UniformRand;
    use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

    use super::*;

    fn check<G: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<G>], scalars: &[Fr])
    where
        G::BaseField: BaseField,
    {
        let digits = Digits::new(&bigints(scalars), Fr::MODULUS_BIT_SIZE as usize);
        let expected =
            <Projective<G> as VariableBaseMSM>::msm(bases, scalars).expect("same length");
        assert_eq!(msm(bases, &digits), expected, "{} scalars", scalars.len());
    }

    fn random_g1(rng: &mut ChaCha20Rng, n: usize) -> Vec<G1Affine> {
        let points: Vec<G1Projective> = (0..n).map(|_| G1Projective::rand(rng)).collect();
        G1Projective::normalize_batch(&points)
    }

    #[test]
    fn digits_recompose_the_scalars() {
        let mut rng = ChaCha20Rng::from_seed([1; 32]);
        let mut scalars: Vec<Fr> = (0..3000).map(|_| Fr::rand(&mut rng)).collect();
        scalars.extend([
            Fr::zero(),
            Fr::from(1u64),
            -Fr::from(1u64),
            Fr::from(u64::MAX),
        ]);
        let big = bigints(&scalars);
        let digits = Digits::new(&big, Fr::MODULUS_BIT_SIZE as usize);
        let half = 1i32 << (digits.c - 1);
        for (i, scalar) in scalars.iter().enumerate() {
            let mut value = Fr::zero();
            for w in (0..digits.windows()).rev() {
                value *= Fr::from(1u64 << digits.c);
                let d = digits.digits[w * digits.n + i];
                assert!(d.abs() <= half, "digit {d} of window width {}", digits.c);
                value += if d < 0 {
                    -Fr::from(u64::from(d.unsigned_abs()))
                } else {
                    Fr::from(d as u64)
                };
            }
            assert_eq!(value, *scalar, "scalar {i}");
        }
    }

    #[test]
    fn window_width_grows_with_the_number_of_scalars() {
        assert!(window_bits(1) <= 4);
        assert!(window_bits(1 << 10) < window_bits(1 << 16));
        assert!(window_bits(1 << 24) <= MAX_WINDOW_BITS);
    }

    #[test]
    fn matches_arkworks_on_random_scalars() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        for n in [0, 1, 2, 31, 100, 5000] {
            let bases = random_g1(&mut rng, n);
            let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            check(&bases, &scalars);
        }
        let bases: Vec<G2Affine> = G2Projective::normalize_batch(
            &(0..300)
                .map(|_| G2Projective::rand(&mut rng))
                .collect::<Vec<_>>(),
        );
        let scalars: Vec<Fr> = (0..300).map(|_| Fr::rand(&mut rng)).collect();
        check(&bases, &scalars);
    }

    #[test]
    fn handles_zeros_ones_repeats_and_the_identity() {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let n = 4000;
        let distinct = random_g1(&mut rng, 50);
        // Repeated points (doublings and cancellations in the buckets), identity bases, and skewed scalars:
        // zeros, ones, minus ones, small values, one value repeated.
        let mut bases: Vec<G1Affine> = (0..n).map(|i| distinct[i % distinct.len()]).collect();
        for i in (0..n).step_by(7) {
            bases[i] = G1Affine::identity();
        }
        let repeated = Fr::rand(&mut rng);
        let scalars: Vec<Fr> = (0..n)
            .map(|i| match i % 6 {
                0 => Fr::zero(),
                1 => Fr::from(1u64),
                2 => -Fr::from(1u64),
                3 => Fr::from(i as u64),
                4 => repeated,
                _ => Fr::rand(&mut rng),
            })
            .collect();
        check(&bases, &scalars);
        // A point and its negation with the same scalar cancel.
        let p = distinct[0];
        check(
            &[p, -p, p, p],
            &[repeated, repeated, Fr::from(2u64), -Fr::from(2u64)],
        );
        assert_eq!(
            msm(&[p, -p], &Digits::new(&bigints(&[repeated, repeated]), 254)).into_affine(),
            G1Affine::identity()
        );
    }
}
/// Timing against arkworks' MSM, outside the normal test run:
/// `cargo test -p kalypso-circom --lib msm::timing -- --ignored --nocapture`.
#[cfg(test)]
mod timing {
    #![allow(clippy::print_stdout)]

    use std::time::Instant;

    use ark_bn254::{Fr, G1Projective, G2Projective};
    use ark_ec::{CurveGroup, VariableBaseMSM};
    use ark_ff::UniformRand;
    use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

    use super::*;

    /// User + system CPU seconds of this process (the machine is shared: wall time says little).
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    fn time<T>(what: &str, f: impl FnOnce() -> T) -> T {
        let (cpu, wall) = (cpu_seconds(), Instant::now());
        let result = f();
        println!(
            "{what}: {:.3} s wall, {:.2} s CPU",
            wall.elapsed().as_secs_f64(),
            cpu_seconds() - cpu
        );
        result
    }

    #[test]
    #[ignore = "timing, not a check: run by hand"]
    fn against_arkworks_2_16() {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let n = 1 << 16;
        let (p, q) = (G1Projective::rand(&mut rng), G2Projective::rand(&mut rng));
        let g1 = G1Projective::normalize_batch(
            &(1..=n as u64).map(|i| p * Fr::from(i)).collect::<Vec<_>>(),
        );
        let g2 = G2Projective::normalize_batch(
            &(1..=n as u64).map(|i| q * Fr::from(i)).collect::<Vec<_>>(),
        );
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        for _ in 0..2 {
            let theirs = time("arkworks G1", || G1Projective::msm(&g1, &scalars));
            let ours = time("ours G1", || {
                msm(&g1, &Digits::new(&bigints(&scalars), 254))
            });
            assert_eq!(theirs, Ok(ours));
            let theirs = time("arkworks G2", || G2Projective::msm(&g2, &scalars));
            let ours = time("ours G2", || {
                msm(&g2, &Digits::new(&bigints(&scalars), 254))
            });
            assert_eq!(theirs, Ok(ours));
        }
    }
}
