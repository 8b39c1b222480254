//! Paths of the real binary that need a special network around it: an emulator served over
//! TLS and trusted through PAMFORM_CA_CERT, a proxy on loopback named by HTTPS_PROXY and
//! HTTP_PROXY (and skipped through NO_PROXY), and shell completions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::support::cli::{QUICKSTART, Run};
use crate::support::{APP_ID, APP_SECRET, DOMAIN, pamform};

/// Every proxy setting a child could inherit from the environment running the tests.
const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `pamform emulator serve --tls` as a child process, killed when dropped.
struct Served {
    child: Child,
    base_url: String,
    port: u16,
    ca_pem: PathBuf,
}

impl Served {
    fn start() -> Served {
        let mut child = pamform()
            .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--tls"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut base_url, mut ca_pem) = (None, None);
        while base_url.is_none() || ca_pem.is_none() {
            let line = lines.next().expect("the emulator prints where it serves").unwrap();
            if let Some(v) = line.strip_prefix("base_url: ") {
                base_url = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("ca_pem: ") {
                ca_pem = Some(PathBuf::from(v.trim()));
            }
        }
        let base_url = base_url.unwrap();
        assert!(base_url.starts_with("https://127.0.0.1:"), "{base_url}");
        let port = base_url.rsplit(':').next().unwrap().parse().unwrap();
        Served { child, base_url, port, ca_pem: ca_pem.unwrap() }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A configuration directory holding the quickstart with the given endpoints.
fn workspace(login: &str, exchange: &str, graph: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tenant = format!(
        "tenant {{\n  id           = \"{DOMAIN}\"\n  login_url    = \"{login}\"\n  exchange_url = \"{exchange}\"\n  graph_url    = \"{graph}\"\n}}\n"
    );
    std::fs::write(dir.path().join("main.pam.hcl"), format!("{tenant}\n{QUICKSTART}")).unwrap();
    dir
}

/// `pamform plan` in `dir` with the seeded app's credentials, no proxy or CA setting from the
/// outside, and `env` on top.
fn plan(dir: &Path, env: &[(&str, String)]) -> Run {
    let mut cmd = pamform();
    cmd.arg("-C").arg(dir).arg("plan");
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE").env_remove("PAMFORM_CA_CERT");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env("PAMFORM_CLIENT_ID", APP_ID).env("PAMFORM_CLIENT_SECRET", APP_SECRET);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().expect("pamform runs"))
}

/// An error message without the line wrapping of the terminal renderer: no whitespace, no
/// gutter.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start().trim_start_matches(['x', '|']).trim())
        .collect::<String>()
        .split_whitespace()
        .collect()
}

/// What a successful plan of the quickstart against the default tenant shows.
fn assert_planned(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("access_policy.set_mailbox"), "{}", run.all());
}

#[test]
fn plan_over_tls_needs_the_emulator_ca_from_pamform_ca_cert() {
    let emu = Served::start();
    let url = emu.base_url.clone();
    let dir = workspace(&url, &url, &url);

    // Without the CA the certificate is unknown: the error says so and what to check.
    let run = plan(dir.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = flat(&run.stderr);
    assert!(text.contains("invalidpeercertificate:UnknownIssuer"), "{}", run.all());
    assert!(text.contains("certificateisnottrusted:setPAMFORM_CA_CERT"), "{}", run.all());
    assert!(!run.stdout.contains("access_policy.set_mailbox"), "{}", run.all());

    // With it, the plan runs over TLS.
    let run = plan(dir.path(), &[("PAMFORM_CA_CERT", emu.ca_pem.display().to_string())]);
    assert_planned(&run);

    // A file that holds no certificate is refused with its path.
    let bogus = dir.path().join("not-a-cert.pem");
    std::fs::write(&bogus, "nothing here\n").unwrap();
    let run = plan(dir.path(), &[("PAMFORM_CA_CERT", bogus.display().to_string())]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = flat(&run.stderr);
    assert!(
        text.contains("PAMFORM_CA_CERT") && text.contains("not-a-cert.pem:noPEMcertificate"),
        "{}",
        run.all()
    );
}

/// What the proxy was asked for: the CONNECT targets and the absolute-form request lines.
#[derive(Default)]
struct Seen {
    connects: Vec<String>,
    forwards: Vec<String>,
    refused: Vec<String>,
}

/// A forward proxy on loopback. It tunnels CONNECT and forwards absolute-form requests, always
/// to the emulator on 127.0.0.1 (over TLS, trusting `ca_pem`, for absolute-form requests), and
/// refuses any target that is not the emulator's port on `127.0.0.1` or `localhost.`, so that
/// nothing leaves the machine.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Proxy {
    fn start(emulator_port: u16, ca_pem: &Path) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tls = Arc::new(tls_config(ca_pem));
        let shared = seen.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (seen, tls) = (shared.clone(), tls.clone());
                thread::spawn(move || serve_proxied(conn, emulator_port, &seen, &tls));
            }
        });
        Proxy { url, seen }
    }

    fn connects(&self) -> Vec<String> {
        self.seen.lock().unwrap().connects.clone()
    }

    fn forwards(&self) -> Vec<String> {
        self.seen.lock().unwrap().forwards.clone()
    }

    fn refused(&self) -> Vec<String> {
        self.seen.lock().unwrap().refused.clone()
    }
}

