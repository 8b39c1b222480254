//! The seed format: what a seed file describes, which is also the data-file format. The
//! rules that turn a seed into the tenant's live data are in the
//! emulator's `tenant_data` module.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// The tenant's consent for Exchange Online PowerShell's public client, the app
    /// `pamform login` signs in with.
    #[serde(default, skip_serializing_if = "SeedPublicClient::is_default")]
    pub public_client: SeedPublicClient,
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
    /// Delegated permissions consented for the app in the tenant: what a user's sign-in that
    /// asks for `{resource}/.default` is granted. See [`consented_for`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegated_permissions: Vec<String>,
}

/// The tenant's consent for Exchange Online PowerShell's public client
/// (`wire::oauth::EXCHANGE_PUBLIC_CLIENT_ID`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SeedPublicClient {
    /// Delegated permissions consented for it, as for [`SeedApp::delegated_permissions`].
    /// Default none (**assumed**: Microsoft does not publish that first-party app's consents).
    /// pamform needs none: its delegated sign-in runs Exchange cmdlets, which Exchange RBAC
    /// authorizes, and it makes no delegated Graph call; a seed that wants a signed-in user's
    /// Graph reads lists them, e.g. `["GroupMember.Read.All", "User.ReadBasic.All"]`.
    #[serde(default)]
    pub delegated_permissions: Vec<String>,
}

impl SeedPublicClient {
    fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// Of consented delegated permissions, the names of those on `resource`: a bare name
/// (`GroupMember.Read.All`) is Microsoft Graph's, as a bare scope is on the wire; another
/// resource's is written with its identifier (`https://outlook.office365.com/Exchange.Manage`).
pub fn consented_for(permissions: &[String], resource: &str) -> Vec<String> {
    permissions
        .iter()
        .filter_map(|p| match p.rfind('/') {
            Some(at) => p[..at].eq_ignore_ascii_case(resource).then(|| p[at + 1..].to_string()),
            None => resource.eq_ignore_ascii_case(crate::wire::oauth::GRAPH_RESOURCE).then(|| p.clone()),
        })
        .collect()
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
    /// Owners (`ManagedBy`): user principal names or application ids. Only they may change
    /// the group without `-BypassSecurityGroupManagerCheck`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_by: Vec<String>,
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
    /// A Data Access Request's `Context` (the copy activity's parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
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
    /// `Pending`, `Approved`, `Denied` or `Revoked`; `Expired` is derived from the clock.
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
    /// The id of the request it grants (an authorization answers to its request's id).
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
    /// Who approved it: a UPN, or `Auto` for a policy that approves by itself.
    #[serde(default)]
    pub authorized_by: Option<String>,
    #[serde(default)]
    pub revocation_comment: Option<String>,
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
    crate::files::sha256_hex(secret.as_bytes())
}

impl Seed {
    /// The shipped default tenant.
    pub fn default_seed() -> Result<Seed, SeedError> {
        Seed::from_json(DEFAULT_SEED_JSON)
    }

    /// Parses a seed or data file; the emulator checks it when it loads it.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The first app with a client secret in clear, as `(client_id, secret)`.
    pub fn app_secret(&self) -> Option<(String, String)> {
        self.apps.iter().find_map(|a| a.secret.clone().map(|s| (a.client_id.clone(), s)))
    }
}
