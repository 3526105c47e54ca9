//! The narrow buffer element types (`i8` and `f16`, `u8` next to them): known answers at
//! the extremes, every f16 bit pattern through every tier (and F16C when the CPU has
//! it), and every compiled tier against T0 on random inputs, including calls that trap
//! part-way (the same trap, and the buffers written up to the same element).

mod common;
use common::*;
use jit::half::{f16_to_f32, f32_to_f16};
use jit::{Arg, CpuFeatures, Engine, Tier, Trap, Value};

const I8_PROGRAMS: &str = r#"
/// the Q8 group dot: i8 x i8 accumulated in i32
fn q8dot(w: &[i8], x: &[i8], n: i32) -> i32 {
    let acc = 0;
    for i in 0..n { acc += w[i] * x[i]; }
    return acc;
}

/// stores truncate (wrapping), loads sign-extend
fn narrow(src: &[i32], dst: &mut [i8], back: &mut [i32], n: i32) {
    for i in 0..n {
        dst[i] = src[i];
        back[i] = dst[i];
    }
}

/// matvec_q8's shape: per group an i32 dot, then scaled into an f32 sum
fn q8_rows(w: &[i8], ws: &[f32], x: &[i8], xs: &[f32], y: &mut [f32], rows: i32, cols: i32, gs: i32) {
    for r in 0..rows {
        let sum: f32 = 0.0;
        for g in 0..cols / gs {
            let dot = 0;
            for k in 0..gs {
                let c = g * gs + k;
                dot += w[r * cols + c] * x[c];
            }
            sum += dot as f32 * ws[(r * cols) / gs + g] * xs[g];
        }
        y[r] = sum;
    }
}

/// i8 and u8 views of the same bytes, and an i8 table
const SIGNS: [i8; 4] = [-128, -1, 0, 127];
fn mixed(a: &[i8], b: &mut [u8], n: i32) -> i64 {
    let s = 0i64;
    for i in 0..n {
        b[i] = a[i] + SIGNS[i & 3];
        s += (a[i] as i64) * 1000 + b[i] as i64;
    }
    return s;
}
"#;

const F16_PROGRAMS: &str = r#"
fn widen(h: &[f16], out: &mut [f32], n: i32) {
    for i in 0..n { out[i] = h[i]; }
}

fn narrow(x: &[f32], h: &mut [f16], n: i32) {
    for i in 0..n { h[i] = x[i]; }
}

/// an f32 map over f16 weights
fn map16(a: f32, h: &[f16], x: &[f32], y: &mut [f32], n: i32) {
    for i in 0..n { y[i] = a * h[i] + x[i]; }
}

/// an f32 sum over f16 weights, in order
fn dot16(h: &[f16], x: &[f32], n: i32) -> f32 {
    let acc: f32 = 0.0;
    for i in 0..n { acc += h[i] * x[i]; }
    return acc;
}

/// f16 in, f16 out, through f32 arithmetic and an f16 table
const STEPS: [f16; 4] = [0.1, -2.5, 65504.0, 1e-7];
fn update16(h: &mut [f16], g: &[f16], lr: f32, n: i32) {
    for i in 0..n { h[i] = h[i] - lr * g[i] + STEPS[i & 3]; }
}

/// matvec_f16's shape
fn matvec16(w: &[f16], x: &[f32], y: &mut [f32], rows: i32, cols: i32) {
    for r in 0..rows {
        let acc: f32 = 0.0;
        for c in 0..cols { acc += w[r * cols + c] * x[c]; }
        y[r] = acc;
    }
}
"#;

/// Owned argument values, so that each tier gets a fresh copy.
#[derive(Clone, Debug)]
enum A {
    I32(i32),
    I32s(Vec<i32>),
    I32m(Vec<i32>),
    F32s(Vec<f32>),
    F32m(Vec<f32>),
    I8s(Vec<i8>),
    I8m(Vec<i8>),
    U8m(Vec<u8>),
    F32(f32),
    F16s(Vec<u16>),
    F16m(Vec<u16>),
}

type Outcome = (Result<Value, Trap>, Vec<A>);

fn run(e: &Engine, f: jit::FuncId, t: Tier, args: &[A]) -> Outcome {
    let mut owned: Vec<A> = args.to_vec();
    let r = {
        let mut xs: Vec<Arg> = owned
            .iter_mut()
            .map(|a| match a {
                A::I32(v) => Arg::I32(*v),
                A::I32s(v) => Arg::I32s(v),
                A::I32m(v) => Arg::I32sMut(v),
                A::F32s(v) => Arg::F32s(v),
                A::F32m(v) => Arg::F32sMut(v),
                A::I8s(v) => Arg::I8s(v),
                A::I8m(v) => Arg::I8sMut(v),
                A::U8m(v) => Arg::U8sMut(v),
                A::F32(v) => Arg::F32(*v),
                A::F16s(v) => Arg::F16s(v),
                A::F16m(v) => Arg::F16sMut(v),
            })
            .collect();
        e.call_at(f, t, &mut xs)
    };
    (r, owned)
}

