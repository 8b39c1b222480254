//! Refresh benchmark: `pamform plan` as users run it (its own process: configuration load,
//! sign-in, refresh, diff) against `pamform emulator serve` in another process, with Exchange
//! at 300 ms and Graph at 50 ms per request, on a tenant of 10,000 users, 31 approver groups
//! of 2,000 members and 30 policies. The configuration is the tenant's own export, so it
//! names every member of every group and the plan is empty. Printed side by side: the plan's
//! wall time, requests (and whether the emulator throttled any) and peak memory; the lower
//! bound from the minimum requests needed to read the tenant at the services' latencies and
//! concurrency limits; and two naive refreshes at parallelism 10: one read per pamform
//! resource (PAM, policies, each group and its member pages through Exchange), and one Graph
//! read per member, as Terraform's azuread provider reads its `azuread_group_member`
//! resources (one resource per member). The second is measured on a fixed sample of members
//! (62,000 reads would take minutes) and scaled to all of them; the output says so.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use pamform::tenant::{Client, ClientOptions, RefreshRequest, Resource, TenantError};

mod support;

use support::cli::{Bound, Requests, adopted_tenant, ms};
use support::tenant::{FULL, QUICK, Scale, latency, quick, request_at, user};

const EXCHANGE_MS: u64 = 300;
const GRAPH_MS: u64 = 50;
const EXCHANGE_CONCURRENCY: usize = 3;
const GRAPH_CONCURRENCY: usize = 16;
const NAIVE_CONCURRENCY: usize = 10;
/// Graph's largest page (`$top`), Exchange's, and the most requests in one `$batch`.
const GRAPH_PAGE: usize = 999;
const EXCHANGE_PAGE: usize = 1000;
const BATCH: usize = 20;
/// Targets: the client's peak memory (kB), Graph requests of an empty plan.
const MEMORY_TARGET_KB: u64 = 100 * 1024;
const GRAPH_REQUESTS_TARGET: u64 = 20;
/// Timed runs of the plan (the best is compared).
const RUNS: usize = 3;
/// Memberships read one by one in the per-member naive refresh (all of them in quick mode).
const MEMBER_SAMPLE: usize = 1_000;

/// The naive refresh: one Exchange read per resource (and per page), `NAIVE_CONCURRENCY` at
/// once: the PAM setting, the policies, each group and its members, each role and role
/// group. Members are attributes of their group here, as in a Terraform provider, so names
/// are not resolved one by one.
async fn naive(c: &Client, req: &RefreshRequest) -> Result<usize, TenantError> {
    type Read = std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, TenantError>> + Send>>;
    let mut reads: Vec<Read> = Vec::new();
    let c1 = c.clone();
    reads.push(Box::pin(async move { c1.get_pam_setting().await.map(|_| 1) }));
    let c1 = c.clone();
    reads.push(Box::pin(async move { c1.get_policies().await.map(|p| p.len()) }));
    for g in &req.groups {
        let (c1, c2, g1, g2) = (c.clone(), c.clone(), g.clone(), g.clone());
        reads.push(Box::pin(async move { c1.get_group(&g1).await.map(|_| 1) }));
        reads.push(Box::pin(async move { c2.get_group_members(&g2).await.map(|m| m.len()) }));
    }
    for r in &req.roles {
        let (c1, r1) = (c.clone(), r.clone());
        reads.push(Box::pin(async move { c1.get_role_entries(&r1).await.map(|e| e.len()) }));
    }
    for g in &req.role_groups {
        let (c1, g1) = (c.clone(), g.clone());
        reads.push(Box::pin(async move { c1.get_role_groups(Some(&g1)).await.map(|e| e.len()) }));
    }
    let mut set = tokio::task::JoinSet::new();
    for read in reads {
        set.spawn(read);
    }
    let mut objects = 0;
    while let Some(joined) = set.join_next().await {
        objects += joined.expect("naive task")?;
    }
    Ok(objects)
}

