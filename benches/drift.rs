//! Drift benchmark: `pamform drift` as users run it (its own process: configuration and state
//! load, sign-in, the drift cache read and written, the report) against `pamform emulator
//! serve` in another process, on the tenant of the refresh benchmark (10,000 users, 31
//! approver groups of 2,000 members, 30 policies), adopted through its own export. Printed:
//! a full check (no cache), a delta check of the unchanged tenant (target: at most 5 Graph
//! requests besides the Exchange PAM reads, which have no delta), both again without latency
//! (target for the delta check: 0.3 s), and a delta check after one member was added out of
//! band; each with its requests, peak memory and whether it wrote the cache.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, SystemTime};

use pamform::drift::cache;
use pamform::tenant::ClientOptions;

mod support;

use support::cli::{Run, Workspace, adopted_tenant, ms};
use support::served::Served;
use support::tenant::{FULL, QUICK, group, latency, quick, user};

const EXCHANGE_MS: u64 = 300;
const GRAPH_MS: u64 = 50;
/// Targets: Graph requests of a delta check, its wall time without latency, peak memory (kB).
const DELTA_GRAPH_TARGET: u64 = 5;
const DELTA_ZERO_LATENCY_TARGET: Duration = Duration::from_millis(300);
const MEMORY_TARGET_KB: u64 = 100 * 1024;
/// `pamform drift` exit codes: in sync, differences found.
const IN_SYNC: i32 = 0;
const DIFFERENCES: i32 = 2;

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn modified(ws: &Workspace) -> Option<SystemTime> {
    std::fs::metadata(cache::path(ws.path())).and_then(|m| m.modified()).ok()
}

/// Runs `pamform drift ARGS`, checks its exit code and prints one line about it.
#[allow(clippy::print_stdout)]
fn check(served: &Served, ws: &Workspace, name: &str, args: &[&str], code: i32) -> Run {
    let before = modified(ws);
    let mut argv = vec!["drift"];
    argv.extend_from_slice(args);
    let r = ws.run(served, &argv);
    assert_eq!(r.code, code, "{name}: pamform drift exited {}:\n{}{}", r.code, r.stdout, r.stderr);
    let wrote = modified(ws) != before;
    let size = std::fs::metadata(cache::path(ws.path())).map(|m| m.len()).unwrap_or(0);
    println!(
        "{name}: {} (requests: {} sign-in, {} exchange, {} graph; peak memory {} {}; cache {}, {} KiB)",
        ms(r.took),
        r.requests.login,
        r.requests.exchange,
        r.requests.graph,
        r.peak(),
        verdict(r.peak_kb.is_some_and(|kb| kb < MEMORY_TARGET_KB)),
        if wrote { "written" } else { "not written" },
        size / 1024
    );
    r
}

#[allow(clippy::print_stdout)]
fn main() {
    let scale = if quick() {
        println!("quick mode: a tiny tenant without latency; the figures mean nothing");
        QUICK
    } else {
        FULL
    };
    let (exchange_ms, graph_ms) = (latency(EXCHANGE_MS), latency(GRAPH_MS));
    let (served, ws) = adopted_tenant(scale, exchange_ms, graph_ms);
    check(&served, &ws, "full drift check (no cache)", &["--no-cache"], IN_SYNC);
    let delta = check(&served, &ws, "delta check, unchanged tenant", &[], IN_SYNC);
    println!(
        "delta check graph requests: {} (target <= {DELTA_GRAPH_TARGET}, plus {} Exchange PAM reads) {}",
        delta.requests.graph,
        delta.requests.exchange,
        verdict(delta.requests.graph <= DELTA_GRAPH_TARGET)
    );

    served.set_latency(0, 0);
    check(&served, &ws, "full drift check (no cache), no latency", &["--no-cache"], IN_SYNC);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        best = best.min(check(&served, &ws, "delta check, unchanged tenant, no latency", &[], IN_SYNC).took);
    }
    println!(
        "delta check without latency, best of 3: {} (target <= {}) {}",
        ms(best),
        ms(DELTA_ZERO_LATENCY_TARGET),
        verdict(best <= DELTA_ZERO_LATENCY_TARGET)
    );

    served.set_latency(exchange_ms, graph_ms);
    let client = served.client(ClientOptions::default());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // A user of the tenant that the first group does not hold.
    let outsider = user((scale.members + scale.stride * (scale.groups - 1)) % scale.users);
    rt.block_on(client.add_group_member(&group(0), &outsider)).expect("out-of-band change");
    drop(rt);
    check(&served, &ws, "delta check, one member added", &[], DIFFERENCES);
    println!("emulator process peak memory (VmHWM): {}", served.peak_memory());
}
