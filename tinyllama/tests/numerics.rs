//! f16 conversion and Q8 quantization.

use proptest::prelude::*;
use tinyllama::ops::{dot, dot_f16};
use tinyllama::sampler::Rng;
use tinyllama::tensor::{Tensor, f16_to_f32, f32_to_f16, quantize_q8};
use tinyllama::{Ops, PlainOps};

#[test]
fn every_f16_round_trips_through_f32() {
    for h in 0..=u16::MAX {
        let f = f16_to_f32(h);
        if f.is_nan() {
            assert!(f32_to_f16(f) & 0x7c00 == 0x7c00 && f32_to_f16(f) & 0x3ff != 0);
        } else {
            assert_eq!(f32_to_f16(f), h, "{h:#06x} -> {f}");
        }
    }
}

/// The straightforward conversion (normalizing subnormals in a loop), to
/// check the branch-free one against.
fn f16_to_f32_reference(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if mant == 0 {
            sign
        } else {
            let mut e: i32 = -14;
            let mut m = mant;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (((e + 127) as u32) << 23) | ((m & 0x3ff) << 13)
        }
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (mant << 13)
    };
    f32::from_bits(bits)
}

#[test]
fn every_f16_converts_to_the_same_bits_as_the_reference() {
    for h in 0..=u16::MAX {
        assert_eq!(
            f16_to_f32(h).to_bits(),
            f16_to_f32_reference(h).to_bits(),
            "{h:#06x}"
        );
    }
}

/// The f16 matvec (on x86_64 with F16C, the hardware conversion) gives
/// exactly what the fp32 matvec gives on the widened matrix, and so does
/// the portable `dot_f16`, for every tail length and across blocks.
#[test]
fn f16_matvec_equals_the_fp32_matvec_on_widened_weights() {
    let mut rng = Rng::new(16);
    for &(rows, cols) in &[
        (1, 1),
        (3, 7),
        (5, 8),
        (4, 9),
        (7, 263),
        (9, 288),
        (2, 1029),
    ] {
        let w16: Vec<u16> = (0..rows * cols)
            .map(|_| f32_to_f16((rng.next_f32() * 2.0 - 1.0) * 3.0))
            .collect();
        let w: Vec<f32> = w16.iter().map(|&h| f16_to_f32(h)).collect();
        let x: Vec<f32> = (0..cols).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
        let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
        PlainOps.matvec_f16(&mut a, &w16, &x, rows, cols).unwrap();
        PlainOps.matvec(&mut b, &w, &x, rows, cols).unwrap();
        assert_eq!(a, b, "{rows}x{cols}");
        for r in 0..rows {
            let row = r * cols..(r + 1) * cols;
            assert_eq!(dot_f16(&w16[row.clone()], &x), dot(&w[row], &x));
        }
    }
}

#[test]
fn f16_known_values() {
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xc000), -2.0);
    assert_eq!(f16_to_f32(0x7bff), 65504.0);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds up past the largest finite
    assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00); // tie to even
    assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
}

proptest! {
    #[test]
    fn f32_to_f16_rounds_to_nearest(x in -70000.0f32..70000.0) {
        let h = f32_to_f16(x);
        let y = f16_to_f32(h);
        if y.is_finite() {
            // No other f16 is closer.
            for n in [h.wrapping_sub(1), h.wrapping_add(1)] {
                let z = f16_to_f32(n);
                if z.is_finite() && (z.is_sign_negative() == y.is_sign_negative()) {
                    prop_assert!((y - x).abs() <= (z - x).abs(), "{x}: {y} vs {z}");
                }
            }
        } else {
            prop_assert!(x.abs() >= 65504.0);
        }
    }

    #[test]
    fn q8_error_is_at_most_half_a_step(v in prop::collection::vec(-100.0f32..100.0, 1..8usize)
        .prop_flat_map(|seed| prop::collection::vec(-50.0f32..50.0, 32 * seed.len()))) {
        let n = v.len();
        let (mut q, mut s) = (vec![0i8; n], vec![0f32; n / 32]);
        quantize_q8(&mut q, &mut s, &v, 32);
        let t = Tensor::Q8 { q, scales: s.clone(), group: 32 };
        let back = t.to_f32();
        for (i, (a, b)) in v.iter().zip(&back).enumerate() {
            prop_assert!((a - b).abs() <= s[i / 32] * 0.5001 + 1e-6, "{a} vs {b}");
        }
    }
}
