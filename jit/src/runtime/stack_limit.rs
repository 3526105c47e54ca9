//! Where compiled code must stop recursing: the embedder's [`StackLimit`].
//!
//! T0 keeps IR call frames on the heap, but T1–T3 compile an IR call to a native call, so
//! deep IR recursion consumes the stack of the calling thread (in the kernel: the CPU's
//! 256 KiB stack). The embedder tells the engine where that stack ends through
//! [`StackLimit`]; every compiled function checks at entry that at least
//! `STACK_RESERVE` bytes (`codegen::abi`) remain above that limit and otherwise returns
//! the `CallDepth` trap, as it does when the IR call-depth limit is exceeded.

/// Where the calling thread's stack ends, supplied by the embedder (see
/// [`crate::Engine::with_stack_limit`]). Called on the calling thread before every entry
/// into compiled code.
pub trait StackLimit: Send + Sync {
    /// The lowest stack address compiled code may use on the calling thread or CPU (the
    /// stack grows down towards it); anything the embedder needs below the running code,
    /// such as room for interrupt handlers, is already added. 0 means unknown: only the
    /// IR call-depth limit then bounds recursion.
    fn stack_limit(&self) -> usize;
}

/// The host's [`StackLimit`]: the calling thread's stack bounds ([`thread_stack_bounds`])
/// plus one page of slack above the guard.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadStackLimit;

#[cfg(feature = "std")]
impl StackLimit for ThreadStackLimit {
    fn stack_limit(&self) -> usize {
        thread_stack_bounds().map_or(0, |(lo, _)| lo + 4096)
    }
}

/// The calling thread's stack as (lowest address, highest address), from
/// `pthread_getattr_np` (Linux), queried once per thread. `None` where unknown.
#[cfg(feature = "std")]
pub fn thread_stack_bounds() -> Option<(usize, usize)> {
    use std::cell::Cell;
    std::thread_local! {
        static BOUNDS: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    }
    BOUNDS.with(|cell| {
        if let Some(b) = cell.get() {
            return Some(b);
        }
        let b = query_stack_bounds()?;
        cell.set(Some(b));
        Some(b)
    })
}

#[cfg(all(feature = "std", target_os = "linux"))]
fn query_stack_bounds() -> Option<(usize, usize)> {
    let mut addr: *mut libc::c_void = core::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: `attr` is initialized by pthread_getattr_np before it is read and destroyed
    // exactly once; the out-pointers point to live locals.
    let ok = unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        r == 0
    };
    (ok && size > 0).then(|| (addr as usize, addr as usize + size))
}

#[cfg(all(feature = "std", not(target_os = "linux")))]
fn query_stack_bounds() -> Option<(usize, usize)> {
    None
}
