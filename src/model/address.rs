//! Resource addresses: `approver_group.NAME`, `access_policy.NAME["key"]`, `privileged_access`.
//! They key resources in the model, the plan and the state, and are what users type in
//! `--target`, `state show`, `import` and `moved`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kinds of resource pamform manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    ApproverGroup,
    PrivilegedAccess,
    AccessPolicy,
}

impl ResourceType {
    pub const ALL: [ResourceType; 3] =
        [ResourceType::ApproverGroup, ResourceType::PrivilegedAccess, ResourceType::AccessPolicy];

    /// The block type name, as written in configuration and used in addresses.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::ApproverGroup => "approver_group",
            ResourceType::PrivilegedAccess => "privileged_access",
            ResourceType::AccessPolicy => "access_policy",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether blocks of this type carry a name label (and so may use `for_each`).
    pub fn is_named(self) -> bool {
        !matches!(self, ResourceType::PrivilegedAccess)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address of one resource instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub kind: ResourceType,
    /// The block label; empty for `privileged_access`.
    pub name: String,
    /// The `for_each` key, if the block uses `for_each`.
    pub key: Option<String>,
}

impl Address {
    pub fn new(kind: ResourceType, name: impl Into<String>) -> Self {
        Address { kind, name: name.into(), key: None }
    }

    pub fn with_key(kind: ResourceType, name: impl Into<String>, key: impl Into<String>) -> Self {
        Address { kind, name: name.into(), key: Some(key.into()) }
    }

    pub fn privileged_access() -> Self {
        Address { kind: ResourceType::PrivilegedAccess, name: String::new(), key: None }
    }

    pub fn group(name: impl Into<String>) -> Self {
        Self::new(ResourceType::ApproverGroup, name)
    }

    pub fn policy(name: impl Into<String>) -> Self {
        Self::new(ResourceType::AccessPolicy, name)
    }

    /// The address without its instance key (`access_policy.x["a"]` -> `access_policy.x`).
    pub fn block(&self) -> Address {
        Address { kind: self.kind, name: self.name.clone(), key: None }
    }

    /// Whether `self`, as written by a user (e.g. in `--target`), selects `other`:
    /// an address without a key selects every instance of its block.
    pub fn selects(&self, other: &Address) -> bool {
        self.kind == other.kind && self.name == other.name && (self.key.is_none() || self.key == other.key)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if self.kind.is_named() {
            write!(f, ".{}", self.name)?;
        }
        if let Some(key) = &self.key {
            f.write_str("[")?;
            write_quoted(f, key)?;
            f.write_str("]")?;
        }
        Ok(())
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("unknown resource type `{0}`; expected approver_group, access_policy or privileged_access")]
    UnknownType(String),
    #[error("`{0}` needs a name, as in `{0}.NAME`")]
    MissingName(String),
    #[error("`privileged_access` takes no name or key")]
    PrivilegedAccessHasName,
    #[error("`{0}` is not a valid name: use letters, digits, `_` and `-`, starting with a letter or `_`")]
    BadName(String),
    #[error("malformed instance key in `{0}`: write it as [\"key\"]")]
    BadKey(String),
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (head, key) = match s.find('[') {
            Some(i) => (&s[..i], Some(parse_key(&s[i..]).ok_or_else(|| AddressError::BadKey(s.into()))?)),
            None => (s, None),
        };
        let (ty, name) = match head.split_once('.') {
            Some((t, n)) => (t, Some(n)),
            None => (head, None),
        };
        let kind = ResourceType::from_name(ty).ok_or_else(|| AddressError::UnknownType(ty.into()))?;
        if kind == ResourceType::PrivilegedAccess {
            if name.is_some() || key.is_some() {
                return Err(AddressError::PrivilegedAccessHasName);
            }
            return Ok(Address::privileged_access());
        }
        let name = name.ok_or_else(|| AddressError::MissingName(ty.into()))?;
        if !is_identifier(name) {
            return Err(AddressError::BadName(name.into()));
        }
        Ok(Address { kind, name: name.into(), key })
    }
}

/// Parses `["key"]` (the whole remainder of an address), unescaping `\"` and `\\`.
fn parse_key(s: &str) -> Option<String> {
    let inner = s.strip_prefix("[\"")?.strip_suffix("\"]")?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                c => out.push(c),
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// HCL identifier rules: a letter or `_`, then letters, digits, `_` or `-`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_display() {
        for s in [
            "approver_group.default",
            "access_policy.mailbox_tasks[\"Set-Mailbox\"]",
            "access_policy.x[\"a \\\"b\\\" \\\\\"]",
            "privileged_access",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!("group.x".parse::<Address>(), Err(AddressError::UnknownType(_))));
        assert!(matches!("access_policy".parse::<Address>(), Err(AddressError::MissingName(_))));
        assert!(matches!("access_policy.x[a]".parse::<Address>(), Err(AddressError::BadKey(_))));
        assert!(matches!(
            "privileged_access.x".parse::<Address>(),
            Err(AddressError::PrivilegedAccessHasName)
        ));
        assert!(matches!("access_policy.1x".parse::<Address>(), Err(AddressError::BadName(_))));
    }

    #[test]
    fn block_address_selects_its_instances() {
        let block: Address = "access_policy.t".parse().unwrap();
        let inst: Address = "access_policy.t[\"a\"]".parse().unwrap();
        assert!(block.selects(&inst));
        assert!(!inst.selects(&block));
        assert!(inst.selects(&inst));
    }
}
