//! Unit tests of the drift classification and the report.

use super::*;
use crate::model::{PolicyTarget, RemotePolicy};
use crate::state::ResourceState;

fn policy_attrs(group: &str) -> PolicyAttrs {
    PolicyAttrs {
        task: Some("Exchange\\Set-Mailbox".into()),
        role: None,
        role_group: None,
        approval: Approval::Manual,
        approver_group: group.into(),
    }
}

use crate::plan::attributes::test_group as group;

fn pam(enabled: bool, accounts: &[&str]) -> Attrs {
    Attrs::Pam(PamAttrs {
        enabled,
        default_approver_group: Some("g@x.io".into()),
        system_accounts: accounts.iter().map(|s| s.to_string()).collect(),
    })
}

fn drift(address: Address, before: Attrs, after: Option<Attrs>) -> ResourceDrift {
    let changed = after.as_ref().map(|a| before.changed_attributes(a)).unwrap_or_default();
    ResourceDrift {
        address,
        remote_id: "id-1".into(),
        before,
        after,
        changed: changed.into_iter().map(String::from).collect(),
    }
}

fn severities(d: ResourceDrift) -> Vec<Severity> {
    differences(&[d], None).into_iter().map(|d| d.severity).collect()
}

fn state() -> State {
    let mut state = State::new("t");
    state.upsert(ResourceState::new(
        Address::policy("p"),
        "id-1".into(),
        Attrs::Policy(policy_attrs("g@x.io")).to_value(),
        vec![],
    ));
    state
}

fn build(drifts: Vec<ResourceDrift>, snapshot: &TenantSnapshot) -> Report {
    report(&drifts, &state(), snapshot, &[], &[], &|_| vec![], chrono::Utc::now())
}

#[test]
fn severities_follow_the_contract() {
    let r = build(
        vec![
            drift(Address::privileged_access(), pam(true, &["a@x.io"]), Some(pam(false, &["a@x.io"]))),
            drift(Address::group("g"), group(&["a@x.io"]), Some(group(&["a@x.io", "m@x.io"]))),
            drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), None),
        ],
        &TenantSnapshot::default(),
    );
    let got: Vec<(String, &str, Severity)> =
        r.differences.iter().map(|d| (d.address.to_string(), d.attribute.as_str(), d.severity)).collect();
    assert_eq!(
        got,
        vec![
            ("privileged_access".into(), "enabled", Severity::Critical),
            ("access_policy.p".into(), "*", Severity::Critical),
            ("approver_group.g".into(), "members", Severity::High),
        ]
    );
    assert!(r.differences[2].message.contains("m@x.io added"), "{}", r.differences[2].message);
    assert!(!r.in_sync);
    assert_eq!(r.summary, Counts { critical: 2, high: 1, medium: 0, info: 0 });
}

#[test]
fn narrowing_is_medium_widening_is_high() {
    let g = || Address::group("g");
    assert_eq!(severities(drift(g(), group(&["a", "b"]), Some(group(&["a"])))), [Severity::Medium]);
    assert_eq!(severities(drift(g(), group(&["a"]), Some(group(&["b"])))), [Severity::High]);
    let p = Address::privileged_access;
    assert_eq!(severities(drift(p(), pam(true, &["s"]), Some(pam(true, &["s", "t"])))), [Severity::High]);
    assert_eq!(severities(drift(p(), pam(true, &["s", "t"]), Some(pam(true, &["s"])))), [Severity::Medium]);
    let mut other = pam(true, &["s"]);
    if let Attrs::Pam(p) = &mut other {
        p.default_approver_group = Some("h@x.io".into());
    }
    assert_eq!(severities(drift(p(), pam(true, &["s"]), Some(other))), [Severity::High]);
}

#[test]
fn a_deleted_group_is_medium_a_deleted_policy_critical() {
    assert_eq!(severities(drift(Address::group("g"), group(&["a"]), None)), [Severity::Medium]);
    let d = drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), None);
    let diffs = differences(&[d], None);
    assert_eq!(diffs[0].severity, Severity::Critical);
    assert_eq!(diffs[0].attribute, "*");
    assert_eq!(diffs[0].in_state["approver_group"], "g@x.io");
}

#[test]
fn a_weakened_policy_is_high() {
    let mut auto = policy_attrs("g@x.io");
    auto.approval = Approval::Auto;
    let d = drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), Some(Attrs::Policy(auto)));
    assert_eq!(severities(d), [Severity::High]);
}

