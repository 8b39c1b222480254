//! Attacks on the JSON plan's secrecy through the real binary: a variable declared sensitive
//! in a way the engine did not read as sensitive, and instance keys taken from a sensitive
//! value, which every output prints as part of an address.

use serde_json::Value;

use crate::support::cli::{Tenant, Workspace};

const SECRET: &str = "Zorro Secret Team";

/// A group whose display name comes from a variable declared with `sensitive = DECL`.
fn named_by_variable(decl: &str) -> String {
    format!(
        r#"
variable "team" {{
  type      = string
  sensitive = {decl}
  default   = "{SECRET}"
}}

approver_group "approvers" {{
  name    = "Approvers ${{var.team}}"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}}
"#
    )
}

fn json_plan(ws: &Workspace) -> Value {
    serde_json::from_str(&ws.run(&["plan", "--json"]).expect(0).stdout).expect("the plan is JSON")
}

#[test]
fn sensitive_written_as_an_expression_that_is_true_hides_the_value_everywhere() {
    let tenant = Tenant::start();
    for decl in ["(true)", "!false"] {
        let ws = Workspace::new(&tenant, &named_by_variable(decl));
        let text = ws.run(&["plan"]).expect(0);
        assert!(!text.all().contains(SECRET), "sensitive = {decl}: the text plan shows it:\n{}", text.all());
        assert!(text.stdout.contains("(sensitive value)"), "{}", text.stdout);
        let markdown = ws.run(&["plan", "--format", "markdown"]).expect(0);
        assert!(!markdown.all().contains(SECRET), "sensitive = {decl}: the Markdown shows it");
        let plan = json_plan(&ws);
        let group = &plan["resource_changes"][0];
        assert_eq!(
            group["change"]["after_sensitive"]["name"],
            Value::Bool(true),
            "sensitive = {decl}: the JSON plan does not mark the name:\n{plan:#}"
        );
        assert!(plan.get("variables").is_none_or(|v| v.get("team").is_none()), "{plan:#}");
        assert!(!plan["configuration"].to_string().contains(SECRET));
    }
}

#[test]
fn sensitive_that_is_not_a_bool_is_refused_without_showing_the_value() {
    let tenant = Tenant::start();
    for decl in ["\"true\"", "1", "var.other"] {
        let ws = Workspace::new(&tenant, &named_by_variable(decl));
        let run = ws.run(&["plan"]);
        assert_ne!(run.code, 0, "sensitive = {decl} is accepted:\n{}", run.all());
        assert!(run.all().contains("invalid `sensitive` for variable `team`"), "{}", run.all());
        assert!(
            !run.stdout.contains(SECRET),
            "sensitive = {decl}: the plan shows the value:\n{}",
            run.stdout
        );
        let json = ws.run(&["plan", "--json"]);
        assert_ne!(json.code, 0);
        assert!(
            !json.stdout.contains(SECRET),
            "sensitive = {decl}: the JSON shows the value:\n{}",
            json.stdout
        );
    }
}

/// Instance keys are printed as part of every address: a `for_each` over a sensitive set
/// would show each secret in the JSON plan's `address` and `index`, in the text plan's
/// headers and in the Markdown. Terraform refuses it; so must pamform.
#[test]
fn for_each_keys_taken_from_a_sensitive_value_are_refused() {
    let tenant = Tenant::start();
    let cases = [
        // A sensitive set, directly and through a local.
        (
            "variable \"keys\" {\n  type      = set(string)\n  sensitive = true\n  default   = [\"Zorro Secret Team\"]\n}\n",
            "var.keys",
        ),
        (
            "variable \"keys\" {\n  type      = set(string)\n  sensitive = true\n  default   = [\"Zorro Secret Team\"]\n}\nlocals {\n  k = toset([for k in var.keys : lower(k)])\n}\n",
            "local.k",
        ),
        // A sensitive map's keys.
        (
            "variable \"keys\" {\n  type      = map(string)\n  sensitive = true\n  default   = { \"Zorro Secret Team\" = \"x\" }\n}\n",
            "var.keys",
        ),
        // A map whose keys are built from a sensitive string.
        (
            "variable \"team\" {\n  type      = string\n  sensitive = true\n  default   = \"Zorro Secret Team\"\n}\n",
            "{ \"${var.team}\" = \"x\" }",
        ),
    ];
    for (decls, for_each) in cases {
        let hcl = format!(
            "{decls}\napprover_group \"k\" {{\n  for_each = {for_each}\n  name     = \"K\"\n  email    = \"k${{length(each.key)}}@contoso.onmicrosoft.com\"\n  members  = [\"alice@contoso.onmicrosoft.com\"]\n}}\n"
        );
        let ws = Workspace::new(&tenant, &hcl);
        for args in [&["plan"][..], &["plan", "--json"], &["plan", "--format", "markdown"]] {
            let run = ws.run(args);
            let all = run.all().to_lowercase();
            assert!(
                !all.contains(&SECRET.to_lowercase()),
                "for_each = {for_each}: `{}` shows the secret key:\n{}",
                args.join(" "),
                run.all()
            );
            assert_ne!(
                run.code,
                0,
                "for_each = {for_each}: `{}` is accepted:\n{}",
                args.join(" "),
                run.all()
            );
        }
        assert!(ws.run(&["plan"]).all().contains("`for_each` keys would show a sensitive value"));
    }
}