/// Bit-exact comparison of two outcomes (results, traps and every buffer).
fn same(name: &str, t0: &Outcome, tn: &Outcome) -> Result<(), String> {
    match (&t0.0, &tn.0) {
        (Ok(a), Ok(b)) if a.bits_eq(b) => {}
        (Err(a), Err(b)) if a.kind == b.kind => {}
        (a, b) => return Err(format!("{name}: {a:?} vs {b:?}")),
    }
    for (x, y) in t0.1.iter().zip(&tn.1) {
        let ok = match (x, y) {
            (A::I32m(p), A::I32m(q)) => p == q,
            (A::I8m(p), A::I8m(q)) => p == q,
            (A::U8m(p), A::U8m(q)) => p == q,
            (A::F16m(p), A::F16m(q)) => p == q,
            (A::F32m(p), A::F32m(q)) => p.iter().zip(q).all(|(u, v)| u.to_bits() == v.to_bits()),
            _ => true,
        };
        if !ok {
            return Err(format!("{name}: buffer differs: {x:?} vs {y:?}"));
        }
    }
    Ok(())
}

/// Random i8 values with the extremes over-represented.
fn vi8(r: &mut Rng, n: i32) -> Vec<i8> {
    (0..n.max(0))
        .map(|_| match r.int(0, 7) {
            0 => -128,
            1 => 127,
            _ => r.int(-128, 127) as i8,
        })
        .collect()
}

fn make_i8_args(name: &str, r: &mut Rng) -> Vec<A> {
    let n = r.int(0, 41);
    // sometimes ask for more elements than the buffers hold: the kernel traps part-way
    let over = if r.int(0, 4) == 0 { r.int(1, 5) } else { 0 };
    let k = n + over;
    match name {
        "q8dot" => {
            let extra = r.int(0, 3);
            vec![A::I8s(vi8(r, n)), A::I8s(vi8(r, n + extra)), A::I32(k)]
        }
        "narrow" => {
            let src = (0..n)
                .map(|_| match r.int(0, 5) {
                    0 => r.next() as i32,
                    1 => [-129, 128, 255, 256, -256, i32::MIN, i32::MAX][r.int(0, 6) as usize],
                    _ => r.int(-300, 300),
                })
                .collect();
            vec![
                A::I32s(src),
                A::I8m(vec![0; n as usize]),
                A::I32m(vec![0; n as usize]),
                A::I32(k),
            ]
        }
        "q8_rows" => {
            let gs = [1, 2, 4, 8, 16, 32, 48, 64][r.int(0, 7) as usize];
            let (rows, groups) = (r.int(0, 5), r.int(0, 4));
            let cols = gs * groups;
            vec![
                A::I8s(vi8(r, rows * cols)),
                A::F32s(r.vf32(rows * groups)),
                A::I8s(vi8(r, cols - over.min(cols))),
                A::F32s(r.vf32(groups)),
                A::F32m(vec![0.0; rows as usize]),
                A::I32(rows),
                A::I32(cols),
                A::I32(gs),
            ]
        }
        "mixed" => vec![A::I8s(vi8(r, n)), A::U8m(vec![0; n as usize]), A::I32(k)],
        _ => unreachable!("{name}"),
    }
}

/// Random f16 bit patterns: mostly moderate values, with subnormals, ±0, ±inf, NaNs
/// (quiet and signaling) and the largest finite values over-represented.
fn vf16(r: &mut Rng, n: i32) -> Vec<u16> {
    (0..n.max(0))
        .map(|_| {
            let sign = if r.int(0, 1) == 0 { 0 } else { 0x8000 };
            sign | match r.int(0, 9) {
                0 => r.int(0, 0x3ff) as u16,
                1 => [0, 0x7c00, 0x7c01, 0x7e00, 0x7fff, 0x7bff, 0x0400, 0x0001]
                    [r.int(0, 7) as usize],
                2 => r.int(0, 0x7fff) as u16,
                _ => r.int(0x3000, 0x4c00) as u16,
            }
        })
        .collect()
}

