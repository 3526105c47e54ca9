//! IEEE binary16 (`f16`) buffer elements, as the tiers convert them: the interpreter
//! calls these functions, compiled code emits the very same integer and f32 operations
//! (`codegen::lower::half`), scalar or four lanes at a time. No CPU instruction is needed
//! (Cranelift 0.135 has no f16 conversions on x64, and F16C is not on every CPU); the
//! results equal F16C's `vcvtph2ps` and `vcvtps2ph` (rounding immediate 0) bit for bit.

/// `2^112` as f32: scales an f16's exponent and mantissa, moved into f32 position, from
/// the f16 bias (15) to the f32 bias (127).
pub(crate) const WIDEN_SCALE: u32 = 0x7780_0000;
/// `0.5` as f32: adding it to `|x| < 2^-14` leaves the f16 subnormal's mantissa, rounded
/// to nearest even by the addition, in the low bits.
pub(crate) const SUBNORMAL_MAGIC: u32 = 0x3f00_0000;
/// The f32 bit pattern of `2^-14`, the smallest normal f16.
pub(crate) const MIN_NORMAL_F32: u32 = 0x3880_0000;
/// The f32 bit pattern of `65536.0`: at or above it (`|x|`), the result is an f16
/// infinity or NaN.
pub(crate) const OVERFLOW_F32: u32 = 0x4780_0000;
/// Rebiases an f32 exponent to f16 (`(15 - 127) << 23`) plus the rounding bias
/// `0xfff` (one less than half an f16 ulp, in f32 mantissa bits), wrapping.
pub(crate) const NARROW_BIAS: u32 = 0xc800_0fff;

/// Widens an f16 bit pattern to f32, exactly: normals, subnormals, ±0 and ±inf keep
/// their value; a NaN keeps its sign and payload (shifted into the f32's high mantissa
/// bits) and becomes quiet.
pub fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let magnitude = h & 0x7fff;
    let bits = if magnitude >= 0x7c00 {
        let quiet = if magnitude > 0x7c00 { 0x0040_0000 } else { 0 };
        0x7f80_0000 | (magnitude << 13) | quiet
    } else {
        (f32::from_bits(magnitude << 13) * f32::from_bits(WIDEN_SCALE)).to_bits()
    };
    f32::from_bits(sign | bits)
}

/// Narrows an f32 to an f16 bit pattern, rounding to nearest even: too large values
/// become ±inf, too small ones f16 subnormals or ±0; a NaN keeps its sign and the high
/// bits of its payload and becomes quiet.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = (bits >> 16) & 0x8000;
    let magnitude = bits & 0x7fff_ffff;
    let h = if magnitude >= OVERFLOW_F32 {
        if magnitude > 0x7f80_0000 {
            0x7e00 | ((magnitude >> 13) & 0x3ff)
        } else {
            0x7c00
        }
    } else if magnitude < MIN_NORMAL_F32 {
        (f32::from_bits(magnitude) + f32::from_bits(SUBNORMAL_MAGIC)).to_bits() - SUBNORMAL_MAGIC
    } else {
        let odd = (magnitude >> 13) & 1;
        (magnitude.wrapping_add(NARROW_BIAS) + odd) >> 13
    };
    (sign | h) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        // a signaling NaN becomes quiet, payload shifted
        assert_eq!(f16_to_f32(0x7d01).to_bits(), 0x7fe0_2000);
        assert_eq!(f16_to_f32(0xfe00).to_bits(), 0xffc0_0000);

        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65519.99), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(1.0e10), 0x7c00);
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0x0000); // halfway to the smallest: even
        assert_eq!(f32_to_f16(2f32.powi(-25) * 1.5), 0x0001);
        assert_eq!(f32_to_f16(3.0 * 2f32.powi(-25)), 0x0002); // 1.5 ulp: even
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00); // tie: even
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02); // tie: even
        assert_eq!(f32_to_f16(f32::from_bits(0x7f80_0001)), 0x7e00);
        assert_eq!(f32_to_f16(f32::from_bits(0xffc0_2000)), 0xfe01);
    }

    #[test]
    fn every_f16_round_trips() {
        for h in 0..=u16::MAX {
            let back = f32_to_f16(f16_to_f32(h));
            let quiet = if h & 0x7c00 == 0x7c00 && h & 0x3ff != 0 {
                h | 0x200
            } else {
                h
            };
            assert_eq!(back, quiet, "{h:#06x}");
        }
    }
}
