//! T3's outer-loop vectorization (32, 16 or 4 columns of a `for j { acc; for p {..}; store }`
//! nest at once) against T0, at T1–T3, with and without FMA hardware: column counts that
//! leave every kind of remainder, empty inner loops, several accumulators, post-loop
//! statements, and buffers too short so the kernel traps part-way (same trap kind, same
//! buffer contents up to the trap). Kernels without `#[reassoc]` must be bit-identical.

mod common;
use common::*;
use jit::{CpuFeatures, Tier};

const PROGRAMS: &str = r#"
/// the catalog's matmul: contraction into fma allowed
#[reassoc]
fn mm_r(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k { acc += a[i * k + p] * b[p * n + j]; }
            c[i * n + j] = acc;
        }
    }
}

/// without #[reassoc]: separate multiply and add in each lane, bit-exact
fn mm_x(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k { acc = a[i * k + p] * b[p * n + j] + acc; }
            c[i * n + j] = acc;
        }
    }
}

/// explicit fma, bit-exact
fn mm_f(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k { acc = fma(a[i * k + p], b[p * n + j], acc); }
            c[i * n + j] = acc;
        }
    }
}

/// two accumulators, an init from a parameter, a j-contiguous load inside the inner loop
/// (no p term) and after it, a post-loop update, two stores, offsets subtracted
fn two_acc(a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32], d: &mut [f32], m: i32, n: i32, k: i32, s: f32) {
    for i in 0..m {
        for j in 1..n {
            let acc = s;
            let mx = -1000.0;
            for p in 1..k {
                acc = acc - a[i * k + p] * b[p * n + j] / 2.0;
                mx = max(mx, b[p * n + j] + bias[j - 1]);
            }
            acc = acc * s + bias[j - 1];
            c[i * n + j - 1] = acc;
            d[j - 1 + i * n] = sqrt(abs(mx)) + min(acc, -acc);
        }
    }
}

/// attention's value product: columns of v, a scale after the loop
#[reassoc]
fn att_v(sc: &[f32], v: &[f32], out: &mut [f32], seq: i32, d: i32, qi: i32, inv: f32) {
    for c in 0..d {
        let acc: f32 = 0.0;
        for j in 0..seq { acc += sc[j] * v[j * d + c]; }
        out[qi + c] = acc * inv;
    }
}

/// column range not starting at 0, inner range with a j-invariant start
fn window(a: &[f32], b: &[f32], c: &mut [f32], lo: i32, hi: i32, p0: i32, k: i32, n: i32) {
    for j in lo..hi {
        let acc: f32 = 1.0;
        for p in p0..k { acc = fma(a[p], b[n * p + j], acc); }
        c[j - lo] = acc;
    }
}
"#;

use common::F32Arg as A;

/// Same trap kind (or both fine) and the same output buffers: bit-exact, or within the
/// reassociation tolerance of the tests (`1e-4 * max(1, max|y0|)`).
fn same(what: &str, exact: bool, t0: &Outcome, tn: &Outcome) {
    match (&t0.0, &tn.0) {
        (Ok(_), Ok(_)) => {}
        (Err(a), Err(b)) if a.kind == b.kind => {}
        (a, b) => panic!("{what}: {a:?} vs {b:?}"),
    }
    for (x, y) in t0.1.iter().zip(&tn.1) {
        if let (A::Out(p), A::Out(q)) = (x, y) {
            let scale = p.iter().fold(1f32, |m, v| m.max(v.abs()));
            for (i, (u, v)) in p.iter().zip(q).enumerate() {
                let ok = u.to_bits() == v.to_bits()
                    || (u.is_nan() && v.is_nan())
                    || (!exact && (u - v).abs() <= 1e-4 * scale);
                assert!(ok, "{what}: element {i}: {u} vs {v}\n{p:?}\n{q:?}");
            }
        }
    }
}

/// Shrinks a buffer by `cut` elements (a too-short buffer makes the kernel trap).
fn short(r: &mut Rng, len: i32, cut: i32) -> Vec<f32> {
    r.vf32(len - cut)
}

/// Arguments for `name` with `n` columns; `cut` = (which buffer, by how much) to shorten.
fn args(name: &str, r: &mut Rng, n: i32, cut: (usize, i32)) -> Vec<A> {
    let c = |w: usize| if cut.0 == w { cut.1 } else { 0 };
    match name {
        "mm_r" | "mm_x" | "mm_f" => {
            let (m, k) = (r.int(1, 3), r.int(0, 13));
            vec![
                A::In(short(r, m * k, c(1))),
                A::In(short(r, k * n, c(2))),
                A::Out(vec![0.0; (m * n - c(3)).max(0) as usize]),
                A::I32(m),
                A::I32(n),
                A::I32(k),
            ]
        }
        "two_acc" => {
            let (m, k) = (r.int(1, 3), r.int(0, 9));
            vec![
                A::In(short(r, m * k, c(1))),
                A::In(short(r, k * n, c(2))),
                A::In(short(r, n, c(3))),
                A::Out(vec![0.0; (m * n - c(4)).max(0) as usize]),
                A::Out(vec![0.0; (m * n - c(5)).max(0) as usize]),
                A::I32(m),
                A::I32(n),
                A::I32(k),
                A::F32(r.f32()),
            ]
        }
        "att_v" => {
            let seq = r.int(0, 11);
            let qi = r.int(0, 2) * n;
            vec![
                A::In(short(r, seq, c(1))),
                A::In(short(r, seq * n, c(2))),
                A::Out(vec![0.0; (3 * n - c(3)).max(0) as usize]),
                A::I32(seq),
                A::I32(n),
                A::I32(qi),
                A::F32(r.f32()),
            ]
        }
        "window" => {
            let lo = r.int(0, 3);
            let k = r.int(0, 9);
            let p0 = r.int(0, 2);
            let width = lo + n;
            vec![
                A::In(short(r, k, c(1))),
                A::In(short(r, k * width, c(2))),
                A::Out(vec![0.0; (n - c(3)).max(0) as usize]),
                A::I32(lo),
                A::I32(lo + n),
                A::I32(p0),
                A::I32(k),
                A::I32(width),
            ]
        }
        _ => unreachable!("{name}"),
    }
}