/// Random f32 values for f16 stores: in range, beyond it, tiny, ties and specials.
fn vf32_for_f16(r: &mut Rng, n: i32) -> Vec<f32> {
    (0..n.max(0))
        .map(|_| match r.int(0, 7) {
            0 => f32::from_bits(r.next() as u32),
            1 => [
                f32::NAN,
                f32::INFINITY,
                -0.0,
                65520.0,
                65519.996,
                1.0e-8,
                2.9802322e-8,
            ][r.int(0, 6) as usize],
            2 => r.f32() * 1.0e-5,
            3 => r.f32() * 70000.0,
            _ => r.f32() * 8.0,
        })
        .collect()
}

fn make_f16_args(name: &str, r: &mut Rng) -> Vec<A> {
    let n = r.int(0, 41);
    let over = if r.int(0, 4) == 0 { r.int(1, 5) } else { 0 };
    let k = n + over;
    match name {
        "widen" => vec![
            A::F16s(vf16(r, n)),
            A::F32m(vec![0.0; n as usize]),
            A::I32(k),
        ],
        "narrow" => vec![
            A::F32s(vf32_for_f16(r, n)),
            A::F16m(vec![0; n as usize]),
            A::I32(k),
        ],
        "map16" => vec![
            A::F32(r.f32()),
            A::F16s(vf16(r, n)),
            A::F32s(r.vf32(n)),
            A::F32m(vec![0.0; n as usize]),
            A::I32(k),
        ],
        "dot16" => {
            let extra = r.int(0, 3);
            vec![A::F16s(vf16(r, n)), A::F32s(r.vf32(n + extra)), A::I32(k)]
        }
        "update16" => vec![
            A::F16m(vf16(r, n)),
            A::F16s(vf16(r, n)),
            A::F32(r.f32()),
            A::I32(k),
        ],
        "matvec16" => {
            let (rows, cols) = (r.int(0, 6), r.int(0, 37));
            vec![
                A::F16s(vf16(r, rows * cols)),
                A::F32s(r.vf32(cols)),
                A::F32m(vec![0.0; rows as usize]),
                A::I32(rows),
                A::I32(cols + over),
            ]
        }
        _ => unreachable!("{name}"),
    }
}

type MakeArgs = fn(&str, &mut Rng) -> Vec<A>;

fn differential(
    src: &str,
    names: &[&str],
    make_args: MakeArgs,
    features: CpuFeatures,
    seed: u64,
    rounds: usize,
) {
    let e = engine_with(features);
    let m = load(&e, src);
    let mut rng = Rng(seed);
    let mut traps = 0;
    for &name in names {
        let f = e.func(m, name).unwrap();
        for round in 0..rounds {
            let args = make_args(name, &mut rng);
            let t0 = run(&e, f, Tier::T0, &args);
            if t0.0.is_err() {
                traps += 1;
            }
            for t in [Tier::T1, Tier::T2, Tier::T3] {
                let tn = run(&e, f, t, &args);
                if let Err(msg) = same(name, &t0, &tn) {
                    panic!("{t} round {round}: {msg}\nargs: {args:?}");
                }
            }
        }
    }
    assert!(traps > rounds / 4, "trap cases exercised: {traps}");
}

const I8_NAMES: [&str; 4] = ["q8dot", "narrow", "q8_rows", "mixed"];

#[test]
fn i8_tiers_match_t0_host_features() {
    differential(
        I8_PROGRAMS,
        &I8_NAMES,
        make_i8_args,
        CpuFeatures::detect_host(),
        0x5DEE_CE66_D1CE_4E5B,
        80,
    );
}

#[test]
fn i8_tiers_match_t0_baseline_features() {
    differential(
        I8_PROGRAMS,
        &I8_NAMES,
        make_i8_args,
        CpuFeatures::baseline(),
        0x2545_F491_4F6C_DD1D,
        40,
    );
}

