//! The desired model: what the configuration asks for, after evaluation. Resources are keyed
//! by address, every value carries its source span, and each resource lists the resources it
//! depends on (references plus `depends_on`), which orders plan and apply.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::source::{Sources, Span, Spanned};

/// The whole evaluated configuration of one directory.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    pub sources: Sources,
    pub tenant: Option<Tenant>,
    pub groups: BTreeMap<Address, ApproverGroup>,
    pub privileged_access: Option<PrivilegedAccess>,
    pub policies: BTreeMap<Address, AccessPolicy>,
    pub imports: Vec<Import>,
    pub moves: Vec<Moved>,
    /// The value of each declared variable as evaluation used it (after `--var`, the
    /// environment, `*.pamvars.hcl` files and defaults), in JSON form.
    pub variables: BTreeMap<String, serde_json::Value>,
    /// The attributes of each resource whose value comes from a sensitive variable (see
    /// [`Sensitivity`]); renderers show them as `(sensitive value)`.
    pub sensitive: Sensitivity,
    /// The texts of sensitive variables' values that no message may quote (see
    /// `Diagnostics::redact`).
    pub sensitive_texts: Vec<String>,
}

/// Which attributes of which resources hold sensitive values. An attribute is sensitive when
/// its expression references a variable declared with `sensitive = true`, directly, through
/// a local value, through `each` of a sensitive `for_each`, or through a reference to another
/// resource: a reference to an approver group stands for its email address, so it is
/// sensitive when that group's `email` is; a reference to another block is sensitive when any
/// of its attributes is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitivity(pub BTreeMap<String, BTreeSet<String>>);

impl Sensitivity {
    /// Marks `attribute` of `address` as sensitive.
    pub fn mark(&mut self, address: &Address, attribute: &str) {
        self.0.entry(address.to_string()).or_default().insert(attribute.to_string());
    }

    /// Whether `attribute` of `address` is sensitive.
    pub fn is_sensitive(&self, address: &Address, attribute: &str) -> bool {
        self.0.get(&address.to_string()).is_some_and(|s| s.contains(attribute))
    }

    /// The sensitive attributes of `address`.
    pub fn attributes(&self, address: &Address) -> impl Iterator<Item = &str> {
        self.0.get(&address.to_string()).into_iter().flatten().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Configuration {
    /// Every managed address, in no particular order.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.groups
            .keys()
            .chain(self.policies.keys())
            .chain(self.privileged_access.as_ref().map(|p| &p.address))
    }

    pub fn contains(&self, address: &Address) -> bool {
        self.groups.contains_key(address)
            || self.policies.contains_key(address)
            || self.privileged_access.as_ref().is_some_and(|p| &p.address == address)
    }

    /// The resolved dependencies of one resource.
    pub fn dependencies(&self, address: &Address) -> Option<&BTreeSet<Address>> {
        if let Some(g) = self.groups.get(address) {
            return Some(&g.meta.dependencies);
        }
        if let Some(p) = self.policies.get(address) {
            return Some(&p.meta.dependencies);
        }
        self.privileged_access.as_ref().filter(|p| &p.address == address).map(|p| &p.meta.dependencies)
    }

    /// The span of a resource's block (its header), for diagnostics that concern the whole block.
    pub fn block_span(&self, address: &Address) -> Option<Span> {
        if let Some(g) = self.groups.get(address) {
            return Some(g.span);
        }
        if let Some(p) = self.policies.get(address) {
            return Some(p.span);
        }
        self.privileged_access.as_ref().filter(|p| &p.address == address).map(|p| p.span)
    }

    pub fn meta(&self, address: &Address) -> Option<&Meta> {
        if let Some(g) = self.groups.get(address) {
            return Some(&g.meta);
        }
        if let Some(p) = self.policies.get(address) {
            return Some(&p.meta);
        }
        self.privileged_access.as_ref().filter(|p| &p.address == address).map(|p| &p.meta)
    }

    /// Resolves a group reference to the email address of the group it names.
    pub fn group_email(&self, group: &GroupRef) -> Option<String> {
        match group {
            GroupRef::Email(email) => Some(email.clone()),
            GroupRef::Resource(address) => self.groups.get(address).map(|g| g.email.value.clone()),
        }
    }
}

/// The `tenant` block.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub span: Span,
    /// Tenant id (GUID) or initial domain.
    pub id: Spanned<String>,
    pub exchange_url: Option<Spanned<String>>,
    pub graph_url: Option<Spanned<String>>,
    pub login_url: Option<Spanned<String>>,
    /// Path of an emulated tenant's data file, resolved against the configuration directory.
    pub emulator: Option<Spanned<PathBuf>>,
}

