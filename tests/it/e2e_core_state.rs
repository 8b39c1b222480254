//! State and its lock through the real binary: two applies at once, --lock-timeout,
//! force-unlock, a corrupted state file left untouched, the file's mode and backup, and
//! `state list|show|rm`.

use serde_json::json;

use crate::support::PAMFORM;
use crate::support::cli::{QUICKSTART, Tenant, Workspace, hold_lock};

#[test]
fn a_second_apply_fails_at_once_naming_the_holder() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let (mut first, info) = hold_lock(&tenant, &ws);
    assert_eq!(info.pid, first.id());
    let second = ws.run(&["apply", "--auto-approve"]).expect(1);
    let err = second.stderr.replace('\n', " ");
    assert!(err.contains(&format!("pid {}", first.id())), "{}", second.stderr);
    assert!(err.contains("pamform apply"), "{}", second.stderr);
    assert!(err.contains(&info.id), "names the lock id for force-unlock: {}", second.stderr);
    assert!(!second.all().contains("Creating"), "the second apply changed something: {}", second.all());
    // state rm is refused the same way.
    ws.run(&["state", "rm", "approver_group.approvers"]).expect(1);

    // One that waits gets the lock when the first is done, and finds nothing to do.
    let waiter = ws.run(&["apply", "--auto-approve", "--lock-timeout", "60s"]).expect(0);
    assert!(first.wait().unwrap().success());
    assert!(waiter.stdout.contains("No changes."), "{}", waiter.all());
    let state = ws.state().unwrap();
    assert_eq!(state.resources.len(), 4);
    tenant.set_faults(json!({}));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn force_unlock_removes_a_lock_left_by_a_killed_run() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let (mut first, info) = hold_lock(&tenant, &ws);
    first.kill().unwrap();
    first.wait().unwrap();
    let wrong = ws.run(&["force-unlock", "not-the-id"]).expect(1);
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.stderr);
    let ok = ws.run(&["force-unlock", &info.id]).expect(0);
    assert!(ok.stdout.contains(&format!("pid {}", info.pid)), "{}", ok.stdout);
    ws.run(&["force-unlock", &info.id]).expect(1);
    tenant.set_faults(json!({}));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_corrupted_state_file_is_refused_and_left_untouched() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let path = ws.file("pamform.state.json");
    let good = std::fs::read(&path).unwrap();
    let writes = tenant.write_count();

    let truncated = good[..good.len() / 2].to_vec();
    let edited = String::from_utf8(good.clone()).unwrap().replace("\"serial\": ", "\"serial\": 1");
    for (what, bytes) in [("truncated", truncated), ("edited by hand", edited.into_bytes())] {
        std::fs::write(&path, &bytes).unwrap();
        for args in [&["apply", "--auto-approve"][..], &["plan"], &["state", "list"], &["show"]] {
            let run = ws.run(args).expect(1);
            assert!(run.stderr.contains("pamform.state.json"), "{what} {args:?}: {}", run.stderr);
            assert!(run.stderr.contains(".backup"), "{what} {args:?}: says how to recover: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: the state file was overwritten");
    }
    assert_eq!(tenant.write_count(), writes, "nothing was changed in the tenant");

    // The backup is the previous good state: restoring it recovers.
    std::fs::copy(ws.file("pamform.state.json.backup"), &path).unwrap();
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn state_file_is_private_deterministic_and_backed_up() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let state = ws.state().unwrap();
    assert!(state.serial >= 4, "serial bumps on every write: {}", state.serial);
    let bytes = std::fs::read(ws.file("pamform.state.json")).unwrap();
    assert_eq!(state.to_bytes(), bytes, "the file is the deterministic rendering of its contents");
    assert!(!String::from_utf8_lossy(&bytes).contains(tenant.secret()));
    let backup = pamform::state::State::from_bytes(
        &ws.file("pamform.state.json.backup"),
        &std::fs::read(ws.file("pamform.state.json.backup")).unwrap(),
    )
    .unwrap();
    assert_eq!(backup.serial, state.serial - 1);
    assert_eq!(backup.lineage, state.lineage);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["pamform.state.json", "pamform.state.json.backup"] {
            let mode = std::fs::metadata(ws.file(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(ws.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn state_list_show_and_rm() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let list = ws.run(&["state", "list"]).expect(0);
    assert_eq!(
        list.stdout.lines().collect::<Vec<_>>(),
        vec![
            "approver_group.approvers",
            "privileged_access",
            "access_policy.move_request",
            "access_policy.set_mailbox"
        ]
    );
    let show = ws.run(&["state", "show", "access_policy.set_mailbox"]).expect(0);
    assert!(show.stdout.contains("Exchange\\\\Set-Mailbox"), "{}", show.stdout);
    ws.run(&["state", "show", "access_policy.nope"]).expect(1);
    ws.run(&["state", "show", "not an address"]).expect(1);

    let writes = tenant.write_count();
    let rm = ws.run(&["state", "rm", "access_policy.set_mailbox"]).expect(0);
    assert!(rm.stdout.contains("Removed access_policy.set_mailbox"), "{}", rm.stdout);
    assert_eq!(tenant.write_count(), writes, "state rm does not touch the tenant");
    assert_eq!(ws.state().unwrap().resources.len(), 3);
    // The forgotten policy is found again by its natural key and adopted, not duplicated.
    let plan = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(plan.stdout.contains("will be imported"), "{}", plan.stdout);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(tenant.policies().len(), 2);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

/// Runs `pamform ARGS` on a pseudo-terminal (through util-linux `script`), typing `input`.
/// Panics when `script` is missing: the prompt is only asked on a terminal, so without one
/// this test would check nothing (`.ci/run` installs it; `apt-get install bsdutils` does).
pub(crate) fn on_terminal(ws: &Workspace, args: &[&str], input: &str) -> crate::support::cli::Run {
    let probe = std::process::Command::new("script").arg("--version").output();
    match probe {
        Ok(p) if p.status.success() && String::from_utf8_lossy(&p.stdout).contains("util-linux") => {}
        _ => panic!("util-linux `script` is needed to test the prompt on a terminal: install bsdutils"),
    }
    let bin = PAMFORM;
    let line = format!("{bin} -C {} {}", ws.path().display(), args.join(" "));
    let cmd = ws.command(&[]);
    let envs: Vec<(String, String)> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
        .collect();
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line, "/dev/null"]).envs(envs).stdin(std::process::Stdio::piped());
    script.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = script.spawn().expect("script starts");
    // The terminal buffers what is typed until the prompt reads it; stdin stays open until
    // pamform exits, so `script` never sees end of input before the answer is read.
    let mut stdin = child.stdin.take().unwrap();
    {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).expect("typing into the terminal");
        stdin.flush().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    out.into()
}

#[test]
fn apply_asks_on_a_terminal_and_accepts_only_yes() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let no = on_terminal(&ws, &["apply"], "y\n");
    assert!(no.all().contains("Only 'yes' will be accepted"), "{}", no.all());
    assert!(no.all().contains("apply cancelled"), "{}", no.all());
    assert_eq!(no.code, 1, "{}", no.all());
    assert_eq!(tenant.write_count(), 0, "anything but yes changes nothing");
    let yes = on_terminal(&ws, &["apply"], "yes\n");
    assert!(yes.all().contains("Apply complete!"), "{}", yes.all());
    assert_eq!(yes.code, 0, "{}", yes.all());
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}
