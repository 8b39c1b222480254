//! Refresh benchmark against the emulator on 127.0.0.1 with Exchange at 300 ms and Graph at
//! 50 ms per request: a tenant of 10,000 users, 31 approver groups of 2,000 members and 30
//! policies. Prints requests made, wall time, a lower bound from the critical path and the
//! concurrency limits, the time of a naive refresh (one Exchange call per object at
//! concurrency 10) and peak memory. The emulator runs as its own process
//! (`pamform emulator serve`), so the memory figure is the client's, and the emulator's is
//! printed apart.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use pamform::tenant::{Client, ClientOptions, RefreshRequest, TenantError};

mod support;

use support::memory;
use support::served::Served;
use support::tenant::{FULL, GROUPS, POLICIES, QUICK, SMALL, Scale, latency, quick, request_at, seed_at};

const EXCHANGE_MS: u64 = 300;
const GRAPH_MS: u64 = 50;
const EXCHANGE_CONCURRENCY: usize = 3;
const GRAPH_CONCURRENCY: usize = 16;
const NAIVE_CONCURRENCY: usize = 10;
/// Graph's largest page (`$top`) and Exchange's.
const GRAPH_PAGE: usize = 999;
const EXCHANGE_PAGE: usize = 1000;
/// The client's peak memory target, in kB.
const MEMORY_TARGET_KB: u64 = 100 * 1024;

fn client(emu: &Served, exchange_concurrency: usize) -> Client {
    let options = ClientOptions {
        exchange_concurrency,
        graph_concurrency: GRAPH_CONCURRENCY,
        ..ClientOptions::default()
    };
    emu.client(options)
}

/// The naive refresh: one Exchange call per object (and per page), `NAIVE_CONCURRENCY` at once.
async fn naive(c: &Client, req: &RefreshRequest) -> Result<usize, TenantError> {
    let mut set = tokio::task::JoinSet::new();
    let spawn =
        |set: &mut tokio::task::JoinSet<Result<usize, TenantError>>,
         f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, TenantError>> + Send>>| {
            set.spawn(f);
        };
    let c1 = c.clone();
    spawn(&mut set, Box::pin(async move { c1.get_pam_setting().await.map(|_| 1) }));
    let c1 = c.clone();
    spawn(&mut set, Box::pin(async move { c1.get_policies().await.map(|p| p.len()) }));
    for g in &req.groups {
        let (c1, c2, g1, g2) = (c.clone(), c.clone(), g.clone(), g.clone());
        spawn(&mut set, Box::pin(async move { c1.get_group(&g1).await.map(|_| 1) }));
        spawn(&mut set, Box::pin(async move { c2.get_group_members(&g2).await.map(|m| m.len()) }));
    }
    for p in &req.principals {
        let (c1, p1) = (c.clone(), p.clone());
        spawn(&mut set, Box::pin(async move { c1.get_recipient(&p1).await.map(|_| 1) }));
    }
    for r in &req.roles {
        let (c1, r1) = (c.clone(), r.clone());
        spawn(&mut set, Box::pin(async move { c1.get_role_entries(&r1).await.map(|e| e.len()) }));
    }
    for g in &req.role_groups {
        let (c1, g1) = (c.clone(), g.clone());
        spawn(&mut set, Box::pin(async move { c1.get_role_groups(Some(&g1)).await.map(|e| e.len()) }));
    }
    let mut objects = 0;
    while let Some(joined) = set.join_next().await {
        objects += joined.expect("naive task")?;
    }
    Ok(objects)
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

#[allow(clippy::print_stdout)]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if quick() {
        println!("quick mode: a tiny tenant without latency; the figures mean nothing");
        run(&rt, QUICK);
        return;
    }
    run(&rt, FULL);
    println!();
    run(&rt, SMALL);
}

#[allow(clippy::print_stdout)]
fn run(rt: &tokio::runtime::Runtime, scale: Scale) {
    let emu = {
        let seed = seed_at(scale);
        let latency = [
            "--exchange-latency-ms".to_string(),
            latency(EXCHANGE_MS).to_string(),
            "--graph-latency-ms".to_string(),
            latency(GRAPH_MS).to_string(),
        ];
        Served::start(&seed, &latency)
    };
    rt.block_on(measure(&emu, scale));
    println!("emulator process peak memory (VmHWM): {}", emu.peak_memory());
}

