//! The pull-request flow through the real binary: `plan --out`, `show PLANFILE`, and
//! `apply PLANFILE` applying exactly what was reviewed, or refusing a stale, tampered or
//! truncated plan. Real JSON outputs validate against the schemas in `schemas/`.

mod cli_support;
mod common;

use cli_support::{QUICKSTART, Tenant, Workspace, upn};
use common::{plan_validator, schema};
use pamform::wire::exchange::cmdlet;
use serde_json::{Value, json};

fn assert_valid(validator: &jsonschema::Validator, text: &str, what: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON: {e}\n{text}"));
    let errors: Vec<String> =
        validator.iter_errors(&v).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{v:#}");
    v
}

/// A workspace with the quickstart applied and a pending change saved to plan.bin.
fn planned(tenant: &Tenant) -> Workspace {
    let ws = Workspace::new(tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.configure(
        tenant,
        &QUICKSTART.replace("\"bob@contoso.onmicrosoft.com\"", "\"carol@contoso.onmicrosoft.com\""),
    );
    let run = ws.run(&["plan", "--out", "plan.bin", "--detailed-exitcode"]).expect(2);
    assert!(run.stdout.contains("+ \"carol@contoso.onmicrosoft.com\""), "{}", run.stdout);
    ws
}

fn refused(ws: &Workspace, tenant: &Tenant, expect: &str) {
    let writes = tenant.write_count();
    let state = std::fs::read(ws.file("pamform.state.json")).ok();
    let run = ws.run(&["apply", "plan.bin"]).expect(1);
    assert!(run.stderr.contains("stale plan"), "{}", run.stderr);
    assert!(run.stderr.replace('\n', " ").contains(expect), "expected `{expect}` in\n{}", run.stderr);
    assert_eq!(tenant.write_count(), writes, "a refused plan changes nothing in the tenant");
    assert_eq!(std::fs::read(ws.file("pamform.state.json")).ok(), state, "nor the state");
}

#[test]
fn a_fresh_plan_is_applied_exactly() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let run = ws.run(&["apply", "plan.bin"]).expect(0);
    assert!(
        run.stdout.contains("Apply complete! Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        run.all()
    );
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("alice"), upn("carol")]
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    // Applying it twice is refused: the state moved.
    refused(&ws, &tenant, "the state changed");
}

#[test]
fn a_saved_plan_on_an_empty_tenant_applies() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["plan", "--out", "plan.bin"]).expect(0);
    ws.run(&["apply", "plan.bin"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn stale_when_the_state_changed() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    ws.run(&["state", "rm", "access_policy.set_mailbox"]).expect(0);
    refused(&ws, &tenant, "the state changed");
}

#[test]
fn stale_when_a_tenant_object_changed_out_of_band() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    tenant.invoke(
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
    );
    refused(&ws, &tenant, "group pam-approvers@contoso.onmicrosoft.com changed in the tenant");
}

#[test]
fn stale_when_a_policy_is_removed_out_of_band() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let id = tenant.policies()[0]["Identity"].as_str().unwrap().to_string();
    tenant.invoke(cmdlet::REMOVE_POLICY, json!({"Identity": id}));
    refused(&ws, &tenant, &format!("access policy {id} disappeared"));
}

#[test]
fn stale_when_the_configuration_changed() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    ws.configure(&tenant, QUICKSTART);
    refused(&ws, &tenant, "the configuration changed");
}

#[test]
fn tampered_and_truncated_plans_are_refused() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let good = std::fs::read_to_string(ws.file("plan.bin")).unwrap();
    let tampered = good.replace("carol@contoso.onmicrosoft.com", "mallory@contoso.onmicrosoft.com");
    assert_ne!(tampered, good);
    for (what, text, says) in [
        ("tampered", tampered, "checksum"),
        ("truncated", good[..good.len() / 2].to_string(), "truncated"),
        ("empty", String::new(), "truncated"),
    ] {
        ws.write("plan.bin", &text);
        let writes = tenant.write_count();
        let run = ws.run(&["apply", "plan.bin"]).expect(1);
        assert!(run.stderr.contains(says), "{what}: {}", run.stderr);
        assert!(run.stderr.contains("pamform plan --out"), "{what}: says what to do: {}", run.stderr);
        assert_eq!(tenant.write_count(), writes, "{what}");
        ws.run(&["show", "plan.bin"]).expect(1);
    }
    ws.run(&["apply", "missing.bin"]).expect(1);
}

#[test]
fn the_plan_file_is_private_and_holds_no_secret() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let text = std::fs::read_to_string(ws.file("plan.bin")).unwrap();
    assert!(!text.contains(tenant.secret()), "the client secret is in the plan file");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], "pamform-plan");
    assert_eq!(v["version"], 1);
    let state = ws.state().unwrap();
    assert_eq!(v["state"]["lineage"], json!(state.lineage));
    assert_eq!(v["state"]["serial"], json!(state.serial));
    assert!(v["configuration_hash"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["fingerprints"].as_object().unwrap().keys().any(|k| k.starts_with("group:")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.file("plan.bin")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn show_renders_saved_plans_and_state() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let planned_text = ws.run(&["plan"]).expect(0).stdout;
    let shown = ws.run(&["show", "plan.bin"]).expect(0);
    assert_eq!(shown.stdout, planned_text, "show renders the plan as plan printed it");
    let md = ws.run(&["show", "plan.bin", "--format", "markdown"]).expect(0);
    assert!(md.stdout.contains("approver_group.approvers"), "{}", md.stdout);
    assert!(md.stdout.contains("<details>"), "{}", md.stdout);
    let state_text = ws.run(&["show"]).expect(0);
    assert!(state_text.stdout.contains("# access_policy.move_request:"), "{}", state_text.stdout);
}

#[test]
fn json_outputs_validate_against_the_schemas() {
    let tenant = Tenant::start();
    let states = jsonschema::draft202012::new(&schema("state.schema.json")).unwrap();
    let fresh = Workspace::new(&tenant, QUICKSTART);
    let none =
        assert_valid(&states, &fresh.run(&["show", "--json"]).expect(0).stdout, "show --json, no state");
    assert_eq!(none, json!({"format_version": 1, "resources": []}));

    let ws = planned(&tenant);
    let plans = plan_validator();

    let plan = assert_valid(&plans, &ws.run(&["plan", "--json"]).expect(0).stdout, "plan --json");
    let changes = plan["resource_changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["change"]["actions"] == json!(["update"])), "{plan:#}");
    let shown = assert_valid(
        &plans,
        &ws.run(&["show", "--json", "plan.bin"]).expect(0).stdout,
        "show --json PLANFILE",
    );
    assert_eq!(shown["resource_changes"], plan["resource_changes"]);
    assert_valid(&states, &ws.run(&["show", "--json"]).expect(0).stdout, "show --json");
    assert_valid(&states, &std::fs::read_to_string(ws.file("pamform.state.json")).unwrap(), "the state file");

    // Plans of other modes, and with drift, validate too.
    tenant.invoke(
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
    );
    for args in
        [&["plan", "--json"][..], &["plan", "--json", "--destroy"], &["plan", "--json", "--refresh-only"]]
    {
        let v = assert_valid(&plans, &ws.run(args).expect(0).stdout, &format!("{args:?}"));
        assert!(!v["resource_drift"].as_array().unwrap().is_empty(), "{args:?}: {v:#}");
    }
}
