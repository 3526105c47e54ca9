//! The minimal linker: lays a unit's functions out in one image and resolves the calls
//! between them (`X86CallPCRel4`), to libcalls and to the module's tables (`Abs8`) for
//! the address the image will run at. Placing the image in executable memory is the
//! runtime's job (`runtime::code::place`); this module never touches memory it does not
//! own.
//!
//! [`CodeUnit::code_hash`] identifies the code independently of every address: the
//! bytes with each relocated field zeroed, and each relocation by its kind and symbolic
//! target. The same IR, tier, specialization and CPU features give the same hash in the
//! kernel and on the host.

use super::CompileError;
use super::abi::{NS_LIB, NS_TABLE};
use crate::math::libcalls::Libcall;
use alloc::format;
use alloc::vec::Vec;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::{ExternalName, LibCall};
use cranelift_codegen::{FinalizedMachReloc, FinalizedRelocTarget};

/// Functions start on cache-line boundaries (measured: 16-byte alignment made call-heavy
/// code such as `fib` up to 15% slower depending on where the function happened to land).
const ALIGN: usize = 64;

/// One compiled function of a unit, before linking.
pub(crate) struct Piece {
    pub ns: u32,
    pub index: u32,
    pub code: Vec<u8>,
    pub relocs: Vec<FinalizedMachReloc>,
    /// The function's user name table: reference index -> (namespace, index).
    pub names: Vec<(u32, u32)>,
}

pub(crate) fn cranelift_libcall(lc: LibCall) -> Option<Libcall> {
    Some(match lc {
        LibCall::CeilF32 => Libcall::CeilF32,
        LibCall::CeilF64 => Libcall::CeilF64,
        LibCall::FloorF32 => Libcall::FloorF32,
        LibCall::FloorF64 => Libcall::FloorF64,
        LibCall::TruncF32 => Libcall::TruncF32,
        LibCall::TruncF64 => Libcall::TruncF64,
        LibCall::NearestF32 => Libcall::NearestF32,
        LibCall::NearestF64 => Libcall::NearestF64,
        LibCall::FmaF32 => Libcall::FmaF32,
        LibCall::FmaF64 => Libcall::FmaF64,
        _ => return None,
    })
}

/// A compiled unit laid out for linking: the entry trampoline first, then the entry
/// function, then its callees, each at a cache-line-aligned offset.
pub struct CodeUnit {
    pieces: Vec<Piece>,
    offsets: Vec<usize>,
    size: usize,
    /// Address of each of the module's tables ([`NS_TABLE`] index).
    tables: Vec<usize>,
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
}

/// Bytes a relocation of `kind` patches.
fn reloc_width(kind: Reloc) -> usize {
    match kind {
        Reloc::Abs8 => 8,
        _ => 4,
    }
}

impl CodeUnit {
    /// Lays the pieces out (the first is the entry trampoline); `tables` are the addresses
    /// of the module's tables.
    pub(crate) fn new(pieces: Vec<Piece>, tables: Vec<usize>) -> CodeUnit {
        let mut offsets = Vec::with_capacity(pieces.len());
        let mut size = 0usize;
        for p in &pieces {
            size = size.div_ceil(ALIGN) * ALIGN;
            offsets.push(size);
            size += p.code.len();
        }
        CodeUnit {
            pieces,
            offsets,
            size,
            tables,
        }
    }

