//! The attributes of each resource type in one comparable shape, built from the desired
//! model, from the refreshed tenant or from state. Everything the diff compares is
//! normalised here (case-insensitive addresses and tasks, sets, defaults), so that nothing
//! shows as a change that is not one.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::collections::hash_map::Entry;

// Keyed by tens of thousands of member names per plan: a fast hasher (randomly seeded per
// process) instead of SipHash.
use foldhash::HashMap;

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
    #[serde(deserialize_with = "set_in_one_go")]
    pub members: BTreeSet<String>,
    pub membership: Membership,
}

/// [`GroupAttrs`] as state records it, checked as [`Attrs::from_value`] checks it (the same
/// fields, of the same types) but borrowed: its members are not copied.
#[derive(Deserialize)]
struct RecordedGroup<'a> {
    name: &'a str,
    email: &'a str,
    alias: &'a str,
    #[serde(rename = "description", default)]
    _description: &'a str,
    #[serde(rename = "members")]
    _members: Vec<&'a str>,
    #[serde(rename = "membership")]
    _membership: Membership,
}

/// The email of a group state recorded, when its attributes read as a group's.
pub fn recorded_group_email(value: &Value) -> Option<&str> {
    RecordedGroup::deserialize(value).ok().map(|g| g.email)
}

/// The email, name and alias of a group state recorded, when its attributes read as a
/// group's.
pub fn recorded_group_names(value: &Value) -> Option<(&str, &str, &str)> {
    RecordedGroup::deserialize(value).ok().map(|g| (g.email, g.name, g.alias))
}

/// A set of names read as a list, then built in one go: state writes them in order, so
/// this is linear, where inserting thousands of members one by one searches the tree for each.
fn set_in_one_go<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    Vec::<String>::deserialize(d).map(BTreeSet::from_iter)
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
            // Read from the borrowed value: a group's members are not copied first.
            T::ApproverGroup => GroupAttrs::deserialize(value).ok().map(Attrs::Group),
            T::AccessPolicy => PolicyAttrs::deserialize(value).ok().map(Attrs::Policy),
            T::PrivilegedAccess => PamAttrs::deserialize(value).ok().map(Attrs::Pam),
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

/// Resolves members to directory objects, so that the diff compares objects, not spellings:
/// a UPN, a mail address and another address of one user are one member. Each object is
/// shown by the name the group's configuration uses for it (the first it lists that the
/// object answers to), so the plan stays readable.
///
/// Built once per plan from every member the configuration names (tens of thousands on a
/// large tenant), so it borrows what it can from the configuration and the snapshot and
/// keeps hash maps: nothing here is ever iterated in order.
#[derive(Debug, Default)]
pub struct MemberNames<'a> {
    /// Lower-cased configured name -> directory object id.
    ids: HashMap<Cow<'a, str>, &'a str>,
    /// Object id -> its name in any group of the configuration (the first one listed).
    by_id: HashMap<&'a str, Cow<'a, str>>,
    /// Lower-cased group email -> object id -> its name in that group.
    by_group: HashMap<String, HashMap<&'a str, Cow<'a, str>>>,
}

impl<'a> MemberNames<'a> {
    pub fn new(config: &'a Configuration, snapshot: &'a TenantSnapshot) -> Self {
        let mut names = MemberNames::default();
        let principal = |name: &Cow<'_, str>| snapshot.principals.get(name.as_ref()).and_then(Option::as_ref);
        for g in config.groups.values() {
            let in_group = names.by_group.entry(normalize::principal(&g.email.value)).or_default();
            for m in &g.members {
                let name = normalize::principal_cow(&m.value);
                let Some(obj) = principal(&name) else { continue };
                let id = obj.id.as_str();
                match in_group.entry(id) {
                    Entry::Vacant(slot) => {
                        slot.insert(name.clone());
                    }
                    // A name the object answers to (UPN, mail) beats an alternative address.
                    Entry::Occupied(mut slot) => {
                        if !obj.answers_to(slot.get()) && obj.answers_to(&name) {
                            slot.insert(name.clone());
                        }
                    }
                }
                names.by_id.entry(id).or_insert_with(|| name.clone());
                names.ids.insert(name, id);
            }
        }
        for s in config.privileged_access.iter().flat_map(|p| &p.system_accounts) {
            let name = normalize::principal_cow(&s.value);
            if let Some(obj) = principal(&name) {
                names.by_id.entry(obj.id.as_str()).or_insert_with(|| name.clone());
                names.ids.insert(name, obj.id.as_str());
            }
        }
        names
    }

    /// The comparable name of a live member.
    pub fn name_of(&self, obj: &DirectoryObject) -> String {
        match self.by_id.get(obj.id.as_str()) {
            Some(name) => name.to_string(),
            None => normalize::principal(obj.label()),
        }
    }

    /// The names the group at `group_email` uses, by object id.
    fn group(&self, group_email: &str) -> Option<&HashMap<&'a str, Cow<'a, str>>> {
        self.by_group.get(normalize::principal_cow(group_email).as_ref())
    }

    /// The comparable name of a live member of the group at `group_email`.
    pub fn name_in(&self, group_email: &str, obj: &DirectoryObject) -> String {
        Self::name_in_group(self.group(group_email), obj).unwrap_or_else(|| self.name_of(obj))
    }

