//! Per-CPU state, reachable from any CPU through the GS base register.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use spin::{Mutex, Once};
use x86_64::VirtAddr;
use x86_64::registers::model_specific::GsBase;
use x86_64::structures::gdt::{GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

pub use bareflow_boot_model::bootinfo::MAX_CPUS;

/// A unit of work handed to a parked CPU.
pub type Work = Box<dyn FnOnce() + Send + 'static>;

/// Segment selectors of one CPU's GDT.
#[derive(Clone, Copy)]
pub struct Selectors {
    /// Kernel code.
    pub code: SegmentSelector,
    /// Kernel data.
    pub data: SegmentSelector,
    /// The TSS.
    pub tss: SegmentSelector,
}

/// A page fault the code expected (see `arch::trap::probe_write`).
pub struct FaultProbe {
    /// Set while a probing access is in flight.
    pub armed: AtomicBool,
    /// Set by the trap handler when the probe faulted.
    pub hit: AtomicBool,
    /// CR2 of the fault.
    pub cr2: AtomicU64,
    /// Page-fault error code.
    pub error_code: AtomicU64,
}

/// Everything one CPU owns.
pub struct PerCpu {
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
    /// Bounds of this CPU's kernel stack (for stack walks).
    pub stack_lo: AtomicU64,
    /// Top of the stack.
    pub stack_hi: AtomicU64,
    /// This CPU's TSS.
    pub tss: Once<TaskStateSegment>,
    /// This CPU's GDT.
    pub gdt: Once<(GlobalDescriptorTable, Selectors)>,
    /// Expected-fault probe.
    pub probe: FaultProbe,
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
            tss: Once::new(),
            gdt: Once::new(),
            probe: FaultProbe {
                armed: AtomicBool::new(false),
                hit: AtomicBool::new(false),
                cr2: AtomicU64::new(0),
                error_code: AtomicU64::new(0),
            },
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

/// The BSP's state (registered as CPU 0).
pub fn bsp() -> &'static PerCpu {
    if CPUS[0].load(Ordering::Acquire).is_null() {
        CPUS[0].store(&BSP as *const PerCpu as *mut PerCpu, Ordering::Release);
        COUNT.store(1, Ordering::Release);
    }
    &BSP
}

/// Makes state for the next application processor, or `None` when
/// [`MAX_CPUS`] are registered.
pub fn register_ap() -> Option<&'static PerCpu> {
    let index = COUNT.load(Ordering::Acquire);
    if index >= MAX_CPUS {
        return None;
    }
    let cpu: &'static PerCpu = Box::leak(Box::new(PerCpu::new(index as u32)));
    CPUS[index].store(cpu as *const PerCpu as *mut PerCpu, Ordering::Release);
    COUNT.store(index + 1, Ordering::Release);
    Some(cpu)
}

/// Number of registered CPUs.
pub fn count() -> usize {
    COUNT.load(Ordering::Acquire)
}

/// CPU `index`, if registered.
pub fn get(index: usize) -> Option<&'static PerCpu> {
    let p = CPUS.get(index)?.load(Ordering::Acquire);
    // SAFETY: non-null entries point at `BSP` or at leaked boxes: 'static and
    // never freed; PerCpu is Sync.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Points this CPU's GS base at `cpu`.
pub fn install(cpu: &'static PerCpu) {
    GsBase::write(VirtAddr::from_ptr(cpu as *const PerCpu));
}

/// The calling CPU's state (the BSP's before `install` ran anywhere).
pub fn current() -> &'static PerCpu {
    let p = GsBase::read().as_u64();
    if p == 0 {
        return &BSP;
    }
    // SAFETY: GS base is only ever set by `install`, to a 'static PerCpu.
    unsafe { &*(p as *const PerCpu) }
}

/// The calling CPU's index.
pub fn current_index() -> u32 {
    current().index
}
