//! Per-CPU GDT and TSS (with the interrupt stacks).

use crate::percpu::{PerCpu, Selectors};
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (0-based) every exception handler runs on.
pub const IST_EXCEPTION: u16 = 0;
/// IST slot for double faults and NMIs (a fault in the exception path
/// still finds a good stack).
pub const IST_CRITICAL: u16 = 1;

/// Builds and loads `cpu`'s GDT and TSS. `exception_top`/`critical_top` are
/// the tops of its two interrupt stacks.
pub fn init_cpu(cpu: &'static PerCpu, exception_top: u64, critical_top: u64) {
    let tss = cpu.tss.call_once(|| {
        let mut tss = TaskStateSegment::new();
        tss.interrupt_stack_table[IST_EXCEPTION as usize] = VirtAddr::new(exception_top);
        tss.interrupt_stack_table[IST_CRITICAL as usize] = VirtAddr::new(critical_top);
        tss
    });
    let (gdt, sel) = cpu.gdt.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { code, data, tss })
    });
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, whose descriptors are
    // a 64-bit kernel code segment, a data segment and this CPU's TSS.
    unsafe {
        CS::set_reg(sel.code);
        SS::set_reg(sel.data);
        DS::set_reg(sel.data);
        ES::set_reg(sel.data);
        load_tss(sel.tss);
    }
}
