//! The JSON plan: one snapshot per action kind, Terraform's field rules checked directly, and
//! every output validated against `schemas/plan.schema.json`.

use pamform::plan::Plan;
use pamform::views::plan::json::{self as plan_json, PlanMeta};
use serde_json::{Value, json};

use crate::support::plans::{self, *};

fn assert_valid(v: &Value) {
    let validator = plan_validator();
    let errors: Vec<String> =
        validator.iter_errors(v).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(errors.is_empty(), "plan JSON fails the schema:\n{}\n{v:#}", errors.join("\n"));
}

/// Renders, validates against the schema, and returns the one resource change.
fn only_change(plan: &Plan) -> (Value, Value) {
    let out = plan_json::render(plan, &meta());
    assert_valid(&out);
    let changes = out["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    (changes[0].clone(), out)
}

#[test]
fn create() {
    let (c, out) = only_change(&plan(vec![plans::create()]));
    assert_eq!(c["change"]["actions"], json!(["create"]));
    assert_eq!(c["change"]["before"], Value::Null);
    assert_eq!(c["change"]["after_unknown"], json!({"id": true}));
    assert_eq!(c["change"]["before_sensitive"], json!(false));
    assert!(c.get("index").is_none());
    assert_eq!(out["applyable"], json!(true));
    insta::assert_json_snapshot!("create", out);
}

#[test]
fn update_with_member_changes() {
    let (c, out) = only_change(&plan(vec![plans::update()]));
    assert_eq!(c["change"]["actions"], json!(["update"]));
    assert_eq!(c["change"]["before"]["id"], c["change"]["after"]["id"]);
    assert_eq!(c["change"]["after_unknown"], json!({}));
    let members = &out["pamform"]["changes"][0]["members"];
    assert_eq!(members["added"], json!(["mallory@contoso.com"]));
    assert_eq!(members["removed"], json!(["erin@contoso.com"]));
    assert_eq!(members["unchanged"], json!(2));
    assert_eq!(
        out["pamform"]["security"]["approver_members_added"][0]["members"],
        json!(["mallory@contoso.com"])
    );
    insta::assert_json_snapshot!("update", out);
}

#[test]
fn replace_forces_replacement() {
    let (c, out) = only_change(&plan(vec![plans::replace()]));
    assert_eq!(c["change"]["actions"], json!(["delete", "create"]));
    assert_eq!(c["change"]["replace_paths"], json!([["approval"]]));
    assert_eq!(c["action_reason"], json!("replace_because_cannot_update"));
    assert_eq!(c["index"], json!("Set-Mailbox"));
    assert_eq!(c["address"], json!("access_policy.mailbox_tasks[\"Set-Mailbox\"]"));
    assert_eq!(c["change"]["after"].get("id"), None, "a replacement's id is unknown");
    let ungated = &out["pamform"]["security"]["policies_ungated"][0];
    assert_eq!(ungated["target"], json!("Exchange\\Set-Mailbox"));
    assert_eq!(ungated["approval_after"], json!("auto"));
    insta::assert_json_snapshot!("replace", out);
}

#[test]
fn delete() {
    let (c, out) = only_change(&plan(vec![plans::delete()]));
    assert_eq!(c["change"]["actions"], json!(["delete"]));
    assert_eq!(c["change"]["after"], Value::Null);
    assert_eq!(c["change"]["after_sensitive"], json!(false));
    assert_eq!(c["action_reason"], json!("delete_because_no_resource_config"));
    assert_eq!(out["planned_values"]["root_module"]["resources"], json!([]));
    insta::assert_json_snapshot!("delete", out);
}

#[test]
fn import_is_a_no_op_that_imports() {
    let (c, out) = only_change(&plan(vec![plans::import()]));
    assert_eq!(c["change"]["actions"], json!(["no-op"]));
    assert_eq!(c["change"]["importing"], json!({"id": "helpdesk@contoso.onmicrosoft.com"}));
    assert!(c.get("action_reason").is_none());
    assert_eq!(out["pamform"]["summary"]["import"], json!(1));
    assert_eq!(out["applyable"], json!(true), "an import changes state");
    insta::assert_json_snapshot!("import", out);
}

#[test]
fn move_names_the_previous_address() {
    let (c, out) = only_change(&plan(vec![plans::moved()]));
    assert_eq!(c["change"]["actions"], json!(["no-op"]));
    assert_eq!(c["previous_address"], json!("access_policy.moves"));
    assert_eq!(out["pamform"]["changes"][0]["reasons"][0]["code"], json!("moved"));
    insta::assert_json_snapshot!("move", out);
}

#[test]
fn pam_changes_are_security_facts() {
    let (c, out) = only_change(&plan(vec![plans::pam_update()]));
    assert_eq!(c["name"], json!(""));
    let security = &out["pamform"]["security"];
    assert_eq!(security["pam_disabled"], json!(false));
    assert_eq!(security["default_approver_group_changed"]["after"], json!(MAILBOX));
    assert_eq!(security["system_accounts"]["added"], json!(["svc-backup@contoso.com"]));
    let (_, out) = only_change(&plan(vec![plans::pam_off()]));
    assert_eq!(out["pamform"]["security"]["pam_disabled"], json!(true));
}

#[test]
fn drift() {
    let out = plan_json::render(&drift_plan(), &meta());
    assert_valid(&out);
    let drift = out["resource_drift"].as_array().unwrap();
    assert_eq!(drift.len(), 3);
    assert_eq!(drift[0]["change"]["actions"], json!(["update"]));
    assert_eq!(drift[1]["change"]["actions"], json!(["delete"]));
    assert_eq!(drift[1]["change"]["after"], Value::Null);
    assert_eq!(out["resource_changes"], json!([]));
    assert_eq!(out["pamform"]["mode"], json!("refresh-only"));
    let severities: Vec<&str> =
        out["pamform"]["drift"].as_array().unwrap().iter().map(|d| d["severity"].as_str().unwrap()).collect();
    assert_eq!(severities, ["critical", "critical", "high"]);
    insta::assert_json_snapshot!("drift", out);
}

#[test]
fn every_kind_together_validates() {
    let out = plan_json::render(&mixed(), &meta());
    assert_valid(&out);
    let s = &out["pamform"]["summary"];
    assert_eq!(s, &json!({"import": 1, "add": 2, "change": 2, "destroy": 2, "replace": 1, "move": 1}));
    assert_eq!(out["resource_changes"].as_array().unwrap().len(), 7);
    // pamform's entries follow resource_changes one to one.
    let addresses = |key: &str| -> Vec<Value> {
        let list = if key == "pamform" { &out["pamform"]["changes"] } else { &out["resource_changes"] };
        list.as_array().unwrap().iter().map(|c| c["address"].clone()).collect()
    };
    assert_eq!(addresses("pamform"), addresses("terraform"));
}

#[test]
fn no_changes_is_not_applyable() {
    let out = plan_json::render(&plan(vec![]), &meta());
    assert_valid(&out);
    assert_eq!(out["applyable"], json!(false));
    assert_eq!(out["complete"], json!(true));
    assert_eq!(out["timestamp"], json!("2026-11-28T09:30:00Z"));
}

#[test]
fn targeted_or_errored_plans_are_incomplete() {
    let mut p = plan(vec![plans::create()]);
    p.targets = vec!["approver_group.mailbox".parse().unwrap()];
    let out = plan_json::render(&p, &meta());
    assert_valid(&out);
    assert_eq!(out["complete"], json!(false));
    assert_eq!(out["pamform"]["targets"], json!(["approver_group.mailbox"]));
    let errored = PlanMeta { errored: true, ..meta() };
    let out = plan_json::render(&plan(vec![plans::create()]), &errored);
    assert_valid(&out);
    assert_eq!((out["applyable"].clone(), out["errored"].clone()), (json!(false), json!(true)));
}

#[test]
fn the_schema_rejects_what_terraform_readers_could_not_read() {
    let validator = plan_validator();
    let good = plan_json::render(&plan(vec![plans::replace()]), &meta());
    let mut bad = good.clone();
    bad["resource_changes"][0]["change"]["actions"] = json!(["replace"]);
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["format_version"] = json!("2.0");
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["resource_changes"][0]["change"]["after"]["secret"] = json!("x");
    assert!(!validator.is_valid(&bad));
    let mut bad = good.clone();
    bad["resource_changes"][0]["token"] = json!("x");
    assert!(!validator.is_valid(&bad), "resource changes are closed too");
    let mut bad = good;
    bad["resource_changes"][0]["index"] = json!(0);
    assert!(!validator.is_valid(&bad), "for_each keys are strings");
}

#[test]
fn plan_meta_now_names_this_version() {
    let m = PlanMeta::now();
    assert_eq!(m.pamform_version, env!("CARGO_PKG_VERSION"));
    assert!(!m.errored);
}

#[test]
fn security_facts_sit_under_the_pamform_key() {
    let out = plan_json::render(&security(), &meta());
    assert_valid(&out);
    let security = &out["pamform"]["security"];
    assert_eq!(
        security["policies_to_wider_group"],
        json!([{
            "address": "access_policy.set_mailbox",
            "target": "Exchange\\Set-Mailbox",
            "group_before": MAILBOX,
            "group_after": DEFAULT,
            "approvers_added": ["carol@contoso.com", "dave@contoso.com", "erin@contoso.com"],
        }])
    );
    assert_eq!(
        security["default_approver_group_changed"]["approvers_added"],
        json!(["alice@contoso.com", "bob@contoso.com"])
    );
    assert_eq!(out["pamform"]["summary"]["move"], json!(2));
    // Terraform's part is unchanged in shape: a move is a previous address.
    let moved = out["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == json!("access_policy.move"))
        .unwrap();
    assert_eq!(moved["previous_address"], json!("access_policy.move_request"));
    assert_eq!(moved["change"]["actions"], json!(["no-op"]));
    // No fact, no key.
    let plain = plan_json::render(&plan(vec![plans::update()]), &meta());
    assert!(plain["pamform"]["security"].get("policies_to_wider_group").is_none());
}
