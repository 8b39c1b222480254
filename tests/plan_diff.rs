//! The diff and the plan-time checks, from real configuration text against constructed
//! tenant snapshots, with the rendered plans as snapshots.

use std::collections::BTreeSet;

use pamform::config::{self, VarInputs};
use pamform::model::{
    Address, Approval, Configuration, DirectoryObject, ObjectKind, PamSetting, PolicyTarget, RemoteGroup,
    RemotePolicy, TenantSnapshot,
};
use pamform::plan::attributes::Attrs;
use pamform::plan::{self, Action, Plan, PlanMode, PlanOptions};
use pamform::state::{ResourceState, State};

const DOMAIN: &str = "contoso.onmicrosoft.com";
const APP_ID: &str = "5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11";

fn load(hcl: &str) -> Configuration {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), format!("tenant {{\n  id = \"{DOMAIN}\"\n}}\n\n{hcl}"))
        .unwrap();
    match config::load(dir.path(), &VarInputs::default()) {
        Ok(l) => l.configuration,
        Err(e) => panic!("{}", config::render_plain(&e.diagnostics, &e.sources)),
    }
}

fn user(name: &str) -> DirectoryObject {
    let upn = format!("{name}@{DOMAIN}");
    DirectoryObject {
        id: format!("id-{name}"),
        kind: ObjectKind::User,
        upn: Some(upn.clone()),
        mail: (name != "grace").then(|| upn.clone()),
        display_name: Some(name.to_string()),
        has_mailbox: name != "grace",
        is_guest: name == "oscar",
    }
}

/// A tenant with users, where every principal the configuration names was looked up.
fn tenant(config: &Configuration) -> TenantSnapshot {
    let mut s = TenantSnapshot { identity: Some(APP_ID.into()), ..Default::default() };
    let known = ["alice", "bob", "carol", "dave", "erin", "grace", "oscar", "svc-pamform"];
    let names = config.groups.values().flat_map(|g| g.members.iter().map(|m| m.value.clone())).chain(
        config.privileged_access.iter().flat_map(|p| p.system_accounts.iter().map(|s| s.value.clone())),
    );
    for n in names.filter(|n| n.contains('@')) {
        let local = n.split('@').next().unwrap().to_lowercase();
        let found = known.contains(&local.as_str()).then(|| user(&local));
        s.principals.insert(n.to_lowercase(), found);
    }
    s.role_cmdlets.insert(
        "distribution groups".into(),
        vec!["New-DistributionGroup".into(), "Get-DistributionGroup".into()],
    );
    s.role_cmdlets.insert("journaling".into(), vec!["New-JournalRule".into()]);
    s.role_group_roles
        .insert("organization management".into(), vec!["Distribution Groups".into(), "Journaling".into()]);
    s
}

fn group(email: &str, name: &str, members: &[&str]) -> RemoteGroup {
    RemoteGroup {
        id: format!("gid-{email}"),
        name: name.into(),
        display_name: name.into(),
        alias: email.split('@').next().unwrap().into(),
        email: email.into(),
        description: None,
        security_enabled: true,
        members: members.iter().map(|m| user(m)).collect(),
    }
}

fn policy(id: &str, task: &str, group: &str) -> RemotePolicy {
    RemotePolicy {
        id: id.into(),
        target: PolicyTarget::Task(task.into()),
        approval: Approval::Manual,
        approver_group: format!("{group}@{DOMAIN}"),
    }
}

/// State as an apply of `plan` would leave it.
fn applied(plan: &Plan, ids: &[(&str, &str)]) -> State {
    let mut st = State::new(DOMAIN);
    for c in &plan.changes {
        if let Some(after) = &c.after {
            let id = ids
                .iter()
                .find(|(a, _)| *a == c.address.to_string())
                .map(|(_, id)| id.to_string())
                .or(c.remote_id.clone())
                .unwrap_or_default();
            st.upsert(ResourceState::new(c.address.clone(), id, after.to_value(), c.dependencies.clone()));
        }
    }
    st
}

