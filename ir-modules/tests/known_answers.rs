//! Known-answer tests, at every tier and for the AOT baseline: NIST SHA-256 vectors,
//! FFT of known signals, matmul against a plain reference, quicksort, the prime count
//! to 2^20, fib(25), regex_dfa on crafted lines, and the byte-string functions.
//!
//! Each test runs twice: `reference::*` checks T0 and the AOT baseline, `compiled::*`
//! checks T1, T2 and T3 (and fails if a tier does not compile).

mod common;

use common::Set;
use jit::{Arg, Value};
use modules::dfa::{Dfa, catalog_pattern};
use modules::inputs::{regex_dfa_of, sha256_of};
use modules::{Data, Param, Workload, kernel};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest_of(o: &modules::Outputs) -> String {
    match o.buffer(2) {
        Some(Data::U8(d)) => hex(d),
        other => panic!("no digest buffer: {other:?}"),
    }
}

const NIST: [(&str, &str); 3] = [
    (
        "abc",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        "",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
];

fn sha256_nist_vectors_at_every_tier(set: Set) {
    let k = kernel("sha256").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    for (msg, want) in NIST {
        let mut w = Workload::from_params(k, msg.len(), 0, sha256_of(msg.as_bytes().to_vec()));
        for (label, o) in common::runs(set, &engine, f, &mut w) {
            assert_eq!(digest_of(&o), want, "sha256({msg:?}) at {label}");
        }
    }
}

const MILLION_A: &str = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

fn sha256_one_million_a_one_shot(set: Set) {
    let k = kernel("sha256").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    let mut w = Workload::from_params(k, 1_000_000, 0, sha256_of(vec![b'a'; 1_000_000]));
    for (label, o) in common::runs(set, &engine, f, &mut w) {
        assert_eq!(digest_of(&o), MILLION_A, "at {label}");
    }
}

/// Streams one million 'a' through sha256_init / sha256_blocks / sha256_finish in
/// uneven pieces, at every tier.
fn sha256_one_million_a_streamed(set: Set) {
    let engine = common::engine();
    let cat = common::load(&engine);
    let init = common::func(&engine, &cat, "sha256.bfir", "sha256_init");
    let blocks = common::func(&engine, &cat, "sha256.bfir", "sha256_blocks");
    let finish = common::func(&engine, &cat, "sha256.bfir", "sha256_finish");
    let data = vec![b'a'; 1_000_000];
    for f in [init, blocks, finish] {
        set.prepare(&engine, f);
    }
    for &tier in set.tiers() {
        let mut state = [0i32; 8];
        let mut w = [0i32; 64];
        let mut digest = [0u8; 32];
        engine
            .call_at(init, tier, &mut [Arg::I32sMut(&mut state)])
            .unwrap();
        let mut off = 0usize;
        let mut piece = 1usize;
        while data.len() - off >= 64 {
            let nblocks = piece.min((data.len() - off) / 64);
            let mut args = [
                Arg::I32sMut(&mut state),
                Arg::I32sMut(&mut w),
                Arg::U8s(&data),
                Arg::I32(off as i32),
                Arg::I32(nblocks as i32),
            ];
            engine.call_at(blocks, tier, &mut args).unwrap();
            off += nblocks * 64;
            piece = piece * 3 % 1000 + 1;
        }
        let tail = &data[off..];
        let mut args = [
            Arg::I32sMut(&mut state),
            Arg::I32sMut(&mut w),
            Arg::U8s(tail),
            Arg::I32(tail.len() as i32),
            Arg::I64(data.len() as i64),
            Arg::U8sMut(&mut digest),
        ];
        engine.call_at(finish, tier, &mut args).unwrap();
        assert_eq!(hex(&digest), MILLION_A, "streamed at {tier}");
    }
}

fn fft_run(
    set: Set,
    n: usize,
    re: Vec<f32>,
    im: Vec<f32>,
) -> Vec<(String, Vec<f32>, Vec<f32>, Value)> {
    let k = kernel("fft").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    let params = vec![
        Param::Out(Data::F32(re)),
        Param::Out(Data::F32(im)),
        Param::I32(n as i32),
    ];
    let mut w = Workload::from_params(k, n, 0, params);
    common::runs(set, &engine, f, &mut w)
        .into_iter()
        .map(|(label, o)| match (o.buffer(0), o.buffer(1)) {
            (Some(Data::F32(r)), Some(Data::F32(i))) => (label, r.clone(), i.clone(), o.ret),
            _ => panic!("fft outputs"),
        })
        .collect()
}

fn assert_spectrum(
    label: &str,
    re: &[f32],
    im: &[f32],
    want: impl Fn(usize) -> (f64, f64),
    tol: f64,
) {
    for f in 0..re.len() {
        let (wr, wi) = want(f);
        assert!(
            (f64::from(re[f]) - wr).abs() <= tol && (f64::from(im[f]) - wi).abs() <= tol,
            "{label}: bin {f} is ({}, {}), expected ({wr}, {wi})",
            re[f],
            im[f]
        );
    }
}

fn fft_of_known_signals(set: Set) {
    for n in [1usize, 2, 8, 64, 256] {
        let mut impulse = vec![0.0f32; n];
        impulse[0] = 1.0;
        for (label, re, im, ret) in fft_run(set, n, impulse, vec![0.0; n]) {
            assert!(matches!(ret, Value::I32(0)), "{label}");
            assert_spectrum(
                &format!("impulse n={n} {label}"),
                &re,
                &im,
                |_| (1.0, 0.0),
                1e-5,
            );
        }
        for (label, re, im, _) in fft_run(set, n, vec![0.5; n], vec![0.0; n]) {
            assert_spectrum(
                &format!("constant n={n} {label}"),
                &re,
                &im,
                |f| {
                    if f == 0 {
                        (0.5 * n as f64, 0.0)
                    } else {
                        (0.0, 0.0)
                    }
                },
                1e-4 * n as f64,
            );
        }
    }
    let n = 128usize;
    let bin = 5usize;
    let cosine: Vec<f32> = (0..n)
        .map(|t| (2.0 * std::f64::consts::PI * (bin * t) as f64 / n as f64).cos() as f32)
        .collect();
    for (label, re, im, _) in fft_run(set, n, cosine, vec![0.0; n]) {
        let want = |f: usize| {
            if f == bin || f == n - bin {
                (n as f64 / 2.0, 0.0)
            } else {
                (0.0, 0.0)
            }
        };
        assert_spectrum(
            &format!("cosine at bin {bin} {label}"),
            &re,
            &im,
            want,
            2e-3,
        );
    }
}

fn fft_matches_a_naive_dft_and_rejects_non_powers_of_two(set: Set) {
    let n = 64usize;
    let mut rng = modules::rng::Rng::new(3);
    let re = rng.vec_f32(n, -1.0, 1.0);
    let im = rng.vec_f32(n, -1.0, 1.0);
    for (label, fr, fi, _) in fft_run(set, n, re.clone(), im.clone()) {
        for f in 0..n {
            let (mut sr, mut si) = (0.0f64, 0.0f64);
            for t in 0..n {
                let a = -2.0 * std::f64::consts::PI * (f * t % n) as f64 / n as f64;
                sr += f64::from(re[t]) * a.cos() - f64::from(im[t]) * a.sin();
                si += f64::from(re[t]) * a.sin() + f64::from(im[t]) * a.cos();
            }
            assert!(
                (f64::from(fr[f]) - sr).abs() < 1e-3 && (f64::from(fi[f]) - si).abs() < 1e-3,
                "{label} bin {f}"
            );
        }
    }
    for n in [0usize, 3, 12] {
        let re = vec![1.0f32; n];
        for (label, out, _, ret) in fft_run(set, n, re.clone(), vec![0.0; n]) {
            assert!(matches!(ret, Value::I32(-1)), "n={n} {label}: {ret:?}");
            assert_eq!(out, re, "n={n} {label}: buffers touched");
        }
    }
}

fn matmul_and_gemm_tile_against_a_plain_reference(set: Set) {
    let engine = common::engine();
    let cat = common::load(&engine);
    let (m, n, k) = (5usize, 7usize, 3usize);
    let mut rng = modules::rng::Rng::new(11);
    let a = rng.vec_f32(m * k, -1.0, 1.0);
    let b = rng.vec_f32(k * n, -1.0, 1.0);
    let mut want = vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k)
                .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                .sum();
        }
    }
    let dims = [
        Param::I32(m as i32),
        Param::I32(n as i32),
        Param::I32(k as i32),
    ];
    let base = [
        Param::In(Data::F32(a)),
        Param::In(Data::F32(b)),
        Param::Out(Data::F32(vec![f32::NAN; m * n])),
    ];
    let mut results = Vec::new();
    for (name, extra) in [
        ("matmul", None),
        ("gemm_tile", Some(2)),
        ("gemm_tile", Some(16)),
    ] {
        let kern = kernel(name).unwrap();
        let mut params: Vec<Param> = base.iter().cloned().chain(dims.iter().cloned()).collect();
        if let Some(t) = extra {
            params.push(Param::I32(t));
        }
        let f = common::entry(&cat, kern);
        let mut w = Workload::from_params(kern, m, 0, params);
        for (label, o) in common::runs(set, &engine, f, &mut w) {
            let Some(Data::F32(c)) = o.buffer(2) else {
                panic!()
            };
            for (x, y) in c.iter().zip(&want) {
                assert!(
                    (f64::from(*x) - y).abs() < 1e-5,
                    "{name} {extra:?} {label}: {x} vs {y}"
                );
            }
            if label == "T0" {
                results.push(c.clone());
            }
        }
    }
    // Same operation order: tiled and untiled products are bit-identical at T0.
    assert!(results.windows(2).all(|p| {
        p[0].iter()
            .zip(&p[1])
            .all(|(x, y)| x.to_bits() == y.to_bits())
    }));
}

