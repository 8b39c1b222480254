//! The entry point plan, apply and drift use: from a tenant block's endpoints (or
//! Microsoft's) and credentials from the environment to a [`Client`]. An embedded emulator
//! is the caller's business: it starts one and builds the client for its base URL.

use super::auth::Credential;
use super::client::{Client, ClientOptions, Endpoints};
use super::error::TenantError;
use crate::env::TENANT_ID;
use crate::model;

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub client: ClientOptions,
    /// Sign in with this instead of the PAMFORM_CLIENT_* environment variables.
    pub credential: Option<Credential>,
}

impl ConnectOptions {
    /// The credential to sign in with: the one given, else app-only credentials from the
    /// environment (`None` when PAMFORM_CLIENT_ID is not set).
    pub fn credential_or_env(&mut self) -> Result<Option<Credential>, TenantError> {
        match self.credential.take() {
            Some(c) => Ok(Some(c)),
            None => Credential::from_env(),
        }
    }
}

/// Connects to the tenant the block names: the block's endpoints (or Microsoft's) and the
/// given credential or app-only credentials from the environment. The block's `emulator` is
/// not looked at.
pub fn connect(tenant: &model::Tenant, mut opts: ConnectOptions) -> Result<Client, TenantError> {
    let credential = opts.credential_or_env()?;
    let endpoints = Endpoints::from_tenant(tenant)?;
    let tenant_id = tenant_id(tenant)?;
    let credential = credential.ok_or_else(|| {
        TenantError::Config(
            "no credentials: set PAMFORM_CLIENT_ID and one of PAMFORM_CLIENT_SECRET, PAMFORM_CLIENT_CERTIFICATE or PAMFORM_FEDERATED_TOKEN_FILE".to_string(),
        )
    })?;
    Client::new(&tenant_id, endpoints, credential, opts.client)
}

/// The tenant block's id, or PAMFORM_TENANT_ID when the block leaves it empty.
fn tenant_id(tenant: &model::Tenant) -> Result<String, TenantError> {
    let id = tenant.id.value.trim();
    if !id.is_empty() {
        return Ok(id.to_string());
    }
    crate::env::get(TENANT_ID)
        .ok_or_else(|| TenantError::Config(format!("no tenant id: set the tenant block's id or {TENANT_ID}")))
}
