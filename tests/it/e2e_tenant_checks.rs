//! Plan-time checks that read the tenant, through the real binary against the emulator:
//! self-lockout from the tenant's live PAM switch and policies, task, role and role group
//! names checked against the tenant's management roles, group names another recipient holds,
//! and members compared as directory objects (one user by UPN and by mail is one member).

use pamform::emulator::{Faults, Seed, seed::SeedUser};
use pamform::wire::exchange::cmdlet;
use serde_json::json;

use crate::support::cli::{Tenant, Workspace, position};
use crate::support::upn;

const GROUP: &str = r#"
approver_group "approvers" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}
"#;

fn policy(attribute: &str, value: &str) -> String {
    format!(
        "{GROUP}\naccess_policy \"gate\" {{\n  {attribute} = \"{value}\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers\n}}\n"
    )
}

/// A group made by hand, and PAM switched on by hand with it as the default approver group
/// and the given system accounts.
fn enable_pam_out_of_band(tenant: &Tenant, system_accounts: &[&str]) {
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({"Name": "Hand", "Alias": "hand", "PrimarySmtpAddress": "hand@contoso.onmicrosoft.com",
            "Type": "Security", "Members": [upn("carol")]}),
    );
    tenant.invoke(
        cmdlet::ENABLE_ELEVATED_ACCESS_CONTROL,
        json!({"AdminGroup": "hand@contoso.onmicrosoft.com", "SystemAccounts": system_accounts}),
    );
}

#[test]
fn without_a_privileged_access_block_the_live_pam_switch_decides_self_lockout() {
    let tenant = Tenant::start();
    enable_pam_out_of_band(&tenant, &[]);
    let ws = Workspace::new(&tenant, &policy("task          ", "Exchange\\\\Get-DistributionGroup"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::self_lockout"), "{}", run.stderr);
    assert!(run.stderr.contains("Get-DistributionGroup"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"Exchange\\\\Get-DistributionGroup\"")), "{}", run.stderr);
    assert!(run.stderr.contains("add a privileged_access block"), "{}", run.stderr);
    let writes = tenant.write_count();
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), writes, "nothing was applied");
    assert!(tenant.policies().is_empty());
}

#[test]
fn pam_off_in_the_tenant_and_no_block_is_not_a_lockout() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &policy("task          ", "Exchange\\\\Get-DistributionGroup"));
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(!run.stderr.contains("pamform::self_lockout"), "{}", run.stderr);
}

#[test]
fn a_live_system_account_for_pamform_is_not_a_lockout() {
    let tenant = Tenant::start();
    enable_pam_out_of_band(&tenant, &[crate::support::APP_ID]);
    let ws = Workspace::new(&tenant, &policy("task          ", "Exchange\\\\Get-DistributionGroup"));
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(!run.stderr.contains("pamform::self_lockout"), "{}", run.stderr);
}

#[test]
fn an_unmanaged_policy_that_stays_in_force_is_a_lockout_naming_its_task() {
    let tenant = Tenant::start();
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({"Name": "Hand", "Alias": "hand", "PrimarySmtpAddress": "hand@contoso.onmicrosoft.com",
            "Type": "Security", "Members": [upn("carol")]}),
    );
    tenant.invoke(
        cmdlet::NEW_POLICY,
        json!({"Task": "Exchange\\Get-DistributionGroup", "ApprovalType": "Manual",
            "ApproverGroup": "hand@contoso.onmicrosoft.com"}),
    );
    // The configuration turns PAM on without listing pamform's identity, and does not
    // manage the hand-made policy, which therefore stays.
    let hcl = format!(
        "{GROUP}\nprivileged_access {{\n  enabled                = true\n  default_approver_group = approver_group.approvers\n}}\n"
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::self_lockout"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the policy for Exchange\\Get-DistributionGroup already in the tenant"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&position(&ws, "privileged_access {")), "{}", run.stderr);
}

#[test]
fn a_misspelt_task_is_rejected_at_plan_with_a_suggestion() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &policy("task          ", "Exchange\\\\New-MoveReqest"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_task"), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean \"Exchange\\New-MoveRequest\""), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"Exchange\\\\New-MoveReqest\"")), "{}", run.stderr);
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), 0, "apply stops before changing anything");
}

#[test]
fn unknown_roles_and_role_groups_are_rejected_at_plan() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &policy("role          ", "Move Mailbox"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_role"), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean \"Move Mailboxes\""), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"Move Mailbox\"")), "{}", run.stderr);

    ws.configure(&tenant, &policy("role_group    ", "Nobody Management Whatsoever"));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::unknown_role_group"), "{}", run.stderr);
    assert!(!run.stderr.contains("did you mean"), "nothing is close: {}", run.stderr);

    ws.configure(&tenant, &policy("role_group    ", "Recipient Management"));
    ws.run(&["plan", "--detailed-exitcode"]).expect(2);
}

