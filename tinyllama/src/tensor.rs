//! Weight tensors (fp32, f16 or Q8 groups), f16 conversion and Q8 quantization.

use alloc::vec::Vec;

/// A 2-D weight matrix stored row-major (`rows` × `cols`), or a 1-D vector (`rows == 1`).
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    /// Plain fp32 values, `rows * cols` of them.
    F32(Vec<f32>),
    /// IEEE-754 binary16 values as their bit patterns, `rows * cols` of them
    /// (kept as the file stores them; widened to fp32 inside the matvec).
    F16(Vec<u16>),
    /// Symmetric int8 quantization in groups of `group` consecutive values
    /// (groups never straddle rows: `cols % group == 0`):
    /// value `i` is `q[i] as f32 * scales[i / group]`.
    Q8 {
        /// The int8 values, `rows * cols` of them.
        q: Vec<i8>,
        /// One scale per group, `rows * cols / group` of them.
        scales: Vec<f32>,
        /// Group size.
        group: usize,
    },
}

impl Tensor {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Tensor::F32(v) => v.len(),
            Tensor::F16(v) => v.len(),
            Tensor::Q8 { q, .. } => q.len(),
        }
    }

    /// Bytes of memory the tensor's buffers hold (their capacity).
    pub fn resident_bytes(&self) -> usize {
        match self {
            Tensor::F32(v) => core::mem::size_of_val(v.as_slice()) + spare::<f32>(v),
            Tensor::F16(v) => core::mem::size_of_val(v.as_slice()) + spare::<u16>(v),
            Tensor::Q8 { q, scales, .. } => {
                q.len() + spare::<i8>(q) + core::mem::size_of_val(scales.as_slice()) + spare(scales)
            }
        }
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes values `start .. start + out.len()` as fp32 into `out`.
    /// The caller keeps the range inside the tensor (checked by the loaders).
    pub fn dequantize_into(&self, start: usize, out: &mut [f32]) {
        match self {
            Tensor::F32(v) => out.copy_from_slice(&v[start..start + out.len()]),
            Tensor::F16(v) => {
                let n = out.len();
                for (o, h) in out.iter_mut().zip(&v[start..start + n]) {
                    *o = f16_to_f32(*h);
                }
            }
            Tensor::Q8 { q, scales, group } => {
                for (i, o) in out.iter_mut().enumerate() {
                    let idx = start + i;
                    *o = q[idx] as f32 * scales[idx / group];
                }
            }
        }
    }

    /// All values as fp32.
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = alloc::vec![0.0; self.len()];
        self.dequantize_into(0, &mut out);
        out
    }
}

/// Bytes of a vector's capacity beyond its length.
fn spare<T>(v: &Vec<T>) -> usize {
    (v.capacity() - v.len()) * core::mem::size_of::<T>()
}

/// Converts an IEEE-754 binary16 value to f32 (exact: every f16 is an f32;
/// NaN payloads are kept). Branch-free, so loops over it vectorize, and it
/// does no arithmetic on subnormal floats (correct with denormals-are-zero).
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let magnitude = h & 0x7fff;
    // Normal numbers: move exponent and mantissa into place and rebias the
    // exponent from 15 to 127 (+112); infinities and NaNs go to 255 (+224).
    let rebias = if magnitude >= 0x7c00 { 224 } else { 112 };
    let normal = (magnitude << 13) + (rebias << 23);
    // Zero and subnormals: mantissa × 2^-24, both factors and the product exact.
    let subnormal = (magnitude as f32 * f32::from_bits(0x3380_0000)).to_bits();
    f32::from_bits(sign | if magnitude < 0x400 { subnormal } else { normal })
}

/// Converts f32 to binary16 with round-to-nearest-even (overflow gives ±inf).
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        // inf or NaN (keep NaN quiet and non-zero).
        let m = if mant != 0 { 0x200 } else { 0 };
        return sign | 0x7c00 | m;
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal or zero in f16.
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rem = m & ((1u32 << shift) - 1);
        let mut r = m >> shift;
        if rem > half || (rem == half && (r & 1) == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let rem = mant & 0x1fff;
    let mut r = ((e as u32) << 10) | (mant >> 13);
    if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) {
        r += 1; // may carry into the exponent, which is the correct rounding
    }
    sign | r as u16
}

/// Quantizes `x` into int8 groups of `group` values: per group the scale is
/// `max|x| / 127` and `q = round(x / scale)`. `x.len()` must be a multiple of
/// `group`; `q` has `x.len()` entries and `scales` `x.len() / group`.
pub fn quantize_q8(q: &mut [i8], scales: &mut [f32], x: &[f32], group: usize) {
    for ((xg, qg), s) in x
        .chunks_exact(group)
        .zip(q.chunks_exact_mut(group))
        .zip(scales.iter_mut())
    {
        let max = xg.iter().fold(0.0f32, |m, v| m.max(libm::fabsf(*v)));
        let scale = max / 127.0;
        *s = scale;
        if scale == 0.0 {
            qg.fill(0);
        } else {
            let inv = 1.0 / scale;
            for (qv, xv) in qg.iter_mut().zip(xg) {
                *qv = libm::roundf(xv * inv).clamp(-127.0, 127.0) as i8;
            }
        }
    }
}
