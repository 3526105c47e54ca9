//! The fault-recovery service: which CPU exceptions the kernel survives.
//!
//! One table of code ranges (model: Asterinas OSTD's exception table) tells
//! the trap handler what to do with an exception whose RIP lies in a range:
//!
//! - **Continue at a fixup**: the range is a probing instruction of the
//!   platform (`probe_write`, used by the pool's W^X probe and
//!   `mem::probe_unmapped`); the exception is recorded for the calling
//!   CPU and execution continues at the instruction's fixup, which makes the
//!   probe return an error.
//! - **Resume the recovery point**: the range is recoverable code (the
//!   executable pool's view, registered by the JIT runtime with
//!   [`register_recoverable`]); if the calling CPU is inside [`guarded`], the
//!   exception is recorded and execution resumes where `guarded` was entered,
//!   which returns `Err(FaultInfo)`.
//!
//! Every other exception, and NMIs, double faults and machine checks
//! anywhere, stop the kernel with an `exception` event (`arch/x86_64/idt.rs`).

use crate::arch::{self, recovery};
use crate::cpu::{self, MAX_CPUS};
use crate::mem::exec_pool::ExecRange;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// A CPU exception the service recovered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultInfo {
    /// Exception vector (14 is a page fault).
    pub vector: u64,
    /// Address of the faulting instruction.
    pub rip: u64,
    /// The exception's error code (0 when it has none).
    pub error_code: u64,
    /// CR2: the faulting address of a page fault.
    pub cr2: u64,
}

/// What the trap handler does with a recoverable exception.
pub(crate) enum Recovery {
    /// Continue at this address (a probe's fixup).
    ContinueAt(u64),
    /// Resume the calling CPU's armed recovery point.
    ResumeRecoveryPoint(&'static recovery::RecoveryPoint),
}

/// One table entry: `[start, end)`, and the fixup address (0: resume the
/// recovery point instead).
struct Entry {
    start: AtomicU64,
    end: AtomicU64,
    fixup: AtomicU64,
}

const TABLE_SIZE: usize = 8;

static TABLE: [Entry; TABLE_SIZE] = [const {
    Entry {
        start: AtomicU64::new(0),
        end: AtomicU64::new(0),
        fixup: AtomicU64::new(0),
    }
}; TABLE_SIZE];
/// Entries published (each fully written before `LEN` covers it).
static LEN: AtomicUsize = AtomicUsize::new(0);
/// Serializes registrations (readers never take it).
static REGISTER: spin::Mutex<()> = spin::Mutex::new(());

/// Per CPU: its recovery point, whether it is armed, and the last exception
/// recovered on it.
struct CpuRecovery {
    point: recovery::RecoveryPoint,
    armed: AtomicBool,
    vector: AtomicU64,
    rip: AtomicU64,
    error_code: AtomicU64,
    cr2: AtomicU64,
}

static CPUS: [CpuRecovery; MAX_CPUS] = [const {
    CpuRecovery {
        point: recovery::RecoveryPoint::new(),
        armed: AtomicBool::new(false),
        vector: AtomicU64::new(0),
        rip: AtomicU64::new(0),
        error_code: AtomicU64::new(0),
        cr2: AtomicU64::new(0),
    }
}; MAX_CPUS];

fn mine() -> &'static CpuRecovery {
    &CPUS[cpu::current_index() as usize % MAX_CPUS]
}

impl CpuRecovery {
    fn record(&self, f: &FaultInfo) {
        self.vector.store(f.vector, Ordering::SeqCst);
        self.rip.store(f.rip, Ordering::SeqCst);
        self.error_code.store(f.error_code, Ordering::SeqCst);
        self.cr2.store(f.cr2, Ordering::SeqCst);
    }

    fn last(&self) -> FaultInfo {
        FaultInfo {
            vector: self.vector.load(Ordering::SeqCst),
            rip: self.rip.load(Ordering::SeqCst),
            error_code: self.error_code.load(Ordering::SeqCst),
            cr2: self.cr2.load(Ordering::SeqCst),
        }
    }
}

/// The table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

fn add(start: u64, end: u64, fixup: u64) -> Result<(), TableFull> {
    let _one_writer = REGISTER.lock();
    let len = LEN.load(Ordering::Acquire);
    let same = |e: &Entry| {
        e.start.load(Ordering::Relaxed) == start
            && e.end.load(Ordering::Relaxed) == end
            && e.fixup.load(Ordering::Relaxed) == fixup
    };
    if TABLE[..len].iter().any(same) {
        return Ok(());
    }
    let e = TABLE.get(len).ok_or(TableFull)?;
    e.start.store(start, Ordering::Relaxed);
    e.end.store(end, Ordering::Relaxed);
    e.fixup.store(fixup, Ordering::Relaxed);
    LEN.store(len + 1, Ordering::Release);
    Ok(())
}

