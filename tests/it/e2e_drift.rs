//! `pamform drift` through the real binary against the emulator: every kind of out-of-band
//! change an admin makes with PowerShell is found with its severity, differences of case or
//! order are not drift, a failed read is an error, `apply --refresh-only` accepts drift, and
//! a repeated check goes through the Graph delta cache with a handful of requests.

use pamform::wire::exchange::cmdlet;
use serde_json::{Value, json};

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::upn;

const GROUP: &str = "pam-approvers@contoso.onmicrosoft.com";

/// A tenant with the quickstart applied, and a first drift check (a full read) in sync.
fn applied() -> (Tenant, Workspace) {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let report = drift(&ws, 0);
    assert_eq!(report["in_sync"], json!(true), "{report:#}");
    (tenant, ws)
}

/// Runs `drift --json`, checks the exit code and the schema, returns the report.
fn drift(ws: &Workspace, code: i32) -> Value {
    let run = ws.run(&["drift", "--json"]).expect(code);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let schema: Value =
        serde_json::from_str(include_str!("../../schemas/drift.schema.json")).expect("schema parses");
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{report:#}");
    report
}

/// The (attribute, severity) pairs reported for `address`.
fn found(report: &Value, address: &str) -> Vec<(String, String)> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["address"] == address)
        .map(|d| (d["attribute"].as_str().unwrap().to_string(), d["severity"].as_str().unwrap().to_string()))
        .collect()
}

fn pair(a: &str, s: &str) -> (String, String) {
    (a.to_string(), s.to_string())
}

fn policy_id(tenant: &Tenant, task: &str) -> String {
    tenant
        .policies()
        .iter()
        .find(|p| p["Task"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(task)))
        .and_then(|p| p["Identity"].as_str())
        .expect("policy exists")
        .to_string()
}

/// New-DistributionGroup out of band: a mail-enabled security group `alias@` the tenant
/// domain with one member.
fn new_group(tenant: &Tenant, name: &str, alias: &str, member: &str) {
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({"Name": name, "Alias": alias, "Type": "Security",
               "PrimarySmtpAddress": format!("{alias}@contoso.onmicrosoft.com"), "Members": [upn(member)]}),
    );
}

/// Graph requests counted by the emulator so far.
fn graph_requests(tenant: &Tenant) -> u64 {
    let c = tenant.counters();
    c["per_endpoint"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("graph "))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum()
}

fn exchange_requests(tenant: &Tenant) -> u64 {
    tenant.counters()["per_endpoint"]["InvokeCommand"].as_u64().unwrap_or(0)
}

