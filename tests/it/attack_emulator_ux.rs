//! Hostile uses of the emulator's data-file lock and `emulator exec`: a data file named
//! through a symbolic link (whose target may not exist yet), a lock file someone else left
//! (a link to another file, or a record pointing off this machine).

#![cfg(unix)]

use std::process::Stdio;

use crate::emulator_ux_support::{Served, embedded, flat, run_in, serve};
use crate::support::cli::{QUICKSTART, Run};
use crate::support::pamform;

fn exec(url: &str, words: &[&str]) -> Run {
    Run::from(
        pamform()
            .args(["emulator", "exec", "--url", url, "--"])
            .args(words)
            .env("NO_COLOR", "1")
            .env_remove("PAMFORM_CLIENT_ID")
            .env_remove("PAMFORM_CLIENT_SECRET")
            .output()
            .unwrap(),
    )
}

#[test]
fn a_data_file_named_through_a_link_to_a_file_not_yet_written_is_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real.json");
    let link = tmp.path().join("link.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    let served = Served::start(&["--data", link.to_str().unwrap()]);
    // The same file by its own name: refused while the first server has it.
    let second = serve(&real).expect(1);
    let said = flat(&second.stderr);
    assert!(said.contains("is in use by `pamform emulator serve`"), "{said}");
    assert!(said.contains(&served.base_url), "{said}");
}

#[test]
fn writes_through_a_linked_data_file_reach_its_target_and_keep_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real.json");
    let link = tmp.path().join("link.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    let served = Served::start(&["--data", link.to_str().unwrap()]);
    exec(
        &served.base_url,
        &[
            "New-DistributionGroup",
            "-Name",
            "linked",
            "-PrimarySmtpAddress",
            "linked@contoso.onmicrosoft.com",
        ],
    )
    .expect(0);
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "the link was replaced by a copy of the data"
    );
    let written = std::fs::read_to_string(&real).expect("the target was written");
    assert!(written.contains("linked@contoso.onmicrosoft.com"), "the write reached the target");
    // Both spellings are still one file with one lock.
    let second = serve(&real).expect(1);
    assert!(flat(&second.stderr).contains(&served.base_url), "{}", second.stderr);
    let third = serve(&link).expect(1);
    assert!(flat(&third.stderr).contains(&served.base_url), "{}", third.stderr);
}

#[test]
fn a_lock_file_that_is_a_link_never_empties_the_file_it_points_to() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tenant.json");
    let precious = tmp.path().join("precious.txt");
    std::fs::write(&precious, "keep me\n").unwrap();
    std::os::unix::fs::symlink(&precious, pamform::emulator::data_lock::lock_path(&data)).unwrap();
    let refused = serve(&data);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n", "{}", refused.all());
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(flat(&refused.stderr).contains("is a link"), "{}", refused.stderr);

    // A hard link is no better.
    let other = tmp.path().join("other.json");
    std::fs::hard_link(&precious, pamform::emulator::data_lock::lock_path(&other)).unwrap();
    let refused = serve(&other);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n", "{}", refused.all());
    assert_ne!(refused.code, 0, "{}", refused.all());
}

