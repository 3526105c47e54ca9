//! One forward step of the tiny model checked op by op: every op the
//! forward pass performs is recorded (inputs and output) and recomputed from
//! the math in f64, within 1e-5 relative to the largest expected magnitude.

mod common;

use std::sync::Mutex;

use common::rel_err;
use tinyllama::synth::{Shape, synth_weights};
use tinyllama::{OpResult, Ops, PlainOps, Session};

enum Rec {
    Matvec {
        w: Vec<f32>,
        x: Vec<f32>,
        rows: usize,
        out: Vec<f32>,
    },
    Rmsnorm {
        x: Vec<f32>,
        w: Vec<f32>,
        eps: f32,
        out: Vec<f32>,
    },
    Rope {
        x: Vec<f32>,
        cos: Vec<f32>,
        sin: Vec<f32>,
        hs: usize,
        out: Vec<f32>,
    },
    Swiglu {
        g: Vec<f32>,
        u: Vec<f32>,
        out: Vec<f32>,
    },
    Attention {
        q: Vec<f32>,
        k: Vec<Vec<f32>>,
        v: Vec<Vec<f32>>,
        out: Vec<f32>,
    },
}

/// `Ops` must be `Sync` (workers share it): the log sits behind a mutex.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<Rec>>,
}

impl Ops for Recorder {
    fn matvec(&self, out: &mut [f32], w: &[f32], x: &[f32], rows: usize, cols: usize) -> OpResult {
        PlainOps.matvec(out, w, x, rows, cols)?;
        self.log.lock().unwrap().push(Rec::Matvec {
            w: w.to_vec(),
            x: x.to_vec(),
            rows,
            out: out.to_vec(),
        });
        Ok(())
    }
    fn matvec_f16(&self, out: &mut [f32], w: &[u16], x: &[f32], r: usize, c: usize) -> OpResult {
        unreachable!("the fp32 model has no f16 tensors: {out:?} {w:?} {x:?} {r} {c}")
    }
    fn matvec_q8(
        &self,
        out: &mut [f32],
        wq: &[i8],
        ws: &[f32],
        xq: &[i8],
        xs: &[f32],
        rows: usize,
        cols: usize,
        group: usize,
    ) -> OpResult {
        unreachable!(
            "the fp32 model has no Q8 tensors: {out:?} {wq:?} {ws:?} {xq:?} {xs:?} {rows} {cols} {group}"
        )
    }
    fn rmsnorm(&self, out: &mut [f32], x: &[f32], w: &[f32], eps: f32) -> OpResult {
        PlainOps.rmsnorm(out, x, w, eps)?;
        self.log.lock().unwrap().push(Rec::Rmsnorm {
            x: x.to_vec(),
            w: w.to_vec(),
            eps,
            out: out.to_vec(),
        });
        Ok(())
    }
    fn softmax(&self, x: &mut [f32]) -> OpResult {
        unreachable!("the forward pass calls softmax only inside attention: {x:?}")
    }
    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], hs: usize) -> OpResult {
        let before = x.to_vec();
        PlainOps.rope(x, cos, sin, hs)?;
        self.log.lock().unwrap().push(Rec::Rope {
            x: before,
            cos: cos.to_vec(),
            sin: sin.to_vec(),
            hs,
            out: x.to_vec(),
        });
        Ok(())
    }
    fn swiglu(&self, g: &mut [f32], u: &[f32]) -> OpResult {
        let before = g.to_vec();
        PlainOps.swiglu(g, u)?;
        self.log.lock().unwrap().push(Rec::Swiglu {
            g: before,
            u: u.to_vec(),
            out: g.to_vec(),
        });
        Ok(())
    }
    fn attention(
        &self,
        out: &mut [f32],
        q: &[f32],
        kc: &[f32],
        vc: &[f32],
        scores: &mut [f32],
        n_pos: usize,
        hs: usize,
        stride: usize,
        off: usize,
    ) -> OpResult {
        PlainOps.attention(out, q, kc, vc, scores, n_pos, hs, stride, off)?;
        let rows = |c: &[f32]| {
            (0..n_pos)
                .map(|t| c[t * stride + off..][..hs].to_vec())
                .collect()
        };
        self.log.lock().unwrap().push(Rec::Attention {
            q: q.to_vec(),
            k: rows(kc),
            v: rows(vc),
            out: out.to_vec(),
        });
        Ok(())
    }
}

