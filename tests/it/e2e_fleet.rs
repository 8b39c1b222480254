//! `pamform fleet` end to end: the real binary against one emulator hosting several tenants
//! on 127.0.0.1, with one shared baseline and per-tenant approvers. Apply then a clean drift
//! check; out-of-band changes in two tenants reported with their severities; a tenant with a
//! bad credential and one throttled beyond its retry budget reported while the others
//! complete; shards 1/3, 2/3 and 3/3 merged equal to the unsharded report.

use pamform::emulator::tenancy;
use pamform::wire::exchange::cmdlet;
use serde_json::{Value, json};

use crate::support::cli::Run;
use crate::support::fleet::{Approvers, Fleet, all, fleet_file, report, statuses, tenant};
use crate::support::{APP_ID, APP_SECRET, pamform};

#[test]
fn apply_then_drift_clean_then_out_of_band_changes_by_severity() {
    let fleet = Fleet::start(4);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(4, &[]));

    let plan =
        report(&ws.run(&["fleet", "plan", "--out", "plans", "--detailed-exitcode", "--json"]).expect(2));
    assert_eq!(statuses(&plan), all(4, "changes"));
    assert_eq!(
        tenant(&plan, "t1")["changes"],
        json!({"add": 3, "change": 1, "destroy": 0, "import": 0, "move": 0})
    );
    let applied = report(&ws.run(&["fleet", "apply", "--plans", "plans", "--json"]).expect(0));
    assert_eq!(statuses(&applied), all(4, "applied"));
    for i in 1..=4 {
        assert!(ws.file(&format!("tenants/t{i}/pamform.state.json")).is_file(), "state of t{i}");
    }
    // Each tenant got its own approvers.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.file("tenants/t2/pamform.state.json")).unwrap())
            .unwrap();
    assert!(state.to_string().contains("user003@tenant0002.onmicrosoft.com"), "{state}");
    assert!(!state.to_string().contains("tenant0001"), "{state}");
    ws.run(&["fleet", "plan", "--detailed-exitcode"]).expect(0);
    let clean = report(&ws.run(&["fleet", "drift", "--json"]).expect(0));
    assert_eq!(statuses(&clean), all(4, "in_sync"));

    // Out of band: PAM switched off in t2 (critical), an approver added in t3 (high).
    fleet.invoke(2, cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL, json!({}));
    let group = format!("pam-approvers@{}", tenancy::generated_tenant_domain(3));
    let mallory = format!("user005@{}", tenancy::generated_tenant_domain(3));
    fleet.invoke(3, cmdlet::ADD_GROUP_MEMBER, json!({"Identity": group, "Member": mallory}));
    let run = ws.run(&["fleet", "drift", "--json"]).expect(2);
    let drifted = report(&run);
    assert_eq!(
        statuses(&drifted),
        vec![
            ("t1".into(), "in_sync".into()),
            ("t2".into(), "drift".into()),
            ("t3".into(), "drift".into()),
            ("t4".into(), "in_sync".into())
        ]
    );
    assert_eq!(tenant(&drifted, "t2")["drift"]["highest_severity"], "critical");
    assert_eq!(tenant(&drifted, "t3")["drift"]["highest_severity"], "high");
    assert_eq!(drifted["totals"]["drift"], 2);

    let md = ws.run(&["fleet", "drift", "--format", "markdown"]).expect(2).stdout;
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| t") && l[3..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(rows[0].starts_with("| t2 (Customer 2)") && rows[0].contains("critical"), "{md}");
    assert!(rows[1].starts_with("| t3") && rows[1].contains("high"), "{md}");
    let text = ws.run(&["fleet", "drift", "--tag", "odd"]).expect(2).stdout;
    assert!(text.contains("2 tenants: 1 in sync, 1 drifted") && !text.contains("t2"), "{text}");
}

