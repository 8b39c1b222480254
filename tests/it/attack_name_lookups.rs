//! A group state records with its configured names whose names are not looked up by the
//! refresh must not be one the plan replaces: whatever the plan creates is checked against
//! the recipients that hold its names (`group_name_taken`), through the real binary against
//! the emulator.

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
"#;

const TAKEN: &str = "pamform::group_name_taken";

/// The group applied, then moved outside pamform to another primary address while the
/// address state records still finds it (here through its Exchange `Name`), keeping its
/// display name and alias; its Exchange `Name` freed and taken by another group.
#[test]
fn a_group_found_at_its_address_with_another_primary_address_is_replaced_only_if_its_names_are_free() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, GROUPS);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    tenant.invoke(
        cmdlet::SET_GROUP,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com",
            "Name": "pam-approvers@contoso.onmicrosoft.com",
            "PrimarySmtpAddress": "pam-approvers-moved@contoso.onmicrosoft.com",
            "BypassSecurityGroupManagerCheck": true}),
    );
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({"Name": "PAM Approvers", "DisplayName": "PAM Approvers", "Alias": "someone-else",
            "PrimarySmtpAddress": "hand-someone-else@contoso.onmicrosoft.com", "Type": "Security",
            "Members": [upn("dave")]}),
    );
    let writes = tenant.write_count();
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains(TAKEN), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("hand-someone-else@contoso.onmicrosoft.com"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"PAM Approvers\"")), "{}", run.stderr);
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), writes, "a refused plan changes nothing");
}
