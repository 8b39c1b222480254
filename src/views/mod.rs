//! The only place that draws on a terminal. Everything pamform prints leaves through the
//! [`Printer`]; every renderer lives here, one module per command, human and JSON side by
//! side, after Terraform's `internal/command/views`: [`plan`] (text, JSON, the facts they
//! share), [`markdown`] (plan and drift comments), [`drift`], [`state`], [`requests`],
//! [`apply`], [`validate`], [`import`], [`export`], [`fmt`], [`login`], [`emulator`],
//! [`diagnostics`] and [`progress`] (spinners). The rest of the
//! program hands these modules data and never writes to stdout or stderr itself.

pub mod apply;
pub mod diagnostics;
pub mod drift;
pub mod emulator;
pub mod export;
pub mod fleet;
pub mod fmt;
pub mod import;
pub mod login;
pub mod markdown;
pub mod plan;
pub mod printer;
pub mod progress;
pub mod requests;
pub mod sensitive;
pub mod state;
pub mod style;
pub mod validate;
pub mod whoami;

pub use printer::{ColorMode, Printer};
