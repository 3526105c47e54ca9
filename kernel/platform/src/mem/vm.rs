//! The kernel's address space: its page tables (`arch/x86_64/paging.rs`),
//! built from the boot memory map, and the frame allocator behind them.

use super::{MIB, MMIO_BASE, Protection, STACKS_BASE, UNMAPPED_PAGE};
use crate::arch::entry;
use crate::arch::paging::{self, PageTables};
use bareflow_boot_model::bootinfo::{BootInfo, Loader};
use bareflow_boot_model::frames::{FrameAllocator, FrameStats};
use bareflow_boot_model::memmap::RegionKind;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::{Mutex, Once};

/// Frames are taken from above 1 MiB only (the first MiB holds firmware
/// data and the AP trampoline).
pub(crate) const ALLOCATED_FROM: u64 = MIB;

struct Vm {
    tables: PageTables,
    frames: FrameAllocator,
    next_stack: u64,
    next_mmio: u64,
}

static VM: Mutex<Option<Vm>> = Mutex::new(None);
static HHDM: Once<u64> = Once::new();
/// End of the direct map (it covers physical `[0, DIRECT_MAP_TOP)`).
static DIRECT_MAP_TOP: AtomicU64 = AtomicU64::new(0);

/// Errors while building or extending the address space.
#[derive(Debug, Clone, Copy)]
pub enum VmError {
    /// Physical memory ran out.
    OutOfFrames,
    /// A mapping already existed or a table could not be created.
    MapFailed,
    /// Paging is not set up yet.
    NotReady,
    /// The CPU lacks NX.
    NoNx,
    /// The range is not one the request may touch.
    OutOfRange,
}

impl VmError {
    /// A one-line explanation.
    pub fn reason(&self) -> &'static str {
        match self {
            VmError::OutOfFrames => "out of physical memory",
            VmError::MapFailed => "page mapping failed",
            VmError::NotReady => "paging not initialized",
            VmError::NoNx => "CPU lacks the NX bit",
            VmError::OutOfRange => "address range not allowed for this request",
        }
    }
}

impl From<paging::MapFailed> for VmError {
    fn from(_: paging::MapFailed) -> VmError {
        VmError::MapFailed
    }
}

/// The direct-map offset (physical address + offset = virtual address).
pub(crate) fn hhdm() -> u64 {
    *HHDM.get().expect("vm::init sets the HHDM offset first")
}

/// End of the kernel's direct map: physical `[0, top)` is mapped (0 before
/// `init`).
pub(crate) fn direct_map_top() -> u64 {
    DIRECT_MAP_TOP.load(Ordering::Acquire)
}

/// Memory the kernel never allocates from or writes, at physical
/// `[phys, phys + len)`, borrowed through the direct map: firmware tables,
/// BIOS areas, boot modules, the loader's data. Refused (`OutOfRange`) unless
/// the range lies in the direct map and outside usable RAM above
/// [`ALLOCATED_FROM`] (where the frame allocator, and so the heap, stacks and
/// pool, get their memory).
pub(crate) fn firmware_bytes(phys: u64, len: usize) -> Result<&'static [u8], VmError> {
    let end = phys.checked_add(len as u64).ok_or(VmError::OutOfRange)?;
    if end > direct_map_top() {
        return Err(VmError::OutOfRange);
    }
    let in_ram = crate::boot::info()
        .memory
        .usable()
        .any(|r| phys.max(r.start).max(ALLOCATED_FROM) < end.min(r.end));
    if in_ram {
        return Err(VmError::OutOfRange);
    }
    // SAFETY: the range is mapped (below the direct map's top) and is not RAM
    // the kernel allocates (checked above), so nothing in the kernel writes
    // it while it is borrowed, for good.
    Ok(unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len) })
}

/// Virtual address of physical `phys` in the direct map.
pub(crate) fn phys_to_virt(phys: u64) -> u64 {
    hhdm() + phys
}

fn map_range_4k(
    vm: &mut Vm,
    virt: u64,
    phys: u64,
    len: u64,
    prot: Protection,
) -> Result<(), VmError> {
    let mut off = 0;
    while off < len {
        // SAFETY: each call maps a page of a range reserved for exactly this
        // purpose (kernel image, trampoline, device window) to the frame
        // backing it, with the rights its owner chose.
        unsafe {
            vm.tables
                .map_4k(virt + off, phys + off, prot, &mut vm.frames)?
        };
        off += 4096;
    }
    Ok(())
}

