//! Multiprocessing: start every CPU, park it, hand it work.
//!
//! Under Limine the loader has already started the application processors
//! (MP request); we send each one to `ap_entry`. Under multiboot2 we read
//! the ACPI MADT and start each one with INIT-SIPI-SIPI through a real-mode
//! trampoline at 0x8000. Either way every AP gets its own stack, GDT, TSS
//! and interrupt stacks, says `cpu_online`, and parks (`hlt`) until
//! [`run_on`] gives it work.

use crate::arch::{self, apic, entry, gdt, idt};
use crate::cpu::{self, PerCpu, Work};
use crate::mem::vm;
use crate::{acpi, time, trace};
use alloc::boxed::Box;
use alloc::sync::Arc;
use bareflow_boot_model::bootinfo::BootInfo;
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;

/// Kernel stack of an application processor.
const AP_STACK: u64 = 256 * 1024;
/// Each interrupt stack.
const IST_STACK: u64 = 32 * 1024;
/// How long to wait for an AP to come up.
const START_TIMEOUT_US: u64 = 1_000_000;

/// Why work could not be handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmpError {
    /// No CPU with that index.
    NoSuchCpu(usize),
    /// The CPU exists but is not parked waiting for work (it is the BSP,
    /// which runs the main flow, or it never came online).
    NotParked(usize),
}

/// Result slot of a job.
struct Slot<R> {
    done: AtomicBool,
    value: Mutex<Option<R>>,
}

/// Handle to work running (or done) on another CPU.
pub struct Job<R> {
    slot: Arc<Slot<R>>,
    cpu: usize,
}

impl<R> Job<R> {
    /// Whether the work has finished.
    pub fn is_done(&self) -> bool {
        self.slot.done.load(Ordering::Acquire)
    }

    /// The CPU it runs on.
    pub fn cpu(&self) -> usize {
        self.cpu
    }

    /// Waits for the result.
    pub fn join(self) -> R {
        while !self.is_done() {
            core::hint::spin_loop();
        }
        self.slot
            .value
            .lock()
            .take()
            .expect("a finished job stores its result once")
    }

    /// Waits at most `us` microseconds; gives the handle back on timeout.
    pub fn join_timeout(self, us: u64) -> Result<R, Job<R>> {
        let deadline = time::now_us() + us;
        while !self.is_done() {
            if time::now_us() > deadline {
                return Err(self);
            }
            core::hint::spin_loop();
        }
        Ok(self.join())
    }
}

/// Runs `f` on CPU `cpu` and returns a handle to its result.
///
/// On the calling CPU itself, `f` runs right away. Other CPUs must be parked
/// application processors; their work queue is FIFO.
pub fn run_on<R, F>(cpu: usize, f: F) -> Result<Job<R>, SmpError>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let target = cpu::get(cpu).ok_or(SmpError::NoSuchCpu(cpu))?;
    let slot = Arc::new(Slot {
        done: AtomicBool::new(false),
        value: Mutex::new(None),
    });
    let out = slot.clone();
    let work: Work = Box::new(move || {
        let r = f();
        *out.value.lock() = Some(r);
        out.done.store(true, Ordering::Release);
    });
    if target.index == cpu::current_index() {
        work();
    } else {
        if target.index == 0 || !target.online.load(Ordering::Acquire) {
            return Err(SmpError::NotParked(cpu));
        }
        target.jobs.lock().push_back(work);
        apic::send_fixed(target.apic_id.load(Ordering::Relaxed), idt::WAKE_VECTOR);
    }
    Ok(Job { slot, cpu })
}

/// Indices of CPUs that are online (the BSP included).
pub fn online() -> impl Iterator<Item = usize> {
    (0..cpu::count()).filter(|&i| cpu::get(i).is_some_and(|c| c.online.load(Ordering::Acquire)))
}

/// BSP interrupt stacks (static: needed before the heap exists).
#[repr(C, align(16))]
struct StaticStack(core::cell::UnsafeCell<[u8; IST_STACK as usize]>);
// SAFETY: only the CPU (as a stack) ever touches these bytes.
unsafe impl Sync for StaticStack {}
static BSP_IST: [StaticStack; 2] = [
    StaticStack(core::cell::UnsafeCell::new([0; IST_STACK as usize])),
    StaticStack(core::cell::UnsafeCell::new([0; IST_STACK as usize])),
];

fn top_of(s: &StaticStack) -> u64 {
    s.0.get() as u64 + IST_STACK
}

/// Sets up the BSP: per-CPU state, GDT/TSS, IDT. Runs before paging.
pub(crate) fn init_bsp() {
    let cpu = cpu::bsp();
    let (lo, hi) = entry::boot_stack();
    cpu.stack_lo.store(lo, Ordering::Relaxed);
    cpu.stack_hi.store(hi, Ordering::Relaxed);
    gdt::init_cpu(&cpu.tables, top_of(&BSP_IST[0]), top_of(&BSP_IST[1]));
    idt::load_idt();
    cpu::install(cpu);
}

/// Marks the BSP online once its APIC is reachable.
pub(crate) fn bsp_online() {
    let cpu = cpu::bsp();
    apic::enable_local();
    cpu.apic_id.store(apic::id(), Ordering::Relaxed);
    cpu.online.store(true, Ordering::Release);
    announce(cpu);
}

fn announce(cpu: &PerCpu) {
    trace::emit("cpu_online", |e| {
        e.u64("apic_id", cpu.apic_id.load(Ordering::Relaxed) as u64)
            .u64("index", cpu.index as u64)
            .bool("bsp", cpu.index == 0)
            .hex("stack_top", cpu.stack_hi.load(Ordering::Relaxed));
    });
}

