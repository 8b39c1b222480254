//! `pamform fleet force-unlock TENANT ID` through the real binary, with local state and with a
//! `backend "azurerm"` block (Azurite): a fleet tenant whose state lock is held is refused
//! with that exact command in its report line, the command removes that tenant's lock (after
//! checking the id and the tenant's name) and the next `fleet apply` goes through, while the
//! single-tenant state of the directory (its lock, its blob) is left untouched.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pamform::state::Storage;
use pamform::state::lock::{self, LockGuard, LockInfo};
use serde_json::json;

use crate::support::azurite::{self, Azurite};
use crate::support::cli::{Run, Workspace};
use crate::support::fleet::{Approvers, Fleet, all, baseline, fleet_file, report, statuses, tenant};

/// One more policy for every tenant, so that each has something to apply.
const MORE: &str = "\naccess_policy \"search\" {\n  task           = \"Exchange\\\\New-MailboxSearch\"\n  approver_group = approver_group.main\n}\n";

/// The backend block's key; tenant NAME's blob is `tenants/NAME/KEY`.
const KEY: &str = "prod.pamform.state.json";

/// Adds [`MORE`] to the workspace's configuration.
fn add_a_policy(ws: &Workspace) {
    let config = std::fs::read_to_string(ws.file("main.pam.hcl")).unwrap() + MORE;
    ws.write("main.pam.hcl", &config);
}

