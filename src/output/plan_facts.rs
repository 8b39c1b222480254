//! What a reviewer must not miss in a plan or a drift, derived once for every renderer: member
//! additions and removals, security facts (approver membership widened, policies removed or
//! replaced, PAM switched off or its defaults changed) and the severity of each drift.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::model::{Address, ResourceType};
use crate::plan::attributes::{Attrs, PolicyAttrs};
use crate::plan::{Action, Plan, Reason, ResourceChange, ResourceDrift};

/// Element-level changes of a set-valued attribute (`members`, `system_accounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SetDelta {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Elements present on both sides.
    pub unchanged: usize,
}

impl SetDelta {
    pub fn between(before: &BTreeSet<String>, after: &BTreeSet<String>) -> SetDelta {
        SetDelta {
            added: after.difference(before).cloned().collect(),
            removed: before.difference(after).cloned().collect(),
            unchanged: after.intersection(before).count(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The set-valued attribute of a resource, if it has one.
fn set_of(attrs: &Attrs) -> &BTreeSet<String> {
    match attrs {
        Attrs::Group(g) => &g.members,
        Attrs::Pam(p) => &p.system_accounts,
        Attrs::Policy(_) => empty_set(),
    }
}

fn empty_set() -> &'static BTreeSet<String> {
    static EMPTY: BTreeSet<String> = BTreeSet::new();
    &EMPTY
}

/// Changes to members (groups) or system accounts (PAM) between two sides of a change.
pub fn set_delta(before: Option<&Attrs>, after: Option<&Attrs>) -> SetDelta {
    SetDelta::between(before.map(set_of).unwrap_or(empty_set()), after.map(set_of).unwrap_or(empty_set()))
}

/// What a policy gates, as a user writes it (`Exchange\New-MoveRequest`, a role, a role group).
pub fn policy_target(p: &PolicyAttrs) -> String {
    p.task.clone().or_else(|| p.role.clone()).or_else(|| p.role_group.clone()).unwrap_or_default()
}

/// A reason in pamform's words.
pub fn reason_message(reason: &Reason) -> &'static str {
    match reason {
        Reason::DeletedOutside => "it was deleted outside pamform and will be created again",
        Reason::Adopt => {
            "an object with the same natural key already exists in the tenant and will be adopted"
        }
        Reason::ImportBlock => "an import block adopts the existing object",
        Reason::ReplaceBecauseCannotUpdate => "attributes that cannot be updated in place changed",
        Reason::DeleteBecauseNoResourceConfig => "it is not in the configuration",
        Reason::DeleteBecauseDestroy => "--destroy was given",
        Reason::Moved => "a moved block renamed it",
    }
}

/// Members added to one approver group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApproversAdded {
    pub address: Address,
    pub email: String,
    /// Whether the group itself is new (created or replaced).
    pub new_group: bool,
    pub members: Vec<String>,
}

/// A policy that is removed or replaced: its target is not gated, for good or for the moment
/// between the delete and the create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyUngated {
    pub address: Address,
    /// `delete` or `replace`.
    pub action: Action,
    pub target: String,
    /// The approval before and after (`manual`/`auto`); `after` is absent for a delete.
    pub approval_before: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_after: Option<String>,
}

/// A value that changes from `before` to `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange {
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The security-relevant facts of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityFacts {
    /// Groups that gain members (new groups count with all their members).
    pub approver_members_added: Vec<ApproversAdded>,
    /// Policies removed or replaced.
    pub policies_ungated: Vec<PolicyUngated>,
    /// PAM is switched off (or `privileged_access` destroyed while on).
    pub pam_disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_approver_group_changed: Option<ValueChange>,
    /// System accounts are exempt from PAM: additions widen who bypasses it.
    pub system_accounts: SetDelta,
}

impl SecurityFacts {
    pub fn of(plan: &Plan) -> SecurityFacts {
        let mut f = SecurityFacts::default();
        for c in &plan.changes {
            f.add_change(c);
        }
        f
    }

    /// The number of members added over all groups.
    pub fn approver_members_added_count(&self) -> usize {
        self.approver_members_added.iter().map(|g| g.members.len()).sum()
    }

