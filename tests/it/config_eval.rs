//! Evaluation: for_each, references and dependencies, functions, spans, variable precedence,
//! and the shipped examples.

use std::path::Path;

use pamform::config::{self, VarInputs};
use pamform::model::{Address, Approval, Configuration, GroupRef, PolicyTarget};

use crate::support::APP_ID;

const TENANT: &str = "tenant {\n  id = \"contoso.onmicrosoft.com\"\n  emulator = \"tenant.json\"\n}\n";

fn load_with(files: &[(&str, &str)], inputs: &VarInputs) -> Result<Configuration, String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    config::load(dir.path(), inputs)
        .map(|l| l.configuration)
        .map_err(|e| config::render_plain(&e.diagnostics, &e.sources))
}

fn load(text: &str) -> Configuration {
    load_with(&[("main.pam.hcl", &format!("{TENANT}{text}"))], &VarInputs::default()).unwrap()
}

const GROUP: &str = r#"
approver_group "default" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}
"#;

#[test]
fn for_each_over_a_set_expands_instances_with_each_value() {
    let c = load(&format!(
        "{GROUP}access_policy \"t\" {{\n  for_each = toset([\"Set-Mailbox\", \"New-MoveRequest\", \"Set-Mailbox\"])\n  task = \"Exchange\\\\${{each.value}}\"\n  approver_group = approver_group.default\n}}\n"
    ));
    let keys: Vec<String> = c.policies.keys().map(|a| a.to_string()).collect();
    assert_eq!(keys, ["access_policy.t[\"New-MoveRequest\"]", "access_policy.t[\"Set-Mailbox\"]"]);
    let p = &c.policies[&"access_policy.t[\"Set-Mailbox\"]".parse::<Address>().unwrap()];
    assert_eq!(p.target.value, PolicyTarget::Task("Set-Mailbox".into()));
    assert_eq!(p.meta.each_key.as_deref(), Some("Set-Mailbox"));
    assert_eq!(p.approval.value, Approval::Manual, "approval defaults to manual");
}

#[test]
fn for_each_over_a_map_and_references_to_instances() {
    let c = load(
        r#"
approver_group "team" {
  for_each = { ops = "Operations", dev = "Development" }
  name     = "PAM ${each.value}"
  email    = "pam-${each.key}@contoso.onmicrosoft.com"
}

access_policy "ops" {
  role           = "Mail Recipients"
  approval       = "auto"
  approver_group = approver_group.team["ops"]
}

access_policy "all" {
  for_each       = { a = "Journaling", b = "Transport Rules" }
  role           = each.value
  approver_group = approver_group.team[each.key == "a" ? "ops" : "dev"]
  depends_on     = [access_policy.ops]
}
"#,
    );
    assert_eq!(c.groups.len(), 2);
    let dev = &c.groups[&Address::with_key(pamform::model::ResourceType::ApproverGroup, "team", "dev")];
    assert_eq!(dev.name.value, "PAM Development");
    let ops = &c.policies[&Address::policy("ops")];
    let ops_group = Address::with_key(pamform::model::ResourceType::ApproverGroup, "team", "ops");
    assert_eq!(ops.approver_group.value, GroupRef::Resource(ops_group.clone()));
    assert!(ops.meta.dependencies.contains(&ops_group));
    let b: Address = "access_policy.all[\"b\"]".parse().unwrap();
    let b = &c.policies[&b];
    assert_eq!(b.target.value, PolicyTarget::Role("Transport Rules".into()));
    assert!(b.meta.dependencies.contains(&Address::policy("ops")), "depends_on counts");
    assert_eq!(b.meta.depends_on[0].value, Address::policy("ops"));
}

#[test]
fn references_to_attributes_and_dependencies() {
    let c = load(&format!(
        "{GROUP}approver_group \"second\" {{\n  name  = \"${{approver_group.default.name}} 2\"\n  email = replace(approver_group.default.email, \"approvers\", \"second\")\n  alias = approver_group.default.alias\n}}\nprivileged_access {{\n  enabled = true\n  default_approver_group = approver_group.second\n  system_accounts = [\"5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11\"]\n}}\n"
    ));
    let second = &c.groups[&Address::group("second")];
    assert_eq!(second.name.value, "PAM Approvers 2");
    assert_eq!(second.email.value, "pam-second@contoso.onmicrosoft.com");
    assert_eq!(second.alias.as_ref().unwrap().value, "pam-approvers");
    assert!(second.meta.dependencies.contains(&Address::group("default")));
    let pam = c.privileged_access.as_ref().unwrap();
    assert!(pam.meta.dependencies.contains(&Address::group("second")));
    assert_eq!(
        c.group_email(&pam.default_approver_group.as_ref().unwrap().value).unwrap(),
        second.email.value
    );
}

