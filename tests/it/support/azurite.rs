//! Azurite, Microsoft's Azure Storage emulator, for the remote state tests: each test starts
//! its own Blob service on 127.0.0.1 (a free port, data in a temporary directory so that a
//! restart keeps it) and stops it when dropped.
//!
//! The Azurite program comes from `PAMFORM_AZURITE` (the `azurite-blob` script; `.ci/run`
//! installs the pinned package from `.ci/azurite/` with `npm ci` and sets it), or else is
//! installed once with `npm ci` into `target/azurite/`, under a file lock so that parallel
//! tests install it once. A machine without Node.js fails these tests with that reason.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

use pamform::state::Storage;
use pamform::state::blob::{BlobAuth, BlobLocation, BlobStore};
use pamform::state::lock::LockInfo;
use pamform::wire::blob::{self as wire, DEV_ACCOUNT, DEV_ACCOUNT_KEY};

use crate::support::cli::{QUICKSTART, Run, Tenant, Workspace};

/// Where the pinned package is described.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/azurite")
}

/// The `azurite-blob` script, installed once if need be.
fn program() -> PathBuf {
    #[allow(clippy::disallowed_methods)] // tests read their own settings
    if let Some(p) = std::env::var_os("PAMFORM_AZURITE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/azurite");
    std::fs::create_dir_all(&target).unwrap();
    let lock = std::fs::File::create(target.join(".lock")).unwrap();
    lock.lock().unwrap();
    let bin = target.join("node_modules/.bin/azurite-blob");
    let lockfile = std::fs::read(package_dir().join("package-lock.json")).unwrap();
    let installed = std::fs::read(target.join("package-lock.json")).ok();
    if !bin.exists() || installed.as_deref() != Some(&lockfile[..]) {
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(package_dir().join(f), target.join(f)).unwrap();
        }
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&target)
            .status()
            .expect("npm runs (the remote state tests need Node.js and npm, or PAMFORM_AZURITE)");
        assert!(status.success(), "npm ci of .ci/azurite failed");
    }
    drop(lock);
    bin
}

/// A running Azurite Blob service.
pub struct Azurite {
    child: Option<Child>,
    data: tempfile::TempDir,
    pub port: u16,
}

impl Azurite {
    pub fn start() -> Azurite {
        let data = tempfile::tempdir().unwrap();
        let (child, port) = spawn(data.path(), 0);
        Azurite { child: Some(child), data, port }
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{DEV_ACCOUNT}", self.port)
    }

    /// Stops the service at once (SIGKILL): requests in flight fail.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        let (child, _) = spawn(self.data.path(), self.port);
        self.child = Some(child);
    }

    /// The `backend` block for blob `key` in container `state`.
    pub fn backend_block(&self, key: &str) -> String {
        format!(
            "backend \"azurerm\" {{\n  storage_account_name = \"{DEV_ACCOUNT}\"\n  container_name = \"state\"\n  key = \"{key}\"\n  endpoint = \"{}\"\n}}\n",
            self.endpoint()
        )
    }

    /// The quickstart with its state in this service, in blob `key`.
    pub fn workspace(&self, tenant: &Tenant, key: &str) -> Workspace {
        Workspace::new(tenant, &format!("{QUICKSTART}\n{}", self.backend_block(key)))
    }

    /// Spawns `pamform apply` (output captured) with Exchange answering after `latency_ms`,
    /// and waits until it holds the lease of blob `key`.
    pub fn slow_apply(
        &self,
        tenant: &Tenant,
        ws: &Workspace,
        key: &str,
        latency_ms: u64,
    ) -> (Child, LockInfo) {
        tenant.set_faults(serde_json::json!({ "exchange_latency_ms": latency_ms }));
        self.hold_lease(command(ws, &["apply", "--auto-approve"]), key)
    }

    /// Spawns `cmd` (output captured), a command that takes the lease of blob `key` and holds
    /// it a while, and waits until it holds it.
    #[allow(clippy::zombie_processes)]
    pub fn hold_lease(&self, mut cmd: Command, key: &str) -> (Child, LockInfo) {
        // The container exists before the command starts, not while it runs.
        let store = self.store(key);
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let start = Instant::now();
        loop {
            if let Some(info) = store.holder().unwrap().filter(|i| !i.id.is_empty()) {
                return (child, info);
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{:?} never took the lease of {key}", cmd.get_args().collect::<Vec<_>>());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The names of the blobs in container `state` (not their snapshots), in the service's
    /// order (by name).
    pub fn blob_names(&self) -> Vec<String> {
        let url = format!("{}/state?{}&comp=list&{}", self.endpoint(), wire::Q_CONTAINER, account_sas());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, body) = rt.block_on(async {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let r = http.get(url).header(wire::H_VERSION, wire::VERSION).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        });
        assert!(status.is_success(), "List Blobs: {status}: {body}");
        let doc = roxmltree::Document::parse(body.trim_start_matches('\u{feff}')).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("Blob"))
            .filter_map(|b| b.children().find(|n| n.has_tag_name("Name")).and_then(|n| n.text()))
            .map(str::to_string)
            .collect()
    }

    /// A client of blob `key` (the container created).
    pub fn store(&self, key: &str) -> BlobStore {
        let location = BlobLocation {
            endpoint: self.endpoint(),
            account: DEV_ACCOUNT.into(),
            container: "state".into(),
            key: key.into(),
        };
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let store = BlobStore::new(location, BlobAuth::shared_key(DEV_ACCOUNT_KEY).unwrap(), http).unwrap();
        store.create_container().unwrap();
        store
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns azurite-blob on `port` (0: a free one) and waits for the port it listens on.
fn spawn(data: &Path, port: u16) -> (Child, u16) {
    let mut child = Command::new(program())
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
        .arg(data)
        .args(["--skipApiVersionCheck", "--disableTelemetry", "--disableProductStyleUrl", "--silent"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("azurite-blob starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let port = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("azurite-blob stopped before listening: {seen:?}");
        };
        if let Some(rest) = line.split("listens on http://127.0.0.1:").nth(1) {
            break rest.trim().trim_end_matches('/').parse::<u16>().expect("a port");
        }
        seen.push(line);
    };
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// `pamform ARGS` in `ws`, its Blob requests signed with the account key.
pub fn command(ws: &Workspace, args: &[&str]) -> Command {
    let mut cmd = ws.command(args);
    cmd.env("ARM_ACCESS_KEY", DEV_ACCOUNT_KEY).env_remove("ARM_SAS_TOKEN");
    cmd
}

/// Runs [`command`] to its end.
pub fn run(ws: &Workspace, args: &[&str]) -> Run {
    Run::from(command(ws, args).output().expect("pamform runs"))
}

/// An account SAS for Azurite's development account: blob service, every resource type, the
/// permissions the backend uses. String-to-sign of version 2020-12-06 and later:
/// <https://learn.microsoft.com/rest/api/storageservices/create-account-sas#version-2020-12-06-and-later>
pub fn account_sas() -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (sp, ss, srt, se, spr, sv) =
        ("rwdlacu", "b", "sco", "2099-01-01T00:00:00Z", "https,http", "2021-12-02");
    let to_sign = format!("devstoreaccount1\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n\n");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &b64.decode(DEV_ACCOUNT_KEY).unwrap());
    let sig = b64.encode(ring::hmac::sign(&key, to_sign.as_bytes()));
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={}&spr={}&sig={}", enc(se), enc(spr), enc(&sig))
}
