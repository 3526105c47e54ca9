//! f16 element conversions in compiled code, for a scalar or four lanes: the operation
//! sequences of [`crate::math::half`] (which the interpreter calls), written with
//! integer and f32 operations every x86-64 CPU has, so all tiers agree to the bit.

use super::Emitter;
use crate::math::half::{MIN_NORMAL_F32, NARROW_BIAS, OVERFLOW_F32, SUBNORMAL_MAGIC, WIDEN_SCALE};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};

impl Emitter<'_, '_> {
    /// `cond ? a : b` on i32 (x4) values, `cond` from an `icmp` of the same shape.
    fn pick_int(&mut self, cond: Value, a: Value, b: Value) -> Value {
        if self.is_vec(a) {
            self.ins().bitselect(cond, a, b)
        } else {
            self.ins().select(cond, a, b)
        }
    }

    /// `x op c` for an i32 (x4) `x`: the comparisons here see values below 2^31 only,
    /// so signed compares (native for i32x4 on x64) are exact.
    fn cmp_const(&mut self, cc: IntCC, x: Value, c: u32) -> Value {
        let c = self.i32_like(x, c as i32);
        self.ins().icmp(cc, x, c)
    }

    fn and_const(&mut self, x: Value, c: u32) -> Value {
        let c = self.i32_like(x, c as i32);
        self.ins().band(x, c)
    }

    fn or_const(&mut self, x: Value, c: u32) -> Value {
        let c = self.i32_like(x, c as i32);
        self.ins().bor(x, c)
    }

    /// f16 bit patterns (zero-extended into i32 or i32x4) to f32 (x4): `f16_to_f32`.
    pub fn f16_widen(&mut self, h: Value) -> Value {
        let sign_bit = self.and_const(h, 0x8000);
        let sign = self.ins().ishl_imm_u(sign_bit, 16);
        let magnitude = self.and_const(h, 0x7fff);
        let shifted = self.ins().ishl_imm_u(magnitude, 13);
        // finite values: scale by 2^112 (exact, subnormals included)
        let as_float = self.reinterpret(shifted, false);
        let scale = self.f32_like(as_float, f32::from_bits(WIDEN_SCALE));
        let scaled = self.ins().fmul(as_float, scale);
        let finite = self.reinterpret(scaled, true);
        // inf and NaN: all exponent bits, the mantissa shifted, NaNs quiet
        let is_nan = self.cmp_const(IntCC::SignedGreaterThan, magnitude, 0x7c00);
        let quiet_bit = self.i32_like(h, 0x0040_0000);
        let zero = self.i32_like(h, 0);
        let quiet = self.pick_int(is_nan, quiet_bit, zero);
        let all_ones = self.or_const(shifted, 0x7f80_0000);
        let special = self.ins().bor(all_ones, quiet);
        let is_special = self.cmp_const(IntCC::SignedGreaterThanOrEqual, magnitude, 0x7c00);
        let bits = self.pick_int(is_special, special, finite);
        let signed = self.ins().bor(bits, sign);
        self.reinterpret(signed, false)
    }

    /// f32 (x4) to f16 bit patterns in the low 16 bits of i32 (x4), rounding to nearest
    /// even: `f32_to_f16`.
    pub fn f16_narrow(&mut self, x: Value) -> Value {
        let bits = self.reinterpret(x, true);
        let high = self.ins().ushr_imm_u(bits, 16);
        let sign = self.and_const(high, 0x8000);
        let magnitude = self.and_const(bits, 0x7fff_ffff);
        let mantissa_high = self.ins().ushr_imm_u(magnitude, 13);
        // NaN: quiet, the payload's high bits; else (overflow, inf) infinity
        let payload = self.and_const(mantissa_high, 0x3ff);
        let nan = self.or_const(payload, 0x7e00);
        let inf = self.i32_like(x, 0x7c00);
        let is_nan = self.cmp_const(IntCC::SignedGreaterThan, magnitude, 0x7f80_0000);
        let overflow = self.pick_int(is_nan, nan, inf);
        // below the f16 normals: the f32 addition rounds the subnormal mantissa
        let mag_float = self.reinterpret(magnitude, false);
        let magic = self.f32_like(mag_float, f32::from_bits(SUBNORMAL_MAGIC));
        let sum = self.ins().fadd(mag_float, magic);
        let sum_bits = self.reinterpret(sum, true);
        let magic_bits = self.i32_like(x, SUBNORMAL_MAGIC as i32);
        let subnormal = self.ins().isub(sum_bits, magic_bits);
        // normals: rebias the exponent, round half to even on the dropped 13 bits
        let odd = self.and_const(mantissa_high, 1);
        let bias = self.i32_like(x, NARROW_BIAS as i32);
        let biased = self.ins().iadd(magnitude, bias);
        let rounded = self.ins().iadd(biased, odd);
        let normal = self.ins().ushr_imm_u(rounded, 13);
        let is_small = self.cmp_const(IntCC::SignedLessThan, magnitude, MIN_NORMAL_F32);
        let finite = self.pick_int(is_small, subnormal, normal);
        let is_large = self.cmp_const(IntCC::SignedGreaterThanOrEqual, magnitude, OVERFLOW_F32);
        let h = self.pick_int(is_large, overflow, finite);
        self.ins().bor(h, sign)
    }
}
