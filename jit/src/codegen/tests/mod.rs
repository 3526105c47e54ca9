//! What each tier's lowering emits, read off the Cranelift IR.

mod nests;

use super::*;
use crate::ir::Stmt;
use alloc::string::String;

/// The Cranelift IR of a function as lowered for `tier` (before Cranelift's own passes).
fn clif(src: &str, name: &str, tier: Tier, features: CpuFeatures) -> String {
    clif_spec(src, name, tier, features, &[])
}

/// [`clif`] with the function specialized on (parameter index, value bits) pairs.
fn clif_spec(
    src: &str,
    name: &str,
    tier: Tier,
    features: CpuFeatures,
    spec: &[(usize, u64)],
) -> String {
    let m = crate::parse_module("t.bfir", src).expect("parse");
    let fi = m
        .funcs
        .iter()
        .position(|f| f.name == name)
        .expect("function");
    let mut cg = CodeGen::new(features, 512).expect("codegen");
    let opts = cg.opts(tier);
    let isa = cg.isa(tier);
    cg.ctx.clear();
    cg.ctx.func =
        Function::with_name_signature(UserFuncName::user(0, 0), abi::native_sig(&m.funcs[fi]));
    lower::lower_function(
        &mut cg.ctx.func,
        &mut cg.fctx,
        &m,
        fi,
        spec,
        opts,
        isa.frontend_config(),
    );
    format!("{}", cg.ctx.func.display())
}

const SRC: &str = r#"
#[reassoc]
fn dot(a: &[f32], b: &[f32], n: i32) -> f32 {
let acc: f32 = 0.0;
for i in 0..n { acc += a[i] * b[i]; }
return acc;
}
fn dot_exact(a: &[f32], b: &[f32], n: i32) -> f32 {
let acc: f32 = 0.0;
for i in 0..n { acc += a[i] * b[i]; }
return acc;
}
fn axpy(x: &[f32], y: &mut [f32], s: f32, n: i32) {
for i in 0..n { y[i] = s * x[i] + y[i]; }
}
fn vmax(a: &[f32], n: i32) -> f32 {
let m = a[0];
for i in 0..n { m = max(m, a[i]); }
return m;
}
fn prefix(a: &mut [f32], n: i32) {
for i in 1..n { a[i] = a[i - 1] + a[i]; }
}
fn hist(d: &[i32], h: &mut [i32], n: i32) {
for i in 0..n { h[d[i]] += 1; }
}
fn softmax_sum(x: &mut [f32], n: i32, m: f32) -> f32 {
let s: f32 = 0.0;
for i in 0..n { let e = exp(x[i] - m); x[i] = e; s += e; }
return s;
}
fn sig(v: f32) -> f32 { return v / (1.0 + exp(-v)); }
fn silu(x: &mut [f32], n: i32) {
for i in 0..n { x[i] = sig(x[i]); }
}
fn waves(x: &mut [f32], n: i32) {
for i in 0..n { x[i] = sin(x[i]) + cos(x[i]); }
}
fn decay(x: &mut [f32], n: i32, base: f32) {
for i in 0..n { x[i] = pow(10000.0, x[i]) + pow(base, x[i]); }
}
fn exp64(x: &mut [f64], n: i32) {
for i in 0..n { x[i] = exp(x[i]); }
}
fn butterfly(re: &mut [f32], im: &mut [f32], n: i32, half: i32, k: i32) {
for s in 0..n step 2 * half {
    let a = s + k;
    let b = a + half;
    let xr = re[b] * 0.5 - im[b];
    re[b] = re[a] - xr;
    im[b] = im[a] + re[b];
    re[a] += xr;
}
}
"#;

fn count(s: &str, pat: &str) -> usize {
    s.matches(pat).count()
}

#[test]
fn t1_keeps_every_check_t2_versions_loops() {
    let t1 = clif(SRC, "dot", Tier::T1, CpuFeatures::all());
    let t2 = clif(SRC, "dot", Tier::T2, CpuFeatures::all());
    // T1: one bounds check per access in the only loop copy
    assert_eq!(count(&t1, "icmp uge"), 2, "{t1}");
    // T2: the checked copy keeps its 2 checks, the fast copy has none; the entry test
    // compares first and last index of both accesses (4 unsigned compares)
    assert_eq!(count(&t2, "icmp uge"), 2, "{t2}");
    assert_eq!(count(&t2, "icmp ult"), 4, "{t2}");
    assert!(!t2.contains("f32x4"), "{t2}");
}

