//! The T0 instruction set, defined once.
//!
//! [`for_each_op!`] lists every instruction: its variant name, its mnemonic, and its
//! operands, each with a class:
//!
//! | class | operand | validated |
//! |---|---|---|
//! | `slot` | a frame slot, read or written ([`Slot`]) | `< nslots` |
//! | `target` | a jump target: an instruction index | `< code.len()` |
//! | `buf` | a buffer of the frame: parameters, then the tables the function uses | `< nbufs + ntables` |
//! | `func` | a function of the module | `< nfuncs` |
//! | a type (`i32`, `u32`, `Libcall`, `CastOp`, `TrapKind`) | an immediate | no |
//!
//! Everything that depends on the list is generated from it: the [`Op`] enum, the slot
//! visitor ([`Op::for_each_slot`], which renumbers constants), the jump-target accessor
//! ([`Op::target_mut`], which patches forward jumps), the validator's per-class checks
//! ([`Op::operands_valid`]) and the disassembler (`Display`: `i32.add d=s5 a=s1 b=s2`). The
//! interpreter's `match` lists the semantics; the compiler checks it covers every variant.
//! The order of the list is the order of the enum (and of the interpreter's jump table).

use crate::ir::TrapKind;
use crate::math::libcalls::Libcall;
use core::fmt;

/// A frame slot index: scalar locals first, then temporaries, then constants.
pub type Slot = u32;

/// The conversions of [`Op::Cast`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastOp {
    I32ToI64,
    I64ToI32,
    I32ToF32,
    I32ToF64,
    I64ToF32,
    I64ToF64,
    F32ToI32,
    F32ToI64,
    F64ToI32,
    F64ToI64,
    F32ToF64,
    F64ToF32,
    BoolToInt,
}