/// Enters the platform's own probes into the table (once, at boot).
pub(crate) fn init() {
    let (start, end, fixup) = recovery::probe_write_range();
    add(start, end, fixup).expect("the exception table has room for the probes");
}

/// Makes CPU exceptions in `code` recoverable by [`guarded`] calls (the JIT
/// runtime registers the executable pool's view). Registering a range twice
/// is harmless.
pub fn register_recoverable(code: ExecRange) -> Result<(), TableFull> {
    add(code.start, code.end, 0)
}

/// Called by the trap handler for every exception: how to recover, or `None`
/// to stop the kernel.
pub(crate) fn on_exception(f: &FaultInfo) -> Option<Recovery> {
    // NMI, double fault and machine check are never the faulting code's doing.
    if f.vector >= 32 || matches!(f.vector, 2 | 8 | 18) {
        return None;
    }
    let len = LEN.load(Ordering::Acquire);
    let entry = TABLE[..len].iter().find(|e| {
        (e.start.load(Ordering::Relaxed)..e.end.load(Ordering::Relaxed)).contains(&f.rip)
    })?;
    let me = mine();
    match entry.fixup.load(Ordering::Relaxed) {
        0 => {
            if !me.armed.swap(false, Ordering::SeqCst) {
                return None;
            }
            me.record(f);
            Some(Recovery::ResumeRecoveryPoint(&me.point))
        }
        fixup => {
            me.record(f);
            Some(Recovery::ContinueAt(fixup))
        }
    }
}

struct Call<F, R> {
    f: Option<F>,
    out: Option<R>,
}

extern "C" fn run_call<F: FnOnce() -> R, R>(ctx: *mut u8) {
    // SAFETY: `guarded` passes a pointer to its live `Call<F, R>`, which
    // nothing else touches during the call.
    let c = unsafe { &mut *(ctx as *mut Call<F, R>) };
    if let Some(f) = c.f.take() {
        c.out = Some(f());
    }
}

/// Runs `f` with a recovery point armed on this CPU: a CPU exception in
/// registered recoverable code during `f` makes this return `Err` (what the
/// exception was) instead of stopping the kernel.
///
/// On such an exception the frames between this call and the faulting code
/// are abandoned, not unwound: values they own are leaked (never dropped),
/// and locks they hold stay held. Callers keep `f` to code that holds no lock
/// and owns nothing needing a drop while recoverable code runs (the JIT
/// engine's call path). Guards do not nest: inside a guarded call, `guarded`
/// just runs `f` and the outer recovery point catches exceptions.
pub fn guarded<R, F: FnOnce() -> R>(f: F) -> Result<R, FaultInfo> {
    let me = mine();
    if me.armed.load(Ordering::SeqCst) {
        return Ok(f());
    }
    let mut call: Call<F, R> = Call {
        f: Some(f),
        out: None,
    };
    me.armed.store(true, Ordering::SeqCst);
    // SAFETY: the point belongs to this CPU and is not in use (not armed
    // before); `run_call::<F, R>` expects exactly a `*mut Call<F, R>`, and
    // `call` outlives the call. A recovered exception leaves `call.out` empty.
    let recovered = unsafe {
        recovery::call_with_recovery_point(
            run_call::<F, R>,
            &mut call as *mut Call<F, R> as *mut u8,
            &me.point,
        )
    };
    me.armed.store(false, Ordering::SeqCst);
    match (recovered, call.out.take()) {
        (false, Some(v)) => Ok(v),
        _ => Err(me.last()),
    }
}

/// Stores `value` at `addr`, turning a page fault (or any exception) at the
/// store into an error instead of a crash.
///
/// # Safety
/// If the store succeeds it really happens: `addr` must be a byte the caller
/// may overwrite with `value` (or an address expected to fault).
pub(crate) unsafe fn probe_write(addr: u64, value: u8) -> Result<(), FaultInfo> {
    // SAFETY: the caller vouches for the store; `init` put the probe's store
    // instruction in the table, so a fault there continues at its fixup.
    if unsafe { recovery::probe_write(addr, value) } {
        Err(mine().last())
    } else {
        Ok(())
    }
}

/// The name of exception `vector` (`page_fault`, `invalid_opcode`, ...).
pub fn exception_name(vector: u64) -> &'static str {
    arch::idt::exception_name(vector)
}

/// Raises an invalid-opcode exception on purpose (`test-exception` mode): it
/// is reported as an expected `exception` event and the kernel exits with
/// the expected-exception code.
pub fn deliberate_invalid_opcode() -> ! {
    arch::idt::expect_exception();
    arch::invalid_opcode()
}
