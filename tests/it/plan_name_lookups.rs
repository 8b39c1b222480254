//! Which recipient names a plan looks up, through the real binary against the emulator: an
//! unchanged configuration sends no `Get-Recipient`; a group that will be created (new, or
//! deleted outside pamform) or renamed (in the configuration, or outside pamform) still has
//! its names checked against the other recipients (`group_name_taken`).

use pamform::wire::exchange::cmdlet;
use serde_json::json;

use crate::support::cli::{Tenant, Workspace, position};
use crate::support::upn;

const GROUPS: &str = r#"
approver_group "approvers" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}

approver_group "auditors" {
  name    = "PAM Auditors"
  email   = "pam-auditors@contoso.onmicrosoft.com"
  members = ["carol@contoso.onmicrosoft.com"]
}
"#;

const TAKEN: &str = "pamform::group_name_taken";

/// The groups applied: state records them with the names they are configured with.
fn applied() -> (Tenant, Workspace) {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, GROUPS);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    (tenant, ws)
}

/// How many `Get-Recipient` requests `run` made the tenant answer.
fn name_lookups(tenant: &Tenant, run: impl FnOnce()) -> u64 {
    let count = || tenant.counters()["per_cmdlet"][cmdlet::GET_RECIPIENT].as_u64().unwrap_or(0);
    let before = count();
    run();
    count() - before
}

/// A group made by hand (at `hand-ALIAS@`) that holds `name` (as its Exchange `Name` and
/// display name) and `alias`.
fn hand_group(tenant: &Tenant, name: &str, alias: &str) {
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({"Name": name, "DisplayName": name, "Alias": alias,
            "PrimarySmtpAddress": format!("hand-{alias}@contoso.onmicrosoft.com"), "Type": "Security",
            "Members": [upn("dave")]}),
    );
}

#[test]
fn an_unchanged_configuration_plans_without_looking_up_any_name() {
    let (tenant, ws) = applied();
    let sent = name_lookups(&tenant, || {
        ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    });
    assert_eq!(sent, 0, "{}", tenant.counters());
    // A member change is no rename either.
    ws.configure(
        &tenant,
        &GROUPS.replace("[\"carol@contoso.onmicrosoft.com\"]", "[\"dave@contoso.onmicrosoft.com\"]"),
    );
    let sent = name_lookups(&tenant, || {
        ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    });
    assert_eq!(sent, 0, "{}", tenant.counters());
}

#[test]
fn a_group_deleted_outside_pamform_whose_name_is_now_taken_is_refused_at_plan() {
    let (tenant, ws) = applied();
    tenant.invoke(
        cmdlet::REMOVE_GROUP,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "BypassSecurityGroupManagerCheck": true}),
    );
    hand_group(&tenant, "PAM Approvers", "someone-else");
    let writes = tenant.write_count();
    let mut run = None;
    let sent = name_lookups(&tenant, || run = Some(ws.run(&["plan"]).expect(1)));
    let run = run.unwrap();
    assert!(run.stderr.contains(TAKEN), "{}", run.stderr);
    assert!(run.stderr.contains("hand-someone-else@contoso.onmicrosoft.com"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"PAM Approvers\"")), "{}", run.stderr);
    // Only the gone group's names were looked up, once the refresh found it gone.
    assert_eq!(sent, 1, "{}", tenant.counters());
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), writes, "a refused plan changes nothing");
}

#[test]
fn a_group_renamed_outside_pamform_whose_name_is_now_taken_is_refused_at_plan() {
    let (tenant, ws) = applied();
    tenant.invoke(
        cmdlet::SET_GROUP,
        json!({"Identity": "pam-auditors@contoso.onmicrosoft.com", "Name": "Renamed By Hand",
            "DisplayName": "Renamed By Hand", "BypassSecurityGroupManagerCheck": true}),
    );
    hand_group(&tenant, "PAM Auditors", "auditors-by-hand");
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains(TAKEN), "{}", run.stderr);
    assert!(run.stderr.contains("hand-auditors-by-hand@contoso.onmicrosoft.com"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"PAM Auditors\"")), "{}", run.stderr);

    // Renamed outside pamform to a name nobody else holds: the plan renames it back.
    tenant.invoke(
        cmdlet::REMOVE_GROUP,
        json!({"Identity": "hand-auditors-by-hand@contoso.onmicrosoft.com", "BypassSecurityGroupManagerCheck": true}),
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect(2);
}

#[test]
fn a_group_realiased_outside_pamform_whose_alias_is_now_taken_is_refused_at_plan() {
    let (tenant, ws) = applied();
    tenant.invoke(
        cmdlet::SET_GROUP,
        json!({"Identity": "pam-auditors@contoso.onmicrosoft.com", "Alias": "auditors-moved",
            "BypassSecurityGroupManagerCheck": true}),
    );
    hand_group(&tenant, "Someone Else", "pam-auditors");
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains(TAKEN), "{}", run.stderr);
    assert!(run.stderr.contains("alias `pam-auditors`"), "{}", run.stderr);
}

#[test]
fn a_renamed_group_and_a_new_group_are_still_checked() {
    let (tenant, ws) = applied();
    hand_group(&tenant, "Taken Name", "taken-alias");
    // Renamed in the configuration to a name another group holds.
    ws.configure(&tenant, &GROUPS.replace("\"PAM Auditors\"", "\"Taken Name\""));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains(TAKEN), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"Taken Name\"")), "{}", run.stderr);

    // A new group with an alias another group holds.
    let new_group = "\napprover_group \"new\" {\n  name    = \"Brand New\"\n  email   = \"brand-new@contoso.onmicrosoft.com\"\n  alias   = \"taken-alias\"\n  members = [\"alice@contoso.onmicrosoft.com\"]\n}\n";
    ws.configure(&tenant, &format!("{GROUPS}{new_group}"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains(TAKEN), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"taken-alias\"")), "{}", run.stderr);

    // With free names both plan, and only their names are looked up (one filter).
    ws.configure(
        &tenant,
        &format!(
            "{}{}",
            GROUPS.replace("\"PAM Auditors\"", "\"Auditors\""),
            new_group.replace("taken-alias", "brand-new")
        ),
    );
    let sent = name_lookups(&tenant, || {
        ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    });
    assert_eq!(sent, 1, "{}", tenant.counters());
}
