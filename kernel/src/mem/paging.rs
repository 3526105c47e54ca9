//! The kernel's page tables, built from the boot memory map with the
//! `x86_64` crate, plus the frame allocator behind them.

use super::{MIB, MMIO_BASE, STACKS_BASE};
use crate::arch::entry;
use bareflow_boot_model::bootinfo::{BootInfo, Loader};
use bareflow_boot_model::frames::{FrameAllocator, FrameStats};
use bareflow_boot_model::memmap::RegionKind;
use spin::Mutex;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr3, Cr3Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};
use x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, Mapper, OffsetPageTable, Page, PageTable,
    PageTableFlags as F, PhysFrame, Size2MiB, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// Frames are taken from above 1 MiB only (the first MiB holds firmware
/// data and the AP trampoline).
const LOW_LIMIT: u64 = MIB;

struct Frames<'a>(&'a mut FrameAllocator);

// SAFETY: `FrameAllocator` hands out each usable, page-aligned frame at most
// once and never a frame outside the usable map.
unsafe impl X86FrameAllocator<Size4KiB> for Frames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        self.0
            .allocate()
            .map(|a| PhysFrame::containing_address(PhysAddr::new(a)))
    }
}

struct Vm {
    mapper: OffsetPageTable<'static>,
    frames: FrameAllocator,
    next_stack: u64,
    next_mmio: u64,
}

static VM: Mutex<Option<Vm>> = Mutex::new(None);
static HHDM: spin::Once<u64> = spin::Once::new();

/// Errors while building or extending the address space.
#[derive(Debug, Clone, Copy)]
pub enum VmError {
    /// Physical memory ran out.
    OutOfFrames,
    /// A mapping already existed or a table could not be created.
    MapFailed,
    /// `init` has not run.
    NotReady,
    /// The CPU lacks NX.
    NoNx,
}

impl VmError {
    /// A one-line explanation.
    pub fn reason(&self) -> &'static str {
        match self {
            VmError::OutOfFrames => "out of physical memory",
            VmError::MapFailed => "page mapping failed",
            VmError::NotReady => "paging not initialized",
            VmError::NoNx => "CPU lacks the NX bit",
        }
    }
}

/// The direct-map offset (physical address + offset = virtual address).
pub fn hhdm() -> u64 {
    *HHDM.get().expect("paging::init sets the HHDM offset first")
}

/// Virtual address of physical `phys` in the direct map.
pub fn phys_to_virt(phys: u64) -> u64 {
    hhdm() + phys
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

fn map_range_4k(vm: &mut Vm, virt: u64, phys: u64, len: u64, flags: F) -> Result<(), VmError> {
    let mut off = 0;
    while off < len {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt + off));
        let frame = PhysFrame::containing_address(PhysAddr::new(phys + off));
        // SAFETY: each call maps a page of a range reserved for exactly this
        // purpose (kernel image, device window) to the frame backing it.
        unsafe {
            vm.mapper
                .map_to(page, frame, flags, &mut Frames(&mut vm.frames))
                .map_err(|_| VmError::MapFailed)?
                .ignore();
        }
        off += 4096;
    }
    Ok(())
}

