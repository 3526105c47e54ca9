//! Every compiled tier against T0 on randomized inputs for small programs that exercise
//! the T2/T3 transformations (versioned loops, strength reduction, unrolling, f32x4 maps
//! and reductions), including inputs that trap part-way.

mod common;
use common::*;
use jit::{Arg, CpuFeatures, Engine, Tier, Trap, Value};

const PROGRAMS: &str = r#"
/// dot product, reassociation allowed: vectorized reduction at T3
#[reassoc]
fn dot_r(a: &[f32], b: &[f32], n: i32) -> f32 {
    let acc: f32 = 0.0;
    for i in 0..n { acc += a[i] * b[i]; }
    return acc;
}

/// the same without #[reassoc]: must stay bit-exact
fn dot(a: &[f32], b: &[f32], n: i32) -> f32 {
    let acc = 0.0;
    for i in 0..n { acc = fma(a[i], b[i], acc); }
    return acc;
}

/// map: lane-wise exact, vectorized even without reassoc
fn saxpy(alpha: f32, x: &[f32], y: &mut [f32], n: i32) {
    for i in 0..n { y[i] = alpha * x[i] + y[i]; }
}

fn scale_off(x: &[f32], y: &mut [f32], lo: i32, hi: i32, off: i32) {
    for i in lo..hi {
        let t = x[i + off] * 2.0;
        y[i] = sqrt(abs(t)) + min(t, 1.0) - max(x[i], 0.5) / 3.0;
    }
}

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
fn sumsq64(a: &[f64], n: i32) -> f64 {
    let s = 0.0f64;
    for i in 0..n { s = s + a[i] * a[i]; }
    return s;
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

/// max/min reductions are exact in any order: vectorized without #[reassoc]
fn maxred(x: &[f32], n: i32) -> f32 {
    let m = x[0];
    for i in 1..n { m = max(m, x[i]); }
    return m;
}

fn minred(x: &[f32], n: i32) -> f32 {
    let m = 1000.0;
    for i in 0..n { m = min(x[i] * 2.0, m); }
    return m;
}

/// index helpers declared in the body (`let a = ...`) are expanded by the affine analysis
fn butterfly(re: &mut [f32], im: &mut [f32], n: i32, half: i32, k: i32) {
    let span = half * 2;
    for s in 0..n step span {
        let a = s + k;
        let b = a + half;
        let xr = re[b] * 0.5 - im[b] * 0.25;
        let xi = re[b] * 0.25 + im[b] * 0.5;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
    }
}

fn pack(w: &mut [i32], data: &[u8], off: i32, count: i32) {
    for t in 0..count {
        let p = off + t * 4;
        w[t] = (data[p] << 24) | (data[p + 1] << 16) | (data[p + 2] << 8) | data[p + 3];
    }
}

fn shifted_map(x: &[f32], y: &mut [f32], n: i32, o: i32) {
    for i in 0..n {
        let j = i + o;
        y[i] = x[j] * 3.0 + 1.0;
    }
}

fn stencil(a: &[f32], b: &mut [f32], n: i32) {
    for i in 1..n - 1 { b[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0; }
}

fn prefix(a: &mut [i32], n: i32) {
    for i in 1..n { a[i] = a[i - 1] + a[i]; }
}

fn prefix_f(a: &mut [f32], n: i32) {
    for i in 1..n { a[i] = a[i - 1] + a[i]; }
}

fn reverse(a: &[i32], b: &mut [i32], n: i32) {
    for i in 0..n { b[n - 1 - i] = a[i] * 3 - i; }
}

fn strided(a: &[f64], lo: i32, hi: i32, s: i32) -> f64 {
    let acc = 0.0f64;
    for i in lo..hi step s { acc += a[2 * i + 1] - a[i]; }
    return acc;
}

fn hist(d: &[u8], h: &mut [i32], n: i32) {
    for i in 0..n { h[d[i] & 15] += 1; }
}

fn bytes(s: &[u8], out: &mut [u8], n: i32) -> i32 {
    let count = 0;
    for i in 0..n {
        let c = s[i];
        if c >= 97 && c <= 122 { out[i] = c - 32; count += 1; continue; }
        out[i] = c ^ 0x1ff;
    }
    return count;
}

fn find(a: &[i64], key: i64) -> i32 {
    for i in 0..len(a) {
        if a[i] == key { return i; }
    }
    return -1;
}

fn find_break(a: &[i32], key: i32) -> i32 {
    let at = -1;
    for i in 0..len(a) {
        if a[i] > key { at = i; break; }
    }
    return at;
}

fn wide_loop(a: &[i64], n: i64) -> i64 {
    let s = 0i64;
    for i in 0i64..n { s = s * 31 + a[i] / (i - 3); }
    return s;
}

fn collatz(n: i64) -> i32 {
    let steps = 0;
    let x = n;
    while x != 1 && x > 0 {
        if x % 2 == 0 { x = x / 2; } else { x = 3 * x + 1; }
        steps += 1;
    }
    return steps;
}

fn sum_slice(a: &[i32]) -> i64 {
    if len(a) == 0 { return 0i64; }
    if len(a) == 1 { return a[0] as i64; }
    let mid = len(a) / 2;
    return sum_slice(a[0..mid]) + sum_slice(a[mid..len(a)]);
}

fn fill_sub(a: &mut [i32], lo: i32, hi: i32) -> i64 {
    fill(a[lo..hi], lo);
    return sum_slice(a);
}

fn fill(a: &mut [i32], base: i32) {
    for i in 0..len(a) { a[i] = base + i * i; }
}

fn mixed(a: &[f32], out: &mut [f64], n: i32) -> i32 {
    let neg = 0;
    for i in 0..n {
        let x = a[i] as f64;
        out[i] = exp(x * 0.01) + ln(abs(x) + 1.0) + floor(x) + tanh(x) + pow(abs(x), 0.5) + x % 0.7;
        if a[i] < 0.0 { neg += 1; }
    }
    return neg + (n / (n - 5));
}

/// inline exp/sin/cos (T2), four lanes at a time (T3), with out-of-range lanes
fn trig_map(x: &[f32], y: &mut [f32], n: i32) {
    for i in 0..n {
        let v = x[i];
        y[i] = sin(v) * cos(v * 0.5) + exp(-v) - cos(v) * exp(v * 0.25);
    }
}

/// softmax's middle loop: a sum that must stay in order, vectorized around it
fn exp_sum(x: &mut [f32], n: i32, m: f32) -> f32 {
    let s: f32 = 0.0;
    for i in 0..n {
        let e = exp(x[i] - m);
        x[i] = e;
        s += e;
    }
    return s;
}

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}
fn swish(v: f32, beta: f32) -> f32 {
    return v * sigmoid(beta * v);
}
/// calls to expression functions, inlined lane-wise in the vector loop
fn act(x: &mut [f32], g: &[f32], n: i32, beta: f32) {
    for i in 0..n {
        x[i] = swish(x[i], beta) * g[i] + sin(g[i]);
    }
}

/// pow with literal bases (T2/T3 fold log2 of the base and inline the rest) and not
fn powers(x: &[f32], y: &mut [f32], n: i32) {
    for i in 0..n {
        y[i] = pow(10000.0, x[i]) - pow(0.5, x[i] * 3.0) + pow(abs(x[i]), 0.5) + pow(1.0, x[i]);
    }
}

/// pow with a loop-invariant base parameter: hoisted log2, inline exp2 in the fast loop
/// when the base is positive, finite and not 1 (else the checked loop with calls)
fn pow_param(x: &[f32], y: &mut [f32], n: i32, base: f32) {
    for i in 0..n {
        y[i] = pow(base, x[i]) + pow(base, x[i] * 0.5);
    }
}

fn forever(v: f32) -> f32 {
    return forever(v) + 1.0;
}
/// an expression function that recurses without end: every tier traps (call depth)
fn act_forever(x: &mut [f32], n: i32) {
    for i in 0..n {
        x[i] = forever(x[i]);
    }
}
"#;

/// Mostly small values, sometimes large ones, infinities, NaN and signed zeros.
fn vf32_wild(r: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match r.int(0, 15) {
            0 => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0][r.int(0, 4) as usize],
            1 => r.f32() * 1.0e5,
            2 => r.f32() * 60.0,
            _ => r.f32() * 4.0,
        })
        .collect()
}