/// Calls `$callback!` with the instruction table: `Name "mnemonic" { operand: class, ... };`
/// per instruction (see the module documentation).
macro_rules! for_each_op {
    ($callback:ident) => {
        $callback! {
            Mov "mov" { d: slot, s: slot };
            // i32
            I32Add "i32.add" { d: slot, a: slot, b: slot };
            /// `d = a * b + c` (wrapping), the common index shape.
            I32MulAdd "i32.mul_add" { d: slot, a: slot, b: slot, c: slot };
            I32AddImm "i32.add_imm" { d: slot, a: slot, imm: i32 };
            I32Sub "i32.sub" { d: slot, a: slot, b: slot };
            I32Mul "i32.mul" { d: slot, a: slot, b: slot };
            I32Div "i32.div" { d: slot, a: slot, b: slot };
            I32Rem "i32.rem" { d: slot, a: slot, b: slot };
            I32Udiv "i32.udiv" { d: slot, a: slot, b: slot };
            I32Urem "i32.urem" { d: slot, a: slot, b: slot };
            I32And "i32.and" { d: slot, a: slot, b: slot };
            I32Or "i32.or" { d: slot, a: slot, b: slot };
            I32Xor "i32.xor" { d: slot, a: slot, b: slot };
            I32Shl "i32.shl" { d: slot, a: slot, b: slot };
            I32Shr "i32.shr" { d: slot, a: slot, b: slot };
            I32UShr "i32.ushr" { d: slot, a: slot, b: slot };
            I32Rotl "i32.rotl" { d: slot, a: slot, b: slot };
            I32Rotr "i32.rotr" { d: slot, a: slot, b: slot };
            I32Min "i32.min" { d: slot, a: slot, b: slot };
            I32Max "i32.max" { d: slot, a: slot, b: slot };
            I32Eq "i32.eq" { d: slot, a: slot, b: slot };
            I32Ne "i32.ne" { d: slot, a: slot, b: slot };
            I32Lt "i32.lt" { d: slot, a: slot, b: slot };
            I32Le "i32.le" { d: slot, a: slot, b: slot };
            I32Ult "i32.ult" { d: slot, a: slot, b: slot };
            I32Ule "i32.ule" { d: slot, a: slot, b: slot };
            I32Neg "i32.neg" { d: slot, a: slot };
            I32Not "i32.not" { d: slot, a: slot };
            I32Abs "i32.abs" { d: slot, a: slot };
            I32Popcnt "i32.popcnt" { d: slot, a: slot };
            I32Clz "i32.clz" { d: slot, a: slot };
            I32Ctz "i32.ctz" { d: slot, a: slot };
            // i64
            I64Add "i64.add" { d: slot, a: slot, b: slot };
            I64Sub "i64.sub" { d: slot, a: slot, b: slot };
            I64Mul "i64.mul" { d: slot, a: slot, b: slot };
            I64Div "i64.div" { d: slot, a: slot, b: slot };
            I64Rem "i64.rem" { d: slot, a: slot, b: slot };
            I64Udiv "i64.udiv" { d: slot, a: slot, b: slot };
            I64Urem "i64.urem" { d: slot, a: slot, b: slot };
            I64And "i64.and" { d: slot, a: slot, b: slot };
            I64Or "i64.or" { d: slot, a: slot, b: slot };
            I64Xor "i64.xor" { d: slot, a: slot, b: slot };
            I64Shl "i64.shl" { d: slot, a: slot, b: slot };
            I64Shr "i64.shr" { d: slot, a: slot, b: slot };
            I64UShr "i64.ushr" { d: slot, a: slot, b: slot };
            I64Rotl "i64.rotl" { d: slot, a: slot, b: slot };
            I64Rotr "i64.rotr" { d: slot, a: slot, b: slot };
            I64Min "i64.min" { d: slot, a: slot, b: slot };
            I64Max "i64.max" { d: slot, a: slot, b: slot };
            I64Eq "i64.eq" { d: slot, a: slot, b: slot };
            I64Ne "i64.ne" { d: slot, a: slot, b: slot };
            I64Lt "i64.lt" { d: slot, a: slot, b: slot };
            I64Le "i64.le" { d: slot, a: slot, b: slot };
            I64Ult "i64.ult" { d: slot, a: slot, b: slot };
            I64Ule "i64.ule" { d: slot, a: slot, b: slot };
            I64Neg "i64.neg" { d: slot, a: slot };
            I64Not "i64.not" { d: slot, a: slot };
            I64Abs "i64.abs" { d: slot, a: slot };
            I64Popcnt "i64.popcnt" { d: slot, a: slot };
            I64Clz "i64.clz" { d: slot, a: slot };
            I64Ctz "i64.ctz" { d: slot, a: slot };
            // f32
            F32Add "f32.add" { d: slot, a: slot, b: slot };
            F32Sub "f32.sub" { d: slot, a: slot, b: slot };
            F32Mul "f32.mul" { d: slot, a: slot, b: slot };
            F32Div "f32.div" { d: slot, a: slot, b: slot };
            F32Eq "f32.eq" { d: slot, a: slot, b: slot };
            F32Ne "f32.ne" { d: slot, a: slot, b: slot };
            F32Lt "f32.lt" { d: slot, a: slot, b: slot };
            F32Le "f32.le" { d: slot, a: slot, b: slot };
            F32Min "f32.min" { d: slot, a: slot, b: slot };
            F32Max "f32.max" { d: slot, a: slot, b: slot };
            F32Copysign "f32.copysign" { d: slot, a: slot, b: slot };
            F32Fma "f32.fma" { d: slot, a: slot, b: slot, c: slot };
            F32Neg "f32.neg" { d: slot, a: slot };
            F32Abs "f32.abs" { d: slot, a: slot };
            F32Sqrt "f32.sqrt" { d: slot, a: slot };
            // f64
            F64Add "f64.add" { d: slot, a: slot, b: slot };
            F64Sub "f64.sub" { d: slot, a: slot, b: slot };
            F64Mul "f64.mul" { d: slot, a: slot, b: slot };
            F64Div "f64.div" { d: slot, a: slot, b: slot };
            F64Eq "f64.eq" { d: slot, a: slot, b: slot };
            F64Ne "f64.ne" { d: slot, a: slot, b: slot };
            F64Lt "f64.lt" { d: slot, a: slot, b: slot };
            F64Le "f64.le" { d: slot, a: slot, b: slot };
            F64Min "f64.min" { d: slot, a: slot, b: slot };
            F64Max "f64.max" { d: slot, a: slot, b: slot };
            F64Copysign "f64.copysign" { d: slot, a: slot, b: slot };
            F64Fma "f64.fma" { d: slot, a: slot, b: slot, c: slot };
            F64Neg "f64.neg" { d: slot, a: slot };
            F64Abs "f64.abs" { d: slot, a: slot };
            F64Sqrt "f64.sqrt" { d: slot, a: slot };
            /// A libm-backed float routine (unary, binary by `b`), shared with compiled code.
            Math1 "math1" { d: slot, a: slot, f: Libcall };
            Math2 "math2" { d: slot, a: slot, b: slot, f: Libcall };
            // bool
            BoolNot "bool.not" { d: slot, a: slot };
            BoolEq "bool.eq" { d: slot, a: slot, b: slot };
            BoolNe "bool.ne" { d: slot, a: slot, b: slot };
            BoolAnd "bool.and" { d: slot, a: slot, b: slot };
            BoolOr "bool.or" { d: slot, a: slot, b: slot };
            BoolXor "bool.xor" { d: slot, a: slot, b: slot };
            Cast "cast" { d: slot, a: slot, op: CastOp };
            Select "select" { d: slot, c: slot, a: slot, b: slot };
            // memory
            LoadU8 "load.u8" { d: slot, buf: buf, i: slot };
            /// Sign-extends the byte to `i32`.
            LoadI8 "load.i8" { d: slot, buf: buf, i: slot };
            LoadI32 "load.i32" { d: slot, buf: buf, i: slot };
            LoadI64 "load.i64" { d: slot, buf: buf, i: slot };
            /// Widens the f16 element to f32 (`half::f16_to_f32`).
            LoadF16 "load.f16" { d: slot, buf: buf, i: slot };
            LoadF32 "load.f32" { d: slot, buf: buf, i: slot };
            LoadF64 "load.f64" { d: slot, buf: buf, i: slot };
            /// Stores the low 8 bits of an `i32` (into a `u8` or an `i8` buffer).
            StoreU8 "store.u8" { buf: buf, i: slot, v: slot };
            StoreI32 "store.i32" { buf: buf, i: slot, v: slot };
            StoreI64 "store.i64" { buf: buf, i: slot, v: slot };
            /// Narrows the f32 to f16 (`half::f32_to_f16`).
            StoreF16 "store.f16" { buf: buf, i: slot, v: slot };
            StoreF32 "store.f32" { buf: buf, i: slot, v: slot };
            StoreF64 "store.f64" { buf: buf, i: slot, v: slot };
            Len "len" { d: slot, buf: buf };
            // control
            Jmp "jmp" { t: target };
            JmpIf "jmp_if" { c: slot, t: target };
            JmpIfNot "jmp_if_not" { c: slot, t: target };
            /// `if !(a < b) goto t` (signed), the for-loop entry test.
            I32JmpGe "i32.jmp_ge" { a: slot, b: slot, t: target };
            I64JmpGe "i64.jmp_ge" { a: slot, b: slot, t: target };
            /// Fused compare-and-branch (the jump is taken when the comparison holds).
            I32JmpLt "i32.jmp_lt" { a: slot, b: slot, t: target };
            I32JmpEq "i32.jmp_eq" { a: slot, b: slot, t: target };
            I32JmpNe "i32.jmp_ne" { a: slot, b: slot, t: target };
            I64JmpLt "i64.jmp_lt" { a: slot, b: slot, t: target };
            I64JmpEq "i64.jmp_eq" { a: slot, b: slot, t: target };
            I64JmpNe "i64.jmp_ne" { a: slot, b: slot, t: target };
            /// Step-1 loop latch: `v += 1; if v < end goto t`.
            I32Next1 "i32.next1" { v: slot, end: slot, t: target };
            I64Next1 "i64.next1" { v: slot, end: slot, t: target };
            /// General loop latch: `if v < lim { v += step; goto t }` (lim = end - step, or MIN).
            I32Next "i32.next" { v: slot, lim: slot, step: slot, t: target };
            I64Next "i64.next" { v: slot, lim: slot, step: slot, t: target };
            /// Loop entry: checks `step > 0` (else BadStep) and computes `lim` into `lim`.
            I32StepLim "i32.step_lim" { end: slot, step: slot, lim: slot };
            I64StepLim "i64.step_lim" { end: slot, step: slot, lim: slot };
            Trap "trap" { kind: TrapKind };
            // calls
            PushBuf "push_buf" { buf: buf };
            /// Pushes `buf[lo..hi]` (bounds checked, same unsigned trick as indices).
            PushSlice "push_slice" { buf: buf, lo: slot, hi: slot, shift: u32 };
            /// Calls `f` with scalar arguments in slots `args..`; the result goes to `d`.
            Call "call" { f: func, args: slot, d: slot };
            Ret "ret" { s: slot };
            RetVoid "ret_void" {};
        }
    };
}