fn quicksort_sorts_and_permutes(set: Set) {
    let k = kernel("quicksort").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    for (size, seed) in [(0, 0), (1, 1), (2, 2), (33, 3), (1000, 4), (4096, 5)] {
        let mut w = Workload::new(k, size, seed);
        let Param::Out(Data::I32(input)) = w.params[0].clone() else {
            panic!()
        };
        let mut want = input.clone();
        want.sort_unstable();
        for (label, o) in common::runs(set, &engine, f, &mut w) {
            let Some(Data::I32(out)) = o.buffer(0) else {
                panic!()
            };
            assert_eq!(out, &want, "size {size} at {label}");
        }
    }
    // Duplicates and negative numbers.
    let data = vec![3, -1, 3, 0, i32::MIN, 3, i32::MAX, -1, 0, 0];
    let mut want = data.clone();
    want.sort_unstable();
    let mut w = Workload::from_params(
        k,
        data.len(),
        0,
        vec![
            Param::Out(Data::I32(data.clone())),
            Param::I32(data.len() as i32),
        ],
    );
    for (label, o) in common::runs(set, &engine, f, &mut w) {
        assert_eq!(o.buffer(0), Some(&Data::I32(want.clone())), "{label}");
    }
}

fn primes_up_to_one_mebi_is_82025(set: Set) {
    let k = kernel("primes").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    for (n, count) in [
        (0usize, 0),
        (1, 0),
        (2, 1),
        (10, 4),
        (100, 25),
        (1000, 168),
        (1 << 20, 82025),
    ] {
        let mut w = Workload::new(k, n, 7);
        for (label, o) in common::runs(set, &engine, f, &mut w) {
            assert!(
                matches!(o.ret, Value::I32(c) if c == count),
                "pi({n}) at {label}: {:?}",
                o.ret
            );
        }
    }
}