/// Owned argument values, so each tier gets a fresh copy.
#[derive(Clone, Debug)]
enum A {
    I32(i32),
    I64(i64),
    F32(f32),
    F32s(Vec<f32>),
    F32m(Vec<f32>),
    F64s(Vec<f64>),
    F64m(Vec<f64>),
    I32s(Vec<i32>),
    I32m(Vec<i32>),
    I64s(Vec<i64>),
    U8s(Vec<u8>),
    U8m(Vec<u8>),
}

fn run(e: &Engine, f: jit::FuncId, t: Tier, args: &[A]) -> (Result<Value, Trap>, Vec<A>) {
    let mut owned: Vec<A> = args.to_vec();
    let r = {
        let mut xs: Vec<Arg> = owned
            .iter_mut()
            .map(|a| match a {
                A::I32(v) => Arg::I32(*v),
                A::I64(v) => Arg::I64(*v),
                A::F32(v) => Arg::F32(*v),
                A::F32s(v) => Arg::F32s(v),
                A::F32m(v) => Arg::F32sMut(v),
                A::F64s(v) => Arg::F64s(v),
                A::F64m(v) => Arg::F64sMut(v),
                A::I32s(v) => Arg::I32s(v),
                A::I32m(v) => Arg::I32sMut(v),
                A::I64s(v) => Arg::I64s(v),
                A::U8s(v) => Arg::U8s(v),
                A::U8m(v) => Arg::U8sMut(v),
            })
            .collect();
        e.call_at(f, t, &mut xs)
    };
    (r, owned)
}

