//! A second implementation of the transformer written straight from the math,
//! in f64, recomputing the whole sequence with no KV cache. It shares no code
//! with the crate: it only reads the weights as plain f32 arrays.
#![allow(dead_code)]

use tinyllama::{Config, Weights};

pub struct RefLayer {
    pub rms_att: Vec<f64>,
    pub wq: Vec<f64>,
    pub wk: Vec<f64>,
    pub wv: Vec<f64>,
    pub wo: Vec<f64>,
    pub rms_ffn: Vec<f64>,
    pub w1: Vec<f64>,
    pub w2: Vec<f64>,
    pub w3: Vec<f64>,
}

pub struct RefModel {
    pub c: Config,
    pub emb: Vec<f64>,
    pub layers: Vec<RefLayer>,
    pub rms_final: Vec<f64>,
    pub cls: Vec<f64>,
    /// Use Hugging Face's half-split RoPE (`rotate_half`) instead of
    /// interleaved pairs: the convention of HF checkpoints before llama.cpp's
    /// converter permutes their Q/K rows.
    pub half_split_rope: bool,
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

impl RefModel {
    pub fn new(c: Config, w: &Weights) -> RefModel {
        let emb = f64s(&w.token_embedding.to_f32());
        let cls = match &w.wcls {
            Some(t) => f64s(&t.to_f32()),
            None => emb.clone(),
        };
        RefModel {
            c,
            half_split_rope: false,
            emb,
            cls,
            rms_final: f64s(&w.rms_final),
            layers: w
                .layers
                .iter()
                .map(|l| RefLayer {
                    rms_att: f64s(&l.rms_att),
                    wq: f64s(&l.wq.to_f32()),
                    wk: f64s(&l.wk.to_f32()),
                    wv: f64s(&l.wv.to_f32()),
                    wo: f64s(&l.wo.to_f32()),
                    rms_ffn: f64s(&l.rms_ffn),
                    w1: f64s(&l.w1.to_f32()),
                    w2: f64s(&l.w2.to_f32()),
                    w3: f64s(&l.w3.to_f32()),
                })
                .collect(),
        }
    }

    /// Logits at every position of `tokens`, each computed from the full prefix.
    pub fn logits(&self, tokens: &[u32]) -> Vec<Vec<f64>> {
        let c = &self.c;
        let (d, hs) = (c.dim, c.dim / c.n_heads);
        let kv_dim = c.n_kv_heads * hs;
        let n = tokens.len();
        let mut x: Vec<Vec<f64>> = tokens
            .iter()
            .map(|&t| self.emb[t as usize * d..(t as usize + 1) * d].to_vec())
            .collect();
        for l in &self.layers {
            let xn: Vec<Vec<f64>> = x
                .iter()
                .map(|v| rmsnorm(v, &l.rms_att, c.rms_eps))
                .collect();
            let mut q: Vec<Vec<f64>> = xn.iter().map(|v| matvec(&l.wq, v, d)).collect();
            let mut k: Vec<Vec<f64>> = xn.iter().map(|v| matvec(&l.wk, v, kv_dim)).collect();
            let v: Vec<Vec<f64>> = xn.iter().map(|v| matvec(&l.wv, v, kv_dim)).collect();
            for t in 0..n {
                let r = if self.half_split_rope {
                    rope_half_split
                } else {
                    rope
                };
                r(&mut q[t], t, hs, c.rope_theta as f64);
                r(&mut k[t], t, hs, c.rope_theta as f64);
            }
            for t in 0..n {
                let mut att_out = vec![0.0; d];
                for h in 0..c.n_heads {
                    // Query head h reads key/value head h / (heads per KV head).
                    let kvh = h / (c.n_heads / c.n_kv_heads);
                    let qh = &q[t][h * hs..(h + 1) * hs];
                    let scores: Vec<f64> = (0..=t)
                        .map(|u| {
                            let kh = &k[u][kvh * hs..(kvh + 1) * hs];
                            qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f64>() / (hs as f64).sqrt()
                        })
                        .collect();
                    let p = softmax(&scores);
                    for (u, pu) in p.iter().enumerate() {
                        for i in 0..hs {
                            att_out[h * hs + i] += pu * v[u][kvh * hs + i];
                        }
                    }
                }
                let o = matvec(&l.wo, &att_out, d);
                for i in 0..d {
                    x[t][i] += o[i];
                }
                let xn = rmsnorm(&x[t], &l.rms_ffn, c.rms_eps);
                let a = matvec(&l.w1, &xn, c.hidden_dim);
                let b = matvec(&l.w3, &xn, c.hidden_dim);
                let g: Vec<f64> = a
                    .iter()
                    .zip(&b)
                    .map(|(a, b)| a / (1.0 + (-a).exp()) * b)
                    .collect();
                let down = matvec(&l.w2, &g, d);
                for i in 0..d {
                    x[t][i] += down[i];
                }
            }
        }
        x.iter()
            .map(|v| {
                matvec(
                    &self.cls,
                    &rmsnorm(v, &self.rms_final, c.rms_eps),
                    c.vocab_size,
                )
            })
            .collect()
    }
}

/// `w` is `rows × x.len()` row-major.
pub fn matvec(w: &[f64], x: &[f64], rows: usize) -> Vec<f64> {
    let cols = x.len();
    (0..rows)
        .map(|r| (0..cols).map(|c| w[r * cols + c] * x[c]).sum())
        .collect()
}

pub fn rmsnorm(x: &[f64], w: &[f64], eps: f32) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let r = 1.0 / (ms + eps as f64).sqrt();
    x.iter().zip(w).map(|(v, g)| v * r * g).collect()
}

pub fn softmax(x: &[f64]) -> Vec<f64> {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// RoPE as a complex rotation of each pair (x[2j], x[2j+1]) of every head by
/// the angle pos · θ^(−2j / head_size).
pub fn rope(x: &mut [f64], pos: usize, hs: usize, theta: f64) {
    for head in x.chunks_mut(hs) {
        for j in 0..hs / 2 {
            let angle = pos as f64 * theta.powf(-((2 * j) as f64) / hs as f64);
            let (re, im) = (head[2 * j], head[2 * j + 1]);
            let (c, s) = (angle.cos(), angle.sin());
            head[2 * j] = re * c - im * s;
            head[2 * j + 1] = re * s + im * c;
        }
    }
}

/// Half-split RoPE: element j of each head pairs with element j + head_size/2,
/// rotated by the angle pos · θ^(−2j / head_size).
pub fn rope_half_split(x: &mut [f64], pos: usize, hs: usize, theta: f64) {
    let half = hs / 2;
    for head in x.chunks_mut(hs) {
        for j in 0..half {
            let angle = pos as f64 * theta.powf(-((2 * j) as f64) / hs as f64);
            let (a, b) = (head[j], head[j + half]);
            let (c, s) = (angle.cos(), angle.sin());
            head[j] = a * c - b * s;
            head[j + half] = a * s + b * c;
        }
    }
}