/// The documented use stays: a map with literal keys whose values are sensitive (only
/// `each.value` is then sensitive).
#[test]
fn for_each_over_literal_keys_with_sensitive_values_still_plans() {
    let tenant = Tenant::start();
    let hcl = r#"
variable "member" {
  type      = string
  sensitive = true
  default   = "alice@contoso.onmicrosoft.com"
}

locals {
  groups = { "a\"b\\c" = var.member, "ünï" = "bob@contoso.onmicrosoft.com" }
}

approver_group "k" {
  for_each = local.groups
  name     = "Group ${each.key}"
  email    = "k${length(each.key)}@contoso.onmicrosoft.com"
  members  = [each.value]
}
"#;
    let ws = Workspace::new(&tenant, hcl);
    let plan = json_plan(&ws);
    let addresses: Vec<&str> =
        plan["resource_changes"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, [r#"approver_group.k["a\"b\\c"]"#, r#"approver_group.k["ünï"]"#], "{plan:#}");
    assert_eq!(plan["resource_changes"][0]["index"], Value::String("a\"b\\c".into()));
}

/// A group whose name and one member come from sensitive variables.
const SECRET_MEMBER: &str = "bob@contoso.onmicrosoft.com";

fn named_and_staffed_by_variables() -> String {
    format!(
        r#"
variable "team" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}

variable "member" {{
  type      = string
  sensitive = true
  default   = "{SECRET_MEMBER}"
}}

approver_group "approvers" {{
  name    = var.team
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", var.member]
}}
"#
    )
}

/// The `pamform` section (member changes, security facts, drift) shows sensitive values as
/// `(sensitive value)`, as the text plan and the drift report do, with their counts kept;
/// the Terraform fields keep them, marked, as Terraform's do.
#[test]
fn the_pamform_section_of_the_json_plan_redacts_sensitive_values() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &named_and_staffed_by_variables());
    let plan = json_plan(&ws);
    let section = plan["pamform"].to_string();
    assert!(!section.contains(SECRET_MEMBER), "a sensitive member in `pamform`:\n{:#}", plan["pamform"]);
    let change = &plan["pamform"]["changes"][0];
    assert_eq!(change["members"]["added"].as_array().map(Vec::len), Some(2), "{change:#}");
    assert!(change["members"]["added"].to_string().contains("(sensitive value)"), "{change:#}");
    let security = &plan["pamform"]["security"]["approver_members_added"][0];
    assert_eq!(security["members"].as_array().map(Vec::len), Some(2), "{security:#}");
    assert_eq!(plan["resource_changes"][0]["change"]["after_sensitive"]["members"], Value::Bool(true));

    ws.run(&["apply", "--auto-approve"]).expect(0);
    tenant.invoke(
        "Set-DistributionGroup",
        serde_json::json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "DisplayName": "Renamed Outside"}),
    );
    let plan = json_plan(&ws);
    let drift = &plan["pamform"]["drift"];
    assert!(drift.as_array().is_some_and(|d| !d.is_empty()), "no drift:\n{plan:#}");
    for secret in [SECRET, "Renamed Outside", SECRET_MEMBER] {
        assert!(
            !plan["pamform"].to_string().contains(secret),
            "`{secret}` in `pamform`:\n{:#}",
            plan["pamform"]
        );
    }
    assert!(drift.to_string().contains("(sensitive value)"), "{drift:#}");
}

