//! Multiprocessing: start every CPU, park it, hand it work.
//!
//! Under Limine the loader has already started the application processors
//! (MP request); we send each one to [`ap_entry`]. Under multiboot2 we read
//! the ACPI MADT and start each one with INIT-SIPI-SIPI through a real-mode
//! trampoline at 0x8000. Either way every AP gets its own stack, GDT, TSS
//! and interrupt stacks, says `cpu_online`, and parks (`hlt`) until
//! [`run_on`] gives it work.

use crate::arch::{apic, entry, gdt, trap};
use crate::mem::paging;
use crate::percpu::{self, PerCpu, Work};
use crate::{trace, tsc};
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
        let deadline = tsc::now_us() + us;
        while !self.is_done() {
            if tsc::now_us() > deadline {
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
    let target = percpu::get(cpu).ok_or(SmpError::NoSuchCpu(cpu))?;
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
    if target.index == percpu::current_index() {
        work();
    } else {
        if target.index == 0 || !target.online.load(Ordering::Acquire) {
            return Err(SmpError::NotParked(cpu));
        }
        target.jobs.lock().push_back(work);
        apic::send_fixed(target.apic_id.load(Ordering::Relaxed), trap::WAKE_VECTOR);
    }
    Ok(Job { slot, cpu })
}

/// Indices of CPUs that are online (the BSP included).
pub fn online() -> impl Iterator<Item = usize> {
    (0..percpu::count())
        .filter(|&i| percpu::get(i).is_some_and(|c| c.online.load(Ordering::Acquire)))
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
pub fn init_bsp() {
    let cpu = percpu::bsp();
    // SAFETY: linker/asm symbols; only their addresses are used.
    let (lo, hi) = unsafe {
        (
            &entry::boot_stack_bottom as *const u8 as u64,
            &entry::boot_stack_top as *const u8 as u64,
        )
    };
    cpu.stack_lo.store(lo, Ordering::Relaxed);
    cpu.stack_hi.store(hi, Ordering::Relaxed);
    gdt::init_cpu(cpu, top_of(&BSP_IST[0]), top_of(&BSP_IST[1]));
    trap::load_idt();
    percpu::install(cpu);
}

/// Marks the BSP online once its APIC is reachable.
pub fn bsp_online() {
    let cpu = percpu::bsp();
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

/// Common AP entry (both loaders), on the AP's own stack; `arg` is its PerCpu.
extern "C" fn ap_entry(arg: u64) -> ! {
    // SAFETY: `arg` is the address of a leaked ('static) PerCpu that the BSP
    // registered for this very CPU.
    let cpu: &'static PerCpu = unsafe { &*(arg as *const PerCpu) };
    let started = (|| -> Result<(), paging::VmError> {
        let (_, exc_top) = paging::alloc_stack(IST_STACK)?;
        let (_, crit_top) = paging::alloc_stack(IST_STACK)?;
        gdt::init_cpu(cpu, exc_top, crit_top);
        Ok(())
    })();
    if started.is_err() {
        // Without interrupt stacks this CPU cannot take faults safely.
        crate::arch::halt_forever();
    }
    trap::load_idt();
    percpu::install(cpu);
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
        x86_64::instructions::interrupts::disable();
        let job = cpu.jobs.lock().pop_front();
        match job {
            Some(work) => {
                work();
                cpu.jobs_run.fetch_add(1, Ordering::Relaxed);
            }
            None => x86_64::instructions::interrupts::enable_and_hlt(),
        }
    }
}

static OUR_CR3: AtomicU64 = AtomicU64::new(0);

/// Limine sends each AP here (via `limine_ap_start`, which enabled SSE).
#[unsafe(no_mangle)]
extern "C" fn limine_ap_rust(info: &limine::mp::Cpu) -> ! {
    let cpu_addr = info.extra.load(Ordering::Acquire);
    // SAFETY: the BSP stored a 'static PerCpu address in `extra` before
    // writing `goto_address`.
    let cpu: &'static PerCpu = unsafe { &*(cpu_addr as *const PerCpu) };
    let cr3 = OUR_CR3.load(Ordering::Acquire);
    // SAFETY: the kernel's tables map everything this CPU touches next:
    // the kernel image, the direct map at Limine's offset (where Limine's
    // AP stack is) and the stack allocated for this CPU.
    unsafe {
        core::arch::asm!("mov cr3, {}", in(reg) cr3, options(nostack));
        entry::switch_stack_and_call(cpu_addr, cpu.stack_hi.load(Ordering::Relaxed), ap_entry)
    }
}

fn prepare_ap(apic_id: u32) -> Option<&'static PerCpu> {
    let cpu = percpu::register_ap()?;
    cpu.apic_id.store(apic_id, Ordering::Relaxed);
    let (lo, hi) = paging::alloc_stack(AP_STACK).ok()?;
    cpu.stack_lo.store(lo, Ordering::Relaxed);
    cpu.stack_hi.store(hi, Ordering::Relaxed);
    Some(cpu)
}

fn wait_online(cpu: &PerCpu) -> bool {
    let deadline = tsc::now_us() + START_TIMEOUT_US;
    while tsc::now_us() < deadline {
        if cpu.online.load(Ordering::Acquire) {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// Starts the APs Limine reports (all but the BSP), at most `limit` CPUs in all.
pub fn start_limine(limit: usize) -> usize {
    OUR_CR3.store(paging::pml4_phys(), Ordering::Release);
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
        info.extra
            .store(cpu as *const PerCpu as u64, Ordering::Release);
        info.goto_address.write(limine_ap_start_addr());
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

fn limine_ap_start_addr() -> unsafe extern "C" fn(&limine::mp::Cpu) -> ! {
    unsafe extern "C" {
        fn limine_ap_start(cpu: &limine::mp::Cpu) -> !;
    }
    limine_ap_start
}

/// Starts the APs listed in the MADT with INIT-SIPI-SIPI (multiboot2 path).
pub fn start_sipi(
    madt_cpus: &[crate::acpi::MadtCpu],
    usable_trampoline: bool,
    limit: usize,
) -> usize {
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
    // SAFETY: asm symbols delimiting the trampoline; only addresses are used.
    let (start, end, cr3_at, stack_at, entry_at, arg_at) = unsafe {
        (
            &entry::ap_tramp_start as *const u8 as u64,
            &entry::ap_tramp_end as *const u8 as u64,
            &entry::ap_tramp_cr3 as *const u8 as u64,
            &entry::ap_tramp_stack as *const u8 as u64,
            &entry::ap_tramp_entry as *const u8 as u64,
            &entry::ap_tramp_arg as *const u8 as u64,
        )
    };
    let page = paging::phys_to_virt(entry::AP_TRAMPOLINE_PHYS);
    let field = |sym: u64| (page + (sym - start)) as *mut u64;
    // SAFETY: page 0x8000 is free RAM (checked by the caller), reached
    // through the direct map; the trampoline is shorter than a page.
    unsafe {
        assert!(end - start <= 4096);
        core::ptr::copy_nonoverlapping(start as *const u8, page as *mut u8, (end - start) as usize);
        field(cr3_at).write_volatile(paging::pml4_phys());
        field(entry_at).write_volatile(ap_entry as *const () as u64);
    }
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
        // SAFETY: as above; the previous AP is online, so it no longer reads
        // these fields.
        unsafe {
            field(stack_at).write_volatile(cpu.stack_hi.load(Ordering::Relaxed));
            field(arg_at).write_volatile(cpu as *const PerCpu as u64);
        }
        core::sync::atomic::fence(Ordering::SeqCst);
        let vector = (entry::AP_TRAMPOLINE_PHYS >> 12) as u8;
        apic::send_init(c.apic_id);
        tsc::delay_us(10_000);
        apic::send_startup(c.apic_id, vector);
        tsc::delay_us(200);
        if !cpu.online.load(Ordering::Acquire) {
            apic::send_startup(c.apic_id, vector);
        }
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
