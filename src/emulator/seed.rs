//! The emulated tenant's data: the seed format, which is also the data-file format, and the
//! loading rules that turn a hand-written seed into a consistent tenant (ids filled in,
//! member references resolved, secrets replaced by their hashes).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::normalize;
use crate::wire::exchange::recipient_type;

/// The default tenant (`contoso.onmicrosoft.com`) shipped with the emulator.
pub const DEFAULT_SEED_JSON: &str = include_str!("default_seed.json");

/// A whole tenant: what a seed file describes and what the data file keeps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub tenant: TenantInfo,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub roles: Vec<SeedRole>,
    #[serde(default)]
    pub role_groups: Vec<SeedRoleGroup>,
    #[serde(default)]
    pub apps: Vec<SeedApp>,
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    #[serde(default)]
    pub policies: Vec<SeedPolicy>,
    #[serde(default)]
    pub pam: SeedPam,
    /// Items of other request kinds (Customer Lockbox, Data Access Request) that share the
    /// `Get-ElevatedAccessRequest` list.
    #[serde(default)]
    pub foreign_requests: Vec<ForeignRequest>,
    /// Elevated access requests made so far (kept by the data file).
    #[serde(default)]
    pub requests: Vec<SeedRequest>,
    /// Authorizations granted by approvals (kept by the data file).
    #[serde(default)]
    pub authorizations: Vec<SeedAuthorization>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantInfo {
    /// Initial domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
    /// Tenant id (GUID); URLs accept either.
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// Entra object id (`ExternalDirectoryObjectId`); generated when absent.
    #[serde(default)]
    pub id: String,
    pub user_principal_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Primary SMTP address; defaults to the UPN for mailbox users.
    #[serde(default)]
    pub mail: Option<String>,
    /// Has an Exchange mailbox (`UserMailbox`).
    #[serde(default)]
    pub mailbox: bool,
    /// A B2B guest (`GuestMailUser` when it has a mail address).
    #[serde(default)]
    pub guest: bool,
    /// A service account (informational; it behaves like any mailbox user).
    #[serde(default)]
    pub service_account: bool,
}

impl SeedUser {
    pub fn recipient_type(&self) -> &'static str {
        match (self.guest, self.mailbox, self.mail.is_some()) {
            (true, _, true) => recipient_type::GUEST_MAIL_USER,
            (true, _, false) => recipient_type::GUEST_USER,
            (false, true, _) => recipient_type::USER_MAILBOX,
            (false, false, true) => recipient_type::MAIL_USER,
            (false, false, false) => recipient_type::USER,
        }
    }

    /// Exchange `Name`/`Alias`: the UPN's local part.
    pub fn alias(&self) -> &str {
        self.user_principal_name.split('@').next().unwrap_or(&self.user_principal_name)
    }

    pub fn display(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| self.alias().to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    pub name: String,
    #[serde(default)]
    pub cmdlets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedRoleGroup {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// UPNs of member users.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedApp {
    pub client_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Client secret in clear; replaced by `secret_sha256` when the tenant is loaded, so the
    /// data file never holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Hex SHA-256 of the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<String>,
    /// Registered certificates (PEM) for signed client assertions.
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
    /// Application permissions, e.g. `Exchange.ManageAsApp`, `Group.Read.All`.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Exchange role groups the app's service principal belongs to.
    #[serde(default)]
    pub role_groups: Vec<String>,
}

/// A trusted external identity (workload identity federation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    #[serde(default = "default_federated_audience")]
    pub audience: String,
    /// When given (RSA public key or certificate, PEM), the assertion's signature is checked
    /// with it; otherwise only its claims are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
}

fn default_federated_audience() -> String {
    crate::wire::oauth::FEDERATED_AUDIENCE.to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    /// Entra object id (`ExternalDirectoryObjectId`, Graph `id`); generated when absent.
    #[serde(default)]
    pub id: String,
    /// Exchange `Guid`; generated when absent.
    #[serde(default)]
    pub guid: String,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    pub primary_smtp_address: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `Security` (mail-enabled security group) or `Distribution`.
    #[serde(default = "default_group_type")]
    pub r#type: String,
    /// Members: UPNs, addresses or object ids in a seed; object ids once loaded.
    #[serde(default)]
    pub members: BTreeSet<String>,
}

