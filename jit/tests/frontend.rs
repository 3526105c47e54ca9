//! Parser and verifier: good sources parse, bad ones give `file:line:col: reason`.

use jit::parse_module;

#[test]
fn good_sources_parse() {
    let src = r#"
//! module doc
const N: i32 = 64;
const NEG: i64 = -9223372036854775808;
const HALF: f64 = 0.5;
const K: [i32; 4] = [0x428a2f98, 0x71374491, 0xb5c0fbcf, -5];
const B: [u8; 3] = [0, 127, 255];
const F: [f32; 2] = [1.5, -2e-3];

/// documented
#[reassoc]
fn all(a: &[f32], b: &mut [f64], c: &[u8], d: &mut [i64], n: i32, x: i64, y: f32, z: bool) -> f64 {
    let mut s = 0.0f64;
    let t: i32 = N;
    let u = 1_000i64 + x;
    if z && n > 0 || !z { s += 1.0; } else if n == 3 { s -= 2.0; } else { s *= 3.0; }
    for i in 0..n { b[i] = a[i] as f64 + HALF; }
    for j in 0i64..x step 2i64 { d[j] += j; d[j] <<= 1i64; }
    while t > 0 { t >>= 1; if t == 5 { continue; } if t == 7 { break; } }
    { let t = 3; s += t as f64; }
    s += (c[0] + K[1] + B[2]) as f64 + F[1] as f64 + (len(c) as f64);
    s += select(z, 1.0, 2.0) + fma(s, 2.0, 1.0);
    t = rotl(t, 3) ^ popcnt(t) | clz(t) & ctz(t) >>> 1;
    let q = udiv(t, 3) + urem(t, 5);
    if ult(q, 3) || uge(q, 9) { return s; }
    helper(a[1..n], d, n);
    return s + exp(1.0) + y as f64 + (0b1010 as f64);
}

fn helper(a: &[f32], d: &mut [i64], n: i32) {
    for i in 0..n step 3 { d[i] = a[i] as i64; }
    return;
}

fn rec(n: i32) -> i32 { if n < 2 { return n; } else { return rec(n - 1) + rec(n - 2); } }
fn spin(n: i32) -> i32 { while true { if n > 0 { return n; } } }
"#;
    let m = parse_module("dir/all.bfir", src).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(m.name(), "all");
    assert_eq!(m.doc(), "module doc\n");
    assert_eq!(m.table_names(), vec!["K", "B", "F"]);
    assert_eq!(m.function_names(), vec!["all", "helper", "rec", "spin"]);
}

