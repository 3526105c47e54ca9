//! The cranelift-jit comparison column.
//!
//! It needs the kernel's T2 Cranelift IR from the `jit` crate, which does not expose a
//! hook for it yet (see the catalog/benches report), so the column reports why it is
//! unavailable instead of timing anything.

/// Why the cranelift-jit variant cannot run.
pub fn unavailable_reason() -> String {
    "jit exposes no hook to obtain a kernel's Cranelift IR".to_string()
}