/// The per-member naive refresh: `GET /users/{upn}` for each of `members`, `NAIVE_CONCURRENCY`
/// at once, with the client's Graph token; returns how many were found.
async fn naive_per_member(c: &Client, graph_url: &str, members: &[String]) -> usize {
    use futures_util::StreamExt;
    c.sign_in().await.expect("sign-in");
    let (token, _) = c.current_token(Resource::Graph).await.expect("a Graph token");
    let http = reqwest::Client::new();
    futures_util::stream::iter(members)
        .map(|upn| {
            let req = http.get(format!("{graph_url}/v1.0/users/{upn}")).bearer_auth(token.expose());
            async move {
                let answer = req.send().await.expect("Graph answers");
                // A throttled read is counted (the emulator reports how many), not retried.
                let status = answer.status();
                assert!(status.is_success() || status.as_u16() == 429, "GET /users/{upn}: {status}");
                answer.bytes().await.expect("Graph answers");
            }
        })
        .buffer_unordered(NAIVE_CONCURRENCY)
        .count()
        .await
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

#[allow(clippy::print_stdout)]
fn main() {
    let scale = if quick() {
        println!("quick mode: a tiny tenant without latency; the figures mean nothing");
        QUICK
    } else {
        FULL
    };
    run(scale);
}

#[allow(clippy::print_stdout)]
fn run(scale: Scale) {
    let (exchange_ms, graph_ms) = (latency(EXCHANGE_MS), latency(GRAPH_MS));
    let (served, ws) = adopted_tenant(scale, exchange_ms, graph_ms);

    let mut best = Duration::MAX;
    let mut worst_peak = 0;
    let mut requests = Requests::default();
    for n in 1..=RUNS {
        let r = ws.run(&served, &["plan", "--detailed-exitcode"]);
        assert_eq!(r.code, 0, "the plan of the exported tenant is not empty:\n{}{}", r.stdout, r.stderr);
        println!(
            "pamform plan run {n}: {} (requests: {} sign-in, {} exchange, {} graph; throttled {}, {} by the Graph budget ({} resource units) {}; peak memory {})",
            ms(r.took),
            r.requests.login,
            r.requests.exchange,
            r.requests.graph,
            r.requests.throttled,
            r.requests.graph_budget_throttled,
            r.requests.graph_resource_units,
            verdict(r.requests.throttled == 0),
            r.peak()
        );
        best = best.min(r.took);
        worst_peak = worst_peak.max(r.peak_kb.unwrap_or(u64::MAX));
        requests = r.requests;
    }
    println!(
        "plan graph requests: {} (target <= {GRAPH_REQUESTS_TARGET}) {}; peak memory {:.1} MB (target < {} MB) {}",
        requests.graph,
        verdict(requests.graph <= GRAPH_REQUESTS_TARGET),
        worst_peak as f64 / 1024.0,
        MEMORY_TARGET_KB / 1024,
        verdict(worst_peak < MEMORY_TARGET_KB)
    );

    // The lower bound: the Exchange reads the plan needs (the role group, then its roles'
    // entries: two deep), and Graph's group lookups then the member pages.
    let bound = Bound {
        exchange_ms,
        exchange_concurrency: EXCHANGE_CONCURRENCY,
        exchange_depth: 2,
        graph_ms,
        graph_concurrency: GRAPH_CONCURRENCY,
        graph_page: GRAPH_PAGE,
        batch: BATCH,
    };
    let (min_graph, bound_took, why) = bound.of(scale.groups, scale.members, requests.exchange);
    println!("lower bound: {} ({why}; {min_graph} graph requests at least)", ms(bound_took));
    let ratio = best.as_secs_f64() / bound_took.as_secs_f64().max(0.001);
    println!("plan / lower bound: {ratio:.2}x (target <= 1.3x) {}", verdict(ratio <= 1.3));

    // The command's own work (start, configuration load, diff), apart from the network.
    served.set_latency(0, 0);
    let r = ws.run(&served, &["plan", "--detailed-exitcode"]);
    println!(
        "pamform plan without latency (the command's own work): {} (peak memory {})",
        ms(r.took),
        r.peak()
    );
    served.set_latency(exchange_ms, graph_ms);

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let req = request_at(scale);
    let naive_client = served.client(ClientOptions {
        exchange_concurrency: NAIVE_CONCURRENCY,
        graph_concurrency: GRAPH_CONCURRENCY,
        ..ClientOptions::default()
    });
    // Sign in first: the naive figure is the reads alone.
    rt.block_on(naive_client.get_pam_setting()).expect("sign-in");
    let before = naive_client.stats();
    let t = Instant::now();
    rt.block_on(naive(&naive_client, &req)).expect("naive refresh");
    let naive_took = t.elapsed();
    let calls = naive_client.stats().exchange_requests - before.exchange_requests;
    let expected = 2
        + scale.groups * (1 + scale.members.div_ceil(EXCHANGE_PAGE))
        + req.roles.len()
        + req.role_groups.len();
    println!(
        "naive refresh (one Exchange read per resource and page, parallelism {NAIVE_CONCURRENCY}): {} ({calls} exchange calls, {expected} expected)",
        ms(naive_took)
    );
    let speedup = naive_took.as_secs_f64() / best.as_secs_f64();
    println!(
        "speed-up of the plan over the naive per-resource refresh: {speedup:.1}x (target >= 10x) {}",
        verdict(speedup >= 10.0)
    );

    // One Graph read per membership, as a provider with one resource per group member does
    // (a user in three groups is three resources): measured on a sample, scaled to every
    // membership the configuration names.
    let members: Vec<String> = (0..scale.groups)
        .flat_map(|g| (0..scale.members).map(move |k| user((g * scale.stride + k) % scale.users)))
        .collect();
    let sample = &members[..members.len().min(MEMBER_SAMPLE)];
    served.clear_counters();
    let t = Instant::now();
    let read = rt.block_on(naive_per_member(&naive_client, &served.base_url, sample));
    let sample_took = t.elapsed();
    let counters = served.counters();
    let per_member_took = sample_took.mul_f64(members.len() as f64 / sample.len().max(1) as f64);
    let how = if sample.len() == members.len() { "measured" } else { "scaled from the sample, not measured" };
    println!(
        "naive refresh, one Graph read per member (parallelism {NAIVE_CONCURRENCY}): {} for a sample of {read} of {} group members, so {} for all of them ({how}; {} throttled)",
        ms(sample_took),
        members.len(),
        ms(per_member_took),
        counters.throttled
    );
    let speedup = per_member_took.as_secs_f64() / best.as_secs_f64();
    println!(
        "speed-up of the plan over the naive per-member refresh: {speedup:.1}x (target >= 10x) {}",
        verdict(speedup >= 10.0)
    );
    drop(rt);
    println!("emulator process peak memory (VmHWM): {}", served.peak_memory());
}
