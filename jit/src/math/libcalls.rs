//! Math routines shared by the interpreter and compiled code (as libcalls), so that every
//! tier computes `exp ln sin cos tanh pow` (and the software fallbacks of `fma`, rounding
//! and float `%`) with the very same code: results are bit-identical across tiers. The
//! f32 `exp`, `sin`, `cos` and `pow` are BareFlow's own ([`super::mathf`]), which T2
//! and T3 also inline; the rest is `libm`.
//!
//! # False dependencies across the call
//!
//! The `libm` routines are compiled for baseline x86-64 and use SSE instructions that
//! write only the low part of their destination register (`cvtsi2ss %eax, %xmm2` in
//! `expf`, `cvtsi2sd` in `exp`/`pow`, `cvtss2sd` in `sinf`...). Such an instruction
//! depends on the register's previous value. The caller's last value in that register is
//! typically a loop-carried one (measured: a softmax sum kept in `xmm2` by the compiled
//! loop): each call then waits for the previous iteration's result, the calls stop
//! overlapping and the loop runs about 2x slower (see benches/RESULTS.md). Every wrapper
//! therefore zeroes the scratch xmm registers that carry no argument (zeroing idioms,
//! handled at register renaming) before it enters `libm`.

use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::isa::CallConv;

/// Zeroes xmm`FIRST`..xmm15 (caller-saved in the SysV ABI; `FIRST` = the argument count).
#[inline(always)]
fn clear_scratch_xmm<const FIRST: u32>() {
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! clear_from {
            ($($r:tt),*) => {
                // SAFETY: only zeroes caller-saved registers that hold no argument and are
                // declared as clobbered; no memory, stack or flags are touched.
                unsafe {
                    core::arch::asm!(
                        $(concat!("xorps ", $r, ", ", $r),)*
                        $(out($r) _,)*
                        options(nomem, nostack, preserves_flags)
                    )
                }
            };
        }
        match FIRST {
            1 => clear_from!(
                "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
            ),
            2 => clear_from!(
                "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                "xmm12", "xmm13", "xmm14", "xmm15"
            ),
            _ => clear_from!(
                "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
                "xmm13", "xmm14", "xmm15"
            ),
        }
    }
}

macro_rules! unary {
    ($($name:ident = $f:path : $t:ty;)*) => {$(
        pub extern "C" fn $name(x: $t) -> $t {
            clear_scratch_xmm::<1>();
            $f(x)
        }
    )*};
}
macro_rules! binary {
    ($($name:ident = $f:path : $t:ty;)*) => {$(
        pub extern "C" fn $name(x: $t, y: $t) -> $t {
            clear_scratch_xmm::<2>();
            $f(x, y)
        }
    )*};
}

unary! {
    bf_expf = super::mathf::expf: f32;
    bf_exp = libm::exp: f64;
    bf_lnf = libm::logf: f32;
    bf_ln = libm::log: f64;
    bf_sinf = super::mathf::sinf: f32;
    bf_sin = libm::sin: f64;
    bf_cosf = super::mathf::cosf: f32;
    bf_cos = libm::cos: f64;
    bf_tanhf = libm::tanhf: f32;
    bf_tanh = libm::tanh: f64;
    bf_floorf = libm::floorf: f32;
    bf_floor = libm::floor: f64;
    bf_ceilf = libm::ceilf: f32;
    bf_ceil = libm::ceil: f64;
    bf_truncf = libm::truncf: f32;
    bf_trunc = libm::trunc: f64;
    bf_nearestf = libm::roundevenf: f32;
    bf_nearest = libm::roundeven: f64;
}

binary! {
    bf_powf = super::mathf::powf: f32;
    bf_pow = libm::pow: f64;
    bf_fmodf = libm::fmodf: f32;
    bf_fmod = libm::fmod: f64;
}

pub extern "C" fn bf_fmaf(a: f32, b: f32, c: f32) -> f32 {
    clear_scratch_xmm::<3>();
    libm::fmaf(a, b, c)
}

pub extern "C" fn bf_fma(a: f64, b: f64, c: f64) -> f64 {
    clear_scratch_xmm::<3>();
    libm::fma(a, b, c)
}

/// The libcalls compiled code may reference, by index (the linker's symbol table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Libcall {
    ExpF32,
    ExpF64,
    LnF32,
    LnF64,
    SinF32,
    SinF64,
    CosF32,
    CosF64,
    TanhF32,
    TanhF64,
    PowF32,
    PowF64,
    FmodF32,
    FmodF64,
    FmaF32,
    FmaF64,
    FloorF32,
    FloorF64,
    CeilF32,
    CeilF64,
    TruncF32,
    TruncF64,
    NearestF32,
    NearestF64,
}

