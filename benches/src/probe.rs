//! This machine's bounds, measured in the same run as the kernels: the single-core f32
//! FMA throughput (256-bit AVX2 FMA) and the streaming-read bandwidth at a given working
//! set size, and the amount of work one call of a catalog kernel does, so that the
//! summary can say what fraction of the bound a column reaches.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// What a call's work is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Floating-point operations (a fused multiply-add counts two).
    Flop,
    /// Bytes of input read.
    Byte,
    /// Elements processed (sorted keys, sieved numbers).
    Element,
}

/// The bound a kernel's rate is compared with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// The single-core f32 FMA peak ([`fma_peak_gflops`]).
    FmaPeak,
    /// The streaming-read bandwidth over this many bytes ([`read_gbs`]).
    Read(usize),
}

/// The work of one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    /// How much work, in `unit`s.
    pub amount: f64,
    /// What the work is counted in.
    pub unit: Unit,
    /// The machine bound the rate is compared with, if any.
    pub bound: Option<Bound>,
}

impl Work {
    /// The rate of a call taking `secs`, scaled for display, with its unit label:
    /// GFLOP/s, GB/s or M/s.
    pub fn rate(&self, secs: f64) -> (f64, &'static str) {
        let per_s = self.amount / secs.max(1e-15);
        match self.unit {
            Unit::Flop => (per_s / 1e9, "GFLOP/s"),
            Unit::Byte => (per_s / 1e9, "GB/s"),
            Unit::Element => (per_s / 1e6, "M/s"),
        }
    }
}

/// The work of one call of `kernel` at `size` (matching `modules::inputs`' shapes, seed 0),
/// or `None` for kernels the library table does not cover.
///
/// matmul/gemm_tile: 2 n^3 flops against the FMA peak; matvec: the bytes of the matrix and
/// the vector, against the read bandwidth over those bytes; fft: the conventional
/// 5 n log2 n flops of a radix-2 complex FFT (a nominal count) against the FMA peak;
/// sha256: message bytes; quicksort: keys sorted; primes: numbers sieved.
pub fn work(kernel: &str, size: usize) -> Option<Work> {
    let s = size as f64;
    let w = match kernel {
        "matmul" | "gemm_tile" => Work {
            amount: 2.0 * s * s * s,
            unit: Unit::Flop,
            bound: Some(Bound::FmaPeak),
        },
        "matvec" | "matvec_ffn" => {
            let cols = if kernel == "matvec" {
                size
            } else {
                size * 11 / 4
            };
            let bytes = 4 * (size * cols + cols);
            Work {
                amount: bytes as f64,
                unit: Unit::Byte,
                bound: Some(Bound::Read(bytes)),
            }
        }
        "fft" => Work {
            amount: 5.0 * s * s.log2().max(0.0),
            unit: Unit::Flop,
            bound: Some(Bound::FmaPeak),
        },
        "sha256" => Work {
            amount: s,
            unit: Unit::Byte,
            bound: None,
        },
        "quicksort" | "primes" => Work {
            amount: s,
            unit: Unit::Element,
            bound: None,
        },
        _ => return None,
    };
    Some(w)
}

/// Number of independent accumulators of the FMA probe: enough to cover the FMA latency
/// times the number of FMA pipes of current x86 cores (4 cycles x 2 pipes), with margin.
const FMA_CHAINS: usize = 12;

/// The single-core f32 peak in GFLOP/s with 256-bit FMA (AVX2+FMA): the best of several
/// samples of a loop of independent `vfmadd` chains, over about `budget`. `None` when the
/// CPU lacks AVX2 or FMA.
pub fn fma_peak_gflops(budget: Duration) -> Option<f64> {
    if !crate::native_supported() {
        return None;
    }
    let iters: u64 = 1 << 16;
    let mut best = 0.0f64;
    let start = Instant::now();
    let mut samples = 0;
    while samples < 5 || start.elapsed() < budget {
        let t = Instant::now();
        // SAFETY: `native_supported` checked AVX2 and FMA on this CPU.
        let sink = unsafe { fma_chains(black_box(iters)) };
        let secs = t.elapsed().as_secs_f64();
        black_box(sink);
        let flops = iters as f64 * FMA_CHAINS as f64 * 8.0 * 2.0;
        best = best.max(flops / secs / 1e9);
        samples += 1;
    }
    Some(best)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); FMA_CHAINS];
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut sum = _mm256_set1_ps(0.0);
    for x in acc {
        sum = _mm256_add_ps(sum, x);
    }
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds 8 f32s, the width of one unaligned 256-bit store.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
    out.iter().sum()
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_chains(_iters: u64) -> f32 {
    0.0
}

/// The streaming-read bandwidth in GB/s over a buffer of `bytes` (rounded up to 256):
/// the best of several passes that sum the buffer with 256-bit loads into 8 independent
/// accumulators, over about `budget`. A small buffer stays in the caches (its bound is
/// the cache's), a large one is read from memory, as the kernel reading that many bytes
/// would. `None` without AVX2.
pub fn read_gbs(bytes: usize, budget: Duration) -> Option<f64> {
    if !crate::native_supported() {
        return None;
    }
    let floats = bytes.div_ceil(256).max(1) * 64;
    let buf: Vec<f32> = (0..floats).map(|i| (i % 7) as f32).collect();
    let mut best = 0.0f64;
    let start = Instant::now();
    let mut samples = 0;
    while samples < 5 || (start.elapsed() < budget && samples < 100_000) {
        let t = Instant::now();
        // SAFETY: `native_supported` checked AVX2; the buffer's length is a multiple of 64.
        let sink = unsafe { read_sum(black_box(&buf)) };
        let secs = t.elapsed().as_secs_f64();
        black_box(sink);
        best = best.max((floats * 4) as f64 / secs / 1e9);
        samples += 1;
    }
    Some(best)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_sum(buf: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); 8];
    for chunk in buf.chunks_exact(64) {
        for (j, x) in acc.iter_mut().enumerate() {
            // SAFETY: `chunk` has 64 f32s, so 8 at offset 8j (j < 8) are in bounds.
            let v = unsafe { _mm256_loadu_ps(chunk.as_ptr().add(8 * j)) };
            *x = _mm256_add_ps(*x, v);
        }
    }
    let mut sum = _mm256_set1_ps(0.0);
    for x in acc {
        sum = _mm256_add_ps(sum, x);
    }
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds 8 f32s, the width of one unaligned 256-bit store.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
    out.iter().sum()
}

#[cfg(not(target_arch = "x86_64"))]
fn read_sum(_buf: &[f32]) -> f32 {
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_counts_match_the_shapes() {
        let m = work("matmul", 64).unwrap();
        assert_eq!(m.amount, 2.0 * 64.0 * 64.0 * 64.0);
        assert_eq!(
            work("matvec_ffn", 2048).unwrap().bound,
            Some(Bound::Read(4 * (2048 * 5632 + 5632)))
        );
        assert_eq!(work("fft", 1024).unwrap().amount, 5.0 * 1024.0 * 10.0);
        assert!(work("softmax", 2048).is_none());
    }

    #[test]
    fn probes_report_positive_rates() {
        if !crate::native_supported() {
            return;
        }
        let peak = fma_peak_gflops(Duration::from_millis(5)).unwrap();
        let read = read_gbs(1 << 16, Duration::from_millis(5)).unwrap();
        assert!(peak > 0.0 && peak.is_finite(), "{peak}");
        assert!(read > 0.0 && read.is_finite(), "{read}");
    }
}
