//! The request workflow through the real binary against the emulator, with users signed in by
//! `pamform login` (the test completes each device code as that user): gating before and
//! after approval, revocation and the end of the approved time, the explained refusals,
//! expiry of pending requests, `request wait`, foreign items, and no token in any output.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pamform::emulator::{Faults, Seed};
use pamform::wire::exchange::class;
use serde_json::{Value, json};

use crate::emulator_ux_support::Login;
use crate::support::cli::{QUICKSTART, Run, Tenant, Workspace};
use crate::support::{pamform, upn};

pub(crate) const MOVE: &str = "Exchange\\New-MoveRequest";

/// The default tenant where dave may run the move cmdlets (Recipient Management), with two
/// foreign items in the request list.
fn seed() -> Seed {
    let mut v = serde_json::to_value(Seed::default_seed().unwrap()).unwrap();
    // A built-in role group of the catalogue: the seed gives it a member.
    v["role_groups"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Recipient Management", "members": [upn("dave")]}));
    v["foreign_requests"] = json!([
        {"identity": "LB-2026-0001", "request_type": "CustomerLockbox", "request_status": "Pending",
         "requestor": "Microsoft Support", "reason": "support case 7"},
        {"identity": "DAR-2026-0002", "request_type": "DataAccessRequest", "request_status": "Pending",
         "context": {"DataTable": "Calendar Events", "SourceTenantId": "4b1f3c2e-6a5d-4e8f-9b0a-1c2d3e4f5a6b"}},
    ]);
    Seed::from_json(&v.to_string()).unwrap()
}

/// A user with their own cache directory; every output they saw is kept for the leak check.
pub(crate) struct User {
    name: &'static str,
    cache: tempfile::TempDir,
}

pub(crate) struct World {
    pub(crate) tenant: Tenant,
    pub(crate) ws: Workspace,
    outputs: std::cell::RefCell<Vec<String>>,
    tokens: std::cell::RefCell<Vec<String>>,
}

impl World {
    /// The quickstart applied: pam-approvers (alice, bob) approve New-MoveRequest and
    /// Set-Mailbox.
    pub(crate) fn new() -> World {
        let tenant = Tenant::start_with(Some(seed()), Faults::default());
        let ws = Workspace::new(&tenant, QUICKSTART);
        ws.run(&["apply", "--auto-approve"]).expect(0);
        World { tenant, ws, outputs: Default::default(), tokens: Default::default() }
    }

    fn keep(&self, run: Run) -> Run {
        self.outputs.borrow_mut().push(run.all());
        run
    }

    pub(crate) fn command(&self, user: &User, args: &[&str]) -> std::process::Command {
        let mut cmd = self.ws.command(args);
        cmd.env("PAMFORM_CACHE_DIR", user.cache.path());
        cmd
    }

    pub(crate) fn run(&self, user: &User, args: &[&str]) -> Run {
        self.keep(Run::from(self.command(user, args).output().unwrap()))
    }

    /// `pamform login` as a child process; the test completes the device code as the user
    /// once the prompt shows it.
    pub(crate) fn login(&self, name: &'static str, as_user: &str) -> User {
        let user = User { name, cache: tempfile::tempdir().unwrap() };
        let login = Login::start(self.command(&user, &["login"]));
        self.tenant.approve_device_code(&login.code, as_user);
        let run = login.finish();
        let run = self.keep(run).expect(0);
        assert!(run.stdout.contains("Signed in as"), "{}", run.stdout);
        user
    }

    /// The user's cached session file.
    pub(crate) fn session(&self, user: &User) -> Value {
        let text = std::fs::read_to_string(session_file(user)).expect("a cached sign-in");
        let v: Value = serde_json::from_str(&text).unwrap();
        for key in ["access_token", "refresh_token"] {
            if let Some(t) = v[key].as_str() {
                self.tokens.borrow_mut().push(t.to_string());
            }
        }
        v
    }

    /// Runs a cmdlet over the Exchange API with the user's cached delegated token.
    fn cmdlet(&self, user: &User, cmdlet: &str) -> (u16, String) {
        let s = self.session(user);
        let token = s["access_token"].as_str().unwrap();
        let (status, body) =
            self.tenant.try_invoke_as(token, &upn(user.name), cmdlet, json!({"Identity": "erin"}));
        let class =
            body["error"]["innererror"]["internalexception"]["type"].as_str().unwrap_or("").to_string();
        (status, class)
    }

    pub(crate) fn new_request(&self, user: &User, task: &str, hours: &str) -> String {
        let run = self.run(
            user,
            &["request", "new", "--task", task, "--hours", hours, "--reason", "ticket 4711", "--json"],
        );
        let v: Value = serde_json::from_str(&run.expect(0).stdout).unwrap();
        v["request"]["id"].as_str().unwrap().to_string()
    }

    /// No output ever showed a token: neither one of the cached tokens seen, nor anything
    /// shaped like the emulator's JWTs.
    pub(crate) fn assert_no_token_leaked(&self) {
        let outputs = self.outputs.borrow();
        assert!(!outputs.is_empty());
        for out in outputs.iter() {
            assert!(!out.contains("eyJ"), "a JWT in the output:\n{out}");
            for t in self.tokens.borrow().iter() {
                assert!(!out.contains(t.as_str()), "a cached token in the output:\n{out}");
            }
        }
    }
}

/// Diagnostic text with miette's wrapping undone: one line, words joined again.
fn flat(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim();
        let line = ["x ", "× ", "| ", "│ "].iter().find_map(|m| line.strip_prefix(m)).unwrap_or(line).trim();
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() && !out.ends_with('-') {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

fn session_file(user: &User) -> PathBuf {
    user.cache.path().join("session.json")
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn approved_access_opens_the_task_until_revoked_or_over() {
    let w = World::new();
    let dave = w.login("dave", &upn("dave"));
    let alice = w.login("alice", &upn("alice"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&session_file(&dave)), 0o600);
        assert_eq!(mode(dave.cache.path()), 0o700);
    }
    let s = w.session(&dave);
    assert_eq!(s["upn"], upn("dave"), "the ID token names the user");
    assert!(s["refresh_token"].is_string() && s["expires_at"].is_string());

    // Before approval the gated cmdlet is refused for dave.
    assert_eq!(w.cmdlet(&dave, "New-MoveRequest"), (400, class::ELEVATION_REQUIRED.to_string()));

    // The human output names the request and who can approve it.
    let run = w
        .run(&dave, &["request", "new", "--task", MOVE, "--reason", "ticket 4711", "--hours", "2"])
        .expect(0);
    assert!(run.stdout.contains("Requested Exchange\\New-MoveRequest for 2 hours"), "{}", run.stdout);
    assert!(run.stdout.contains("Status: pending, expires in 2"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "Approvers: pam-approvers@contoso.onmicrosoft.com ({}, {})",
            upn("alice"),
            upn("bob")
        )),
        "{}",
        run.stdout
    );
    let listed = w.run(&alice, &["request", "list", "--pending", "--json"]).expect(0);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let first = listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "pam")
        .expect("dave's request is pending")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // `--pending` is what the signed-in user can decide: dave, who asked and approves nothing,
    // sees none of it; `list` without it still shows his own request.
    let his: Value =
        serde_json::from_str(&w.run(&dave, &["request", "list", "--pending", "--json"]).expect(0).stdout)
            .unwrap();
    assert!(his["requests"].as_array().unwrap().iter().all(|r| r["id"] != first.as_str()), "{his}");
    let own: Value =
        serde_json::from_str(&w.run(&dave, &["request", "list", "--json"]).expect(0).stdout).unwrap();
    assert!(own["requests"].as_array().unwrap().iter().any(|r| r["id"] == first.as_str()), "{own}");

    // `request wait` returns 0 once alice approves (by a unique id prefix).
    let waiter = w
        .command(&dave, &["request", "wait", &first, "--timeout", "60s", "--interval", "200ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let approved = w.run(&alice, &["request", "approve", &first[..8], "--comment", "go ahead"]).expect(0);
    assert!(approved.stdout.contains(&format!("Approved request {first}")), "{}", approved.stdout);
    let waited = w.keep(Run::from(waiter.wait_with_output().unwrap())).expect(0);
    assert!(
        waited.stdout.contains("was approved by alice@contoso.onmicrosoft.com: go ahead"),
        "{}",
        waited.stdout
    );

    // Approved: dave may run it; the table shows the remaining time.
    assert_eq!(w.cmdlet(&dave, "New-MoveRequest").0, 200);
    let table = w.run(&dave, &["request", "list", "--mine"]).expect(0);
    assert!(table.stdout.contains("active") && table.stdout.contains("left)"), "{}", table.stdout);
    // Piped: every value whole, the full id included, for scripts and logs.
    assert!(table.stdout.contains(&first) && !table.stdout.contains('…'), "{}", table.stdout);

    // Revoked: refused again.
    let revoked = w.run(&alice, &["request", "revoke", &first, "--comment", "done"]).expect(0);
    assert!(revoked.stdout.contains("Revoked the access"), "{}", revoked.stdout);
    assert_eq!(w.cmdlet(&dave, "New-MoveRequest"), (400, class::ELEVATION_REQUIRED.to_string()));
    let shown = w.run(&dave, &["request", "show", &first, "--json"]).expect(0);
    // The service says the request is revoked (it no longer reads Approved).
    let json: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!((json["state"].as_str(), json["status"].as_str()), (Some("revoked"), Some("Revoked")));
    let shown = w.run(&dave, &["request", "show", &first]).expect(0);
    assert!(shown.stdout.contains("Status     revoked: access revoked"), "{}", shown.stdout);

    // A second approval lasts its 2 hours and no longer.
    let second = w.new_request(&dave, MOVE, "2");
    w.run(&alice, &["request", "approve", &second]).expect(0);
    assert_eq!(w.cmdlet(&dave, "New-MoveRequest").0, 200);
    w.tenant.advance_clock(2 * 3600 + 60);
    // The cached access token is past its lifetime on the tenant's clock now: any request
    // command renews it with the refresh token and keeps the new one.
    let before = w.session(&dave)["access_token"].clone();
    let ended = w.run(&dave, &["request", "show", &second, "--json"]).expect(0);
    assert_eq!(serde_json::from_str::<Value>(&ended.stdout).unwrap()["state"], "ended");
    assert_ne!(w.session(&dave)["access_token"], before, "the renewed token is cached");
    assert_eq!(w.cmdlet(&dave, "New-MoveRequest"), (400, class::ELEVATION_REQUIRED.to_string()));

    // logout forgets the sign-in.
    let out = w.run(&dave, &["logout"]).expect(0);
    assert!(out.stdout.contains("Signed out dave@contoso.onmicrosoft.com"), "{}", out.stdout);
    assert!(!session_file(&dave).exists());
    let gone = w.run(&dave, &["request", "list"]).expect(1);
    assert!(flat(&gone.stderr).contains("not signed in; run `pamform login`"), "{}", gone.stderr);
    w.assert_no_token_leaked();
}

#[test]
fn refusals_denials_and_expiry_are_explained() {
    let w = World::new();
    let dave = w.login("dave", &upn("dave"));
    let alice = w.login("alice", &upn("alice"));
    let carol = w.login("carol", &upn("carol"));
    let oscar = w.login("oscar", "oscar@fabrikam.com");

    let id = w.new_request(&dave, MOVE, "4");
    let refused = |user: &User, expected: &str| {
        let run = w.run(user, &["request", "approve", &id]).expect(1);
        assert!(flat(&run.stderr).contains(expected), "{}: {}", user.name, run.stderr);
    };
    refused(&carol, "you are not a member of the approver group pam-approvers@contoso.onmicrosoft.com");
    refused(&dave, "you cannot approve or deny your own request");
    refused(&oscar, "guests cannot approve or deny requests");

    // No policy covers the task.
    let run =
        w.run(&dave, &["request", "new", "--task", "Exchange\\Get-Mailbox", "--reason", "look"]).expect(1);
    assert!(flat(&run.stderr).contains("no access policy covers Exchange\\Get-Mailbox"), "{}", run.stderr);

    // Denied: `request wait` exits 3 (expired 4, timed out 5; an error 1).
    let denied = w.new_request(&dave, "Exchange\\Set-Mailbox", "1");
    w.run(&alice, &["request", "deny", &denied, "--comment", "not today"]).expect(0);
    let waited = w.run(&dave, &["request", "wait", &denied, "--interval", "200ms"]).expect(3);
    assert!(
        flat(&waited.stderr).contains("was denied by alice@contoso.onmicrosoft.com: not today"),
        "{}",
        waited.stderr
    );

    // A pending request expires after 24 hours: it shows as expired, cannot be approved, and
    // waiting for it ends at once with 4.
    w.tenant.advance_clock(24 * 3600 + 60);
    let shown = w.run(&alice, &["request", "show", &id]).expect(0);
    assert!(shown.stdout.contains("Status     expired"), "{}", shown.stdout);
    let late = w.run(&alice, &["request", "approve", &id]).expect(1);
    assert!(
        flat(&late.stderr).contains("has expired: pending requests expire after 24 hours"),
        "{}",
        late.stderr
    );
    let waited = w.run(&dave, &["request", "wait", &id, "--timeout", "10s"]).expect(4);
    assert!(flat(&waited.stderr).contains("expired before anyone decided it"), "{}", waited.stderr);
    let timed = w.new_request(&dave, MOVE, "1");
    let waited =
        w.run(&dave, &["request", "wait", &timed, "--timeout", "300ms", "--interval", "100ms"]).expect(5);
    assert!(flat(&waited.stderr).contains("is still pending after"), "{}", waited.stderr);

    // Foreign items are listed and marked, in text and JSON, and never break the list.
    let all = w.run(&alice, &["request", "list", "--all"]).expect(0);
    assert!(
        all.stdout.contains("[Customer Lockbox]") && all.stdout.contains("[Data Access Request]"),
        "{}",
        all.stdout
    );
    assert!(all.stdout.contains("denied") && all.stdout.contains("expired"), "{}", all.stdout);
    let json = w.run(&alice, &["request", "list", "--all", "--json"]).expect(0);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    let foreign: Vec<&Value> =
        json["requests"].as_array().unwrap().iter().filter(|r| r["foreign"] == true).collect();
    assert_eq!(foreign.len(), 2);
    let lockbox = w.run(&alice, &["request", "show", "LB-2026"]).expect(0);
    assert!(lockbox.stdout.contains("Customer Lockbox (not a PAM request"), "{}", lockbox.stdout);
    // The request log of -v names the calls, never the tokens (checked below).
    let verbose = w.run(&alice, &["-v", "request", "list", "--all"]).expect(0);
    assert!(verbose.stderr.contains("Get-ElevatedAccessRequest"), "{}", verbose.stderr);
    let refused = w.run(&alice, &["request", "approve", "LB-2026-0001"]).expect(1);
    assert!(flat(&refused.stderr).contains("not a PAM request"), "{}", refused.stderr);
    w.assert_no_token_leaked();
}

#[test]
fn login_needs_a_tenant_and_a_session_belongs_to_one() {
    let empty = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = pamform()
            .arg("-C")
            .arg(empty.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env("PAMFORM_CACHE_DIR", cache.path())
            .env_remove("PAMFORM_TENANT_ID")
            .output()
            .unwrap();
        Run::from(out)
    };
    let no_tenant = run(&["login"]).expect(1);
    assert!(flat(&no_tenant.stderr).contains("name the tenant"), "{}", no_tenant.stderr);
    let not_signed_in = run(&["request", "list"]).expect(1);
    assert!(flat(&not_signed_in.stderr).contains("not signed in"), "{}", not_signed_in.stderr);
    let missing = run(&["request", "new", "--reason", "x"]).expect(1);
    assert!(flat(&missing.stderr).contains("--task"), "{}", missing.stderr);
    // An embedded emulator lives for one command: nothing to stay signed in to.
    std::fs::write(
        empty.path().join("main.pam.hcl"),
        "tenant {\n  id = \"contoso.onmicrosoft.com\"\n  emulator = \"tenant.json\"\n}\n",
    )
    .unwrap();
    let embedded = run(&["login"]).expect(1);
    assert!(flat(&embedded.stderr).contains("run `pamform emulator serve`"), "{}", embedded.stderr);

    // A sign-in to one tenant is never sent to another endpoint.
    let w = World::new();
    let alice = w.login("alice", &upn("alice"));
    let other = Tenant::start();
    let elsewhere = Workspace::new(&other, "");
    let mut cmd = elsewhere.command(&["request", "list"]);
    cmd.env("PAMFORM_CACHE_DIR", alice.cache.path());
    let refused = w.keep(Run::from(cmd.output().unwrap())).expect(1);
    assert!(flat(&refused.stderr).contains("signed in to contoso.onmicrosoft.com at"), "{}", refused.stderr);
    assert_eq!(other.counters()["per_cmdlet"], json!({}), "nothing reached the other tenant");

    // An expired access token with a refresh token the service refuses: sign in again.
    let mut s = w.session(&alice);
    s["expires_at"] = json!("2020-01-01T00:00:00Z");
    s["refresh_token"] = json!("not-a-refresh-token");
    std::fs::write(session_file(&alice), s.to_string()).unwrap();
    let stale = w.run(&alice, &["request", "list"]).expect(1);
    assert!(
        flat(&stale.stderr).contains("no longer accepts your sign-in (invalid_grant)"),
        "{}",
        stale.stderr
    );
    // Without a refresh token an expired sign-in is not even tried.
    s.as_object_mut().unwrap().remove("refresh_token");
    std::fs::write(session_file(&alice), s.to_string()).unwrap();
    let expired = w.run(&alice, &["request", "list"]).expect(1);
    assert!(
        flat(&expired.stderr).contains("the sign-in of alice@contoso.onmicrosoft.com has expired"),
        "{}",
        expired.stderr
    );
    w.assert_no_token_leaked();
}