    /// FNV-1a 64 of the unit's code, independent of where it and what it refers to live:
    /// per piece its offset, its bytes with every relocated field zeroed, and per
    /// relocation its offset, kind, addend and symbolic target (a piece-relative offset, a
    /// (namespace, index) user name, or a Cranelift libcall).
    pub fn code_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.u64(self.size as u64);
        for (p, &off) in self.pieces.iter().zip(&self.offsets) {
            h.u64(off as u64);
            let mut code = p.code.clone();
            for r in &p.relocs {
                let at = r.offset as usize;
                let end = (at + reloc_width(r.kind)).min(code.len());
                code[at.min(end)..end].fill(0);
            }
            h.bytes(&code);
            for r in &p.relocs {
                h.u64(u64::from(r.offset));
                h.bytes(format!("{:?}", r.kind).as_bytes());
                h.u64(r.addend as u64);
                match &r.target {
                    FinalizedRelocTarget::Func(o) => {
                        h.u64(0);
                        h.u64(u64::from(*o));
                    }
                    FinalizedRelocTarget::ExternalName(ExternalName::User(uref)) => {
                        let (ns, idx) = p
                            .names
                            .get(uref.as_u32() as usize)
                            .copied()
                            .unwrap_or((u32::MAX, u32::MAX));
                        h.u64(1);
                        h.u64(u64::from(ns) << 32 | u64::from(idx));
                    }
                    FinalizedRelocTarget::ExternalName(other) => {
                        h.u64(2);
                        h.bytes(format!("{other:?}").as_bytes());
                    }
                }
            }
        }
        h.0
    }

    /// Bytes the image takes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Offset of the entry trampoline in the image.
    pub fn entry_offset(&self) -> usize {
        self.offsets[0]
    }

    /// The image as it must be at address `base`: every relocation resolved.
    pub fn image_at(&self, base: usize) -> Result<Vec<u8>, CompileError> {
        let pieces = &self.pieces;
        let offsets = &self.offsets;
        let mut image = alloc::vec![0u8; self.size];
        for (p, &off) in pieces.iter().zip(offsets) {
            image[off..off + p.code.len()].copy_from_slice(&p.code);
        }
        let by_name: hashbrown::HashMap<(u32, u32), usize> = pieces
            .iter()
            .zip(offsets)
            .map(|(p, o)| ((p.ns, p.index), base + *o))
            .collect();
        let find = |ns: u32, idx: u32| -> Option<usize> { by_name.get(&(ns, idx)).copied() };
        for (p, &off) in pieces.iter().zip(offsets) {
            // user names are indices into the function's own name table, re-read here
            for r in &p.relocs {
                let at = off + r.offset as usize;
                let target: usize = match &r.target {
                    FinalizedRelocTarget::Func(o) => base + off + *o as usize,
                    FinalizedRelocTarget::ExternalName(ExternalName::User(uref)) => {
                        let (ns, idx) =
                            p.names
                                .get(uref.as_u32() as usize)
                                .copied()
                                .ok_or_else(|| {
                                    CompileError::Codegen(format!("unknown user name {uref:?}"))
                                })?;
                        if ns == NS_TABLE {
                            self.tables.get(idx as usize).copied().ok_or_else(|| {
                                CompileError::Codegen(format!("unknown table {idx}"))
                            })?
                        } else if ns == NS_LIB {
                            Libcall::from_index(idx)
                                .map(|l| l.address())
                                .ok_or_else(|| {
                                    CompileError::Codegen(format!("unknown libcall {idx}"))
                                })?
                        } else {
                            find(ns, idx).ok_or_else(|| {
                                CompileError::Codegen(format!(
                                    "call to function {ns}:{idx} outside the unit"
                                ))
                            })?
                        }
                    }
                    FinalizedRelocTarget::ExternalName(ExternalName::LibCall(lc)) => {
                        cranelift_libcall(*lc).map(|l| l.address()).ok_or_else(|| {
                            CompileError::Codegen(format!("unsupported libcall {lc:?}"))
                        })?
                    }
                    other => {
                        return Err(CompileError::Codegen(format!(
                            "unsupported relocation target {other:?}"
                        )));
                    }
                };
                let value = (target as i64).wrapping_add(r.addend);
                match r.kind {
                    Reloc::Abs8 => image[at..at + 8].copy_from_slice(&(value as u64).to_le_bytes()),
                    Reloc::X86CallPCRel4 | Reloc::X86PCRel4 => {
                        let pc = (base + at) as i64;
                        let rel = value - pc;
                        let rel32 = i32::try_from(rel).map_err(|_| {
                            CompileError::Codegen("call target out of ±2 GiB range".into())
                        })?;
                        image[at..at + 4].copy_from_slice(&rel32.to_le_bytes());
                    }
                    other => {
                        return Err(CompileError::Codegen(format!(
                            "unsupported relocation {other:?}"
                        )));
                    }
                }
            }
        }
        Ok(image)
    }
}