    fn add_change(&mut self, c: &ResourceChange) {
        if c.action == Action::NoOp {
            return;
        }
        let (before, after) = (c.before.as_ref(), c.after.as_ref());
        match c.address.kind {
            ResourceType::ApproverGroup => {
                // A replaced group is a new object: all its members are new approvers.
                let new_group = matches!(c.action, Action::Create | Action::Replace);
                let delta = if new_group { set_delta(None, after) } else { set_delta(before, after) };
                if let (false, Some(Attrs::Group(g))) = (delta.added.is_empty(), after) {
                    self.approver_members_added.push(ApproversAdded {
                        address: c.address.clone(),
                        email: g.email.clone(),
                        new_group,
                        members: delta.added,
                    });
                }
            }
            ResourceType::AccessPolicy => {
                if let (Action::Delete | Action::Replace, Some(Attrs::Policy(p))) = (c.action, before) {
                    self.policies_ungated.push(PolicyUngated {
                        address: c.address.clone(),
                        action: c.action,
                        target: policy_target(p),
                        approval_before: p.approval.as_str().to_string(),
                        approval_after: after
                            .and_then(Attrs::as_policy)
                            .map(|a| a.approval.as_str().to_string()),
                    });
                }
            }
            ResourceType::PrivilegedAccess => {
                let was = before.and_then(Attrs::as_pam);
                let will = after.and_then(Attrs::as_pam).filter(|_| c.action != Action::Delete);
                let was_on = was.is_some_and(|p| p.enabled);
                let will_on = will.is_some_and(|p| p.enabled);
                self.pam_disabled = was_on && !will_on;
                if will_on {
                    let b = was.filter(|p| p.enabled).and_then(|p| p.default_approver_group.clone());
                    let a = will.and_then(|p| p.default_approver_group.clone());
                    if b != a {
                        self.default_approver_group_changed = Some(ValueChange { before: b, after: a });
                    }
                    let b = was.filter(|p| p.enabled).map(|p| &p.system_accounts).unwrap_or(empty_set());
                    let a = will.map(|p| &p.system_accounts).unwrap_or(empty_set());
                    self.system_accounts = SetDelta::between(b, a);
                }
            }
        }
    }

    /// Whether any fact calls for a closer look.
    pub fn any(&self) -> bool {
        !self.approver_members_added.is_empty()
            || !self.policies_ungated.is_empty()
            || self.pam_disabled
            || self.default_approver_group_changed.is_some()
            || !self.system_accounts.is_empty()
    }
}

/// How much a drift matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// PAM disabled, or a policy removed.
    Critical,
    /// Approver group membership or system accounts widened.
    High,
    /// Any other change.
    Medium,
    /// Unmanaged objects.
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

/// One attribute that differs between state and the tenant, as the drift report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftDifference {
    pub address: Address,
    /// The attribute that differs; `"*"` when the whole object is gone from the tenant.
    pub attribute: String,
    pub in_state: Value,
    pub in_tenant: Value,
    pub severity: Severity,
    pub message: String,
}

/// A tenant object pamform does not manage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmanagedObject {
    #[serde(rename = "type", serialize_with = "type_name")]
    pub kind: ResourceType,
    pub id: String,
    pub description: String,
    /// Always [`Severity::Info`].
    severity: Severity,
}

impl UnmanagedObject {
    pub fn new(kind: ResourceType, id: impl Into<String>, description: impl Into<String>) -> Self {
        UnmanagedObject { kind, id: id.into(), description: description.into(), severity: Severity::Info }
    }
}

/// The drift report of `pamform drift --json` (`schemas/drift.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub format_version: &'static str,
    /// RFC 3339, UTC.
    pub timestamp: String,
    pub tenant: String,
    pub in_sync: bool,
    /// Most severe first.
    pub differences: Vec<DriftDifference>,
    pub unmanaged: Vec<UnmanagedObject>,
    pub summary: SeverityCounts,
}

impl DriftReport {
    pub fn new(
        tenant: impl Into<String>,
        timestamp: chrono::DateTime<chrono::Utc>,
        drift: &[ResourceDrift],
        unmanaged: Vec<UnmanagedObject>,
    ) -> DriftReport {
        let differences = drift_differences(drift);
        let summary = SeverityCounts::of_report(&differences, &unmanaged);
        DriftReport {
            format_version: "1",
            timestamp: timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            tenant: tenant.into(),
            in_sync: differences.is_empty(),
            differences,
            unmanaged,
            summary,
        }
    }
}

fn type_name<S: serde::Serializer>(t: &ResourceType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.as_str())
}

/// Counts of differences by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub info: usize,
}

impl SeverityCounts {
    pub fn of(severities: impl IntoIterator<Item = Severity>) -> SeverityCounts {
        let mut c = SeverityCounts::default();
        for s in severities {
            match s {
                Severity::Critical => c.critical += 1,
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }

    /// Counts over differences and unmanaged objects.
    pub fn of_report(differences: &[DriftDifference], unmanaged: &[UnmanagedObject]) -> SeverityCounts {
        SeverityCounts::of(differences.iter().map(|d| d.severity).chain(unmanaged.iter().map(|u| u.severity)))
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.info
    }
}

/// The differences of drifted resources, one per attribute, with severities, most severe
/// first (then by address).
pub fn drift_differences(drift: &[ResourceDrift]) -> Vec<DriftDifference> {
    let mut out = Vec::new();
    for d in drift {
        let before = d.before.to_value();
        let Some(now) = &d.after else {
            let (severity, message) = match d.address.kind {
                ResourceType::AccessPolicy => {
                    let target = d.before.as_policy().map(policy_target).unwrap_or_default();
                    (
                        Severity::Critical,
                        format!("the policy was removed from the tenant: {target} is not gated"),
                    )
                }
                ResourceType::PrivilegedAccess => {
                    (Severity::Critical, "privileged access settings are gone from the tenant".to_string())
                }
                ResourceType::ApproverGroup => {
                    (Severity::Medium, "the approver group was deleted from the tenant".to_string())
                }
            };
            out.push(DriftDifference {
                address: d.address.clone(),
                attribute: "*".into(),
                in_state: before,
                in_tenant: Value::Null,
                severity,
                message,
            });
            continue;
        };
        let after = now.to_value();
        for attr in &d.changed {
            let (severity, message) = classify(d, now, attr);
            out.push(DriftDifference {
                address: d.address.clone(),
                attribute: attr.clone(),
                in_state: before.get(attr).cloned().unwrap_or(Value::Null),
                in_tenant: after.get(attr).cloned().unwrap_or(Value::Null),
                severity,
                message,
            });
        }
    }
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.address.cmp(&b.address)));
    out
}

