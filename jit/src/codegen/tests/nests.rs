//! The nest vectorizers (`analysis::column_nest` + `lower::column_vector`,
//! `analysis::map_nest` + `lower::map_vector`), read off the Cranelift IR.

use super::{clif, count};
use crate::codegen::CpuFeatures;
use crate::ir::Tier;

const MATMUL: &str = include_str!("../../../../ir-modules/matmul.bfir");

const COLUMN_SRC: &str = r#"
fn matmul_exact(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
for i in 0..m {
    for j in 0..n {
        let acc: f32 = 0.0;
        for p in 0..k { acc += a[i * k + p] * b[p * n + j]; }
        c[i * n + j] = acc;
    }
}
}
/// reads the stored buffer: must not be vectorized across columns
#[reassoc]
fn self_read(b: &[f32], c: &mut [f32], n: i32, k: i32) {
for j in 0..n {
    let acc: f32 = 0.0;
    for p in 0..k { acc += c[p] * b[p * n + j]; }
    c[j] = acc;
}
}
/// stride-2 columns: not contiguous along j
#[reassoc]
fn strided(b: &[f32], c: &mut [f32], n: i32, k: i32) {
for j in 0..n {
    let acc: f32 = 0.0;
    for p in 0..k { acc += b[p * n + 2 * j]; }
    c[j] = acc;
}
}
/// triangular: the inner bound depends on the column
#[reassoc]
fn tri(b: &[f32], c: &mut [f32], n: i32) {
for j in 0..n {
    let acc: f32 = 0.0;
    for p in 0..j { acc += b[p * n + j]; }
    c[j] = acc;
}
}
/// a statement other than an accumulator update in the inner loop
#[reassoc]
fn side(b: &[f32], c: &mut [f32], d: &mut [f32], n: i32, k: i32) {
for j in 0..n {
    let acc: f32 = 0.0;
    for p in 0..k { acc += b[p * n + j]; d[p] = acc; }
    c[j] = acc;
}
}
"#;

#[test]
fn t3_vectorizes_matmul_over_columns() {
    let t3 = clif(MATMUL, "matmul", Tier::T3, CpuFeatures::all());
    // passes of 8, 4 and 1 vectors: per p one broadcast of a and that many column
    // vectors of b into as many fma chains; as many vector stores of c
    assert_eq!(count(&t3, "load.f32x4"), 13, "{t3}");
    assert_eq!(count(&t3, "= fma v"), 13, "{t3}");
    assert!(count(&t3, "splat.f32x4") >= 2, "{t3}");
    assert_eq!(count(&t3, "store.f32x4"), 13, "{t3}");
    // T2 has no vectors at all
    let t2 = clif(MATMUL, "matmul", Tier::T2, CpuFeatures::all());
    assert!(!t2.contains("f32x4"), "{t2}");
    // without FMA hardware: vector mul + add
    let t3b = clif(MATMUL, "matmul", Tier::T3, CpuFeatures::baseline());
    assert!(t3b.contains("load.f32x4") && !t3b.contains("fma"), "{t3b}");
}

#[test]
fn t3_exact_matmul_is_vectorized_without_contraction() {
    let t3 = clif(COLUMN_SRC, "matmul_exact", Tier::T3, CpuFeatures::all());
    assert!(count(&t3, "load.f32x4") >= 5, "{t3}");
    assert!(!t3.contains("fma"), "{t3}");
}

#[test]
fn t3_rejects_nests_that_are_not_lane_wise() {
    for name in ["self_read", "strided", "tri", "side"] {
        let t3 = clif(COLUMN_SRC, name, Tier::T3, CpuFeatures::all());
        assert!(!t3.contains("f32x4"), "{name}: {t3}");
    }
}

const FFT: &str = include_str!("../../../../ir-modules/fft.bfir");

const MAP_SRC: &str = r#"
/// lanes 2 apart write each other's elements: the entry test sends it to the checked loop
fn overlap(x: &mut [f32], n: i32) {
for k in 0..n {
    let w = k as f32;
    for s in 0..8 step 4 {
        x[s + k + 2] = x[s + k] * w;
    }
}
}
/// a k-invariant store: every lane writes the same element
fn same_elem(x: &mut [f32], n: i32) {
for k in 0..n {
    let w = k as f32;
    for s in 0..4 { x[s] = w; }
}
}
/// an i32 local other than an affine index helper
fn int_state(x: &mut [f32], n: i32) {
for k in 0..n {
    let w = k as f32;
    for s in 0..4 { let q = s * s; x[q + k] = w; }
}
}
"#;

#[test]
fn t3_vectorizes_fft_butterflies_over_k() {
    let t3 = clif(FFT, "fft", Tier::T3, CpuFeatures::all());
    // re[a], re[b], im[a], im[b]: one vector load and one vector store each
    assert!(count(&t3, "load.f32x4") >= 4, "{t3}");
    assert!(count(&t3, "store notrap") >= 4, "{t3}");
    // the twiddles: k as f32 in lanes, inline vector sin and cos
    assert!(t3.contains("fcvt_from_sint.f32x4"), "{t3}");
    assert!(count(&t3, "bitcast.i32x4") >= 2, "{t3}");
    // bit-exact: nothing contracted
    assert!(!t3.contains("fma"), "{t3}");
    let t2 = clif(FFT, "fft", Tier::T2, CpuFeatures::all());
    assert!(!t2.contains("f32x4"), "{t2}");
}

#[test]
fn t3_overlap_test_is_emitted_and_non_lane_wise_nests_are_rejected() {
    // the lane-distance test (|d| >= 4) is a runtime condition: the nest is vectorized
    let t3 = clif(MAP_SRC, "overlap", Tier::T3, CpuFeatures::all());
    assert!(t3.contains("load.f32x4"), "{t3}");
    assert!(t3.contains("fcvt_from_sint.f32x4"), "{t3}");
    // (same_elem's inner loop alone may still be vectorized over s)
    for name in ["same_elem", "int_state"] {
        let t3 = clif(MAP_SRC, name, Tier::T3, CpuFeatures::all());
        assert!(!t3.contains("fcvt_from_sint.f32x4"), "{name}: {t3}");
    }
}