#[test]
fn membership_changes_are_found_through_the_delta_cache() {
    let (tenant, ws) = applied();
    let cache = ws.file(".pamform/drift-cache.json");
    assert!(cache.exists(), "the first check leaves a delta cache beside the state");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(!text.contains(tenant.secret()), "no secrets in the cache");

    // An unchanged tenant: one Graph request (the delta) and the two PAM reads.
    let (g, x) = (graph_requests(&tenant), exchange_requests(&tenant));
    drift(&ws, 0);
    assert_eq!(graph_requests(&tenant) - g, 1, "an unchanged tenant costs one delta request");
    assert_eq!(exchange_requests(&tenant) - x, 2, "PAM setting and policies, always from Exchange");

    // Add-DistributionGroupMember: approver membership widened.
    tenant.invoke(cmdlet::ADD_GROUP_MEMBER, json!({"Identity": GROUP, "Member": upn("mallory")}));
    let g = graph_requests(&tenant);
    let report = drift(&ws, 2);
    let graph = graph_requests(&tenant) - g;
    assert!(graph <= 5, "the delta check made {graph} Graph requests");
    assert_eq!(found(&report, "approver_group.approvers"), vec![pair("members", "high")], "{report:#}");
    let d = &report["differences"][0];
    assert!(d["in_tenant"].as_array().unwrap().contains(&json!(upn("mallory"))), "{d}");
    assert!(!d["in_state"].as_array().unwrap().contains(&json!(upn("mallory"))), "{d}");
    assert!(d["message"].as_str().unwrap().contains(&upn("mallory")), "{d}");
    // Still reported on the next check (the cache holds the tenant's view, not the state's).
    drift(&ws, 2);

    // Remove-DistributionGroupMember (mallory and bob): narrowed only, medium.
    tenant.invoke(cmdlet::REMOVE_GROUP_MEMBER, json!({"Identity": GROUP, "Member": upn("mallory")}));
    tenant.invoke(cmdlet::REMOVE_GROUP_MEMBER, json!({"Identity": GROUP, "Member": upn("bob")}));
    let report = drift(&ws, 2);
    assert_eq!(found(&report, "approver_group.approvers"), vec![pair("members", "medium")], "{report:#}");

    // Put back in another order and case: no drift.
    tenant.invoke(
        cmdlet::UPDATE_GROUP_MEMBER,
        json!({"Identity": GROUP, "Members": ["BOB@Contoso.onmicrosoft.com", "Alice@CONTOSO.onmicrosoft.com"]}),
    );
    let report = drift(&ws, 0);
    assert_eq!(report["differences"], json!([]));
    // A full read agrees with the delta path.
    let run = ws.run(&["drift", "--no-cache", "--json"]).expect(0);
    assert!(run.stdout.contains("\"in_sync\": true"), "{}", run.stdout);

    // A delta link older than Graph keeps them (7 days) answers 410: the check reads
    // everything again, still finds a change, and starts a new link.
    tenant.advance_clock(8 * 24 * 3600);
    tenant.invoke(cmdlet::ADD_GROUP_MEMBER, json!({"Identity": GROUP, "Member": upn("erin")}));
    let g = graph_requests(&tenant);
    let report = drift(&ws, 2);
    assert!(graph_requests(&tenant) - g > 2, "an expired link means a full read");
    assert_eq!(found(&report, "approver_group.approvers"), vec![pair("members", "high")]);
    let g = graph_requests(&tenant);
    drift(&ws, 2);
    assert_eq!(graph_requests(&tenant) - g, 1, "the new link is used next time");
}