/// Common AP entry (both loaders, see `arch/x86_64/smp.rs`), on the AP's
/// own stack with the kernel's page tables; `arg` is its PerCpu.
pub(crate) extern "C" fn ap_entry(arg: u64) -> ! {
    // SAFETY: `arg` is the address of a leaked ('static) PerCpu that the BSP
    // registered for this very CPU.
    let cpu: &'static PerCpu = unsafe { &*(arg as *const PerCpu) };
    let started = (|| -> Result<(), vm::VmError> {
        let (_, exc_top) = vm::alloc_stack(IST_STACK)?;
        let (_, crit_top) = vm::alloc_stack(IST_STACK)?;
        gdt::init_cpu(&cpu.tables, exc_top, crit_top);
        Ok(())
    })();
    if started.is_err() {
        // Without interrupt stacks this CPU cannot take faults safely.
        arch::halt_forever();
    }
    idt::load_idt();
    cpu::install(cpu);
    apic::enable_local();
    cpu.apic_id.store(apic::id(), Ordering::Relaxed);
    cpu.online.store(true, Ordering::Release);
    announce(cpu);
    park(cpu)
}

/// Runs queued work; sleeps (`hlt`) when there is none. The wake IPI ends
/// the sleep; `sti; hlt` is atomic with respect to it, so no wake-up is lost.
fn park(cpu: &'static PerCpu) -> ! {
    loop {
        arch::disable_interrupts();
        let job = cpu.jobs.lock().pop_front();
        match job {
            Some(work) => {
                work();
                cpu.jobs_run.fetch_add(1, Ordering::Relaxed);
            }
            None => arch::enable_interrupts_and_halt(),
        }
    }
}

fn prepare_ap(apic_id: u32) -> Option<&'static PerCpu> {
    let cpu = cpu::register_ap()?;
    cpu.apic_id.store(apic_id, Ordering::Relaxed);
    let (lo, hi) = vm::alloc_stack(AP_STACK).ok()?;
    cpu.stack_lo.store(lo, Ordering::Relaxed);
    cpu.stack_hi.store(hi, Ordering::Relaxed);
    Some(cpu)
}

fn wait_online(cpu: &PerCpu) -> bool {
    let deadline = time::now_us() + START_TIMEOUT_US;
    while time::now_us() < deadline {
        if cpu.online.load(Ordering::Acquire) {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// Starts the APs Limine reports (all but the BSP), at most `limit` CPUs in all.
pub(crate) fn start_limine(limit: usize) -> usize {
    let Some(mp) = crate::boot::limine::mp_response() else {
        trace::warn(
            "smp",
            format_args!("Limine gave no MP response; running on the BSP only"),
        );
        return 1;
    };
    let bsp = mp.bsp_lapic_id();
    let mut started = 1;
    for info in mp.cpus().iter().filter(|c| c.lapic_id != bsp) {
        if started >= limit {
            break;
        }
        let Some(cpu) = prepare_ap(info.lapic_id) else {
            trace::warn(
                "smp",
                format_args!("no room or memory for CPU with APIC id {}", info.lapic_id),
            );
            break;
        };
        arch::smp::start_limine_ap(info, cpu);
        if wait_online(cpu) {
            started += 1;
        } else {
            trace::warn(
                "smp",
                format_args!("CPU with APIC id {} did not come online", info.lapic_id),
            );
        }
    }
    started
}

/// Multiboot2: finds the APs in the ACPI MADT (RSDP from the loader or the
/// BIOS areas) and starts them, at most `limit` CPUs in all.
pub(crate) fn start_multiboot2(info: &BootInfo, limit: usize) -> usize {
    let rsdp = info.rsdp_phys.or_else(acpi::scan_bios_rsdp);
    match rsdp.map(acpi::read_madt) {
        Some(Ok(madt)) => {
            let t = entry::AP_TRAMPOLINE_PHYS;
            start_sipi(
                madt.cpus.as_slice(),
                info.memory.is_usable(t, t + 4096),
                limit,
            )
        }
        Some(Err(reason)) => {
            trace::warn("acpi", format_args!("{reason}; running on the BSP only"));
            1
        }
        None => {
            trace::warn(
                "acpi",
                format_args!("no ACPI RSDP found; running on the BSP only"),
            );
            1
        }
    }
}

/// Starts the APs listed in the MADT with INIT-SIPI-SIPI (multiboot2 path).
fn start_sipi(madt_cpus: &[acpi::MadtCpu], usable_trampoline: bool, limit: usize) -> usize {
    let bsp = apic::id();
    if madt_cpus.iter().all(|c| c.apic_id == bsp) {
        return 1;
    }
    if !usable_trampoline {
        trace::warn(
            "smp",
            format_args!("page 0x8000 is not free RAM; running on the BSP only"),
        );
        return 1;
    }
    let starter = arch::smp::SipiStarter::install(vm::phys_to_virt(entry::AP_TRAMPOLINE_PHYS));
    let mut started = 1;
    for c in madt_cpus.iter().filter(|c| c.apic_id != bsp) {
        if started >= limit {
            break;
        }
        let Some(cpu) = prepare_ap(c.apic_id) else {
            trace::warn(
                "smp",
                format_args!("no room or memory for CPU with APIC id {}", c.apic_id),
            );
            break;
        };
        starter.prepare(cpu.stack_hi.load(Ordering::Relaxed), cpu);
        starter.start(c.apic_id, || cpu.online.load(Ordering::Acquire));
        if wait_online(cpu) {
            started += 1;
        } else {
            trace::warn(
                "smp",
                format_args!("CPU with APIC id {} did not come online", c.apic_id),
            );
        }
    }
    started
}
