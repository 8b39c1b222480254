//! Every kind of planned action through the real binary against the emulator, with the
//! rendered plan as a snapshot: create, update, replace, delete, import, move, --target,
//! --destroy and --refresh-only. Each scenario then applies and checks the next plan is clean.

use pamform::wire::exchange::cmdlet;
use serde_json::json;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::upn;

/// The plan's text with ids, ports and temporary paths replaced, as a snapshot.
fn snapshot_plan(name: &str, ws: &Workspace, args: &[&str]) {
    let mut full = vec!["plan"];
    full.extend_from_slice(args);
    // Without --detailed-exitcode a plan with changes still succeeds with 0.
    let run = ws.run(&full).expect(0);
    insta::with_settings!({filters => vec![
        (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "[GUID]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"/tmp/[^\s]+", "[TMP]"),
    ]}, {
        insta::assert_snapshot!(name, run.stdout);
    });
}

fn converged(ws: &Workspace) {
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn create() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    snapshot_plan("create", &ws, &[]);
    converged(&ws);
}

#[test]
fn update_in_place() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let changed = QUICKSTART
        .replace("name    = \"PAM Approvers\"", "name    = \"PAM Approvers (Exchange)\"")
        .replace("\"bob@contoso.onmicrosoft.com\"", "\"carol@contoso.onmicrosoft.com\", \"dave@contoso.onmicrosoft.com\"")
        .replace("system_accounts        = [\"svc-pamform@contoso.onmicrosoft.com\"]", "system_accounts        = [\"svc-pamform@contoso.onmicrosoft.com\", \"svc-backup@contoso.onmicrosoft.com\"]");
    ws.configure(&tenant, &changed);
    snapshot_plan("update", &ws, &[]);
    converged(&ws);
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("alice"), upn("carol"), upn("dave")]
    );
}

#[test]
fn replace() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let before: Vec<String> = tenant.policies().iter().map(|p| p["Identity"].to_string()).collect();
    let changed = QUICKSTART.replacen(
        "task           = \"Exchange\\\\Set-Mailbox\"\n  approval       = \"manual\"",
        "task           = \"Exchange\\\\Set-Mailbox\"\n  approval       = \"auto\"",
        1,
    );
    assert_ne!(changed, QUICKSTART);
    ws.configure(&tenant, &changed);
    snapshot_plan("replace", &ws, &[]);
    converged(&ws);
    let after = tenant.policies();
    assert_eq!(after.len(), 2);
    let fresh = after.iter().filter(|p| !before.contains(&p["Identity"].to_string())).count();
    assert_eq!(fresh, 1, "exactly the replaced policy is new: {after:?}");
}

#[test]
fn delete() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let cut = QUICKSTART.split("access_policy \"set_mailbox\"").next().unwrap();
    ws.configure(&tenant, cut);
    snapshot_plan("delete", &ws, &[]);
    converged(&ws);
    assert_eq!(tenant.policies().len(), 1);
    let left: Vec<String> = ws.state().unwrap().resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(left.len(), 3, "only the target was destroyed, not the group it uses: {left:?}");
}

#[test]
fn import_block() {
    let tenant = Tenant::start();
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({
            "Name": "PAM Approvers", "DisplayName": "PAM Approvers", "Alias": "pam-approvers",
            "PrimarySmtpAddress": "pam-approvers@contoso.onmicrosoft.com", "Type": "Security",
            "Members": [upn("alice"), upn("bob")],
        }),
    );
    let hcl = format!(
        "{QUICKSTART}\nimport {{\n  to = approver_group.approvers\n  id = \"pam-approvers@contoso.onmicrosoft.com\"\n}}\n"
    );
    let ws = Workspace::new(&tenant, &hcl);
    snapshot_plan("import", &ws, &[]);
    converged(&ws);
    let state = ws.state().unwrap();
    assert_eq!(state.resources.len(), 4);
}

#[test]
fn moved_block() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let writes = tenant.write_count();
    let renamed = format!(
        "{}\nmoved {{\n  from = access_policy.set_mailbox\n  to   = access_policy.mailbox\n}}\n",
        QUICKSTART.replace("access_policy \"set_mailbox\"", "access_policy \"mailbox\"")
    );
    ws.configure(&tenant, &renamed);
    snapshot_plan("move", &ws, &[]);
    converged(&ws);
    assert_eq!(tenant.write_count(), writes, "a move changes only state");
    let state = ws.state().unwrap();
    assert!(state.resources.iter().any(|r| r.address.to_string() == "access_policy.mailbox"));
}

#[test]
fn target_with_dependencies() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    snapshot_plan("target", &ws, &["--target", "access_policy.move_request"]);
    ws.run(&["apply", "--auto-approve", "--target", "access_policy.move_request"]).expect(0);
    let state = ws.state().unwrap();
    let mut addrs: Vec<String> = state.resources.iter().map(|r| r.address.to_string()).collect();
    addrs.sort();
    assert_eq!(addrs, vec!["access_policy.move_request", "approver_group.approvers"]);
    converged(&ws);
}

