//! Fleet benchmark: `pamform fleet drift` across 1,000 emulated tenants (each: one approver
//! group of 10 members, PAM on, 5 policies, applied by `pamform fleet apply` beforehand)
//! served by one `pamform emulator serve` in its own process, with Exchange answering in
//! 300 ms and Graph in 50 ms on every tenant. Printed: the wall time and peak memory (VmHWM)
//! of one pamform process checking every tenant (targets: under 60 s, under 1 GB), then the
//! same tenants split into 4 shards run as 4 processes at once and their reports merged.
//! Both checks read everything (`--no-cache`), as a first morning run does.
//! `PAMFORM_BENCH_QUICK=1`: a few tenants without latency, to check the benchmark runs.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pamform::emulator::tenancy::{self, Generate};
use serde_json::Value;

mod support;

use support::memory::peak_kb_of;
use support::tenant::{latency, quick};

const TENANTS: usize = 1000;
const QUICK_TENANTS: usize = 3;
const MEMBERS: usize = 10;
const POLICY_TASKS: &[&str] =
    &["Set-Mailbox", "Add-MailboxPermission", "Set-CASMailbox", "Set-JournalRule", "Set-TransportRule"];
const EXCHANGE_MS: u64 = 300;
const GRAPH_MS: u64 = 50;
const SHARDS: usize = 4;
/// Tenants at once: in the one process, and in each of the shard processes.
const PARALLELISM: usize = 64;
const SHARD_PARALLELISM: usize = 16;
const WALL_TARGET: Duration = Duration::from_secs(60);
const MEMORY_TARGET_KB: u64 = 1024 * 1024;
const APP_ID: &str = "5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11";
const APP_SECRET: &str = "emulator-secret-not-for-production";

fn pamform() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pamform"))
}

/// `pamform emulator serve` of the generated tenants; stopped when dropped.
struct Emulator {
    child: Child,
    base_url: String,
}

impl Emulator {
    fn start(seed_file: &Path) -> Emulator {
        let mut child = pamform()
            .args(["--quiet", "emulator", "serve", "--listen", "127.0.0.1:0", "--seed"])
            .arg(seed_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pamform emulator serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let base_url = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("base_url: ").map(str::to_string))
            .expect("the emulator prints its base_url");
        Emulator { child, base_url }
    }

