//! The minimal linker: lays out a unit's functions in one block of executable memory,
//! resolves calls between them (`X86CallPCRel4`) and libcalls (`Abs8`), then makes the
//! block executable (W^X: written first, flipped by the embedder's `finalize`).

use super::lower::{NS_FUNC, NS_LIB};
use super::{Compiled, Piece};
use crate::engine::CompileError;
use crate::libcalls::Libcall;
use crate::mem::ExecMemory;
use alloc::format;
use alloc::vec::Vec;
use cranelift_codegen::FinalizedRelocTarget;
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::ir::{ExternalName, LibCall};

/// Functions start on cache-line boundaries (measured: 16-byte alignment made call-heavy
/// code such as `fib` up to 15% slower depending on where the function happened to land).
const ALIGN: usize = 64;

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

/// Links the pieces (the first is the entry trampoline) into one executable block.
pub fn link(pieces: &[Piece], mem: &mut dyn ExecMemory) -> Result<Compiled, CompileError> {
    let mut offsets = Vec::with_capacity(pieces.len());
    let mut size = 0usize;
    for p in pieces {
        size = size.div_ceil(ALIGN) * ALIGN;
        offsets.push(size);
        size += p.code.len();
    }
    let block = mem.allocate(size).map_err(CompileError::Pool)?;
    let base = block.exec_addr;
    let mut image = alloc::vec![0u8; size];
    for (p, &off) in pieces.iter().zip(&offsets) {
        image[off..off + p.code.len()].copy_from_slice(&p.code);
    }
    let by_name: hashbrown::HashMap<(u32, u32), usize> = pieces
        .iter()
        .zip(&offsets)
        .map(|(p, o)| ((p.ns, p.index), base + *o))
        .collect();
    let find = |ns: u32, idx: u32| -> Option<usize> { by_name.get(&(ns, idx)).copied() };
    let result = (|| {
        for (p, &off) in pieces.iter().zip(&offsets) {
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
                let _ = NS_FUNC;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        mem.release(block);
        return Err(e);
    }
    // SAFETY: `allocate` returned `size` writable bytes at write_ptr, not yet executable.
    unsafe { core::ptr::copy_nonoverlapping(image.as_ptr(), block.write_ptr, size) };
    if let Err(e) = mem.finalize(&block) {
        mem.release(block);
        return Err(CompileError::Pool(e));
    }
    Ok(Compiled {
        entry: base + offsets[0],
        code_bytes: size,
        block,
    })
}