fn build(config: &Configuration, snapshot: &TenantSnapshot, state: Option<&State>) -> Plan {
    plan::build(config, snapshot, state, &PlanOptions::default()).expect("plan")
}

fn text(plan: &Plan) -> String {
    // Styles are stripped as a terminal without colour would see them.
    String::from_utf8(anstream::adapter::strip_bytes(plan_text(plan).as_bytes()).into_vec()).unwrap()
}

fn plan_text(plan: &Plan) -> String {
    pamform::output::plan_text::render(plan)
}

const BASIC: &str = r#"
approver_group "approvers" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}

privileged_access {
  enabled                = true
  default_approver_group = approver_group.approvers
  system_accounts        = ["svc-pamform@contoso.onmicrosoft.com"]
}

access_policy "move_request" {
  task           = "Exchange\\New-MoveRequest"
  approval       = "manual"
  approver_group = approver_group.approvers
}
"#;

fn synced_tenant(config: &Configuration) -> TenantSnapshot {
    let mut s = tenant(config);
    let g = group(&format!("pam-approvers@{DOMAIN}"), "PAM Approvers", &["alice", "bob"]);
    s.groups.insert(g.email.clone(), g);
    s.pam = PamSetting {
        enabled: true,
        default_approver_group: Some(format!("pam-approvers@{DOMAIN}")),
        system_accounts: vec![format!("svc-pamform@{DOMAIN}")],
    };
    s.policies.push(policy("pol-1", "New-MoveRequest", "pam-approvers"));
    s
}

#[test]
fn empty_tenant_creates_everything() {
    let config = load(BASIC);
    let plan = build(&config, &tenant(&config), None);
    let actions: Vec<(String, Action)> =
        plan.changes.iter().map(|c| (c.address.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        vec![
            ("approver_group.approvers".into(), Action::Create),
            ("privileged_access".into(), Action::Update),
            ("access_policy.move_request".into(), Action::Create),
        ]
    );
    insta::assert_snapshot!(text(&plan));
}

#[test]
fn a_synced_tenant_has_no_changes_whatever_the_case_and_order() {
    let config = load(&BASIC.replace(
        r#"["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]"#,
        r#"["BOB@Contoso.onmicrosoft.com", "alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]"#,
    )
    .replace("Exchange\\\\New-MoveRequest", "exchange\\\\new-moverequest"));
    let snapshot = synced_tenant(&config);
    let first = build(&config, &snapshot, None);
    let state = applied(&first, &[]);
    let plan = build(&config, &snapshot, Some(&state));
    assert!(!plan.has_changes(), "{}", text(&plan));
    assert_eq!(text(&plan), "No changes. The tenant matches the configuration.\n");
}

#[test]
fn members_change_element_by_element() {
    let config = load(&BASIC.replace("\"bob@contoso.onmicrosoft.com\"", "\"carol@contoso.onmicrosoft.com\""));
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&load(BASIC), &snapshot, None), &[]);
    let plan = build(&config, &snapshot, Some(&state));
    let c = plan.change(&Address::group("approvers")).unwrap();
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.changed, vec!["members"]);
    insta::assert_snapshot!(text(&plan));
}

#[test]
fn a_policy_change_forces_replacement_and_says_the_task_is_briefly_ungated() {
    let config = load(&BASIC.replace("approval       = \"manual\"", "approval       = \"auto\""));
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&load(BASIC), &snapshot, None), &[]);
    let plan = build(&config, &snapshot, Some(&state));
    let c = plan.change(&Address::policy("move_request")).unwrap();
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.replace_paths, vec!["approval"]);
    let t = text(&plan);
    assert!(t.contains("# forces replacement"), "{t}");
    assert!(t.contains("briefly not gated"), "{t}");
    insta::assert_snapshot!(t);
}