fn classify(d: &ResourceDrift, now: &Attrs, attr: &str) -> (Severity, String) {
    let delta = set_delta(Some(&d.before), Some(now));
    let counts = |what: &str| {
        format!("{what}: {} added, {} removed outside pamform", delta.added.len(), delta.removed.len())
    };
    match (d.address.kind, attr) {
        (ResourceType::PrivilegedAccess, "enabled") if !now.as_pam().is_some_and(|p| p.enabled) => {
            (Severity::Critical, "privileged access was switched off in the tenant".into())
        }
        (ResourceType::ApproverGroup, "members") if !delta.added.is_empty() => {
            (Severity::High, counts("approver group membership widened"))
        }
        (ResourceType::PrivilegedAccess, "system_accounts") if !delta.added.is_empty() => {
            (Severity::High, counts("system accounts (exempt from approval) widened"))
        }
        (ResourceType::ApproverGroup, "members") => (Severity::Medium, counts("approver group members")),
        (ResourceType::PrivilegedAccess, "system_accounts") => (Severity::Medium, counts("system accounts")),
        _ => (Severity::Medium, format!("{attr} was changed outside pamform")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::attributes::{GroupAttrs, PamAttrs};

    fn group(members: &[&str]) -> Attrs {
        Attrs::Group(GroupAttrs {
            name: "G".into(),
            email: "g@x.io".into(),
            alias: "g".into(),
            description: String::new(),
            members: members.iter().map(|m| m.to_string()).collect(),
            membership: crate::model::Membership::Authoritative,
        })
    }

    fn pam(accounts: &[&str]) -> Attrs {
        Attrs::Pam(PamAttrs {
            enabled: true,
            default_approver_group: Some("g@x.io".into()),
            system_accounts: accounts.iter().map(|m| m.to_string()).collect(),
        })
    }

    fn severities(address: Address, before: Attrs, after: Option<Attrs>) -> Vec<Severity> {
        let changed = after
            .as_ref()
            .map(|a| before.changed_attributes(a).into_iter().map(str::to_string).collect())
            .unwrap_or_default();
        let d = ResourceDrift { address, remote_id: "id".into(), before, after, changed };
        drift_differences(&[d]).into_iter().map(|d| d.severity).collect()
    }

    #[test]
    fn narrowing_is_medium_widening_is_high() {
        let g = || Address::group("g");
        assert_eq!(severities(g(), group(&["a", "b"]), Some(group(&["a"]))), [Severity::Medium]);
        assert_eq!(severities(g(), group(&["a"]), Some(group(&["b"]))), [Severity::High]);
        let p = Address::privileged_access;
        assert_eq!(severities(p(), pam(&["s"]), Some(pam(&["s", "t"]))), [Severity::High]);
        assert_eq!(severities(p(), pam(&["s", "t"]), Some(pam(&["s"]))), [Severity::Medium]);
    }

    #[test]
    fn a_deleted_group_is_medium_a_deleted_policy_critical() {
        assert_eq!(severities(Address::group("g"), group(&["a"]), None), [Severity::Medium]);
        let policy = Attrs::Policy(PolicyAttrs {
            task: Some("Exchange\\Set-Mailbox".into()),
            role: None,
            role_group: None,
            approval: crate::model::Approval::Manual,
            approver_group: "g@x.io".into(),
        });
        assert_eq!(severities(Address::policy("p"), policy, None), [Severity::Critical]);
    }

    #[test]
    fn a_new_group_counts_all_its_members_as_added_approvers() {
        let c = ResourceChange {
            address: Address::group("g"),
            action: Action::Replace,
            before: Some(group(&["a"])),
            after: Some(group(&["a", "b"])),
            changed: vec!["email".into()],
            replace_paths: vec!["email".into()],
            reasons: vec![],
            remote_id: None,
            importing: None,
            previous_address: None,
            dependencies: vec![],
        };
        let plan = Plan { mode: Default::default(), targets: vec![], changes: vec![c], drift: vec![] };
        let f = SecurityFacts::of(&plan);
        assert_eq!(f.approver_members_added_count(), 2);
        assert!(f.approver_members_added[0].new_group);
    }
}
