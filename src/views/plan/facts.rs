//! What a reviewer must not miss in a plan, derived once for every renderer (the text plan's
//! "Security impact" block, the Markdown security table, the JSON `pamform.security`): member
//! additions and removals, and security facts (approver membership widened, policies removed
//! or replaced, policies moved to a wider approver group, PAM switched off or its defaults
//! changed). Drift and its severities are classified in [`crate::drift`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Address, ResourceType};
use crate::plan::attributes::{Attrs, PolicyAttrs};
use crate::plan::{Action, Plan, Reason, ResourceChange};

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
        Reason::ImpliedMove => "the same object was in state under its old address",
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
    /// For a replacement that gates another target: that target. `target` is then no longer
    /// gated by this policy, not only between the delete and the create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_after: Option<String>,
}

/// The target a replacement moves a policy to, when it is another one.
pub fn retargeted(before: &PolicyAttrs, after: Option<&PolicyAttrs>) -> Option<String> {
    let after = after?;
    let (b, a) = (policy_target(before), policy_target(after));
    let same = before.task.is_some() == after.task.is_some()
        && before.role.is_some() == after.role.is_some()
        && b.eq_ignore_ascii_case(&a);
    (!same).then_some(a)
}

/// A value that changes from `before` to `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange {
    pub before: Option<String>,
    pub after: Option<String>,
    /// Members of the `after` group that were not members of the `before` group; absent when
    /// pamform does not manage the groups and cannot tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers_added: Option<Vec<String>>,
}

/// A policy replaced to name another approver group that has approvers the old one did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRegated {
    pub address: Address,
    pub target: String,
    pub group_before: String,
    pub group_after: String,
    /// Members of the new group that were not members of the old one; absent when pamform
    /// does not manage the groups and cannot tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvers_added: Option<Vec<String>>,
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
    /// PAM goes from off to on: its default group and system accounts widen nothing then.
    #[serde(skip)]
    pub pam_enabled: bool,
    /// Policies that move to an approver group with more (or unknown) approvers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies_to_wider_group: Vec<PolicyRegated>,
}

impl SecurityFacts {
    pub fn of(plan: &Plan) -> SecurityFacts {
        let mut f = SecurityFacts::default();
        let groups = GroupMembers::of(plan);
        for c in &plan.changes {
            f.add_change(c, &groups);
        }
        f
    }

    /// The facts of `plan` with every value of a sensitive attribute shown as
    /// `(sensitive value)` (counts are kept: a reviewer still sees that approvers were added).
    pub fn of_redacted(plan: &Plan, sensitivity: &crate::model::Sensitivity) -> SecurityFacts {
        let secrets = crate::views::sensitive::secret_strings(plan, sensitivity);
        let mut f = SecurityFacts::of(plan);
        if secrets.is_empty() {
            return f;
        }
        let s = |v: &mut String| *v = crate::views::sensitive::scrub(v, &secrets);
        let all =
            |v: &mut Vec<String>| v.iter_mut().for_each(|x| *x = crate::views::sensitive::scrub(x, &secrets));
        for g in &mut f.approver_members_added {
            s(&mut g.email);
            all(&mut g.members);
        }
        for p in &mut f.policies_ungated {
            s(&mut p.target);
        }
        if let Some(c) = &mut f.default_approver_group_changed {
            c.before.iter_mut().for_each(s);
            c.after.iter_mut().for_each(s);
            c.approvers_added.iter_mut().for_each(all);
        }
        all(&mut f.system_accounts.added);
        all(&mut f.system_accounts.removed);
        for p in &mut f.policies_to_wider_group {
            s(&mut p.target);
            s(&mut p.group_before);
            s(&mut p.group_after);
            p.approvers_added.iter_mut().for_each(all);
        }
        f
    }

    /// The approval of a policy goes from manual to auto (requests no longer need anyone).
    pub fn approvals_to_auto(&self) -> impl Iterator<Item = &PolicyUngated> {
        self.policies_ungated
            .iter()
            .filter(|p| p.approval_before == "manual" && p.approval_after.as_deref() == Some("auto"))
    }

    /// The number of members added over all groups.
    pub fn approver_members_added_count(&self) -> usize {
        self.approver_members_added.iter().map(|g| g.members.len()).sum()
    }

