//! Documented behaviour that had no test through the binary: Exchange warnings shown after
//! an apply, a rejected plan's JSON marked `errored`, and the plan-time checks that name an
//! approver group or a system account the tenant does not have.

use serde_json::Value;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

const ALREADY_ENABLED: &str = "WARNING: Enable-ElevatedAccessControl: Elevated access control is already enabled; the approver group and system accounts were updated.";

#[test]
fn exchange_warnings_are_shown_after_apply_once_even_when_quiet() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let first = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(!first.stderr.contains("WARNING:"), "{}", first.all());

    // Updating the system accounts of an enabled PAM runs Enable-ElevatedAccessControl again,
    // which Exchange answers with a warning.
    let more_accounts = QUICKSTART.replace(
        "system_accounts        = [\"svc-pamform@contoso.onmicrosoft.com\"]",
        "system_accounts        = [\"svc-pamform@contoso.onmicrosoft.com\", \"svc-backup@contoso.onmicrosoft.com\"]",
    );
    assert_ne!(more_accounts, QUICKSTART, "the quickstart's system accounts line changed");
    ws.configure(&tenant, &more_accounts);
    let apply = ws.run(&["--quiet", "apply", "--auto-approve"]).expect(0);
    assert_eq!(apply.stderr.matches(ALREADY_ENABLED).count(), 1, "{}", apply.all());
    assert!(!apply.stdout.contains("WARNING:"), "warnings go to stderr\n{}", apply.stdout);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_rejected_plan_prints_an_errored_json_plan() {
    let tenant = Tenant::start();
    let unknown = QUICKSTART.replace("\"bob@contoso.onmicrosoft.com\"", "\"nobody@contoso.onmicrosoft.com\"");
    let ws = Workspace::new(&tenant, &unknown);
    let run = ws.run(&["plan", "--json"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_member"), "{}", run.all());
    assert!(run.stderr.contains("the plan was rejected: 1 error"), "{}", run.all());
    let plan: Value = serde_json::from_str(&run.stdout).expect("a JSON plan on stdout");
    assert_eq!(plan["errored"], Value::Bool(true), "{plan:#}");
    assert_eq!(plan["applyable"], Value::Bool(false), "{plan:#}");
    assert_eq!(plan["complete"], Value::Bool(false), "{plan:#}");
    let validator = crate::support::plans::plan_validator();
    let problems: Vec<String> = validator.iter_errors(&plan).map(|e| e.to_string()).collect();
    assert!(problems.is_empty(), "{problems:#?}\n{plan:#}");
    // The changes as far as they could be worked out: the group with its unknown member.
    let changes = plan["resource_changes"].as_array().expect("resource_changes");
    assert!(changes.iter().any(|c| c["address"] == "approver_group.approvers"), "{plan:#}");

    // The text plan prints nothing on stdout for a rejected plan, and nothing was written.
    let text = ws.run(&["plan"]).expect(1);
    assert_eq!(text.stdout, "", "{}", text.all());
    assert_eq!(tenant.write_count(), 0);
}

#[test]
fn an_approver_group_the_tenant_lacks_is_rejected_by_plan() {
    let tenant = Tenant::start();
    let hcl = QUICKSTART.replacen(
        "approver_group = approver_group.approvers",
        "approver_group = \"ghost-approvers@contoso.onmicrosoft.com\"",
        1,
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_approver_group"), "{}", run.all());
    assert!(run.stderr.contains("ghost-approvers@contoso.onmicrosoft.com"), "{}", run.all());
    assert_eq!(tenant.write_count(), 0);
}

#[test]
fn a_system_account_the_tenant_lacks_is_rejected_by_plan() {
    let tenant = Tenant::start();
    let hcl = QUICKSTART
        .replace("\"svc-pamform@contoso.onmicrosoft.com\"", "\"svc-ghost@contoso.onmicrosoft.com\"");
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_system_account"), "{}", run.all());
    assert!(run.stderr.contains("svc-ghost@contoso.onmicrosoft.com"), "{}", run.all());
    assert_eq!(tenant.write_count(), 0);
}
