//! End-to-end harness: a real emulator on 127.0.0.1 (in this test process, on its own
//! runtime) and the real `pamform` binary run against it from a temporary configuration
//! directory. Out-of-band changes go through the emulator's Exchange admin API, signed in as
//! the seeded app, the way an admin with PowerShell would make them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pamform::emulator::{self, Faults, RunningEmulator, Seed};
use pamform::state::{State, StateStore};
use pamform::wire::{exchange, oauth};
use serde_json::{Value, json};

use super::{DOMAIN, emulator_config, pamform};

/// A running emulated tenant.
pub struct Tenant {
    rt: tokio::runtime::Runtime,
    emu: Option<RunningEmulator>,
    pub base_url: String,
    pub client_id: String,
    client_secret: String,
    http: reqwest::Client,
}

impl Tenant {
    pub fn start() -> Tenant {
        Tenant::start_with(None, Faults::default())
    }

    pub fn start_with(seed: Option<Seed>, faults: Faults) -> Tenant {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        // `pamform login` polls once a second here, not every 5 s as against the service.
        let faults = Faults { device_code_interval_secs: 1, ..faults };
        let emu = rt.block_on(emulator::start(emulator_config(seed, faults))).expect("emulator starts");
        Tenant {
            base_url: emu.base_url.clone(),
            client_id: emu.app.client_id.clone(),
            client_secret: emu.app.client_secret.clone(),
            emu: Some(emu),
            rt,
            http: reqwest::Client::new(),
        }
    }

    /// The `tenant` block that points pamform at this emulator.
    pub fn tenant_block(&self) -> String {
        format!(
            "tenant {{\n  id           = \"{DOMAIN}\"\n  exchange_url = \"{u}\"\n  graph_url    = \"{u}\"\n  login_url    = \"{u}\"\n}}\n",
            u = self.base_url
        )
    }

    /// Environment for the binary: the seeded app's credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PAMFORM_CLIENT_ID", self.client_id.clone()),
            ("PAMFORM_CLIENT_SECRET", self.client_secret.clone()),
        ]
    }

    pub fn secret(&self) -> &str {
        &self.client_secret
    }

    fn token(&self, resource: &str) -> String {
        let url = format!("{}{}", self.base_url, oauth::token_path(DOMAIN));
        let form = [
            ("grant_type", oauth::GRANT_CLIENT_CREDENTIALS.to_string()),
            ("client_id", self.client_id.clone()),
            ("client_secret", self.client_secret.clone()),
            ("scope", oauth::default_scope(resource)),
        ];
        self.rt.block_on(async {
            let r: Value = self.http.post(url).form(&form).send().await.unwrap().json().await.unwrap();
            r["access_token"].as_str().expect("token").to_string()
        })
    }

    /// Runs a cmdlet out of band; returns the status and the body.
    pub fn try_invoke(&self, cmdlet: &str, params: Value) -> (u16, Value) {
        let token = self.token(oauth::EXCHANGE_RESOURCE);
        self.post_cmdlet(&token, exchange::anchor_mailbox_app(DOMAIN), cmdlet, params)
    }

    /// Runs a cmdlet as a signed-in user with that user's access token; returns the status
    /// and the body.
    pub fn try_invoke_as(&self, token: &str, upn: &str, cmdlet: &str, params: Value) -> (u16, Value) {
        self.post_cmdlet(token, exchange::anchor_mailbox_user(upn), cmdlet, params)
    }

    fn post_cmdlet(&self, token: &str, anchor: String, cmdlet: &str, params: Value) -> (u16, Value) {
        let url = format!("{}{}", self.base_url, exchange::invoke_command_path(DOMAIN));
        let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});
        self.rt.block_on(async {
            let r = self
                .http
                .post(url)
                .bearer_auth(token)
                .header(exchange::HEADER_ANCHOR_MAILBOX, anchor)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let bytes = r.bytes().await.unwrap();
            (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        })
    }

    /// Completes a device-code sign-in as `user`, as the user would in a browser.
    pub fn approve_device_code(&self, user_code: &str, user: &str) {
        self.control(
            reqwest::Method::POST,
            "devicecode/approve",
            Some(json!({"user_code": user_code, "user": user})),
        );
    }

    /// Runs a cmdlet out of band and returns its `value`; panics on failure.
    pub fn invoke(&self, cmdlet: &str, params: Value) -> Vec<Value> {
        let (status, body) = self.try_invoke(cmdlet, params.clone());
        assert_eq!(status, 200, "{cmdlet} {params} failed: {body}");
        body["value"].as_array().cloned().unwrap_or_default()
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        control(&self.rt, &self.http, method, format!("{}/_emulator/{path}", self.base_url), body)
    }

    /// Request counters (per cmdlet and endpoint, statuses, peak concurrency).
    pub fn counters(&self) -> Value {
        self.control(reqwest::Method::GET, "counters", None)
    }

    pub fn set_faults(&self, faults: Value) {
        self.control(reqwest::Method::PUT, "faults", Some(faults));
    }

    pub fn advance_clock(&self, seconds: u64) {
        self.control(reqwest::Method::POST, "clock/advance", Some(json!({ "seconds": seconds })));
    }

    /// Successful writes (cmdlets that changed the tenant) so far.
    pub fn write_count(&self) -> u64 {
        self.counters()["writes"].as_u64().unwrap_or(0)
    }

    pub fn policies(&self) -> Vec<Value> {
        self.invoke(exchange::cmdlet::GET_POLICY, json!({}))
    }

    pub fn group_members(&self, email: &str) -> Vec<String> {
        let mut m: Vec<String> = self
            .invoke(exchange::cmdlet::GET_GROUP_MEMBER, json!({"Identity": email, "ResultSize": "Unlimited"}))
            .iter()
            .filter_map(|r| r["PrimarySmtpAddress"].as_str().map(str::to_lowercase))
            .collect();
        m.sort();
        m
    }

    pub fn org_config(&self) -> Value {
        self.invoke(exchange::cmdlet::GET_ORGANIZATION_CONFIG, json!({})).remove(0)
    }
}

