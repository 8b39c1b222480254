//! The entry point plan, apply and drift use: from a tenant block to a signed-in client,
//! with credentials from the environment.

use super::auth::{Credential, ENV_TENANT_ID};
use super::client::{Client, ClientOptions, Endpoints};
use super::error::TenantError;
use crate::model;
use crate::output::Printer;

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub client: ClientOptions,
    /// Sign in with this instead of the PAMFORM_CLIENT_* environment variables.
    pub credential: Option<Credential>,
}

/// A signed-in client for one tenant.
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
}

/// Connects to the tenant the block names, with the block's endpoints (or Microsoft's) and
/// app-only credentials from the environment.
pub async fn connect(
    tenant: &model::Tenant,
    opts: ConnectOptions,
    printer: &Printer,
) -> Result<Connection, TenantError> {
    let endpoints = Endpoints::from_tenant(tenant)?;
    let tenant_id = tenant_id(tenant)?;
    let credential = match opts.credential {
        Some(c) => c,
        None => Credential::from_env()?.ok_or_else(|| {
            TenantError::Config(
                "no credentials: set PAMFORM_CLIENT_ID and one of PAMFORM_CLIENT_SECRET, PAMFORM_CLIENT_CERTIFICATE or PAMFORM_FEDERATED_TOKEN_FILE".to_string(),
            )
        })?,
    };
    let client = Client::new(&tenant_id, endpoints, credential, opts.client, printer.clone())?;
    Ok(Connection { client })
}

/// The tenant block's id, or PAMFORM_TENANT_ID when the block leaves it empty.
fn tenant_id(tenant: &model::Tenant) -> Result<String, TenantError> {
    let id = tenant.id.value.trim();
    if !id.is_empty() {
        return Ok(id.to_string());
    }
    std::env::var(ENV_TENANT_ID).ok().filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        TenantError::Config(format!("no tenant id: set the tenant block's id or {ENV_TENANT_ID}"))
    })
}