/// The Rust type of an operand of a class.
macro_rules! operand_type {
    (slot) => {
        Slot
    };
    (target) => {
        u32
    };
    (buf) => {
        u32
    };
    (func) => {
        u32
    };
    ($immediate:ty) => {
        $immediate
    };
}

/// Calls `$visit` on an operand of class `slot`.
macro_rules! visit_slot {
    (slot, $operand:expr, $visit:expr) => {
        $visit($operand)
    };
    ($class:tt, $operand:expr, $visit:expr) => {};
}

/// Returns an operand of class `target` from the enclosing function.
macro_rules! return_target {
    (target, $operand:expr) => {
        return Some($operand)
    };
    ($class:tt, $operand:expr) => {};
}

/// Whether an operand is inside the limits of its class.
macro_rules! operand_ok {
    (slot, $value:expr, $limits:expr) => {
        $value < $limits.slots
    };
    (target, $value:expr, $limits:expr) => {
        $value < $limits.code_len
    };
    (buf, $value:expr, $limits:expr) => {
        $value < $limits.bufs
    };
    (func, $value:expr, $limits:expr) => {
        ($value as usize) < $limits.funcs
    };
    ($class:tt, $value:expr, $limits:expr) => {
        true
    };
}

/// Writes ` name=value` for an operand, in its class's notation.
macro_rules! write_operand {
    (slot, $out:expr, $name:expr, $value:expr) => {
        write!($out, " {}=s{}", $name, $value)
    };
    (target, $out:expr, $name:expr, $value:expr) => {
        write!($out, " {}=@{}", $name, $value)
    };
    (buf, $out:expr, $name:expr, $value:expr) => {
        write!($out, " {}=b{}", $name, $value)
    };
    (func, $out:expr, $name:expr, $value:expr) => {
        write!($out, " {}=fn{}", $name, $value)
    };
    ($class:tt, $out:expr, $name:expr, $value:expr) => {
        write!($out, " {}={:?}", $name, $value)
    };
}