fn close(a: f32, b: f32, scale: f32) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-4 * scale.max(1.0)
}

/// Compares a tier's outcome with T0's: bit-exact, or within the reassociation tolerance.
fn same(
    name: &str,
    reassoc: bool,
    t0: &(Result<Value, Trap>, Vec<A>),
    tn: &(Result<Value, Trap>, Vec<A>),
) -> Result<(), String> {
    match (&t0.0, &tn.0) {
        (Ok(a), Ok(b)) => {
            let ok = a.bits_eq(b)
                || (reassoc
                    && matches!((a, b), (Value::F32(x), Value::F32(y)) if close(*x, *y, x.abs())))
                || (reassoc
                    && matches!((a, b), (Value::F64(x), Value::F64(y)) if (x - y).abs() <= 1e-12 * x.abs().max(1.0)));
            if !ok {
                return Err(format!("{name}: result {a:?} vs {b:?}"));
            }
        }
        (Err(a), Err(b)) if a.kind == b.kind => {}
        (a, b) => return Err(format!("{name}: {a:?} vs {b:?}")),
    }
    for (x, y) in t0.1.iter().zip(&tn.1) {
        let ok = match (x, y) {
            (A::F32m(p), A::F32m(q)) => {
                let scale = p.iter().fold(0f32, |m, v| m.max(v.abs()));
                p.iter().zip(q).all(|(u, v)| {
                    u.to_bits() == v.to_bits()
                        || (u.is_nan() && v.is_nan())
                        || (reassoc && close(*u, *v, scale))
                })
            }
            (A::F64m(p), A::F64m(q)) => p
                .iter()
                .zip(q)
                .all(|(u, v)| u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan())),
            (A::I32m(p), A::I32m(q)) => p == q,
            (A::U8m(p), A::U8m(q)) => p == q,
            _ => true,
        };
        if !ok {
            return Err(format!("{name}: buffer differs: {x:?} vs {y:?}"));
        }
    }
    Ok(())
}

