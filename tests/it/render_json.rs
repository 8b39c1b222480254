//! The JSON plan: one snapshot per action kind, Terraform's field rules checked directly, and
//! every output validated against `schemas/plan.schema.json`; `configuration`, `variables`
//! and `prior_state` from a real configuration, and through the real binary.

use pamform::plan::Plan;
use pamform::views::plan::json::{self as plan_json, PlanMeta};
use serde_json::{Value, json};

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
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
    // Readers gate on `terraform_version` as a Terraform release; pamform's is its own field.
    let out = plan_json::render(&plan(vec![]), &m);
    assert_eq!(out["terraform_version"], json!(plan_json::TERRAFORM_VERSION));
    assert_eq!(out["pamform"]["version"], json!(env!("CARGO_PKG_VERSION")));
    assert!(out.get("variables").is_none(), "no variables, no key, as Terraform");
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

/// A configuration with every kind of expression: constants, references (to a resource, an
/// instance, a variable, `each`), `for_each`, `depends_on`, and three variables, one of them
/// sensitive.
const CONFIGURED: &str = r#"
tenant {
  id       = "contoso.onmicrosoft.com"
  emulator = "tenant.json"
}

variable "domain" {
  type        = string
  default     = "contoso.com"
  description = "The mail domain"
}

variable "group_name" {
  type      = string
  default   = "Top Secret Approvers"
  sensitive = true
}

variable "tasks" {
  type    = set(string)
  default = ["Set-Mailbox", "New-MoveRequest"]
}

approver_group "mailbox" {
  name    = var.group_name
  email   = "mailbox-approvers@${var.domain}"
  members = ["carol@contoso.com"]
}

access_policy "mailbox_tasks" {
  for_each       = var.tasks
  task           = "Exchange\\${each.key}"
  approval       = "manual"
  approver_group = approver_group.mailbox
  depends_on     = [approver_group.mailbox]
}
"#;

const SECRET: &str = "Top Secret Approvers";

fn configured() -> pamform::config::Outline {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), CONFIGURED).unwrap();
    let loaded = pamform::config::load(dir.path(), &Default::default()).expect("the configuration loads");
    pamform::config::outline(&loaded.configuration)
}

