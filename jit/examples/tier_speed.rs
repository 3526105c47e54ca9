//! Rough per-tier timings on the host (the benches crate does the real measurements):
//! `cargo run -p jit --release --example tier_speed`

use jit::{Arg, CpuFeatures, Engine, EngineConfig, Tier, parse_module};
use std::time::Instant;

const SRC: &str = r#"
fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k { acc = fma(a[i * k + p], b[p * n + j], acc); }
            c[i * n + j] = acc;
        }
    }
}

#[reassoc]
fn matmul_r(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k { acc = fma(a[i * k + p], b[p * n + j], acc); }
            c[i * n + j] = acc;
        }
    }
}

#[reassoc]
fn matmul_ipj(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n { c[i * n + j] = 0.0; }
        for p in 0..k {
            let av = a[i * k + p];
            for j in 0..n { c[i * n + j] += av * b[p * n + j]; }
        }
    }
}

#[reassoc]
fn matvec(w: &[f32], x: &[f32], y: &mut [f32], rows: i32, cols: i32) {
    for r in 0..rows {
        let acc: f32 = 0.0;
        for c in 0..cols { acc += w[r * cols + c] * x[c]; }
        y[r] = acc;
    }
}

fn fib(n: i32) -> i32 { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    )
}

#[inline(never)]
fn aot_matmul_ipj(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    for i in 0..m {
        c[i * n..i * n + n].fill(0.0);
        for p in 0..k {
            let av = a[i * k + p];
            let (crow, brow) = (&mut c[i * n..i * n + n], &b[p * n..p * n + n]);
            for (cv, bv) in crow.iter_mut().zip(brow) {
                *cv = av.mul_add(*bv, *cv);
            }
        }
    }
}

#[inline(never)]
fn aot_matvec(w: &[f32], x: &[f32], y: &mut [f32], rows: usize, cols: usize) {
    for r in 0..rows {
        y[r] = w[r * cols..r * cols + cols]
            .iter()
            .zip(x)
            .map(|(a, b)| a * b)
            .sum();
    }
}

fn main() {
    let e = Engine::host(EngineConfig {
        features: CpuFeatures::detect_host(),
        ..EngineConfig::default()
    });
    let m = e.load(parse_module("speed.bfir", SRC).unwrap()).unwrap();
    let n = 128usize;
    let a: Vec<f32> = (0..n * n).map(|i| (i % 13) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.2).collect();
    let mut c = vec![0f32; n * n];
    for name in ["matmul", "matmul_r", "matmul_ipj"] {
        let f = e.func(m, name).unwrap();
        for t in Tier::ALL {
            let reps = if t == Tier::T0 { 3 } else { 15 };
            let us = time(reps, || {
                e.call_at(
                    f,
                    t,
                    &mut [
                        Arg::F32s(&a),
                        Arg::F32s(&b),
                        Arg::F32sMut(&mut c),
                        Arg::I32(n as i32),
                        Arg::I32(n as i32),
                        Arg::I32(n as i32),
                    ],
                )
                .unwrap();
            });
            println!("{name} 128x128 {t}: {us:.0} us");
        }
    }
    let us = time(15, || aot_matmul_ipj(&a, &b, &mut c, n, n, n));
    println!("matmul_ipj 128x128 aot: {us:.0} us");
    let (rows, cols) = (2048usize, 2048usize);
    let w: Vec<f32> = (0..rows * cols).map(|i| (i % 11) as f32 * 0.01).collect();
    let x: Vec<f32> = (0..cols).map(|i| (i % 5) as f32).collect();
    let mut y = vec![0f32; rows];
    let f = e.func(m, "matvec").unwrap();
    for t in Tier::ALL {
        let reps = if t == Tier::T0 { 3 } else { 15 };
        let us = time(reps, || {
            e.call_at(
                f,
                t,
                &mut [
                    Arg::F32s(&w),
                    Arg::F32s(&x),
                    Arg::F32sMut(&mut y),
                    Arg::I32(rows as i32),
                    Arg::I32(cols as i32),
                ],
            )
            .unwrap();
        });
        println!("matvec 2048x2048 {t}: {us:.0} us");
    }
    let us = time(15, || aot_matvec(&w, &x, &mut y, rows, cols));
    println!("matvec 2048x2048 aot: {us:.0} us");
    let f = e.func(m, "fib").unwrap();
    for t in Tier::ALL {
        let us = time(5, || {
            e.call_at(f, t, &mut [Arg::I32(25)]).unwrap();
        });
        println!("fib(25) {t}: {us:.0} us");
    }
}