/// Meta-arguments shared by managed resources.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub depends_on: Vec<Spanned<Address>>,
    pub lifecycle: Lifecycle,
    /// Everything this resource references or explicitly depends on.
    pub dependencies: BTreeSet<Address>,
    /// The `for_each` key of this instance, if any (also found in the address).
    pub each_key: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub prevent_destroy: bool,
    /// Attribute names whose changes the diff ignores.
    pub ignore_changes: Vec<Spanned<String>>,
}

impl Lifecycle {
    pub fn ignores(&self, attribute: &str) -> bool {
        self.ignore_changes.iter().any(|a| a.value == attribute || a.value == "all")
    }
}

/// How pamform treats members of a group that the configuration does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    /// Members not listed are removed.
    #[default]
    Authoritative,
    /// Only ensures the listed members are present.
    Additive,
}

impl Membership {
    pub fn as_str(self) -> &'static str {
        match self {
            Membership::Authoritative => "authoritative",
            Membership::Additive => "additive",
        }
    }
}

/// An `approver_group` instance: a mail-enabled security group.
#[derive(Debug, Clone)]
pub struct ApproverGroup {
    pub address: Address,
    pub span: Span,
    pub name: Spanned<String>,
    pub email: Spanned<String>,
    /// Defaults to the local part of `email` when absent.
    pub alias: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    /// UPNs or email addresses, as written.
    pub members: Vec<Spanned<String>>,
    pub membership: Membership,
    pub meta: Meta,
}

impl ApproverGroup {
    /// The alias, or its default: the local part of the email address.
    pub fn effective_alias(&self) -> String {
        match &self.alias {
            Some(a) => a.value.clone(),
            None => self.email.value.split('@').next().unwrap_or_default().to_string(),
        }
    }
}

/// Where a group is expected: a reference to a configured group, or a raw email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Resource(Address),
    Email(String),
}

/// The `privileged_access` block: the tenant-wide PAM switch.
#[derive(Debug, Clone)]
pub struct PrivilegedAccess {
    /// Always `privileged_access`.
    pub address: Address,
    pub span: Span,
    pub enabled: Spanned<bool>,
    pub default_approver_group: Option<Spanned<GroupRef>>,
    pub system_accounts: Vec<Spanned<String>>,
    pub meta: Meta,
}

/// What an access policy gates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum PolicyTarget {
    /// A cmdlet name without the `Exchange\` prefix, e.g. `New-MoveRequest`.
    Task(String),
    /// A management role name.
    Role(String),
    /// A role group name.
    RoleGroup(String),
}

impl PolicyTarget {
    /// The attribute name in configuration: `task`, `role` or `role_group`.
    pub fn attribute(&self) -> &'static str {
        match self {
            PolicyTarget::Task(_) => "task",
            PolicyTarget::Role(_) => "role",
            PolicyTarget::RoleGroup(_) => "role_group",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            PolicyTarget::Task(n) | PolicyTarget::Role(n) | PolicyTarget::RoleGroup(n) => n,
        }
    }

    /// The value as a user writes it: `Exchange\New-MoveRequest`, or the role (group) name.
    pub fn display_value(&self) -> String {
        match self {
            PolicyTarget::Task(c) => format!("Exchange\\{c}"),
            PolicyTarget::Role(n) | PolicyTarget::RoleGroup(n) => n.clone(),
        }
    }

    /// A key that identifies the target regardless of case: two policies for the same key
    /// cannot coexist in a tenant.
    pub fn natural_key(&self) -> String {
        format!("{}:{}", self.attribute(), self.name().to_lowercase())
    }
}

impl fmt::Display for PolicyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:?}", self.attribute(), self.display_value())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    #[default]
    Manual,
    Auto,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Manual => "manual",
            Approval::Auto => "auto",
        }
    }
}

/// An `access_policy` instance.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    pub address: Address,
    pub span: Span,
    pub target: Spanned<PolicyTarget>,
    pub approval: Spanned<Approval>,
    pub approver_group: Spanned<GroupRef>,
    pub meta: Meta,
}

/// An `import` block.
#[derive(Debug, Clone)]
pub struct Import {
    pub span: Span,
    pub to: Spanned<Address>,
    pub id: Spanned<String>,
}

/// A `moved` block.
#[derive(Debug, Clone)]
pub struct Moved {
    pub span: Span,
    pub from: Spanned<Address>,
    pub to: Spanned<Address>,
}
