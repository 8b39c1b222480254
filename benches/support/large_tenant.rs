//! The large tenant the client benchmarks run against: 10,000 users, 31 approver groups of
//! 2,000 members and 30 policies, served by the emulator on 127.0.0.1 with Exchange at 300 ms
//! and Graph at 50 ms per request; the refresh request a configuration of it makes, and a
//! client signed in as the seeded app. Shared by `benches/refresh.rs` and `benches/drift.rs`.
#![allow(dead_code)]

use pamform::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use pamform::tenant::{Client, ClientOptions, RefreshRequest};

#[path = "tenant.rs"]
mod tenant;

pub use tenant::{DOMAIN, GROUPS, POLICIES, group, latency, quick, scale, seed, user};

pub const EXCHANGE_MS: u64 = 300;
pub const GRAPH_MS: u64 = 50;
pub const EXCHANGE_CONCURRENCY: usize = 3;
pub const GRAPH_CONCURRENCY: usize = 16;
pub const NAIVE_CONCURRENCY: usize = 10;
/// Graph's largest page (`$top`) and Exchange's.
pub const GRAPH_PAGE: usize = 999;
pub const EXCHANGE_PAGE: usize = 1000;

/// What a configuration of this tenant names (see `tenant::request_at`).
pub fn request() -> RefreshRequest {
    tenant::request_at(scale())
}

pub fn client(emu: &RunningEmulator, exchange_concurrency: usize) -> Client {
    let options = ClientOptions {
        exchange_concurrency,
        graph_concurrency: GRAPH_CONCURRENCY,
        ..ClientOptions::default()
    };
    tenant::client(emu, options)
}

/// Starts the emulator with the large tenant and the benchmark latencies.
pub async fn start() -> RunningEmulator {
    let faults = Faults {
        exchange_latency_ms: tenant::latency(EXCHANGE_MS),
        graph_latency_ms: tenant::latency(GRAPH_MS),
        ..Faults::default()
    };
    emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data: None,
        seed: Some(seed()),
        faults,
        tls: false,
    })
    .await
    .expect("emulator")
}
