//! Recovery from CPU exceptions inside JIT code.
//!
//! Before a call may enter JIT code, [`guarded`] arms a per-CPU recovery point: the
//! assembly helper `bf_guarded_call` saves the callee-saved registers and the stack
//! pointer, then calls the closure. If a CPU exception hits while it is armed and the
//! faulting RIP lies in the executable pool's executable view, the trap dispatcher calls
//! [`recover`], which records the fault and rewrites the interrupt frame so that `iretq`
//! lands in `bf_guard_resume`: it restores the saved registers and returns 1 from
//! `bf_guarded_call`, as if the closure had returned. The frames in between (the engine's
//! call path and the JIT code) are abandoned without unwinding: they hold no locks while
//! JIT code runs and own no memory that needs dropping beyond what the closure captured,
//! which is leaked (never freed twice). Exceptions anywhere else still stop the kernel.
//! Guards do not nest: a guarded call inside a guarded call uses the outer recovery point.

use crate::arch::trap::TrapFrame;
use crate::percpu::{self, MAX_CPUS};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Registers saved at the recovery point: rbx, rbp, r12, r13, r14, r15, rsp.
#[repr(C)]
struct Saved([u64; 7]);

struct Guard {
    armed: AtomicBool,
    saved: UnsafeCell<Saved>,
    vector: AtomicU64,
    rip: AtomicU64,
    error_code: AtomicU64,
    cr2: AtomicU64,
}

// SAFETY: `saved` is written only by the owning CPU (in `bf_guarded_call`) and read by
// the same CPU (in `bf_guard_resume`); every other field is atomic.
unsafe impl Sync for Guard {}

static GUARDS: [Guard; MAX_CPUS] = [const {
    Guard {
        armed: AtomicBool::new(false),
        saved: UnsafeCell::new(Saved([0; 7])),
        vector: AtomicU64::new(0),
        rip: AtomicU64::new(0),
        error_code: AtomicU64::new(0),
        cr2: AtomicU64::new(0),
    }
}; MAX_CPUS];

core::arch::global_asm!(
    r#"
    .section .text.bf_guard, "ax"
    /* bf_guarded_call(f: extern "C" fn(*mut u8), ctx: *mut u8, saved: *mut [u64; 7]) -> u64 */
    .global bf_guarded_call
bf_guarded_call:
    mov [rdx], rbx
    mov [rdx + 8], rbp
    mov [rdx + 16], r12
    mov [rdx + 24], r13
    mov [rdx + 32], r14
    mov [rdx + 40], r15
    mov [rdx + 48], rsp
    push rbp
    mov rbp, rsp
    mov rax, rdi
    mov rdi, rsi
    call rax
    pop rbp
    xor eax, eax
    ret
    /* entered by iretq from the trap handler with rdi = saved */
    .global bf_guard_resume
bf_guard_resume:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    mov eax, 1
    ret
    .text
"#
);

unsafe extern "C" {
    fn bf_guarded_call(f: extern "C" fn(*mut u8), ctx: *mut u8, saved: *mut Saved) -> u64;
    static bf_guard_resume: u8;
}

/// A CPU exception caught in JIT code.
#[derive(Clone, Copy, Debug)]
pub struct JitFault {
    pub vector: u64,
    pub rip: u64,
    pub error_code: u64,
    pub cr2: u64,
}

struct Ctx<F, R> {
    f: Option<F>,
    out: Option<R>,
}

extern "C" fn trampoline<F: FnOnce() -> R, R>(ctx: *mut u8) {
    // SAFETY: `guarded` passes a pointer to its live `Ctx<F, R>`.
    let c = unsafe { &mut *(ctx as *mut Ctx<F, R>) };
    if let Some(f) = c.f.take() {
        c.out = Some(f());
    }
}

/// Runs `f` with a recovery point armed on this CPU: an exception in JIT code during
/// `f` makes this return `Err` instead of stopping the kernel.
pub fn guarded<R, F: FnOnce() -> R>(f: F) -> Result<R, JitFault> {
    let g = &GUARDS[percpu::current_index() as usize % MAX_CPUS];
    if g.armed.load(Ordering::SeqCst) {
        return Ok(f());
    }
    let mut ctx: Ctx<F, R> = Ctx {
        f: Some(f),
        out: None,
    };
    g.armed.store(true, Ordering::SeqCst);
    // SAFETY: the helper saves the callee-saved registers into this CPU's own record
    // and calls `trampoline` with `ctx`, which outlives the call. It returns 0, or 1
    // when `recover` redirected a fault to `bf_guard_resume`, which restores exactly the
    // registers the System V ABI requires a callee to preserve.
    let r = unsafe {
        bf_guarded_call(
            trampoline::<F, R>,
            &mut ctx as *mut Ctx<F, R> as *mut u8,
            g.saved.get(),
        )
    };
    g.armed.store(false, Ordering::SeqCst);
    match (r, ctx.out.take()) {
        (0, Some(v)) => Ok(v),
        _ => Err(JitFault {
            vector: g.vector.load(Ordering::SeqCst),
            rip: g.rip.load(Ordering::SeqCst),
            error_code: g.error_code.load(Ordering::SeqCst),
            cr2: g.cr2.load(Ordering::SeqCst),
        }),
    }
}

/// Called by the trap dispatcher for every exception: when this CPU has a recovery
/// point armed and RIP lies in JIT code, redirects the frame there and returns true.
pub fn recover(frame: &mut TrapFrame) -> bool {
    // NMI, double fault and machine check are never the JIT code's doing.
    if frame.vector >= 32 || matches!(frame.vector, 2 | 8 | 18) {
        return false;
    }
    let g = &GUARDS[percpu::current_index() as usize % MAX_CPUS];
    if !g.armed.load(Ordering::SeqCst) || !super::pool::in_exec_view(frame.rip) {
        return false;
    }
    g.vector.store(frame.vector, Ordering::SeqCst);
    g.rip.store(frame.rip, Ordering::SeqCst);
    g.error_code.store(frame.error_code, Ordering::SeqCst);
    g.cr2.store(
        x86_64::registers::control::Cr2::read_raw(),
        Ordering::SeqCst,
    );
    g.armed.store(false, Ordering::SeqCst);
    // SAFETY: only the address of the label is taken.
    frame.rip = unsafe { &bf_guard_resume as *const u8 as u64 };
    // SAFETY: the record was filled by `bf_guarded_call` on this CPU before the fault.
    frame.rsp = unsafe { (*g.saved.get()).0[6] };
    frame.rdi = g.saved.get() as u64;
    true
}
