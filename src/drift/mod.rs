//! Drift: what changed in the tenant outside of pamform since the last apply. Builds a
//! report of differences (address, attribute, value in state, value in the tenant, severity)
//! and of unmanaged PAM objects, from the state and a refreshed snapshot. Reading never
//! writes state; a failed read is an error, never drift.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Address, ResourceType, TenantSnapshot, normalize};
use crate::plan::attributes::{Attrs, GroupAttrs, PamAttrs, PolicyAttrs};
use crate::plan::{Plan, ResourceDrift};
use crate::state::State;

pub const FORMAT_VERSION: &str = "1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Info => "info",
        }
    }
}

/// One difference between state and tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub address: Address,
    pub attribute: String,
    pub in_state: Value,
    pub in_tenant: Value,
    pub severity: Severity,
    pub message: String,
}

/// A PAM object in the tenant that no state knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmanaged {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub description: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub info: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: String,
    pub timestamp: String,
    pub tenant: String,
    pub in_sync: bool,
    pub differences: Vec<Difference>,
    pub unmanaged: Vec<Unmanaged>,
    pub summary: Counts,
}

/// An attribute (or address) the user asked to leave out of the report (`--ignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub address: Address,
    pub attribute: Option<String>,
}

impl std::str::FromStr for Ignore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // `ADDR` or `ADDR.ATTR`; the attribute never contains brackets or dots.
        if let Ok(address) = s.parse::<Address>() {
            return Ok(Ignore { address, attribute: None });
        }
        let (addr, attr) = s.rsplit_once('.').ok_or_else(|| format!("`{s}` is not ADDR or ADDR.ATTR"))?;
        let address = addr.parse::<Address>().map_err(|e| e.to_string())?;
        Ok(Ignore { address, attribute: Some(attr.to_string()) })
    }
}

impl Ignore {
    fn covers(&self, address: &Address, attribute: &str) -> bool {
        self.address.selects(address) && self.attribute.as_deref().is_none_or(|a| a == attribute)
    }
}

/// Builds the report from a refresh-only plan's drift, the state and the snapshot.
/// `ignore_changes` lists, per address, attributes the configuration says to ignore.
pub fn report(
    plan: &Plan,
    state: &State,
    snapshot: &TenantSnapshot,
    ignores: &[Ignore],
    ignore_changes: &dyn Fn(&Address) -> Vec<String>,
    timestamp: String,
) -> Report {
    let mut differences = Vec::new();
    for d in &plan.drift {
        differences.extend(describe(d, snapshot));
    }
    differences.retain(|d: &Difference| {
        !ignores.iter().any(|i| i.covers(&d.address, &d.attribute))
            && !ignore_changes(&d.address).iter().any(|a| a == &d.attribute || a == "all")
    });
    let unmanaged = unmanaged(state, snapshot);
    let mut summary = Counts::default();
    for s in differences.iter().map(|d| d.severity).chain(unmanaged.iter().map(|u| u.severity)) {
        match s {
            Severity::Critical => summary.critical += 1,
            Severity::High => summary.high += 1,
            Severity::Medium => summary.medium += 1,
            Severity::Info => summary.info += 1,
        }
    }
    differences
        .sort_by(|a, b| (a.severity, &a.address, &a.attribute).cmp(&(b.severity, &b.address, &b.attribute)));
    Report {
        format_version: FORMAT_VERSION.to_string(),
        timestamp,
        tenant: state.tenant.clone(),
        in_sync: differences.is_empty() && unmanaged.is_empty(),
        differences,
        unmanaged,
        summary,
    }
}

fn diff(
    address: &Address,
    attribute: &str,
    before: Value,
    after: Value,
    severity: Severity,
    message: String,
) -> Difference {
    Difference {
        address: address.clone(),
        attribute: attribute.to_string(),
        in_state: before,
        in_tenant: after,
        severity,
        message,
    }
}

/// The differences of one drifted resource, with severities.
fn describe(d: &ResourceDrift, snapshot: &TenantSnapshot) -> Vec<Difference> {
    let a = &d.address;
    let Some(now) = &d.after else {
        return vec![gone(d, snapshot)];
    };
    let mut out = Vec::new();
    match (&d.before, now) {
        (Attrs::Group(b), Attrs::Group(n)) => group_diffs(a, b, n, &d.changed, &mut out),
        (Attrs::Policy(b), Attrs::Policy(n)) => policy_diffs(a, b, n, &d.changed, &mut out),
        (Attrs::Pam(b), Attrs::Pam(n)) => pam_diffs(a, b, n, &d.changed, &mut out),
        _ => {}
    }
    out
}

