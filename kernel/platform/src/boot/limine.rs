//! Limine boot protocol entry.
//!
//! The kernel asks for base revision 3 and also boots under loaders that
//! predate it (Limine 8.x boots it with revision 2 and leaves the tag
//! untouched). What each revision gives and how the kernel normalizes it is
//! written down in `bareflow_boot_model::limine_view`; this file only reads
//! the responses.

use bareflow_boot_model::bootinfo::BootInfo;
use bareflow_boot_model::limine_view::{
    LimineModule, LimineRevision, LimineView, REQUESTED_BASE_REVISION, entry_type,
};
use limine::BaseRevision;
use limine::memory_map::EntryType;
use limine::request::{
    BootloaderInfoRequest, ExecutableAddressRequest, ExecutableCmdlineRequest,
    ExecutableFileRequest, HhdmRequest, MemoryMapRequest, ModuleRequest, MpRequest,
    RequestsEndMarker, RequestsStartMarker, RsdpRequest,
};
use limine::response::MpResponse;

#[used]
#[unsafe(link_section = ".requests_start_marker")]
static REQUESTS_START: RequestsStartMarker = RequestsStartMarker::new();

#[used]
#[unsafe(link_section = ".requests")]
static BASE_REVISION: BaseRevision = BaseRevision::with_revision(REQUESTED_BASE_REVISION);

#[used]
#[unsafe(link_section = ".requests")]
static BOOTLOADER_INFO: BootloaderInfoRequest = BootloaderInfoRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static HHDM: HhdmRequest = HhdmRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static MEMORY_MAP: MemoryMapRequest = MemoryMapRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static EXECUTABLE_ADDRESS: ExecutableAddressRequest = ExecutableAddressRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static CMDLINE: ExecutableCmdlineRequest = ExecutableCmdlineRequest::new();

/// The executable file: its string is the command line under Limine 8.x,
/// which does not know the Executable Command Line request.
#[used]
#[unsafe(link_section = ".requests")]
static EXECUTABLE_FILE: ExecutableFileRequest = ExecutableFileRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static MODULES: ModuleRequest = ModuleRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static MP: MpRequest = MpRequest::new();

#[used]
#[unsafe(link_section = ".requests")]
static RSDP: RsdpRequest = RsdpRequest::new();

#[used]
#[unsafe(link_section = ".requests_end_marker")]
static REQUESTS_END: RequestsEndMarker = RequestsEndMarker::new();

fn type_code(t: EntryType) -> u64 {
    [
        (EntryType::USABLE, entry_type::USABLE),
        (EntryType::ACPI_RECLAIMABLE, entry_type::ACPI_RECLAIMABLE),
        (EntryType::ACPI_NVS, entry_type::ACPI_NVS),
        (EntryType::BAD_MEMORY, entry_type::BAD_MEMORY),
        (
            EntryType::BOOTLOADER_RECLAIMABLE,
            entry_type::BOOTLOADER_RECLAIMABLE,
        ),
        (
            EntryType::EXECUTABLE_AND_MODULES,
            entry_type::EXECUTABLE_AND_MODULES,
        ),
        (EntryType::FRAMEBUFFER, entry_type::FRAMEBUFFER),
    ]
    .into_iter()
    .find(|(k, _)| *k == t)
    .map_or(entry_type::RESERVED, |(_, v)| v)
}

/// The MP response (application processors), if Limine gave one.
pub(crate) fn mp_response() -> Option<&'static MpResponse> {
    MP.get_response()
}

/// Reads every response into a `BootInfo`.
fn boot_info() -> Result<BootInfo, bareflow_boot_model::bootinfo::BootInfoError> {
    let mut memmap = MEMORY_MAP.get_response().map(|r| {
        r.entries()
            .iter()
            .map(|e| (e.base, e.length, type_code(e.entry_type)))
    });
    let mut modules = MODULES
        .get_response()
        .into_iter()
        .flat_map(|r| r.modules().iter())
        .map(|f| LimineModule {
            path: f.path().to_bytes(),
            cmdline: f.string().to_bytes(),
            virt_addr: f.addr() as u64,
            size: f.size(),
        });
    let mut cpus = MP.get_response().map(|r| {
        (
            r.bsp_lapic_id(),
            r.cpus().iter().map(|c| (c.id, c.lapic_id)),
        )
    });
    let view = LimineView {
        revision: LimineRevision::from_tag(
            REQUESTED_BASE_REVISION,
            BASE_REVISION.is_supported(),
            BASE_REVISION.loaded_revision(),
        ),
        bootloader: BOOTLOADER_INFO
            .get_response()
            .map(|r| (r.name(), r.version())),
        hhdm_offset: HHDM.get_response().map(|r| r.offset()),
        memmap: memmap
            .as_mut()
            .map(|m| m as &mut dyn Iterator<Item = (u64, u64, u64)>),
        executable_address: EXECUTABLE_ADDRESS
            .get_response()
            .map(|r| (r.physical_base(), r.virtual_base())),
        cmdline: CMDLINE.get_response().map(|r| r.cmdline().to_bytes()),
        executable_file_string: EXECUTABLE_FILE
            .get_response()
            .map(|r| r.file().string().to_bytes()),
        modules: &mut modules,
        rsdp_address: RSDP.get_response().map(|r| r.address() as u64),
        mp: cpus
            .as_mut()
            .map(|(bsp, it)| (*bsp, it as &mut dyn Iterator<Item = (u32, u32)>)),
    };
    BootInfo::from_limine(view)
}

/// Called by `_start` on the boot stack with SSE enabled.
#[unsafe(no_mangle)]
extern "C" fn limine_rust_entry() -> ! {
    crate::init::early();
    match boot_info() {
        Ok(info) => crate::init::machine(info),
        Err(e) => panic!("Limine hand-over unusable: {}", e.reason()),
    }
}
