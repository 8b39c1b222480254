//! The attributes of each resource type in one comparable shape, built from the desired
//! model, from the refreshed tenant or from state. Everything the diff compares is
//! normalised here (case-insensitive addresses and tasks, sets, defaults), so that nothing
//! shows as a change that is not one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{
    AccessPolicy, Approval, ApproverGroup, Configuration, DirectoryObject, Membership, PamSetting,
    PolicyTarget, PrivilegedAccess, RemoteGroup, RemotePolicy, TenantSnapshot, normalize,
};

/// Attributes of an `approver_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAttrs {
    pub name: String,
    pub email: String,
    pub alias: String,
    #[serde(default)]
    pub description: String,
    /// Lower-cased UPNs or addresses, in order.
    pub members: BTreeSet<String>,
    pub membership: Membership,
}

/// Attributes of an `access_policy`. Exactly one of task, role, role_group is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAttrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_group: Option<String>,
    pub approval: Approval,
    /// Lower-cased email of the approver group.
    pub approver_group: String,
}

/// Attributes of `privileged_access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PamAttrs {
    pub enabled: bool,
    #[serde(default)]
    pub default_approver_group: Option<String>,
    #[serde(default)]
    pub system_accounts: BTreeSet<String>,
}

/// The attributes of any resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Attrs {
    Group(GroupAttrs),
    Policy(PolicyAttrs),
    Pam(PamAttrs),
}

impl Attrs {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("attributes serialise")
    }

    /// Reads attributes recorded in state for a resource of `kind`.
    pub fn from_value(kind: crate::model::ResourceType, value: &Value) -> Option<Attrs> {
        use crate::model::ResourceType as T;
        match kind {
            T::ApproverGroup => serde_json::from_value(value.clone()).ok().map(Attrs::Group),
            T::AccessPolicy => serde_json::from_value(value.clone()).ok().map(Attrs::Policy),
            T::PrivilegedAccess => serde_json::from_value(value.clone()).ok().map(Attrs::Pam),
        }
    }

    /// The names of attributes whose values differ, in a stable order.
    pub fn changed_attributes(&self, other: &Attrs) -> Vec<&'static str> {
        let mut out = Vec::new();
        match (self, other) {
            (Attrs::Group(a), Attrs::Group(b)) => {
                push_if(&mut out, "name", a.name != b.name);
                push_if(&mut out, "email", a.email != b.email);
                push_if(&mut out, "alias", !a.alias.eq_ignore_ascii_case(&b.alias));
                push_if(&mut out, "description", a.description != b.description);
                push_if(&mut out, "members", a.members != b.members);
                push_if(&mut out, "membership", a.membership != b.membership);
            }
            (Attrs::Policy(a), Attrs::Policy(b)) => {
                push_if(&mut out, "task", !eq_ci(&a.task, &b.task));
                push_if(&mut out, "role", !eq_ci(&a.role, &b.role));
                push_if(&mut out, "role_group", !eq_ci(&a.role_group, &b.role_group));
                push_if(&mut out, "approval", a.approval != b.approval);
                push_if(&mut out, "approver_group", a.approver_group != b.approver_group);
            }
            (Attrs::Pam(a), Attrs::Pam(b)) => {
                push_if(&mut out, "enabled", a.enabled != b.enabled);
                // When PAM is off on both sides its other values are moot.
                if a.enabled || b.enabled {
                    push_if(
                        &mut out,
                        "default_approver_group",
                        a.default_approver_group != b.default_approver_group,
                    );
                    push_if(&mut out, "system_accounts", a.system_accounts != b.system_accounts);
                }
            }
            _ => out.push("type"),
        }
        out
    }

    /// Overwrites the named attributes of `self` with those of `from` (for `ignore_changes`).
    pub fn take_attributes(&mut self, from: &Attrs, names: &[&str]) {
        let mut mine = self.to_value();
        let theirs = from.to_value();
        let (Some(m), Some(t)) = (mine.as_object_mut(), theirs.as_object()) else { return };
        for name in names {
            match t.get(*name) {
                Some(v) => m.insert((*name).to_string(), v.clone()),
                None => m.remove(*name),
            };
        }
        if let Ok(a) = serde_json::from_value::<Attrs>(mine) {
            // untagged deserialisation picks the first shape that fits; keep our variant.
            *self = match (&*self, a) {
                (Attrs::Group(_), Attrs::Group(g)) => Attrs::Group(g),
                (Attrs::Policy(_), Attrs::Policy(p)) => Attrs::Policy(p),
                (Attrs::Pam(_), Attrs::Pam(p)) => Attrs::Pam(p),
                (same, _) => same.clone(),
            };
        }
    }

    pub fn as_group(&self) -> Option<&GroupAttrs> {
        match self {
            Attrs::Group(g) => Some(g),
            _ => None,
        }
    }

    pub fn as_policy(&self) -> Option<&PolicyAttrs> {
        match self {
            Attrs::Policy(p) => Some(p),
            _ => None,
        }
    }

    pub fn as_pam(&self) -> Option<&PamAttrs> {
        match self {
            Attrs::Pam(p) => Some(p),
            _ => None,
        }
    }
}