impl Libcall {
    pub fn from_index(i: u32) -> Option<Libcall> {
        use Libcall::*;
        const ALL: [Libcall; 24] = [
            ExpF32, ExpF64, LnF32, LnF64, SinF32, SinF64, CosF32, CosF64, TanhF32, TanhF64, PowF32,
            PowF64, FmodF32, FmodF64, FmaF32, FmaF64, FloorF32, FloorF64, CeilF32, CeilF64,
            TruncF32, TruncF64, NearestF32, NearestF64,
        ];
        ALL.get(i as usize).copied()
    }

    /// Number of float arguments.
    pub fn arity(self) -> usize {
        use Libcall::*;
        match self {
            PowF32 | PowF64 | FmodF32 | FmodF64 => 2,
            FmaF32 | FmaF64 => 3,
            _ => 1,
        }
    }

    pub fn is_f64(self) -> bool {
        (self as u32) % 2 == 1
    }

    /// The Cranelift signature compiled code calls the routine with (SysV).
    pub fn signature(self) -> Signature {
        let t = if self.is_f64() {
            types::F64
        } else {
            types::F32
        };
        let mut sig = Signature::new(CallConv::SystemV);
        for _ in 0..self.arity() {
            sig.params.push(AbiParam::new(t));
        }
        sig.returns.push(AbiParam::new(t));
        sig
    }

    /// The routine's symbol name (as a linker would see it).
    #[cfg(feature = "std")]
    pub fn symbol(self) -> &'static str {
        use Libcall::*;
        match self {
            ExpF32 => "bf_expf",
            ExpF64 => "bf_exp",
            LnF32 => "bf_lnf",
            LnF64 => "bf_ln",
            SinF32 => "bf_sinf",
            SinF64 => "bf_sin",
            CosF32 => "bf_cosf",
            CosF64 => "bf_cos",
            TanhF32 => "bf_tanhf",
            TanhF64 => "bf_tanh",
            PowF32 => "bf_powf",
            PowF64 => "bf_pow",
            FmodF32 => "bf_fmodf",
            FmodF64 => "bf_fmod",
            FmaF32 => "bf_fmaf",
            FmaF64 => "bf_fma",
            FloorF32 => "bf_floorf",
            FloorF64 => "bf_floor",
            CeilF32 => "bf_ceilf",
            CeilF64 => "bf_ceil",
            TruncF32 => "bf_truncf",
            TruncF64 => "bf_trunc",
            NearestF32 => "bf_nearestf",
            NearestF64 => "bf_nearest",
        }
    }

    /// The address of the routine.
    pub fn address(self) -> usize {
        use Libcall::*;
        match self {
            ExpF32 => bf_expf as extern "C" fn(f32) -> f32 as usize,
            ExpF64 => bf_exp as extern "C" fn(f64) -> f64 as usize,
            LnF32 => bf_lnf as extern "C" fn(f32) -> f32 as usize,
            LnF64 => bf_ln as extern "C" fn(f64) -> f64 as usize,
            SinF32 => bf_sinf as extern "C" fn(f32) -> f32 as usize,
            SinF64 => bf_sin as extern "C" fn(f64) -> f64 as usize,
            CosF32 => bf_cosf as extern "C" fn(f32) -> f32 as usize,
            CosF64 => bf_cos as extern "C" fn(f64) -> f64 as usize,
            TanhF32 => bf_tanhf as extern "C" fn(f32) -> f32 as usize,
            TanhF64 => bf_tanh as extern "C" fn(f64) -> f64 as usize,
            PowF32 => bf_powf as extern "C" fn(f32, f32) -> f32 as usize,
            PowF64 => bf_pow as extern "C" fn(f64, f64) -> f64 as usize,
            FmodF32 => bf_fmodf as extern "C" fn(f32, f32) -> f32 as usize,
            FmodF64 => bf_fmod as extern "C" fn(f64, f64) -> f64 as usize,
            FmaF32 => bf_fmaf as extern "C" fn(f32, f32, f32) -> f32 as usize,
            FmaF64 => bf_fma as extern "C" fn(f64, f64, f64) -> f64 as usize,
            FloorF32 => bf_floorf as extern "C" fn(f32) -> f32 as usize,
            FloorF64 => bf_floor as extern "C" fn(f64) -> f64 as usize,
            CeilF32 => bf_ceilf as extern "C" fn(f32) -> f32 as usize,
            CeilF64 => bf_ceil as extern "C" fn(f64) -> f64 as usize,
            TruncF32 => bf_truncf as extern "C" fn(f32) -> f32 as usize,
            TruncF64 => bf_trunc as extern "C" fn(f64) -> f64 as usize,
            NearestF32 => bf_nearestf as extern "C" fn(f32) -> f32 as usize,
            NearestF64 => bf_nearest as extern "C" fn(f64) -> f64 as usize,
        }
    }
}