#[test]
fn removed_resources_are_destroyed_and_prevent_destroy_stops_destroy() {
    let config = load(BASIC);
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    let without_policy = load(&BASIC[..BASIC.find("access_policy").unwrap()]);
    let plan = build(&without_policy, &snapshot, Some(&state));
    let c = plan.change(&Address::policy("move_request")).unwrap();
    assert_eq!(c.action, Action::Delete);
    insta::assert_snapshot!(text(&plan));

    let guarded = load(&BASIC.replace(
        "approver_group = approver_group.approvers\n}",
        "approver_group = approver_group.approvers\n  lifecycle {\n    prevent_destroy = true\n  }\n}",
    ));
    let err = plan::build(
        &guarded,
        &snapshot,
        Some(&state),
        &PlanOptions { mode: PlanMode::Destroy, targets: vec![] },
    )
    .unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].code, "pamform::prevent_destroy");
    assert!(err[0].span.is_some());
}

#[test]
fn destroy_plans_every_resource_in_state() {
    let config = load(BASIC);
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    let plan = plan::build(
        &config,
        &snapshot,
        Some(&state),
        &PlanOptions { mode: PlanMode::Destroy, targets: vec![] },
    )
    .unwrap();
    assert!(plan.changes.iter().all(|c| c.action == Action::Delete));
    assert_eq!(plan.summary().destroy, 3);
}

#[test]
fn moved_blocks_rename_without_destroy() {
    let config = load(BASIC);
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    let renamed = load(&format!(
        "{}\nmoved {{\n  from = access_policy.move_request\n  to   = access_policy.moves\n}}\n",
        BASIC.replace("access_policy \"move_request\"", "access_policy \"moves\"")
    ));
    let plan = build(&renamed, &snapshot, Some(&state));
    let c = plan.change(&Address::policy("moves")).unwrap();
    assert_eq!(c.action, Action::NoOp);
    assert_eq!(c.previous_address, Some(Address::policy("move_request")));
    assert!(plan.change(&Address::policy("move_request")).is_none());
    insta::assert_snapshot!(text(&plan));
}

#[test]
fn import_blocks_adopt_existing_objects() {
    let config =
        load(&format!("{BASIC}\nimport {{\n  to = access_policy.move_request\n  id = \"pol-1\"\n}}\n"));
    let snapshot = synced_tenant(&config);
    let plan = build(&config, &snapshot, None);
    let c = plan.change(&Address::policy("move_request")).unwrap();
    assert_eq!((c.action, c.importing.as_deref()), (Action::NoOp, Some("pol-1")));
    assert!(plan.summary().import >= 1);
    insta::assert_snapshot!(text(&plan));

    let missing =
        load(&format!("{BASIC}\nimport {{\n  to = access_policy.move_request\n  id = \"nope\"\n}}\n"));
    let err = plan::build(&missing, &snapshot, None, &PlanOptions::default()).unwrap_err();
    assert_eq!(err[0].code, "pamform::import_not_found");
}

#[test]
fn target_keeps_dependencies() {
    let config = load(BASIC);
    let plan = plan::build(
        &config,
        &tenant(&config),
        None,
        &PlanOptions { mode: PlanMode::Normal, targets: vec![Address::policy("move_request")] },
    )
    .unwrap();
    let addrs: BTreeSet<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        addrs,
        ["access_policy.move_request".to_string(), "approver_group.approvers".to_string()].into()
    );
}

#[test]
fn ignore_changes_and_additive_membership_leave_extra_members_alone() {
    let config = load(&BASIC.replace(
        "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]",
        "members    = [\"alice@contoso.onmicrosoft.com\"]\n  membership = \"additive\"",
    ));
    let snapshot = synced_tenant(&config);
    let plan = build(&config, &snapshot, None);
    assert_eq!(plan.change(&Address::group("approvers")).unwrap().action, Action::NoOp);

    let ignoring = load(&BASIC.replace(
        "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]",
        "members = [\"carol@contoso.onmicrosoft.com\"]\n  lifecycle {\n    ignore_changes = [members]\n  }",
    ));
    let plan = build(&ignoring, &synced_tenant(&ignoring), None);
    assert_eq!(plan.change(&Address::group("approvers")).unwrap().action, Action::NoOp);
}

