//! The emulator in its own process (`pamform emulator serve` on 127.0.0.1), so that a
//! benchmark's memory figure is the client's alone, as it is against Microsoft, and the
//! emulator's is read apart from it; its `/_emulator/` endpoints set latencies and count the
//! requests a command sent.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use pamform::emulator::{Counters, Faults, Seed};
use pamform::tenant::{Client, ClientOptions};

pub struct Served {
    child: Child,
    pub base_url: String,
    pub tenant: String,
    pub client_id: String,
    secret: String,
    _seed_file: tempfile::NamedTempFile,
}

impl Served {
    /// Serves `seed` with the given `emulator serve` fault flags (e.g. latencies).
    pub fn start(seed: &Seed, flags: &[String]) -> Served {
        let (client_id, secret) = seed.app_secret().expect("the seed has an app with a secret");
        let seed_file = tempfile::NamedTempFile::new().expect("temp file");
        let mut writer = std::io::BufWriter::new(seed_file.as_file());
        serde_json::to_writer(&mut writer, seed).expect("seed written");
        writer.flush().expect("seed written");
        drop(writer);
        let child = Command::new(env!("CARGO_BIN_EXE_pamform"))
            .args(["--quiet", "emulator", "serve", "--listen", "127.0.0.1:0", "--seed"])
            .arg(seed_file.path())
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pamform emulator serve starts");
        // Owned by `Served` from here on, so a failed start below still stops the process.
        let mut served = Served {
            child,
            base_url: String::new(),
            tenant: String::new(),
            client_id,
            secret,
            _seed_file: seed_file,
        };
        let stdout = served.child.stdout.take().expect("stdout");
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("emulator output");
            if let Some(v) = line.strip_prefix("base_url: ") {
                served.base_url = v.to_string();
            } else if let Some(v) = line.strip_prefix("tenant: ") {
                served.tenant = v.split_whitespace().next().unwrap_or_default().to_string();
            } else if line.starts_with("client_id: ") {
                break;
            }
        }
        assert!(
            !served.base_url.is_empty() && !served.tenant.is_empty(),
            "the emulator stopped before printing its base_url and tenant"
        );
        served
    }

    /// A client signed in as the seed's app.
    pub fn client(&self, options: ClientOptions) -> Client {
        super::tenant::client_at(&self.base_url, &self.tenant, &self.client_id, &self.secret, options)
    }

    /// The seeded app's credentials, as `pamform` reads them from the environment.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [("PAMFORM_CLIENT_ID", self.client_id.clone()), ("PAMFORM_CLIENT_SECRET", self.secret.clone())]
    }

    /// One call to the emulator's own endpoints (`/_emulator/...`), from outside any runtime.
    fn control(&self, method: reqwest::Method, path: &str, body: Option<String>) -> String {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut req =
                reqwest::Client::new().request(method, format!("{}/_emulator/{path}", self.base_url));
            if let Some(body) = body {
                req = req.header("content-type", "application/json").body(body);
            }
            let answer = req.send().await.expect("the emulator answers");
            assert!(answer.status().is_success(), "/_emulator/{path}: {}", answer.status());
            answer.text().await.expect("the emulator answers")
        })
    }

    /// Sets the per-request latencies of Exchange and Graph, other faults unchanged.
    pub fn set_latency(&self, exchange_ms: u64, graph_ms: u64) {
        let mut faults: Faults =
            serde_json::from_str(&self.control(reqwest::Method::GET, "faults", None)).expect("faults");
        faults.exchange_latency_ms = exchange_ms;
        faults.graph_latency_ms = graph_ms;
        let body = serde_json::to_string(&faults).expect("faults");
        self.control(reqwest::Method::PUT, "faults", Some(body));
    }

    /// The requests counted since start or the last [`Served::clear_counters`].
    pub fn counters(&self) -> Counters {
        serde_json::from_str(&self.control(reqwest::Method::GET, "counters", None)).expect("counters")
    }

    pub fn clear_counters(&self) {
        self.control(reqwest::Method::DELETE, "counters", None);
    }

    /// The emulator process's peak resident memory.
    pub fn peak_memory(&self) -> String {
        super::memory::peak_of(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