#[test]
fn pam_changes_are_critical_or_high() {
    let (tenant, ws) = applied();
    tenant.invoke(cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL, json!({}));
    let report = drift(&ws, 2);
    assert_eq!(found(&report, "privileged_access"), vec![pair("enabled", "critical")], "{report:#}");
    assert_eq!(report["summary"]["critical"], json!(1));

    // Enable-ElevatedAccessControl with another group and one more system account.
    new_group(&tenant, "Other Approvers", "other-approvers", "carol");
    tenant.invoke(
        cmdlet::ENABLE_ELEVATED_ACCESS_CONTROL,
        json!({"AdminGroup": "other-approvers@contoso.onmicrosoft.com",
               "SystemAccounts": [upn("svc-pamform"), upn("svc-backup")]}),
    );
    let report = drift(&ws, 2);
    assert_eq!(
        found(&report, "privileged_access"),
        vec![pair("default_approver_group", "high"), pair("system_accounts", "high")],
        "{report:#}"
    );
    let unmanaged = report["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1, "{report:#}");
    assert_eq!(
        (unmanaged[0]["type"].clone(), unmanaged[0]["severity"].clone()),
        (json!("approver_group"), json!("info"))
    );

    // The text and Markdown forms say the same, grouped by severity.
    let text = ws.run(&["drift"]).expect(2).stdout;
    let high = text.find("HIGH").expect("a HIGH section");
    assert!(text[high..].contains("privileged_access system_accounts"), "{text}");
    assert!(text.contains(&upn("svc-backup")), "{text}");
    let md = ws.run(&["drift", "--format", "markdown"]).expect(2).stdout;
    assert!(md.starts_with("<!-- pamform-drift -->\n**pamform drift**: 2 differences"), "{md}");

    // apply --refresh-only accepts the tenant's values; then only the unmanaged group is left.
    let state_before = ws.state().unwrap();
    ws.run(&["apply", "--refresh-only", "--auto-approve"]).expect(0);
    assert!(ws.state().unwrap().serial > state_before.serial);
    let report = drift(&ws, 2);
    assert_eq!(report["differences"], json!([]), "{report:#}");
    assert_eq!(report["unmanaged"].as_array().unwrap().len(), 1);
    // Once nothing points at the unmanaged group any more, the check is clean.
    tenant.invoke(
        cmdlet::ENABLE_ELEVATED_ACCESS_CONTROL,
        json!({"AdminGroup": GROUP, "SystemAccounts": [upn("svc-pamform"), upn("svc-backup")]}),
    );
    ws.run(&["apply", "--refresh-only", "--auto-approve"]).expect(0);
    drift(&ws, 0);
}

#[test]
fn policy_changes_removed_recreated_and_unmanaged() {
    let (tenant, ws) = applied();

    // Remove-ElevatedAccessApprovalPolicy: critical.
    let id = policy_id(&tenant, "Exchange\\Set-Mailbox");
    tenant.invoke(cmdlet::REMOVE_POLICY, json!({"Identity": id}));
    let report = drift(&ws, 2);
    assert_eq!(found(&report, "access_policy.set_mailbox"), vec![pair("*", "critical")], "{report:#}");

    // Recreated with another approver group: the group change is high, the new id medium.
    new_group(&tenant, "Helpdesk", "helpdesk", "dave");
    tenant.invoke(
        cmdlet::NEW_POLICY,
        json!({"Task": "Exchange\\Set-Mailbox", "ApprovalType": "Manual",
               "ApproverGroup": "helpdesk@contoso.onmicrosoft.com"}),
    );
    let report = drift(&ws, 2);
    assert_eq!(
        found(&report, "access_policy.set_mailbox"),
        vec![pair("approver_group", "high"), pair("id", "medium")],
        "{report:#}"
    );
    let d = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attribute"] == "approver_group")
        .unwrap();
    assert_eq!(
        (d["in_state"].clone(), d["in_tenant"].clone()),
        (json!(GROUP), json!("helpdesk@contoso.onmicrosoft.com"))
    );

    // An unmanaged policy: info, and drift exits 2 for it alone.
    ws.run(&["apply", "--auto-approve"]).expect(0);
    tenant.invoke(
        cmdlet::NEW_POLICY,
        json!({"Task": "Exchange\\New-TransportRule", "ApprovalType": "Manual", "ApproverGroup": GROUP}),
    );
    let report = drift(&ws, 2);
    assert_eq!(report["differences"], json!([]), "{report:#}");
    let unmanaged = report["unmanaged"].as_array().unwrap();
    let policies: Vec<&Value> = unmanaged.iter().filter(|u| u["type"] == "access_policy").collect();
    assert_eq!(policies.len(), 1, "{report:#}");
    assert!(policies[0]["description"].as_str().unwrap().contains("New-TransportRule"));
    assert_eq!(policies[0]["severity"], json!("info"));
    assert_eq!(report["summary"]["info"].as_u64().unwrap() as usize, unmanaged.len());
    let text = ws.run(&["drift"]).expect(2).stdout;
    assert!(text.contains("--ignore-unmanaged ID"), "{text}");

    // Each can be left out by id (groups also by address); with all of them out, drift is 0.
    let policy = policies[0]["id"].as_str().unwrap().to_string();
    let run = ws.run(&["drift", "--json", "--ignore-unmanaged", &policy]);
    // That policy was the only unmanaged object: with it left out there is no drift.
    assert_eq!(unmanaged.len(), 1, "{report:#}");
    assert_eq!(run.code, 0, "{}", run.all());
    let rest: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rest["unmanaged"], json!([]), "{rest:#}");
    assert_eq!(rest["differences"], json!([]), "{rest:#}");
    let mut args = vec!["drift".to_string()];
    for u in unmanaged {
        args.push("--ignore-unmanaged".into());
        args.push(u["id"].as_str().unwrap().to_uppercase());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ws.run(&args).expect(0);
}

#[test]
fn drift_never_writes_state() {
    let (tenant, ws) = applied();
    tenant.invoke(cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL, json!({}));
    let before = std::fs::read(ws.file("pamform.state.json")).unwrap();
    // Another command holds the lock: drift neither waits for it nor fails on it.
    let lock =
        pamform::state::lock::LockGuard::acquire(ws.path(), "apply", std::time::Duration::ZERO).unwrap();
    drift(&ws, 2);
    drop(lock);
    assert_eq!(std::fs::read(ws.file("pamform.state.json")).unwrap(), before, "drift must not write state");
}

#[test]
fn case_in_the_configuration_and_ignores_are_not_drift() {
    let (tenant, ws) = applied();
    // The same configuration written in other case.
    let shouting = QUICKSTART
        .replace("pam-approvers@contoso.onmicrosoft.com", "PAM-Approvers@Contoso.OnMicrosoft.com")
        .replace("alice@contoso.onmicrosoft.com", "Alice@CONTOSO.onmicrosoft.com")
        .replace("svc-pamform@contoso.onmicrosoft.com", "SVC-PAMFORM@contoso.onmicrosoft.com");
    ws.configure(&tenant, &shouting);
    drift(&ws, 0);

    tenant.invoke(cmdlet::ADD_GROUP_MEMBER, json!({"Identity": GROUP, "Member": upn("mallory")}));
    drift(&ws, 2);
    let run = ws.run(&["drift", "--json", "--ignore", "approver_group.approvers.members"]).expect(0);
    assert!(run.stdout.contains("\"in_sync\": true"), "{}", run.stdout);
    ws.run(&["drift", "--ignore", "approver_group.approvers"]).expect(0);
    ws.run(&["drift", "--ignore", "approver_group.approvers.name"]).expect(2);
    let bad = ws.run(&["drift", "--ignore", "nonsense"]).expect(1);
    assert!(bad.stderr.contains("nonsense"), "{}", bad.stderr);

    // lifecycle.ignore_changes in the configuration is honoured too.
    let ignoring = shouting.replacen(
        "  members = [",
        "  lifecycle {\n    ignore_changes = [members]\n  }\n  members = [",
        1,
    );
    ws.configure(&tenant, &ignoring);
    drift(&ws, 0);
}

#[test]
fn a_failed_read_is_an_error_never_drift() {
    let (tenant, ws) = applied();
    tenant.set_faults(json!({"server_error_rate": 1.0}));
    let run = ws.run(&["drift", "--json", "--retry-budget", "1s"]).expect(1);
    assert!(!run.stdout.contains("\"differences\""), "no report on a failed read: {}", run.stdout);
    assert!(!run.stderr.is_empty());
    let run = ws.command(&["drift"]).env("PAMFORM_RETRY_BUDGET", "1s").output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    tenant.set_faults(json!({}));
    drift(&ws, 0);
}

#[test]
fn drift_without_state_is_an_error() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let run = ws.run(&["drift"]).expect(1);
    assert!(run.stderr.contains("pamform apply"), "{}", run.stderr);
}

#[test]
fn one_check_reports_drift_and_unapplied_configuration_and_leaves_an_unchanged_cache_alone() {
    let (tenant, ws) = applied();
    let cache = ws.file(".pamform/drift-cache.json");
    drift(&ws, 0);
    let before = std::fs::metadata(&cache).unwrap().modified().unwrap();
    let bytes = std::fs::read(&cache).unwrap();
    // Nothing changed: the cache file is not written again.
    drift(&ws, 0);
    assert_eq!(std::fs::metadata(&cache).unwrap().modified().unwrap(), before);
    assert_eq!(std::fs::read(&cache).unwrap(), bytes);

    // A policy added to the configuration only: in sync with state, but not applied.
    let extra = "\naccess_policy \"inbox_rule\" {\n  task           = \"Exchange\\\\New-InboxRule\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers\n}\n";
    ws.configure(&tenant, &format!("{QUICKSTART}{extra}"));
    let run = ws.run(&["drift"]).expect(0);
    assert!(run.stderr.contains("the configuration differs from the tenant in 1 resource;"), "{}", run.all());

    // A configuration the plan refuses (its default approver group is also removed by a
    // removed block that cannot be destroyed) still gets its drift report, and out-of-band
    // changes in it.
    tenant.invoke(cmdlet::ADD_GROUP_MEMBER, json!({"Identity": GROUP, "Member": upn("mallory")}));
    let unplannable = QUICKSTART.replace(
        "approver_group \"approvers\" {",
        "approver_group \"approvers\" {\n  lifecycle {\n    prevent_destroy = true\n  }",
    );
    let unplannable = unplannable.replace("email   = \"pam-approvers@", "email   = \"pam-approvers-new@");
    ws.configure(&tenant, &unplannable);
    let planned = ws.run(&["plan"]).expect(1);
    assert!(planned.stderr.contains("prevent_destroy"), "{}", planned.all());
    let report = drift(&ws, 2);
    assert_eq!(found(&report, "approver_group.approvers"), vec![pair("members", "high")], "{report:#}");
}
