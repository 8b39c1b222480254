//! Export benchmark against the emulator on 127.0.0.1 with Exchange at 300 ms and Graph at
//! 50 ms per request, on the large benchmark tenant (10,000 users, 31 approver groups of
//! 2,000 members, 30 policies). Prints the time of export's refresh and of building the
//! files, then of the whole `pamform export` command (sign-in, refresh, files written).

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use pamform::emulator::{self, EmulatorConfig, Faults};
use pamform::tenant::{ClientOptions, RefreshRequest};

mod support;

use support::tenant::{DOMAIN, GROUPS, POLICIES, latency, quick, scale, seed};

const EXCHANGE_MS: u64 = 300;
const GRAPH_MS: u64 = 50;

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

#[allow(clippy::print_stdout)]
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let faults = Faults {
        exchange_latency_ms: latency(EXCHANGE_MS),
        graph_latency_ms: latency(GRAPH_MS),
        ..Faults::default()
    };
    let emu = rt
        .block_on(emulator::start(EmulatorConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data: None,
            seed: Some(seed()),
            faults,
            tls: false,
        }))
        .expect("emulator");
    let scale = scale();
    if quick() {
        println!("quick mode: a tiny tenant without latency; the figures mean nothing");
    }
    println!(
        "tenant: {} users, {GROUPS} groups x {} members, {POLICIES} policies; Exchange {} ms, Graph {} ms",
        scale.users,
        scale.members,
        latency(EXCHANGE_MS),
        latency(GRAPH_MS)
    );

    // The library path: the refresh export makes (nothing requested: PAM, policies and the
    // groups they name), then building and formatting the files.
    let client = support::tenant::client(&emu, ClientOptions::default());
    for run in 1..=2 {
        let t = Instant::now();
        let snapshot = rt.block_on(client.refresh(&RefreshRequest::default())).expect("refresh");
        let refreshed = t.elapsed();
        let t = Instant::now();
        let export = pamform::export::export(&snapshot, None, DOMAIN);
        let built = t.elapsed();
        assert_eq!(export.groups, GROUPS);
        assert_eq!(export.policies, POLICIES);
        let bytes: usize = export.files.iter().map(|f| f.text.len()).sum();
        println!(
            "run {run}{}: refresh {}, build and format {} ({} files, {} KiB)",
            if run == 1 { " (cold: signs in)" } else { " (warm)" },
            ms(refreshed),
            ms(built),
            export.files.len(),
            bytes / 1024
        );
    }

    // The command as users run it.
    let out = tempfile::tempdir().expect("temporary directory");
    let t = Instant::now();
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_pamform"))
        .arg("-C")
        .arg(out.path())
        .args(["-q", "export", "--tenant", DOMAIN])
        .args(["--exchange-url", &emu.base_url, "--graph-url", &emu.base_url, "--login-url", &emu.base_url])
        .env("PAMFORM_CLIENT_ID", &emu.app.client_id)
        .env("PAMFORM_CLIENT_SECRET", &emu.app.client_secret)
        .env("NO_COLOR", "1")
        .output()
        .expect("pamform runs");
    let took = t.elapsed();
    assert!(result.status.success(), "export failed: {}", String::from_utf8_lossy(&result.stderr));
    println!("pamform export (whole command: start, sign-in, refresh, write): {}", ms(took));
    rt.block_on(emu.shutdown());
}
