//! Deeply nested sources, one per recursive path of the front end and the compiler (shared
//! by `tests/stack.rs` and `examples/stack_use.rs`).
//!
//! `source(shape, k)` repeats the shape's construct `k` times; every source has a function
//! `f(x: i32) -> i32`, and every other function it has is compiled too.

/// Each shape, and how many nesting levels (IR.md) one repetition of it uses.
pub const SHAPES: &[(&str, usize)] = &[
    ("chain", 1),
    ("unary", 1),
    ("casts", 1),
    ("parens", 2),
    ("calls", 1),
    ("intrinsics", 1),
    ("index", 1),
    ("logic", 1),
    ("blocks", 1),
    ("ifs", 2),
    ("elseifs", 1),
    ("fors", 1),
    ("whiles", 1),
    ("inlined", 1),
];

pub fn source(shape: &str, k: usize) -> String {
    let r = |s: &str, n: usize| s.repeat(n);
    match shape {
        // x + x + ... (left-associative: one tree level per operator)
        "chain" => format!("fn f(x: i32) -> i32 {{ return x{}; }}", r(" + x", k)),
        // - - - x
        "unary" => format!("fn f(x: i32) -> i32 {{ return {}x; }}", r("- ", k)),
        // x as i64 as i32 ... (ending in i32)
        "casts" => {
            let mut s = String::from("fn f(x: i32) -> i32 { return x");
            for i in 0..k {
                s += if (k - i).is_multiple_of(2) {
                    " as i64"
                } else {
                    " as i32"
                };
            }
            s + "; }"
        }
        // (x + (x + (x + x)))
        "parens" => format!(
            "fn f(x: i32) -> i32 {{ return {}x{}; }}",
            r("(x + ", k),
            r(")", k)
        ),
        // g(g(g(x)))
        "calls" => format!(
            "fn g(x: i32) -> i32 {{ return x + 1; }}\nfn f(x: i32) -> i32 {{ return {}x{}; }}",
            r("g(", k),
            r(")", k)
        ),
        // min(min(min(x, 1), 1), 1)
        "intrinsics" => format!(
            "fn f(x: i32) -> i32 {{ return {}x{}; }}",
            r("min(", k),
            r(", 1)", k)
        ),
        // a[a[a[0]]]
        "index" => format!(
            "fn h(a: &[i32]) -> i32 {{ return {}0{}; }}\nfn f(x: i32) -> i32 {{ return x; }}",
            r("a[", k),
            r("]", k)
        ),
        // x > 0 && x > 0 && ...
        "logic" => format!(
            "fn f(x: i32) -> i32 {{ if x > 0{} {{ return 1; }} return 0; }}",
            r(" && x > 0", k)
        ),
        // { { { x += 1; } } }
        "blocks" => format!(
            "fn f(x: i32) -> i32 {{ {} x += 1; {} return x; }}",
            r("{ ", k),
            r("} ", k)
        ),
        // if x > 0 { if x > 0 { ... } }
        "ifs" => format!(
            "fn f(x: i32) -> i32 {{ {} x += 1; {} return x; }}",
            r("if x > 0 { ", k),
            r("} ", k)
        ),
        // if x == 0 {} else if x == 1 {} else if ...
        "elseifs" => {
            let mut s = String::from("fn f(x: i32) -> i32 { let r = 0; ");
            for i in 0..k {
                s += &format!("if x == {i} {{ r = {i}; }} else ");
            }
            s + "{ r = -1; } return r; }"
        }
        // for i0 in 0..x { for i1 in 0..x { ... } }
        "fors" => {
            let mut s = String::from("fn f(x: i32) -> i32 { let t = 0; ");
            for i in 0..k {
                s += &format!("for i{i} in 0..x {{ ");
            }
            s + "t += 1; " + &r("} ", k) + "return t; }"
        }
        // while x < 3 { while x < 3 { ... } }
        "whiles" => format!(
            "fn f(x: i32) -> i32 {{ {} x += 1; {} return x; }}",
            r("while x < 3 { ", k),
            r("} ", k)
        ),
        // T3 inlines expression functions into a vector loop, up to three calls deep: the
        // expression it lowers lane by lane is the sum of all their depths
        "inlined" => {
            let body = |v: &str| format!("{v}{}", r(" + v", k));
            format!(
                "fn e1(v: f32) -> f32 {{ return {}; }}\n\
                 fn e2(v: f32) -> f32 {{ return e1({}); }}\n\
                 fn e3(v: f32) -> f32 {{ return e2({}); }}\n\
                 fn h(x: &[f32], y: &mut [f32], n: i32) {{\n\
                 for i in 0..n {{ y[i] = e3(x[i]{}); }}\n}}\n\
                 fn f(x: i32) -> i32 {{ return x; }}",
                body("v"),
                body("v"),
                body("v"),
                r(" + x[i]", k)
            )
        }
        other => panic!("unknown shape {other}"),
    }
}