fn make_args(name: &str, r: &mut Rng) -> Vec<A> {
    let n = r.int(0, 40);
    // sometimes ask for more elements than the buffers hold: the kernel traps part-way
    let over = if r.int(0, 4) == 0 { r.int(1, 5) } else { 0 };
    let k = n + over;
    match name {
        "dot_r" | "dot" => {
            let extra = r.int(0, 3) as usize;
            vec![
                A::F32s(r.vf32(n)),
                A::F32s(r.vf32(n + extra as i32)),
                A::I32(k),
            ]
        }
        "saxpy" => vec![
            A::F32(r.f32()),
            A::F32s(r.vf32(n)),
            A::F32m(r.vf32(n)),
            A::I32(k),
        ],
        "scale_off" => {
            let lo = r.int(-2, 5);
            vec![
                A::F32s(r.vf32(n + 3)),
                A::F32m(r.vf32(n)),
                A::I32(lo),
                A::I32(k),
                A::I32(r.int(-1, 3)),
            ]
        }
        "sumsq64" => vec![
            A::F64s((0..n).map(|i| (i as f64).sin()).collect()),
            A::I32(k),
        ],
        "matmul" | "matmul_ipj" | "matmul_r" => {
            let (m, nn, kk) = (r.int(0, 9), r.int(0, 19), r.int(0, 11));
            let extra = if over > 0 { 1 } else { 0 };
            vec![
                A::F32s(r.vf32(m * kk)),
                A::F32s(r.vf32(kk * nn)),
                A::F32m(vec![0.0; (m * nn) as usize]),
                A::I32(m),
                A::I32(nn),
                A::I32(kk + extra),
            ]
        }
        "matvec" => {
            let (rows, cols) = (r.int(0, 7), r.int(0, 37));
            vec![
                A::F32s(r.vf32(rows * cols)),
                A::F32s(r.vf32(cols)),
                A::F32m(vec![0.0; rows as usize]),
                A::I32(rows),
                A::I32(cols + over),
            ]
        }
        "maxred" | "minred" => {
            let mut v = r.vf32(n);
            for x in v.iter_mut() {
                match r.int(0, 30) {
                    0 => *x = f32::NAN,
                    1 => *x = -0.0,
                    2 => *x = 0.0,
                    _ => {}
                }
            }
            vec![A::F32s(v), A::I32(k)]
        }
        "butterfly" => {
            let half = r.int(1, 6);
            let k = r.int(-1, half);
            let extra = r.int(0, 2) as usize;
            vec![
                A::F32m(r.vf32(n)),
                A::F32m(r.vf32(n + extra as i32)),
                A::I32(n + over),
                A::I32(half),
                A::I32(k),
            ]
        }
        "pack" => {
            let off = r.int(-1, 5);
            let count = r.int(0, 12);
            let wl = r.int(8, 12) as usize;
            let data = (0..n + 8).map(|_| r.int(0, 255) as u8).collect();
            vec![
                A::I32m(vec![0; wl]),
                A::U8s(data),
                A::I32(off),
                A::I32(count),
            ]
        }
        "shifted_map" => {
            let o = r.int(-1, 3);
            vec![
                A::F32s(r.vf32(n + 2)),
                A::F32m(vec![0.0; n as usize]),
                A::I32(k),
                A::I32(o),
            ]
        }
        "stencil" => vec![
            A::F32s(r.vf32(n)),
            A::F32m(vec![0.0; n as usize]),
            A::I32(k),
        ],
        "prefix" => vec![
            A::I32m((0..n).map(|_| r.int(-100, 100)).collect()),
            A::I32(k),
        ],
        "prefix_f" => vec![A::F32m(r.vf32(n)), A::I32(k)],
        "reverse" => vec![
            A::I32s((0..n).map(|_| r.int(-1000, 1000)).collect()),
            A::I32m(vec![0; n as usize]),
            A::I32(k),
        ],
        "strided" => {
            let lo = r.int(-1, 3);
            let s = r.int(-1, 4);
            vec![
                A::F64s((0..2 * n + 2).map(|i| i as f64 * 0.5 - 3.0).collect()),
                A::I32(lo),
                A::I32(k),
                A::I32(s),
            ]
        }
        "hist" => vec![
            A::U8s((0..n).map(|_| r.int(0, 255) as u8).collect()),
            A::I32m(vec![0; r.int(8, 16) as usize]),
            A::I32(k),
        ],
        "bytes" => vec![
            A::U8s((0..n).map(|_| r.int(32, 126) as u8).collect()),
            A::U8m(vec![0; n as usize]),
            A::I32(k),
        ],
        "find" => {
            let v: Vec<i64> = (0..n).map(|_| r.int(0, 20) as i64).collect();
            let key = r.int(0, 25) as i64;
            vec![A::I64s(v), A::I64(key)]
        }
        "find_break" => vec![
            A::I32s((0..n).map(|_| r.int(0, 100)).collect()),
            A::I32(r.int(50, 101)),
        ],
        "wide_loop" => vec![
            A::I64s((0..n).map(|_| r.int(-50, 50) as i64).collect()),
            A::I64(k as i64),
        ],
        "collatz" => vec![A::I64(r.int(-2, 10000) as i64)],
        "sum_slice" => vec![A::I32s((0..n).map(|_| r.int(-1000, 1000)).collect())],
        "fill_sub" => {
            let lo = r.int(-1, n + 1);
            let hi = r.int(lo - 1, n + 1);
            vec![A::I32m(vec![0; n as usize]), A::I32(lo), A::I32(hi)]
        }
        "mixed" => vec![
            A::F32s(r.vf32(n)),
            A::F64m(vec![0.0; n as usize]),
            A::I32(k),
        ],
        "trig_map" => vec![
            A::F32s(vf32_wild(r, n as usize)),
            A::F32m(vec![0.0; n as usize]),
            A::I32(k),
        ],
        "exp_sum" => vec![
            A::F32m(vf32_wild(r, n as usize)),
            A::I32(k),
            A::F32(r.f32()),
        ],
        "act" => vec![
            A::F32m(vf32_wild(r, n as usize)),
            A::F32s(r.vf32(n)),
            A::I32(k),
            A::F32(r.f32()),
        ],
        "act_forever" => vec![A::F32m(r.vf32(n)), A::I32(k)],
        "pow_param" => vec![
            A::F32s(vf32_wild(r, n as usize)),
            A::F32m(vec![0.0; n as usize]),
            A::I32(k),
            A::F32(
                [
                    10000.0,
                    0.5,
                    1.0,
                    0.0,
                    -2.0,
                    f32::INFINITY,
                    f32::NAN,
                    3.5e-39,
                    1.0e30,
                ][r.int(0, 8) as usize],
            ),
        ],
        "powers" => vec![
            A::F32s(vf32_wild(r, n as usize)),
            A::F32m(vec![0.0; n as usize]),
            A::I32(k),
        ],
        _ => unreachable!("{name}"),
    }
}