fn fib_25_is_75025(set: Set) {
    let k = kernel("fibonacci").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    for (n, want) in [(0usize, 0), (1, 1), (2, 1), (10, 55), (25, 75025)] {
        let mut w = Workload::new(k, n, 0);
        for (label, o) in common::runs(set, &engine, f, &mut w) {
            assert!(
                matches!(o.ret, Value::I32(v) if v == want),
                "fib({n}) at {label}: {:?}",
                o.ret
            );
        }
    }
}

fn regex_dfa_on_crafted_lines(set: Set) {
    let k = kernel("regex_dfa").unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    let dfa = Dfa::search(&catalog_pattern());
    let cases: [(&str, i32); 7] = [
        ("", 0),
        ("WARN took 5ms", 1),
        ("WARN took 5ms\n", 1),
        ("INFO took 5ms\nERROR x 12ms\nWARN 3 ms\nWARN3ms\n", 2),
        ("ERROR 9ms\n\n\nERROR 9ms", 2),
        ("5ms ERROR\nERRO 5ms\nwarn 1ms\nWARNING 100ms\n", 1),
        ("\n\n\n", 0),
    ];
    for (text, want) in cases {
        let mut w = Workload::from_params(
            k,
            text.len(),
            0,
            regex_dfa_of(text.as_bytes().to_vec(), &dfa),
        );
        for (label, o) in common::runs(set, &engine, f, &mut w) {
            assert!(
                matches!(o.ret, Value::I32(c) if c == want),
                "{text:?} at {label}: {:?}",
                o.ret
            );
        }
    }
    // The generated log text: the kernel agrees with matching line by line in Rust.
    let text = modules::inputs::log_text(5000, 9);
    let want = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && dfa.accepts(l))
        .count() as i32;
    assert!(want > 10);
    let mut w = Workload::new(k, 5000, 9);
    for (label, o) in common::runs(set, &engine, f, &mut w) {
        assert!(
            matches!(o.ret, Value::I32(c) if c == want),
            "log text at {label}: {:?} vs {want}",
            o.ret
        );
    }
}

