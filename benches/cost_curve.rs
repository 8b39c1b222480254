//! The cost curve of `pamform plan`: the whole command (its own process) against `pamform
//! emulator serve` with Exchange at 300 ms and Graph at 50 ms per request, for 1, 5, 15 and
//! 31 approver groups of 500, 2,000 and 5,000 members, each configuration being the tenant's
//! own export (every member named, an empty plan). Prints one table row per size: the best of
//! two plans, its Exchange and Graph requests, the requests the emulator throttled, peak
//! memory, and the lower bound from the minimum reads. A separate target, as it starts twelve tenants:
//! `cargo bench --bench cost_curve`.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

mod support;

use support::cli::{Bound, Workspace};
use support::served::Served;
use support::tenant::{Scale, latency, quick, seed_at};

const EXCHANGE_MS: u64 = 300;
const GRAPH_MS: u64 = 50;
const GROUPS: [usize; 4] = [1, 5, 15, 31];
const MEMBERS: [usize; 3] = [500, 2_000, 5_000];
const STRIDE: usize = 250;

#[allow(clippy::print_stdout)]
fn main() {
    let (groups, members): (&[usize], &[usize]) = if quick() {
        println!("quick mode: tiny tenants without latency; the figures mean nothing");
        (&[1, 5], &[20])
    } else {
        (&GROUPS, &MEMBERS)
    };
    let (exchange_ms, graph_ms) = (latency(EXCHANGE_MS), latency(GRAPH_MS));
    println!("Exchange {exchange_ms} ms, Graph {graph_ms} ms per request; the best of two plans");
    println!();
    println!(
        "| groups × members | plan | lower bound | Exchange requests | Graph requests | throttled | peak memory |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &m in members {
        for &g in groups {
            let scale = Scale { users: 10_000.max(2 * m), groups: g, members: m, stride: STRIDE };
            let served = Served::start(&seed_at(scale), &[]);
            let ws = Workspace::adopt(&served);
            served.set_latency(exchange_ms, graph_ms);
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    let r = ws.run(&served, &["plan", "--detailed-exitcode"]);
                    assert_eq!(
                        r.code, 0,
                        "the plan of the exported tenant is not empty:\n{}{}",
                        r.stdout, r.stderr
                    );
                    r
                })
                .collect();
            let best = runs.iter().min_by_key(|r| r.took).expect("two runs");
            let bound = Bound {
                exchange_ms,
                exchange_concurrency: 3,
                exchange_depth: 2,
                graph_ms,
                graph_concurrency: 16,
                graph_page: 999,
                batch: 20,
            };
            let (_, bound_took, _) = bound.of(g, m, best.requests.exchange);
            println!(
                "| {g} × {m} | {:.2} s | {:.2} s | {} | {} | {} | {} |",
                best.took.as_secs_f64(),
                bound_took.as_secs_f64(),
                best.requests.exchange,
                best.requests.graph,
                best.requests.throttled,
                best.peak()
            );
        }
    }
}