#[test]
fn t3_vectorizes_reassoc_reduction_with_fma() {
    let t3 = clif(SRC, "dot", Tier::T3, CpuFeatures::all());
    assert!(count(&t3, "load.f32x4") >= 4, "{t3}");
    assert!(count(&t3, "= fma ") >= 2, "{t3}");
    // without FMA hardware: vector mul+add instead
    let t3b = clif(SRC, "dot", Tier::T3, CpuFeatures::baseline());
    assert!(t3b.contains("load.f32x4") && !t3b.contains("fma"), "{t3b}");
}

#[test]
fn t3_never_reassociates_without_the_attribute() {
    // the products are computed four at a time, but the four lanes are added to the
    // one scalar sum in iteration order: no partial sums, no FMA
    let t3 = clif(SRC, "dot_exact", Tier::T3, CpuFeatures::all());
    assert!(count(&t3, "load.f32x4") >= 4, "{t3}");
    assert_eq!(count(&t3, "extractlane"), 4 * 4, "{t3}");
    assert!(!t3.contains("fma"), "{t3}");
}

#[test]
fn f32_exp_is_a_libcall_at_t1_inline_from_t2() {
    let t1 = clif(SRC, "softmax_sum", Tier::T1, CpuFeatures::all());
    assert!(count(&t1, " = call ") >= 1, "{t1}");
    let t2 = clif(SRC, "softmax_sum", Tier::T2, CpuFeatures::all());
    assert_eq!(count(&t2, " = call "), 0, "{t2}");
    assert!(t2.contains("bitcast.i32"), "{t2}");
    // scalar sin/cos and f64 exp keep their calls
    assert!(
        count(
            &clif(SRC, "waves", Tier::T2, CpuFeatures::all()),
            " = call "
        ) >= 2
    );
    assert!(
        count(
            &clif(SRC, "exp64", Tier::T2, CpuFeatures::all()),
            " = call "
        ) >= 2
    );
}

#[test]
fn pow_with_a_known_base_is_inline() {
    // T1: two calls; T2: the literal base is folded everywhere, the parameter base only
    // in the versioned fast copy (see the next test): one call left, in the checked copy
    let t1 = clif(SRC, "decay", Tier::T1, CpuFeatures::all());
    assert_eq!(count(&t1, " = call "), 2, "{t1}");
    let t2 = clif(SRC, "decay", Tier::T2, CpuFeatures::all());
    assert_eq!(count(&t2, " = call "), 1, "{t2}");
    assert!(t2.contains("fdemote"), "{t2}");
    // specialized on base = 2.0 (parameter 2): no call left in the fast loop
    let spec = [(2usize, 2.0f32.to_bits() as u64)];
    let t3 = clif_spec(SRC, "decay", Tier::T3, CpuFeatures::all(), &spec);
    assert!(count(&t3, "fdemote") >= 4, "{t3}");
}

#[test]
fn loops_with_a_conditionally_advanced_store_index_are_not_unrolled() {
    let inner_body = |src: &str, name: &str| {
        let m = crate::parse_module("t.bfir", src).expect("parse");
        let f = m.funcs.iter().find(|f| f.name == name).expect("function");
        fn innermost(stmts: &[Stmt]) -> Option<&[Stmt]> {
            stmts.iter().find_map(|s| match s {
                Stmt::For(fl) => innermost(&fl.body).or(Some(&fl.body[..])),
                Stmt::While(_, b) => innermost(b),
                Stmt::If(_, a, b) => innermost(a).or_else(|| innermost(b)),
                _ => None,
            })
        }
        analysis::conditional_index(innermost(&f.body).expect("a loop"))
    };
    let qs = include_str!("../../../../ir-modules/quicksort.bfir");
    let dfa = include_str!("../../../../ir-modules/regex_dfa.bfir");
    let primes = include_str!("../../../../ir-modules/primes.bfir");
    assert!(inner_body(qs, "quicksort"));
    assert!(!inner_body(dfa, "regex_dfa"), "table reads only");
    assert!(!inner_body(primes, "primes"));
}

#[test]
fn pow_with_a_loop_invariant_base_hoists_log2_into_the_entry_test() {
    // T1: calls; T2: log2 of `base` once before the loop (one fdiv), the fast copy
    // inline, the checked copy keeps its calls
    let t1 = clif(SRC, "decay", Tier::T1, CpuFeatures::all());
    assert_eq!(count(&t1, "fdiv"), 0, "{t1}");
    let t2 = clif(SRC, "decay", Tier::T2, CpuFeatures::all());
    assert_eq!(count(&t2, " fdiv "), 1, "{t2}");
    assert!(count(&t2, "fdemote") >= 2, "{t2}");
    assert_eq!(count(&t2, " = call "), 1, "{t2}");
}