fn push_if(out: &mut Vec<&'static str>, name: &'static str, cond: bool) {
    if cond {
        out.push(name);
    }
}

fn eq_ci(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

impl PolicyAttrs {
    pub fn target(&self) -> Option<PolicyTarget> {
        if let Some(t) = &self.task {
            return Some(PolicyTarget::Task(normalize::task_cmdlet(t).to_string()));
        }
        if let Some(r) = &self.role {
            return Some(PolicyTarget::Role(r.clone()));
        }
        self.role_group.clone().map(PolicyTarget::RoleGroup)
    }

    fn with_target(target: &PolicyTarget, approval: Approval, approver_group: String) -> Self {
        let (mut task, mut role, mut role_group) = (None, None, None);
        match target {
            PolicyTarget::Task(_) => task = Some(target.display_value()),
            PolicyTarget::Role(r) => role = Some(r.clone()),
            PolicyTarget::RoleGroup(g) => role_group = Some(g.clone()),
        }
        PolicyAttrs {
            task,
            role,
            role_group,
            approval,
            approver_group: normalize::principal(&approver_group),
        }
    }
}

/// Maps directory object ids to the name the configuration uses for them, so that a member
/// written as `Alice@Contoso.com` and found as UPN `alice@contoso.com` is one member.
#[derive(Debug, Default)]
pub struct MemberNames {
    by_id: BTreeMap<String, String>,
}

impl MemberNames {
    pub fn new(config: &Configuration, snapshot: &TenantSnapshot) -> Self {
        let mut by_id = BTreeMap::new();
        let names = config.groups.values().flat_map(|g| g.members.iter().map(|m| m.value.as_str())).chain(
            config.privileged_access.iter().flat_map(|p| p.system_accounts.iter().map(|s| s.value.as_str())),
        );
        for name in names {
            if let Some(obj) = snapshot.principal(name) {
                by_id.entry(obj.id.clone()).or_insert_with(|| normalize::principal(name));
            }
        }
        MemberNames { by_id }
    }

    /// The comparable name of a live member.
    pub fn name_of(&self, obj: &DirectoryObject) -> String {
        self.by_id.get(&obj.id).cloned().unwrap_or_else(|| normalize::principal(obj.label()))
    }
}

/// Desired attributes of a configured group.
pub fn desired_group(g: &ApproverGroup) -> GroupAttrs {
    GroupAttrs {
        name: g.name.value.clone(),
        email: normalize::principal(&g.email.value),
        alias: g.effective_alias(),
        description: g.description.as_ref().map(|d| d.value.clone()).unwrap_or_default(),
        members: g.members.iter().map(|m| normalize::principal(&m.value)).collect(),
        membership: g.membership,
    }
}

/// Live attributes of a group; `membership` is not a tenant property and is taken from `as_configured`.
pub fn live_group(g: &RemoteGroup, names: &MemberNames, membership: Membership) -> GroupAttrs {
    GroupAttrs {
        name: g.display_name.clone(),
        email: normalize::principal(&g.email),
        alias: g.alias.clone(),
        description: g.description.clone().unwrap_or_default(),
        members: g.members.iter().map(|m| names.name_of(m)).collect(),
        membership,
    }
}

pub fn desired_policy(config: &Configuration, p: &AccessPolicy) -> PolicyAttrs {
    let group = config.group_email(&p.approver_group.value).unwrap_or_default();
    PolicyAttrs::with_target(&p.target.value, p.approval.value, group)
}

pub fn live_policy(p: &RemotePolicy) -> PolicyAttrs {
    PolicyAttrs::with_target(&p.target, p.approval, p.approver_group.clone())
}

pub fn desired_pam(config: &Configuration, p: &PrivilegedAccess) -> PamAttrs {
    PamAttrs {
        enabled: p.enabled.value,
        default_approver_group: p
            .default_approver_group
            .as_ref()
            .and_then(|g| config.group_email(&g.value))
            .map(|e| normalize::principal(&e)),
        system_accounts: p.system_accounts.iter().map(|s| normalize::principal(&s.value)).collect(),
    }
}

pub fn live_pam(p: &PamSetting) -> PamAttrs {
    PamAttrs {
        enabled: p.enabled,
        default_approver_group: p.default_approver_group.as_deref().map(normalize::principal),
        system_accounts: normalize::principal_set(p.system_accounts.iter().map(String::as_str)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(task: &str, group: &str) -> PolicyAttrs {
        PolicyAttrs::with_target(&PolicyTarget::Task(task.into()), Approval::Manual, group.into())
    }

    #[test]
    fn policies_compare_without_case() {
        let a = Attrs::Policy(policy("New-MoveRequest", "G@X.io"));
        let b = Attrs::Policy(policy("new-moverequest", "g@x.io"));
        assert!(a.changed_attributes(&b).is_empty());
    }

    #[test]
    fn disabled_pam_ignores_its_values() {
        let a = Attrs::Pam(PamAttrs {
            enabled: false,
            default_approver_group: Some("a@x.io".into()),
            system_accounts: BTreeSet::new(),
        });
        let b = Attrs::Pam(PamAttrs {
            enabled: false,
            default_approver_group: None,
            system_accounts: BTreeSet::new(),
        });
        assert!(a.changed_attributes(&b).is_empty());
        let c = Attrs::Pam(PamAttrs {
            enabled: true,
            default_approver_group: None,
            system_accounts: BTreeSet::new(),
        });
        assert_eq!(a.changed_attributes(&c), vec!["enabled", "default_approver_group"]);
    }

    #[test]
    fn take_attributes_copies_named_values() {
        let mut a = Attrs::Group(GroupAttrs {
            name: "A".into(),
            email: "a@x.io".into(),
            alias: "a".into(),
            description: String::new(),
            members: ["m@x.io".to_string()].into(),
            membership: Membership::Authoritative,
        });
        let mut b = a.clone();
        if let Attrs::Group(g) = &mut b {
            g.members.insert("n@x.io".into());
            g.name = "B".into();
        }
        a.take_attributes(&b, &["members"]);
        assert_eq!(a.changed_attributes(&b), vec!["name"]);
    }

    #[test]
    fn state_values_read_back_as_their_type() {
        let p = Attrs::Policy(policy("Set-Mailbox", "g@x.io"));
        let back = Attrs::from_value(crate::model::ResourceType::AccessPolicy, &p.to_value()).unwrap();
        assert_eq!(back, p);
    }
}