/// A diagnostic about a sensitive variable's value, or next to it, draws the lines of its
/// file: the value is masked there (its length kept, so every column still points right),
/// as the message is scrubbed.
#[test]
fn diagnostics_never_draw_a_sensitive_value_from_a_pamvars_file() {
    let tenant = Tenant::start();
    let declare = |ty: &str| {
        format!(
            "variable \"team\" {{\n  type      = {ty}\n  sensitive = true\n}}\n\napprover_group \"approvers\" {{\n  name    = \"Approvers\"\n  email   = \"pam-approvers@contoso.onmicrosoft.com\"\n  members = [\"alice@contoso.onmicrosoft.com\"]\n}}\n"
        )
    };
    let value = format!("team = \"{SECRET}\"\n");
    // The wrong type.
    let ws = Workspace::new(&tenant, &declare("bool"));
    ws.write("prod.pamvars.hcl", &value);
    // Set in two files.
    let twice = Workspace::new(&tenant, &declare("string"));
    twice.write("a.pamvars.hcl", &value);
    twice.write("b.pamvars.hcl", &value);
    // Another error on the next line: the snippet's context line is the value.
    let next = Workspace::new(&tenant, &declare("string"));
    next.write("prod.pamvars.hcl", &format!("{value}block {{\n}}\n"));
    // A file that does not parse: its lines are drawn all the same.
    let broken = Workspace::new(&tenant, &declare("string"));
    broken.write("prod.pamvars.hcl", &format!("team = \"{SECRET}\"\nother = \n"));
    let cases = [("wrong type", &ws), ("set twice", &twice), ("next line", &next), ("broken file", &broken)];
    for (what, ws) in cases {
        for args in [&["plan"][..], &["validate"]] {
            let run = ws.run(args);
            assert_ne!(run.code, 0, "{what}: `{}` is accepted:\n{}", args.join(" "), run.all());
            assert!(
                !run.all().contains(SECRET) && !run.all().contains("Zorro"),
                "{what}: `{}` shows the value:\n{}",
                args.join(" "),
                run.all()
            );
            assert!(run.stderr.contains("pamvars.hcl"), "{what}: no snippet:\n{}", run.stderr);
        }
    }
    // A value too short to be scrubbed from every text by its content: the parser's words
    // about it (which quote it) are not shown for a sensitive variable.
    let short = Workspace::new(&tenant, &declare("number"));
    for run in [
        short.run(&["validate", "--var", "team=zq7"]),
        short
            .command(&["validate"])
            .env("PAMFORM_VAR_team", "zq7")
            .output()
            .map(crate::support::cli::Run::from)
            .unwrap(),
    ] {
        assert_ne!(run.code, 0, "{}", run.all());
        assert!(run.all().contains("invalid value for variable `team`"), "{}", run.all());
        assert!(!run.all().contains("zq7"), "a short sensitive value is shown:\n{}", run.all());
    }
    // The masked value keeps its length: the snippet still lines up.
    let run = ws.run(&["plan"]);
    let masked = format!(
        "team = \"{}\"",
        SECRET.chars().map(|c| if c == ' ' { ' ' } else { '*' }).collect::<String>()
    );
    assert!(run.stderr.contains(&masked), "{}", run.stderr);
}

/// A saved plan is a file that is passed around (CI artifacts, review): it must hold no
/// sensitive value, in clear or as a digest (a digest of a guessable value gives it away).
/// `plan --out` over a configuration with sensitive values is refused, naming what is
/// sensitive, and writes no file; without sensitive values it is saved and `show` reads it.
#[test]
fn a_saved_plan_never_holds_a_sensitive_value() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &named_and_staffed_by_variables());
    let run = ws.run(&["plan", "--out", "plan.bin"]);
    let file = std::fs::read(ws.file("plan.bin")).ok();
    assert!(
        file.as_ref().is_none_or(|f| !String::from_utf8_lossy(f).contains(SECRET)),
        "the plan file holds the secret in clear"
    );
    assert_ne!(run.code, 0, "a plan with sensitive values is saved:\n{}", run.all());
    assert!(file.is_none(), "a refused plan left a file");
    assert!(!run.all().contains(SECRET) && !run.all().contains(SECRET_MEMBER), "{}", run.all());
    for attribute in ["approver_group.approvers.name", "approver_group.approvers.members"] {
        assert!(run.stderr.contains(attribute), "the refusal does not name {attribute}:\n{}", run.stderr);
    }
    // A sensitive variable no attribute uses: its value would still be hashed into the file.
    let unused = format!(
        "variable \"pin\" {{\n  type      = string\n  sensitive = true\n  default   = \"{SECRET}\"\n}}\n{}",
        named_by_variable("false").replace("${var.team}", "Team")
    );
    let ws = Workspace::new(&tenant, &unused);
    let run = ws.run(&["plan", "--out", "plan.bin"]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("variable `pin`"), "{}", run.stderr);
    assert!(!ws.file("plan.bin").exists());
    // Without sensitive values, saving and showing work as before.
    let ws = Workspace::new(&tenant, &named_by_variable("false").replace("${var.team}", "Team"));
    ws.run(&["plan", "--out", "plan.bin"]).expect(0);
    assert!(ws.run(&["show", "plan.bin"]).expect(0).stdout.contains("approver_group.approvers"));
    ws.run(&["apply", "plan.bin"]).expect(0);
}