#[test]
fn failing_tenants_are_reported_while_the_others_complete() {
    let fleet = Fleet::start(4);
    // t2 signs in with a wrong secret (named by its credentials block); t3 is throttled on
    // every Exchange and Graph request, beyond the retry budget.
    let creds =
        "credentials {\n    client_id     = \"T2_CLIENT_ID\"\n    client_secret = \"T2_CLIENT_SECRET\"\n  }";
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(4, &[(2, creds)]));
    fleet.set_faults(3, json!({"throttle_rate": 1.0, "retry_after_ms": 100}));
    let mut cmd = ws.command(&["fleet", "apply", "--auto-approve", "--retry-budget", "2s", "--json"]);
    cmd.env("T2_CLIENT_ID", APP_ID).env("T2_CLIENT_SECRET", "not-the-secret");
    let run = Run::from(cmd.output().unwrap()).expect(1);
    let r = report(&run);
    assert_eq!(
        statuses(&r),
        vec![
            ("t1".into(), "applied".into()),
            ("t2".into(), "error".into()),
            ("t3".into(), "error".into()),
            ("t4".into(), "applied".into())
        ]
    );
    let bad = tenant(&r, "t2")["error"].as_str().unwrap();
    assert!(bad.contains("AADSTS7000215") || bad.to_lowercase().contains("secret"), "{bad}");
    assert!(
        !run.all().contains("not-the-secret") && !run.all().contains(APP_SECRET),
        "no secret in the output"
    );
    let throttled = tenant(&r, "t3")["error"].as_str().unwrap();
    assert!(throttled.contains("429") || throttled.to_lowercase().contains("throttl"), "{throttled}");
    assert_eq!(
        r["totals"],
        json!({"tenants": 4, "in_sync": 0, "changes": 0, "drift": 0, "applied": 2, "error": 2})
    );
    // Their text report says why, and the others' state is written.
    assert!(ws.file("tenants/t4/pamform.state.json").is_file());
    assert!(!ws.file("tenants/t3/pamform.state.json").exists());
}

#[test]
fn shard_reports_merged_equal_the_unsharded_report() {
    let fleet = Fleet::start(6);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(6, &[]));
    ws.run(&["fleet", "apply", "--auto-approve", "-q"]).expect(0);
    fleet.invoke(5, cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL, json!({}));
    let whole = report(&ws.run(&["fleet", "drift", "--json"]).expect(2));
    let mut files = Vec::new();
    let mut seen = 0;
    for i in 1..=3 {
        let file = format!("shard-{i}.json");
        let run = ws.run(&["fleet", "drift", "-q", "--shard", &format!("{i}/3"), "--report", &file]);
        assert!(run.code == 0 || run.code == 2, "{}", run.all());
        let part: Value = serde_json::from_str(&std::fs::read_to_string(ws.file(&file)).unwrap()).unwrap();
        seen += part["tenants"].as_array().unwrap().len();
        files.push(file);
    }
    assert_eq!(seen, 6, "every tenant in exactly one shard");
    // A Kubernetes completion index counts from 0.
    let zero = report(&ws.run(&["fleet", "drift", "-q", "--shard", "0/3", "--shard-base", "0", "--json"]));
    let first: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.file("shard-1.json")).unwrap()).unwrap();
    assert_eq!(zero["tenants"], first["tenants"]);
    let mut args = vec!["fleet", "report", "merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let merged = report(&ws.run(&args).expect(2));
    assert_eq!(merged["tenants"], whole["tenants"]);
    assert_eq!(merged["totals"], whole["totals"]);
    assert_eq!(merged["shards"].as_array().unwrap().len(), 3);

    // The same shard twice, or a missing one, is said clearly.
    let twice = ws.run(&["fleet", "report", "merge", "shard-1.json", "shard-1.json"]).expect(1);
    assert!(twice.stderr.contains("shard 1/3 is given twice"), "{}", twice.stderr);
    let partial = ws.run(&["fleet", "report", "merge", "shard-1.json", "shard-2.json"]).expect(1);
    assert!(partial.stdout.contains("shard 3/3 is missing"), "{}", partial.all());
    let mismatched = ws.run(&["fleet", "drift", "-q", "--shard", "1/2", "--report", "other.json"]);
    assert!(mismatched.code == 0 || mismatched.code == 2);
    let refused = ws.run(&["fleet", "report", "merge", "shard-1.json", "other.json"]).expect(1);
    assert!(refused.stderr.contains("one --shard I/N split"), "{}", refused.stderr);
    let out = pamform().args(["fleet", "drift", "--shard", "4/3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_bad_fleet_file_is_refused_with_its_position() {
    let fleet = Fleet::start(1);
    let ws = fleet.workspace(
        Approvers::PerTenant,
        "tenant \"t1\" {\n  id = \"tenant0001.onmicrosoft.com\"\n  secret = \"x\"\n}\n",
    );
    let run = ws.run(&["fleet", "drift"]).expect(1);
    assert!(run.stderr.contains("fleet.hcl:3:3: unknown attribute `secret`"), "{}", run.stderr);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(1, &[]));
    let run = ws.run(&["fleet", "drift", "--tenant", "nope"]).expect(1);
    assert!(run.stderr.contains("--tenant nope: no such tenant"), "{}", run.stderr);
    let run = ws.run(&["fleet", "drift"]).expect(1);
    assert!(run.stdout.contains("no state in"), "{}", run.stdout);
}

#[test]
fn the_example_fleet_names_the_seeded_tenants() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let fleet = pamform::fleet::file::read(&root.join("fleet.hcl")).unwrap();
    let ids: Vec<String> = fleet.tenants.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids, (1..=3).map(tenancy::generated_tenant_domain).collect::<Vec<_>>());
}
