//! One module per command.

pub mod completions;
pub mod fmt;
pub mod validate;
