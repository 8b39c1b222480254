//! Drift benchmark on the large tenant of the refresh benchmark (10,000 users, 31 approver
//! groups of 2,000 members, 30 policies; Exchange 300 ms, Graph 50 ms per request): requests
//! and wall time of a full drift check, of a delta check of the unchanged tenant (target: at
//! most 5 Graph requests besides the two Exchange PAM reads, which have no delta), and of a
//! delta check after one member was added out of band.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

#[path = "support/large_tenant.rs"]
mod large_tenant;

use large_tenant::*;
use pamform::drift::cache::{DriftCache, Unusable};
use pamform::drift::refresh::{self, ReadKind};
use pamform::drift::{self, Report};
use pamform::model::{Address, Configuration, Membership, TenantSnapshot};
use pamform::plan::attributes::{Attrs, MemberNames, live_group, live_pam, live_policy};
use pamform::plan::{self, PRIVILEGED_ACCESS_ID, PlanMode, PlanOptions};
use pamform::state::{ResourceState, State};
use pamform::tenant::{Client, Stats};

/// State as if every group, policy and the PAM setting had been applied as they are now.
fn state_of(snapshot: &TenantSnapshot) -> State {
    let names = MemberNames::new(&Configuration::default(), snapshot);
    let mut state = State::new(DOMAIN);
    for (i, g) in snapshot.groups.values().enumerate() {
        let attrs = Attrs::Group(live_group(g, &names, Membership::Authoritative));
        state.upsert(ResourceState::new(
            Address::group(format!("g{i:02}")),
            g.id.clone(),
            attrs.to_value(),
            vec![],
        ));
    }
    for (i, p) in snapshot.policies.iter().enumerate() {
        let attrs = Attrs::Policy(live_policy(p));
        state.upsert(ResourceState::new(
            Address::policy(format!("p{i:02}")),
            p.id.clone(),
            attrs.to_value(),
            vec![],
        ));
    }
    let pam = Attrs::Pam(live_pam(&snapshot.pam));
    state.upsert(ResourceState::new(
        Address::privileged_access(),
        PRIVILEGED_ACCESS_ID.into(),
        pam.to_value(),
        vec![],
    ));
    state
}

/// One drift check: the read, the refresh-only diff and the report.
async fn check(
    c: &Client,
    state: Option<&State>,
    cached: Result<DriftCache, Unusable>,
) -> (refresh::DriftRead, Report) {
    let req = request();
    let t = Instant::now();
    let read = refresh::read(c, &req, cached, &|_| {}).await.expect("drift read");
    let read_took = t.elapsed();
    let t = Instant::now();
    let owned;
    let state = match state {
        Some(s) => s,
        None => {
            owned = state_of(&read.snapshot);
            &owned
        }
    };
    let options = PlanOptions { mode: PlanMode::RefreshOnly, targets: vec![] };
    let plan = plan::build(&Configuration::default(), &read.snapshot, Some(state), &options).expect("plan");
    let report = drift::report(&plan.drift, state, &read.snapshot, &[], &[], &|_| vec![], chrono::Utc::now());
    print_split(read_took, t.elapsed());
    (read, report)
}

#[allow(clippy::print_stdout)]
fn print_split(read: std::time::Duration, diff: std::time::Duration) {
    println!("  (reading the tenant {} ms, diff and report {} ms)", read.as_millis(), diff.as_millis());
}

fn since(before: &Stats, after: &Stats) -> Stats {
    Stats {
        login_requests: after.login_requests - before.login_requests,
        exchange_requests: after.exchange_requests - before.exchange_requests,
        graph_requests: after.graph_requests - before.graph_requests,
        retries: after.retries - before.retries,
    }
}

#[allow(clippy::print_stdout)]
fn line(name: &str, took: std::time::Duration, s: &Stats, kind: &ReadKind, report: &Report) {
    println!(
        "{name}: {} ms (requests: {} sign-in, {} exchange, {} graph, {} retries; {}; {} differences, {} unmanaged)",
        took.as_millis(),
        s.login_requests,
        s.exchange_requests,
        s.graph_requests,
        s.retries,
        match kind {
            ReadKind::Full(why) => format!("full read: {why}"),
            ReadKind::Delta { changed_groups, reread_groups } =>
                format!("delta: {changed_groups} group changes, {reread_groups} groups read again"),
        },
        report.differences.len(),
        report.unmanaged.len()
    );
}

#[allow(clippy::print_stdout)]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let emu = large_tenant::start().await;
        let scale = scale();
        if quick() {
            println!("quick mode: a tiny tenant without latency; the figures mean nothing");
        }
        println!(
            "tenant: {} users, {GROUPS} groups x {} members, {POLICIES} policies; Exchange {} ms, Graph {} ms",
            scale.users, scale.members, latency(EXCHANGE_MS), latency(GRAPH_MS)
        );
        let c = client(&emu, EXCHANGE_CONCURRENCY);
        // Sign in first, so the figures below are the check's own.
        c.get_pam_setting().await.expect("sign-in");

        let before = c.stats();
        let t = Instant::now();
        let (full, report) = check(&c, None, Err(Unusable::Missing)).await;
        let took = t.elapsed();
        assert!(report.in_sync, "{:?}", report.differences.first());
        assert_eq!(full.snapshot.groups.len(), GROUPS);
        line("full drift check", took, &since(&before, &c.stats()), &full.kind, &report);
        let state = state_of(&full.snapshot);

        let before = c.stats();
        let t = Instant::now();
        let (delta, report) = check(&c, Some(&state), Ok(full.cache)).await;
        let took = t.elapsed();
        let s = since(&before, &c.stats());
        assert!(report.in_sync);
        assert!(matches!(delta.kind, ReadKind::Delta { .. }));
        line("delta check, unchanged tenant", took, &s, &delta.kind, &report);
        println!(
            "delta check graph requests: {} (target <= 5, plus {} Exchange PAM reads) {}",
            s.graph_requests,
            s.exchange_requests,
            if s.graph_requests <= 5 { "ok" } else { "MISSED" }
        );

        c.add_group_member(&group(0), &user(scale.users - 1)).await.expect("out-of-band change");
        let before = c.stats();
        let t = Instant::now();
        let (changed, report) = check(&c, Some(&state), Ok(delta.cache)).await;
        let took = t.elapsed();
        assert_eq!(report.differences.len(), 1, "the added member is found");
        line("delta check, one member added", took, &since(&before, &c.stats()), &changed.kind, &report);
        emu.shutdown().await;
    });
}