/// Builds the kernel's page tables and switches to them.
///
/// Maps the kernel image with per-section permissions, all physical memory
/// at the direct-map offset (RW, NX), and (multiboot2) the AP trampoline
/// page identity-mapped read-only executable. Enables NX and CR0.WP.
///
/// Until the switch, physical memory is reached through the loader's direct
/// map, and only usable frames (the new tables) are touched: every Limine base
/// revision maps usable RAM there (revision 3 maps little else: no ACPI tables,
/// no low 4 GiB), and the multiboot2 entry's temporary tables map the low
/// 4 GiB. The new direct map covers all RAM, ACPI memory and at least the low
/// 4 GiB, whatever the loader mapped.
pub fn init(info: &BootInfo, has_nx: bool) -> Result<(), VmError> {
    if !has_nx {
        return Err(VmError::NoNx);
    }
    HHDM.call_once(|| info.hhdm_offset);
    let hhdm = info.hhdm_offset;
    // SAFETY: turning on NX enforcement and supervisor write protection only
    // restricts access; the current tables map nothing that relies on either
    // being off.
    unsafe {
        Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE));
        Cr0::update(|f| f.insert(Cr0Flags::WRITE_PROTECT));
    }

    let mut frames = FrameAllocator::new(&info.memory, LOW_LIMIT);
    let pml4_phys = frames.allocate().ok_or(VmError::OutOfFrames)?;
    assert!(
        pml4_phys < 1 << 32,
        "PML4 must sit below 4 GiB for the AP trampoline"
    );
    // SAFETY: the frame is fresh usable RAM, reachable through the loader's
    // direct map at the same offset, and nothing else refers to it.
    let pml4: &'static mut PageTable = unsafe { &mut *((hhdm + pml4_phys) as *mut PageTable) };
    pml4.zero();
    // SAFETY: `hhdm` maps all physical memory in the current address space
    // (loader tables) and in the one being built.
    let mapper = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(hhdm)) };
    let mut vm = Vm {
        mapper,
        frames,
        next_stack: STACKS_BASE,
        next_mmio: MMIO_BASE,
    };

    // Kernel image.
    // SAFETY: linker-script symbols; only their addresses are used.
    let (start, text_end, ro_end, end) = unsafe {
        (
            sym(&entry::__kernel_start),
            sym(&entry::__text_end),
            sym(&entry::__rodata_end),
            sym(&entry::__kernel_end),
        )
    };
    let phys = |v: u64| v - info.kernel_virt_base + info.kernel_phys_base;
    map_range_4k(&mut vm, start, phys(start), text_end - start, F::PRESENT)?;
    map_range_4k(
        &mut vm,
        text_end,
        phys(text_end),
        ro_end - text_end,
        F::PRESENT | F::NO_EXECUTE,
    )?;
    map_range_4k(
        &mut vm,
        ro_end,
        phys(ro_end),
        end - ro_end,
        F::PRESENT | F::WRITABLE | F::NO_EXECUTE,
    )?;

    // Direct map of all physical memory (at least the low 4 GiB, where
    // firmware tables and device registers live).
    // Reserved ranges far above RAM (e.g. a HyperTransport hole near 1 TiB)
    // are left out; device registers there are mapped on demand (map_mmio).
    let ram_top = info
        .memory
        .regions()
        .iter()
        .filter(|r| r.kind != RegionKind::Reserved && r.kind != RegionKind::Bad)
        .map(|r| r.end)
        .max()
        .unwrap_or(0);
    let top = ram_top.max(4 << 30).next_multiple_of(2 * MIB);
    let mut p = 0;
    while p < top {
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(hhdm + p));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(p));
        // SAFETY: the direct map aliases physical memory at a fixed offset;
        // it is never executable.
        unsafe {
            vm.mapper
                .map_to(
                    page,
                    frame,
                    F::PRESENT | F::WRITABLE | F::NO_EXECUTE,
                    &mut Frames(&mut vm.frames),
                )
                .map_err(|_| VmError::MapFailed)?
                .ignore();
        }
        p += 2 * MIB;
    }

    if info.loader == Loader::Multiboot2 {
        let t = entry::AP_TRAMPOLINE_PHYS;
        map_range_4k(&mut vm, t, t, 4096, F::PRESENT)?;
    }

    let (_, flags) = Cr3::read();
    // SAFETY: the new tables map the running code, its stack (kernel .bss or
    // loader memory in the direct map), all data and the direct map at the
    // same addresses as before.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(pml4_phys)),
            flags | Cr3Flags::empty(),
        )
    };
    *VM.lock() = Some(vm);
    Ok(())
}

/// Physical address of the active PML4 (for the AP trampoline).
pub fn pml4_phys() -> u64 {
    Cr3::read().0.start_address().as_u64()
}

