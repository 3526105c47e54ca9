//! A small timing loop for the summary binary (criterion drives `cargo bench`).

use std::time::{Duration, Instant};

use crate::Runner;

/// Result of timing one runner.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Median time of one call.
    pub median: Duration,
    /// Number of samples the median is taken over.
    pub samples: usize,
}

impl Timing {
    /// Calls per second at the median.
    pub fn calls_per_sec(&self) -> f64 {
        1.0 / self.median.as_secs_f64().max(1e-12)
    }
}

/// Times `r` for about `budget`: samples of `batch` calls (one call per sample for
/// in-place kernels, whose inputs are reset untimed before each call), after a short
/// warm-up, and returns the median time per call.
pub fn measure(r: &mut Runner<'_>, budget: Duration) -> Timing {
    // Warm-up and calibration: how long does one call take?
    let t = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || (t.elapsed() < budget / 10 && calls < 1000) {
        if r.needs_reset() {
            r.reset();
        }
        r.call();
        calls += 1;
    }
    let per_call = t.elapsed() / calls;
    let batch = if r.needs_reset() {
        1
    } else {
        (Duration::from_micros(200).as_nanos() / per_call.as_nanos().max(1)).clamp(1, 10_000) as u32
    };
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5 || (start.elapsed() < budget && samples.len() < 2000) {
        if r.needs_reset() {
            r.reset();
        }
        let t = Instant::now();
        for _ in 0..batch {
            r.call();
        }
        samples.push(t.elapsed() / batch);
    }
    samples.sort();
    Timing {
        median: samples[samples.len() / 2],
        samples: samples.len(),
    }
}