/// Builds the kernel's page tables and switches to them.
///
/// Maps the kernel image with per-section rights, all physical memory at
/// the direct-map offset (RW, NX), and (multiboot2) the AP trampoline page
/// identity-mapped read-only executable. Enables NX and CR0.WP.
///
/// Until the switch, physical memory is reached through the loader's direct
/// map, and only usable frames (the new tables) are touched: every Limine base
/// revision maps usable RAM there (revision 3 maps little else: no ACPI tables,
/// no low 4 GiB), and the multiboot2 entry's temporary tables map the low
/// 4 GiB. The new direct map covers all RAM, ACPI memory and at least the low
/// 4 GiB, whatever the loader mapped.
pub(crate) fn init(info: &BootInfo, has_nx: bool) -> Result<(), VmError> {
    if !has_nx {
        return Err(VmError::NoNx);
    }
    HHDM.call_once(|| info.hhdm_offset);
    let hhdm = info.hhdm_offset;
    paging::enable_nx_and_write_protect();

    let mut frames = FrameAllocator::new(&info.memory, ALLOCATED_FROM);
    let root = frames.allocate().ok_or(VmError::OutOfFrames)?;
    assert!(
        root < 1 << 32,
        "the root page table must sit below 4 GiB for the AP trampoline"
    );
    // SAFETY: `root` is a fresh usable frame; `hhdm` maps all usable RAM in
    // the loader's address space and in the one being built (see above).
    let tables = unsafe { PageTables::new(root, hhdm) };
    let mut vm = Vm {
        tables,
        frames,
        next_stack: STACKS_BASE,
        next_mmio: MMIO_BASE,
    };

    // Kernel image.
    let image = entry::kernel_image();
    let phys = |v: u64| v - info.kernel_virt_base + info.kernel_phys_base;
    map_range_4k(
        &mut vm,
        image.start,
        phys(image.start),
        image.text_end - image.start,
        Protection::ReadExecute,
    )?;
    map_range_4k(
        &mut vm,
        image.text_end,
        phys(image.text_end),
        image.rodata_end - image.text_end,
        Protection::ReadOnly,
    )?;
    map_range_4k(
        &mut vm,
        image.rodata_end,
        phys(image.rodata_end),
        image.end - image.rodata_end,
        Protection::ReadWrite,
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
        // SAFETY: the direct map aliases physical memory at a fixed offset
        // reserved for it; it is never executable.
        unsafe {
            vm.tables
                .map_2m(hhdm + p, p, Protection::ReadWrite, &mut vm.frames)?
        };
        p += 2 * MIB;
    }

    if info.loader == Loader::Multiboot2 {
        let t = entry::AP_TRAMPOLINE_PHYS;
        map_range_4k(&mut vm, t, t, 4096, Protection::ReadExecute)?;
    }

    // SAFETY: the new tables map the running code, its stack (kernel .bss or
    // loader memory in the direct map), all data and the direct map at the
    // same addresses as before.
    unsafe { paging::switch_root(vm.tables.root()) };
    DIRECT_MAP_TOP.store(top, Ordering::Release);
    *VM.lock() = Some(vm);
    Ok(())
}

/// Maps `pages` fresh frames at `virt` with `prot`; returns their physical
/// addresses to `each` in order.
///
/// # Safety
/// `[virt, virt + pages * 4096)` must be a range the caller reserved (handed
/// out once by its owner: stacks, pool) and nothing maps yet.
pub(crate) unsafe fn map_fresh(
    virt: u64,
    pages: u64,
    prot: Protection,
    mut each: impl FnMut(u64),
) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    for i in 0..pages {
        let frame = vm.frames.allocate().ok_or(VmError::OutOfFrames)?;
        // SAFETY: the range is the caller's (see above); the frame is fresh.
        unsafe {
            vm.tables
                .map_4k(virt + i * 4096, frame, prot, &mut vm.frames)?
        };
        each(frame);
    }
    // The pages were not present before, so no TLB holds them; one full
    // flush still drops any paging-structure cache entries of the range.
    paging::flush_all();
    Ok(())
}

