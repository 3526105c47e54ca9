//! The native stack.

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
