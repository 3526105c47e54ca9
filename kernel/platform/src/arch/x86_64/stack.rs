//! Frame-pointer stack walks (the kernel is built with frame pointers).

use crate::cpu;

/// Return addresses found by following saved frame pointers from `rbp`,
/// staying inside the calling CPU's kernel stack.
pub(crate) fn walk(mut rbp: u64, out: &mut [u64]) -> usize {
    let me = cpu::current();
    let mut n = 0;
    while n < out.len() && rbp.is_multiple_of(8) && me.stack_contains(rbp, 16) {
        // SAFETY: [rbp, rbp+16) lies inside this CPU's mapped kernel stack
        // (checked above), so both words are readable.
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    n
}

/// The frame pointer where this is inlined: a walk started from it begins
/// with the enclosing function's return address.
#[inline(always)]
pub(crate) fn frame_pointer() -> u64 {
    let rbp: u64;
    // SAFETY: reads the frame pointer register; no memory access.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags))
    };
    rbp
}
