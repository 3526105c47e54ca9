//! The minimal linker: lays a unit's functions out in one image and resolves the calls
//! between them (`X86CallPCRel4`) and to libcalls (`Abs8`) for the address the image will
//! run at. Placing the image in executable memory is the runtime's job
//! (`runtime::code::place`); this module never touches memory it does not own.

use super::CompileError;
use super::abi::NS_LIB;
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
}

impl CodeUnit {
    /// Lays the pieces out (the first is the entry trampoline).
    pub(crate) fn new(pieces: Vec<Piece>) -> CodeUnit {
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
        }
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
                        if ns == NS_LIB {
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