fn err(src: &str) -> String {
    match parse_module("bad.bfir", src) {
        Ok(_) => panic!("accepted: {src}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn bad_sources_report_line_and_column() {
    let cases: &[(&str, &str)] = &[
        ("fn f( { }", "bad.bfir:1:7: expected parameter name"),
        ("fn f() { let x = 1 }", "bad.bfir:1:20: expected `;`"),
        (
            "fn f() {\n  let x: i32 = 1.5;\n}",
            "bad.bfir:2:16: expected i32, found float literal",
        ),
        (
            "fn f() -> i32 {\n  let x = 1;\n}",
            "bad.bfir:3:1: function `f` must return a i32 on every path",
        ),
        (
            "fn f(a: &[i32]) {\n  a[0] = 1;\n}",
            "bad.bfir:2:3: buffer `a` is read-only",
        ),
        (
            "fn f() {\n  for i in 0..3 { i = 2; }\n}",
            "bad.bfir:2:19: loop variable `i` is read-only",
        ),
        ("fn f() { break; }", "bad.bfir:1:10: `break` outside a loop"),
        ("fn f() { let x = y; }", "bad.bfir:1:18: unknown name `y`"),
        (
            "fn f() { let a = 1; let x = a + 2i64; }",
            "bad.bfir:1:31: operands have different types: i32 and i64",
        ),
        (
            "fn f() { let x = 3000000000; }",
            "bad.bfir:1:18: literal does not fit in i32",
        ),
        (
            "fn f() { let x = 1 < 2 < 3; }",
            "bad.bfir:1:24: comparison operators cannot be chained",
        ),
        (
            "fn f(a: &mut [i32]) { g(a, a); }\nfn g(x: &mut [i32], y: &[i32]) {}",
            "bad.bfir:1:28: buffer `a` is passed twice",
        ),
        ("fn f() { g(1); }", "bad.bfir:1:10: unknown function `g`"),
        (
            "fn f() { let x = 1 as bool; }",
            "bad.bfir:1:20: cannot cast to bool",
        ),
        (
            "fn f() { let x = sqrt(1); }",
            "bad.bfir:1:18: `sqrt` cannot be applied to i32",
        ),
        (
            "#[fast]\nfn f() {}",
            "bad.bfir:1:3: unknown attribute `fast`",
        ),
        (
            "fn f() { let x = @; }",
            "bad.bfir:1:18: unexpected character `@`",
        ),
        (
            "fn f() {}\nfn f() {}",
            "bad.bfir:2:4: function `f` is defined twice",
        ),
        (
            "const K: [i32; 3] = [1, 2];",
            "bad.bfir:1:21: array `K` declares 3 elements but lists 2",
        ),
        (
            "const K: [i32; 2] = [1, 7i64];",
            "bad.bfir:1:25: table element's type suffix does not match the table's element type",
        ),
        (
            "const B: [u8; 2] = [1, -1.5f32];",
            "bad.bfir:1:24: table element's type suffix does not match the table's element type",
        ),
        (
            "fn f(x: u8) {}",
            "bad.bfir:1:9: `u8` is only a buffer element type",
        ),
        (
            "fn f() { 1 + 2; }",
            "bad.bfir:1:12: only a function call can be used as a statement",
        ),
        (
            "fn f() { let x = 0x; }",
            "bad.bfir:1:18: missing digits after radix prefix",
        ),
        (
            "fn f() { let x = 1i16; }",
            "bad.bfir:1:18: invalid literal suffix `i16`",
        ),
        (
            "fn f(a: &[i32]) -> i32 { return a; }",
            "bad.bfir:1:33: buffer `a` used as a value",
        ),
        (
            "fn f() { let x = (((1); }",
            "bad.bfir:1:23: expected `)`, found `;`",
        ),
        (
            "fn f(n: i32) { g(n); }\nfn g(x: i32) -> i32 { return g(x) + 1; }\nfn h() { let v = f(1); }",
            "bad.bfir:3:18: this call returns no value",
        ),
        (
            "fn f(a: i32, b: i64) {\n  for i in a..b { }\n}",
            "bad.bfir:2:15: `for` bounds have different types: start is i32, end is i64",
        ),
        (
            "fn f(a: i64, b: i32) { for i in a..b step 2 { } }",
            "bad.bfir:1:36: `for` bounds have different types: start is i64, end is i32",
        ),
        (
            "fn f(a: i32, b: i32) { for i in a..b step 2i64 { } }",
            "bad.bfir:1:43: expected i32, found i64",
        ),
        (
            "fn f(a: &[i32]) { let s = a[0..1]; }",
            "bad.bfir:1:27: a slice `buf[lo..hi]` can only be passed as a call argument",
        ),
    ];
    let mut bad = Vec::new();
    for (src, want) in cases {
        let got = err(src);
        if !got.starts_with(want) {
            bad.push(format!("source {src:?}\n got: {got}\nwant: {want}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = format!(
        "fn f() -> i32 {{ return {}1{}; }}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(err(&src).contains("nesting too deep"));
    let src = format!("fn f() {{ {} }}", "{".repeat(5000));
    assert!(err(&src).contains("nesting too deep"));
    let src = format!("fn f() -> i32 {{ return {}1; }}", "-".repeat(5000));
    assert!(err(&src).contains("nesting too deep"));
}

#[test]
fn deepest_accepted_sources_compile_and_run_at_every_tier() {
    use jit::{Arg, Engine, EngineConfig, Tier, Value};
    // 32 levels: the body, the `return`'s expression and 30 operators; 15 parentheses
    // and their operators; 15 `if`s (each with its block) and the condition's operator
    let chain = format!(
        "fn chain(x: i32) -> i32 {{ return x{}; }}",
        " + 1".repeat(30)
    );
    let parens = format!(
        "fn parens(x: i32) -> i32 {{ return {}x{}; }}",
        "(1 + ".repeat(15),
        ")".repeat(15)
    );
    let ifs = format!(
        "fn ifs(x: i32) -> i32 {{ let r = 0; {} r = x; {} return r; }}",
        "if x > 0 { ".repeat(15),
        "}".repeat(15)
    );
    let src = format!("{chain}\n{parens}\n{ifs}");
    let m = parse_module("deep.bfir", &src).unwrap_or_else(|d| panic!("{d}"));
    // one level more is too deep
    for one_more in [
        format!("fn f(x: i32) -> i32 {{ return x{}; }}", " + 1".repeat(31)),
        format!(
            "fn f(x: i32) -> i32 {{ {} return x; {} }}",
            "if x > 0 { ".repeat(16),
            "}".repeat(16)
        ),
    ] {
        assert!(err(&one_more).contains("nesting too deep"), "{one_more}");
    }
    let e = Engine::host(EngineConfig::default());
    let id = e.load(m).unwrap();
    for t in Tier::ALL {
        for (name, want) in [("chain", 37), ("parens", 22), ("ifs", 7)] {
            let f = e.func(id, name).unwrap();
            match e.call_at(f, t, &mut [Arg::I32(7)]) {
                Ok(Value::I32(v)) => assert_eq!(v, want, "{name} at {t}"),
                other => panic!("{name} at {t}: {other:?}"),
            }
        }
    }
}

/// Each constant is evaluated once: a chain where every constant uses the previous one
/// twice used to double the expression (2^64 nodes here, a hang and an out-of-memory).
#[test]
fn constant_chains_evaluate_each_constant_once() {
    use jit::{Arg, Engine, EngineConfig, Tier, Value};
    let mut src = String::from("const C0: i32 = 3;\nconst D0: i64 = -7;\nconst F0: f64 = 0.5;\n");
    let (mut c, mut d, mut f) = (3i32, -7i64, 0.5f64);
    for k in 1..64 {
        src += &format!("const C{k}: i32 = C{p} * C{p} + C{p} + {k};\n", p = k - 1);
        src += &format!("const D{k}: i64 = (D{p} << 1) ^ D{p} - {k};\n", p = k - 1);
        src += &format!(
            "const F{k}: f64 = F{p} * 0.75 + F{p} as f32 as f64 * 0.125;\n",
            p = k - 1
        );
        c = c.wrapping_mul(c).wrapping_add(c).wrapping_add(k);
        d = (d << 1) ^ d.wrapping_sub(k as i64);
        f = f * 0.75 + f as f32 as f64 * 0.125;
    }
    src += "fn c() -> i32 { return C63; }\nfn d() -> i64 { return D63; }\n";
    src += "fn f() -> f64 { return F63; }\n";
    let m = parse_module("consts.bfir", &src).unwrap_or_else(|e| panic!("{e}"));
    let e = Engine::host(EngineConfig::default());
    let id = e.load(m).unwrap();
    for t in Tier::ALL {
        let call = |name| e.call_at(e.func(id, name).unwrap(), t, &mut [] as &mut [Arg]);
        assert!(matches!(call("c"), Ok(Value::I32(v)) if v == c), "{t}");
        assert!(matches!(call("d"), Ok(Value::I64(v)) if v == d), "{t}");
        assert!(
            matches!(call("f"), Ok(Value::F64(v)) if v.to_bits() == f.to_bits()),
            "{t}"
        );
    }
}

#[test]
fn a_constant_that_traps_is_a_located_error() {
    let got = err("const A: i32 = 1;\nconst Z: i32 = A - 1;\nconst Q: i32 = 7 / Z;\nfn f() {}");
    assert!(
        got.starts_with("bad.bfir:3:7: constant `Q` traps: division by zero"),
        "{got}"
    );
    let got = err("const S: i64 = urem(5i64, 0i64);");
    assert!(
        got.starts_with("bad.bfir:1:7: constant `S` traps: division by zero"),
        "{got}"
    );
}

/// The size limits of a module (IR.md "Limits"): at the limit a module is accepted, one
/// past it is a located error at the first token, statement or function beyond it.
#[test]
fn module_size_limits_are_located_errors() {
    use jit::{MAX_FUNCTION_STATEMENTS, MAX_FUNCTIONS, MAX_MODULE_BYTES, MAX_MODULE_TOKENS};
    // statements per function, nested ones included (issue 11: 100,000 statements took
    // seconds per step); one statement per line, from line 2
    let body = |n: usize| {
        let mut s = String::from("fn f(x: i32) -> i32 {\n");
        for _ in 0..n / 2 {
            s += "  if x > 0 { x -= 1; }\n";
        }
        if n % 2 == 1 {
            s += "  x += 1;\n";
        }
        s + "  return x;\n}\n"
    };
    // `n` statements and the `return`
    parse_module("ok.bfir", &body(MAX_FUNCTION_STATEMENTS - 1)).unwrap_or_else(|d| panic!("{d}"));
    let got = err(&body(MAX_FUNCTION_STATEMENTS));
    let line = 2 + MAX_FUNCTION_STATEMENTS / 2;
    assert!(
        got.starts_with(&format!(
            "bad.bfir:{line}:3: function too large: more than {MAX_FUNCTION_STATEMENTS} statements"
        )),
        "{got}"
    );
    // the issue's 100,000 statements: more tokens than a module may have, found first
    let got = err(&body(100_000));
    assert!(got.contains("module too large: more than"), "{got}");

    // functions per module, one per line
    let funcs = |n: usize| {
        (0..n)
            .map(|i| format!("fn f{i}() {{}}\n"))
            .collect::<String>()
    };
    parse_module("ok.bfir", &funcs(MAX_FUNCTIONS)).unwrap_or_else(|d| panic!("{d}"));
    let got = err(&funcs(MAX_FUNCTIONS + 1));
    assert!(
        got.starts_with(&format!(
            "bad.bfir:{}:1: too many functions: a module has at most {MAX_FUNCTIONS}",
            MAX_FUNCTIONS + 1
        )),
        "{got}"
    );

    // tokens: a table `const T: [u8; N] = [` (10 tokens) then `0,` per line from line 2
    let table = |n: usize| format!("const T: [u8; {n}] = [\n{}];\n", "0,\n".repeat(n));
    let fits = (MAX_MODULE_TOKENS - 12) / 2;
    parse_module("ok.bfir", &table(fits)).unwrap_or_else(|d| panic!("{d}"));
    let got = err(&table(MAX_MODULE_TOKENS / 2));
    let line = 2 + (MAX_MODULE_TOKENS - 10) / 2;
    assert!(
        got.starts_with(&format!(
            "bad.bfir:{line}:1: module too large: more than {MAX_MODULE_TOKENS} tokens"
        )),
        "{got}"
    );

    // bytes: a comment that runs past the limit, located at its first byte past it
    let src = format!("fn f() {{}}\n//{}", "x".repeat(MAX_MODULE_BYTES));
    let got = err(&src);
    let col = MAX_MODULE_BYTES - "fn f() {}\n".len() + 1;
    assert!(
        got.starts_with(&format!(
            "bad.bfir:2:{col}: module too large: more than {MAX_MODULE_BYTES} bytes"
        )),
        "{got}"
    );
}