    fn name_in_group(
        group: Option<&HashMap<&'a str, Cow<'a, str>>>,
        obj: &DirectoryObject,
    ) -> Option<String> {
        group.and_then(|m| m.get(obj.id.as_str())).map(|name| name.to_string())
    }

    /// The comparable name of a configured member of the group at `group_email`: the name
    /// that group uses for the same directory object, or the name itself when the directory
    /// does not know it.
    pub fn desired_in(&self, group_email: &str, name: &str) -> String {
        self.desired_in_group(self.group(group_email), name)
    }

    fn desired_in_group(&self, group: Option<&HashMap<&'a str, Cow<'a, str>>>, name: &str) -> String {
        let name = normalize::principal_cow(name);
        self.ids
            .get(name.as_ref())
            .and_then(|id| group?.get(id))
            .map_or_else(|| name.into_owned(), |n| n.to_string())
    }

    /// The directory object id a configured name resolves to.
    pub fn id_of(&self, name: &str) -> Option<&str> {
        self.ids.get(normalize::principal_cow(name).as_ref()).copied()
    }
}

/// Desired attributes of a configured group; members named twice (by UPN and by mail, say)
/// are one member.
pub fn desired_group(g: &ApproverGroup, names: &MemberNames<'_>) -> GroupAttrs {
    let group = names.group(&g.email.value);
    GroupAttrs {
        name: g.name.value.clone(),
        email: normalize::principal(&g.email.value),
        alias: g.effective_alias(),
        description: g.description.as_ref().map(|d| d.value.clone()).unwrap_or_default(),
        members: g.members.iter().map(|m| names.desired_in_group(group, &m.value)).collect(),
        membership: g.membership,
    }
}

/// Live attributes of a group; `membership` is not a tenant property and is taken from `as_configured`.
pub fn live_group(g: &RemoteGroup, names: &MemberNames<'_>, membership: Membership) -> GroupAttrs {
    let group = names.group(&g.email);
    GroupAttrs {
        name: g.display_name.clone(),
        email: normalize::principal(&g.email),
        alias: g.alias.clone(),
        description: g.description.clone().unwrap_or_default(),
        members: g
            .members
            .iter()
            .map(|m| MemberNames::name_in_group(group, m).unwrap_or_else(|| names.name_of(m)))
            .collect(),
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

/// A group `G` (`g@x.io`) with `members`, authoritative: the one builder unit tests share.
#[cfg(test)]
pub(crate) fn test_group(members: &[&str]) -> Attrs {
    Attrs::Group(GroupAttrs {
        name: "G".into(),
        email: "g@x.io".into(),
        alias: "g".into(),
        description: String::new(),
        members: members.iter().map(|m| m.to_string()).collect(),
        membership: crate::model::Membership::Authoritative,
    })
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
    fn members_compare_as_directory_objects_named_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.pam.hcl"),
            "tenant {\n  id = \"contoso.onmicrosoft.com\"\n}\napprover_group \"a\" {\n  name = \"A\"\n  email = \"a@contoso.onmicrosoft.com\"\n  members = [\"zoe.smith@contoso.com\", \"Zoe@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]\n}\n",
        )
        .unwrap();
        let config = crate::config::load(dir.path(), &Default::default()).map(|l| l.configuration).unwrap();
        let zoe = DirectoryObject {
            id: "id-zoe".into(),
            kind: crate::model::ObjectKind::User,
            upn: Some("zoe@contoso.onmicrosoft.com".into()),
            mail: Some("zoe.smith@contoso.com".into()),
            display_name: None,
            has_mailbox: true,
            is_guest: false,
        };
        let mut snapshot = TenantSnapshot::default();
        snapshot.principals.insert("zoe.smith@contoso.com".into(), Some(zoe.clone()));
        snapshot.principals.insert("zoe@contoso.onmicrosoft.com".into(), Some(zoe.clone()));
        snapshot.principals.insert("bob@contoso.onmicrosoft.com".into(), None);
        let names = MemberNames::new(&config, &snapshot);
        let g = config.groups.values().next().unwrap();
        let desired = desired_group(g, &names);
        let want: BTreeSet<String> =
            ["zoe.smith@contoso.com", "bob@contoso.onmicrosoft.com"].map(String::from).into();
        assert_eq!(desired.members, want, "one member under the first name listed");
        let live = RemoteGroup {
            id: "g".into(),
            name: "A".into(),
            display_name: "A".into(),
            alias: "a".into(),
            email: "A@contoso.onmicrosoft.com".into(),
            description: None,
            security_enabled: true,
            members: vec![zoe],
        };
        let live = live_group(&live, &names, Membership::Authoritative);
        assert!(live.members.contains("zoe.smith@contoso.com"), "{:?}", live.members);
        assert_eq!(names.id_of("ZOE@contoso.onmicrosoft.com"), Some("id-zoe"));
    }

    #[test]
    fn state_values_read_back_as_their_type() {
        let p = Attrs::Policy(policy("Set-Mailbox", "g@x.io"));
        let back = Attrs::from_value(crate::model::ResourceType::AccessPolicy, &p.to_value()).unwrap();
        assert_eq!(back, p);
    }
}