/// A request to an emulator's control endpoint `url` (under `/_emulator/`), which must
/// succeed; its JSON answer (null when it has none).
pub fn control(
    rt: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    rt.block_on(async {
        let mut req = http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    })
}

impl Drop for Tenant {
    fn drop(&mut self) {
        if let Some(emu) = self.emu.take() {
            self.rt.block_on(emu.shutdown());
        }
    }
}

/// A configuration directory.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Workspace {
    /// A directory with `main.pam.hcl` = the tenant block + `hcl`.
    pub fn new(tenant: &Tenant, hcl: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace { dir, env: tenant.env() };
        ws.configure(tenant, hcl);
        ws
    }

    /// A directory already filled, run with `env`.
    pub fn with_env(dir: tempfile::TempDir, env: Vec<(&'static str, String)>) -> Workspace {
        Workspace { dir, env }
    }

    /// Replaces the configuration.
    pub fn configure(&self, tenant: &Tenant, hcl: &str) {
        self.write("main.pam.hcl", &format!("{}\n{hcl}", tenant.tenant_block()));
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.file(name), text).unwrap();
    }

    /// The command, ready to run (for callers that need to spawn and kill it).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = pamform();
        // Run from the directory too, as users and CI do: relative file arguments (plan files,
        // value files) are where the user typed them.
        cmd.current_dir(self.dir.path()).arg("-C").arg(self.dir.path()).args(args);
        cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("pamform runs");
        Run::from(out)
    }

    pub fn state(&self) -> Option<State> {
        StateStore::new(self.dir.path()).load().expect("state is readable")
    }
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The quickstart's configuration (its tenant block lives in another file).
pub const QUICKSTART: &str = include_str!("../../../examples/quickstart/main.pam.hcl");

/// Applies, then checks that the next plan is empty.
pub fn converged(ws: &Workspace) {
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

/// Policy identity by task, as the tenant has them.
pub fn policy_ids(tenant: &Tenant) -> BTreeMap<String, String> {
    tenant
        .policies()
        .iter()
        .map(|p| {
            let task = p["Task"].as_str().or(p["Role"].as_str()).unwrap_or_default().to_lowercase();
            (task, p["Identity"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// Addresses in state, with their ids.
pub fn state_ids(ws: &Workspace) -> BTreeMap<String, String> {
    ws.state().unwrap().resources.iter().map(|r| (r.address.to_string(), r.id.clone())).collect()
}

/// The position (line:col, 1-based) of `needle` in main.pam.hcl.
pub fn position(ws: &Workspace, needle: &str) -> String {
    let text = std::fs::read_to_string(ws.file("main.pam.hcl")).unwrap();
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle} not in the configuration"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!("main.pam.hcl:{line}:{col}")
}

/// Spawns a slow apply and waits until it holds the lock; the caller waits for the child.
#[allow(clippy::zombie_processes)]
pub fn hold_lock(tenant: &Tenant, ws: &Workspace) -> (std::process::Child, pamform::state::lock::LockInfo) {
    tenant.set_faults(json!({"exchange_latency_ms": 150}));
    let mut child = ws
        .command(&["apply", "--auto-approve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(info) = pamform::state::lock::holder(ws.path()).unwrap() {
            return (child, info);
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("apply never took the lock");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