fn tls_config(ca_pem: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca_pem).unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Whether `authority` (host:port) is the emulator on loopback.
fn allowed(authority: &str, emulator_port: u16) -> bool {
    let Some((host, port)) = authority.rsplit_once(':') else { return false };
    port == emulator_port.to_string() && matches!(host, "127.0.0.1" | "localhost.")
}

/// Reads up to the end of the request head; `None` when the client closed first.
fn read_head(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

fn serve_proxied(
    mut conn: TcpStream,
    emulator_port: u16,
    seen: &Mutex<Seen>,
    tls: &Arc<rustls::ClientConfig>,
) {
    // One request per connection: CONNECT becomes a tunnel, and a forwarded request is
    // answered with `connection: close`.
    if let Some(head) = read_head(&mut conn) {
        let text = String::from_utf8_lossy(&head).into_owned();
        let first = text.lines().next().unwrap_or_default().to_string();
        let mut parts = first.split_whitespace();
        let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        if method == "CONNECT" {
            if !allowed(target, emulator_port) {
                seen.lock().unwrap().refused.push(first.clone());
                let _ = conn.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
                return;
            }
            seen.lock().unwrap().connects.push(target.to_string());
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", emulator_port)) else { return };
            let _ = conn.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n");
            tunnel(conn, upstream);
            return;
        }
        // Absolute form: http://host:port/path.
        let rest = target.strip_prefix("http://").unwrap_or_default();
        let (authority, path) =
            rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
        if !allowed(authority, emulator_port) {
            seen.lock().unwrap().refused.push(first.clone());
            let _ = conn.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
            return;
        }
        seen.lock().unwrap().forwards.push(first.clone());
        let mut length = 0usize;
        let mut out = format!("{method} {path} HTTP/1.1\r\n");
        for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
            let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
            if name == "content-length" {
                length = line.split(':').nth(1).unwrap_or_default().trim().parse().unwrap_or(0);
            }
            if matches!(name.as_str(), "connection" | "proxy-connection" | "keep-alive") {
                continue;
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        // As proxies do, it tells the server the scheme the client used (RFC 7239).
        out.push_str("forwarded: proto=http\r\n");
        out.push_str("connection: close\r\n\r\n");
        let mut body = vec![0u8; length];
        if conn.read_exact(&mut body).is_err() {
            return;
        }
        let Some(answer) = over_tls(tls, emulator_port, out.as_bytes(), &body) else { return };
        // The answer carries `connection: close`, so the client opens a new connection next.
        let _ = conn.write_all(&answer);
        let _ = conn.shutdown(Shutdown::Both);
    }
}

/// Sends one request to the emulator over TLS and reads the whole answer.
fn over_tls(tls: &Arc<rustls::ClientConfig>, port: u16, head: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let session = rustls::ClientConnection::new(tls.clone(), name).ok()?;
    let sock = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let mut stream = rustls::StreamOwned::new(session, sock);
    stream.write_all(head).ok()?;
    stream.write_all(body).ok()?;
    stream.flush().ok()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // A peer that closes without close_notify has still sent the whole answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(_) => return None,
        }
    }
    Some(answer)
}

/// Copies bytes both ways until either side closes.
fn tunnel(client: TcpStream, upstream: TcpStream) {
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut u_write);
        let _ = u_write.shutdown(Shutdown::Write);
    });
    let (mut u_read, mut c_write) = (upstream, client);
    let _ = std::io::copy(&mut u_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = up.join();
}