fn d(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn one_forward_step_op_by_op() {
    let c = Shape::Tiny.config();
    let w = synth_weights(&c, 13, false);
    let ops = Recorder::default();
    let mut s = Session::new(c, &w, ops, 8).unwrap();
    let tokens = [1u32, 280, 300, 45];
    let pos = tokens.len() - 1;
    for (p, &t) in tokens[..pos].iter().enumerate() {
        s.forward(t, p).unwrap();
    }
    s.ops().log.lock().unwrap().clear();
    s.forward(tokens[pos], pos).unwrap();

    let log = s.ops().log.lock().unwrap();
    let (mut mv, mut rn, mut rp, mut sw, mut at) = (0, 0, 0, 0, 0);
    for (i, r) in log.iter().enumerate() {
        let (got, want): (&[f32], Vec<f64>) = match r {
            Rec::Matvec { w, x, rows, out } => {
                mv += 1;
                let cols = x.len();
                let e = (0..*rows)
                    .map(|r| {
                        (0..cols)
                            .map(|k| w[r * cols + k] as f64 * x[k] as f64)
                            .sum()
                    })
                    .collect();
                (out, e)
            }
            Rec::Rmsnorm { x, w, eps, out } => {
                rn += 1;
                let ms = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
                let inv = 1.0 / (ms + *eps as f64).sqrt();
                (
                    out,
                    x.iter()
                        .zip(w)
                        .map(|(&a, &b)| a as f64 * inv * b as f64)
                        .collect(),
                )
            }
            Rec::Rope {
                x,
                cos,
                sin,
                hs,
                out,
            } => {
                rp += 1;
                // The tables are the math's cos/sin of this position's angles...
                for j in 0..hs / 2 {
                    let angle = pos as f64 * 10000f64.powf(-((2 * j) as f64) / *hs as f64);
                    assert!((cos[j] as f64 - angle.cos()).abs() < 1e-7, "cos {j}");
                    assert!((sin[j] as f64 - angle.sin()).abs() < 1e-7, "sin {j}");
                }
                // ...and each adjacent pair is rotated by them.
                let mut e = d(x);
                for h in 0..x.len() / hs {
                    for j in 0..hs / 2 {
                        let angle = pos as f64 * 10000f64.powf(-((2 * j) as f64) / *hs as f64);
                        let (a, b) = (e[h * hs + 2 * j], e[h * hs + 2 * j + 1]);
                        e[h * hs + 2 * j] = a * angle.cos() - b * angle.sin();
                        e[h * hs + 2 * j + 1] = a * angle.sin() + b * angle.cos();
                    }
                }
                (out, e)
            }
            Rec::Swiglu { g, u, out } => {
                sw += 1;
                (
                    out,
                    g.iter()
                        .zip(u)
                        .map(|(&a, &b)| a as f64 / (1.0 + (-(a as f64)).exp()) * b as f64)
                        .collect(),
                )
            }
            Rec::Attention { q, k, v, out } => {
                at += 1;
                let hs = q.len();
                let s: Vec<f64> = k
                    .iter()
                    .map(|kt| {
                        kt.iter()
                            .zip(q)
                            .map(|(&a, &b)| a as f64 * b as f64)
                            .sum::<f64>()
                            / (hs as f64).sqrt()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
                let e = (0..hs)
                    .map(|i| {
                        s.iter()
                            .zip(v)
                            .map(|(st, vt)| (st - m).exp() / z * vt[i] as f64)
                            .sum()
                    })
                    .collect();
                (out, e)
            }
        };
        let err = rel_err(got, &want);
        assert!(err < 1e-5, "op {i}: relative error {err}");
    }
    // The op sequence of one step: per layer 7 projections, 2 norms, RoPE on
    // q and k, one attention per query head, one SwiGLU; then the final norm
    // and the classifier.
    let l = c.n_layers;
    assert_eq!(
        (mv, rn, rp, sw, at),
        (7 * l + 1, 2 * l + 1, 2 * l, l, c.n_heads * l)
    );
}