#[test]
fn t3_vectorizes_transcendental_maps_and_inlines_expression_functions() {
    for f in ["softmax_sum", "silu", "waves"] {
        let t3 = clif(SRC, f, Tier::T3, CpuFeatures::all());
        assert!(count(&t3, "load.f32x4") >= 4, "{f}\n{t3}");
        assert!(t3.contains("bitcast.i32x4"), "{f}\n{t3}");
    }
    // silu's vector loop has no call to sig (the scalar remainder still has)
    let t3 = clif(SRC, "silu", Tier::T3, CpuFeatures::all());
    assert!(count(&t3, "bitcast.i32x4") >= 4, "{t3}");
}

#[test]
fn t3_vectorizes_exact_maps_but_not_dependences() {
    let t3 = clif(SRC, "axpy", Tier::T3, CpuFeatures::all());
    assert!(count(&t3, "load.f32x4") >= 4 && !t3.contains("fma"), "{t3}");
    let p = clif(SRC, "prefix", Tier::T3, CpuFeatures::all());
    assert!(!p.contains("f32x4"), "{p}");
}

#[test]
fn t3_vectorizes_exact_max_reductions_without_reassoc() {
    let t3 = clif(SRC, "vmax", Tier::T3, CpuFeatures::all());
    assert!(count(&t3, "load.f32x4") >= 4 && t3.contains("fmax"), "{t3}");
}

#[test]
fn data_dependent_index_stays_checked() {
    let t2 = clif(SRC, "hist", Tier::T2, CpuFeatures::all());
    // both evaluations of d[i] are hoisted and share one entry test (2 compares: first
    // and last iteration); h[d[i]] is checked in each copy (load + store)
    assert_eq!(count(&t2, "icmp ult"), 2, "{t2}");
    assert!(count(&t2, "icmp uge") >= 3, "{t2}");
}

#[test]
fn same_buffer_same_index_shares_one_pointer_and_one_entry_test() {
    let t2 = clif(SRC, "butterfly", Tier::T2, CpuFeatures::all());
    // 4 distinct (buffer, index) pairs: re[b], im[b], re[a], im[a] (9 syntactic
    // accesses); each is tested at the first and the last iteration
    assert_eq!(count(&t2, "icmp ult"), 8, "{t2}");
    // the checked copy keeps one check per syntactic access
    assert_eq!(count(&t2, "icmp uge"), 9, "{t2}");
}

#[test]
fn specialization_turns_args_into_constants() {
    let s = clif_spec(SRC, "axpy", Tier::T3, CpuFeatures::all(), &[(3, 1000)]);
    assert!(s.contains("iconst.i32 1000"), "{s}");
}

const NARROW_SRC: &str = r#"
fn q8dot(w: &[i8], x: &[i8], n: i32) -> i32 {
let acc = 0;
for i in 0..n { acc += w[i] * x[i]; }
return acc;
}
fn q8group(w: &[i8], x: &[i8], cols: i32, r: i32, g: i32, gs: i32) -> i32 {
let dot = 0;
for k in 0..gs { let c = g * gs + k; dot += (w[r * cols + c] as i32) * (x[c] as i32); }
return dot;
}
fn map16(a: f32, h: &[f16], x: &[f32], y: &mut [f32], n: i32) {
for i in 0..n { y[i] = a * h[i] + x[i]; }
}
fn dot16(h: &[f16], x: &[f32], n: i32) -> f32 {
let acc: f32 = 0.0;
for i in 0..n { acc += h[i] * x[i]; }
return acc;
}
"#;

#[test]
fn t3_vectorizes_the_i8_dot_into_i32_lanes() {
    for f in ["q8dot", "q8group"] {
        let t3 = clif(NARROW_SRC, f, Tier::T3, CpuFeatures::baseline());
        assert_eq!(count(&t3, "load.i8x16"), 2, "{f}\n{t3}");
        assert_eq!(count(&t3, "iadd_pairwise"), 2, "{f}\n{t3}");
        let t2 = clif(NARROW_SRC, f, Tier::T2, CpuFeatures::baseline());
        assert!(!t2.contains("i8x16") && t2.contains("sload8"), "{f}\n{t2}");
    }
}

#[test]
fn t3_vectorizes_f16_loads_in_f32_maps_and_sums() {
    for f in ["map16", "dot16"] {
        let t3 = clif(NARROW_SRC, f, Tier::T3, CpuFeatures::baseline());
        assert!(count(&t3, "uload16x4") >= 4, "{f}\n{t3}");
        let t2 = clif(NARROW_SRC, f, Tier::T2, CpuFeatures::baseline());
        assert!(!t2.contains("x4") && t2.contains("uload16"), "{f}\n{t2}");
    }
}
