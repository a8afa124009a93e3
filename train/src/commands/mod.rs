//! `fauve-train`'s subcommands besides training itself.

pub mod preview;