    /// Sets the latencies of every tenant (other fault options as they are).
    fn set_latency(&self, exchange_ms: u64, graph_ms: u64) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let http = reqwest::Client::new();
            let mut faults: Value = http
                .get(format!("{}/_emulator/faults", self.base_url))
                .send()
                .await
                .expect("faults")
                .json()
                .await
                .expect("faults");
            faults["exchange_latency_ms"] = exchange_ms.into();
            faults["graph_latency_ms"] = graph_ms.into();
            let answer = http
                .put(format!("{}/_emulator/every-tenant/faults", self.base_url))
                .json(&faults)
                .send()
                .await
                .expect("the emulator answers");
            assert!(answer.status().is_success(), "every-tenant faults: {}", answer.status());
        });
    }

    fn peak(&self) -> String {
        support::memory::peak_of(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared baseline (one approver group of the tenant's members, PAM on, the policies)
/// and a fleet file of `n` tenants with their own members.
fn write_workspace(dir: &Path, base: &str, n: usize) {
    let mut hcl = format!(
        "tenant {{\n  id           = \"set per tenant\"\n  exchange_url = \"{base}\"\n  graph_url    = \"{base}\"\n  login_url    = \"{base}\"\n}}\n\n\
         variable \"domain\" {{\n  type = string\n}}\n\nvariable \"approvers\" {{\n  type = list(string)\n}}\n\n\
         approver_group \"main\" {{\n  name    = \"PAM Approvers\"\n  email   = \"pam-approvers@${{var.domain}}\"\n  members = var.approvers\n}}\n\n\
         privileged_access {{\n  enabled                = true\n  default_approver_group = approver_group.main\n  system_accounts        = [\"svc-pamform@${{var.domain}}\"]\n}}\n"
    );
    for task in POLICY_TASKS {
        let name = task.to_lowercase().replace('-', "_");
        hcl.push_str(&format!(
            "\naccess_policy \"{name}\" {{\n  task           = \"Exchange\\\\{task}\"\n  approver_group = approver_group.main\n}}\n"
        ));
    }
    std::fs::write(dir.join("main.pam.hcl"), hcl).expect("configuration written");
    let fleet: String = (1..=n)
        .map(|i| {
            let domain = tenancy::generated_tenant_domain(i);
            let members: Vec<String> = (1..=MEMBERS).map(|u| format!("\"user{u:03}@{domain}\"")).collect();
            format!(
                "tenant \"t{i:04}\" {{\n  id = \"{domain}\"\n  vars = {{\n    domain    = \"{domain}\"\n    approvers = [{}]\n  }}\n}}\n",
                members.join(", ")
            )
        })
        .collect();
    std::fs::write(dir.join("fleet.hcl"), fleet).expect("fleet written");
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = pamform();
    cmd.arg("-C").arg(dir).args(args).env("NO_COLOR", "1");
    cmd.env("PAMFORM_CLIENT_ID", APP_ID).env("PAMFORM_CLIENT_SECRET", APP_SECRET);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// A finished pamform process: exit code, stdout, peak memory in kB as last sampled.
struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
    peak_kb: Option<u64>,
}

/// A started process: its peak memory so far and the threads reading its stdout and stderr.
type Running = (Child, Option<u64>, std::thread::JoinHandle<String>, std::thread::JoinHandle<String>);

/// Runs the commands at once, sampling each one's peak memory; returns when all are done.
fn run_all(mut commands: Vec<Command>) -> (Duration, Vec<Finished>) {
    let started = Instant::now();
    let mut running: Vec<Running> = commands
        .iter_mut()
        .map(|c| {
            let mut child = c.spawn().expect("pamform starts");
            let mut out = child.stdout.take().expect("stdout");
            let mut err = child.stderr.take().expect("stderr");
            let read = |r: &mut dyn std::io::Read| {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            };
            let o = std::thread::spawn(move || read(&mut out));
            let e = std::thread::spawn(move || read(&mut err));
            (child, None, o, e)
        })
        .collect();
    let mut codes: Vec<Option<i32>> = vec![None; running.len()];
    while codes.iter().any(Option::is_none) {
        for (i, (child, peak, _, _)) in running.iter_mut().enumerate() {
            if codes[i].is_some() {
                continue;
            }
            if let Some(kb) = peak_kb_of(&format!("/proc/{}/status", child.id())) {
                *peak = Some(kb);
            }
            if let Some(status) = child.try_wait().expect("pamform runs") {
                codes[i] = Some(status.code().unwrap_or(-1));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    let finished = running
        .into_iter()
        .zip(codes)
        .map(|((_, peak_kb, o, e), code)| Finished {
            code: code.unwrap_or(-1),
            stdout: o.join().expect("stdout"),
            stderr: e.join().expect("stderr"),
            peak_kb,
        })
        .collect();
    (took, finished)
}

fn mb(kb: Option<u64>) -> String {
    kb.map_or_else(|| "unknown".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

/// Every tenant of a drift report is in sync.
fn all_in_sync(report: &Value, n: usize) {
    assert_eq!(report["totals"]["tenants"], n, "{report:#}");
    assert_eq!(report["totals"]["in_sync"], n, "every tenant in sync: {:#}", report["totals"]);
}

#[allow(clippy::print_stdout)]
fn main() {
    let n = if quick() {
        println!("quick mode: {QUICK_TENANTS} tenants without latency; the figures mean nothing");
        QUICK_TENANTS
    } else {
        TENANTS
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let seed_file = dir.path().join("seed.json");
    let seed = tenancy::generate(&Generate { tenants: n, users: 20, approver_members: 0, policies: 0 })
        .expect("seed generated");
    std::fs::write(&seed_file, serde_json::to_vec(&seed).expect("seed")).expect("seed written");
    drop(seed);
    let emulator = Emulator::start(&seed_file);
    let ws = dir.path().join("fleet");
    std::fs::create_dir(&ws).expect("workspace");
    write_workspace(&ws, &emulator.base_url, n);

    // Setup without latency: every tenant gets the baseline.
    let t = Instant::now();
    let (_, setup) = run_all(vec![command(
        &ws,
        &["fleet", "apply", "--auto-approve", "-q", "--parallelism", "32", "--json"],
    )]);
    assert_eq!(setup[0].code, 0, "fleet apply: {}{}", setup[0].stdout, setup[0].stderr);
    println!(
        "setup: {n} tenants applied in {:.1} s (no latency, not part of the figures)",
        t.elapsed().as_secs_f64()
    );

    let (exchange_ms, graph_ms) = (latency(EXCHANGE_MS), latency(GRAPH_MS));
    emulator.set_latency(exchange_ms, graph_ms);
    println!("latency: Exchange {exchange_ms} ms, Graph {graph_ms} ms per request, on every tenant");

    let parallelism = PARALLELISM.to_string();
    let (took, one) = run_all(vec![command(
        &ws,
        &["fleet", "drift", "--no-cache", "-q", "--json", "--parallelism", &parallelism],
    )]);
    let one = &one[0];
    assert_eq!(one.code, 0, "fleet drift: {}{}", one.stdout, one.stderr);
    all_in_sync(&serde_json::from_str(&one.stdout).expect("report"), n);
    println!(
        "one process, {n} tenants, --parallelism {PARALLELISM}: {:.1} s {} (target < {} s), peak memory {} {} (target < 1 GB)",
        took.as_secs_f64(),
        verdict(took < WALL_TARGET),
        WALL_TARGET.as_secs(),
        mb(one.peak_kb),
        verdict(one.peak_kb.is_some_and(|kb| kb < MEMORY_TARGET_KB)),
    );

    let shard_parallelism = SHARD_PARALLELISM.to_string();
    let reports: Vec<String> =
        (1..=SHARDS).map(|i| dir.path().join(format!("shard-{i}.json")).display().to_string()).collect();
    let commands = (1..=SHARDS)
        .map(|i| {
            let shard = format!("{i}/{SHARDS}");
            command(
                &ws,
                &[
                    "fleet",
                    "drift",
                    "--no-cache",
                    "-q",
                    "--shard",
                    &shard,
                    "--parallelism",
                    &shard_parallelism,
                    "--report",
                    &reports[i - 1],
                ],
            )
        })
        .collect();
    let (took, shards) = run_all(commands);
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s.code, 0, "shard {}: {}{}", i + 1, s.stdout, s.stderr);
    }
    let peaks: Vec<String> = shards.iter().map(|s| mb(s.peak_kb)).collect();
    let mut merge = command(&ws, &["fleet", "report", "merge", "--json"]);
    merge.args(&reports);
    let merged = merge.output().expect("merge runs");
    assert_eq!(merged.status.code(), Some(0), "{}", String::from_utf8_lossy(&merged.stderr));
    all_in_sync(&serde_json::from_slice(&merged.stdout).expect("merged report"), n);
    println!(
        "{SHARDS} shard processes at once, --parallelism {SHARD_PARALLELISM} each, merged: {:.1} s {}, peak memory per process {}",
        took.as_secs_f64(),
        verdict(took < WALL_TARGET),
        peaks.join(", ")
    );
    println!("emulator ({n} tenants) peak memory: {}", emulator.peak());
}
