//! Where the model and its tokenizer come from: a virtio drive or a boot
//! module, read through `tinyllama::ModelSource`.
//!
//! - **Boot modules** (GRUB `module2`, Limine modules) come first: a module
//!   named `tokenizer.bin` is the tokenizer; the first other module whose
//!   name does not end in `.bfir` is the model. Their bytes are read in
//!   place (the loader put them in RAM; their length is exact).
//! - **Drives**: the drive whose serial is `model` is the model and the one
//!   whose serial is `tokenizer` the tokenizer; drives without a serial fill
//!   in, in PCI order: the first is the model (when no drive is named so),
//!   the next the tokenizer. Drives with other serials (a cache, a test
//!   drive) are never taken.
//!   A drive holds whole 512-byte sectors, so its byte length is its
//!   capacity rounded up to a sector unless `bareflow.model_bytes=` /
//!   `bareflow.tokenizer_bytes=` give the file's exact length: a GGUF file
//!   does not mind the padding, a llama2.c checkpoint and a `tokenizer.bin`
//!   need the exact length (`./x chat` passes it).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use platform::block::{BlockDevice, SECTOR_SIZE};
use platform::boot;
use tinyllama::{ModelSource, ReadError};

/// A drive (or the first `len` bytes of it) as a `ModelSource`.
pub struct DriveSource {
    drive: &'static BlockDevice,
    len: u64,
    /// One sector, for the partial sectors at either end of a read.
    sector: Vec<u8>,
}

impl DriveSource {
    fn new(drive: &'static BlockDevice, len: u64) -> DriveSource {
        DriveSource {
            drive,
            len,
            sector: alloc::vec![0; SECTOR_SIZE],
        }
    }

    fn read_sectors(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.drive
            .read_sectors(first, buf)
            .map_err(|e| ReadError::new(format!("drive {}: {e}", self.drive.info().index)))
    }

    /// Copies bytes `within..within + out.len()` of sector `sector` into `out`.
    fn partial(&mut self, sector: u64, within: usize, out: &mut [u8]) -> Result<(), ReadError> {
        let mut one = core::mem::take(&mut self.sector);
        let r = self.read_sectors(sector, &mut one);
        if r.is_ok() {
            out.copy_from_slice(&one[within..within + out.len()]);
        }
        self.sector = one;
        r
    }
}

impl ModelSource for DriveSource {
    fn len(&self) -> u64 {
        self.len
    }

    /// Whole sectors go straight into `buf` (the device writes the caller's
    /// memory); only a partial sector at either end goes through one sector
    /// of scratch.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| ReadError::new("read past the end of the drive's data"))?;
        let sector = SECTOR_SIZE as u64;
        let mut pos = offset;
        let mut out = buf;
        if !pos.is_multiple_of(sector) {
            let within = (pos % sector) as usize;
            let n = out.len().min(SECTOR_SIZE - within);
            let (head, rest) = out.split_at_mut(n);
            self.partial(pos / sector, within, head)?;
            pos += n as u64;
            out = rest;
        }
        let whole = (end - pos) / sector * sector;
        if whole > 0 {
            let (middle, rest) = out.split_at_mut(whole as usize);
            self.read_sectors(pos / sector, middle)?;
            pos += whole;
            out = rest;
        }
        if !out.is_empty() {
            self.partial(pos / sector, 0, out)?;
        }
        Ok(())
    }
}

/// Where a model or tokenizer was found.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A virtio drive.
    Drive {
        index: usize,
        pci: String,
        serial: String,
    },
    /// A boot module.
    Module { name: String },
}

impl Origin {
    /// `drive` or `boot_module` (the `source` field of `model_loaded`).
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Drive { .. } => "drive",
            Origin::Module { .. } => "boot_module",
        }
    }

    /// For people: `drive 0 (00:04.0, serial model)` or `boot module x.gguf`.
    pub fn describe(&self) -> String {
        match self {
            Origin::Drive { index, pci, serial } if serial.is_empty() => {
                format!("drive {index} ({pci})")
            }
            Origin::Drive { index, pci, serial } => {
                format!("drive {index} ({pci}, serial {serial})")
            }
            Origin::Module { name } => format!("boot module {name}"),
        }
    }
}

