//! The commands as users run them: a configuration directory made by `pamform export` from
//! the served emulator and brought under management by `pamform apply` (imports only), so
//! that it names every member of every group as a real configuration of the tenant does;
//! then `pamform plan` or `pamform drift` run as processes (configuration load, sign-in,
//! refresh, cache read and write included), timed, their peak memory sampled from
//! `/proc/<pid>/status`, and the requests they sent read from the emulator's counters.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pamform::emulator::Counters;

use super::served::Served;

/// A configuration directory under management.
pub struct Workspace {
    dir: tempfile::TempDir,
    env: [(&'static str, String); 2],
}

/// Requests one command sent, by service, and how many the emulator throttled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requests {
    pub login: u64,
    pub exchange: u64,
    pub graph: u64,
    /// Answers that told the client to back off (429, concurrency message, inner 429s).
    pub throttled: u64,
    /// Graph requests refused because the modelled throttling budget was spent.
    pub graph_budget_throttled: u64,
    /// Resource units Graph charged against that budget.
    pub graph_resource_units: u64,
}

impl Requests {
    fn of(c: &Counters) -> Requests {
        let count =
            |f: &dyn Fn(&str) -> bool| c.per_endpoint.iter().filter(|(k, _)| f(k)).map(|(_, n)| n).sum();
        Requests {
            login: count(&|k| k == "token"),
            exchange: count(&|k| k == "InvokeCommand"),
            graph: count(&|k| k.starts_with("graph ")),
            throttled: c.throttled,
            graph_budget_throttled: c.graph_budget_throttled,
            graph_resource_units: c.graph_resource_units,
        }
    }
}

/// One run of a command.
pub struct Run {
    pub took: Duration,
    /// Peak resident memory (`VmHWM`) of the pamform process, in kB, as last sampled.
    pub peak_kb: Option<u64>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub requests: Requests,
}

impl Run {
    pub fn peak(&self) -> String {
        self.peak_kb.map_or_else(|| "unknown".to_string(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
    }
}

impl Workspace {
    /// Exports the served tenant into a new directory and applies the imports, so that a
    /// plan of it is empty.
    pub fn adopt(served: &Served) -> Workspace {
        let ws = Workspace { dir: tempfile::tempdir().expect("temporary directory"), env: served.env() };
        let base = served.base_url.as_str();
        let export = ws.output(&[
            "export",
            "--tenant",
            &served.tenant,
            "--exchange-url",
            base,
            "--graph-url",
            base,
            "--login-url",
            base,
        ]);
        assert_eq!(export.0, 0, "pamform export failed: {}", export.2);
        let apply = ws.output(&["apply", "--auto-approve"]);
        assert_eq!(apply.0, 0, "pamform apply (imports) failed: {}{}", apply.1, apply.2);
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pamform"));
        cmd.arg("-C").arg(self.dir.path()).arg("-q").args(args);
        cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn output(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().expect("pamform runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `pamform ARGS` in the directory, timing it, sampling its peak memory and
    /// counting the requests the emulator saw meanwhile.
    pub fn run(&self, served: &Served, args: &[&str]) -> Run {
        served.clear_counters();
        let t = Instant::now();
        let mut child =
            self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("pamform starts");
        let status_path = format!("/proc/{}/status", child.id());
        // The output is read on threads so that a full pipe never stops the process.
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || read_all(&mut stdout));
        let err = std::thread::spawn(move || read_all(&mut stderr));
        let mut peak_kb = None;
        let status = loop {
            if let Some(kb) = super::memory::peak_kb_of(&status_path) {
                peak_kb = Some(kb);
            }
            if let Some(status) = child.try_wait().expect("pamform runs") {
                break status;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let took = t.elapsed();
        let requests = Requests::of(&served.counters());
        Run {
            took,
            peak_kb,
            code: status.code().unwrap_or(-1),
            stdout: out.join().expect("stdout"),
            stderr: err.join().expect("stderr"),
            requests,
        }
    }
}

fn read_all(r: &mut impl std::io::Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// The benchmark tenant of `scale`, served and adopted into a workspace (exported and imported
/// without latency), then given its latencies; says which tenant on stdout.
#[allow(clippy::print_stdout)]
pub fn adopted_tenant(scale: super::tenant::Scale, exchange_ms: u64, graph_ms: u64) -> (Served, Workspace) {
    println!(
        "tenant: {} users, {} groups x {} members, {} policies; Exchange {exchange_ms} ms, Graph {graph_ms} ms",
        scale.users,
        scale.groups,
        scale.members,
        super::tenant::POLICIES
    );
    let served = Served::start(&super::tenant::seed_at(scale), &[]);
    let ws = Workspace::adopt(&served);
    served.set_latency(exchange_ms, graph_ms);
    (served, ws)
}

pub fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The lower bound of a refresh of `groups` groups of `members` members: the Exchange reads
/// the command needs (`exchange` requests, `exchange_depth` of them one after another), and
/// Graph's group lookups then member pages, in `$batch`es of 20, at the services' latencies
/// and concurrency limits.
pub struct Bound {
    pub exchange_ms: u64,
    pub exchange_concurrency: usize,
    pub exchange_depth: u64,
    pub graph_ms: u64,
    pub graph_concurrency: usize,
    pub graph_page: usize,
    pub batch: usize,
}

impl Bound {
    /// The minimum Graph requests, the bound, and how it was reached.
    pub fn of(&self, groups: usize, members: usize, exchange: u64) -> (u64, Duration, String) {
        let pages = members.div_ceil(self.graph_page).max(1) as u64;
        let per_round = groups.div_ceil(self.batch) as u64;
        // One round of lookups, then one round per page of the largest group.
        let graph_requests = per_round * (1 + pages);
        let exchange_chain = self.exchange_depth * self.exchange_ms;
        let graph_chain = (1 + pages) * self.graph_ms;
        let exchange_work = exchange.div_ceil(self.exchange_concurrency as u64) * self.exchange_ms;
        let graph_work = per_round.div_ceil(self.graph_concurrency as u64) * (1 + pages) * self.graph_ms;
        let bound = exchange_chain.max(graph_chain).max(exchange_work).max(graph_work);
        let why = format!(
            "exchange chain {exchange_chain} ms, graph chain {graph_chain} ms, exchange {exchange} calls / {} = {exchange_work} ms, graph {graph_requests} calls / {} per round = {graph_work} ms",
            self.exchange_concurrency, self.graph_concurrency
        );
        (graph_requests, Duration::from_millis(bound), why)
    }
}
