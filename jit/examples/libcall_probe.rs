//! Timing probe for loops that call `jit`'s math routines (libcalls) next to other float
//! code, at T1..T3, with this host's CPU features and with SSE2 only:
//!
//! ```text
//! cargo run -p jit --release --example libcall_probe [n]
//! ```
//!
//! It isolates the cost of the calls (`exp_only`), of the loop after them (`mul_only`), and
//! of their combination (`exp_then_mul`, `softmax`), on the same 2048-float input.

use jit::{Arg, CpuFeatures, Engine, EngineConfig, Tier};
use std::time::{Duration, Instant};

const SRC: &str = r#"
fn exp_only(x: &mut [f32], n: i32) {
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - 0.5); x[i] = e; sum += e; }
    x[0] = sum;
}
fn mul_only(x: &mut [f32], n: i32) {
    let inv = 1.0 / x[1];
    for i in 0..n { x[i] *= inv; }
}
fn exp_then_mul(x: &mut [f32], n: i32) {
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - 0.5); x[i] = e; sum += e; }
    let inv = 1.0 / sum;
    for i in 0..n { x[i] *= inv; }
}
fn exp_then_mulc(x: &mut [f32], n: i32) {
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - 0.5); x[i] = e; sum += e; }
    for i in 0..n { x[i] *= 0.5; }
    x[0] = sum;
}
fn exp_then_nothing_big(x: &mut [f32], n: i32) {
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - 0.5); x[i] = e; sum += e; }
    for i in 0..4 { x[i] *= 0.5; }
    x[0] = sum;
}
fn sqrt_then_mul(x: &mut [f32], n: i32) {
    let sum: f32 = 0.0;
    for i in 0..n { let e = sqrt(x[i] + 2.5); x[i] = e; sum += e; }
    let inv = 1.0 / sum;
    for i in 0..n { x[i] *= inv; }
}
fn mul_then_exp(x: &mut [f32], n: i32) {
    for i in 0..n { x[i] *= 0.5; }
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - 0.5); x[i] = e; sum += e; }
    x[0] = sum;
}
fn max_only(x: &mut [f32], n: i32) {
    let mx = x[0];
    for i in 1..n { mx = max(mx, x[i]); }
    x[0] = mx;
}
fn trig_only(x: &mut [f32], n: i32) {
    let st = -6.2831855 / (n as f32);
    for k in 0..n {
        let angle = st * (k as f32);
        let wr = cos(angle);
        let wi = sin(angle);
        x[k] = wr + wi;
    }
}
fn fft_stages(re: &mut [f32], n: i32) {
    let stages = ctz(n);
    for st in 0..stages {
        let half = 1 << st;
        let span = half << 1;
        let step_angle = -6.2831855 / (span as f32);
        for k in 0..half {
            let angle = step_angle * (k as f32);
            let wr = cos(angle);
            let wi = sin(angle);
            for s in 0..n step span {
                let a = s + k;
                let b = a + half;
                let xr = re[b] * wr - re[b] * wi;
                re[b] = re[a] - xr;
                re[a] += xr;
            }
        }
    }
}
fn max_then_exp(x: &mut [f32], n: i32) {
    let mx = x[0];
    for i in 1..n { mx = max(mx, x[i]); }
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - mx); x[i] = e; sum += e; }
    x[0] = sum;
}
fn exp_sub_mx(x: &mut [f32], n: i32) {
    let mx = x[7];
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - mx); x[i] = e; sum += e; }
    let inv = 1.0 / sum;
    for i in 0..n { x[i] *= inv; }
}
fn softmax(x: &mut [f32], n: i32) {
    let mx = x[0];
    for i in 1..n { mx = max(mx, x[i]); }
    let sum: f32 = 0.0;
    for i in 0..n { let e = exp(x[i] - mx); x[i] = e; sum += e; }
    let inv = 1.0 / sum;
    for i in 0..n { x[i] *= inv; }
}
fn fft(re: &mut [f32], im: &mut [f32], n: i32) -> i32 {
    if n <= 0 || popcnt(n) != 1 {
        return -1;
    }
    // Bit-reversal permutation: j runs through the bit-reversed counterparts of i.
    let j = 0;
    for i in 1..n {
        let bit = n >> 1;
        while (j & bit) != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j ^= bit;
        if i < j {
            let tr = re[i];
            re[i] = re[j];
            re[j] = tr;
            let ti = im[i];
            im[i] = im[j];
            im[j] = ti;
        }
    }
    // Butterfly stages: transforms of length span = 2, 4, ..., n.
    let stages = ctz(n);
    for st in 0..stages {
        let half = 1 << st;
        let span = half << 1;
        let step_angle = -6.2831855 / (span as f32);
        for k in 0..half {
            let angle = step_angle * (k as f32);
            let wr = cos(angle);
            let wi = sin(angle);
            for s in 0..n step span {
                let a = s + k;
                let b = a + half;
                let xr = re[b] * wr - im[b] * wi;
                let xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
    return 0;
}
fn fft_bitrev(re: &mut [f32], im: &mut [f32], n: i32) -> i32 {
    if n <= 0 || popcnt(n) != 1 {
        return -1;
    }
    // Bit-reversal permutation: j runs through the bit-reversed counterparts of i.
    let j = 0;
    for i in 1..n {
        let bit = n >> 1;
        while (j & bit) != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j ^= bit;
        if i < j {
            let tr = re[i];
            re[i] = re[j];
            re[j] = tr;
            let ti = im[i];
            im[i] = im[j];
            im[j] = ti;
        }
    }
    return 0;
}
fn fft_butterflies(re: &mut [f32], im: &mut [f32], n: i32) -> i32 {
    // Butterfly stages: transforms of length span = 2, 4, ..., n.
    let stages = ctz(n);
    for st in 0..stages {
        let half = 1 << st;
        let span = half << 1;
        let step_angle = -6.2831855 / (span as f32);
        for k in 0..half {
            let angle = step_angle * (k as f32);
            let wr = cos(angle);
            let wi = sin(angle);
            for s in 0..n step span {
                let a = s + k;
                let b = a + half;
                let xr = re[b] * wr - im[b] * wi;
                let xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
    }
    return 0;
}
fn fft_butterflies_locals(re: &mut [f32], im: &mut [f32], n: i32) -> i32 {
    let stages = ctz(n);
    for st in 0..stages {
        let half = 1 << st;
        let span = half << 1;
        let step_angle = -6.2831855 / (span as f32);
        for k in 0..half {
            let angle = step_angle * (k as f32);
            let wr = cos(angle);
            let wi = sin(angle);
            for s in 0..n step span {
                let a = s + k;
                let b = a + half;
                let rb = re[b];
                let ib = im[b];
                let ra = re[a];
                let ia = im[a];
                let xr = rb * wr - ib * wi;
                let xi = rb * wi + ib * wr;
                re[b] = ra - xr;
                im[b] = ia - xi;
                re[a] = ra + xr;
                im[a] = ia + xi;
            }
        }
    }
    return 0;
}
"#;

fn time2(e: &Engine, f: jit::FuncId, tier: Tier, input: &[f32]) -> Duration {
    let mut re = input.to_vec();
    let mut im: Vec<f32> = input.iter().map(|v| v * 0.5).collect();
    let n = re.len() as i32;
    let mut samples = Vec::new();
    for _ in 0..200 {
        re.copy_from_slice(input);
        let t = Instant::now();
        e.call_at(
            f,
            tier,
            &mut [Arg::F32sMut(&mut re), Arg::F32sMut(&mut im), Arg::I32(n)],
        )
        .expect("call");
        samples.push(t.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn time(e: &Engine, f: jit::FuncId, tier: Tier, input: &[f32]) -> Duration {
    let mut x = input.to_vec();
    let n = x.len() as i32;
    let mut best = Duration::MAX;
    let mut samples = Vec::new();
    for _ in 0..200 {
        x.copy_from_slice(input);
        let t = Instant::now();
        e.call_at(f, tier, &mut [Arg::F32sMut(&mut x), Arg::I32(n)])
            .expect("call");
        let d = t.elapsed();
        best = best.min(d);
        samples.push(d);
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    let input: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32) * 0.05 - 2.0)
        .collect();
    for (label, features) in [
        ("host", CpuFeatures::detect_host()),
        ("sse2", CpuFeatures::baseline()),
    ] {
        let e = Engine::host(EngineConfig {
            features,
            ..EngineConfig::default()
        });
        let m = e
            .load(jit::parse_module("probe.bfir", SRC).expect("parse"))
            .expect("load");
        for name in [
            "exp_only",
            "mul_only",
            "exp_then_mul",
            "exp_then_mulc",
            "exp_then_nothing_big",
            "sqrt_then_mul",
            "mul_then_exp",
            "max_only",
            "max_then_exp",
            "exp_sub_mx",
            "trig_only",
            "fft_stages",
            "softmax",
        ] {
            let f = e.func(m, name).expect("function");
            print!("{label:>5} {name:>20}:");
            for tier in [Tier::T1, Tier::T2, Tier::T3] {
                let d = time(&e, f, tier, &input);
                print!("  {tier} {:>8.2} us", d.as_secs_f64() * 1e6);
            }
            println!();
        }
        for name in [
            "fft",
            "fft_bitrev",
            "fft_butterflies",
            "fft_butterflies_locals",
        ] {
            let f = e.func(m, name).expect("function");
            print!("{label:>5} {name:>20}:");
            for tier in [Tier::T1, Tier::T2, Tier::T3] {
                let d = time2(&e, f, tier, &input);
                print!("  {tier} {:>8.2} us", d.as_secs_f64() * 1e6);
            }
            println!();
        }
    }
}
