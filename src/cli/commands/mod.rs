//! One module per command.

pub mod completions;
pub mod emulator;
