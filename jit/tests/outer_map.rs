//! T3's outer-loop vectorization of map nests (four `k` of a `for k { temps; for s step st
//! { stores } }` nest at once, like fft's butterflies) against T0, at T1–T3: odd sizes,
//! every `half` from 1 up, steps that make the lanes or the `s` iterations overlap (the
//! entry test must send those to the checked loop), bad steps, and buffers too short so
//! the kernel traps part-way (same trap kind, bit-identical buffers). No kernel here has
//! `#[reassoc]`: every tier must agree to the bit.

mod common;
use common::*;
use jit::{CpuFeatures, Engine, Tier};

const FFT: &str = include_str!("../../ir-modules/fft.bfir");

const PROGRAMS: &str = r#"
/// one butterfly stage with free parameters: `span` need not be 2*half, n need not be a
/// multiple of span, the angle may be far beyond the polynomial range of sin/cos
fn bfly(re: &mut [f32], im: &mut [f32], n: i32, half: i32, span: i32, ang: f32) {
    for k in 0..half {
        let angle = ang * (k as f32);
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

/// lanes `d` apart read and write each other's elements (d = 2: must not run 4 lanes at once)
fn overlap(x: &mut [f32], lo: i32, hi: i32, n: i32, st: i32, d: i32) {
    for k in lo..hi {
        let w = (k as f32) * 0.25 + 1.0;
        for s in 0..n step st {
            x[s + k + d] = x[s + k] * w + 1.0;
        }
    }
}

/// k range not from 0, a scaled s term, a per-lane recurrence carried across s, a broadcast
/// load of a read-only buffer, exp/sqrt/abs/max/fma, an index with a subtracted offset
fn misc(x: &mut [f32], y: &[f32], t: &[f32], lo: i32, hi: i32, n: i32, st: i32, c: i32, g: f32) {
    for k in lo..hi {
        let w = exp(g * (k as f32)) - 1.0;
        let acc = sqrt(abs(w));
        for s in 0..n step st {
            let a = s * c + k;
            acc = fma(acc, 0.5, y[a] * t[s]);
            x[a - lo] = max(acc, w) + x[a - lo];
        }
    }
}

/// two stored buffers written at negative offsets, a step-1 inner loop
fn neg_off(p: &mut [f32], q: &mut [f32], m: i32, n: i32, h: i32) {
    for k in 0..m {
        let w = cos((k as f32) / 3.0);
        for s in 0..n {
            let a = s * m + k + h;
            let b = a - h;
            p[b] = p[a] * w - q[b];
            q[a] = q[b] / (w + 3.0) + p[b];
        }
    }
}
"#;

use common::F32Arg as A;

/// Same result or trap kind, and bit-identical output buffers (NaN payloads aside).
fn same(what: &str, t0: &Outcome, tn: &Outcome) {
    match (&t0.0, &tn.0) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}"),
        (Err(a), Err(b)) if a.kind == b.kind => {}
        (a, b) => panic!("{what}: {a:?} vs {b:?}"),
    }
    for (x, y) in t0.1.iter().zip(&tn.1) {
        if let (A::Out(p), A::Out(q)) = (x, y) {
            assert_eq!(p.len(), q.len());
            for (i, (u, v)) in p.iter().zip(q).enumerate() {
                let ok = u.to_bits() == v.to_bits() || (u.is_nan() && v.is_nan());
                assert!(ok, "{what}: element {i}: {u} vs {v}\n{p:?}\n{q:?}");
            }
        }
    }
}

/// Runs `a` at T0 and at T1-T3 and compares; returns whether T0 trapped.
fn compare(e: &Engine, f: jit::FuncId, what: &str, a: &[A]) -> bool {
    let t0 = run_owned(e, f, Tier::T0, a);
    for t in [Tier::T1, Tier::T2, Tier::T3] {
        let tn = run_owned(e, f, t, a);
        same(&format!("{what} {t:?}"), &t0, &tn);
    }
    t0.0.is_err()
}

/// A random buffer of length `need`, or 1..=3 elements short when `cut`.
fn buf(r: &mut Rng, need: i32, cut: bool) -> Vec<f32> {
    let len = if cut { need - r.int(1, 3) } else { need };
    r.vf32(len)
}

const HALVES: [i32; 14] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 32];

fn check_bfly(features: CpuFeatures, seed: u64) -> usize {
    let e = engine_with(features);
    let f = func(&e, PROGRAMS, "bfly");
    let mut r = Rng(seed);
    let mut traps = 0;
    for half in HALVES {
        // fft's span, overlapping s iterations, odd and bad steps
        for span in [2 * half, 2 * half + 1, half, 1, 3, 4 * half, 0, -2] {
            for round in 0..4 {
                let n = match round {
                    0 => 4 * half.max(1),
                    _ => r.int(0, 6 * half + 9),
                };
                // the largest index is b = last s + (half - 1) + half
                let need = if span > 0 && n > 0 {
                    (n - 1) / span * span + 2 * half
                } else {
                    n + half
                };
                let cut = (round == 3, r.int(0, 1) == 0);
                let a = vec![
                    A::Out(buf(&mut r, need, cut.0 && cut.1)),
                    A::Out(buf(&mut r, need, cut.0 && !cut.1)),
                    A::I32(n),
                    A::I32(half),
                    A::I32(span),
                    A::F32(r.f32() * 6.0),
                ];
                let what = format!("bfly half={half} span={span} n={n} cut={cut:?}");
                traps += compare(&e, f, &what, &a) as usize;
            }
        }
    }
    traps
}