    fn add_change(&mut self, c: &ResourceChange, groups: &GroupMembers) {
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
                if let (Action::Replace, Some(Attrs::Policy(b)), Some(Attrs::Policy(a))) =
                    (c.action, before, after)
                    && !b.approver_group.eq_ignore_ascii_case(&a.approver_group)
                {
                    let added = groups.added(&b.approver_group, &a.approver_group);
                    if added.as_ref().is_none_or(|m| !m.is_empty()) {
                        self.policies_to_wider_group.push(PolicyRegated {
                            address: c.address.clone(),
                            target: policy_target(a),
                            group_before: b.approver_group.clone(),
                            group_after: a.approver_group.clone(),
                            approvers_added: added,
                        });
                    }
                }
                if let (Action::Delete | Action::Replace, Some(Attrs::Policy(p))) = (c.action, before) {
                    self.policies_ungated.push(PolicyUngated {
                        address: c.address.clone(),
                        action: c.action,
                        target: policy_target(p),
                        approval_before: p.approval.as_str().to_string(),
                        approval_after: after
                            .and_then(Attrs::as_policy)
                            .map(|a| a.approval.as_str().to_string()),
                        target_after: retargeted(p, after.and_then(Attrs::as_policy)),
                    });
                }
            }
            ResourceType::PrivilegedAccess => {
                let was = before.and_then(Attrs::as_pam);
                let will = after.and_then(Attrs::as_pam).filter(|_| c.action != Action::Delete);
                let was_on = was.is_some_and(|p| p.enabled);
                let will_on = will.is_some_and(|p| p.enabled);
                self.pam_disabled = was_on && !will_on;
                self.pam_enabled = !was_on && will_on;
                if will_on {
                    let b = was.filter(|p| p.enabled).and_then(|p| p.default_approver_group.clone());
                    let a = will.and_then(|p| p.default_approver_group.clone());
                    if b != a {
                        let approvers_added = match (&b, &a) {
                            (Some(b), Some(a)) => groups.added(b, a),
                            _ => None,
                        };
                        self.default_approver_group_changed =
                            Some(ValueChange { before: b, after: a, approvers_added });
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
            || !self.policies_to_wider_group.is_empty()
    }

    /// The default approver group changes while PAM stays on.
    pub fn default_group_switched(&self) -> Option<&ValueChange> {
        self.default_approver_group_changed.as_ref().filter(|_| !self.pam_enabled)
    }

    /// System accounts added while PAM stays on (switching PAM on exempts nobody new).
    pub fn system_accounts_widened(&self) -> &[String] {
        if self.pam_enabled { &[] } else { &self.system_accounts.added }
    }

    /// Whether anything widens access or leaves something ungated: system accounts only
    /// removed, for one, is not worth a warning.
    pub fn any_widening(&self) -> bool {
        !self.approver_members_added.is_empty()
            || !self.policies_ungated.is_empty()
            || self.pam_disabled
            || self.default_group_switched().is_some()
            || !self.system_accounts_widened().is_empty()
            || !self.policies_to_wider_group.is_empty()
    }
}

/// The members of each approver group the plan knows, by email, before and after it.
struct GroupMembers<'a> {
    before: BTreeMap<String, &'a BTreeSet<String>>,
    after: BTreeMap<String, &'a BTreeSet<String>>,
}

impl<'a> GroupMembers<'a> {
    fn of(plan: &'a Plan) -> Self {
        let mut g = GroupMembers { before: BTreeMap::new(), after: BTreeMap::new() };
        for c in &plan.changes {
            if let Some(Attrs::Group(b)) = &c.before {
                g.before.insert(b.email.to_lowercase(), &b.members);
            }
            if let (Some(Attrs::Group(a)), false) = (&c.after, c.action == Action::Delete) {
                g.after.insert(a.email.to_lowercase(), &a.members);
            }
        }
        g
    }

    /// Members `to` will have that `from` has now; None when either is unknown.
    fn added(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let old = self.before.get(&from.to_lowercase())?;
        let new = self.after.get(&to.to_lowercase())?;
        let old: BTreeSet<String> = old.iter().map(|m| m.to_lowercase()).collect();
        Some(new.iter().filter(|m| !old.contains(&m.to_lowercase())).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::attributes::test_group as group;

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

    #[test]
    fn a_policy_moved_to_a_narrower_group_widens_nothing_and_an_unknown_group_is_said() {
        let policy = |group: &str| {
            Attrs::Policy(PolicyAttrs {
                task: Some("Exchange\\Set-Mailbox".into()),
                role: None,
                role_group: None,
                approval: crate::model::Approval::Manual,
                approver_group: group.into(),
            })
        };
        let group_of = |email: &str, members: &[&str]| {
            let mut g = group(members);
            if let Attrs::Group(a) = &mut g {
                a.email = email.into();
            }
            g
        };
        let noop = |name: &str, attrs: Attrs| ResourceChange {
            address: Address::group(name),
            action: Action::NoOp,
            before: Some(attrs.clone()),
            after: Some(attrs),
            changed: vec![],
            replace_paths: vec![],
            reasons: vec![],
            remote_id: None,
            importing: None,
            previous_address: None,
            dependencies: vec![],
        };
        let regate = |from: &str, to: &str| ResourceChange {
            address: Address::policy("p"),
            action: Action::Replace,
            before: Some(policy(from)),
            after: Some(policy(to)),
            ..noop("unused", group(&[]))
        };
        let wide = noop("wide", group_of("wide@x.io", &["a", "b"]));
        let narrow = noop("narrow", group_of("narrow@x.io", &["a"]));
        let facts = |c: ResourceChange| {
            let plan = Plan {
                mode: Default::default(),
                targets: vec![],
                changes: vec![wide.clone(), narrow.clone(), c],
                drift: vec![],
            };
            SecurityFacts::of(&plan)
        };
        assert!(facts(regate("wide@x.io", "narrow@x.io")).policies_to_wider_group.is_empty());
        let f = facts(regate("narrow@x.io", "wide@x.io"));
        assert_eq!(f.policies_to_wider_group[0].approvers_added, Some(vec!["b".to_string()]));
        let f = facts(regate("narrow@x.io", "unmanaged@x.io"));
        assert_eq!(f.policies_to_wider_group[0].approvers_added, None);
    }
}
