//! Stack walks: return addresses by following saved frame pointers.

use crate::arch::stack;

/// The return addresses of the calling function and its callers, innermost
/// first, within the calling CPU's kernel stack; returns how many were found
/// (at most `out.len()`).
#[inline(never)]
pub fn walk_here(out: &mut [u64]) -> usize {
    stack::walk(stack::frame_pointer(), out)
}
