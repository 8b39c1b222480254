//! Fleets misused as a careless admin would: the real binary against one emulator hosting
//! several tenants on 127.0.0.1 (and Azurite for remote state). A tenant renamed in the fleet
//! file (or only its case changed) whose state is still under its old name, locally or in its
//! blob, is refused instead of adopting its objects afresh beside the orphaned state; a tenant
//! name ending in a dot and a backend key with `.` or `..` segments (either would let tenants
//! share one state) are refused; a report file that cannot be written does not hide the report
//! of what an apply did; a shard report saved with a byte order mark merges.

use pamform::emulator::tenancy;
use pamform::state::Storage;

use crate::support::azurite::{self, Azurite};
use crate::support::cli::Workspace;
use crate::support::fleet::{Approvers, Fleet, all, baseline, fleet_file, report, statuses, tenant};

/// `fleet.hcl` with tenant `from` renamed `to`.
fn rename(ws: &Workspace, from: &str, to: &str) {
    let text = std::fs::read_to_string(ws.file("fleet.hcl")).unwrap();
    let renamed = text.replace(&format!("tenant \"{from}\""), &format!("tenant \"{to}\""));
    assert_ne!(renamed, text, "{from} is in the fleet file");
    ws.write("fleet.hcl", &renamed);
}

/// The error of tenant `name` in the JSON report of `run`.
fn error_of(v: &serde_json::Value, name: &str) -> String {
    let line = tenant(v, name);
    assert_eq!(line["status"], "error", "{line:#}");
    line["error"].as_str().unwrap().to_string()
}

