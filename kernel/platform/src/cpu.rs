//! CPUs: per-CPU state (reached through the GS base, `arch/x86_64/percpu.rs`),
//! the CPU features, and what the application may ask about the CPUs.

use crate::arch::{self, gdt::CpuTables};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use spin::{Mutex, Once};

pub use crate::arch::cpuid::CpuFeatures;
pub use bareflow_boot_model::bootinfo::MAX_CPUS;

/// A unit of work handed to a parked CPU.
pub(crate) type Work = Box<dyn FnOnce() + Send + 'static>;

/// Everything one CPU owns.
pub(crate) struct PerCpu {
    /// Dense index: 0 is the BSP.
    pub index: u32,
    /// Local APIC id.
    pub apic_id: AtomicU32,
    /// Set once the CPU runs kernel code and is parked or working.
    pub online: AtomicBool,
    /// Work waiting for this CPU.
    pub jobs: Mutex<VecDeque<Work>>,
    /// Jobs this CPU ran.
    pub jobs_run: AtomicU64,
    /// Lowest address of this CPU's kernel stack.
    pub stack_lo: AtomicU64,
    /// Top of the stack.
    pub stack_hi: AtomicU64,
    /// This CPU's descriptor tables.
    pub tables: CpuTables,
}

impl PerCpu {
    /// Fresh state for CPU `index`.
    pub const fn new(index: u32) -> Self {
        PerCpu {
            index,
            apic_id: AtomicU32::new(0),
            online: AtomicBool::new(false),
            jobs: Mutex::new(VecDeque::new()),
            jobs_run: AtomicU64::new(0),
            stack_lo: AtomicU64::new(0),
            stack_hi: AtomicU64::new(0),
            tables: CpuTables::new(),
        }
    }

    /// Whether `addr..addr+len` lies in this CPU's kernel stack.
    pub fn stack_contains(&self, addr: u64, len: u64) -> bool {
        let lo = self.stack_lo.load(Ordering::Relaxed);
        let hi = self.stack_hi.load(Ordering::Relaxed);
        lo != 0 && addr >= lo && addr.checked_add(len).is_some_and(|end| end <= hi)
    }
}

static BSP: PerCpu = PerCpu::new(0);
static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
static COUNT: AtomicUsize = AtomicUsize::new(0);
static FEATURES: Once<CpuFeatures> = Once::new();

/// The BSP's state (registered as CPU 0).
pub(crate) fn bsp() -> &'static PerCpu {
    if CPUS[0].load(Ordering::Acquire).is_null() {
        CPUS[0].store(&BSP as *const PerCpu as *mut PerCpu, Ordering::Release);
        COUNT.store(1, Ordering::Release);
    }
    &BSP
}

/// Makes state for the next application processor, or `None` when
/// [`MAX_CPUS`] are registered.
pub(crate) fn register_ap() -> Option<&'static PerCpu> {
    let index = COUNT.load(Ordering::Acquire);
    if index >= MAX_CPUS {
        return None;
    }
    let cpu: &'static PerCpu = Box::leak(Box::new(PerCpu::new(index as u32)));
    CPUS[index].store(cpu as *const PerCpu as *mut PerCpu, Ordering::Release);
    COUNT.store(index + 1, Ordering::Release);
    Some(cpu)
}

/// Number of registered CPUs (online or still starting).
pub(crate) fn count() -> usize {
    COUNT.load(Ordering::Acquire)
}

/// CPU `index`, if registered.
pub(crate) fn get(index: usize) -> Option<&'static PerCpu> {
    let p = CPUS.get(index)?.load(Ordering::Acquire);
    // SAFETY: non-null entries point at `BSP` or at leaked boxes: 'static and
    // never freed; PerCpu is Sync.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Makes `cpu` the calling CPU's state (`current` returns it from now on).
pub(crate) fn install(cpu: &'static PerCpu) {
    arch::percpu::install(cpu);
}

/// The calling CPU's state (the BSP's before `install` ran anywhere).
pub(crate) fn current() -> &'static PerCpu {
    arch::percpu::current().unwrap_or(&BSP)
}

/// The calling CPU's index (0 is the bootstrap CPU; dense up to the number of
/// CPUs started).
pub fn current_index() -> u32 {
    current().index
}

/// The calling CPU's local APIC id, as the APIC itself reports it now.
pub fn current_apic_id() -> u32 {
    arch::apic::id()
}

/// The local APIC id recorded for CPU `index` when it came online.
pub fn apic_id(index: usize) -> Option<u32> {
    get(index).map(|c| c.apic_id.load(Ordering::Relaxed))
}

/// The calling CPU's kernel stack: (lowest address, top). An application
/// processor's stack has an unmapped guard page below it; the bootstrap CPU
/// runs on the boot stack in the kernel image.
pub fn stack_bounds() -> (u64, u64) {
    let me = current();
    (
        me.stack_lo.load(Ordering::Relaxed),
        me.stack_hi.load(Ordering::Relaxed),
    )
}

/// Detects the bootstrap CPU's features (once).
pub(crate) fn detect_features() -> &'static CpuFeatures {
    FEATURES.call_once(CpuFeatures::detect)
}

/// The bootstrap CPU's features (CPUID), with AVX state already enabled in
/// XCR0 when present. Every CPU of a machine is assumed to have the same.
pub fn features() -> &'static CpuFeatures {
    FEATURES
        .get()
        .expect("the platform detects CPU features before the application starts")
}

/// Serializes the calling CPU's instruction stream: code written through
/// another mapping or by another CPU is fetched afresh after this.
pub fn serialize_instructions() {
    arch::serialize_instructions();
}