fn gone(d: &ResourceDrift, snapshot: &TenantSnapshot) -> Difference {
    let a = &d.address;
    match &d.before {
        Attrs::Policy(p) => {
            // Deleted, or deleted and recreated with another id (and maybe other values).
            let recreated = p.target().and_then(|t| snapshot.policy_by_target(&t));
            match recreated {
                Some(r) => {
                    let live = crate::plan::attributes::live_policy(r);
                    let group_changed = live.approver_group != p.approver_group;
                    let weaker = live.approval != p.approval;
                    let severity = if group_changed || weaker { Severity::High } else { Severity::Medium };
                    let mut what = vec![format!("recreated outside pamform with id {}", r.id)];
                    if group_changed {
                        what.push(format!("approver group {} -> {}", p.approver_group, live.approver_group));
                    }
                    if weaker {
                        what.push(format!("approval {} -> {}", p.approval.as_str(), live.approval.as_str()));
                    }
                    diff(a, "id", json!(d.remote_id), json!(r.id), severity, what.join("; "))
                }
                None => diff(
                    a,
                    "id",
                    json!(d.remote_id),
                    Value::Null,
                    Severity::Critical,
                    format!("policy removed outside pamform: {} is no longer gated", target_label(p)),
                ),
            }
        }
        Attrs::Group(g) => diff(
            a,
            "id",
            json!(d.remote_id),
            Value::Null,
            Severity::Medium,
            format!(
                "approver group {} was deleted outside pamform; its policies cannot be approved",
                g.email
            ),
        ),
        Attrs::Pam(_) => {
            diff(a, "enabled", json!(true), Value::Null, Severity::Critical, "PAM setting unreadable".into())
        }
    }
}

fn target_label(p: &PolicyAttrs) -> String {
    p.target().map(|t| t.display_value()).unwrap_or_default()
}

fn group_diffs(a: &Address, b: &GroupAttrs, n: &GroupAttrs, changed: &[String], out: &mut Vec<Difference>) {
    for attr in changed {
        match attr.as_str() {
            "members" => {
                let added: Vec<&String> = n.members.difference(&b.members).collect();
                let removed: Vec<&String> = b.members.difference(&n.members).collect();
                let (severity, mut msg) = if added.is_empty() {
                    (Severity::Medium, String::new())
                } else {
                    (Severity::High, format!("approver membership widened: {} added", join(&added)))
                };
                if !removed.is_empty() {
                    if !msg.is_empty() {
                        msg.push_str("; ");
                    }
                    msg.push_str(&format!("{} removed", join(&removed)));
                }
                out.push(diff(a, "members", json!(b.members), json!(n.members), severity, msg));
            }
            other => {
                let (bv, nv) =
                    (field(&Attrs::Group(b.clone()), other), field(&Attrs::Group(n.clone()), other));
                out.push(diff(
                    a,
                    other,
                    bv,
                    nv,
                    Severity::Medium,
                    format!("{other} changed outside pamform"),
                ));
            }
        }
    }
}

fn policy_diffs(
    a: &Address,
    b: &PolicyAttrs,
    n: &PolicyAttrs,
    changed: &[String],
    out: &mut Vec<Difference>,
) {
    for attr in changed {
        let severity = match attr.as_str() {
            "approver_group" => Severity::High,
            "approval" if n.approval == crate::model::Approval::Auto => Severity::High,
            _ => Severity::Medium,
        };
        let (bv, nv) = (field(&Attrs::Policy(b.clone()), attr), field(&Attrs::Policy(n.clone()), attr));
        out.push(diff(
            a,
            attr,
            bv,
            nv,
            severity,
            format!("{attr} of {} changed outside pamform", target_label(b)),
        ));
    }
}

fn pam_diffs(a: &Address, b: &PamAttrs, n: &PamAttrs, changed: &[String], out: &mut Vec<Difference>) {
    for attr in changed {
        let (severity, msg) = match attr.as_str() {
            "enabled" if !n.enabled => {
                (Severity::Critical, "PAM was disabled outside pamform: no task is gated".to_string())
            }
            "enabled" => (Severity::Medium, "PAM was enabled outside pamform".to_string()),
            "default_approver_group" => {
                (Severity::High, "the default approver group changed outside pamform".to_string())
            }
            "system_accounts" => {
                let added: Vec<&String> = n.system_accounts.difference(&b.system_accounts).collect();
                if added.is_empty() {
                    (Severity::Medium, "system accounts narrowed outside pamform".to_string())
                } else {
                    (Severity::High, format!("system accounts widened: {} now bypass PAM", join(&added)))
                }
            }
            other => (Severity::Medium, format!("{other} changed outside pamform")),
        };
        let (bv, nv) = (field(&Attrs::Pam(b.clone()), attr), field(&Attrs::Pam(n.clone()), attr));
        out.push(diff(a, attr, bv, nv, severity, msg));
    }
}

fn field(attrs: &Attrs, name: &str) -> Value {
    attrs.to_value().get(name).cloned().unwrap_or(Value::Null)
}

