//! Starting application processors on x86_64: Limine's MP hand-off (switch to
//! the kernel's page tables and stack) and INIT-SIPI-SIPI through a real-mode
//! trampoline (multiboot2).
//!
//! Either way the AP ends up in `crate::smp::ap_entry` on its own stack with
//! the kernel's page tables, its `PerCpu` address as the argument.

use super::{apic, entry, paging};
use crate::cpu::PerCpu;
use crate::smp::ap_entry;
use core::sync::atomic::{AtomicU64, Ordering};

static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Hands a Limine-started AP (`info`) its `PerCpu` and sends it to
/// `ap_entry` through `limine_ap_start`.
pub(crate) fn start_limine_ap(info: &limine::mp::Cpu, cpu: &'static PerCpu) {
    KERNEL_ROOT.store(paging::active_root(), Ordering::Release);
    info.extra
        .store(cpu as *const PerCpu as u64, Ordering::Release);
    info.goto_address.write(limine_ap_start_addr());
}

fn limine_ap_start_addr() -> unsafe extern "C" fn(&limine::mp::Cpu) -> ! {
    unsafe extern "C" {
        fn limine_ap_start(cpu: &limine::mp::Cpu) -> !;
    }
    limine_ap_start
}

/// Limine sends each AP here (via `limine_ap_start`, which enabled SSE), on a
/// stack of Limine's, with Limine's page tables.
#[unsafe(no_mangle)]
extern "C" fn limine_ap_rust(info: &limine::mp::Cpu) -> ! {
    let cpu_addr = info.extra.load(Ordering::Acquire);
    // SAFETY: the BSP stored a 'static PerCpu address in `extra` before
    // writing `goto_address` (`start_limine_ap`).
    let cpu: &'static PerCpu = unsafe { &*(cpu_addr as *const PerCpu) };
    let root = KERNEL_ROOT.load(Ordering::Acquire);
    // SAFETY: the kernel's tables map everything this CPU touches next: the
    // kernel image, the direct map at Limine's offset (where Limine's AP
    // stack is, in bootloader-reclaimable RAM) and the stack allocated for
    // this CPU, which `switch_stack_and_call` moves to before calling `entry`.
    unsafe {
        paging::switch_root(root);
        entry::switch_stack_and_call(cpu_addr, cpu.stack_hi.load(Ordering::Relaxed), ap_entry)
    }
}

/// The real-mode trampoline, copied to [`entry::AP_TRAMPOLINE_PHYS`].
struct Trampoline {
    start: u64,
    end: u64,
    root_at: u64,
    stack_at: u64,
    entry_at: u64,
    arg_at: u64,
}

fn trampoline() -> Trampoline {
    Trampoline {
        start: (&raw const entry::ap_tramp_start) as u64,
        end: (&raw const entry::ap_tramp_end) as u64,
        root_at: (&raw const entry::ap_tramp_cr3) as u64,
        stack_at: (&raw const entry::ap_tramp_stack) as u64,
        entry_at: (&raw const entry::ap_tramp_entry) as u64,
        arg_at: (&raw const entry::ap_tramp_arg) as u64,
    }
}

/// The trampoline installed in its page, ready to start APs one at a time.
pub(crate) struct SipiStarter {
    page: u64,
    tramp: Trampoline,
}

impl SipiStarter {
    /// Copies the trampoline to physical 0x8000 (reached at `page_virt`
    /// through the direct map) and points it at the kernel's page tables and
    /// `ap_entry`. The caller has checked that the page is free RAM and that
    /// the kernel's tables identity-map it executable.
    pub(crate) fn install(page_virt: u64) -> SipiStarter {
        let tramp = trampoline();
        let len = tramp.end - tramp.start;
        assert!(len <= 4096, "the AP trampoline fits one page");
        let starter = SipiStarter {
            page: page_virt,
            tramp,
        };
        // SAFETY: page 0x8000 is free RAM nobody else uses (checked by the
        // caller), writable through the direct map, and the trampoline is
        // shorter than the page (asserted).
        unsafe {
            core::ptr::copy_nonoverlapping(
                starter.tramp.start as *const u8,
                page_virt as *mut u8,
                len as usize,
            );
        }
        starter.write(starter.tramp.root_at, paging::active_root());
        starter.write(starter.tramp.entry_at, ap_entry as *const () as u64);
        starter
    }

    fn write(&self, symbol: u64, value: u64) {
        let at = self.page + (symbol - self.tramp.start);
        // SAFETY: `symbol` is one of the trampoline's 8-byte data fields, so
        // `at` lies inside the copied trampoline in the page `install` owns.
        unsafe { (at as *mut u64).write_volatile(value) };
    }

    /// Sets the stack and argument for the next AP; the previous AP must
    /// already be online (it no longer reads these fields).
    pub(crate) fn prepare(&self, stack_top: u64, cpu: &'static PerCpu) {
        self.write(self.tramp.stack_at, stack_top);
        self.write(self.tramp.arg_at, cpu as *const PerCpu as u64);
        core::sync::atomic::fence(Ordering::SeqCst);
    }

    /// INIT, then STARTUP (twice unless `online` says the AP already runs),
    /// with the delays the MP start-up protocol asks for.
    pub(crate) fn start(&self, apic_id: u32, online: impl Fn() -> bool) {
        let vector = (entry::AP_TRAMPOLINE_PHYS >> 12) as u8;
        apic::send_init(apic_id);
        crate::time::delay_us(10_000);
        apic::send_startup(apic_id, vector);
        crate::time::delay_us(200);
        if !online() {
            apic::send_startup(apic_id, vector);
        }
    }
}