#[test]
fn butterfly_nests_match_t0_on_host_features() {
    let traps = check_bfly(CpuFeatures::detect_host(), 0x0f7_0001);
    // the short buffers and bad steps do make kernels trap (the test exercises traps)
    assert!(traps > 40, "{traps}");
}

#[test]
fn butterfly_nests_match_t0_without_fma_or_sse41() {
    check_bfly(CpuFeatures::baseline(), 0x0f7_0002);
}

#[test]
fn catalog_fft_matches_t0_at_every_size() {
    let e = engine();
    let f = func(&e, FFT, "fft");
    let mut r = Rng(0x0f7_0003);
    let mut traps = 0;
    for n in [1, 2, 4, 8, 16, 32, 64, 128, 256, 6, 12, 0, -4] {
        for round in 0..3 {
            let need = n.max(0);
            let cut = (round == 2, r.int(0, 1) == 0);
            let a = vec![
                A::Out(buf(&mut r, need, cut.0 && cut.1)),
                A::Out(buf(&mut r, need, cut.0 && !cut.1)),
                A::I32(n),
            ];
            traps += compare(&e, f, &format!("fft n={n} cut={cut:?}"), &a) as usize;
        }
    }
    assert!(traps >= 5, "{traps}");
}

#[test]
fn overlapping_lanes_match_t0() {
    let e = engine();
    let f = func(&e, PROGRAMS, "overlap");
    let mut r = Rng(0x0f7_0004);
    for d in [0, 1, 2, 3, 4, 5, -1, -2, -4, 8] {
        for st in [1, 2, 3, 4, 5, 8, 9] {
            for round in 0..6 {
                let lo = r.int(0, 5);
                let hi = lo + r.int(0, 13);
                let n = r.int(0, 20);
                let need = n + hi + d.max(0);
                let a = vec![
                    A::Out(buf(&mut r, need, round == 5)),
                    A::I32(lo),
                    A::I32(hi),
                    A::I32(n),
                    A::I32(st),
                    A::I32(d),
                ];
                compare(
                    &e,
                    f,
                    &format!("overlap d={d} st={st} lo={lo} hi={hi} n={n}"),
                    &a,
                );
            }
        }
    }
}

#[test]
fn misc_and_negative_offset_nests_match_t0() {
    let e = engine();
    let misc = func(&e, PROGRAMS, "misc");
    let neg = func(&e, PROGRAMS, "neg_off");
    let mut r = Rng(0x0f7_0005);
    let mut traps = 0;
    for round in 0..300 {
        let cut = round % 4 == 3;
        let (lo, hi) = {
            let lo = r.int(0, 6);
            (lo, lo + r.int(0, 14))
        };
        let (n, st, c) = (r.int(0, 9), r.int(-1, 5), r.int(-1, 6));
        // largest index of y: (n-1)*c + hi - 1 (c >= 0)
        let span = (n - 1).max(0) * c.max(0) + hi;
        let a = vec![
            A::Out(buf(&mut r, span - lo, cut && round % 3 == 0)),
            A::In(buf(&mut r, span, cut && round % 3 == 1)),
            A::In(buf(&mut r, n, cut && round % 3 == 2)),
            A::I32(lo),
            A::I32(hi),
            A::I32(n),
            A::I32(st),
            A::I32(c),
            A::F32(r.f32()),
        ];
        let what = format!("misc lo={lo} hi={hi} n={n} st={st} c={c}");
        traps += compare(&e, misc, &what, &a) as usize;

        let (m, n2, h) = (r.int(0, 13), r.int(0, 6), r.int(0, 9));
        let need = n2 * m + h;
        let a = vec![
            A::Out(buf(&mut r, need, cut && round % 2 == 0)),
            A::Out(buf(&mut r, need, cut && round % 2 == 1)),
            A::I32(m),
            A::I32(n2),
            A::I32(h),
        ];
        let what = format!("neg_off m={m} n={n2} h={h}");
        traps += compare(&e, neg, &what, &a) as usize;
    }
    assert!(traps > 40, "{traps}");
}

#[test]
fn every_test_kernel_takes_the_map_path_at_t3() {
    // otherwise the comparisons above would only test the scalar lowering
    let e = engine_with(CpuFeatures::all());
    let m = load(&e, PROGRAMS);
    let fft = load(&e, FFT);
    let mut fs: Vec<_> = ["bfly", "overlap", "misc", "neg_off"]
        .iter()
        .map(|n| (*n, e.func(m, n).expect("function")))
        .collect();
    fs.push(("fft", e.func(fft, "fft").expect("fft")));
    for (name, f) in fs {
        let unit = e.cranelift_ir(f, Tier::T3).expect("cranelift_ir");
        let text: String = unit
            .functions
            .iter()
            .map(|cf| format!("{}", cf.func.display()))
            .collect();
        assert!(text.contains("fcvt_from_sint.f32x4"), "{name}: {text}");
        assert!(text.contains("load.f32x4 notrap"), "{name}: {text}");
    }
}