#[test]
fn a_new_group_whose_name_another_group_holds_is_rejected_at_plan() {
    let tenant = Tenant::start();
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({"Name": "PAM Approvers", "Alias": "old-approvers",
            "PrimarySmtpAddress": "old-approvers@contoso.onmicrosoft.com", "Type": "Security",
            "Members": [upn("carol")]}),
    );
    let ws = Workspace::new(&tenant, GROUP);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::group_name_taken"), "{}", run.stderr);
    assert!(run.stderr.contains("old-approvers@contoso.onmicrosoft.com"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"PAM Approvers\"")), "{}", run.stderr);

    // An alias a user holds is taken too.
    ws.configure(&tenant, &GROUP.replace("\"PAM Approvers\"", "\"Fresh\"\n  alias   = \"dave\""));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::group_name_taken"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"dave\"")), "{}", run.stderr);

    // A name nobody holds plans, and once applied the group's own names are no collision.
    ws.configure(&tenant, &GROUP.replace("\"PAM Approvers\"", "\"Fresh\""));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

/// The default tenant plus Zoe, whose mail address differs from her UPN.
fn seed_with_zoe() -> Seed {
    let mut seed: Seed = serde_json::from_str(pamform::emulator::seed::DEFAULT_SEED_JSON).unwrap();
    seed.users.push(SeedUser {
        id: String::new(),
        user_principal_name: upn("zoe"),
        display_name: Some("Zoe".into()),
        mail: Some("zoe.smith@contoso.com".into()),
        mailbox: true,
        guest: false,
        service_account: false,
    });
    seed
}

fn group_with(members: &[&str]) -> String {
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "approver_group \"approvers\" {{\n  name    = \"PAM Approvers\"\n  email   = \"pam-approvers@contoso.onmicrosoft.com\"\n  members = [{}]\n}}\n",
        list.join(", ")
    )
}

#[test]
fn one_user_by_upn_and_by_mail_is_one_member_and_converges() {
    let tenant = Tenant::start_with(Some(seed_with_zoe()), Faults::default());
    let ws = Workspace::new(&tenant, &group_with(&[&upn("zoe"), "zoe.smith@contoso.com", &upn("bob")]));
    let run = ws.run(&["plan"]).expect(0);
    assert!(run.stderr.contains("pamform::duplicate_member"), "{}", run.stderr);
    assert!(run.stderr.contains(&position(&ws, "\"zoe.smith@")), "{}", run.stderr);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("bob"), "zoe.smith@contoso.com".to_string()]
    );
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
}

#[test]
fn a_member_named_by_mail_whose_upn_differs_is_no_perpetual_change() {
    let tenant = Tenant::start_with(Some(seed_with_zoe()), Faults::default());
    let ws = Workspace::new(&tenant, &group_with(&["Zoe.Smith@contoso.com", &upn("bob")]));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(!run.stderr.contains("pamform::duplicate_member"), "{}", run.stderr);
    // Naming her by UPN instead is the same member: still nothing to do.
    ws.configure(&tenant, &group_with(&[&upn("zoe"), &upn("bob")]));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn the_tenant_catalog_is_read_in_a_few_requests_whatever_the_policies() {
    let tenant = Tenant::start();
    let mut hcl = GROUP.to_string();
    for (i, (attribute, value)) in [
        ("task", "Exchange\\\\New-MoveRequest"),
        ("task", "Exchange\\\\Set-Mailbox"),
        ("task", "Exchange\\\\New-JournalRule"),
        ("role", "Transport Rules"),
        ("role_group", "Compliance Management"),
    ]
    .into_iter()
    .enumerate()
    {
        hcl.push_str(&format!(
            "\naccess_policy \"p{i}\" {{\n  {attribute} = \"{value}\"\n  approver_group = approver_group.approvers\n}}\n"
        ));
    }
    let ws = Workspace::new(&tenant, &hcl);
    let before = tenant.counters();
    ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    let after = tenant.counters();
    let sent = |cmdlet: &str| {
        after["per_cmdlet"][cmdlet].as_u64().unwrap_or(0) - before["per_cmdlet"][cmdlet].as_u64().unwrap_or(0)
    };
    // Exchange Online's catalogue has more than 1000 role entries: one read of two pages.
    assert!((1..=2).contains(&sent(cmdlet::GET_ROLE_ENTRY)), "{after}");
    assert_eq!(sent(cmdlet::GET_ROLE_GROUP), 1, "{after}");
    assert_eq!(sent(cmdlet::GET_RECIPIENT), 1, "one filtered read for the group's names: {after}");
}

#[test]
fn the_emulator_answers_the_catalog_and_name_reads() {
    use pamform::wire::exchange::{ALL_ROLE_ENTRIES, RecipientName, RoleEntry, opath};
    let tenant = Tenant::start();
    let entries: Vec<RoleEntry> = tenant
        .invoke(cmdlet::GET_ROLE_ENTRY, json!({"Identity": ALL_ROLE_ENTRIES}))
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert!(entries.iter().any(|e| e.name == "New-MoveRequest" && e.role == "Move Mailboxes"));
    assert!(entries.iter().any(|e| e.name == "Get-RoleGroup" && e.role == "Role Management"));

    let filter = opath::any_name(&["Alice".to_string(), "nobody-at-all".to_string()]);
    let found: Vec<RecipientName> = tenant
        .invoke(cmdlet::GET_RECIPIENT, json!({"Filter": filter, "ResultSize": "Unlimited"}))
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].alias.as_deref(), Some("alice"));
    assert_eq!(found[0].display_name, "Alice");
}