#[test]
fn i8_loads_sign_extend_and_stores_wrap_at_every_tier() {
    let e = engine();
    let f = func(&e, I8_PROGRAMS, "narrow");
    let src = [-128, 127, 128, 255, -129, 0x1ff, i32::MIN, -1];
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let mut dst = [0i8; 8];
        let mut back = [0i32; 8];
        let r = e.call_at(
            f,
            t,
            &mut [
                Arg::I32s(&src),
                Arg::I8sMut(&mut dst),
                Arg::I32sMut(&mut back),
                Arg::I32(8),
            ],
        );
        assert!(r.is_ok(), "{t}: {r:?}");
        assert_eq!(dst, [-128, 127, -128, -1, 127, -1, 0, -1], "{t}");
        assert_eq!(back, [-128, 127, -128, -1, 127, -1, 0, -1], "{t}");
    }
    let dot = func(&e, I8_PROGRAMS, "q8dot");
    let w = [-128i8; 33];
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let r = e.call_at(dot, t, &mut [Arg::I8s(&w), Arg::I8s(&w), Arg::I32(33)]);
        assert_eq!(i32v(r), 33 * 16384, "{t}");
    }
    // a sum that wraps around i32 (T3 adds in a different order: still exact)
    let n = 200_003;
    let w: Vec<i8> = (0..n)
        .map(|i| if i % 7 == 3 { 127 } else { -128 })
        .collect();
    let x: Vec<i8> = (0..n)
        .map(|i| if i % 5 == 1 { 127 } else { -128 })
        .collect();
    let want = w
        .iter()
        .zip(&x)
        .fold(0i32, |s, (&a, &b)| s.wrapping_add(a as i32 * b as i32));
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let r = e.call_at(dot, t, &mut [Arg::I8s(&w), Arg::I8s(&x), Arg::I32(n)]);
        assert_eq!(i32v(r), want, "{t}");
    }
}

#[test]
fn i8_buffers_type_check() {
    let e = engine();
    let f = func(&e, I8_PROGRAMS, "q8dot");
    // an u8 buffer is not an i8 buffer
    let u = [1u8; 4];
    let i = [1i8; 4];
    let r = e.call_at(f, Tier::T0, &mut [Arg::U8s(&u), Arg::I8s(&i), Arg::I32(4)]);
    assert!(r.is_err(), "{r:?}");
    let bad = [
        ("fn f(x: i8) {}", "`i8` is only a buffer element type"),
        (
            "const T: [i8; 1] = [128];",
            "i8 element out of range -128..=127",
        ),
        (
            "fn f(b: &mut [i8]) { b[0] = 1.0; }",
            "expected i32, found float literal",
        ),
    ];
    for (src, want) in bad {
        let msg = match jit::parse_module("bad.bfir", src) {
            Ok(m) => match e.load(m) {
                Ok(_) => panic!("accepted: {src}"),
                Err(d) => d.to_string(),
            },
            Err(d) => d.to_string(),
        };
        assert!(msg.contains(want), "{src}: {msg}");
    }
}

const F16_NAMES: [&str; 6] = ["widen", "narrow", "map16", "dot16", "update16", "matvec16"];

#[test]
fn f16_tiers_match_t0_host_features() {
    differential(
        F16_PROGRAMS,
        &F16_NAMES,
        make_f16_args,
        CpuFeatures::detect_host(),
        0x9E37_79B9_7F4A_7C15,
        80,
    );
}

#[test]
fn f16_tiers_match_t0_baseline_features() {
    differential(
        F16_PROGRAMS,
        &F16_NAMES,
        make_f16_args,
        CpuFeatures::baseline(),
        0xD1B5_4A32_D192_ED03,
        40,
    );
}

/// F16C's conversions, when the CPU has them (the reference the IR's are defined by).
mod f16c {
    use std::arch::x86_64::{_mm_cvtph_ps, _mm_cvtps_ph, _mm_cvtsi128_si32, _mm_cvtss_f32};
    use std::arch::x86_64::{_mm_set1_epi16, _mm_set1_ps};

    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("f16c")
    }

    #[target_feature(enable = "f16c")]
    fn widen_f16c(h: u16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(h as i16)))
    }

    #[target_feature(enable = "f16c")]
    fn narrow_f16c(x: f32) -> u16 {
        _mm_cvtsi128_si32(_mm_cvtps_ph::<0>(_mm_set1_ps(x))) as u16
    }

    pub fn widen(h: u16) -> f32 {
        assert!(available());
        // SAFETY: the CPU has F16C (checked above).
        unsafe { widen_f16c(h) }
    }

    pub fn narrow(x: f32) -> u16 {
        assert!(available());
        // SAFETY: the CPU has F16C (checked above).
        unsafe { narrow_f16c(x) }
    }
}

/// The f32 inputs where narrowing is delicate: around every f16 value and every midpoint
/// between neighbours (±1 f32 ulp), the overflow threshold, f32 subnormals, specials, and
/// random bit patterns.
fn narrowing_inputs() -> Vec<f32> {
    let mut xs = Vec::new();
    for h in 0..0x7c00u16 {
        let v = f16_to_f32(h).to_bits();
        let next = f16_to_f32(h + 1).to_bits();
        let mid = ((f16_to_f32(h) as f64 + f16_to_f32(h + 1) as f64) / 2.0) as f32;
        let m = mid.to_bits();
        for b in [v, v.wrapping_sub(1), v + 1, m - 1, m, m + 1, next - 1] {
            xs.push(f32::from_bits(b));
            xs.push(-f32::from_bits(b));
        }
    }
    xs.extend([
        65519.996f32,
        65520.0,
        65536.0,
        f32::MAX,
        f32::INFINITY,
        f32::MIN_POSITIVE,
    ]);
    xs.extend([
        f32::from_bits(1),
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc1_2345),
    ]);
    let mut r = Rng(0xA076_1D64_78BD_642F);
    xs.extend((0..100_000).map(|_| f32::from_bits(r.next() as u32)));
    xs
}