#[test]
fn https_proxy_carries_the_traffic_and_no_proxy_bypasses_it() {
    let emu = Served::start();
    let proxy = Proxy::start(emu.port, &emu.ca_pem);
    let ca = ("PAMFORM_CA_CERT", emu.ca_pem.display().to_string());
    // `localhost.` is not one of the loopback names that turn proxies off, yet the emulator's
    // certificate (issued for `localhost`) covers it; the proxy resolves nothing.
    let named = format!("https://localhost.:{}", emu.port);
    let direct = emu.base_url.clone();
    let dir = workspace(&named, &direct, &direct);

    let run = plan(dir.path(), &[ca.clone(), ("HTTPS_PROXY", proxy.url.clone())]);
    assert_planned(&run);
    let connects = proxy.connects();
    assert!(connects.iter().any(|t| t == &format!("localhost.:{}", emu.port)), "{connects:?}");
    assert!(connects.iter().any(|t| t == &format!("127.0.0.1:{}", emu.port)), "{connects:?}");
    assert!(proxy.refused().is_empty(), "{:?}", proxy.refused());

    // NO_PROXY takes 127.0.0.1 out: Exchange and Graph go direct, sign-in still goes through.
    let before = proxy.connects().len();
    let run =
        plan(dir.path(), &[ca, ("HTTPS_PROXY", proxy.url.clone()), ("NO_PROXY", "127.0.0.1".to_string())]);
    assert_planned(&run);
    let after: Vec<String> = proxy.connects().split_off(before);
    assert!(!after.is_empty(), "sign-in went through the proxy");
    assert!(after.iter().all(|t| t.starts_with("localhost.:")), "{after:?}");
}

#[test]
fn http_proxy_carries_plain_http_requests_when_an_endpoint_is_remote() {
    let emu = Served::start();
    let proxy = Proxy::start(emu.port, &emu.ca_pem);
    let ca = ("PAMFORM_CA_CERT", emu.ca_pem.display().to_string());
    // Sign-in on a name that is not loopback (through HTTPS_PROXY); Exchange and Graph over
    // plain http on 127.0.0.1 (through HTTP_PROXY, which the proxy carries to the emulator).
    let named = format!("https://localhost.:{}", emu.port);
    let plain = format!("http://127.0.0.1:{}", emu.port);
    let dir = workspace(&named, &plain, &plain);
    let run = plan(dir.path(), &[ca, ("HTTPS_PROXY", proxy.url.clone()), ("HTTP_PROXY", proxy.url.clone())]);
    assert_planned(&run);
    let forwards = proxy.forwards();
    assert!(
        forwards.iter().any(|l| l.contains(&format!("http://127.0.0.1:{}/adminapi/", emu.port))),
        "{forwards:?}"
    );
    assert!(
        forwards.iter().any(|l| l.contains(&format!("http://127.0.0.1:{}/v1.0/", emu.port))),
        "{forwards:?}"
    );
    assert!(proxy.refused().is_empty(), "{:?}", proxy.refused());
}

#[test]
fn endpoints_all_on_loopback_never_use_a_proxy() {
    let emu = Served::start();
    let proxy = Proxy::start(emu.port, &emu.ca_pem);
    let url = emu.base_url.clone();
    let dir = workspace(&url, &url, &url);
    let run = plan(
        dir.path(),
        &[
            ("PAMFORM_CA_CERT", emu.ca_pem.display().to_string()),
            ("HTTPS_PROXY", proxy.url.clone()),
            ("HTTP_PROXY", proxy.url.clone()),
        ],
    );
    assert_planned(&run);
    assert!(proxy.connects().is_empty() && proxy.forwards().is_empty(), "{:?}", proxy.connects());
}

#[test]
fn completions_name_the_subcommands_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = pamform().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("pamform"), "{shell}");
        for sub in ["plan", "apply", "drift", "import", "emulator"] {
            assert!(script.contains(sub), "{shell} completions do not name {sub}");
        }
    }
    let out = pamform().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid value 'tcsh'") && stderr.contains("--help"), "{stderr}");
    assert!(stderr.contains("possible values: bash, elvish, fish, powershell, zsh"), "{stderr}");
}
