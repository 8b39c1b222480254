//! Hostile and careless use of `pamform fleet`: the real binary against one emulator hosting
//! several tenants on 127.0.0.1.

use std::process::{Child, Command, Stdio};

use pamform::emulator::tenancy;
use serde_json::Value;

use crate::support::APP_ID;
use crate::support::cli::{Run, Workspace};
use crate::support::fleet::{Approvers, Fleet, json, named_tenants, tenant};

fn interrupt(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn ctrl_c_during_fleet_apply_records_what_ran_releases_locks_and_starts_no_other_tenant() {
    let fleet = Fleet::start(2);
    // Every Exchange answer of tenant 1 takes 1.5 s: once its first write is done, the next
    // operation is in flight for a while.
    fleet.set_faults(1, serde_json::json!({"exchange_latency_ms": 1500}));
    let ws = fleet.workspace(Approvers::FirstUser, &named_tenants(&[("a", 1), ("b", 2)]));
    let mut child = ws
        .command(&["fleet", "apply", "--auto-approve", "--parallelism", "1", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while fleet.writes(1) == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the apply ended before its first write");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 1, "an interrupted fleet apply ends as a failure, with its report\n{}", run.all());
    let v = json(&run);
    // Tenant a finished what was in flight: applied, or unfinished.
    assert!(["applied", "error"].contains(&tenant(&v, "a")["status"].as_str().unwrap()), "{v:#}");
    let b = tenant(&v, "b");
    assert_eq!(b["status"], "error", "{v:#}");
    assert!(b["error"].as_str().unwrap().contains("interrupted"), "{v:#}");
    assert_eq!(fleet.writes(2), 0, "no tenant starts after the interrupt");

    // What tenant a's apply did is recorded, and its lock is released.
    let dir = ws.path().join("tenants").join("a");
    assert!(!dir.join(pamform::state::lock::LOCK_FILE).exists(), "the lock was left behind");
    let state = pamform::state::StateStore::new(&dir).load().unwrap().expect("state saved");
    assert!(!state.resources.is_empty());
    let done = fleet.writes(1);
    assert!(done >= 1);

    fleet.set_faults(1, serde_json::json!({}));
    let again = ws.run(&["fleet", "apply", "--auto-approve", "--lock-timeout", "0s"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let plan = ws.run(&["fleet", "plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}

#[test]
fn one_tenant_listed_by_its_domain_and_by_its_guid_is_refused_before_anything_is_written() {
    let fleet = Fleet::start(2);
    let domain = tenancy::generated_tenant_domain(1);
    let guid = tenancy::generated_tenant_id(1);
    let hcl = format!(
        "tenant \"by-domain\" {{\n  id = \"{domain}\"\n  vars = {{ domain = \"{domain}\" }}\n}}\ntenant \"by-guid\" {{\n  id = \"{guid}\"\n  vars = {{ domain = \"{domain}\" }}\n}}\n"
    );
    let ws = fleet.workspace(Approvers::FirstUser, &hcl);
    let run = ws.run(&["fleet", "apply", "--auto-approve", "--json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let v = json(&run);
    let refused: Vec<&Value> = v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["error"].as_str().is_some_and(|e| e.contains("same tenant")))
        .collect();
    assert_eq!(refused.len(), 1, "one of the two names is refused: {v:#}");
    let refused = refused[0]["name"].as_str().unwrap();
    assert!(
        !ws.path().join("tenants").join(refused).join(pamform::state::STATE_FILE).exists(),
        "the refused name got a state of the same tenant"
    );
}

#[test]
fn an_id_with_spaces_is_the_same_id() {
    let fleet = Fleet::start(1);
    let domain = tenancy::generated_tenant_domain(1);
    let hcl = format!(
        "tenant \"a\" {{\n  id = \"{domain}\"\n  vars = {{ domain = \"{domain}\" }}\n}}\ntenant \"b\" {{\n  id = \" {domain} \"\n  vars = {{ domain = \"{domain}\" }}\n}}\n"
    );
    let ws = fleet.workspace(Approvers::FirstUser, &hcl);
    let run = ws.run(&["fleet", "plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("is in the fleet twice"), "{}", run.all());
}

#[test]
fn a_huge_shard_index_is_a_usage_error_not_a_crash() {
    let fleet = Fleet::start(1);
    let ws = fleet.workspace(Approvers::FirstUser, &named_tenants(&[("a", 1)]));
    for shard in ["4294967295/3", "4294967296/3"] {
        let run = ws.run(&["fleet", "plan", "--shard", shard]);
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.stderr.contains("is not a shard"), "{shard}: {}", run.all());
    }
}

/// The JSON reports of `fleet plan --shard I/N` for every I, as files in the workspace.
fn shard_reports(ws: &Workspace, count: u32) -> Vec<std::path::PathBuf> {
    (1..=count)
        .map(|i| {
            let path = ws.path().join(format!("shard{i}.json"));
            let shard = format!("{i}/{count}");
            let run = ws.run(&["fleet", "plan", "--shard", &shard, "--report", path.to_str().unwrap()]);
            assert!(run.code == 0 || run.code == 1, "{}", run.all());
            path
        })
        .collect()
}

#[test]
fn merge_refuses_hand_edited_shard_reports() {
    let fleet = Fleet::start(6);
    let tenants: Vec<(String, usize)> = (1..=6).map(|i| (format!("t{i}"), i)).collect();
    let named: Vec<(&str, usize)> = tenants.iter().map(|(n, i)| (n.as_str(), *i)).collect();
    let ws = fleet.workspace(Approvers::FirstUser, &named_tenants(&named));
    let files = shard_reports(&ws, 2);
    let args = |files: &[std::path::PathBuf]| -> Vec<String> {
        let mut a = vec!["fleet".to_string(), "report".into(), "merge".into(), "--json".into()];
        a.extend(files.iter().map(|f| f.display().to_string()));
        a
    };
    let merge = |files: &[std::path::PathBuf]| {
        let a = args(files);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        ws.run(&refs)
    };
    let whole = merge(&files);
    assert!(whole.code == 0 || whole.code == 1, "{}", whole.all());
    assert_eq!(json(&whole)["tenants"].as_array().unwrap().len(), 6);

    // A tenant's line moved from shard 2's report into shard 1's.
    let mut one: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let mut two: Value = serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    let moved = two["tenants"].as_array_mut().unwrap().pop().expect("shard 2 has tenants");
    let mut edited_one = one.clone();
    edited_one["tenants"].as_array_mut().unwrap().push(moved);
    let (e1, e2) = (ws.path().join("e1.json"), ws.path().join("e2.json"));
    std::fs::write(&e1, edited_one.to_string()).unwrap();
    std::fs::write(&e2, two.to_string()).unwrap();
    let run = merge(&[e1, e2]);
    assert_eq!(run.code, 1, "a tenant in the report of a shard it is not of: {}", run.all());
    assert!(run.stderr.contains("not of its shard"), "{}", run.all());

    let edited = ws.path().join("edited.json");
    // A shard that no split makes.
    one["shards"] = serde_json::json!([{"index": 0, "count": 0}]);
    std::fs::write(&edited, one.to_string()).unwrap();
    let run = merge(std::slice::from_ref(&edited));
    assert_eq!(run.code, 1, "shard 0/0 merged: {}", run.all());
}

#[test]
fn a_missing_credential_variable_is_named_as_the_fleet_file_names_it() {
    let fleet = Fleet::start(1);
    let domain = tenancy::generated_tenant_domain(1);
    let hcl = format!(
        "tenant \"a\" {{\n  id = \"{domain}\"\n  vars = {{ domain = \"{domain}\" }}\n  credentials {{\n    client_id     = \"A_CLIENT_ID\"\n    client_secret = \"A_CLIENT_SECRET\"\n  }}\n}}\n"
    );
    let ws = fleet.workspace(Approvers::FirstUser, &hcl);
    let run = ws.command(&["fleet", "plan", "--json"]).env("A_CLIENT_ID", APP_ID).output().unwrap();
    let run = Run::from(run);
    assert_eq!(run.code, 1, "{}", run.all());
    let v = json(&run);
    let error = tenant(&v, "a")["error"].as_str().unwrap().to_string();
    assert!(error.contains("A_CLIENT_SECRET"), "the message names the variable to set: {error}");
    assert!(
        !error.contains("PAMFORM_CLIENT_SECRET"),
        "setting PAMFORM_CLIENT_SECRET would not help: {error}"
    );
}

#[test]
fn a_tenant_that_fails_its_plan_keeps_no_earlier_plan_file_to_apply() {
    let fleet = Fleet::start(2);
    let ws = fleet.workspace(Approvers::FirstUser, &named_tenants(&[("a", 1), ("b", 2)]));
    let plans = ws.path().join("plans");
    let out = plans.to_str().unwrap();
    let run = ws.run(&["fleet", "plan", "--out", out]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(plans.join("b.plan").exists());

    // The reviewed run: b cannot be planned, so it has no plan to apply.
    fleet.set_faults(2, serde_json::json!({"server_error_rate": 1.0}));
    let run = ws.run(&["fleet", "plan", "--out", out, "--retry-budget", "1s", "--json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(tenant(&json(&run), "b")["status"], "error");
    fleet.set_faults(2, serde_json::json!({}));

    let run = ws.run(&["fleet", "apply", "--plans", out, "--json"]);
    let v = json(&run);
    assert_eq!(tenant(&v, "a")["status"], "applied", "{v:#}");
    assert_eq!(tenant(&v, "b")["status"], "error", "b's plan of an earlier run was applied: {v:#}");
    assert_eq!(fleet.writes(2), 0);
}