const KERNELS: [(&str, bool, usize); 6] = [
    // (name, bit-exact, buffers)
    ("mm_r", false, 3),
    ("mm_x", true, 3),
    ("mm_f", true, 3),
    ("two_acc", true, 5),
    ("att_v", false, 3),
    ("window", true, 3),
];

const COLUMNS: [i32; 19] = [
    0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 20, 31, 32, 33, 47, 52, 70,
];

fn check(features: CpuFeatures, seed: u64) -> usize {
    let e = engine_with(features);
    let m = load(&e, PROGRAMS);
    let mut r = Rng(seed);
    let mut traps = 0;
    for (name, exact, bufs) in KERNELS {
        let f = e.func(m, name).expect("function");
        for n in COLUMNS {
            for round in 0..4 {
                // round 0: all buffers large enough; else one buffer 1..3 elements short
                let cut = if round == 0 {
                    (0, 0)
                } else {
                    (r.int(1, bufs as i32) as usize, r.int(1, 3))
                };
                let a = args(name, &mut r, n, cut);
                let t0 = run_owned(&e, f, Tier::T0, &a);
                if t0.0.is_err() {
                    traps += 1;
                }
                for t in [Tier::T1, Tier::T2, Tier::T3] {
                    let tn = run_owned(&e, f, t, &a);
                    same(&format!("{name} n={n} cut={cut:?} {t:?}"), exact, &t0, &tn);
                }
            }
        }
    }
    traps
}

#[test]
fn outer_vectorized_nests_match_t0_on_host_features() {
    let traps = check(CpuFeatures::detect_host(), 0x5eed_0001);
    // the short buffers do make kernels trap part-way (the test exercises traps)
    assert!(traps > 20, "{traps}");
}

#[test]
fn outer_vectorized_nests_match_t0_without_fma_hardware() {
    check(CpuFeatures::baseline(), 0x5eed_0002);
}

#[test]
fn out_of_bounds_column_traps_like_t0_with_partial_writes() {
    // c is one element short: the last column of the last row is out of bounds. With
    // n = 16 the vector range of the last row fails its entry test and the checked loop
    // runs; with n = 17 the bad column is the scalar remainder.
    let e = engine();
    let m = load(&e, PROGRAMS);
    for name in ["mm_x", "mm_r"] {
        let f = e.func(m, name).expect("function");
        for n in [16, 17, 32, 35] {
            let (rows, k) = (3, 5);
            let mut r = Rng(n as u64);
            let a = vec![
                A::In(r.vf32(rows * k)),
                A::In(r.vf32(k * n)),
                A::Out(vec![f32::NAN; (rows * n - 1) as usize]),
                A::I32(rows),
                A::I32(n),
                A::I32(k),
            ];
            let t0 = run_owned(&e, f, Tier::T0, &a);
            let t3 = run_owned(&e, f, Tier::T3, &a);
            assert!(
                matches!(&t0.0, Err(t) if t.kind == jit::TrapKind::OutOfBounds),
                "{:?}",
                t0.0
            );
            same(&format!("{name} n={n}"), name == "mm_x", &t0, &t3);
            // everything before the bad element was written
            let A::Out(c) = &t3.1[2] else { unreachable!() };
            assert!(c.iter().all(|x| !x.is_nan()), "{c:?}");
        }
    }
}

#[test]
fn every_test_kernel_takes_the_vector_path_at_t3() {
    // otherwise the comparisons above would only test the scalar lowering
    let e = engine_with(CpuFeatures::all());
    let m = load(&e, PROGRAMS);
    for (name, _, _) in KERNELS {
        let f = e.func(m, name).expect("function");
        let unit = e.cranelift_ir(f, Tier::T3).expect("cranelift_ir");
        let text: String = unit
            .functions
            .iter()
            .map(|cf| format!("{}", cf.func.display()))
            .collect();
        assert!(text.contains("load.f32x4 notrap"), "{name}: {text}");
        let t2 = e.cranelift_ir(f, Tier::T2).expect("cranelift_ir");
        assert!(
            t2.functions
                .iter()
                .all(|cf| !format!("{}", cf.func.display()).contains("f32x4")),
            "{name}"
        );
    }
}
