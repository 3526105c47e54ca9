//! Choosing the next token from logits: greedy, temperature, top-p (nucleus).

use alloc::vec::Vec;

/// A small seedable generator (xorshift64*), the same sequence on every target.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator from `seed` (0 is remapped, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / 16_777_216.0
    }
}

/// How the next token is chosen.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// 0 means greedy (argmax); otherwise logits are divided by it.
    pub temperature: f32,
    /// Nucleus threshold in `(0, 1)`; values outside that range sample from
    /// the whole distribution.
    pub top_p: f32,
    rng: Rng,
    candidates: Vec<(f32, u32)>,
}

/// Index of the largest value (the first one on ties; 0 for an empty slice).
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[best] {
            best = i;
        }
    }
    best as u32
}

fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

impl Sampler {
    /// Greedy decoding.
    pub fn greedy() -> Sampler {
        Sampler::new(0.0, 1.0, 0)
    }

    /// A sampler with the given temperature, top-p and seed.
    pub fn new(temperature: f32, top_p: f32, seed: u64) -> Sampler {
        Sampler {
            temperature,
            top_p,
            rng: Rng::new(seed),
            candidates: Vec::new(),
        }
    }

    /// Picks the next token; `logits` is used as scratch.
    pub fn sample(&mut self, logits: &mut [f32]) -> u32 {
        if logits.is_empty() {
            return 0;
        }
        if self.temperature.is_nan() || self.temperature <= 0.0 {
            return argmax(logits);
        }
        for l in logits.iter_mut() {
            *l /= self.temperature;
        }
        softmax(logits);
        let coin = self.rng.next_f32();
        if self.top_p > 0.0 && self.top_p < 1.0 {
            self.top_p_sample(logits, coin)
        } else {
            sample_multinomial(logits, coin)
        }
    }

    fn top_p_sample(&mut self, probs: &[f32], coin: f32) -> u32 {
        // Tokens below this probability cannot be in the nucleus: even if all
        // of them were, they would sum to less than 1 - top_p.
        let n = probs.len();
        let cutoff = (1.0 - self.top_p) / (n.max(2) - 1) as f32;
        self.candidates.clear();
        self.candidates.extend(
            probs
                .iter()
                .enumerate()
                .filter(|(_, p)| **p >= cutoff)
                .map(|(i, p)| (*p, i as u32)),
        );
        if self.candidates.is_empty() {
            return argmax(probs);
        }
        self.candidates
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut cum = 0.0;
        let mut last = self.candidates.len() - 1;
        for (i, (p, _)) in self.candidates.iter().enumerate() {
            cum += p;
            if cum > self.top_p {
                last = i;
                break;
            }
        }
        let r = coin * cum;
        let mut acc = 0.0;
        for (p, id) in &self.candidates[..=last] {
            acc += p;
            if r < acc {
                return *id;
            }
        }
        self.candidates[last].1
    }
}

/// Samples an index from probabilities summing to about 1, with `coin` in `[0, 1)`.
pub fn sample_multinomial(probs: &[f32], coin: f32) -> u32 {
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if coin < acc {
            return i as u32;
        }
    }
    (probs.len() - 1) as u32
}
