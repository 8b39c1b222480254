//! `pamform fleet` with a `backend "azurerm"` block, against Azurite and one emulator hosting
//! several tenants: one state blob per tenant (`tenants/NAME/KEY`), each holding only its own
//! tenant's objects, no local state file, a clean drift check, and a tenant whose lease is
//! held by another command reported with that holder while the others apply.

use std::path::Path;

use pamform::emulator::tenancy;
use pamform::state::{State, Storage};

use crate::support::azurite::{self, Azurite, run};
use crate::support::cli::Workspace;
use crate::support::fleet::{Approvers, Fleet, all, baseline, fleet_file, report, statuses, tenant};

/// The backend block's key; tenant NAME's blob is `tenants/NAME/KEY`.
const KEY: &str = "prod.pamform.state.json";

fn blob(name: &str) -> String {
    format!("tenants/{name}/{KEY}")
}

/// The fleet's baseline with its state in `azurite`, and a fleet file of tenants 1..=n.
fn remote_workspace(fleet: &Fleet, azurite: &Azurite, n: usize) -> Workspace {
    let config = format!("{}\n{}", baseline(&fleet.base, Approvers::PerTenant), azurite.backend_block(KEY));
    fleet.workspace_with(&config, &fleet_file(n, &[]))
}

/// Every file under `dir` whose name starts with `pamform.state` (state, backup, lock).
fn local_state_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name().unwrap().to_string_lossy().starts_with("pamform.state") {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found
}

/// Tenant `i`'s state, from its blob.
fn remote_state(azurite: &Azurite, i: usize) -> State {
    azurite
        .store(&blob(&format!("t{i}")))
        .load()
        .unwrap()
        .unwrap_or_else(|| panic!("no state in t{i}'s blob"))
}

#[test]
fn each_tenant_has_its_own_blob_and_a_held_lease_fails_only_its_tenant() {
    let azurite = Azurite::start();
    let fleet = Fleet::start(3);
    let ws = remote_workspace(&fleet, &azurite, 3);
    // The backend uses a container someone created, as Terraform's does.
    azurite.store(&blob("t1"));

    let applied = report(&run(&ws, &["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    assert_eq!(statuses(&applied), all(3, "applied"));
    assert_eq!(azurite.blob_names(), vec![blob("t1"), blob("t2"), blob("t3")]);
    for i in 1..=3 {
        let state = remote_state(&azurite, i);
        assert_eq!(state.tenant, tenancy::generated_tenant_domain(i));
        assert_eq!(state.resources.len(), 4, "t{i}: {:?}", state.resources);
        let text = String::from_utf8(state.to_bytes()).unwrap();
        // Its own approvers (user001 up to user00(1 + i % 3)) and nobody else's tenant.
        for u in 1..=1 + i % 3 {
            let member = format!("user{u:03}@{}", tenancy::generated_tenant_domain(i));
            assert!(text.contains(&member), "t{i} lacks {member}: {text}");
        }
        for j in (1..=3).filter(|j| *j != i) {
            assert!(
                !text.contains(&tenancy::generated_tenant_domain(j)),
                "t{i} holds t{j}'s objects: {text}"
            );
        }
    }
    assert_eq!(local_state_files(ws.path()), Vec::<String>::new(), "no local state beside a backend");

    let drift = report(&run(&ws, &["fleet", "drift", "--json"]).expect(0));
    assert_eq!(statuses(&drift), all(3, "in_sync"));
    run(&ws, &["fleet", "plan", "--detailed-exitcode"]).expect(0);

    // A third policy for every tenant, while another fleet apply holds t2's lease (t2's
    // Exchange answering slowly keeps it busy).
    let more = "\naccess_policy \"search\" {\n  task           = \"Exchange\\\\New-MailboxSearch\"\n  approver_group = approver_group.main\n}\n";
    let config = std::fs::read_to_string(ws.file("main.pam.hcl")).unwrap() + more;
    ws.write("main.pam.hcl", &config);
    fleet.set_faults(2, serde_json::json!({"exchange_latency_ms": 1000}));
    let (holder, info) = azurite.hold_lease(
        azurite::command(&ws, &["fleet", "apply", "--auto-approve", "--tenant", "t2"]),
        &blob("t2"),
    );
    let second = run(&ws, &["fleet", "apply", "--auto-approve", "--json"]).expect(1);
    let r = report(&second);
    assert_eq!(
        statuses(&r),
        vec![("t1".into(), "applied".into()), ("t2".into(), "error".into()), ("t3".into(), "applied".into())]
    );
    let refused = tenant(&r, "t2")["error"].as_str().unwrap();
    assert!(refused.contains(&blob("t2")), "the message names the blob: {refused}");
    assert!(
        refused.contains(&info.id) && refused.contains(&format!("pid {}", holder.id())),
        "the message names the holder: {refused}"
    );
    assert!(refused.contains("pamform fleet apply"), "{refused}");
    let held = holder.wait_with_output().unwrap();
    assert!(held.status.success(), "{}", String::from_utf8_lossy(&held.stderr));

    fleet.set_faults(2, serde_json::json!({}));
    run(&ws, &["fleet", "plan", "--detailed-exitcode"]).expect(0);
    for i in 1..=3 {
        assert_eq!(remote_state(&azurite, i).resources.len(), 5, "t{i}");
        assert_eq!(azurite.store(&blob(&format!("t{i}"))).holder().unwrap(), None, "t{i}'s lease released");
    }
    assert_eq!(azurite.blob_names(), vec![blob("t1"), blob("t2"), blob("t3")]);
    assert_eq!(local_state_files(ws.path()), Vec::<String>::new(), "no local state beside a backend");
}
