//! `fauve-train`'s subcommands besides training itself.

pub mod eval;
pub mod preview;