#[test]
fn functions_behave() {
    let c = load(
        r#"
locals {
  people  = ["Alice", "bob", "alice"]
  upns    = distinct([for p in local.people : lower("${p}@contoso.onmicrosoft.com")])
  joined  = join(",", keys({ b = 1, a = 2 }))
  checks  = [length(local.people) == 3, contains(local.people, "bob"), startswith("abc", "a"), endswith("abc", "c")]
  merged  = merge({ a = "1" }, { b = "2" })
  looked  = lookup(local.merged, "c", "none")
  first   = coalesce("", "x")
  flat    = flatten([["a"], ["b", ["c"]]])
  parts   = split("-", "a-b")
  text    = format("%s has %d members", "team", 2)
  all     = concat(tolist(local.parts), values(tomap(local.merged)))
  trimmed = trimspace("  x  ")
  shout   = upper("x")
}

approver_group "g" {
  name        = "${local.joined} ${local.looked} ${local.first} ${join("", local.flat)} ${local.text} ${local.trimmed}${local.shout}"
  email       = "g@contoso.onmicrosoft.com"
  members     = local.upns
  description = alltrue(local.checks)
}
"#
        .replace("alltrue(local.checks)", "join(\",\", [for c in local.checks : c ? \"y\" : \"n\"])")
        .as_str(),
    );
    let g = &c.groups[&Address::group("g")];
    assert_eq!(g.name.value, "a,b none x abc team has 2 members xX");
    let members: Vec<&str> = g.members.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(members, ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]);
    assert_eq!(g.description.as_ref().unwrap().value, "y,y,y,y");
}

#[test]
fn spans_point_at_the_exact_expression_and_list_elements() {
    let text = format!("{TENANT}{GROUP}");
    let c = load_with(&[("main.pam.hcl", &text)], &VarInputs::default()).unwrap();
    let g = &c.groups[&Address::group("default")];
    assert_eq!(c.sources.snippet(g.email.span), "\"pam-approvers@contoso.onmicrosoft.com\"");
    assert_eq!(c.sources.snippet(g.members[1].span), "\"bob@contoso.onmicrosoft.com\"");
    assert_eq!(c.sources.snippet(g.span), "approver_group \"default\"");
}

#[test]
fn emulator_path_is_resolved_against_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), format!("{TENANT}{GROUP}")).unwrap();
    let c = config::load(dir.path(), &VarInputs::default()).unwrap().configuration;
    assert_eq!(c.tenant.unwrap().emulator.unwrap().value, dir.path().join("tenant.json"));
}

const VARIABLE: &str = "variable \"who\" {\n  type    = string\n  default = \"default\"\n}\napprover_group \"g\" {\n  name  = var.who\n  email = \"g@contoso.onmicrosoft.com\"\n}\n";

fn name_with(files: &[(&str, &str)], inputs: VarInputs) -> String {
    let c = load_with(files, &inputs).unwrap();
    c.groups[&Address::group("g")].name.value.clone()
}

#[test]
fn variable_precedence_is_cli_then_env_then_files_then_default() {
    let main = format!("{TENANT}{VARIABLE}");
    let base: Vec<(&str, &str)> = vec![("main.pam.hcl", main.as_str())];
    assert_eq!(name_with(&base, VarInputs::default()), "default");
    let mut with_file = base.clone();
    with_file.push(("a.pamvars.hcl", "who = \"file\"\n"));
    assert_eq!(name_with(&with_file, VarInputs::default()), "file");
    let env = VarInputs { cli: vec![], env: vec![("who".into(), "env".into())], files: vec![] };
    assert_eq!(name_with(&with_file, env.clone()), "env");
    let cli = VarInputs { cli: vec![("who".into(), "cli".into())], ..env };
    assert_eq!(name_with(&with_file, cli), "cli");
}

#[test]
fn typed_variables_parse_cli_values_as_expressions() {
    let main = format!(
        "{TENANT}variable \"tasks\" {{\n  type = set(string)\n}}\n{GROUP}access_policy \"t\" {{\n  for_each = var.tasks\n  task = \"Exchange\\\\${{each.key}}\"\n  approver_group = approver_group.default\n}}\n"
    );
    let inputs = VarInputs {
        cli: vec![("tasks".into(), "[\"Set-Mailbox\", \"Get-Mailbox\"]".into())],
        ..Default::default()
    };
    let c = load_with(&[("main.pam.hcl", &main)], &inputs).unwrap();
    assert_eq!(c.policies.len(), 2);
    let bad = VarInputs { cli: vec![("tasks".into(), "not a list".into())], ..Default::default() };
    let err = load_with(&[("main.pam.hcl", &main)], &bad).unwrap_err();
    assert!(err.contains("pamform::variable_type"), "{err}");
    let undeclared = VarInputs { cli: vec![("nope".into(), "x".into())], ..Default::default() };
    let err = load_with(&[("main.pam.hcl", &main)], &undeclared).unwrap_err();
    assert!(err.contains("pamform::undeclared_variable"), "{err}");
}

