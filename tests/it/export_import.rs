//! `pamform import ADDR ID` through the real binary against an emulator on 127.0.0.1:
//! adopting each kind of object by each kind of id, and clear errors that leave the state
//! untouched for unknown ids, ids of the wrong kind and objects other than the configured one.

use pamform::wire::exchange;
use serde_json::json;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::upn;

/// A tenant where the quickstart was applied from another directory, and a directory with
/// the same configuration and no state.
fn adoptable() -> (Tenant, Workspace) {
    let tenant = Tenant::start();
    Workspace::new(&tenant, QUICKSTART).run(&["apply", "--auto-approve"]).expect(0);
    let ws = Workspace::new(&tenant, QUICKSTART);
    (tenant, ws)
}

fn state_bytes(ws: &Workspace) -> Option<Vec<u8>> {
    std::fs::read(ws.file("pamform.state.json")).ok()
}

fn policy_id(tenant: &Tenant, task: &str) -> String {
    tenant
        .policies()
        .iter()
        .find(|p| p["Task"].as_str() == Some(task))
        .and_then(|p| p["Identity"].as_str())
        .expect("the policy exists")
        .to_string()
}

#[test]
fn import_adopts_each_kind_without_changing_the_tenant() {
    let (tenant, ws) = adoptable();
    let writes = tenant.write_count();

    let run =
        ws.run(&["import", "approver_group.approvers", "PAM-Approvers@contoso.onmicrosoft.com"]).expect(0);
    assert!(run.stdout.contains("approver_group.approvers: Import complete [id="), "{}", run.all());
    // The policies and their group are in the tenant but not yet in this state.
    assert!(run.stdout.contains("Still unmanaged in the tenant (2):"), "{}", run.stdout);

    let id = policy_id(&tenant, "Exchange\\New-MoveRequest");
    ws.run(&["import", "access_policy.move_request", &id]).expect(0);
    ws.run(&["import", "access_policy.set_mailbox", "exchange\\set-mailbox"]).expect(0);
    let last = ws.run(&["import", "privileged_access", crate::support::DOMAIN]).expect(0);
    assert!(last.stdout.contains("Every PAM object in the tenant is managed."), "{}", last.stdout);

    let state = ws.state().expect("state written");
    assert_eq!(state.resources.len(), 4);
    let group = state.get(&"approver_group.approvers".parse().unwrap()).unwrap();
    assert_eq!(group.attributes["members"], json!([upn("alice"), upn("bob")]));
    assert_eq!(state.get(&"access_policy.move_request".parse().unwrap()).unwrap().id, id);
    assert_eq!(tenant.write_count(), writes, "import changes nothing in the tenant");
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);

    let again = ws.run(&["import", "access_policy.move_request", &id]).expect(1);
    assert!(again.stderr.contains("already managed"), "{}", again.stderr);
}

#[test]
fn import_records_the_tenants_values_not_the_configuration() {
    let (tenant, ws) = adoptable();
    tenant.invoke(
        exchange::cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("carol")}),
    );
    ws.run(&["import", "approver_group.approvers", "pam-approvers@contoso.onmicrosoft.com"]).expect(0);
    let state = ws.state().unwrap();
    let group = state.get(&"approver_group.approvers".parse().unwrap()).unwrap();
    assert_eq!(group.attributes["members"], json!([upn("alice"), upn("bob"), upn("carol")]));
    // The next plan brings the tenant back to the configuration.
    let plan = ws.run(&["plan", "--target", "approver_group.approvers"]).expect(0);
    assert!(plan.stdout.contains(&format!("- \"{}\"", upn("carol"))), "{}", plan.stdout);
}

#[test]
fn import_errors_are_clear_and_leave_state_untouched() {
    let (tenant, ws) = adoptable();
    ws.run(&["import", "privileged_access", "tenant"]).expect(0);
    let before = state_bytes(&ws).expect("state");
    tenant.invoke(
        exchange::cmdlet::NEW_GROUP,
        json!({"Name": "Other", "PrimarySmtpAddress": "other@contoso.onmicrosoft.com", "Type": "Security", "Members": [upn("carol")]}),
    );
    let policy = policy_id(&tenant, "Exchange\\Set-Mailbox");
    let cases: [(&[&str], &str); 8] = [
        (
            &["import", "approver_group.approvers", "nobody@contoso.onmicrosoft.com"],
            "no approver_group with id `nobody@contoso.onmicrosoft.com` in the tenant",
        ),
        (
            &["import", "access_policy.move_request", "00000000-0000-0000-0000-000000000000"],
            "no access_policy with id",
        ),
        (
            &["import", "access_policy.move_request", "Exchange\\New-MailboxSearch"],
            "no access_policy with id",
        ),
        (
            &["import", "approver_group.approvers", &policy],
            "is an access policy (Exchange\\Set-Mailbox), not an approver group",
        ),
        (
            &["import", "access_policy.move_request", "pam-approvers@contoso.onmicrosoft.com"],
            "is an approver group (pam-approvers@contoso.onmicrosoft.com), not an access policy",
        ),
        (
            &["import", "approver_group.approvers", "other@contoso.onmicrosoft.com"],
            "is the group other@contoso.onmicrosoft.com, but approver_group.approvers is configured with email pam-approvers@contoso.onmicrosoft.com",
        ),
        (
            &["import", "access_policy.move_request", &policy],
            "is the policy for task = \"Exchange\\\\Set-Mailbox\", but access_policy.move_request is configured for task = \"Exchange\\\\New-MoveRequest\"",
        ),
        (
            &["import", "approver_group.nope", "other@contoso.onmicrosoft.com"],
            "approver_group.nope is not in the configuration",
        ),
    ];
    for (args, message) in cases {
        let run = ws.run(args).expect(1);
        // miette wraps long messages: compare without whitespace and its margin.
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace() && *c != '|').collect::<String>();
        assert!(
            squash(&run.stderr).contains(&squash(message)),
            "{args:?}: expected `{message}` in\n{}",
            run.stderr
        );
        assert_eq!(state_bytes(&ws).as_ref(), Some(&before), "{args:?} left the state untouched");
    }
    let usage = ws.run(&["import", "not an address", "x"]).expect(1);
    assert!(!usage.stderr.is_empty());
}

#[test]
fn import_blocks_use_the_same_lookup_and_checks() {
    let (tenant, ws) = adoptable();
    let policy = policy_id(&tenant, "Exchange\\Set-Mailbox");
    ws.configure(
        &tenant,
        &format!(
            "{QUICKSTART}\nimport {{\n  to = access_policy.move_request\n  id = \"{policy}\"\n}}\n\nimport {{\n  to = access_policy.set_mailbox\n  id = \"pam-approvers@contoso.onmicrosoft.com\"\n}}\n"
        ),
    );
    let run = ws.run(&["plan"]).expect(1);
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace() && *c != '|').collect::<String>();
    for message in [
        "cannot import access_policy.move_request: `",
        "is the policy for task = \"Exchange\\\\Set-Mailbox\"",
        "is an approver group (pam-approvers@contoso.onmicrosoft.com), not an access policy",
    ] {
        assert!(squash(&run.stderr).contains(&squash(message)), "expected `{message}` in\n{}", run.stderr);
    }
    assert!(state_bytes(&ws).is_none());

    ws.configure(
        &tenant,
        &format!("{QUICKSTART}\nimport {{\n  to = access_policy.move_request\n  id = \"exchange\\\\new-moverequest\"\n}}\n"),
    );
    let plan = ws.run(&["plan"]).expect(0);
    assert!(plan.stdout.contains("access_policy.move_request will be imported"), "{}", plan.stdout);
}
