//! The tenant's live PAM picture, as one refresh fetched it: the PAM switch, every access
//! policy, the approver groups that matter with their members, and the directory objects
//! behind every principal the configuration names. Plan, drift and export read only this.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::desired::{Approval, PolicyTarget};
use super::normalize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSnapshot {
    pub pam: PamSetting,
    /// Every access policy in the tenant, managed or not, ordered by id.
    pub policies: Vec<RemotePolicy>,
    /// Groups that were looked up, keyed by lower-cased primary SMTP address. A group that
    /// was asked for and does not exist is absent.
    pub groups: BTreeMap<String, RemoteGroup>,
    /// Principals (UPNs or addresses) that were looked up, keyed by the lower-cased name as
    /// asked; `None` when the directory has no such object.
    pub principals: BTreeMap<String, Option<DirectoryObject>>,
    /// Which cmdlets each role and role group contains, lower-cased names; used by the
    /// self-lockout check and by PAM gating.
    pub role_cmdlets: BTreeMap<String, Vec<String>>,
    pub role_group_roles: BTreeMap<String, Vec<String>>,
    /// The identity pamform itself runs as (UPN of a user, or the app's service principal
    /// name), when known.
    pub identity: Option<String>,
    /// Every cmdlet, role and role group the tenant has, when the refresh read them (a plan
    /// with policies does); `None` when it did not, and names are then not checked.
    #[serde(default)]
    pub catalog: Option<RoleCatalog>,
    /// Recipients whose Exchange `Name`, display name or alias is one of the names the
    /// configuration's groups want; a new or renamed group must not take them.
    #[serde(default)]
    pub name_holders: Vec<NamedRecipient>,
}

/// What the tenant's RBAC knows, as the tenant spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCatalog {
    /// Every cmdlet of every management role.
    pub cmdlets: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    pub role_groups: BTreeSet<String>,
}

impl RoleCatalog {
    /// The catalog's spelling of a cmdlet, role or role group, found without case.
    pub fn find<'a>(names: &'a BTreeSet<String>, name: &str) -> Option<&'a str> {
        let name = name.trim();
        names.iter().find(|n| n.eq_ignore_ascii_case(name)).map(String::as_str)
    }
}

/// A recipient found by name: the names Exchange keeps unique among recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRecipient {
    /// `ExternalDirectoryObjectId`.
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub alias: String,
    pub email: Option<String>,
}

impl TenantSnapshot {
    pub fn group(&self, email: &str) -> Option<&RemoteGroup> {
        self.groups.get(&normalize::principal(email))
    }

    pub fn principal(&self, name: &str) -> Option<&DirectoryObject> {
        self.principals.get(&normalize::principal(name)).and_then(Option::as_ref)
    }

    pub fn policy_by_id(&self, id: &str) -> Option<&RemotePolicy> {
        self.policies.iter().find(|p| p.id.eq_ignore_ascii_case(id))
    }

    pub fn policy_by_target(&self, target: &PolicyTarget) -> Option<&RemotePolicy> {
        let key = target.natural_key();
        self.policies.iter().find(|p| p.target.natural_key() == key)
    }
}

/// The tenant-wide PAM switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PamSetting {
    pub enabled: bool,
    /// Primary SMTP address of the default approver group.
    pub default_approver_group: Option<String>,
    /// UPNs excluded from PAM.
    pub system_accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePolicy {
    /// The policy's `Identity` (a GUID).
    pub id: String,
    pub target: PolicyTarget,
    pub approval: Approval,
    /// Primary SMTP address of the approver group.
    pub approver_group: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteGroup {
    /// `ExternalDirectoryObjectId` in Exchange, `id` in Graph.
    pub id: String,
    /// Exchange `Name`.
    pub name: String,
    pub display_name: String,
    pub alias: String,
    pub email: String,
    pub description: Option<String>,
    /// Whether it is a mail-enabled security group (the only kind PAM accepts).
    pub security_enabled: bool,
    pub members: Vec<DirectoryObject>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    User,
    Group,
    ServicePrincipal,
    Other,
}

/// A user, group or other principal in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryObject {
    pub id: String,
    pub kind: ObjectKind,
    pub upn: Option<String>,
    pub mail: Option<String>,
    pub display_name: Option<String>,
    /// Whether Exchange knows it as a mail-enabled recipient (only those can be members).
    pub has_mailbox: bool,
    /// Guests (B2B users) can be members but can never approve.
    pub is_guest: bool,
}

impl DirectoryObject {
    /// Whether `name` (a UPN or an address) names this object, case-insensitively.
    pub fn answers_to(&self, name: &str) -> bool {
        let n = normalize::principal_cow(name);
        self.upn.as_deref().is_some_and(|u| normalize::principal_cow(u) == n)
            || self.mail.as_deref().is_some_and(|m| normalize::principal_cow(m) == n)
    }

    /// The name to show for it: UPN, else mail, else id.
    pub fn label(&self) -> &str {
        self.upn.as_deref().or(self.mail.as_deref()).unwrap_or(&self.id)
    }
}