/// The bounds [`Op::operands_valid`] checks each operand class against.
pub struct OperandLimits {
    /// Slots in the frame.
    pub slots: u32,
    /// Instructions in the function.
    pub code_len: u32,
    /// Buffers in the frame (parameters and tables).
    pub bufs: u32,
    /// Functions in the module.
    pub funcs: usize,
}

macro_rules! define_ops {
    ($(
        $(#[$doc:meta])*
        $name:ident $mnemonic:literal { $($operand:ident : $class:tt),* };
    )*) => {
        /// One instruction (see the module documentation for the operand classes).
        #[derive(Clone, Copy, Debug)]
        pub enum Op {
            $(
                $(#[$doc])*
                $name { $($operand: operand_type!($class)),* },
            )*
        }

        impl Op {
            /// Visits every slot operand (not jump targets, buffers, functions or
            /// immediates).
            #[allow(unused_variables)]
            pub fn for_each_slot(&mut self, visit: &mut dyn FnMut(&mut Slot)) {
                match self {
                    $(Op::$name { $($operand),* } => {
                        $(visit_slot!($class, $operand, visit);)*
                    })*
                }
            }

            /// The jump target of a branch.
            #[allow(unused_variables)]
            pub fn target_mut(&mut self) -> Option<&mut u32> {
                match self {
                    $(Op::$name { $($operand),* } => {
                        $(return_target!($class, $operand);)*
                    })*
                }
                None
            }

            /// Whether every operand is inside the limits of its class.
            #[allow(unused_variables)]
            pub fn operands_valid(&self, limits: &OperandLimits) -> bool {
                match *self {
                    $(Op::$name { $($operand),* } => {
                        true $(&& operand_ok!($class, $operand, limits))*
                    })*
                }
            }
        }

        impl fmt::Display for Op {
            fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Op::$name { $($operand),* } => {
                        out.write_str($mnemonic)?;
                        $(write_operand!($class, out, stringify!($operand), $operand)?;)*
                        Ok(())
                    })*
                }
            }
        }
    };
}

for_each_op!(define_ops);