#[test]
fn a_tenant_renamed_in_the_fleet_file_is_refused_while_its_state_is_under_its_old_name() {
    let fleet = Fleet::start(3);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(2, &[]));
    let applied = report(&ws.run(&["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    assert_eq!(statuses(&applied), all(2, "applied"));
    let before = fleet.writes(1);

    for new in ["contoso", "T1"] {
        rename(&ws, "t1", new);
        // Planned from no state, the tenant's objects would be imported afresh under the new
        // name and the state that manages them left behind with no word.
        let plan = report(&ws.run(&["fleet", "plan", "--json"]).expect(1));
        let e = error_of(&plan, new);
        assert!(e.contains("`t1`") && e.contains("tenants/t1/") && e.contains("renamed"), "{e}");
        assert_eq!(tenant(&plan, "t2")["status"], "in_sync");
        let drift = report(&ws.run(&["fleet", "drift", "--json"]).expect(1));
        assert!(error_of(&drift, new).contains("`t1`"));
        let apply = report(&ws.run(&["fleet", "apply", "--auto-approve", "--json"]).expect(1));
        assert!(error_of(&apply, new).contains("`t1`"));
        assert_eq!(fleet.writes(1), before, "nothing written to the renamed tenant");
        assert!(!ws.path().join("tenants").join(new).exists(), "nothing written for {new}");
        rename(&ws, new, "t1");
    }

    // A tenant removed from the fleet file keeps its state; every run says so, once.
    let kept = std::fs::read_to_string(ws.file("fleet.hcl")).unwrap();
    ws.write("fleet.hcl", &kept[..kept.find("tenant \"t2\"").unwrap()]);
    let removed = ws.run(&["fleet", "plan", "--json"]).expect(0);
    assert_eq!(removed.stderr.matches("a state is kept for `t2`").count(), 1, "{}", removed.stderr);
    assert!(removed.stderr.contains("tenants/t2"), "{}", removed.stderr);
    ws.write("fleet.hcl", &kept);
    let listed = ws.run(&["fleet", "plan", "--json"]).expect(0);
    assert!(!listed.stderr.contains("a state is kept for"), "{}", listed.stderr);

    // The state moved to the new name: the tenant is itself again, in sync.
    rename(&ws, "t1", "contoso");
    std::fs::rename(ws.path().join("tenants/t1"), ws.path().join("tenants/contoso")).unwrap();
    let drift = report(&ws.run(&["fleet", "drift", "--json"]).expect(0));
    assert_eq!(
        statuses(&drift),
        vec![("contoso".to_string(), "in_sync".to_string()), ("t2".to_string(), "in_sync".to_string())]
    );
    // A tenant new to the fleet, with no state anywhere, is planned as usual.
    let third = fleet_file(3, &[]);
    let third = &third[third.find("tenant \"t3\"").unwrap()..];
    ws.write("fleet.hcl", &(std::fs::read_to_string(ws.file("fleet.hcl")).unwrap() + third));
    let plan = report(&ws.run(&["fleet", "plan", "--tenant", "t3", "--json"]).expect(0));
    assert_eq!(tenant(&plan, "t3")["status"], "changes");
}

#[test]
fn a_tenant_renamed_with_remote_state_is_refused_while_its_blob_is_under_its_old_name() {
    const KEY: &str = "prod.pamform.state.json";
    let azurite = Azurite::start();
    let fleet = Fleet::start(2);
    let config = format!("{}\n{}", baseline(&fleet.base, Approvers::PerTenant), azurite.backend_block(KEY));
    let ws = fleet.workspace_with(&config, &fleet_file(2, &[]));
    azurite.store(&format!("tenants/t1/{KEY}"));
    let applied = report(&azurite::run(&ws, &["fleet", "apply", "--auto-approve", "--json"]).expect(0));
    assert_eq!(statuses(&applied), all(2, "applied"));
    let before = fleet.writes(1);

    rename(&ws, "t1", "contoso");
    let plan = report(&azurite::run(&ws, &["fleet", "plan", "--json"]).expect(1));
    let e = error_of(&plan, "contoso");
    assert!(e.contains("`t1`") && e.contains(&format!("tenants/t1/{KEY}")), "{e}");
    let apply = report(&azurite::run(&ws, &["fleet", "apply", "--auto-approve", "--json"]).expect(1));
    assert!(error_of(&apply, "contoso").contains("`t1`"));
    assert_eq!(fleet.writes(1), before, "nothing written to the renamed tenant");
    assert_eq!(
        azurite.blob_names(),
        vec![format!("tenants/t1/{KEY}"), format!("tenants/t2/{KEY}")],
        "no second blob for the renamed tenant"
    );

    let state = azurite.store(&format!("tenants/t1/{KEY}")).load().unwrap().unwrap();
    assert_eq!(state.tenant, tenancy::generated_tenant_domain(1), "the old blob is untouched");

    // Named t1 again, the tenant is itself, in sync.
    rename(&ws, "contoso", "t1");
    let drift = report(&azurite::run(&ws, &["fleet", "drift", "--json"]).expect(0));
    assert_eq!(statuses(&drift), all(2, "in_sync"));
}

#[test]
fn a_tenant_name_ending_in_a_dot_is_refused_with_its_position() {
    // Windows drops a trailing dot from a directory name, and Azure Storage asks that no path
    // segment of a blob name end with one: `t1.` would share `t1`'s state.
    let fleet = Fleet::start(2);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(2, &[]));
    rename(&ws, "t2", "t1.");
    let r = ws.run(&["fleet", "plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("fleet.hcl:") && r.stderr.contains("`t1.`"), "{}", r.all());
    assert!(r.stderr.contains("end with"), "{}", r.all());
    assert!(!ws.path().join("tenants").exists(), "nothing was read or written");
}

#[test]
fn a_report_file_that_cannot_be_written_still_shows_what_the_apply_did() {
    let fleet = Fleet::start(2);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(2, &[]));
    let run =
        ws.run(&["fleet", "apply", "--auto-approve", "-q", "--json", "--report", "missing/dir/apply.json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("cannot write the report missing/dir/apply.json"), "{}", run.all());
    // Both tenants were changed: the report of it is on stdout, not lost with the file.
    assert_eq!(statuses(&report(&run)), all(2, "applied"));
    assert!(ws.path().join("tenants/t1/pamform.state.json").exists());
}

#[test]
fn a_shard_report_saved_with_a_byte_order_mark_merges() {
    let fleet = Fleet::start(2);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(2, &[]));
    ws.run(&["fleet", "apply", "--auto-approve", "-q"]).expect(0);
    for i in 1..=2 {
        // `--json` redirected by a shell that writes UTF-8 with a byte order mark.
        let run = ws.run(&["fleet", "drift", "-q", "--json", "--shard", &format!("{i}/2")]).expect(0);
        ws.write(&format!("shard{i}.json"), &format!("\u{feff}{}", run.stdout));
    }
    let merged = ws.run(&["fleet", "report", "merge", "shard1.json", "shard2.json", "--json"]).expect(0);
    assert_eq!(statuses(&report(&merged)), all(2, "in_sync"));
}

#[test]
fn a_backend_key_with_dot_segments_is_refused_before_tenants_share_one_blob() {
    // `tenants/t1/../../shared.json` is `shared.json` once in a URL: every tenant's blob.
    let azurite = Azurite::start();
    let fleet = Fleet::start(2);
    for key in ["../../shared.pamform.state.json", "./x/../../../shared.json"] {
        let config =
            format!("{}\n{}", baseline(&fleet.base, Approvers::PerTenant), azurite.backend_block(key));
        let ws = fleet.workspace_with(&config, &fleet_file(2, &[]));
        azurite.store("placeholder-for-the-container");
        let run = azurite::run(&ws, &["fleet", "apply", "--auto-approve", "--json", "--parallelism", "1"]);
        assert_eq!(run.code, 1, "{key}: {}", run.all());
        assert!(run.stderr.contains("`key` is not a blob name"), "{key}: {}", run.all());
        assert_eq!(azurite.blob_names(), Vec::<String>::new(), "{key}: nothing written");
        assert_eq!(fleet.writes(1) + fleet.writes(2), 0, "{key}: no tenant changed");
    }
}
