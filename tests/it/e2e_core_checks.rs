//! Plan-time checks against the tenant, through the real binary: each rejected (or warned)
//! with a diagnostic that points at the offending string in the configuration.

use crate::support::cli::{Tenant, Workspace, position};

const GROUP: &str = r#"
approver_group "approvers" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", MEMBER]
}
"#;

fn with_member(member: &str) -> String {
    GROUP.replace("MEMBER", &format!("\"{member}\""))
}

#[test]
fn unknown_member_is_rejected_at_its_string() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &with_member("nobody@contoso.onmicrosoft.com"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_member"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"nobody@")), "{}", run.stderr);
    assert!(run.stderr.contains("the plan was rejected"), "{}", run.stderr);
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), 0);
}

#[test]
fn member_without_mailbox_is_rejected() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &with_member("grace@contoso.onmicrosoft.com"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::member_without_mailbox"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"grace@")), "{}", run.stderr);
}

#[test]
fn guest_approver_is_a_warning() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &with_member("oscar@fabrikam.com"));
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(run.stderr.contains("pamform::guest_approver"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"oscar@")), "{}", run.stderr);
    assert!(run.stdout.contains("will be created"), "{}", run.stdout);
}

#[test]
fn empty_approver_group_is_rejected() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &GROUP.replace("[\"alice@contoso.onmicrosoft.com\", MEMBER]", "[]"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::empty_approver_group"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "approver_group \"approvers\"")), "{}", run.stderr);
}

#[test]
fn self_lockout_is_rejected_at_the_policy_target() {
    let tenant = Tenant::start();
    let hcl = format!(
        "{}\nprivileged_access {{\n  enabled                = true\n  default_approver_group = approver_group.approvers\n  system_accounts        = [\"svc-backup@contoso.onmicrosoft.com\"]\n}}\n\naccess_policy \"groups\" {{\n  role           = \"Distribution Groups\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers\n}}\n",
        with_member("bob@contoso.onmicrosoft.com")
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::self_lockout"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"Distribution Groups\"")), "{}", run.stderr);
    assert!(run.stderr.contains("system_accounts"), "{}", run.stderr);
    assert_eq!(tenant.write_count(), 0);
}

#[test]
fn more_than_thirty_policies_counting_unmanaged_ones_are_rejected() {
    let tenant = Tenant::start();
    // Two policies made by hand already; 29 configured makes 31.
    tenant.invoke(
        pamform::wire::exchange::cmdlet::NEW_GROUP,
        serde_json::json!({"Name": "Hand", "Alias": "hand", "PrimarySmtpAddress": "hand@contoso.onmicrosoft.com",
            "Type": "Security", "Members": [crate::support::upn("carol")]}),
    );
    for task in ["Get-Mailbox", "Enable-Mailbox"] {
        tenant.invoke(
            pamform::wire::exchange::cmdlet::NEW_POLICY,
            serde_json::json!({"Task": format!("Exchange\\{task}"), "ApprovalType": "Manual", "ApproverGroup": "hand@contoso.onmicrosoft.com"}),
        );
    }
    let tasks: Vec<String> = (0..29).map(|i| format!("\"New-Thing{i:02}\"")).collect();
    let hcl = format!(
        "{}\naccess_policy \"many\" {{\n  for_each       = toset([{}])\n  task           = \"Exchange\\\\${{each.value}}\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers\n}}\n",
        with_member("bob@contoso.onmicrosoft.com"),
        tasks.join(", ")
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::too_many_policies"), "{}", run.stderr);
    assert!(run.stderr.contains("31 access policies"), "{}", run.stderr);
    assert!(run.stderr.contains("2 unmanaged"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "access_policy \"many\"")), "{}", run.stderr);
}