#[test]
fn drift_is_reported_against_state() {
    let config = load(BASIC);
    let mut snapshot = synced_tenant(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    snapshot.groups.values_mut().next().unwrap().members.push(user("dave"));
    snapshot.pam.enabled = false;
    let plan = plan::build(
        &config,
        &snapshot,
        Some(&state),
        &PlanOptions { mode: PlanMode::RefreshOnly, targets: vec![] },
    )
    .unwrap();
    let drifted: Vec<String> = plan.drift.iter().map(|d| d.address.to_string()).collect();
    assert_eq!(drifted, vec!["approver_group.approvers", "privileged_access"]);
    assert!(plan.has_changes());
    insta::assert_snapshot!(text(&plan));
}

fn check_codes(hcl: &str, snapshot: impl Fn(&Configuration) -> TenantSnapshot) -> Vec<(String, String)> {
    let config = load(hcl);
    let snapshot = snapshot(&config);
    let plan = build(&config, &snapshot, None);
    let diags = plan::checks::check(&config, &snapshot, None, &plan);
    diags
        .iter()
        .map(|d| {
            (
                d.code.clone(),
                d.primary.as_ref().map(|l| config.sources.snippet(l.span).to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn checks_point_at_the_offending_text() {
    let members = |m: &str| BASIC.replace("\"bob@contoso.onmicrosoft.com\"", m);
    assert_eq!(
        check_codes(&members("\"nobody@contoso.onmicrosoft.com\""), tenant),
        vec![("pamform::unknown_member".into(), "\"nobody@contoso.onmicrosoft.com\"".into())]
    );
    assert_eq!(
        check_codes(&members("\"grace@contoso.onmicrosoft.com\""), tenant),
        vec![("pamform::member_without_mailbox".into(), "\"grace@contoso.onmicrosoft.com\"".into())]
    );
    assert_eq!(
        check_codes(&members("\"oscar@contoso.onmicrosoft.com\""), tenant),
        vec![("pamform::guest_approver".into(), "\"oscar@contoso.onmicrosoft.com\"".into())]
    );
}

#[test]
fn self_lockout_is_rejected_unless_pamform_is_a_system_account() {
    let gated = format!(
        "{BASIC}\naccess_policy \"org\" {{\n  role_group     = \"Organization Management\"\n  approver_group = approver_group.approvers\n}}\n"
    );
    let codes = check_codes(&gated, tenant);
    assert_eq!(codes, vec![("pamform::self_lockout".into(), "\"Organization Management\"".into())]);
    let exempt = gated.replace(
        "[\"svc-pamform@contoso.onmicrosoft.com\"]",
        &format!("[\"svc-pamform@contoso.onmicrosoft.com\", \"{APP_ID}\"]"),
    );
    assert!(check_codes(&exempt, tenant).is_empty());
}

#[test]
fn thirty_policies_count_unmanaged_ones() {
    let mut hcl = BASIC.to_string();
    for i in 0..29 {
        hcl.push_str(&format!(
            "\naccess_policy \"p{i}\" {{\n  task           = \"Exchange\\\\Set-Thing{i}\"\n  approver_group = approver_group.approvers\n}}\n"
        ));
    }
    // 30 configured: fine on an empty tenant, too many with one unmanaged policy there.
    assert!(check_codes(&hcl, tenant).is_empty());
    let codes = check_codes(&hcl, |c| {
        let mut s = tenant(c);
        s.policies.push(policy("stranger", "Search-Mailbox", "other"));
        s
    });
    assert_eq!(codes.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), vec!["pamform::too_many_policies"]);
}

#[test]
fn attributes_in_state_read_back() {
    let config = load(BASIC);
    let plan = build(&config, &tenant(&config), None);
    for c in &plan.changes {
        let after = c.after.as_ref().unwrap();
        assert_eq!(Attrs::from_value(c.address.kind, &after.to_value()).as_ref(), Some(after));
    }
}
