//! What the emulator UX tests share: a person at the device-code sign-in pages, as a browser
//! would drive them (GET the page, fill the form it shows, POST it to the form's action with
//! its hidden fields); a `pamform login` under way (which the request tests sign their users
//! in with too); `pamform emulator serve` run as a child process; and configurations that
//! embed the emulator with a data file, run without credentials.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::cli::Run;
use crate::support::{DOMAIN, pamform};

/// A page as the browser got it.
#[derive(Debug)]
pub(crate) struct Page {
    pub status: u16,
    pub body: String,
}

impl Page {
    /// The `action` of the page's form.
    pub(crate) fn action(&self) -> String {
        attribute(&self.body, "<form ", "action").expect("the page has a form")
    }

    /// The page's hidden fields, as (name, value), unescaped.
    pub(crate) fn hidden(&self) -> Vec<(String, String)> {
        self.body
            .split("<input ")
            .skip(1)
            .filter(|tag| tag.contains("type=\"hidden\""))
            .map(|tag| (value_of(tag, "name").unwrap(), unescape(&value_of(tag, "value").unwrap())))
            .collect()
    }
}

/// The value of `name="..."` in the first tag starting with `tag`.
fn attribute(html: &str, tag: &str, name: &str) -> Option<String> {
    let at = html.find(tag)?;
    value_of(&html[at..], name)
}

fn value_of(tag: &str, name: &str) -> Option<String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let key = format!(" {name}=\"");
    let from = tag[..end].find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(tag[from..from + len].to_string())
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser on 127.0.0.1: plain GET and form POST, no script.
pub(crate) struct Browser {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// The origin a browser sends with its form posts (`None`: no `Origin` header).
    pub origin: Option<String>,
}

impl Browser {
    pub(crate) fn new() -> Browser {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Browser { rt, http: reqwest::Client::new(), origin: None }
    }

    pub(crate) fn get(&self, url: &str) -> Page {
        self.rt.block_on(async {
            let r = self.http.get(url).send().await.expect("the page answers");
            Page { status: r.status().as_u16(), body: r.text().await.unwrap() }
        })
    }

    /// Posts `fields` to `url` as a form.
    pub(crate) fn post(&self, url: &str, fields: &[(String, String)]) -> Page {
        self.rt.block_on(async {
            let mut req = self.http.post(url).form(fields);
            if let Some(o) = &self.origin {
                req = req.header("origin", o);
            }
            let r = req.send().await.expect("the page answers");
            Page { status: r.status().as_u16(), body: r.text().await.unwrap() }
        })
    }

    /// Submits the page's form: its hidden fields plus `fields`, to its action on `base`.
    pub(crate) fn submit(&self, base: &str, page: &Page, fields: &[(&str, &str)]) -> Page {
        let mut all = page.hidden();
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post(&format!("{base}{}", page.action()), &all)
    }

    /// The whole sign-in as a person does it: open `url`, enter `code` (Next), pick `user`
    /// (Next), then `Continue` or `Cancel`; returns the last page.
    pub(crate) fn sign_in(&self, url: &str, code: &str, user: &str, decision: &str) -> Page {
        let base = base_of(url);
        let entry = self.get(url);
        assert_eq!(entry.status, 200, "{}", entry.body);
        let accounts = self.submit(&base, &entry, &[("code", code)]);
        assert_eq!(accounts.status, 200, "{}", accounts.body);
        let consent = self.submit(&base, &accounts, &[("user", user)]);
        assert_eq!(consent.status, 200, "{}", consent.body);
        self.submit(&base, &consent, &[("decision", decision)])
    }
}

/// `scheme://host:port` of a URL.
pub(crate) fn base_of(url: &str) -> String {
    let after = url.find("://").unwrap() + 3;
    let end = url[after..].find('/').map(|i| after + i).unwrap_or(url.len());
    url[..end].to_string()
}

/// A `pamform login` under way: the page it names and the code to enter there.
pub(crate) struct Login {
    pub child: Child,
    pub url: String,
    pub code: String,
    stderr: std::thread::JoinHandle<String>,
}

impl Login {
    /// Starts `cmd` (a `pamform login`) and waits for its prompt; [`Login::finish`] waits
    /// for the child.
    #[allow(clippy::zombie_processes)]
    pub(crate) fn start(mut cmd: Command) -> Login {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).expect("login prints the page and a code");
            if let (Some(page), Some(code)) =
                (line.split("open the page ").nth(1), line.split("enter the code ").nth(1))
            {
                let url = page.split_whitespace().next().unwrap().to_string();
                let code = code.split_whitespace().next().unwrap().to_string();
                return Login { child, url, code, stderr: reader };
            }
        }
    }

    /// Waits for the command to end.
    pub(crate) fn finish(self) -> Run {
        let out = self.child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: self.stderr.join().unwrap(),
        }
    }
}

/// `pamform emulator serve` as a child process, stopped when dropped.
pub(crate) struct Served {
    child: Child,
    pub base_url: String,
}

impl Served {
    /// Serves on a free port of 127.0.0.1 with `args` (such as `--data FILE`) and waits for
    /// its `base_url` line.
    #[allow(clippy::zombie_processes)]
    pub(crate) fn start(args: &[&str]) -> Served {
        let mut child = pamform()
            .args(["emulator", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base_url = loop {
            let line = lines.next().expect("serve prints its base_url").unwrap();
            if let Some(url) = line.strip_prefix("base_url: ") {
                break url.trim().to_string();
            }
        };
        // Keep reading so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Served { child, base_url }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `main.pam.hcl` in `dir` (created): a tenant block that embeds the emulator with
/// `data`, then `hcl`.
pub(crate) fn embedded(dir: &Path, data: &Path, hcl: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let block = format!("tenant {{\n  id       = \"{DOMAIN}\"\n  emulator = \"{}\"\n}}\n", data.display());
    std::fs::write(dir.join("main.pam.hcl"), format!("{block}\n{hcl}")).unwrap();
}

/// `pamform -C DIR ARGS` with NO_COLOR and no credentials in the environment (an embedded or
/// served emulator signs in as its own app).
pub(crate) fn uncredentialed(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = pamform();
    cmd.arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("PAMFORM_CLIENT_ID")
        .env_remove("PAMFORM_CLIENT_SECRET");
    cmd
}

/// Runs [`uncredentialed`] to its end.
pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Run {
    Run::from(uncredentialed(dir, args).output().unwrap())
}

/// `pamform emulator serve --data DATA` run to its end: a server that is refused the file.
pub(crate) fn serve(data: &Path) -> Run {
    Run::from(
        pamform()
            .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
}

/// `text` on one line, its white space folded: a message reads the same wherever it wrapped.
pub(crate) fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
