//! What the tests share: the emulated tenant they all run against (its domain and the app its
//! default seed registers), the real `pamform` binary, and the harnesses built on them.
//!
//! - [`cli`]: the binary run from a temporary configuration directory against an emulator.
//! - [`api`]: an emulator spoken to over HTTP, as a client of Microsoft's endpoints would.
//! - [`fleet`]: one emulator hosting several tenants, the fleet baseline and fleet files.
//! - [`help`]: the command tree the help tests walk.
//! - [`model`]: the model behind the model-based test of the core loop.
//! - [`plans`]: plans built in code for the renderer tests.
//! - [`pty`]: the binary on an 80-column pseudo-terminal, and the screen it leaves.

pub mod api;
pub mod assertions;
pub mod azurite;
pub mod cli;
pub mod corpus;
pub mod fleet;
pub mod help;
pub mod model;
pub mod plans;
pub mod pty;

use std::process::Command;

use pamform::emulator::{EmulatorConfig, Faults, Seed};
use proptest::test_runner::{FailurePersistence, FileFailurePersistence};

/// The domain of the emulated tenant.
pub const DOMAIN: &str = "contoso.onmicrosoft.com";

/// The tenant id of the emulated tenant.
pub const TENANT_ID: &str = "4b1f3c2e-6a5d-4e8f-9b0a-1c2d3e4f5a6b";

/// The client id of the app the emulator's default seed registers (pamform's own app).
pub const APP_ID: &str = "5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11";

/// The client secret of that app in the default seed.
pub const APP_SECRET: &str = "emulator-secret-not-for-production";

/// The `pamform` binary this test run built.
pub const PAMFORM: &str = env!("CARGO_BIN_EXE_pamform");

/// A user of the emulated tenant.
pub fn upn(name: &str) -> String {
    format!("{name}@{DOMAIN}")
}

/// The `pamform` binary as a command with nothing set yet: every test runs the binary from
/// here (wrapped in `assert_cmd::Command::from_std` where it asserts on the outcome).
pub fn pamform() -> Command {
    Command::new(PAMFORM)
}

/// An emulator on a free port of 127.0.0.1, in memory, over plain http.
pub fn emulator_config(seed: Option<Seed>, faults: Faults) -> EmulatorConfig {
    EmulatorConfig { listen: "127.0.0.1:0".parse().unwrap(), data: None, seed, faults, tls: false }
}

/// Where a property test keeps its shrunk failures: `<test file>.proptest-regressions` beside
/// the test file, replayed first on every run. (Proptest's default would move them under
/// `tests/proptest-regressions/`, because `tests/it/` holds a `main.rs`.)
pub fn regressions() -> Option<Box<dyn FailurePersistence>> {
    Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions")))
}