#[test]
fn a_recreated_policy_is_a_difference_not_unmanaged() {
    let mut snapshot = TenantSnapshot::default();
    snapshot.policies.push(RemotePolicy {
        id: "id-2".into(),
        target: PolicyTarget::Task("Set-Mailbox".into()),
        approval: Approval::Manual,
        approver_group: "h@x.io".into(),
    });
    let r = build(vec![drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), None)], &snapshot);
    let got: Vec<(&str, Severity)> =
        r.differences.iter().map(|d| (d.attribute.as_str(), d.severity)).collect();
    assert_eq!(got, vec![("approver_group", Severity::High), ("id", Severity::Medium)]);
    assert_eq!(r.differences[1].in_tenant, json!("id-2"));
    // Its new approver group is not managed, and is listed as such.
    assert_eq!(r.unmanaged.iter().map(|u| u.kind).collect::<Vec<_>>(), vec![ResourceType::ApproverGroup]);
    // Without the snapshot (a saved plan) the same drift reads as a removal.
    let d = drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), None);
    assert_eq!(differences(&[d], None)[0].severity, Severity::Critical);
}

#[test]
fn unmanaged_policies_and_groups_are_info() {
    let mut snapshot = TenantSnapshot::default();
    snapshot.policies.push(RemotePolicy {
        id: "id-9".into(),
        target: PolicyTarget::Task("New-TransportRule".into()),
        approval: Approval::Manual,
        approver_group: "g@x.io".into(),
    });
    let mut state = state();
    state.upsert(ResourceState::new(Address::group("g"), "gid".into(), group(&["a"]).to_value(), vec![]));
    let u = unmanaged(&state, &snapshot);
    assert_eq!(u.len(), 1, "{u:?}");
    assert_eq!(
        (u[0].kind, u[0].id.as_str(), u[0].severity),
        (ResourceType::AccessPolicy, "id-9", Severity::Info)
    );
}

#[test]
fn unmanaged_objects_are_left_out_by_id_or_group_address() {
    let mut snapshot = TenantSnapshot::default();
    snapshot.policies.push(RemotePolicy {
        id: "ID-9".into(),
        target: PolicyTarget::Task("New-TransportRule".into()),
        approval: Approval::Manual,
        approver_group: "h@x.io".into(),
    });
    snapshot.groups.insert(
        "h@x.io".into(),
        crate::model::RemoteGroup {
            id: "hid".into(),
            name: "H".into(),
            display_name: "H".into(),
            alias: "h".into(),
            email: "h@x.io".into(),
            description: None,
            security_enabled: true,
            members: vec![],
        },
    );
    let kinds = |ignored: &[&str]| -> Vec<ResourceType> {
        let ignored: Vec<String> = ignored.iter().map(|s| s.to_string()).collect();
        report(&[], &state(), &snapshot, &[], &ignored, &|_| vec![], chrono::Utc::now())
            .unmanaged
            .iter()
            .map(|u| u.kind)
            .collect()
    };
    assert_eq!(kinds(&[]), [ResourceType::AccessPolicy, ResourceType::ApproverGroup]);
    assert_eq!(kinds(&["id-9"]), [ResourceType::ApproverGroup]);
    assert_eq!(kinds(&["H@X.io"]), [ResourceType::AccessPolicy]);
    assert_eq!(kinds(&["hid", " ID-9 "]), []);
}

#[test]
fn ignores_filter_by_address_and_attribute() {
    let i: Ignore = "approver_group.g.members".parse().unwrap();
    assert!(i.covers(&Address::group("g"), "members"));
    assert!(!i.covers(&Address::group("g"), "name"));
    let whole: Ignore = "approver_group.g".parse().unwrap();
    assert!(whole.covers(&Address::group("g"), "name"));
    let keyed: Ignore = "access_policy.p[\"a.b\"].approval".parse().unwrap();
    assert_eq!(keyed.attribute.as_deref(), Some("approval"));
    assert!("nonsense".parse::<Ignore>().is_err());

    let d = drift(Address::group("g"), group(&["a"]), Some(group(&["b"])));
    let r = report(
        std::slice::from_ref(&d),
        &state(),
        &TenantSnapshot::default(),
        &[i],
        &[],
        &|_| vec![],
        chrono::Utc::now(),
    );
    assert!(r.differences.is_empty());
    let r = report(
        &[d],
        &state(),
        &TenantSnapshot::default(),
        &[],
        &[],
        &|_| vec!["members".into()],
        chrono::Utc::now(),
    );
    assert!(r.differences.is_empty(), "lifecycle.ignore_changes is honoured");
}
