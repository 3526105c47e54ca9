//! The `Ops` conformance check accepts PlainOps and catches a wrong implementation.

use tinyllama::conformance::check;
use tinyllama::{OpError, OpResult, Ops, PlainOps};

#[test]
fn plain_ops_conform_bit_exactly() {
    check(&PlainOps, 0.0).unwrap();
}

/// PlainOps except for RoPE, which uses the half-split pairing.
struct HalfSplitRope;

impl Ops for HalfSplitRope {
    fn matvec(&self, o: &mut [f32], w: &[f32], x: &[f32], r: usize, c: usize) -> OpResult {
        PlainOps.matvec(o, w, x, r, c)
    }
    fn matvec_f16(&self, o: &mut [f32], w: &[u16], x: &[f32], r: usize, c: usize) -> OpResult {
        PlainOps.matvec_f16(o, w, x, r, c)
    }
    fn matvec_q8(
        &self,
        o: &mut [f32],
        wq: &[i8],
        ws: &[f32],
        xq: &[i8],
        xs: &[f32],
        r: usize,
        c: usize,
        g: usize,
    ) -> OpResult {
        PlainOps.matvec_q8(o, wq, ws, xq, xs, r, c, g)
    }
    fn rmsnorm(&self, o: &mut [f32], x: &[f32], w: &[f32], eps: f32) -> OpResult {
        PlainOps.rmsnorm(o, x, w, eps)
    }
    fn softmax(&self, x: &mut [f32]) -> OpResult {
        PlainOps.softmax(x)
    }
    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], hs: usize) -> OpResult {
        let half = hs / 2;
        for head in x.chunks_exact_mut(hs) {
            for j in 0..half {
                let (a, b) = (head[j], head[j + half]);
                head[j] = a * cos[j] - b * sin[j];
                head[j + half] = a * sin[j] + b * cos[j];
            }
        }
        Ok(())
    }
    fn swiglu(&self, g: &mut [f32], u: &[f32]) -> OpResult {
        PlainOps.swiglu(g, u)
    }
    fn attention(
        &self,
        o: &mut [f32],
        q: &[f32],
        k: &[f32],
        v: &[f32],
        s: &mut [f32],
        n: usize,
        hs: usize,
        stride: usize,
        off: usize,
    ) -> OpResult {
        PlainOps.attention(o, q, k, v, s, n, hs, stride, off)
    }
}

#[test]
fn a_wrong_rope_is_caught() {
    let e = check(&HalfSplitRope, 1e-5).unwrap_err();
    assert!(e.case().starts_with("rope"), "{e}");
}

/// PlainOps whose attention "traps" once the cache holds more than 3 positions.
struct TrapsLate;

impl Ops for TrapsLate {
    fn matvec(&self, o: &mut [f32], w: &[f32], x: &[f32], r: usize, c: usize) -> OpResult {
        PlainOps.matvec(o, w, x, r, c)
    }
    fn matvec_f16(&self, o: &mut [f32], w: &[u16], x: &[f32], r: usize, c: usize) -> OpResult {
        PlainOps.matvec_f16(o, w, x, r, c)
    }
    fn matvec_q8(
        &self,
        o: &mut [f32],
        wq: &[i8],
        ws: &[f32],
        xq: &[i8],
        xs: &[f32],
        r: usize,
        c: usize,
        g: usize,
    ) -> OpResult {
        PlainOps.matvec_q8(o, wq, ws, xq, xs, r, c, g)
    }
    fn rmsnorm(&self, o: &mut [f32], x: &[f32], w: &[f32], eps: f32) -> OpResult {
        PlainOps.rmsnorm(o, x, w, eps)
    }
    fn softmax(&self, x: &mut [f32]) -> OpResult {
        PlainOps.softmax(x)
    }
    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], hs: usize) -> OpResult {
        PlainOps.rope(x, cos, sin, hs)
    }
    fn swiglu(&self, g: &mut [f32], u: &[f32]) -> OpResult {
        PlainOps.swiglu(g, u)
    }
    fn attention(
        &self,
        o: &mut [f32],
        q: &[f32],
        k: &[f32],
        v: &[f32],
        s: &mut [f32],
        n: usize,
        hs: usize,
        stride: usize,
        off: usize,
    ) -> OpResult {
        if n > 3 {
            return Err(OpError {
                op: "attention",
                reason: String::from("out-of-bounds trap"),
            });
        }
        PlainOps.attention(o, q, k, v, s, n, hs, stride, off)
    }
}

