//! The front end: `.bfir` text to the typed IR.
//!
//! What a module may contain is bounded ([`limits`]). [`lexer`] turns the text into tokens
//! (and collects the `//!` module documentation),
//! [`parser`] builds an untyped tree ([`ast`]; nesting depth bounded), and [`verify`]
//! resolves names and checks types into a [`Module`]. Every error is a [`Diagnostic`]
//! ([`diag`]): `file:line:col: reason`.

mod ast;
mod diag;
mod lexer;
mod limits;
mod parser;
mod verify;

pub use diag::Diagnostic;
pub use limits::{
    MAX_FUNCTION_STATEMENTS, MAX_FUNCTIONS, MAX_MODULE_BYTES, MAX_MODULE_TOKENS, MAX_NESTING,
};

use crate::ir::Module;
use alloc::string::{String, ToString};

/// Parses and verifies a module. `file` names it in diagnostics; the module's name is the
/// file stem (`matmul` for `ir-modules/matmul.bfir`).
pub fn parse_module(file: &str, src: &str) -> Result<Module, Diagnostic> {
    let name = module_name(file);
    let to_diag = |e: diag::PosError| Diagnostic {
        file: file.to_string(),
        line: e.pos.line,
        col: e.pos.col,
        reason: e.reason,
    };
    if src.len() > limits::MAX_MODULE_BYTES {
        return Err(to_diag(too_large(src)));
    }
    let (toks, doc) = lexer::tokenize(src).map_err(to_diag)?;
    let mut ast = parser::Parser::new(toks).module().map_err(to_diag)?;
    ast.doc = doc;
    verify::check_module(&name, file, ast).map_err(to_diag)
}

/// The error for a source longer than [`MAX_MODULE_BYTES`], at its first byte past it.
fn too_large(src: &str) -> diag::PosError {
    let mut cut = limits::MAX_MODULE_BYTES;
    while !src.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &src[..cut];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    diag::PosError {
        pos: diag::Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        },
        reason: alloc::format!(
            "module too large: more than {} bytes",
            limits::MAX_MODULE_BYTES
        ),
    }
}

fn module_name(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = base.strip_suffix(".bfir").unwrap_or(base);
    stem.to_string()
}
