//! BareFlow's JIT: the kernel IR, the T0 interpreter and the Cranelift tiers.
//!
//! `no_std + alloc`, embedded unchanged by the kernel; the `std` feature adds host
//! conveniences (an mmap W^X [`HostExecMemory`], [`StdClock`],
//! [`CpuFeatures::detect_host`], [`Engine::host`]). Hardware comes in only through
//! small traits: [`ExecMemory`], [`Clock`], [`TraceSink`] and the optional [`CodeSync`]
//! (the kernel's cross-modifying-code serialization before entering compiled code) and
//! [`StackLimit`] (where the calling CPU's or thread's stack ends).
//!
//! # Module map
//!
//! One folder per stage of the pipeline (details, contracts and the publication protocol:
//! the repository's `ARCHITECTURE.md`). Imports run one way: `t0` and `codegen` use `ir` and
//! `math`, `frontend` uses `ir` and `t0` (to evaluate constants); `runtime` uses them all;
//! `codegen` never uses `runtime`.
//!
//! | module | what |
//! |---|---|
//! | `frontend` | `.bfir` text to the typed IR: `lexer`, `parser` (untyped `ast`), `verify` (names, types; constants evaluated by T0); `limits` (what a module may contain: nesting, bytes, tokens, functions, statements); [`Diagnostic`]s (`diag`); [`parse_module`] |
//! | `ir` | the typed IR ([`Module`]), its [`Ty`]pes, and what every tier shares: [`Tier`], [`TrapKind`] (and the trap codes compiled code returns); `walk`: traversals |
//! | `t0` | T0: `ops` (the instruction table: `Op`, slot visitor, validator classes, disassembler), `bytecode` (typed IR to register bytecode over a flat slot array), `interp` (explicit frame stack) |
//! | `codegen` | T1–T3: `analysis` decides (affine indices, loop facts, vectorizability, column and map nests), `lower` emits Cranelift IR, `trampoline`, `isa`, `link` (layout, `X86CallPCRel4` / `Abs8` for a given address), `abi` (calling conventions, the native-stack budget [`STACK_RESERVE`]), [`CompileError`], [`CpuFeatures`]; (`std`) [`ClifUnit`]: a unit's Cranelift IR for other linkers ([`Engine::cranelift_ir`]) |
//! | `runtime` | [`Engine`] (`engine`), `slot`s, the tier `policy`, `code` (placing a unit in executable memory, [`BuildError`]), the boundary traits ([`ExecMemory`], [`CodeSync`], [`StackLimit`], [`Clock`], [`TraceSink`]) and [`Event`]s, [`Arg`]/[`Value`]/[`Trap`]; (`std`) [`HostExecMemory`], [`ThreadStackLimit`] |
//! | `math` | `libcalls`: the math every tier calls (libm-backed, or `mathf`), so results are bit-identical; [`mathf`]: BareFlow's own f32 `exp`/`sin`/`cos`/`pow`, which T2/T3 inline |
//! | `sync` | a spin lock (no_std has no Mutex), for the engine and T0's pool of interpreter states |
//!
//! # How the tiers work
//!
//! Every function of a loaded module gets a slot whose entry is an `AtomicPtr` (null means
//! T0). [`Engine::call`] counts the call, records the scalar arguments (last value and how
//! many consecutive calls kept it), and when the count crosses a threshold (default
//! 100 / 1000 / 10000) compiles the next tier, inline or through a queue served by
//! [`Engine::service_compile_queue`]. Code is written, made executable, and only then
//! published with a Release store; code is never freed while the engine lives, so
//! concurrent callers see either the old or the new entry.
//!
//! * **T0** interprets a compact register bytecode (typed instructions, constants in frame
//!   slots, fused loop latches). IR calls push frames on an explicit stack.
//! * **T1** lowers each function straight to Cranelift IR at `opt_level=none`. A compiled
//!   unit is the function plus every function it can reach; internal calls use a native
//!   signature `(depth, stack_limit, params...) -> (status, value)` where a buffer is
//!   (pointer, length), and a uniform entry trampoline
//!   `extern "C" fn(*const u64, *mut u64, usize) -> u32` unpacks the argument words (the
//!   third argument is the stack limit). Traps are explicit branches to exits that return
//!   the trap code; a caller propagates a non-zero status. Division checks zero and
//!   computes `MIN / -1` as `MIN / 1`; the call depth and the embedder's stack limit
//!   ([`StackLimit`]) travel as arguments and are checked at function entry (`CallDepth`
//!   when the depth limit is passed or less than [`STACK_RESERVE`] bytes of stack remain).
//! * **T2** uses `opt_level=speed` and versions innermost `i32` for-loops: when every index
//!   that is affine in the loop variable is in bounds at the first and the last iteration,
//!   a copy of the loop without those checks runs, with its addresses strength-reduced to
//!   pointers bumped at the latch (one per distinct buffer and index); otherwise the fully checked loop runs (so traps, and
//!   the stores made before them, match T0 exactly).
//! * **T3** adds, in the unchecked copy: f32x4 vectorization of element-wise f32 loops
//!   (`f16` loads widened lane-wise) and (under `#[reassoc]`) of reductions and `a*b+c`
//!   contraction, with FMA when the CPU has AVX+FMA; i8 dot products into i32 lanes; unrolling by 4 (with separate accumulators for `#[reassoc]` reductions); and
//!   specialization of scalar arguments that were stable in the profile and where a
//!   constant changes the code (`bool`s, integer divisors/moduli/shift amounts, f32 `pow`
//!   bases: [`Engine::specializable`]), which become constants behind an entry guard
//!   (compared bit for bit). A guard miss returns `GUARD_MISS` from the
//!   trampoline; the engine then runs the T2 code and emits a (rate-limited) `Deopt` event.
//!   Two loop nests run their outer iterations in f32x4 lanes, behind an entry test that
//!   falls back to the checked loop: a column loop around a dot product (matmul's `j`, 32,
//!   16 then 4 columns at once) and a map nest (fft's butterflies, 8 or 4 `k` at once).
//!
//! Math intrinsics (`exp ln sin cos tanh pow`, float `%`, and `fma` /
//! `floor ceil trunc nearest` when the CPU lacks FMA / SSE4.1) are calls to the functions in
//! `libcalls`, which the interpreter calls too; f32 `exp sin cos pow` are BareFlow's own
//! (`mathf`), inlined by T2/T3 where that pays (exp; `pow` with a known base; T3 vector
//! loops), with the very same operations.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod codegen;
mod frontend;
mod ir;
mod math;
mod runtime;
mod sync;
mod t0;
pub mod workload;