#[allow(clippy::print_stdout)]
async fn measure(emu: &Served, scale: Scale) {
    let req = request_at(scale);
    println!(
        "tenant: {} users, {GROUPS} groups x {} members, {POLICIES} policies; Exchange {} ms, Graph {} ms",
        scale.users,
        scale.members,
        latency(EXCHANGE_MS),
        latency(GRAPH_MS)
    );

    let c = client(emu, EXCHANGE_CONCURRENCY);
    let resident = memory::resident();
    let scope = if memory::reset_peak() {
        format!("reset before them, at {resident} resident")
    } else {
        format!("since start, as resetting is not supported; setup took {}", memory::peak())
    };
    let mut best = Duration::MAX;
    let mut stats = c.stats();
    for run in 1..=2 {
        let before = c.stats();
        let t = Instant::now();
        let snapshot = c.refresh(&req).await.expect("refresh");
        let took = t.elapsed();
        let after = c.stats();
        stats = pamform::tenant::Stats {
            login_requests: after.login_requests - before.login_requests,
            exchange_requests: after.exchange_requests - before.exchange_requests,
            graph_requests: after.graph_requests - before.graph_requests,
            retries: after.retries - before.retries,
        };
        assert_eq!(snapshot.groups.len(), GROUPS);
        assert!(snapshot.groups.values().all(|g| g.members.len() == scale.members));
        assert_eq!(snapshot.policies.len(), POLICIES);
        println!(
            "refresh run {run}{}: {} (requests: {} sign-in, {} exchange, {} graph, {} retries)",
            if run == 1 { " (cold: signs in)" } else { " (warm)" },
            ms(took),
            stats.login_requests,
            stats.exchange_requests,
            stats.graph_requests,
            stats.retries
        );
        best = best.min(took);
    }
    let peak = memory::peak();
    let peak_kb: Option<u64> = peak.trim_end_matches(" kB").trim().parse().ok();
    println!(
        "client peak memory during the refresh runs (VmHWM, {scope}): {peak} (target < {MEMORY_TARGET_KB} kB) {}",
        match peak_kb {
            Some(kb) if kb < MEMORY_TARGET_KB => "ok",
            Some(_) => "MISSED",
            None => "",
        }
    );

    // Lower bound. Critical path: Exchange reads the role group, then its role's entries
    // (2 x 300 ms); Graph finds a group, then pages its members (1 + pages x 50 ms).
    // Concurrency: the Exchange calls made, 3 at a time; the Graph calls, 16 at a time.
    let member_pages = scale.members.div_ceil(GRAPH_PAGE) as u64;
    let exchange_chain = 2 * EXCHANGE_MS;
    let graph_chain = (1 + member_pages) * GRAPH_MS;
    let exchange_work = stats.exchange_requests.div_ceil(EXCHANGE_CONCURRENCY as u64) * EXCHANGE_MS;
    let graph_work = stats.graph_requests.div_ceil(GRAPH_CONCURRENCY as u64) * GRAPH_MS;
    let bound = Duration::from_millis(exchange_chain.max(graph_chain).max(exchange_work).max(graph_work));
    println!(
        "lower bound: {} (exchange chain {exchange_chain} ms, graph chain {graph_chain} ms, exchange {} calls / {EXCHANGE_CONCURRENCY} = {exchange_work} ms, graph {} calls / {GRAPH_CONCURRENCY} = {graph_work} ms)",
        ms(bound),
        stats.exchange_requests,
        stats.graph_requests
    );
    let ratio = best.as_secs_f64() / bound.as_secs_f64();
    println!(
        "refresh / lower bound: {ratio:.2}x (target <= 1.3x) {}",
        if ratio <= 1.3 { "ok" } else { "MISSED" }
    );

    let naive_client = client(emu, NAIVE_CONCURRENCY);
    let expected_calls = 2 + GROUPS * (1 + scale.members.div_ceil(EXCHANGE_PAGE)) + req.principals.len() + 2;
    let t = Instant::now();
    naive(&naive_client, &req).await.expect("naive refresh");
    let naive_took = t.elapsed();
    let n = naive_client.stats();
    println!(
        "naive refresh (one Exchange call per object, concurrency {NAIVE_CONCURRENCY}): {} ({} exchange calls, {expected_calls} expected)",
        ms(naive_took),
        n.exchange_requests
    );
    let speedup = naive_took.as_secs_f64() / best.as_secs_f64();
    println!(
        "speed-up over naive: {speedup:.1}x (target >= 10x) {}",
        if speedup >= 10.0 { "ok" } else { "MISSED" }
    );
}
