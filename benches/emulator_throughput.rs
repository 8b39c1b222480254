//! Throughput of the emulator on loopback without latency: simple Exchange and Graph reads
//! from concurrent clients. Prints requests per second (goal: at least 5,000).

// Printing the figure is what a benchmark is for.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use pamform::emulator::{self, EmulatorConfig, Faults};
use pamform::wire::{exchange, oauth};
use serde_json::json;

const CLIENTS: usize = 32;
const PER_CLIENT: usize = 500;

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
    r["access_token"].as_str().unwrap_or_default().to_string()
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

async fn run(
    label: &str,
    http: &reqwest::Client,
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
) {
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let reqs: Vec<reqwest::RequestBuilder> = (0..PER_CLIENT).map(|_| make(http)).collect();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for r in reqs {
                if let Ok(resp) = r.send().await
                    && resp.status().is_success()
                {
                    let _ = resp.bytes().await;
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap_or(0);
    }
    let secs = start.elapsed().as_secs_f64();
    let total = CLIENTS * PER_CLIENT;
    println!("{label}: {total} requests ({ok} ok) in {secs:.2} s = {:.0} requests/s", total as f64 / secs);
    // On a shared machine the wall-clock figure depends on other load; the CPU cost per
    // request says what one core sustains when the emulator has it.
    if let (Some(a), Some(b)) = (cpu_start, cpu_seconds())
        && b > a
    {
        println!(
            "{label}: {:.0} requests per CPU second (client and server in one process)",
            total as f64 / (b - a)
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
            faults: Faults::default(),
            tls: false,
        };
        let emu = emulator::start(cfg).await.expect("emulator starts");
        let base = emu.base_url.clone();
        let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().expect("client");
        let (id, secret) = (emu.app.client_id.clone(), emu.app.client_secret.clone());
        let ex = token(&http, &base, &id, &secret, oauth::EXCHANGE_RESOURCE).await;
        let gr = token(&http, &base, &id, &secret, oauth::GRAPH_RESOURCE).await;
        let body = json!({"CmdletInput": {"CmdletName": "Get-OrganizationConfig"}}).to_string();
        let url = format!("{base}{}", exchange::invoke_command_path("contoso.onmicrosoft.com"));
        run("exchange Get-OrganizationConfig", &http, |h| {
            h.post(&url).bearer_auth(&ex).header("content-type", "application/json").body(body.clone())
        })
        .await;
        let user = format!("{base}/v1.0/users/alice@contoso.onmicrosoft.com");
        run("graph GET /users/{upn}", &http, |h| h.get(&user).bearer_auth(&gr)).await;
        emu.shutdown().await;
    });
}