fn join(items: &[&String]) -> String {
    items.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Policies, and the approver groups PAM uses, that no state knows.
pub fn unmanaged(state: &State, snapshot: &TenantSnapshot) -> Vec<Unmanaged> {
    let managed_ids: BTreeSet<String> = state.resources.iter().map(|r| r.id.to_lowercase()).collect();
    let managed_targets: BTreeSet<String> = state
        .resources
        .iter()
        .filter(|r| r.address.kind == ResourceType::AccessPolicy)
        .filter_map(|r| Attrs::from_value(r.address.kind, &r.attributes))
        .filter_map(|a| a.as_policy().and_then(PolicyAttrs::target))
        .map(|t| t.natural_key())
        .collect();
    let managed_groups: BTreeSet<String> = state
        .resources
        .iter()
        .filter_map(|r| Attrs::from_value(r.address.kind, &r.attributes))
        .filter_map(|a| a.as_group().map(|g| g.email.clone()))
        .collect();
    let mut out = Vec::new();
    for p in &snapshot.policies {
        // A policy recreated outside pamform is reported as a difference, not as unmanaged.
        if managed_ids.contains(&p.id.to_lowercase()) || managed_targets.contains(&p.target.natural_key()) {
            continue;
        }
        out.push(Unmanaged {
            kind: "access_policy".into(),
            id: p.id.clone(),
            description: format!(
                "{} ({} approval by {})",
                p.target.display_value(),
                p.approval.as_str(),
                p.approver_group
            ),
            severity: Severity::Info,
        });
    }
    let mut groups: BTreeSet<String> =
        snapshot.policies.iter().map(|p| normalize::principal(&p.approver_group)).collect();
    if let Some(g) = &snapshot.pam.default_approver_group {
        groups.insert(normalize::principal(g));
    }
    for email in groups {
        if managed_groups.contains(&email) {
            continue;
        }
        let (id, members) =
            snapshot.group(&email).map(|g| (g.id.clone(), g.members.len())).unwrap_or_default();
        out.push(Unmanaged {
            kind: "approver_group".into(),
            id: if id.is_empty() { email.clone() } else { id },
            description: format!("{email} ({members} members) approves PAM requests but is not managed"),
            severity: Severity::Info,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Approval, Membership, PolicyTarget, RemotePolicy};
    use crate::plan::PlanMode;
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

    fn build(drifts: Vec<ResourceDrift>, snapshot: &TenantSnapshot) -> Report {
        let plan = Plan { mode: PlanMode::RefreshOnly, targets: vec![], changes: vec![], drift: drifts };
        let mut state = State::new("t");
        state.upsert(ResourceState::new(
            Address::policy("p"),
            "id-1".into(),
            Attrs::Policy(policy_attrs("g@x.io")).to_value(),
            vec![],
        ));
        report(&plan, &state, snapshot, &[], &|_| vec![], "now".into())
    }

    #[test]
    fn severities_follow_the_contract() {
        let pam = |enabled, accounts: &[&str]| {
            Attrs::Pam(PamAttrs {
                enabled,
                default_approver_group: Some("g@x.io".into()),
                system_accounts: accounts.iter().map(|s| s.to_string()).collect(),
            })
        };
        let group = |members: &[&str]| {
            Attrs::Group(GroupAttrs {
                name: "G".into(),
                email: "g@x.io".into(),
                alias: "g".into(),
                description: String::new(),
                members: members.iter().map(|s| s.to_string()).collect(),
                membership: Membership::Authoritative,
            })
        };
        let snapshot = TenantSnapshot::default();
        let r = build(
            vec![
                drift(Address::privileged_access(), pam(true, &["a@x.io"]), Some(pam(false, &["a@x.io"]))),
                drift(Address::group("g"), group(&["a@x.io"]), Some(group(&["a@x.io", "m@x.io"]))),
                drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), None),
            ],
            &snapshot,
        );
        let got: Vec<(String, &str, Severity)> =
            r.differences.iter().map(|d| (d.address.to_string(), d.attribute.as_str(), d.severity)).collect();
        assert_eq!(
            got,
            vec![
                ("privileged_access".into(), "enabled", Severity::Critical),
                ("access_policy.p".into(), "id", Severity::Critical),
                ("approver_group.g".into(), "members", Severity::High),
            ]
        );
        assert!(!r.in_sync);
        assert_eq!(r.summary.critical, 2);
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
        let r =
            build(vec![drift(Address::policy("p"), Attrs::Policy(policy_attrs("g@x.io")), None)], &snapshot);
        assert_eq!(r.differences.len(), 1);
        assert_eq!(r.differences[0].severity, Severity::High);
        assert!(r.differences[0].message.contains("recreated"));
        // Its new approver group is not managed, and is listed as such.
        assert_eq!(r.unmanaged.iter().map(|u| u.kind.as_str()).collect::<Vec<_>>(), vec!["approver_group"]);
    }

    #[test]
    fn ignores_filter_by_address_and_attribute() {
        let i: Ignore = "approver_group.g.members".parse().unwrap();
        assert!(i.covers(&Address::group("g"), "members"));
        assert!(!i.covers(&Address::group("g"), "name"));
        let whole: Ignore = "approver_group.g".parse().unwrap();
        assert!(whole.covers(&Address::group("g"), "name"));
    }
}