fn strops_functions(set: Set) {
    let engine = common::engine();
    let cat = common::load(&engine);
    let find = common::func(&engine, &cat, "strops.bfir", "find");
    let count = common::func(&engine, &cat, "strops.bfir", "count");
    let compare = common::func(&engine, &cat, "strops.bfir", "compare");
    let copy = common::func(&engine, &cat, "strops.bfir", "copy");
    for f in [find, count, compare, copy] {
        set.prepare(&engine, f);
    }
    let hay = b"abracadabra";
    let n = hay.len() as i32;
    for &tier in set.tiers() {
        let call_find = |needle: &[u8], from: i32| {
            let mut args = [
                Arg::U8s(hay),
                Arg::I32(n),
                Arg::U8s(needle),
                Arg::I32(needle.len() as i32),
                Arg::I32(from),
            ];
            engine.call_at(find, tier, &mut args).unwrap()
        };
        assert!(matches!(call_find(b"abra", 0), Value::I32(0)), "{tier}");
        assert!(matches!(call_find(b"abra", 1), Value::I32(7)), "{tier}");
        assert!(matches!(call_find(b"cad", 0), Value::I32(4)), "{tier}");
        assert!(matches!(call_find(b"abrx", 0), Value::I32(-1)), "{tier}");
        assert!(matches!(call_find(b"", 3), Value::I32(3)), "{tier}");
        let mut args = [Arg::U8s(hay), Arg::I32(n), Arg::U8s(b"a"), Arg::I32(1)];
        assert!(
            matches!(
                engine.call_at(count, tier, &mut args).unwrap(),
                Value::I32(5)
            ),
            "{tier}"
        );
        let mut args = [Arg::U8s(b"aaaa"), Arg::I32(4), Arg::U8s(b"aa"), Arg::I32(2)];
        assert!(
            matches!(
                engine.call_at(count, tier, &mut args).unwrap(),
                Value::I32(3)
            ),
            "{tier}: overlapping"
        );
        for (a, b, want) in [
            (&b"abc"[..], &b"abd"[..], -1),
            (b"abd", b"abc", 1),
            (b"abc", b"abc", 0),
            (b"\xff", b"\x01", 1),
        ] {
            let mut args = [Arg::U8s(a), Arg::U8s(b), Arg::I32(a.len() as i32)];
            let got = engine.call_at(compare, tier, &mut args).unwrap();
            assert!(
                matches!(got, Value::I32(v) if v == want),
                "{tier}: compare {a:?} {b:?} = {got:?}"
            );
        }
        let mut dst = [0u8; 6];
        let mut args = [Arg::U8sMut(&mut dst), Arg::U8s(b"bytes!"), Arg::I32(5)];
        engine.call_at(copy, tier, &mut args).unwrap();
        assert_eq!(&dst, b"bytes\0", "{tier}");
    }
}

macro_rules! both_sets {
    ($($name:ident),* $(,)?) => {
        mod reference {
            $(#[test] fn $name() { super::$name(super::Set::Reference); })*
        }
        mod compiled {
            $(#[test] fn $name() { super::$name(super::Set::Compiled); })*
        }
    };
}

both_sets!(
    sha256_nist_vectors_at_every_tier,
    sha256_one_million_a_one_shot,
    sha256_one_million_a_streamed,
    fft_of_known_signals,
    fft_matches_a_naive_dft_and_rejects_non_powers_of_two,
    matmul_and_gemm_tile_against_a_plain_reference,
    quicksort_sorts_and_permutes,
    primes_up_to_one_mebi_is_82025,
    fib_25_is_75025,
    regex_dfa_on_crafted_lines,
    strops_functions
);