/// Spawns `cmd` and waits until the lock of the state directory `dir` is held; the caller
/// waits for the child.
#[allow(clippy::zombie_processes)]
fn hold_local(mut cmd: Command, dir: &Path) -> (Child, LockInfo) {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(info) = lock::holder(dir).unwrap() {
            return (child, info);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{:?} never took the lock of {}", cmd.get_args().collect::<Vec<_>>(), dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `fleet apply` with t2's lock held: exit 1, t1 and t3 applied, and t2's line naming the
/// holder's id and the command that removes that lock; the line.
fn refused_naming_the_command(run: Run, id: &str) -> String {
    let r = report(&run.expect(1));
    assert_eq!(
        statuses(&r),
        vec![("t1".into(), "applied".into()), ("t2".into(), "error".into()), ("t3".into(), "applied".into())]
    );
    let line = tenant(&r, "t2")["error"].as_str().unwrap().to_string();
    assert!(line.contains(&format!("`pamform fleet force-unlock t2 {id}`")), "{line}");
    assert!(
        !line.contains("`pamform force-unlock"),
        "the single-tenant command acts on another state: {line}"
    );
    line
}

#[test]
fn a_held_tenant_lock_is_named_and_removed_by_fleet_force_unlock() {
    let fleet = Fleet::start(3);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(3, &[]));
    let applied = report(&ws.run(&["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    assert_eq!(statuses(&applied), all(3, "applied"));
    // The directory's own (single-tenant) lock, held throughout by someone else.
    let single = LockGuard::acquire(ws.path(), "pamform apply", Duration::ZERO).unwrap();

    // Another fleet apply holds t2's lock (t2's Exchange answering slowly keeps it busy).
    add_a_policy(&ws);
    fleet.set_faults(2, json!({"exchange_latency_ms": 1000}));
    let t2 = ws.path().join("tenants/t2");
    let (mut holder, info) =
        hold_local(ws.command(&["fleet", "apply", "--auto-approve", "--tenant", "t2"]), &t2);
    assert_eq!(info.command, "pamform fleet apply");
    refused_naming_the_command(ws.run(&["fleet", "apply", "--auto-approve", "--json"]), &info.id);

    // A running holder's lock stays, as with `pamform force-unlock`.
    let live = ws.run(&["fleet", "force-unlock", "t2", &info.id]).expect(1);
    assert!(live.stderr.contains("still running"), "{}", live.all());
    assert_eq!(lock::holder(&t2).unwrap().as_ref(), Some(&info));

    // The holder dies (SIGKILL), leaving its lock file behind.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let wrong = ws.run(&["fleet", "force-unlock", "t2", "not-the-id"]).expect(1);
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.all());
    let unknown = ws.run(&["fleet", "force-unlock", "t9", &info.id]).expect(1);
    assert!(
        unknown.stderr.contains("tenant t9: no such tenant in") && unknown.stderr.contains("t1, t2, t3"),
        "{}",
        unknown.all()
    );
    // The single-tenant lock's id names no lock of t2's state.
    ws.run(&["fleet", "force-unlock", "t2", &single.info.id]).expect(1);
    assert!(t2.join(lock::LOCK_FILE).exists(), "a refused force-unlock removed the lock");

    let removed = ws.run(&["fleet", "force-unlock", "T2", &info.id]).expect(0);
    assert!(removed.stdout.contains(&format!("pid {}", info.pid)), "{}", removed.all());
    assert!(!t2.join(lock::LOCK_FILE).exists(), "{}", removed.all());
    ws.run(&["fleet", "force-unlock", "t2", &info.id]).expect(1);

    fleet.set_faults(2, json!({}));
    let again = report(&ws.run(&["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    let t2_line = tenant(&again, "t2")["status"].as_str().unwrap().to_string();
    assert!(t2_line == "applied" || t2_line == "in_sync", "{again:#}");
    ws.run(&["fleet", "plan", "--detailed-exitcode"]).expect(0);

    // The directory's own state and lock: untouched.
    assert_eq!(lock::holder(ws.path()).unwrap().as_ref(), Some(&single.info));
    assert!(!ws.file("pamform.state.json").exists());
}

#[test]
fn a_held_tenant_lease_is_named_and_broken_by_fleet_force_unlock() {
    let azurite = Azurite::start();
    let fleet = Fleet::start(3);
    let config = format!("{}\n{}", baseline(&fleet.base, Approvers::PerTenant), azurite.backend_block(KEY));
    let ws = fleet.workspace_with(&config, &fleet_file(3, &[]));
    let blob = |name: &str| format!("tenants/{name}/{KEY}");
    // The backend uses a container someone created, as Terraform's does.
    let single_store = azurite.store(KEY);
    let applied = report(&azurite::run(&ws, &["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    assert_eq!(statuses(&applied), all(3, "applied"));
    // The backend block's own (single-tenant) blob, its lease held throughout by someone else.
    let single = single_store.lock("pamform apply", Duration::ZERO).unwrap();
    let single_info = single.info().clone();

    // A fleet apply of t2 takes its lease and dies (SIGKILL): the lease outlives it.
    add_a_policy(&ws);
    fleet.set_faults(2, json!({"exchange_latency_ms": 1000}));
    let (mut holder, info) = azurite.hold_lease(
        azurite::command(&ws, &["fleet", "apply", "--auto-approve", "--tenant", "t2"]),
        &blob("t2"),
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    fleet.set_faults(2, json!({}));
    let line = refused_naming_the_command(
        azurite::run(&ws, &["fleet", "apply", "--auto-approve", "--json"]),
        &info.id,
    );
    assert!(line.contains(&blob("t2")), "{line}");

    let wrong = azurite::run(&ws, &["fleet", "force-unlock", "t2", "not-the-id"]).expect(1);
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.all());
    let unknown = azurite::run(&ws, &["fleet", "force-unlock", "t9", &info.id]).expect(1);
    assert!(unknown.stderr.contains("no such tenant"), "{}", unknown.all());
    azurite::run(&ws, &["fleet", "force-unlock", "t2", &single_info.id]).expect(1);
    assert_eq!(azurite.store(&blob("t2")).holder().unwrap().as_ref(), Some(&info));

    let broken = azurite::run(&ws, &["fleet", "force-unlock", "t2", &info.id]).expect(0);
    assert!(broken.stdout.contains("Removed the lock"), "{}", broken.all());
    assert_eq!(azurite.store(&blob("t2")).holder().unwrap(), None);

    let again = report(&azurite::run(&ws, &["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    assert_eq!(tenant(&again, "t2")["status"], "applied", "{again:#}");
    azurite::run(&ws, &["fleet", "plan", "--detailed-exitcode"]).expect(0);
    for i in 1..=3 {
        assert_eq!(
            azurite.store(&blob(&format!("t{i}"))).load().unwrap().unwrap().resources.len(),
            5,
            "t{i}"
        );
    }

    // The backend block's own blob: still leased by its holder, and holding no state.
    assert_eq!(single_store.holder().unwrap().as_ref(), Some(&single_info));
    assert!(single_store.load().unwrap().is_none());
    drop(single);
}
