//! One module per command.

pub mod apply;
pub mod completions;
pub mod drift;
pub mod emulator;
pub mod emulator_exec;
pub mod export;
pub mod fleet;
pub mod fleet_force_unlock;
pub mod fmt;
pub mod force_unlock;
pub mod import;
pub mod login;
pub mod logout;
pub mod plan;
pub mod request;
pub mod show;
pub mod state;
pub mod validate;
pub mod whoami;
