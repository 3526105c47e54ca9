//! A small, seedable, platform-independent pseudo-random generator for inputs.
//!
//! SplitMix64: one 64-bit state, an add and three xor-shift-multiply steps per draw.
//! It is not cryptographic; it only has to give every host and the kernel the very
//! same inputs for a given seed.

/// SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A uniform integer in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u32) -> u32 {
        if bound == 0 {
            return 0;
        }
        // Multiply-shift reduction: bias below 2^-32, irrelevant for test inputs.
        ((u64::from(self.next_u32()) * u64::from(bound)) >> 32) as u32
    }

    /// A uniform integer in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range_i32(&mut self, lo: i32, hi: i32) -> i32 {
        if hi <= lo {
            return lo;
        }
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        (i64::from(lo) + (self.next_u64() % span) as i64) as i32
    }

    /// An integer in `lo..=hi` (`lo` when `hi < lo`), uniform up to a bias below 2^-32
    /// for spans under 2^32.
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi as i128 - lo as i128 + 1) as u128;
        if span > u128::from(u64::MAX) {
            return self.next_u64() as i64;
        }
        (lo as i128 + (u128::from(self.next_u64()) % span) as i128) as i64
    }

    /// A uniform f32 in `[0, 1)` with 24 random bits.
    pub fn unit_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// A uniform f64 in `[0, 1)` with 53 random bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A uniform f32 in `[lo, hi)`.
    pub fn range_f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit_f32()
    }

    /// `len` values uniform in `[lo, hi)`.
    pub fn vec_f32(&mut self, len: usize, lo: f32, hi: f32) -> alloc::vec::Vec<f32> {
        (0..len).map(|_| self.range_f32(lo, hi)).collect()
    }

    /// One element of `items`, chosen uniformly (`items` must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence_and_ranges_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut c = Rng::new(8);
        let xs: alloc::vec::Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let ys: alloc::vec::Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let zs: alloc::vec::Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        for _ in 0..1000 {
            let v = a.range_i32(-3, 5);
            assert!((-3..=5).contains(&v));
            let w = a.range_i64(-3, 5);
            assert!((-3..=5).contains(&w));
            let f = a.range_f32(-2.0, 2.0);
            assert!((-2.0..2.0).contains(&f));
            assert!((0.0..1.0).contains(&a.unit_f64()));
            assert!(a.below(10) < 10);
        }
        // The full i64 range does not overflow.
        let _ = a.range_i64(i64::MIN, i64::MAX);
    }
}
