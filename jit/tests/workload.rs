//! `#[workload(...)]`: parsed and verified against the signature (every error located),
//! inputs generated deterministically, and every tier checked against T0 on them.

use jit::workload::{Buffer, Fill, Input, Inputs, Number, Outputs, ParamInput, ScalarInput};
use jit::{Elem, Engine, EngineConfig, Tier, TrapKind, Ty, Value};

fn error(src: &str) -> String {
    match jit::parse_module("w.bfir", src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn the_attribute_gives_every_parameter_its_input() {
    let m = jit::parse_module(
        "w.bfir",
        "#[workload(n = 64, rows = n / 8 + 1, a = -1.5, flag = true, k = random(-3, 3),\n\
         x = [random(-1, 1); n * 2], y = [0.25; n], idx = [iota; rows], b = [random(0, 255); 3],)]\n\
         #[reassoc]\n\
         fn f(a: f32, x: &[f32], y: &mut [f64], n: i32, rows: i64, flag: bool, k: i32,\n\
              idx: &mut [i32], b: &[u8]) {}\n\
         fn none() -> i32 { return 1; }\n\
         fn helper(x: &[f32]) -> f32 { return x[0]; }\n",
    )
    .unwrap();
    let w = m.workload("f").unwrap().unwrap();
    assert!(w.reassoc);
    assert_eq!(
        w.params,
        vec![
            ParamInput::Scalar {
                ty: Ty::F32,
                input: ScalarInput::Fixed(Number::F32(-1.5))
            },
            ParamInput::Buffer {
                elem: Elem::F32,
                mutable: false,
                len: 128,
                fill: Fill::Random {
                    lo: Number::F32(-1.0),
                    hi: Number::F32(1.0)
                }
            },
            ParamInput::Buffer {
                elem: Elem::F64,
                mutable: true,
                len: 64,
                fill: Fill::Value(Number::F64(0.25))
            },
            ParamInput::Scalar {
                ty: Ty::I32,
                input: ScalarInput::Fixed(Number::I32(64))
            },
            ParamInput::Scalar {
                ty: Ty::I64,
                input: ScalarInput::Fixed(Number::I64(9))
            },
            ParamInput::Scalar {
                ty: Ty::Bool,
                input: ScalarInput::Fixed(Number::Bool(true))
            },
            ParamInput::Scalar {
                ty: Ty::I32,
                input: ScalarInput::Random {
                    lo: Number::I32(-3),
                    hi: Number::I32(3)
                }
            },
            ParamInput::Buffer {
                elem: Elem::I32,
                mutable: true,
                len: 9,
                fill: Fill::Iota
            },
            ParamInput::Buffer {
                elem: Elem::U8,
                mutable: false,
                len: 3,
                fill: Fill::Random {
                    lo: Number::I32(0),
                    hi: Number::I32(255)
                }
            },
        ]
    );
    assert_eq!(w.buffer_bytes(), 128 * 4 + 64 * 8 + 9 * 4 + 3);
    // No parameters: the empty workload; parameters but no attribute: not exercised.
    assert!(m.workload("none").unwrap().unwrap().params.is_empty());
    let why = m.workload("helper").unwrap().unwrap_err();
    assert!(why.to_string().contains("no #[workload(...)]"), "{why}");
    assert!(m.workload("nope").is_none());
}

#[test]
fn a_workload_that_does_not_fit_the_signature_is_a_located_error() {
    let f = "fn f(a: f32, x: &[f32], y: &mut [f32], n: i32) {}";
    let cases: &[(&str, &str)] = &[
        (
            "#[workload(n = 4, a = 1, x = [0; n], y = [0; n], z = 1)]",
            "w.bfir:1:50: `z` is not a parameter of `f`",
        ),
        (
            "#[workload(n = 4, a = 1, x = [0; n])]",
            "w.bfir:1:3: the workload of `f` gives no value for parameter `y`",
        ),
        (
            "#[workload(n = 4, n = 5, a = 1, x = [0; n], y = [0; n])]",
            "w.bfir:1:19: parameter `n` is given twice",
        ),
        (
            "#[workload(n = 2.5, a = 1, x = [0; 4], y = [0; 4])]",
            "w.bfir:1:16: `n` takes an integer (i32), not a float",
        ),
        (
            "#[workload(n = 4, a = 1, x = 0.5, y = [0; n])]",
            "w.bfir:1:26: `x` is a buffer (&[f32]): give `[fill; length]`, e.g. `[random(-1, 1); 1024]`",
        ),
        (
            "#[workload(n = [1; 4], a = 1, x = [0; 4], y = [0; 4])]",
            "w.bfir:1:12: `n` is a scalar (i32), not a buffer",
        ),
        (
            "#[workload(a = 1, x = [0; n], y = [0; 4], n = 4)]",
            "w.bfir:1:27: `n` is not a scalar parameter given a fixed value earlier in this workload",
        ),
        (
            "#[workload(n = random(1, 9), a = 1, x = [0; n], y = [0; 4])]",
            "w.bfir:1:45: `n` is drawn at random; only fixed values can be used here",
        ),
        (
            "#[workload(n = 4, a = 1, x = [random(1, -1); n], y = [0; n])]",
            "w.bfir:1:31: `random(1, -1)`: the low bound must be below the high one",
        ),
        (
            "#[workload(n = 3000000000, a = 1, x = [0; 4], y = [0; 4])]",
            "w.bfir:1:16: 3000000000 does not fit `n` (-2147483648..=2147483647)",
        ),
        (
            "#[workload(n = 4, a = 1, x = [0; n - 5], y = [0; n])]",
            "w.bfir:1:36: buffer length -1 is negative",
        ),
        (
            "#[workload(n = 4, a = 1, x = [0; 4 / (n - 4)], y = [0; n])]",
            "w.bfir:1:36: division by zero in a workload expression",
        ),
        (
            "#[workload(n = 4, a = 1, x = [0; 1048576], y = [0; 1048577])]",
            "w.bfir:1:48: the buffers of a workload hold at most 8388608 bytes together; with `y` they hold 8388612",
        ),
        (
            "#[workload(n = 4, a = iota, x = [0; 4], y = [0; 4])]",
            "w.bfir:1:23: `iota` fills buffers; a scalar takes a value",
        ),
        (
            "#[workload(n = 4i64, a = 1, x = [0; 4], y = [0; 4])]",
            "w.bfir:1:16: a workload literal takes its type from the parameter: no suffix",
        ),
        (
            "#[workload(n = 4 a = 1)]",
            "w.bfir:1:18: expected `,` or `)`, found identifier `a`",
        ),
        (
            "#[workload(n = 4, a = 1, x = [0; n], y = [0; n])]\n#[workload(n = 4)]",
            "w.bfir:2:3: a function has at most one `workload` attribute",
        ),
    ];
    for (attr, want) in cases {
        let src = format!("{attr}\n{f}\n");
        assert_eq!(&error(&src), want, "{attr}");
    }
    // 8 MiB exactly is allowed (one byte more is not: the case above).
    jit::parse_module(
        "w.bfir",
        "#[workload(x = [0; 1048576], y = [0; 1048576])]\nfn g(x: &[f32], y: &mut [f32]) {}\n",
    )
    .unwrap();
    assert_eq!(
        error("#[workload(b = [256; 4])]\nfn g(b: &[u8]) {}\n"),
        "w.bfir:1:17: 256 does not fit `b` (0..=255)"
    );
    assert_eq!(
        error("#[workload(b = [-129; 4])]\nfn g(b: &[i8]) {}\n"),
        "w.bfir:1:17: -129 does not fit `b` (-128..=127)"
    );
    assert_eq!(
        error("#[workload(h = [random(0, 70000); 4])]\nfn g(h: &[f16]) {}\n"),
        "w.bfir:1:17: 70000 is outside the f16 range of `h` (-65504..=65504)"
    );
    assert_eq!(
        error("#[workload(b = random(0, 1))]\nfn g(b: bool) {}\n"),
        "w.bfir:1:16: `random` needs a number; `b` is a bool"
    );
}

/// Every tier against T0 on a workload's inputs, results and traps.
fn tiers_agree(src: &str, name: &str) -> Result<Value, TrapKind> {
    let module = jit::parse_module("t.bfir", src).unwrap();
    let w = module.workload(name).unwrap().unwrap().clone();
    let engine = Engine::host(EngineConfig::default());
    let m = engine.load(module).unwrap();
    let f = engine.func(m, name).unwrap();
    let mut inputs = Inputs::generate(&w, 1);
    let t0 = {
        let mut args = inputs.args();
        engine.call_at(f, Tier::T0, &mut args).map_err(|t| t.kind)
    };
    let reference = Outputs::capture(&inputs, t0);
    for tier in [Tier::T1, Tier::T2, Tier::T3] {
        inputs.reset();
        let r = {
            let mut args = inputs.args();
            engine.call_at(f, tier, &mut args).map_err(|t| t.kind)
        };
        if let Err(m) = reference.check(&inputs, &r, w.reassoc) {
            panic!("{name} at {tier}: {m}");
        }
    }
    reference.result
}

#[test]
fn generated_inputs_run_every_tier_like_t0() {
    let src = include_str!("../../ir-modules/examples/saxpy.bfir");
    assert!(matches!(tiers_agree(src, "saxpy"), Ok(Value::Unit)));
    let dot = "#[reassoc]\n#[workload(n = 1000, x = [random(-1, 1); n], y = [random(-1, 1); n])]\n\
               fn dot(x: &[f32], y: &[f32], n: i32) -> f32 {\n\
               let s: f32 = 0.0;\n for i in 0..n { s += x[i] * y[i]; }\n return s;\n}\n";
    assert!(matches!(tiers_agree(dot, "dot"), Ok(Value::F32(_))));
    let trap = "#[workload(x = [iota; 10], y = [0; 10], n = 11)]\n\
                fn copy(x: &[i64], y: &mut [i64], n: i32) {\n for i in 0..n { y[i] = x[i] * 3; }\n}\n";
    let bytes = "#[workload(n = 300, a = [random(-128, 127); n], h = [random(-2, 2); n], y = [0; n])]\n\
                 fn mix(a: &[i8], h: &[f16], y: &mut [f16], n: i32) {\n\
                 for i in 0..n { y[i] = h[i] * (a[i] as f32) + 0.5; }\n}\n";
    assert!(matches!(tiers_agree(bytes, "mix"), Ok(Value::Unit)));
    assert!(matches!(
        tiers_agree(trap, "copy"),
        Err(TrapKind::OutOfBounds)
    ));
}

#[test]
fn inputs_are_the_same_for_a_seed() {
    let m = jit::parse_module(
        "w.bfir",
        "#[workload(k = random(1, 100), x = [random(-2, 2); 5])]\nfn f(k: i64, x: &mut [f64]) {}\n",
    )
    .unwrap();
    let w = m.workload("f").unwrap().unwrap();
    let a = Inputs::generate(w, 7);
    assert_eq!(a.params, Inputs::generate(w, 7).params);
    assert_ne!(a.params, Inputs::generate(w, 8).params);
    let Input::Scalar(Value::I64(k)) = a.params[0] else {
        panic!("{:?}", a.params[0]);
    };
    assert!((1..=100).contains(&k));
    let Input::Buffer {
        data: Buffer::F64(x),
        mutable: true,
    } = &a.params[1]
    else {
        panic!("{:?}", a.params[1]);
    };
    assert!(x.iter().all(|v| (-2.0..2.0).contains(v)));
}
