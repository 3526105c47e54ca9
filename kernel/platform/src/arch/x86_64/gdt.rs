//! Per-CPU GDT and TSS (with the interrupt stacks).

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slot (0-based) every exception handler runs on.
pub(crate) const IST_EXCEPTION: u16 = 0;
/// IST slot for double faults and NMIs (a fault in the exception path
/// still finds a good stack).
pub(crate) const IST_CRITICAL: u16 = 1;

/// Segment selectors of one CPU's GDT.
#[derive(Clone, Copy)]
struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

/// One CPU's descriptor tables: built once, then referenced by the CPU's GDTR
/// and task register for good (hence `'static`).
pub(crate) struct CpuTables {
    tss: Once<TaskStateSegment>,
    gdt: Once<(GlobalDescriptorTable, Selectors)>,
}

impl CpuTables {
    /// Tables not built yet.
    pub(crate) const fn new() -> CpuTables {
        CpuTables {
            tss: Once::new(),
            gdt: Once::new(),
        }
    }
}

/// Builds and loads the calling CPU's GDT and TSS into `tables`.
/// `exception_top`/`critical_top` are the tops of its two interrupt stacks.
pub(crate) fn init_cpu(tables: &'static CpuTables, exception_top: u64, critical_top: u64) {
    let tss = tables.tss.call_once(|| {
        let mut tss = TaskStateSegment::new();
        tss.interrupt_stack_table[IST_EXCEPTION as usize] = VirtAddr::new(exception_top);
        tss.interrupt_stack_table[IST_CRITICAL as usize] = VirtAddr::new(critical_top);
        tss
    });
    let (gdt, sel) = tables.gdt.call_once(|| {
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