#[cfg(feature = "std")]
pub use codegen::{ClifFunction, ClifLibcall, ClifTable, ClifUnit};
pub use codegen::{CompileError, CpuFeatures, LIBCALL_STACK, MAX_FRAME, STACK_RESERVE};
/// The Cranelift code generator `jit` uses (for [`ClifUnit`] users: same crate, same types).
#[cfg(feature = "std")]
pub use cranelift_codegen;
pub use frontend::{
    Diagnostic, MAX_FUNCTION_STATEMENTS, MAX_FUNCTIONS, MAX_MODULE_BYTES, MAX_MODULE_TOKENS,
    MAX_NESTING, parse_module,
};
pub use ir::{Elem, Module, ParamTy, Tier, TrapKind, Ty};
pub use math::{half, mathf};
pub use runtime::{
    ADAPTIVE_MIN_CALLS, PRIOR_COMPILE_NS, PRIOR_SPEEDUP, TierPolicy, adaptive_pays_off,
    break_even_calls,
};
pub use runtime::{
    Arg, BuildError, Clock, CodeBlock, CodeSync, CompileStats, Engine, EngineConfig, Event,
    ExecMemError, ExecMemory, FuncId, LoadError, MAX_FUNCS, ModuleId, NullClock, NullSink,
    PoolStats, StackLimit, TraceSink, Trap, Value,
};
#[cfg(feature = "std")]
pub use runtime::{HostExecMemory, StdClock, ThreadStackLimit, thread_stack_bounds};