#[test]
fn configuration_and_variables_follow_terraform() {
    let meta = PlanMeta { outline: configured(), ..meta() };
    let out = plan_json::render(&plan(vec![plans::create()]), &meta);
    assert_valid(&out);
    let config = &out["configuration"];
    assert_eq!(
        config["provider_config"]["pam"]["expressions"]["id"],
        json!({"constant_value": "contoso.onmicrosoft.com"})
    );
    let resources = config["root_module"]["resources"].as_array().unwrap();
    let addresses: Vec<&str> = resources.iter().map(|r| r["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["approver_group.mailbox", "access_policy.mailbox_tasks"], "one per block");
    let policy = &resources[1];
    assert_eq!(policy["provider_config_key"], json!("pam"));
    assert_eq!(policy["for_each_expression"], json!({"references": ["var.tasks"]}));
    assert_eq!(policy["expressions"]["task"], json!({"references": ["each.key"]}));
    assert_eq!(policy["expressions"]["approval"], json!({"constant_value": "manual"}));
    assert_eq!(policy["expressions"]["approver_group"], json!({"references": ["approver_group.mailbox"]}));
    assert_eq!(policy["depends_on"], json!(["approver_group.mailbox"]));
    assert!(policy["expressions"].get("for_each").is_none(), "meta-arguments are not expressions");
    let group = &resources[0];
    assert_eq!(group["expressions"]["name"], json!({"references": ["var.group_name"]}));
    assert_eq!(group["expressions"]["members"], json!({"constant_value": ["carol@contoso.com"]}));
    let declared = &config["root_module"]["variables"];
    assert_eq!(declared["domain"], json!({"default": "contoso.com", "description": "The mail domain"}));
    assert_eq!(declared["group_name"], json!({"sensitive": true}), "no default for a sensitive variable");
    assert_eq!(out["variables"]["domain"], json!({"value": "contoso.com"}));
    assert_eq!(out["variables"]["tasks"], json!({"value": ["New-MoveRequest", "Set-Mailbox"]}));
    assert!(out["variables"].get("group_name").is_none(), "a sensitive variable has no value");
    assert!(!out.to_string().contains(SECRET), "the secret is in the plan:\n{out:#}");
    insta::assert_json_snapshot!(
        "configuration",
        json!({"variables": out["variables"], "configuration": config})
    );
}

#[test]
fn prior_state_holds_what_state_records_and_the_tenant_still_has() {
    let imported = plans::import();
    let updated = plans::update();
    let deleted = plans::delete();
    let moved = plans::moved();
    let created = plans::create();
    let in_state = [&updated.address, &deleted.address, moved.previous_address.as_ref().unwrap()]
        .into_iter()
        .cloned()
        .collect();
    let p = plan(vec![created, updated.clone(), deleted.clone(), moved.clone(), imported]);
    let out = plan_json::render(&p, &PlanMeta { in_state, ..meta() });
    assert_valid(&out);
    let prior = &out["prior_state"];
    assert_eq!(prior["format_version"], json!("1.0"));
    assert_eq!(prior["terraform_version"], out["terraform_version"]);
    let resources = prior["values"]["root_module"]["resources"].as_array().unwrap();
    let addresses: Vec<String> =
        resources.iter().map(|r| r["address"].as_str().unwrap().to_string()).collect();
    // Created and imported objects are not in state; a moved one is, at its new address.
    let expected: Vec<String> =
        [&updated.address, &deleted.address, &moved.address].iter().map(|a| a.to_string()).collect();
    assert_eq!(addresses, expected);
    let update = resources.iter().find(|r| r["address"] == json!(updated.address.to_string())).unwrap();
    let change = out["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == update["address"])
        .unwrap();
    assert_eq!(update["values"], change["change"]["before"], "the refreshed values are the change's before");
    assert_eq!(update["provider_name"], change["provider_name"]);
    assert_eq!(update["schema_version"], json!(0));
    // Nothing in state: no prior state, as Terraform.
    let out = plan_json::render(&plan(vec![plans::update()]), &meta());
    assert!(out.get("prior_state").is_none());
}

#[test]
fn the_schema_holds_the_configuration_to_terraform_shapes() {
    let validator = plan_validator();
    let good = plan_json::render(&plan(vec![plans::update()]), &PlanMeta { outline: configured(), ..meta() });
    assert!(validator.is_valid(&good));
    let mut bad = good.clone();
    bad["configuration"]["root_module"]["variables"]["group_name"]["default"] = json!("x");
    assert!(!validator.is_valid(&bad), "a sensitive variable's default");
    let mut bad = good.clone();
    bad["configuration"]["root_module"]["resources"][0]["expressions"]["name"] =
        json!({"constant_value": "x", "references": ["var.x"]});
    assert!(!validator.is_valid(&bad), "an expression is a constant or references");
    let mut bad = good.clone();
    bad["configuration"]["root_module"]["resources"][1]["address"] =
        json!("access_policy.mailbox_tasks[\"x\"]");
    assert!(!validator.is_valid(&bad), "configuration addresses name blocks, not instances");
    let mut bad = good;
    bad["variables"]["domain"] = json!("contoso.com");
    assert!(!validator.is_valid(&bad), "a variable is {{value}}");
}

#[test]
fn the_binary_writes_the_same_sections_in_plan_and_show() {
    let tenant = Tenant::start();
    let mut hcl = QUICKSTART.replace("name    = \"PAM Approvers\"", "name    = var.group_name");
    hcl.push_str(&format!(
        "\nvariable \"group_name\" {{\n  type      = string\n  default   = \"{SECRET}\"\n  sensitive = true\n}}\n\nvariable \"note\" {{\n  default = \"kept\"\n}}\n"
    ));
    let ws = Workspace::new(&tenant, &hcl);
    let first: Value = serde_json::from_str(&ws.run(&["plan", "--json"]).expect(0).stdout).unwrap();
    assert_valid(&first);
    assert!(first.get("prior_state").is_none(), "nothing is in state yet");
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let planned: Value = serde_json::from_str(&ws.run(&["plan", "--json"]).expect(0).stdout).unwrap();
    assert_valid(&planned);
    assert_eq!(planned["variables"], json!({"note": {"value": "kept"}}));
    let prior = planned["prior_state"]["values"]["root_module"]["resources"].as_array().unwrap();
    assert_eq!(prior.len(), 4, "every applied resource:\n{planned:#}");
    let group = prior.iter().find(|r| r["address"] == json!("approver_group.approvers")).unwrap();
    assert_eq!(group["sensitive_values"], json!({"name": true}));
    // A plan with a sensitive value is not saved; without one, `show` writes what `plan` does.
    assert_ne!(ws.run(&["plan", "--out", "plan.bin"]).code, 0);
    ws.configure(&tenant, &hcl.replace("sensitive = true", "sensitive = false"));
    ws.run(&["plan", "--out", "plan.bin"]).expect(0);
    let planned: Value = serde_json::from_str(&ws.run(&["plan", "--json"]).expect(0).stdout).unwrap();
    let shown: Value =
        serde_json::from_str(&ws.run(&["show", "plan.bin", "--json"]).expect(0).stdout).unwrap();
    for out in [&planned, &shown] {
        assert_valid(out);
        assert_eq!(out["variables"]["note"], json!({"value": "kept"}));
        let prior = out["prior_state"]["values"]["root_module"]["resources"].as_array().unwrap();
        assert_eq!(prior.len(), 4, "every applied resource:\n{out:#}");
    }
    for key in ["variables", "configuration", "prior_state"] {
        assert_eq!(planned[key], shown[key], "{key} differs between plan and show");
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(ws.file("plan.bin")).unwrap()).unwrap();
    assert!(saved["outline"].is_object(), "the saved plan keeps the configuration");
}