/// Maps `pages` fresh frames at `virt` with `flags`; returns their physical
/// addresses to `each` in order.
pub fn map_fresh(
    virt: u64,
    pages: u64,
    flags: F,
    mut each: impl FnMut(u64),
) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    for i in 0..pages {
        let frame = vm.frames.allocate().ok_or(VmError::OutOfFrames)?;
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt + i * 4096));
        // SAFETY: `virt` ranges are handed out once by their owners (heap,
        // pool, stacks); the frame is fresh.
        unsafe {
            vm.mapper
                .map_to(
                    page,
                    PhysFrame::containing_address(PhysAddr::new(frame)),
                    flags,
                    &mut Frames(&mut vm.frames),
                )
                .map_err(|_| VmError::MapFailed)?
                .ignore();
        }
        each(frame);
    }
    // The pages were not present before, so no TLB holds them; one full
    // flush still drops any paging-structure cache entries of the range.
    x86_64::instructions::tlb::flush_all();
    Ok(())
}

/// Maps existing frames (`frames[i]` at `virt + i*4096`) with `flags`.
pub fn map_frames(virt: u64, frames: &[u64], flags: F) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    for (i, &f) in frames.iter().enumerate() {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt + i as u64 * 4096));
        // SAFETY: the caller owns `frames` and the virtual range.
        unsafe {
            vm.mapper
                .map_to(
                    page,
                    PhysFrame::containing_address(PhysAddr::new(f)),
                    flags,
                    &mut Frames(&mut vm.frames),
                )
                .map_err(|_| VmError::MapFailed)?
                .ignore();
        }
    }
    x86_64::instructions::tlb::flush_all();
    Ok(())
}

/// Changes the flags of `pages` mapped 4 KiB pages from `virt` and flushes them from
/// this CPU's TLB only: callers guarantee no other CPU touches the pages meanwhile
/// (the runtime's fault-injection self-test).
pub fn set_flags_local(virt: u64, pages: u64, flags: F) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    for i in 0..pages {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt + i * 4096));
        // SAFETY: the caller owns the pages; only their permission bits change.
        unsafe {
            vm.mapper
                .update_flags(page, flags)
                .map_err(|_| VmError::MapFailed)?
                .flush();
        }
    }
    Ok(())
}

/// Takes `n` physically contiguous frames; returns the first one's address.
pub fn take_contiguous(n: u64) -> Result<u64, VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    vm.frames.allocate_contiguous(n).ok_or(VmError::OutOfFrames)
}

/// Longest run of contiguous frames still free.
pub fn largest_contiguous_frames() -> u64 {
    VM.lock()
        .as_ref()
        .map_or(0, |vm| vm.frames.largest_contiguous())
}

/// Takes `n` frames for the caller to map.
pub fn take_frames(n: u64, mut each: impl FnMut(u64)) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    if vm.frames.free_frames() < n {
        return Err(VmError::OutOfFrames);
    }
    for _ in 0..n {
        each(vm.frames.allocate().ok_or(VmError::OutOfFrames)?);
    }
    Ok(())
}

/// A stack of `bytes` (rounded to pages) below an unmapped guard page.
/// Returns `(lowest address, top)`.
pub fn alloc_stack(bytes: u64) -> Result<(u64, u64), VmError> {
    let pages = bytes.div_ceil(4096);
    let lo = {
        let mut guard = VM.lock();
        let vm = guard.as_mut().ok_or(VmError::NotReady)?;
        let lo = vm.next_stack + 4096;
        vm.next_stack = lo + pages * 4096;
        lo
    };
    map_fresh(lo, pages, F::PRESENT | F::WRITABLE | F::NO_EXECUTE, |_| {})?;
    Ok((lo, lo + pages * 4096))
}

/// Maps device registers at `phys` (uncached); returns the virtual address.
pub fn map_mmio(phys: u64, len: u64) -> Result<u64, VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    let base = phys & !0xfff;
    let len = (phys - base + len).next_multiple_of(4096);
    let virt = vm.next_mmio;
    vm.next_mmio += len + 4096;
    let flags = F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::NO_CACHE | F::WRITE_THROUGH;
    map_range_4k(vm, virt, base, len, flags)?;
    x86_64::instructions::tlb::flush_all();
    Ok(virt + (phys - base))
}

/// Frames still free.
pub fn free_frames() -> u64 {
    VM.lock().as_ref().map_or(0, |vm| vm.frames.free_frames())
}

/// Frame allocator counters.
pub fn frame_stats() -> Option<FrameStats> {
    VM.lock().as_ref().map(|vm| vm.frames.stats())
}