/// Maps existing frames (`frames[i]` at `virt + i*4096`) with `prot`.
///
/// # Safety
/// The caller owns `frames` and the virtual range, which nothing maps yet,
/// and no other mapping of the frames is executable when `prot` is
/// writable (and vice versa).
pub(crate) unsafe fn map_frames(
    virt: u64,
    frames: &[u64],
    prot: Protection,
) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    for (i, &f) in frames.iter().enumerate() {
        // SAFETY: the caller owns the frames and the range (see above).
        unsafe {
            vm.tables
                .map_4k(virt + i as u64 * 4096, f, prot, &mut vm.frames)?
        };
    }
    paging::flush_all();
    Ok(())
}

/// Changes the rights of `pages` mapped 4 KiB pages from `virt` and flushes
/// them from this CPU's TLB only.
///
/// # Safety
/// The caller owns the pages and allows `prot` there (no writable and
/// executable alias results); no other CPU depends on the change meanwhile.
pub(crate) unsafe fn protect_local(virt: u64, pages: u64, prot: Protection) -> Result<(), VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    for i in 0..pages {
        // SAFETY: the caller owns the pages; only their rights change.
        unsafe { vm.tables.protect_4k_local(virt + i * 4096, prot)? };
    }
    Ok(())
}

/// Takes `n` physically contiguous frames; returns the first one's address.
pub(crate) fn take_contiguous(n: u64) -> Result<u64, VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    vm.frames.allocate_contiguous(n).ok_or(VmError::OutOfFrames)
}

/// Longest run of contiguous frames that can be taken while `keep` frames
/// stay free for later allocations.
pub(crate) fn largest_contiguous_leaving(keep: u64) -> u64 {
    VM.lock()
        .as_ref()
        .map_or(0, |vm| vm.frames.largest_contiguous_leaving(keep))
}

/// Takes `n` frames for the caller to map.
pub(crate) fn take_frames(n: u64, mut each: impl FnMut(u64)) -> Result<(), VmError> {
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
pub(crate) fn alloc_stack(bytes: u64) -> Result<(u64, u64), VmError> {
    let pages = bytes.div_ceil(4096);
    let lo = {
        let mut guard = VM.lock();
        let vm = guard.as_mut().ok_or(VmError::NotReady)?;
        let lo = vm.next_stack + 4096;
        vm.next_stack = lo + pages * 4096;
        lo
    };
    // SAFETY: [lo, lo + pages*4096) was just handed out of the stack region
    // and is used for nothing else.
    unsafe { map_fresh(lo, pages, Protection::ReadWrite, |_| {})? };
    Ok((lo, lo + pages * 4096))
}

/// Maps device registers at `phys` (uncached); returns the virtual address.
pub(crate) fn map_mmio(phys: u64, len: u64) -> Result<u64, VmError> {
    let mut guard = VM.lock();
    let vm = guard.as_mut().ok_or(VmError::NotReady)?;
    let base = phys & !0xfff;
    let len = (phys - base + len).next_multiple_of(4096);
    let virt = vm.next_mmio;
    if virt + len > UNMAPPED_PAGE {
        return Err(VmError::OutOfRange);
    }
    vm.next_mmio += len + 4096;
    map_range_4k(vm, virt, base, len, Protection::Device)?;
    paging::flush_all();
    Ok(virt + (phys - base))
}

/// The physical address of `[virt, virt + len)` when the whole range is
/// mapped to consecutive physical memory (what a device needs to reach it
/// with one DMA address); `None` otherwise. The direct map is answered
/// without a page-table walk.
pub(crate) fn phys_range(virt: u64, len: u64) -> Option<u64> {
    let end = virt.checked_add(len.max(1))?;
    let hhdm = hhdm();
    if virt >= hhdm && end <= hhdm + direct_map_top() {
        return Some(virt - hhdm);
    }
    let guard = VM.lock();
    let vm = guard.as_ref()?;
    let phys = vm.tables.translate(virt)?;
    let mut page = (virt & !0xfff) + 4096;
    while page < end {
        if vm.tables.translate(page)? != phys + (page - virt) {
            return None;
        }
        page += 4096;
    }
    Some(phys)
}

/// Frames still free.
pub(crate) fn free_frames() -> u64 {
    VM.lock().as_ref().map_or(0, |vm| vm.frames.free_frames())
}

/// Frame allocator counters.
pub(crate) fn frame_stats() -> Option<FrameStats> {
    VM.lock().as_ref().map(|vm| vm.frames.stats())
}
