//! Throughput of the emulator on loopback without latency: simple Exchange and Graph reads
//! from concurrent clients. Prints successful requests per second (goal: at least 5,000);
//! failed requests are counted apart, never as throughput, and a run where a request fails
//! for any reason but the emulator's own throttling (429) stops with an error. In quick mode
//! (`PAMFORM_BENCH_QUICK=1`, as CI runs it) there are few requests and the figures mean
//! nothing.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]
// Printing the figure is what a benchmark is for.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Instant;

use pamform::emulator::{self, EmulatorConfig, Faults};
use pamform::wire::{exchange, oauth};
use serde_json::json;

const CLIENTS: usize = 32;
const PER_CLIENT: usize = 500;
const QUICK_CLIENTS: usize = 4;
const QUICK_PER_CLIENT: usize = 10;

/// Whether the benchmark runs in quick mode (`PAMFORM_BENCH_QUICK` set, and not to `0`).
fn quick() -> bool {
    std::env::var_os("PAMFORM_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str, resource: &str) -> String {
    let scope = oauth::default_scope(resource);
    let r: serde_json::Value = http
        .post(format!("{base}{}", oauth::token_path("contoso.onmicrosoft.com")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", &scope),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    match r["access_token"].as_str() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => panic!("no access token for {resource}: {r}"),
    }
}

/// CPU seconds this process has used (client and server together), from /proc on Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    // Clock ticks are 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

/// How a request ended: its status, or `None` when no response came.
type Outcomes = BTreeMap<Option<u16>, usize>;

async fn run(
    label: &str,
    http: &reqwest::Client,
    (clients, per_client): (usize, usize),
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) {
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let reqs: Vec<reqwest::RequestBuilder> = (0..per_client).map(|_| make(http)).collect();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Outcomes::new();
            for r in reqs {
                let status = match r.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        // A response whose body does not arrive whole is a failure too.
                        let whole = resp.bytes().await.is_ok();
                        whole.then_some(status)
                    }
                    Err(_) => None,
                };
                *outcomes.entry(status).or_default() += 1;
            }
            outcomes
        }));
    }
    let mut outcomes = Outcomes::new();
    for t in tasks {
        for (status, n) in t.await.expect("client task") {
            *outcomes.entry(status).or_default() += n;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = clients * per_client;
    let ok: usize =
        outcomes.iter().filter(|(s, _)| s.is_some_and(|s| (200..300).contains(&s))).map(|(_, n)| n).sum();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|(s, _)| !s.is_some_and(|s| (200..300).contains(&s)))
        .map(|(s, n)| format!("{n} x {}", s.map_or("no response".to_string(), |s| s.to_string())))
        .collect();
    println!(
        "{label}: {ok} of {total} requests ok in {secs:.2} s = {:.0} successful requests/s{}",
        ok as f64 / secs,
        if failed.is_empty() { String::new() } else { format!(" (failed: {})", failed.join(", ")) }
    );
    // Only throttling is an expected failure under load; anything else means the benchmark
    // measures errors, not work.
    let unexpected: usize =
        outcomes.iter().filter(|(s, _)| !matches!(s, Some(200..=299 | 429))).map(|(_, n)| n).sum();
    assert!(
        ok > 0 && unexpected == 0,
        "{label}: requests failed ({}): the benchmark is broken",
        failed.join(", ")
    );
    // On a shared machine the wall-clock figure depends on other load; the CPU cost per
    // request says what one core sustains when the emulator has it.
    if let (Some(a), Some(b)) = (cpu_start, cpu_seconds())
        && b > a
    {
        println!(
            "{label}: {:.0} successful requests per CPU second (client and server in one process)",
            ok as f64 / (b - a)
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let cfg = EmulatorConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            data: None,
            seed: None,
            // The emulator's own speed is measured here, not Graph's throttling budget, which
            // would refuse most of these reads.
            faults: Faults { graph_resource_unit_quota: Some(0), ..Faults::default() },
            tls: false,
        };
        let emu = emulator::start(cfg).await.expect("emulator starts");
        let base = emu.base_url.clone();
        let size = if quick() { (QUICK_CLIENTS, QUICK_PER_CLIENT) } else { (CLIENTS, PER_CLIENT) };
        if quick() {
            println!("quick mode: few requests; the figures mean nothing");
        }
        let http = reqwest::Client::builder().pool_max_idle_per_host(size.0).build().expect("client");
        let (id, secret) = (emu.app.client_id.clone(), emu.app.client_secret.clone());
        let ex = token(&http, &base, &id, &secret, oauth::EXCHANGE_RESOURCE).await;
        let gr = token(&http, &base, &id, &secret, oauth::GRAPH_RESOURCE).await;
        let body = json!({"CmdletInput": {"CmdletName": "Get-OrganizationConfig"}}).to_string();
        let url = format!("{base}{}", exchange::invoke_command_path("contoso.onmicrosoft.com"));
        run("exchange Get-OrganizationConfig", &http, size, |h| {
            h.post(&url).bearer_auth(&ex).header("content-type", "application/json").body(body.clone())
        })
        .await;
        let user = format!("{base}/v1.0/users/alice@contoso.onmicrosoft.com");
        run("graph GET /users/{upn}", &http, size, |h| h.get(&user).bearer_auth(&gr)).await;
        emu.shutdown().await;
    });
}
