//! Opens the state where the configuration keeps it: the local file of `-C DIR`, or the blob a
//! `backend "azurerm"` block names, with the credentials the environment gives
//! (`ARM_ACCESS_KEY`: Shared Key; `ARM_SAS_TOKEN`: a SAS token), as Terraform reads them.

use crate::cli::load::render_diagnostics;
use crate::cli::{CliError, Context, ErrorKind};
use crate::config::backend::Backend;
use crate::state::blob::{BlobAuth, BlobLocation, BlobStore};
use crate::state::{StateStore, Storage};

/// The state storage of `-C DIR`.
pub fn storage(ctx: &Context) -> Result<Box<dyn Storage>, CliError> {
    match crate::config::backend::read(&ctx.dir) {
        Ok(None) => Ok(Box::new(StateStore::new(&ctx.dir))),
        Ok(Some(b)) => Ok(Box::new(remote(&b)?)),
        Err(e) => {
            render_diagnostics(ctx, &e.diagnostics, &e.sources);
            Err(CliError::reported(ErrorKind::Config))
        }
    }
}

/// The blob store a backend block names.
pub fn remote(b: &Backend) -> Result<BlobStore, CliError> {
    let config = |m: String| CliError::msg(ErrorKind::Config, m);
    let auth = if b.use_azuread_auth {
        return Err(config(
            "backend \"azurerm\": use_azuread_auth is not supported by this version of pamform; set ARM_ACCESS_KEY (the storage account key) or ARM_SAS_TOKEN (a SAS token for the container) and leave use_azuread_auth out".into(),
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
