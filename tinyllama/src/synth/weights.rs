//! Deterministic random weights on the exactly-representable grid.

use alloc::vec::Vec;

use crate::config::Config;
use crate::sampler::Rng;
use crate::tensor::Tensor;
use crate::weights::{LayerWeights, Weights};

use super::GROUP;

/// Values of a `rows × cols` matrix whose entries have a standard deviation
/// of about `std`, on the grid described in [`super`].
fn grid_matrix(rng: &mut Rng, n: usize, std: f32) -> Vec<f32> {
    // q is uniform on [-127, 127] (std ≈ 73.3), so the scale is std / 73.3,
    // rounded to a power of two; half of the groups get half that scale.
    let base = libm::roundf(libm::log2f(73.3 / std)) as i32;
    let mut out = Vec::with_capacity(n);
    let mut group = [0i32; GROUP];
    for start in (0..n).step_by(GROUP) {
        let len = GROUP.min(n - start);
        let e = base + (rng.next_u32() & 1) as i32;
        let scale = libm::ldexpf(1.0, -e);
        for q in group.iter_mut().take(len) {
            *q = (rng.next_u32() % 255) as i32 - 127;
        }
        let peak = rng.next_u32() as usize % len;
        group[peak] = if rng.next_u32() & 1 == 0 { 127 } else { -127 };
        out.extend(group[..len].iter().map(|&q| q as f32 * scale));
    }
    out
}

/// Norm weights: `q · 2^-7` with `q` in 96..=127 (values in [0.75, 1)).
fn grid_norm(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| (96 + rng.next_u32() % 32) as f32 / 128.0)
        .collect()
}

/// Random weights for `config` from `seed`; `shared_classifier` ties the
/// classifier to the embedding. Row lengths (`dim`, `hidden_dim`) should be
/// multiples of 32 for the exactness property to hold in every format.
pub fn synth_weights(config: &Config, seed: u64, shared_classifier: bool) -> Weights {
    let mut rng = Rng::new(seed);
    let (d, h, kv, v) = (
        config.dim,
        config.hidden_dim,
        config.kv_dim(),
        config.vocab_size,
    );
    let inv = |n: usize| 1.0 / libm::sqrtf(n as f32);
    // Embedding / classifier rows: logits with a standard deviation near 3.
    let token_embedding = Tensor::F32(grid_matrix(&mut rng, v * d, 3.0 * inv(d)));
    let layers = (0..config.n_layers)
        .map(|_| LayerWeights {
            rms_att: grid_norm(&mut rng, d),
            wq: Tensor::F32(grid_matrix(&mut rng, d * d, inv(d))),
            wk: Tensor::F32(grid_matrix(&mut rng, kv * d, inv(d))),
            wv: Tensor::F32(grid_matrix(&mut rng, kv * d, inv(d))),
            wo: Tensor::F32(grid_matrix(&mut rng, d * d, inv(d))),
            rms_ffn: grid_norm(&mut rng, d),
            w1: Tensor::F32(grid_matrix(&mut rng, h * d, inv(d))),
            w2: Tensor::F32(grid_matrix(&mut rng, d * h, inv(h))),
            w3: Tensor::F32(grid_matrix(&mut rng, h * d, inv(d))),
        })
        .collect();
    let rms_final = grid_norm(&mut rng, d);
    let wcls = if shared_classifier {
        None
    } else {
        Some(Tensor::F32(grid_matrix(&mut rng, v * d, 3.0 * inv(d))))
    };
    Weights {
        token_embedding,
        layers,
        rms_final,
        wcls,
    }
}
