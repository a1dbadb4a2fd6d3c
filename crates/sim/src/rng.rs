//! A small deterministic random number generator (xoshiro256++ seeded by SplitMix64) and the few
//! distributions the model draws from. No dependency, identical streams on every platform.

/// SplitMix64's finaliser: a bijective mix of 64 bits (seeding and keyed streams).
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256++.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A stream for `seed`.
    pub(crate) const fn new(seed: u64) -> Self {
        let a = mix(seed);
        let b = mix(a);
        let c = mix(b);
        let d = mix(c);
        Self { s: [a, b, c, d] }
    }

    /// An independent stream for a key (seed, stream, a, b): the same key gives the same draws whatever was drawn
    /// elsewhere, so every mechanism sees the same outcome for the same (ask, generator, attempt).
    pub(crate) const fn keyed(seed: u64, stream: u64, a: u64, b: u64) -> Self {
        Self::new(mix(seed ^ mix(stream ^ mix(a ^ mix(b)))))
    }

    /// 64 random bits.
    pub(crate) const fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in the open interval (0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform integer in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo + 1;
        // Multiply-shift: bias below 2^-40 for the spans used here.
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64
    }

    /// Exponential with the given mean.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -self.unit().ln() * mean
    }

    /// Standard normal (Box-Muller, one value per call).
    pub(crate) fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape `sigma` (`median` exactly when `sigma` is zero).
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        if sigma == 0.0 {
            return median;
        }
        median * (sigma * self.normal()).exp()
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |mut r: Rng| (0..4).map(|_| r.next_u64()).collect::<Vec<_>>();
        assert_eq!(draw(Rng::new(7)), draw(Rng::new(7)));
        assert_ne!(draw(Rng::new(7)), draw(Rng::new(8)));
        assert_eq!(draw(Rng::keyed(1, 2, 3, 4)), draw(Rng::keyed(1, 2, 3, 4)));
        assert_ne!(draw(Rng::keyed(1, 2, 3, 4)), draw(Rng::keyed(1, 2, 4, 3)));
    }

    #[test]
    fn distributions_have_their_moments() {
        let mut r = Rng::new(42);
        let n = 200_000;
        let mean_exp = (0..n).map(|_| r.exp(3.0)).sum::<f64>() / f64::from(n);
        assert!((mean_exp - 3.0).abs() < 0.05, "exponential mean {mean_exp}");
        let mut below = 0;
        for _ in 0..n {
            if r.lognormal(5.0, 0.7) < 5.0 {
                below += 1;
            }
        }
        let share = f64::from(below) / f64::from(n);
        assert!(
            (share - 0.5).abs() < 0.01,
            "log-normal median share {share}"
        );
        let mut counts = [0u32; 4];
        for _ in 0..n {
            counts[r.range(0, 3) as usize] += 1;
        }
        assert!(
            counts
                .iter()
                .all(|&c| (c as f64 / f64::from(n) - 0.25).abs() < 0.01)
        );
    }
}