#[test]
fn the_examples_load_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for name in ["quickstart", "contoso"] {
        let loaded = config::load(&root.join(name), &VarInputs::default())
            .unwrap_or_else(|e| panic!("{name}: {}", config::render_plain(&e.diagnostics, &e.sources)));
        assert!(loaded.warnings.is_empty(), "{name} has warnings");
        let c = loaded.configuration;
        assert!(c.privileged_access.as_ref().unwrap().enabled.value);
        if name == "contoso" {
            assert_eq!(c.groups.len(), 4);
            assert_eq!(c.policies.len(), 12);
            let accounts: Vec<&str> = c
                .privileged_access
                .as_ref()
                .unwrap()
                .system_accounts
                .iter()
                .map(|a| a.value.as_str())
                .collect();
            assert!(accounts.contains(&APP_ID));
        }
        for file in config::files_with_suffix(&root.join(name), ".hcl").unwrap() {
            let text = std::fs::read_to_string(&file).unwrap();
            assert_eq!(
                config::format::format_source(&text).unwrap(),
                text,
                "{} is not formatted",
                file.display()
            );
        }
    }
}

#[test]
fn a_lone_interpolation_keeps_its_type_and_others_join_as_text() {
    let c = load(
        r#"
locals {
  people = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
  n      = 2
}

approver_group "g" {
  name        = "Team of ${local.n}"
  email       = "g@contoso.onmicrosoft.com"
  members     = "${local.people}"
  description = "${local.n}"
}
"#,
    );
    let g = &c.groups[&Address::group("g")];
    assert_eq!(g.name.value, "Team of 2");
    let members: Vec<&str> = g.members.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(members, ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]);

    let error_for = |name: &str| {
        let group = GROUP.replace("name    = \"PAM Approvers\"", &format!("name = {name}"));
        load_with(&[("main.pam.hcl", &format!("{TENANT}{group}"))], &VarInputs::default()).unwrap_err()
    };
    let err = error_for("\"x ${[1]}\"");
    assert!(err.contains("expected a string, number or bool, got"), "{err}");
    let err = error_for("\"x ${null}\"");
    assert!(err.contains("got null"), "{err}");
}

#[test]
fn for_each_takes_sets_from_variables_locals_and_conditionals() {
    let c = load(&format!(
        r#"{GROUP}
variable "tasks" {{
  type    = set(string)
  default = ["Set-Mailbox", "New-MoveRequest"]
}}
locals {{
  more = toset(["Set-User"])
  some = true ? local.more : toset([])
}}
access_policy "t" {{
  for_each       = var.tasks
  task           = "Exchange\\${{each.value}}"
  approver_group = approver_group.default
}}
access_policy "u" {{
  for_each       = local.some
  task           = "Exchange\\${{each.value}}"
  approver_group = approver_group.default
}}
"#
    ));
    assert_eq!(c.policies.len(), 3);
}

#[test]
fn a_list_in_for_each_is_rejected_wherever_it_comes_from() {
    for expr in
        ["[\"Set-Mailbox\"]", "local.list", "[for t in [\"Set-Mailbox\"] : t]", "concat([\"Set-Mailbox\"])"]
    {
        let text = format!(
            "{TENANT}{GROUP}locals {{\n  list = [\"Set-Mailbox\"]\n}}\naccess_policy \"t\" {{\n  for_each = {expr}\n  task = \"Exchange\\\\${{each.value}}\"\n  approver_group = approver_group.default\n}}\n"
        );
        let err = load_with(&[("main.pam.hcl", &text)], &VarInputs::default()).unwrap_err();
        assert!(err.contains("not a list") && err.contains("toset("), "{expr}: {err}");
    }
}

#[test]
fn a_null_default_makes_an_optional_variable_of_any_type() {
    let c = load(&format!(
        r#"{GROUP}
variable "description" {{
  type    = string
  default = null
}}
variable "extra" {{
  type    = list(string)
  default = null
}}
approver_group "ops" {{
  name        = "PAM Ops"
  email       = "pam-ops@contoso.onmicrosoft.com"
  members     = ["alice@contoso.onmicrosoft.com"]
  description = var.description
}}
"#
    ));
    let g = &c.groups[&Address::group("ops")];
    assert!(g.description.is_none(), "an argument set to null counts as left out");
}

#[test]
fn a_byte_order_mark_and_crlf_line_endings_are_accepted() {
    let text = format!("\u{feff}{TENANT}{GROUP}").replace('\n', "\r\n");
    let c = load_with(&[("main.pam.hcl", &text)], &VarInputs::default()).unwrap();
    assert_eq!(c.groups.len(), 1);
    // Positions are unchanged by the mark: an error on line 7 is reported on line 7.
    let broken = format!("\u{feff}{TENANT}{GROUP}").replace("alice@contoso", "alice@@contoso");
    let err = load_with(&[("main.pam.hcl", &broken)], &VarInputs::default()).unwrap_err();
    assert!(err.contains(":9:"), "{err}");
}