#[test]
fn every_f16_widens_the_same_at_every_tier() {
    let e = engine();
    let f = func(&e, F16_PROGRAMS, "widen");
    let all: Vec<u16> = (0..=u16::MAX).collect();
    if f16c::available() {
        for &h in &all {
            let (ours, hw) = (f16_to_f32(h), f16c::widen(h));
            assert_eq!(ours.to_bits(), hw.to_bits(), "{h:#06x}");
        }
    }
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let mut out = vec![0f32; all.len()];
        let n = all.len() as i32;
        let r = e.call_at(
            f,
            t,
            &mut [Arg::F16s(&all), Arg::F32sMut(&mut out), Arg::I32(n)],
        );
        assert!(r.is_ok(), "{t}: {r:?}");
        for (&h, v) in all.iter().zip(&out) {
            assert_eq!(v.to_bits(), f16_to_f32(h).to_bits(), "{t}: {h:#06x}");
        }
    }
}

#[test]
fn f32_narrows_to_f16_the_same_at_every_tier() {
    let e = engine();
    let f = func(&e, F16_PROGRAMS, "narrow");
    let xs = narrowing_inputs();
    let want: Vec<u16> = xs.iter().map(|&x| f32_to_f16(x)).collect();
    if f16c::available() {
        for (&x, &w) in xs.iter().zip(&want) {
            assert_eq!(w, f16c::narrow(x), "{:#010x}", x.to_bits());
        }
    }
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let mut out = vec![0u16; xs.len()];
        let n = xs.len() as i32;
        let r = e.call_at(
            f,
            t,
            &mut [Arg::F32s(&xs), Arg::F16sMut(&mut out), Arg::I32(n)],
        );
        assert!(r.is_ok(), "{t}: {r:?}");
        for ((x, w), o) in xs.iter().zip(&want).zip(&out) {
            assert_eq!(w, o, "{t}: {:#010x}", x.to_bits());
        }
    }
}

#[test]
fn f16_tables_and_type_errors() {
    let e = engine();
    let src = "const T: [f16; 4] = [1.0, -0.0, 1e6, 0.1];\n\
               fn get(i: i32) -> f32 { return T[i]; }";
    let f = func(&e, src, "get");
    let want = [0x3c00u16, 0x8000, 0x7c00, f32_to_f16(0.1)];
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        for (i, w) in want.iter().enumerate() {
            let v = f32v(e.call_at(f, t, &mut [Arg::I32(i as i32)]));
            assert_eq!(v.to_bits(), f16_to_f32(*w).to_bits(), "{t} {i}");
        }
        let r = e.call_at(f, t, &mut [Arg::I32(4)]);
        assert!(
            matches!(
                r,
                Err(Trap {
                    kind: jit::TrapKind::OutOfBounds,
                    ..
                })
            ),
            "{r:?}"
        );
    }
    let bad = [
        ("fn f(x: f16) {}", "`f16` is only a buffer element type"),
        (
            "fn f(x: f32) -> f32 { return x as f16; }",
            "`f16` is only a buffer element type",
        ),
        (
            "fn f(x: i32) -> i32 { return x as i8; }",
            "`i8` is only a buffer element type",
        ),
        ("fn f(b: &mut [f16]) { b[0] = 1.0f64; }", "f64"),
        ("fn f(b: &[f16]) -> i32 { return b[0]; }", "f32"),
    ];
    for (src, want) in bad {
        let msg = match jit::parse_module("bad.bfir", src) {
            Ok(m) => match e.load(m) {
                Ok(_) => panic!("accepted: {src}"),
                Err(d) => d.to_string(),
            },
            Err(d) => d.to_string(),
        };
        assert!(msg.contains(want), "{src}: {msg}");
    }
    // an f32 buffer is not an f16 buffer
    let g = func(&e, F16_PROGRAMS, "dot16");
    let x = [1f32; 4];
    let r = e.call_at(
        g,
        Tier::T0,
        &mut [Arg::F32s(&x), Arg::F32s(&x), Arg::I32(4)],
    );
    assert!(r.is_err(), "{r:?}");
}