/// A model or tokenizer file, readable.
pub enum Source {
    Drive(DriveSource),
    Module(&'static [u8]),
}

impl ModelSource for Source {
    fn len(&self) -> u64 {
        match self {
            Source::Drive(d) => d.len(),
            Source::Module(m) => <[u8]>::len(m) as u64,
        }
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        match self {
            Source::Drive(d) => d.read_at(offset, buf),
            Source::Module(m) => m.read_at(offset, buf),
        }
    }
}

/// A file found, with where it is.
pub struct Found {
    pub source: Source,
    pub origin: Origin,
    /// A note for a `warn` (e.g. an exact length that did not fit the drive).
    pub warning: Option<String>,
}

/// What a role is called in messages and how it is recognized.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Model,
    Tokenizer,
}

impl Role {
    fn serial(self) -> &'static str {
        match self {
            Role::Model => "model",
            Role::Tokenizer => "tokenizer",
        }
    }

    fn length_param(self) -> &'static str {
        match self {
            Role::Model => "bareflow.model_bytes",
            Role::Tokenizer => "bareflow.tokenizer_bytes",
        }
    }
}

fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn is_tokenizer_module(name: &str) -> bool {
    base_name(name) == "tokenizer.bin"
}

fn module(role: Role) -> Option<Result<Found, String>> {
    let modules = boot::info().modules.as_slice();
    let index = modules.iter().position(|m| {
        let name = m.name.as_str();
        match role {
            Role::Tokenizer => is_tokenizer_module(name),
            Role::Model => !name.ends_with(".bfir") && !is_tokenizer_module(name),
        }
    })?;
    let name = String::from(modules[index].name.as_str());
    Some(match boot::module_bytes(index) {
        Ok(bytes) => Ok(Found {
            source: Source::Module(bytes),
            origin: Origin::Module { name },
            warning: None,
        }),
        Err(e) => Err(format!("boot module {name}: {}", e.reason())),
    })
}

/// The drive for `role` among `drives` (see the module docs).
fn pick_drive(drives: &[BlockDevice], role: Role) -> Option<usize> {
    let by_serial = |s: &str| drives.iter().position(|d| d.info().serial == s);
    if let Some(i) = by_serial(role.serial()) {
        return Some(i);
    }
    // Drives without a serial, in order: the model's, then the tokenizer's.
    let unnamed = (0..drives.len()).filter(|&i| drives[i].info().serial.is_empty());
    match role {
        Role::Model => unnamed.take(1).next(),
        Role::Tokenizer => {
            let model = by_serial(Role::Model.serial());
            let skip = if model.is_some() { 0 } else { 1 };
            unnamed.filter(|&i| Some(i) != model).nth(skip)
        }
    }
}

/// Finds the file for `role`: a boot module, else a drive; `exact_len` is
/// the `bareflow.*_bytes` parameter (0: the whole drive).
pub fn find(
    drives: &'static [BlockDevice],
    role: Role,
    exact_len: u64,
) -> Option<Result<Found, String>> {
    if let Some(m) = module(role) {
        return Some(m);
    }
    let index = pick_drive(drives, role)?;
    let drive = &drives[index];
    let info = drive.info();
    let capacity = info.bytes();
    let (len, warning) = match exact_len {
        0 => (capacity, None),
        n if n <= capacity => (n, None),
        n => (
            capacity,
            Some(format!(
                "{}={n} is more than drive {index} holds ({capacity} bytes); using {capacity}",
                role.length_param()
            )),
        ),
    };
    Some(Ok(Found {
        source: Source::Drive(DriveSource::new(drive, len)),
        origin: Origin::Drive {
            index,
            pci: format!("{}", info.pci),
            serial: info.serial.clone(),
        },
        warning,
    }))
}

/// A hint for a load error of a file read from a drive without its exact
/// length (`exact_len == 0`), when the padding to whole sectors can be the
/// cause: trailing bytes after a llama2.c checkpoint (`length_error`), or
/// any tokenizer error.
pub fn length_hint(
    found: &Found,
    role: Role,
    exact_len: u64,
    length_error: bool,
) -> Option<String> {
    let padded = matches!(found.origin, Origin::Drive { .. }) && exact_len == 0;
    (padded && (length_error || role == Role::Tokenizer)).then(|| {
        format!(
            "a drive holds whole 512-byte sectors: give the file's exact size with {}=N",
            role.length_param()
        )
    })
}
