//! Opens the state where the configuration keeps it: the local file of `-C DIR`, or the blob a
//! `backend "azurerm"` block names, with the credentials the environment gives
//! (`ARM_ACCESS_KEY`: Shared Key; `ARM_SAS_TOKEN`: a SAS token), as Terraform reads them, or
//! with `use_azuread_auth = true` an Entra token for Storage from pamform's own app-only
//! credentials (`PAMFORM_CLIENT_*`) at the tenant block's sign-in endpoint.

use crate::cli::load::render_diagnostics;
use crate::cli::{CliError, Context, ErrorKind};
use crate::config::backend::Backend;
use std::sync::Arc;

use crate::state::blob::{BlobAuth, BlobLocation, BlobStore, TokenSource};
use crate::state::{StateStore, Storage};

/// The state storage of `-C DIR`.
pub fn storage(ctx: &Context) -> Result<Box<dyn Storage>, CliError> {
    match crate::config::backend::read(&ctx.dir) {
        Ok(None) => Ok(Box::new(StateStore::new(&ctx.dir))),
        Ok(Some(b)) if b.use_azuread_auth => Ok(Box::new(remote(&b, Some(entra(ctx)?))?)),
        Ok(Some(b)) => Ok(Box::new(remote(&b, None)?)),
        Err(e) => {
            render_diagnostics(ctx, &e.diagnostics, &e.sources);
            Err(CliError::reported(ErrorKind::Config))
        }
    }
}

/// Entra tokens for Storage, signed in as the configuration's tenant block says (its
/// `login_url`, the tenant id) with the app-only credentials of the environment.
pub fn entra(ctx: &Context) -> Result<TokenSource, CliError> {
    let loaded = crate::cli::load::load_configuration(ctx, &crate::cli::load::VarArgs::default())?;
    let Some(tenant) = loaded.configuration.tenant.as_ref() else {
        return Err(CliError::msg(
            ErrorKind::Config,
            "backend \"azurerm\" with use_azuread_auth = true signs in to the tenant block's tenant: add a tenant block",
        ));
    };
    if tenant.emulator.is_some() {
        return Err(CliError::msg(
            ErrorKind::Config,
            "backend \"azurerm\" with use_azuread_auth = true needs a real sign-in endpoint; a tenant block with `emulator` has none: use ARM_ACCESS_KEY or ARM_SAS_TOKEN",
        ));
    }
    let client = crate::tenant::connect(tenant, crate::tenant::ConnectOptions::default())
        .map_err(crate::cli::pipeline::tenant_error)?;
    Ok(Arc::new(move || {
        let client = client.clone();
        Box::pin(async move {
            client
                .token(crate::tenant::Resource::Storage)
                .await
                .map(|t| t.expose().to_string())
                .map_err(|e| e.to_string())
        })
    }))
}

/// The blob store a backend block names; `entra` signs requests when the block sets
/// `use_azuread_auth`.
pub fn remote(b: &Backend, entra: Option<TokenSource>) -> Result<BlobStore, CliError> {
    let config = |m: String| CliError::msg(ErrorKind::Config, m);
    let auth = if let Some(source) = entra {
        BlobAuth::Bearer(source)
    } else if b.use_azuread_auth {
        return Err(config(
            "backend \"azurerm\": use_azuread_auth = true but no Entra sign-in was set up".into(),
        ));
    } else if let Some(sas) = crate::env::get(crate::env::ARM_SAS_TOKEN) {
        BlobAuth::Sas(sas.trim().trim_start_matches('?').to_string())
    } else if let Some(key) = crate::env::get(crate::env::ARM_ACCESS_KEY) {
        BlobAuth::shared_key(&key).map_err(|e| config(format!("ARM_ACCESS_KEY: {e}")))?
    } else {
        return Err(config(format!(
            "backend \"azurerm\" ({}/{}): no credentials for the storage account; set ARM_ACCESS_KEY to the account key or ARM_SAS_TOKEN to a SAS token (never in the configuration)",
            b.storage_account_name, b.container_name
        )));
    };
    let endpoint =
        b.endpoint.clone().unwrap_or_else(|| crate::wire::blob::default_endpoint(&b.storage_account_name));
    let loopback = url::Url::parse(&endpoint)
        .ok()
        .and_then(|u| u.host_str().map(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]"))
        .unwrap_or(false);
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("pamform/", env!("CARGO_PKG_VERSION")));
    if loopback {
        builder = builder.no_proxy();
    }
    if let Some(path) = crate::env::path(crate::env::CA_CERT) {
        let pem =
            std::fs::read(&path).map_err(|e| config(format!("PAMFORM_CA_CERT: cannot read it: {e}")))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| config(format!("PAMFORM_CA_CERT: {e}")))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    let http = builder
        .build()
        .map_err(|e| CliError::msg(ErrorKind::Internal, format!("cannot set up HTTPS: {e}")))?;
    let location = BlobLocation {
        endpoint,
        account: b.storage_account_name.clone(),
        container: b.container_name.clone(),
        key: b.key.clone(),
    };
    BlobStore::new(location, auth, http).map_err(|e| CliError::msg(ErrorKind::Internal, e))
}
