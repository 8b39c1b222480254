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

use crate::support::{APP_ID, DOMAIN, regressions};

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
    pamform::views::plan::text::render(plan)
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
    assert!(err[0].span().is_some());
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

// One owner per remote object: renames are moves, adoption never takes an owned object,
// and removals never leave something naming a group.

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes.iter().map(|c| (c.address.to_string(), c.action)).collect()
}

fn error_codes(errors: &[pamform::diagnostic::Diagnostic]) -> Vec<&str> {
    errors.iter().map(|e| e.code.as_str()).collect()
}

fn load_errors(hcl: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), format!("tenant {{\n  id = \"{DOMAIN}\"\n}}\n\n{hcl}"))
        .unwrap();
    let err = config::load(dir.path(), &VarInputs::default()).expect_err("a configuration error");
    err.diagnostics
        .iter()
        .filter(|d| d.severity == config::Severity::Error)
        .map(|d| {
            (
                d.code.clone(),
                d.primary.as_ref().map(|l| err.sources.snippet(l.span).to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

/// BASIC applied to a synced tenant: (configuration, tenant, state).
fn managed() -> (Configuration, TenantSnapshot, State) {
    let config = load(BASIC);
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    (config, snapshot, state)
}

#[test]
fn renaming_a_policy_moves_it_instead_of_destroying_it() {
    let (_, snapshot, state) = managed();
    let renamed = load(&BASIC.replace("access_policy \"move_request\"", "access_policy \"move\""));
    let plan = build(&renamed, &snapshot, Some(&state));
    let c = plan.change(&Address::policy("move")).unwrap();
    assert_eq!(c.action, Action::NoOp);
    assert_eq!(c.previous_address, Some(Address::policy("move_request")));
    assert_eq!(c.remote_id.as_deref(), Some("pol-1"));
    assert!(c.reasons.contains(&plan::Reason::ImpliedMove), "{:?}", c.reasons);
    assert_eq!(c.importing, None);
    assert!(plan.change(&Address::policy("move_request")).is_none(), "{}", text(&plan));
    let s = plan.summary();
    assert_eq!((s.import, s.add, s.destroy, s.moved), (0, 0, 0, 1));
}

#[test]
fn a_renamed_policy_that_also_changed_is_moved_and_replaced() {
    let (_, snapshot, state) = managed();
    let renamed = load(
        &BASIC
            .replace("access_policy \"move_request\"", "access_policy \"move\"")
            .replace("approval       = \"manual\"", "approval       = \"auto\""),
    );
    let plan = build(&renamed, &snapshot, Some(&state));
    assert_eq!(
        actions(&plan),
        vec![
            ("approver_group.approvers".into(), Action::NoOp),
            ("privileged_access".into(), Action::NoOp),
            ("access_policy.move".into(), Action::Replace),
        ]
    );
    let c = plan.change(&Address::policy("move")).unwrap();
    assert_eq!(c.previous_address, Some(Address::policy("move_request")));
    assert_eq!(c.remote_id.as_deref(), Some("pol-1"));
}

#[test]
fn for_each_keys_that_change_move_their_instances() {
    let set = BASIC.replace(
        "access_policy \"move_request\" {\n  task           = \"Exchange\\\\New-MoveRequest\"",
        "access_policy \"tasks\" {\n  for_each       = toset([\"New-MoveRequest\"])\n  task           = \"Exchange\\\\${each.value}\"",
    );
    assert_ne!(set, BASIC);
    let config = load(&set);
    let snapshot = synced_tenant(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    assert!(state.get(&Address::with_key(ResourceType::AccessPolicy, "tasks", "New-MoveRequest")).is_some());
    let map = set.replace("toset([\"New-MoveRequest\"])", "{ move = \"New-MoveRequest\" }");
    let plan = build(&load(&map), &snapshot, Some(&state));
    let to = Address::with_key(ResourceType::AccessPolicy, "tasks", "move");
    let c = plan.change(&to).unwrap();
    assert_eq!((c.action, c.remote_id.as_deref()), (Action::NoOp, Some("pol-1")));
    assert_eq!(
        c.previous_address,
        Some(Address::with_key(ResourceType::AccessPolicy, "tasks", "New-MoveRequest"))
    );
    assert_eq!(plan.summary().destroy, 0);
}

#[test]
fn renaming_a_group_moves_it_and_its_policies_follow() {
    let (_, snapshot, state) = managed();
    let renamed = load(
        &BASIC
            .replace("approver_group \"approvers\"", "approver_group \"admins\"")
            .replace("approver_group.approvers", "approver_group.admins"),
    );
    let plan = build(&renamed, &snapshot, Some(&state));
    let c = plan.change(&Address::group("admins")).unwrap();
    assert_eq!(c.action, Action::NoOp);
    assert_eq!(c.previous_address, Some(Address::group("approvers")));
    assert!(c.reasons.contains(&plan::Reason::ImpliedMove));
    assert!(
        plan.changes.iter().all(|c| !matches!(c.action, Action::Delete | Action::Create | Action::Replace))
    );
}

#[test]
fn a_new_address_never_adopts_an_object_a_declared_address_manages() {
    // move_request now gates another task; a new block wants the old one's object.
    let (_, snapshot, state) = managed();
    let both = load(&format!(
        "{}\naccess_policy \"move\" {{\n  task           = \"Exchange\\\\New-MoveRequest\"\n  approver_group = approver_group.approvers\n}}\n",
        BASIC.replace("Exchange\\\\New-MoveRequest", "Exchange\\\\Set-Mailbox")
    ));
    let err = plan::build(&both, &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::owner_conflict"]);
    assert!(err[0].message.contains("access_policy.move_request"), "{}", err[0].message);
    assert_eq!(both.sources.snippet(err[0].span().unwrap()), "access_policy \"move\"");
}

#[test]
fn an_import_of_an_object_another_address_manages_is_refused() {
    let (_, snapshot, state) = managed();
    let config = load(&format!(
        "{}\nimport {{\n  to = access_policy.move\n  id = \"pol-1\"\n}}\n",
        BASIC.replace("access_policy \"move_request\"", "access_policy \"move\"")
    ));
    let err = plan::build(&config, &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::import_owned"]);
    assert!(err[0].message.contains("managed by access_policy.move_request"), "{}", err[0].message);
    assert!(err[0].message.contains("pamform state rm access_policy.move_request"), "{}", err[0].message);
    assert_eq!(config.sources.snippet(err[0].span().unwrap()), "\"pol-1\"");
}

#[test]
fn a_state_that_records_one_object_twice_plans_no_destroy_of_it() {
    let (config, snapshot, mut state) = managed();
    let copy = state.get(&Address::policy("move_request")).unwrap().clone();
    state.upsert(ResourceState::new(Address::policy("stale"), copy.id, copy.attributes, vec![]));
    let err = plan::build(&config, &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::owner_conflict"]);
    assert!(err[0].help.as_deref().unwrap().contains("pamform state rm access_policy.stale"), "{:?}", err[0]);
}

#[test]
fn moved_chains_end_at_the_last_address() {
    let (_, snapshot, state) = managed();
    let config = load(&format!(
        "{}\nmoved {{\n  from = access_policy.move_request\n  to   = access_policy.moves\n}}\nmoved {{\n  from = access_policy.moves\n  to   = access_policy.move\n}}\n",
        BASIC.replace("access_policy \"move_request\"", "access_policy \"move\"")
    ));
    let plan = build(&config, &snapshot, Some(&state));
    let c = plan.change(&Address::policy("move")).unwrap();
    assert_eq!(c.action, Action::NoOp);
    assert_eq!(c.previous_address, Some(Address::policy("move_request")));
    assert!(c.reasons.contains(&plan::Reason::Moved));
    assert_eq!(plan.changes.len(), 3, "{}", text(&plan));
}

#[test]
fn moved_blocks_are_validated_as_terraform_does() {
    let moved = |from: &str, to: &str| format!("moved {{\n  from = {from}\n  to   = {to}\n}}\n");
    let renamed = BASIC.replace("access_policy \"move_request\"", "access_policy \"move\"");
    // The `from` is still declared.
    let still = format!("{BASIC}\n{}", moved("access_policy.move_request", "access_policy.moves"));
    let codes = load_errors(&format!(
        "{still}\naccess_policy \"moves\" {{\n  task           = \"Exchange\\\\Set-Mailbox\"\n  approver_group = approver_group.approvers\n}}\n"
    ));
    assert_eq!(codes, vec![("pamform::moved_still_declared".into(), "access_policy.move_request".into())]);
    // Two blocks move the same address, or into the same address.
    let twice = format!(
        "{renamed}\n{}{}",
        moved("access_policy.move_request", "access_policy.move"),
        moved("access_policy.move_request", "access_policy.move")
    );
    let codes: Vec<String> = load_errors(&twice).into_iter().map(|c| c.0).collect();
    assert_eq!(codes, vec!["pamform::ambiguous_move", "pamform::ambiguous_move"]);
    let into = format!(
        "{renamed}\n{}{}",
        moved("access_policy.a", "access_policy.move"),
        moved("access_policy.b", "access_policy.move")
    );
    assert_eq!(load_errors(&into), vec![("pamform::ambiguous_move".into(), "access_policy.move".into())]);
    // A cycle.
    let cycle = format!(
        "{renamed}\n{}{}",
        moved("access_policy.a", "access_policy.b"),
        moved("access_policy.b", "access_policy.a")
    );
    let codes: Vec<String> = load_errors(&cycle).into_iter().map(|c| c.0).collect();
    assert_eq!(codes, vec!["pamform::moved_cycle"]);
    // A chain through an undeclared address is fine.
    load(&format!(
        "{renamed}\n{}{}",
        moved("access_policy.a", "access_policy.b"),
        moved("access_policy.b", "access_policy.move")
    ));
}

#[test]
fn prevent_destroy_stops_a_replacement() {
    let (_, snapshot, state) = managed();
    let guarded = BASIC.replace(
        "approver_group = approver_group.approvers\n}",
        "approver_group = approver_group.approvers\n  lifecycle {\n    prevent_destroy = true\n  }\n}",
    );
    let config = load(&guarded.replace("approval       = \"manual\"", "approval       = \"auto\""));
    let err = plan::build(&config, &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::prevent_destroy"]);
    assert!(err[0].message.contains("replace") && err[0].message.contains("approval"), "{}", err[0].message);
    assert!(config.sources.snippet(err[0].span().unwrap()).starts_with("access_policy \"move_request\""));
    // Unchanged, the guarded policy plans fine.
    assert!(plan::build(&load(&guarded), &snapshot, Some(&state), &PlanOptions::default()).is_ok());

    // A group whose email changes is replaced too.
    let group = BASIC
        .replace(
            "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]",
            "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]\n  lifecycle {\n    prevent_destroy = true\n  }",
        )
        .replace("email   = \"pam-approvers@", "email   = \"approvers@");
    let err = plan::build(&load(&group), &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert!(error_codes(&err).contains(&"pamform::prevent_destroy"), "{err:?}");
}

/// BASIC with a second group, `others`, that the policy uses; the first group stays for PAM.
const TWO_GROUPS: &str = r#"
approver_group "others" {
  name    = "Others"
  email   = "others@contoso.onmicrosoft.com"
  members = ["carol@contoso.onmicrosoft.com"]
}
"#;

fn with_others(config: &Configuration) -> TenantSnapshot {
    let mut s = synced_tenant(config);
    let g = group(&format!("others@{DOMAIN}"), "Others", &["carol"]);
    s.groups.insert(g.email.clone(), g);
    s
}

#[test]
fn a_group_still_named_by_its_email_is_not_removed() {
    let named = BASIC.replace(
        "approver_group = approver_group.approvers\n}",
        "approver_group = \"others@contoso.onmicrosoft.com\"\n}",
    );
    let config = load(&format!("{named}{TWO_GROUPS}"));
    let mut snapshot = with_others(&config);
    snapshot.policies[0].approver_group = format!("others@{DOMAIN}");
    let first = build(&config, &snapshot, None);
    // Named by its email, the group is still a dependency: created before, removed after.
    let deps = &first.change(&Address::policy("move_request")).unwrap().dependencies;
    assert!(deps.contains(&Address::group("others")), "{deps:?}");
    let state = applied(&first, &[]);
    assert!(!build(&config, &snapshot, Some(&state)).has_changes());

    // The group block goes; the policy still names it by its email.
    let without = load(&named);
    let err = plan::build(&without, &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::group_still_named"]);
    assert!(err[0].message.contains("access_policy.move_request"), "{}", err[0].message);
    assert_eq!(without.sources.snippet(err[0].span().unwrap()), "\"others@contoso.onmicrosoft.com\"");

    // Removing the naming in the same plan is fine: apply orders it first.
    let both_go = load(BASIC);
    let plan = build(&both_go, &snapshot, Some(&state));
    assert_eq!(plan.change(&Address::group("others")).unwrap().action, Action::Delete);
    assert_eq!(plan.change(&Address::policy("move_request")).unwrap().action, Action::Replace);
}

#[test]
fn a_group_named_by_the_tenant_is_not_removed() {
    let config = load(&format!("{BASIC}{TWO_GROUPS}"));
    let mut snapshot = with_others(&config);
    let state = applied(&build(&config, &snapshot, None), &[]);
    // An unmanaged policy names the group.
    snapshot.policies.push(policy("stranger", "Search-Mailbox", "others"));
    let err = plan::build(&load(BASIC), &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::group_still_named"]);
    assert!(err[0].message.contains("unmanaged policy for Exchange\\Search-Mailbox"), "{}", err[0].message);

    // The live PAM switch names it and the configuration has no privileged_access block.
    snapshot.policies.pop();
    snapshot.pam.default_approver_group = Some(format!("others@{DOMAIN}"));
    let no_pam = |hcl: &str| {
        let start = hcl.find("privileged_access {").unwrap();
        let end = start + hcl[start..].find("}\n").unwrap() + 2;
        format!("{}{}", &hcl[..start], &hcl[end..])
    };
    let mut state = applied(&build(&load(&no_pam(&format!("{BASIC}{TWO_GROUPS}"))), &snapshot, None), &[]);
    state.remove(&Address::privileged_access());
    let err =
        plan::build(&load(&no_pam(BASIC)), &snapshot, Some(&state), &PlanOptions::default()).unwrap_err();
    assert_eq!(error_codes(&err), vec!["pamform::group_still_named"]);
    assert!(err[0].message.contains("PAM switch"), "{}", err[0].message);
}

use pamform::model::ResourceType;
use proptest::prelude::*;

/// How a policy's block is renamed in the property test below.
#[derive(Debug, Clone, Copy)]
enum Rename {
    Keep,
    Plain,
    ForEach,
}

fn policies_hcl(names: &[(usize, Rename)], first: bool) -> String {
    let mut out = String::new();
    let mut each = Vec::new();
    for (i, how) in names {
        let name = match (first, how) {
            (true, _) | (false, Rename::Keep) => format!("p{i}"),
            (false, Rename::Plain) => format!("renamed_{i}"),
            (false, Rename::ForEach) => {
                each.push(format!("    k{i} = \"Exchange\\\\Set-Thing{i}\""));
                continue;
            }
        };
        out.push_str(&format!(
            "\naccess_policy \"{name}\" {{\n  task           = \"Exchange\\\\Set-Thing{i}\"\n  approver_group = approver_group.approvers\n}}\n"
        ));
    }
    if !each.is_empty() {
        out.push_str(&format!(
            "\naccess_policy \"each\" {{\n  for_each = {{\n{}\n  }}\n  task           = each.value\n  approver_group = approver_group.approvers\n}}\n",
            each.join("\n")
        ));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: regressions(), ..ProptestConfig::default() })]

    /// Any renaming of addresses that keeps every natural key plans moves only: nothing is
    /// created, destroyed or replaced, each object keeps its id, and no id has two owners.
    #[test]
    fn renames_that_keep_natural_keys_plan_only_moves(
        hows in proptest::collection::vec(prop_oneof![Just(Rename::Keep), Just(Rename::Plain), Just(Rename::ForEach)], 1..6)
    ) {
        let names: Vec<(usize, Rename)> = hows.into_iter().enumerate().collect();
        let head = &BASIC[..BASIC.find("access_policy").unwrap()];
        let before = load(&format!("{head}{}", policies_hcl(&names, true)));
        let mut snapshot = synced_tenant(&before);
        snapshot.policies.clear();
        for (i, _) in &names {
            snapshot.policies.push(policy(&format!("pol-{i}"), &format!("Set-Thing{i}"), "pam-approvers"));
        }
        let state = applied(&build(&before, &snapshot, None), &[]);
        prop_assert_eq!(state.resources.len(), names.len() + 2);

        let after = load(&format!("{head}{}", policies_hcl(&names, false)));
        let plan = build(&after, &snapshot, Some(&state));
        for c in &plan.changes {
            prop_assert_eq!(c.action, Action::NoOp, "{}", text(&plan));
            prop_assert!(c.importing.is_none(), "{}", text(&plan));
        }
        let moved = names.iter().filter(|(_, h)| !matches!(h, Rename::Keep)).count();
        prop_assert_eq!(plan.summary().moved, moved);
        let ids: Vec<&str> = plan.changes.iter().filter_map(|c| c.remote_id.as_deref()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        prop_assert_eq!(ids.len(), unique.len());
        for c in plan.changes.iter().filter(|c| c.address.kind == ResourceType::AccessPolicy) {
            let was = c.previous_address.as_ref().unwrap_or(&c.address);
            prop_assert_eq!(c.remote_id.as_deref(), Some(state.get(was).unwrap().id.as_str()));
        }
    }
}
