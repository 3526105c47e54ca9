//! T0: the typed IR compiled to a register bytecode ([`bytecode`]) and interpreted
//! ([`interp`]). Every function runs here first; the interpreter counts nothing and knows
//! no tiers (the runtime does both).

mod bytecode;
mod interp;
mod ops;

#[cfg(test)]
mod tests;

pub(crate) use interp::Program;