#[test]
fn exec_never_follows_a_lock_file_off_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tenant.json");
    let dir = tmp.path().join("config");
    embedded(&dir, &data, "");
    // Someone who can write beside the data file holds its lock and says it is served
    // elsewhere: the credential must not go there.
    let lock = pamform::emulator::data_lock::lock_path(&data);
    std::fs::write(&lock, r#"{"pid":1,"kind":"served","url":"http://0.0.0.0:1"}"#).unwrap();
    let held = std::fs::File::open(&lock).unwrap();
    held.try_lock().unwrap();
    let run = Run::from(
        pamform()
            .arg("-C")
            .arg(&dir)
            .args(["emulator", "exec", "--", "Get-OrganizationConfig"])
            .env("NO_COLOR", "1")
            .env("PAMFORM_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
            .env("PAMFORM_CLIENT_SECRET", "a-real-secret")
            .output()
            .unwrap(),
    );
    drop(held);
    assert_ne!(run.code, 0, "{}", run.all());
    let said = flat(&run.stderr);
    assert!(said.contains("on this machine only"), "{said}");
    assert!(!said.contains("cannot reach"), "it tried to reach the recorded URL: {said}");
}

/// A raw HTTP/1.1 form POST to 127.0.0.1, with the `Host` and `Origin` a browser sends for a
/// page of a site whose name now points at 127.0.0.1; returns the status code.
fn post_as_site(base_url: &str, path: &str, site: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let addr = base_url.trim_start_matches("http://");
    let port = addr.rsplit_once(':').unwrap().1;
    let host = format!("{site}:{port}");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn a_site_rebound_to_this_machine_cannot_approve_a_sign_in() {
    use crate::emulator_ux_support::{Browser, Login};
    use crate::support::cli::{Tenant, Workspace};
    use crate::support::upn;

    let tenant = Tenant::start();
    let cache = tempfile::tempdir().unwrap();
    let ws = Workspace::new(&tenant, "");
    let mut cmd = ws.command(&["login"]);
    cmd.env("PAMFORM_CACHE_DIR", cache.path());
    let login = Login::start(cmd);

    // Its own origin and its own host name: only the name is not this machine's.
    let body = format!("code={}&user={}&decision=continue", login.code, upn("alice").replace('@', "%40"));
    let status = post_as_site(&tenant.base_url, "/_emulator/devicelogin/consent", "rebind.example", &body);
    assert_eq!(status, 403, "a page of another site approved the sign-in");
    let status = post_as_site(&tenant.base_url, "/_emulator/devicelogin/consent", "localhost.example", &body);
    assert_eq!(status, 403, "a page of another site approved the sign-in");

    // The person who ran login still signs in as themselves.
    let done = Browser::new().sign_in(&login.url, &login.code, &upn("dave"), "continue");
    assert!(done.body.contains("You have signed in"), "{}", done.body);
    let run = login.finish().expect(0);
    assert!(run.stdout.contains(&format!("Signed in as {}", upn("dave"))), "{}", run.stdout);
}

/// Makes `dir` read-only for this process: its mode, or (for root, whom modes do not stop)
/// the immutable attribute; `false` when neither stops a file being created in it.
fn make_read_only(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let writable = || {
        let probe = dir.join(".probe");
        let made = std::fs::write(&probe, "").is_ok();
        let _ = std::fs::remove_file(&probe);
        made
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    if !writable() {
        return true;
    }
    let _ = std::process::Command::new("chattr").arg("+i").arg(dir).stderr(Stdio::null()).status();
    !writable()
}

/// Makes `dir` writable again when dropped, so the temporary directory can be removed.
struct Writable(std::path::PathBuf);

impl Drop for Writable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).stderr(Stdio::null()).status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn a_data_file_in_a_read_only_directory_can_still_be_planned_against() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let data = data_dir.join("tenant.json");
    let dir = tmp.path().join("config");
    embedded(&dir, &data, QUICKSTART);
    let run = |args: &[&str]| run_in(&dir, args);
    run(&["apply", "--auto-approve"]).expect(0);
    // A checked-out fixture: the data file, and no lock file beside it.
    let _ = std::fs::remove_file(pamform::emulator::data_lock::lock_path(&data));
    let _guard = Writable(data_dir.clone());
    if !make_read_only(&data_dir) {
        // Nothing stops this process writing (root without chattr): nothing to check.
        return;
    }
    run(&["plan", "--detailed-exitcode"]).expect(0);
    run(&["drift"]).expect(0);
}

#[test]
fn a_reason_cannot_rewrite_what_the_approver_reads() {
    use crate::e2e_requests::{MOVE, World};

    let w = World::new();
    let dave = w.login("dave", &crate::support::upn("dave"));
    // A carriage return and escape codes: on a terminal they would overwrite the Status line
    // the approver reads, or hide the rest of the reason.
    let reason = "ticket 4711\r\u{1b}[2KStatus     approved by alice\u{1b}[8m hidden";
    let made =
        w.run(&dave, &["request", "new", "--task", MOVE, "--hours", "2", "--reason", reason, "--json"]);
    if made.code != 0 {
        // Refusing such a reason outright is as good.
        assert!(!made.all().contains('\u{1b}'), "{}", made.all());
        return;
    }
    let id: serde_json::Value = serde_json::from_str(made.stdout.trim()).unwrap();
    let id = id["request"]["id"].as_str().unwrap().to_string();
    let alice = w.login("alice", &crate::support::upn("alice"));
    for args in [vec!["request", "show", id.as_str()], vec!["request", "list", "--pending"]] {
        let run = w.run(&alice, &args).expect(0);
        for c in ['\r', '\u{1b}'] {
            assert!(!run.stdout.contains(c), "{args:?} printed {c:?} from the reason: {:?}", run.stdout);
        }
        if args[1] == "show" {
            assert!(run.stdout.contains("ticket 4711\\r\\u{1b}[2KStatus"), "shown escaped: {}", run.stdout);
        }
    }
}
