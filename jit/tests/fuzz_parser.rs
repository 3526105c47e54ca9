//! Property test: the front end never panics or hangs on random or mutated sources.

use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {\n for i in 0..m { for j in 0..n { let acc: f32 = 0.0; for p in 0..k { acc = fma(a[i * k + p], b[p * n + j], acc); } c[i * n + j] = acc; } } }",
    "const K: [i32; 2] = [0xb5c0fbcf, -1];\n#[reassoc]\nfn f(x: &mut [u8], n: i64) -> i64 { let s = 0i64; for i in 0i64..n step 2i64 { x[i] ^= 0x1f; s += x[i] as i64 >>> 1i64; } while s > 3i64 && !(s == 9i64) { s /= 2i64; if s < 0i64 { break; } else { continue; } } return s; }",
    "fn g(a: &[f64], lo: i32, hi: i32) -> f64 { if lo >= hi { return 0.0; } return a[lo] + g(a[lo..hi], 1, hi - lo) * -1.5e-3 + min(1.0, sqrt(abs(a[0]))); }",
];

const TOKENS: &[&str] = &[
    "fn",
    "let",
    "for",
    "in",
    "step",
    "while",
    "if",
    "else",
    "return",
    "break",
    "continue",
    "as",
    "const",
    "#[reassoc]",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ";",
    ",",
    ":",
    "->",
    "..",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<<",
    ">>",
    ">>>",
    "&",
    "|",
    "^",
    "!",
    "&&",
    "||",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+=",
    "i32",
    "i64",
    "f32",
    "f64",
    "bool",
    "u8",
    "&mut",
    "x",
    "y",
    "a",
    "0",
    "1",
    "0x7fffffff",
    "1.5",
    "2e9",
    "true",
    "len",
    "sqrt",
    "fma",
    "select",
    "\n",
    " ",
    "//c\n",
];

fn check(src: &str) {
    // must return (Ok or a located error), never panic
    if let Err(d) = jit::parse_module("fuzz.bfir", src) {
        assert!(d.line >= 1 && d.col >= 1, "{d}");
        assert!(d.to_string().starts_with("fuzz.bfir:"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(s in "\\PC{0,200}") {
        check(&s);
    }

    #[test]
    fn random_tokens(idx in proptest::collection::vec(0..TOKENS.len(), 0..120)) {
        let s: Vec<&str> = idx.iter().map(|&i| TOKENS[i]).collect();
        check(&s.join(" "));
    }

    #[test]
    fn mutated_seeds(seed in 0..SEEDS.len(), edits in proptest::collection::vec((0usize..400, 0..TOKENS.len(), 0u8..3), 1..8)) {
        let mut s = SEEDS[seed].to_string();
        for (pos, tok, kind) in edits {
            let mut p = pos % (s.len() + 1);
            while !s.is_char_boundary(p) { p -= 1; }
            match kind {
                0 => s.insert_str(p, TOKENS[tok]),
                1 => { let end = (p + 1 + tok % 5).min(s.len()); let mut e = end; while !s.is_char_boundary(e) { e += 1; } s.replace_range(p..e, ""); }
                _ => { let end = (p + 3).min(s.len()); let mut e = end; while !s.is_char_boundary(e) { e += 1; } s.replace_range(p..e, TOKENS[tok]); }
            }
        }
        check(&s);
    }
}

#[test]
fn seeds_are_valid() {
    for s in SEEDS {
        jit::parse_module("seed.bfir", s).unwrap_or_else(|d| panic!("{d}"));
    }
}
