//! What one module may contain. The kernel parses boot modules on a 256 KiB stack and
//! compiles them on a CPU that keeps serving other work, so every size is bounded; a
//! module past a limit is rejected with `file:line:col` at the first token, statement or
//! function beyond it. The figures behind the numbers are in `jit/IR.md` ("Limits").

/// Syntactic nesting levels (blocks, `if`s, parentheses, brackets, operators, prefix
/// operators and casts): bounds the stack every pass over the tree uses.
pub const MAX_NESTING: u32 = 32;

/// Bytes of source text.
pub const MAX_MODULE_BYTES: usize = 4 << 20;

/// Tokens of a module (`Eof` excluded): bounds the size of everything the front end and the
/// compiler build, whatever the shape (a statement can be long; a compiled unit holds a
/// function and every function it calls).
pub const MAX_MODULE_TOKENS: usize = 200_000;

/// Functions of a module.
pub const MAX_FUNCTIONS: usize = 1_000;

/// Statements of one function, nested ones included. Register allocation (Cranelift's
/// regalloc2) is superlinear in the size of a function for some shapes (many `if`s, values
/// kept across many branches), so each function is kept small: the largest of the catalog
/// has fewer than 100.
pub const MAX_FUNCTION_STATEMENTS: usize = 5_000;
