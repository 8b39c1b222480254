//! The files beside the configuration never wedge pamform: a drift cache left by another
//! run (another embedded-emulator port, a corrupt file) means a full read, and a state file
//! of another tenant is refused with a way forward instead of planning to recreate everything.

use std::path::Path;
use std::process::Output;

use pamform::state::StateStore;

use crate::support::pamform;

fn run(dir: &Path, args: &[&str]) -> Output {
    pamform()
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("PAMFORM_RETRY_BUDGET")
        .output()
        .expect("pamform runs")
}

fn expect(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The quickstart, applied, in a temporary directory (its embedded emulator picks a new
/// port on every run).
fn quickstart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart");
    for f in ["main.pam.hcl", "tenant.pam.hcl"] {
        std::fs::copy(format!("{src}/{f}"), dir.path().join(f)).unwrap();
    }
    expect(&run(dir.path(), &["apply", "--auto-approve"]), 0, "apply");
    dir
}

#[test]
fn drift_twice_on_the_quickstart_reads_through_a_stale_cache() {
    let dir = quickstart();
    expect(&run(dir.path(), &["drift"]), 0, "first drift");
    let cache = dir.path().join(".pamform/drift-cache.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert_eq!(text.trim_end().lines().count(), 1, "the cache is compact JSON");
    // The second run's emulator listens on another port than the one in the cached link.
    let out = run(dir.path(), &["-v", "drift"]);
    expect(&out, 0, "second drift");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("read the whole tenant"), "{stderr}");

    // A cache pointing at this run's port but holding a token the tenant never issued.
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let link = value["delta_link"].as_str().unwrap().to_string();
    let base = link.split("/v1.0").next().unwrap().to_string();
    value["graph_url"] = base.clone().into();
    value["delta_link"] = format!("{base}/v1.0/groups/delta?$deltatoken=not-a-token").into();
    std::fs::write(&cache, value.to_string()).unwrap();
    expect(&run(dir.path(), &["drift"]), 0, "drift with an invalid token");

    // Corrupt and unreadable caches.
    std::fs::write(&cache, b"{\"format_version\": 1, \"tenant\": 7").unwrap();
    expect(&run(dir.path(), &["drift"]), 0, "drift with a corrupt cache");
    std::fs::write(&cache, [0xff, 0xfe, 0x00, 0x01]).unwrap();
    expect(&run(dir.path(), &["drift"]), 0, "drift with a binary cache");
}

#[test]
fn a_state_of_another_tenant_is_refused_naming_both() {
    let dir = quickstart();
    let store = StateStore::new(dir.path());
    let mut state = store.load().unwrap().expect("apply wrote state");
    assert!(!state.resources.is_empty());
    state.tenant = "fabrikam.onmicrosoft.com".into();
    store.save(&mut state).unwrap();
    for command in [&["plan"][..], &["apply", "--auto-approve"], &["drift"]] {
        let out = run(dir.path(), command);
        expect(&out, 1, command[0]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("fabrikam.onmicrosoft.com"), "{stderr}");
        assert!(stderr.contains("contoso.onmicrosoft.com"), "{stderr}");
        assert!(stderr.contains("-C"), "{stderr}");
    }
    // Nothing was changed: the state still records the other tenant.
    assert_eq!(store.load().unwrap().unwrap().tenant, "fabrikam.onmicrosoft.com");
}

#[test]
fn a_state_listing_one_address_twice_anywhere_is_refused() {
    let dir = quickstart();
    let store = StateStore::new(dir.path());
    let mut state = store.load().unwrap().unwrap();
    assert!(state.resources.len() >= 3);
    let first = state.resources[0].clone();
    state.resources.push(first);
    store.save(&mut state).unwrap();
    let out = run(dir.path(), &["plan"]);
    expect(&out, 1, "plan");
    assert!(String::from_utf8_lossy(&out.stderr).contains("twice"));
}

/// `state mv` renames an address in state as a `moved` block would: with the configuration
/// renamed the same way, the next plan is empty and the tenant untouched; a missing source,
/// a taken destination or another type is refused with nothing written.
#[test]
fn state_mv_renames_without_touching_the_tenant() {
    use crate::support::cli::{QUICKSTART, Tenant, Workspace};
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let writes = tenant.write_count();
    let before = std::fs::read(ws.file("pamform.state.json")).unwrap();
    for (args, says) in [
        (["state", "mv", "approver_group.nope", "approver_group.team"], "approver_group.nope"),
        (["state", "mv", "approver_group.approvers", "access_policy.move_request"], "same type"),
        (["state", "mv", "access_policy.set_mailbox", "access_policy.move_request"], "already in state"),
    ] {
        let run = ws.run(&args).expect(1);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert_eq!(std::fs::read(ws.file("pamform.state.json")).unwrap(), before, "nothing written");
    }
    let run = ws.run(&["state", "mv", "approver_group.approvers", "approver_group.team"]).expect(0);
    assert!(run.stdout.contains("Moved approver_group.approvers to approver_group.team"), "{}", run.stdout);
    ws.configure(
        &tenant,
        &QUICKSTART
            .replace("approver_group.approvers", "approver_group.team")
            .replace("approver_group \"approvers\"", "approver_group \"team\""),
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(tenant.write_count(), writes, "the tenant was not changed");
}
