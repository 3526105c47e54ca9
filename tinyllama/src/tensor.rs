//! Weight tensors (fp32 or Q8 groups), f16 conversion and Q8 quantization.

use alloc::vec::Vec;

/// A 2-D weight matrix stored row-major (`rows` × `cols`), or a 1-D vector (`rows == 1`).
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    /// Plain fp32 values, `rows * cols` of them.
    F32(Vec<f32>),
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
            Tensor::Q8 { q, .. } => q.len(),
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

/// Converts an IEEE-754 binary16 value to f32 (exact: every f16 is an f32).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if mant == 0 {
            sign
        } else {
            // Subnormal: normalize the mantissa.
            let mut e: i32 = -14;
            let mut m = mant;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            m &= 0x3ff;
            sign | (((e + 127) as u32) << 23) | (m << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (mant << 13)
    };
    f32::from_bits(bits)
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
