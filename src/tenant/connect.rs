//! The entry point plan, apply and drift use: from a tenant block to a signed-in client,
//! with credentials from the environment, or the embedded emulator when the block names a
//! data file (same client, same HTTP path, only the endpoints and credentials differ).

use super::auth::{Credential, ENV_TENANT_ID};
use super::client::{Client, ClientOptions, Endpoints};
use super::error::TenantError;
use super::secret::Secret;
use crate::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use crate::model;
use crate::output::Printer;

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub client: ClientOptions,
    /// Sign in with this instead of the PAMFORM_CLIENT_* environment variables (or the
    /// emulator's app).
    pub credential: Option<Credential>,
    /// Fault options of an embedded emulator.
    pub emulator_faults: Faults,
}

/// A signed-in client for one tenant; keeps an embedded emulator running while it lives.
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
    emulator: Option<RunningEmulator>,
}

impl Connection {
    /// The embedded emulator, when the tenant block named one.
    pub fn emulator(&self) -> Option<&RunningEmulator> {
        self.emulator.as_ref()
    }

    /// Stops an embedded emulator gracefully (open requests finish, the data file is saved).
    pub async fn close(self) {
        if let Some(emu) = self.emulator {
            emu.shutdown().await;
        }
    }
}

/// Connects to the tenant the block names: the block's endpoints (or Microsoft's) and app-only
/// credentials from the environment; or, when the block has `emulator`, an emulator started on
/// 127.0.0.1 with that data file, signed in as the emulator's app unless PAMFORM_CLIENT_* are set.
pub async fn connect(
    tenant: &model::Tenant,
    opts: ConnectOptions,
    printer: &Printer,
) -> Result<Connection, TenantError> {
    let env_credential = match opts.credential {
        Some(c) => Some(c),
        None => Credential::from_env()?,
    };
    if let Some(data) = &tenant.emulator {
        let emu = emulator::start(EmulatorConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data: Some(data.value.clone()),
            seed: None,
            faults: opts.emulator_faults,
            tls: false,
        })
        .await
        .map_err(|e| TenantError::Emulator(e.to_string()))?;
        let id = tenant.id.value.trim();
        if !id.is_empty()
            && !id.eq_ignore_ascii_case(&emu.tenant_domain)
            && !id.eq_ignore_ascii_case(&emu.tenant_id)
        {
            let message = format!(
                "the tenant block's id `{id}` is not the emulated tenant ({} / {}); set id to one of them",
                emu.tenant_domain, emu.tenant_id
            );
            emu.shutdown().await;
            return Err(TenantError::Config(message));
        }
        let base = emu.base_url.clone();
        let endpoints = Endpoints { login: base.clone(), exchange: base.clone(), graph: base };
        let credential = env_credential.unwrap_or_else(|| Credential::Secret {
            client_id: emu.app.client_id.clone(),
            secret: Secret::new(emu.app.client_secret.clone()),
        });
        printer.debug(format_args!("emulator for {} on {}", emu.tenant_domain, emu.base_url));
        let client = Client::new(&emu.tenant_domain, endpoints, credential, opts.client, printer.clone())?;
        return Ok(Connection { client, emulator: Some(emu) });
    }
    let endpoints = Endpoints::from_tenant(tenant)?;
    let tenant_id = tenant_id(tenant)?;
    let credential = env_credential.ok_or_else(|| {
        TenantError::Config(
            "no credentials: set PAMFORM_CLIENT_ID and one of PAMFORM_CLIENT_SECRET, PAMFORM_CLIENT_CERTIFICATE or PAMFORM_FEDERATED_TOKEN_FILE".to_string(),
        )
    })?;
    let client = Client::new(&tenant_id, endpoints, credential, opts.client, printer.clone())?;
    Ok(Connection { client, emulator: None })
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