fn differential(features: CpuFeatures, seed: u64, rounds: usize) {
    let e = engine_with(features);
    let m = load(&e, PROGRAMS);
    let mut rng = Rng(seed);
    let names = [
        ("dot_r", true),
        ("dot", false),
        ("saxpy", false),
        ("scale_off", false),
        ("matmul", false),
        ("matmul_ipj", true),
        ("matmul_r", true),
        ("sumsq64", true),
        ("matvec", true),
        ("maxred", false),
        ("minred", false),
        ("butterfly", false),
        ("pack", false),
        ("shifted_map", false),
        ("stencil", false),
        ("prefix", false),
        ("prefix_f", false),
        ("reverse", false),
        ("strided", false),
        ("hist", false),
        ("bytes", false),
        ("find", false),
        ("find_break", false),
        ("wide_loop", false),
        ("collatz", false),
        ("sum_slice", false),
        ("fill_sub", false),
        ("mixed", false),
        ("trig_map", false),
        ("exp_sum", false),
        ("act", false),
        ("act_forever", false),
        ("powers", false),
        ("pow_param", false),
    ];
    let mut traps = 0;
    for (name, reassoc) in names {
        let f = e.func(m, name).unwrap();
        for round in 0..rounds {
            let args = make_args(name, &mut rng);
            let t0 = run(&e, f, Tier::T0, &args);
            if t0.0.is_err() {
                traps += 1;
            }
            for t in [Tier::T1, Tier::T2, Tier::T3] {
                let tn = run(&e, f, t, &args);
                if let Err(msg) = same(name, reassoc, &t0, &tn) {
                    panic!("{t} round {round}: {msg}\nargs: {args:?}");
                }
            }
        }
    }
    assert!(traps > rounds / 2, "trap cases exercised: {traps}");
}

#[test]
fn tiers_match_t0_host_features() {
    differential(CpuFeatures::detect_host(), 0x9E37_79B9_7F4A_7C15, 60);
}

#[test]
fn tiers_match_t0_baseline_features() {
    differential(CpuFeatures::baseline(), 0xD1B5_4A32_D192_ED03, 30);
}
