//! Sensitive variables through the real binary: a value that comes from a variable declared
//! `sensitive = true` is `(sensitive value)` in the text plan, the Markdown and drift, never in
//! a saved plan (one is not saved), and marked (`before_sensitive`, `after_sensitive`) in the JSON plan.

use serde_json::Value;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

const SECRET: &str = "Very Secret Approvers";

fn config() -> String {
    let mut hcl = QUICKSTART.replace("name    = \"PAM Approvers\"", "name    = var.group_name");
    hcl.push_str(&format!(
        "\nvariable \"group_name\" {{\n  type      = string\n  default   = \"{SECRET}\"\n  sensitive = true\n}}\n"
    ));
    hcl
}

#[test]
fn text_plan_hides_the_value() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &config());
    let run = ws.run(&["plan"]).expect(0);
    assert!(!run.stdout.contains(SECRET), "secret in the plan:\n{}", run.stdout);
    assert!(
        run.stdout.lines().any(|l| l.trim() == "+ name       = (sensitive value)"),
        "no redaction:\n{}",
        run.stdout
    );
    // Attributes that do not come from the variable are shown.
    assert!(run.stdout.contains("pam-approvers@contoso.onmicrosoft.com"), "{}", run.stdout);
}

#[test]
fn markdown_hides_the_value_and_no_plan_file_holds_it() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &config());
    let md = ws.run(&["plan", "--format", "markdown"]).expect(0);
    assert!(!md.stdout.contains(SECRET), "secret in the Markdown:\n{}", md.stdout);
    assert!(md.stdout.contains("(sensitive value)"), "{}", md.stdout);
    // A plan file would hold the value (or a digest of it): it is not written.
    let saved = ws.run(&["plan", "--format", "markdown", "--out", "plan.bin"]);
    assert_ne!(saved.code, 0, "{}", saved.all());
    assert!(!saved.all().contains(SECRET), "{}", saved.all());
    assert!(saved.stderr.contains("approver_group.approvers.name"), "{}", saved.stderr);
    assert!(!ws.file("plan.bin").exists());
}

#[test]
fn json_plan_marks_the_value() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &config());
    let run = ws.run(&["plan", "--json"]).expect(0);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let changes = json["resource_changes"].as_array().unwrap();
    let group = changes.iter().find(|c| c["address"] == "approver_group.approvers").unwrap();
    // As Terraform's: the value is present, and marked.
    assert_eq!(group["change"]["after"]["name"], SECRET);
    assert_eq!(group["change"]["after_sensitive"], serde_json::json!({"name": true}));
    assert_eq!(group["change"]["before_sensitive"], Value::Bool(false));
    let planned = json["planned_values"]["root_module"]["resources"].as_array().unwrap();
    let group = planned.iter().find(|r| r["address"] == "approver_group.approvers").unwrap();
    assert_eq!(group["sensitive_values"], serde_json::json!({"name": true}));
    // A policy names the group by reference, which stands for its email: not sensitive here.
    let policy = changes.iter().find(|c| c["address"] == "access_policy.move_request").unwrap();
    assert_eq!(policy["change"]["after_sensitive"], serde_json::json!({}));
}

#[test]
fn drift_hides_the_value() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &config());
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let before = tenant.invoke("Get-DistributionGroup", serde_json::json!({}));
    assert!(before.iter().any(|g| g["DisplayName"] == SECRET), "{before:?}");
    tenant.invoke(
        "Set-DistributionGroup",
        serde_json::json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "DisplayName": "Renamed Outside"}),
    );
    for format in ["text", "markdown"] {
        let run = ws.run(&["drift", "--format", format]);
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(!run.stdout.contains(SECRET), "secret in drift ({format}):\n{}", run.stdout);
        assert!(!run.stdout.contains("Renamed Outside"), "secret in drift ({format}):\n{}", run.stdout);
        assert!(run.stdout.contains("(sensitive value)"), "{}", run.stdout);
    }
    let plan = ws.run(&["plan"]).expect(0);
    assert!(!plan.stdout.contains(SECRET) && !plan.stdout.contains("Renamed Outside"), "{}", plan.stdout);
}

#[test]
fn a_reference_to_a_group_with_a_sensitive_email_is_sensitive() {
    let tenant = Tenant::start();
    let mut hcl =
        QUICKSTART.replace("email   = \"pam-approvers@contoso.onmicrosoft.com\"", "email   = local.address");
    hcl.push_str(
        "\nvariable \"mail\" {\n  default   = \"pam-approvers@contoso.onmicrosoft.com\"\n  sensitive = true\n}\n\nlocals {\n  address = lower(var.mail)\n}\n",
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["plan"]).expect(0);
    assert!(!run.stdout.contains("pam-approvers@"), "secret in the plan:\n{}", run.stdout);
    assert!(run.stdout.contains("approver_group = (sensitive value)"), "{}", run.stdout);
}

/// A plan refusal that quotes a sensitive value (here the email of a group an unmanaged policy
/// still names) shows `(sensitive value)`, on the terminal and in the PR comment.
#[test]
fn plan_refusals_hide_the_value() {
    const MAIL: &str = "pam-secret-team@contoso.onmicrosoft.com";
    let tenant = Tenant::start();
    let with_group = QUICKSTART
        .replace("email   = \"pam-approvers@contoso.onmicrosoft.com\"", "email   = var.mail")
        + &format!(
            "\nvariable \"mail\" {{\n  type      = string\n  default   = \"{MAIL}\"\n  sensitive = true\n}}\n"
        );
    let ws = Workspace::new(&tenant, &with_group);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    // An admin gates another task with the group outside pamform.
    tenant.invoke(
        "New-ElevatedAccessApprovalPolicy",
        serde_json::json!({"Task": "Exchange\\New-InboxRule", "ApprovalType": "Manual", "ApproverGroup": MAIL}),
    );
    // The configuration moves everything to another group and drops this one.
    let other = QUICKSTART
        .replace("pam-approvers@", "pam-other@")
        .replace("name    = \"PAM Approvers\"", "name    = \"Other\"")
        + &format!(
            "\nvariable \"mail\" {{\n  type      = string\n  default   = \"{MAIL}\"\n  sensitive = true\n}}\n"
        );
    ws.configure(&tenant, &other);
    for args in [&["plan"][..], &["plan", "--format", "markdown"][..]] {
        let run = ws.run(args).expect(1);
        assert!(!run.all().contains(MAIL), "the sensitive value shows:\n{}", run.all());
        assert!(run.all().contains("(sensitive value)"), "{}", run.all());
    }
}