#[test]
fn an_op_error_stops_the_forward_pass_and_the_check() {
    use tinyllama::synth::{Shape, synth_weights};
    let c = Shape::Tiny.config();
    let w = synth_weights(&c, 1, true);
    let mut s = tinyllama::Session::new(c, &w, TrapsLate, 8).unwrap();
    for pos in 0..3 {
        s.forward(1, pos).unwrap();
    }
    let e = s.forward(1, 3).unwrap_err();
    assert_eq!(
        e,
        tinyllama::Error::Op {
            op: String::from("attention"),
            reason: String::from("out-of-bounds trap")
        }
    );
    assert!(e.to_string().contains("op attention failed"));
    let f = check(&TrapsLate, 1e-5).unwrap_err();
    assert!(f.to_string().contains("the op failed"), "{f}");
}

/// PlainOps, except that matvec sums rows in blocks of 4 and the rows left
/// over in a plain left-to-right loop: each row's value then depends on
/// where the call's row range starts, which breaks worker splitting.
struct RemainderRowsDiffer;

impl Ops for RemainderRowsDiffer {
    fn matvec(&self, o: &mut [f32], w: &[f32], x: &[f32], r: usize, c: usize) -> OpResult {
        let blocked = r / 4 * 4;
        PlainOps.matvec(&mut o[..blocked], &w[..blocked * c], x, blocked, c)?;
        for (out, row) in o[blocked..]
            .iter_mut()
            .zip(w[blocked * c..].chunks_exact(c))
        {
            *out = row.iter().zip(x).fold(0.0, |s, (a, b)| s + a * b);
        }
        Ok(())
    }
    fn matvec_f16(&self, o: &mut [f32], w: &[u16], x: &[f32], r: usize, c: usize) -> OpResult {
        PlainOps.matvec_f16(o, w, x, r, c)
    }
    fn matvec_q8(
        &self,
        o: &mut [f32],
        wq: &[i8],
        ws: &[f32],
        xq: &[i8],
        xs: &[f32],
        r: usize,
        c: usize,
        g: usize,
    ) -> OpResult {
        PlainOps.matvec_q8(o, wq, ws, xq, xs, r, c, g)
    }
    fn rmsnorm(&self, o: &mut [f32], x: &[f32], w: &[f32], eps: f32) -> OpResult {
        PlainOps.rmsnorm(o, x, w, eps)
    }
    fn softmax(&self, x: &mut [f32]) -> OpResult {
        PlainOps.softmax(x)
    }
    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], hs: usize) -> OpResult {
        PlainOps.rope(x, cos, sin, hs)
    }
    fn swiglu(&self, g: &mut [f32], u: &[f32]) -> OpResult {
        PlainOps.swiglu(g, u)
    }
    fn attention(
        &self,
        o: &mut [f32],
        q: &[f32],
        k: &[f32],
        v: &[f32],
        s: &mut [f32],
        n: usize,
        hs: usize,
        stride: usize,
        off: usize,
    ) -> OpResult {
        PlainOps.attention(o, q, k, v, s, n, hs, stride, off)
    }
}

#[test]
fn a_matvec_that_depends_on_the_row_range_is_caught() {
    // Within the tolerance of PlainOps, but not row-split invariant.
    let e = check(&RemainderRowsDiffer, 1e-4).unwrap_err();
    assert!(
        e.case().starts_with("matvec ") && e.case().contains("rows split"),
        "{e}"
    );
}
