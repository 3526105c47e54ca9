//! The runtime: what the embedder holds and calls.
//!
//! [`Engine`] ([`engine`]) loads verified modules, gives every function a [`slot`], counts
//! calls, runs T0 or the published code, and tiers up as [`policy`] says. Compiled units
//! are placed in the embedder's executable memory ([`exec_memory`], [`code`]); hardware
//! comes in through the traits [`ExecMemory`], [`CodeSync`], [`StackLimit`], [`Clock`] and
//! [`TraceSink`] ([`events`]). [`values`] are the arguments, results and traps of a call.

mod code;
mod engine;
mod events;
mod exec_memory;
#[cfg(feature = "std")]
mod host_memory;
mod policy;
mod slot;
mod stack_limit;
mod values;

pub use code::BuildError;
pub use engine::{CompileStats, Engine, EngineConfig, FuncId, LoadError, MAX_FUNCS, ModuleId};
#[cfg(feature = "std")]
pub use events::StdClock;
pub use events::{Clock, Event, NullClock, NullSink, TraceSink};
pub use exec_memory::{CodeBlock, CodeSync, ExecMemError, ExecMemory, PoolStats};
#[cfg(feature = "std")]
pub use host_memory::HostExecMemory;
pub use policy::{
    ADAPTIVE_MIN_CALLS, PRIOR_COMPILE_NS, PRIOR_SPEEDUP, TierPolicy, adaptive_pays_off,
    break_even_calls,
};
pub use stack_limit::StackLimit;
#[cfg(feature = "std")]
pub use stack_limit::{ThreadStackLimit, thread_stack_bounds};
pub use values::{Arg, Trap, Value};