fn default_group_type() -> String {
    crate::wire::exchange::param::TYPE_SECURITY.to_string()
}

impl SeedGroup {
    pub fn alias(&self) -> String {
        self.alias
            .clone()
            .unwrap_or_else(|| self.primary_smtp_address.split('@').next().unwrap_or(&self.name).to_string())
    }

    pub fn display(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| self.name.clone())
    }

    pub fn is_security(&self) -> bool {
        self.r#type.eq_ignore_ascii_case(crate::wire::exchange::param::TYPE_SECURITY)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedPolicy {
    /// GUID; generated when absent.
    #[serde(default)]
    pub identity: String,
    /// `Exchange\<Cmdlet>`, `Role:<Name>` or `RoleGroup:<Name>`.
    pub task: String,
    #[serde(default = "default_approval_type")]
    pub approval_type: String,
    #[serde(default)]
    pub approver_group: String,
    /// When the policy was created; it takes effect after the replication delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
}

fn default_approval_type() -> String {
    crate::wire::exchange::APPROVAL_MANUAL.to_string()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedPam {
    #[serde(default)]
    pub enabled: bool,
    /// Default approver group (SMTP).
    #[serde(default)]
    pub admin_group: Option<String>,
    /// UPNs or application ids exempt from PAM.
    #[serde(default)]
    pub system_accounts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForeignRequest {
    #[serde(default)]
    pub identity: String,
    /// `CustomerLockbox` or `DataAccessRequest`.
    pub request_type: String,
    #[serde(default)]
    pub request_status: Option<String>,
    #[serde(default)]
    pub requestor: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub requested_date_time: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedRequest {
    pub identity: String,
    pub requestor: String,
    pub task: String,
    pub reason: String,
    pub duration_hours: u32,
    pub requested: DateTime<Utc>,
    /// `Pending`, `Approved` or `Denied`; `Expired` is derived from the clock.
    pub status: String,
    pub approver_group: String,
    #[serde(default)]
    pub approver: Option<String>,
    #[serde(default)]
    pub decided: Option<DateTime<Utc>>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedAuthorization {
    pub identity: String,
    pub request_id: String,
    pub user: String,
    pub task: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub revoked_by: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed is not valid JSON for a tenant: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Hex SHA-256 of a client secret.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Seed {
    /// The shipped default tenant.
    pub fn default_seed() -> Result<Seed, SeedError> {
        Seed::from_json(DEFAULT_SEED_JSON)
    }

    /// Parses a seed or data file; [`Seed::loaded`] checks it when the emulator takes it.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The first app with a client secret in clear, as `(client_id, secret)`.
    pub fn app_secret(&self) -> Option<(String, String)> {
        self.apps.iter().find_map(|a| a.secret.clone().map(|s| (a.client_id.clone(), s)))
    }

    /// Checks the seed and brings it into loaded form: ids filled in, member references
    /// resolved to object ids, secrets hashed.
    pub fn loaded(mut self) -> Result<Seed, SeedError> {
        let bad = |m: String| Err(SeedError::Invalid(m));
        if self.tenant.domain.trim().is_empty() || self.tenant.id.trim().is_empty() {
            return bad("the seed's tenant needs a domain and an id".into());
        }
        let mut seen = HashSet::new();
        for u in &mut self.users {
            if !normalize::is_email_like(&u.user_principal_name) {
                return bad(format!("user '{}' has no valid user_principal_name", u.user_principal_name));
            }
            if u.id.is_empty() {
                u.id = new_id();
            }
            if u.mail.is_none() && u.mailbox {
                u.mail = Some(u.user_principal_name.clone());
            }
            if !seen.insert(normalize::principal(&u.user_principal_name)) || !seen.insert(u.id.to_lowercase())
            {
                return bad(format!("user '{}' appears twice", u.user_principal_name));
            }
        }
        for a in &mut self.apps {
            if let Some(secret) = a.secret.take() {
                a.secret_sha256 = Some(secret_hash(&secret));
            }
        }
        for g in &mut self.groups {
            if g.id.is_empty() {
                g.id = new_id();
            }
            if g.guid.is_empty() {
                g.guid = new_id();
            }
            if !normalize::is_email_like(&g.primary_smtp_address) {
                return bad(format!("group '{}' has no valid primary_smtp_address", g.name));
            }
        }
        let mut group_keys = HashSet::new();
        for g in &self.groups {
            for (what, key) in [
                ("id", g.id.to_lowercase()),
                ("guid", g.guid.to_lowercase()),
                ("primary_smtp_address", normalize::principal(&g.primary_smtp_address)),
            ] {
                if !group_keys.insert(format!("{what}:{key}")) {
                    return bad(format!(
                        "group '{}' has the {what} '{key}' of another group; give each group its own",
                        g.name
                    ));
                }
            }
        }
        let group_emails: HashSet<String> =
            self.groups.iter().map(|g| normalize::principal(&g.primary_smtp_address)).collect();
        for p in &self.policies {
            if !p.approver_group.trim().is_empty()
                && !group_emails.contains(&normalize::principal(&p.approver_group))
            {
                return bad(format!(
                    "policy for '{}' names approver group '{}', which is not in the seed; add the group or fix the address",
                    p.task, p.approver_group
                ));
            }
        }
        if let Some(admin) = self.pam.admin_group.as_deref().filter(|a| !a.trim().is_empty())
            && !group_emails.contains(&normalize::principal(admin))
        {
            return bad(format!(
                "pam.admin_group '{admin}' is not a group in the seed; add the group or fix the address"
            ));
        }
        // Members name users and groups by id, UPN or address: index them once, so that
        // loading a large directory stays linear. The first object with a key wins.
        let mut users_by_key: HashMap<String, usize> = HashMap::new();
        for (i, u) in self.users.iter().enumerate() {
            for key in [Some(u.id.as_str()), Some(u.user_principal_name.as_str()), u.mail.as_deref()]
                .into_iter()
                .flatten()
            {
                users_by_key.entry(normalize::principal(key)).or_insert(i);
            }
        }
        let mut groups_by_key: HashMap<String, String> = HashMap::new();
        for g in &self.groups {
            for key in [&g.id, &g.primary_smtp_address] {
                groups_by_key.entry(normalize::principal(key)).or_insert_with(|| g.id.clone());
            }
        }
        for group in &mut self.groups {
            let mut resolved = BTreeSet::new();
            for m in &group.members {
                let key = normalize::principal(m);
                let id = match users_by_key.get(&key).map(|i| &self.users[*i]) {
                    Some(u) if recipient_type::is_mail_enabled(u.recipient_type()) => u.id.clone(),
                    Some(u) => {
                        return bad(format!(
                            "group '{}' lists '{}', who has no mailbox and cannot be a member",
                            group.name, u.user_principal_name
                        ));
                    }
                    None => match groups_by_key.get(&key) {
                        Some(id) => id.clone(),
                        None => {
                            return bad(format!(
                                "group '{}' lists member '{m}', who is not in the seed",
                                group.name
                            ));
                        }
                    },
                };
                resolved.insert(id);
            }
            group.members = resolved;
        }
        let mut identities = HashSet::new();
        for p in &mut self.policies {
            if p.identity.is_empty() {
                p.identity = new_id();
            }
            if !identities.insert(p.identity.to_lowercase()) {
                return bad(format!("policy identity '{}' appears twice", p.identity));
            }
        }
        // The service's own rules for policies: a known target, one policy per target, at
        // most MAX_POLICIES of them.
        let mut targets = HashSet::new();
        for p in &self.policies {
            let Some(target) = crate::wire::exchange::task::decode(&p.task) else {
                return bad(format!(
                    "policy task '{}' is none of `Exchange\\Verb-Noun`, `Role:NAME`, `RoleGroup:NAME`",
                    p.task
                ));
            };
            if !targets.insert(target.natural_key()) {
                return bad(format!("two policies for '{}': the service keeps one per task", p.task));
            }
        }
        if self.policies.len() > crate::wire::exchange::MAX_POLICIES {
            return bad(format!(
                "{} policies: the service allows at most {}",
                self.policies.len(),
                crate::wire::exchange::MAX_POLICIES
            ));
        }
        for f in &mut self.foreign_requests {
            if f.identity.is_empty() {
                f.identity = new_id();
            }
        }
        for rg in &self.role_groups {
            if let Some(r) = rg.roles.iter().find(|r| !self.roles.iter().any(|x| &x.name == *r)) {
                return bad(format!("role group '{}' names unknown role '{r}'", rg.name));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_loads_and_hides_the_secret() {
        let raw = Seed::default_seed().unwrap();
        assert!(raw.app_secret().is_some());
        let seed = raw.loaded().unwrap();
        assert_eq!(seed.tenant.domain, "contoso.onmicrosoft.com");
        assert!(seed.apps.iter().all(|a| a.secret.is_none() && a.secret_sha256.is_some()));
        let grace = seed.users.iter().find(|u| u.alias() == "grace").unwrap();
        assert_eq!(grace.recipient_type(), recipient_type::USER);
        let oscar = seed.users.iter().find(|u| u.guest).unwrap();
        assert_eq!(oscar.recipient_type(), recipient_type::GUEST_MAIL_USER);
    }

    fn group(name: &str, email: &str) -> SeedGroup {
        SeedGroup {
            id: String::new(),
            guid: String::new(),
            name: name.into(),
            display_name: None,
            alias: None,
            primary_smtp_address: email.into(),
            description: None,
            r#type: "Security".into(),
            members: BTreeSet::new(),
        }
    }

    fn invalid(seed: Seed) -> String {
        match seed.loaded() {
            Err(SeedError::Invalid(m)) => m,
            other => panic!("expected an invalid seed, got {other:?}"),
        }
    }

    #[test]
    fn duplicates_and_dangling_approver_groups_are_refused() {
        let base: Seed = serde_json::from_str(DEFAULT_SEED_JSON).unwrap();
        let mut twice = base.clone();
        twice.groups.push(group("a", "same@contoso.onmicrosoft.com"));
        twice.groups.push(group("b", "SAME@contoso.onmicrosoft.com"));
        assert!(invalid(twice).contains("primary_smtp_address"));

        let mut ids = base.clone();
        let mut a = group("a", "a@contoso.onmicrosoft.com");
        a.id = "11111111-1111-1111-1111-111111111111".into();
        let mut b = group("b", "b@contoso.onmicrosoft.com");
        b.id = a.id.clone();
        ids.groups.extend([a, b]);
        assert!(invalid(ids).contains("id"));

        let policy = |identity: &str, group: &str| SeedPolicy {
            identity: identity.into(),
            task: "Exchange\\Set-Mailbox".into(),
            approval_type: "Manual".into(),
            approver_group: group.into(),
            created: None,
        };
        let mut dangling = base.clone();
        dangling.policies.push(policy("", "nobody@contoso.onmicrosoft.com"));
        assert!(invalid(dangling).contains("nobody@contoso.onmicrosoft.com"));

        let mut pam = base.clone();
        pam.pam.admin_group = Some("ghosts@contoso.onmicrosoft.com".into());
        assert!(invalid(pam).contains("ghosts@contoso.onmicrosoft.com"));

        let mut same = base.clone();
        same.groups.push(group("a", "a@contoso.onmicrosoft.com"));
        same.policies.push(policy("p1", "a@contoso.onmicrosoft.com"));
        same.policies.push(policy("P1", "a@contoso.onmicrosoft.com"));
        assert!(invalid(same).contains("twice"));
    }

    #[test]
    fn members_without_mailbox_are_refused() {
        let mut raw: Seed = serde_json::from_str(DEFAULT_SEED_JSON).unwrap();
        raw.groups.push(SeedGroup {
            id: String::new(),
            guid: String::new(),
            name: "g".into(),
            display_name: None,
            alias: None,
            primary_smtp_address: "g@contoso.onmicrosoft.com".into(),
            description: None,
            r#type: "Security".into(),
            members: ["grace@contoso.onmicrosoft.com".to_string()].into(),
        });
        assert!(matches!(raw.loaded(), Err(SeedError::Invalid(_))));
    }
}