#[test]
fn destroy() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    snapshot_plan("destroy", &ws, &["--destroy"]);
    ws.run(&["apply", "--auto-approve", "--destroy"]).expect(0);
    assert!(tenant.policies().is_empty());
    assert_eq!(tenant.org_config()["ElevatedAccessControl"], "Disabled");
    assert!(ws.state().unwrap().resources.is_empty());
    ws.run(&["plan", "--destroy", "--detailed-exitcode"]).expect(0);
}

#[test]
fn refresh_only() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    tenant.invoke(
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
    );
    snapshot_plan("refresh_only", &ws, &["--refresh-only"]);
    let writes = tenant.write_count();
    ws.run(&["apply", "--auto-approve", "--refresh-only"]).expect(0);
    assert_eq!(tenant.write_count(), writes, "refresh-only changes nothing in the tenant");
    ws.run(&["plan", "--refresh-only", "--detailed-exitcode"]).expect(0);
    // The configuration still wants mallory out.
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(run.stdout.contains("mallory"), "{}", run.stdout);
    converged(&ws);
}

#[test]
fn prevent_destroy_rejects_a_destroying_plan() {
    let tenant = Tenant::start();
    let guarded = QUICKSTART.replacen(
        "approval       = \"manual\"\n  approver_group = approver_group.approvers\n}",
        "approval       = \"manual\"\n  approver_group = approver_group.approvers\n  lifecycle {\n    prevent_destroy = true\n  }\n}",
        1,
    );
    assert_ne!(guarded, QUICKSTART);
    let ws = Workspace::new(&tenant, &guarded);
    converged(&ws);
    let run = ws.run(&["plan", "--destroy"]).expect(1);
    assert!(run.stderr.contains("prevent_destroy"), "{}", run.stderr);
    assert!(run.stderr.contains("access_policy.move_request"), "{}", run.stderr);
    let writes = tenant.write_count();
    ws.run(&["apply", "--destroy", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), writes);
    // Targeting around it works.
    ws.run(&["apply", "--destroy", "--auto-approve", "--target", "access_policy.set_mailbox"]).expect(0);
    assert_eq!(tenant.policies().len(), 1);
    let left: Vec<String> = ws.state().unwrap().resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(left.len(), 3, "only the target was destroyed, not the group it uses: {left:?}");
}

#[test]
fn ignore_changes_leaves_out_of_band_changes_alone() {
    let tenant = Tenant::start();
    let hcl = QUICKSTART.replacen(
        "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]",
        "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]\n  lifecycle {\n    ignore_changes = [members]\n  }",
        1,
    );
    assert_ne!(hcl, QUICKSTART);
    let ws = Workspace::new(&tenant, &hcl);
    converged(&ws);
    tenant.invoke(
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
    );
    let plan = ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(tenant.group_members("pam-approvers@contoso.onmicrosoft.com").contains(&upn("mallory")));
}

#[test]
fn usage_errors_exit_one_never_two() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["plan", "--no-such-flag"]).expect(1);
    ws.run(&["plan", "--target", "approver_group.nope"]).expect(1);
    ws.run(&["plan", "--target", "not an address"]).expect(1);
    ws.run(&["apply", "plan.bin", "--destroy"]).expect(1);
    let import = format!(
        "{QUICKSTART}\nimport {{\n  to = approver_group.approvers\n  id = \"nobody@contoso.onmicrosoft.com\"\n}}\n"
    );
    ws.configure(&tenant, &import);
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(1);
    assert!(run.stderr.contains("pamform::import_not_found"), "{}", run.stderr);
}

#[test]
fn a_new_group_email_replaces_the_group_and_the_policies_that_name_it() {
    let tenant = Tenant::start();
    let hcl = format!(
        "{}\napprover_group \"mailbox\" {{\n  name    = \"Mailbox Approvers\"\n  email   = \"mailbox@contoso.onmicrosoft.com\"\n  members = [\"carol@contoso.onmicrosoft.com\"]\n}}\n",
        QUICKSTART.replace(
            "approver_group = approver_group.approvers\n}\n\naccess_policy \"set_mailbox\"",
            "approver_group = approver_group.mailbox\n}\n\naccess_policy \"set_mailbox\""
        )
    );
    let ws = Workspace::new(&tenant, &hcl);
    converged(&ws);
    ws.configure(&tenant, &hcl.replace("mailbox@contoso", "mailbox-2@contoso"));
    let plan = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(plan.stdout.contains("Plan: 2 to add, 0 to change, 2 to destroy."), "{}", plan.stdout);
    let run = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    let groups = tenant.invoke(cmdlet::GET_GROUP, json!({"ResultSize": "Unlimited"}));
    let mut emails: Vec<&str> = groups.iter().filter_map(|g| g["PrimarySmtpAddress"].as_str()).collect();
    emails.sort();
    assert_eq!(emails, vec!["mailbox-2@contoso.onmicrosoft.com", "pam-approvers@contoso.onmicrosoft.com"]);
    assert_eq!(tenant.policies().len(), 2);
}

#[test]
fn replacing_the_default_approver_group_is_rejected_with_the_way_out() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    ws.configure(&tenant, &QUICKSTART.replace("pam-approvers@", "pam-approvers-2@"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::default_group_replaced"), "{}", run.stderr);
    assert!(run.stderr.contains("two steps"), "{}", run.stderr);
}
