//! The process environment: every variable pamform reads is named here, and this is the only
//! module that reads the environment (`clippy.toml` refuses `std::env::var` and its kin
//! elsewhere). Flags that clap fills from the environment (`env = "..."` on an argument) are
//! declared with their flags in `cli::args`.

use std::ffi::OsString;

/// The tenant (GUID or initial domain) that app-only credentials sign in to.
pub const TENANT_ID: &str = "PAMFORM_TENANT_ID";
/// The application (client) id of app-only credentials.
pub const CLIENT_ID: &str = "PAMFORM_CLIENT_ID";
/// The application's client secret.
pub const CLIENT_SECRET: &str = "PAMFORM_CLIENT_SECRET";
/// A PEM certificate (and key) the application signs its assertion with.
pub const CLIENT_CERTIFICATE: &str = "PAMFORM_CLIENT_CERTIFICATE";
/// The certificate's private key, when it is not in the certificate file.
pub const CLIENT_CERTIFICATE_KEY: &str = "PAMFORM_CLIENT_CERTIFICATE_KEY";
/// A file holding a federated (workload identity) token, re-read before each sign-in.
pub const FEDERATED_TOKEN_FILE: &str = "PAMFORM_FEDERATED_TOKEN_FILE";
/// Extra PEM certificate authorities trusted for every HTTPS connection.
pub const CA_CERT: &str = "PAMFORM_CA_CERT";
/// Where the signed-in user's session is kept (else `XDG_CACHE_HOME/pamform`, else
/// `~/.cache/pamform`).
pub const CACHE_DIR: &str = "PAMFORM_CACHE_DIR";
/// The XDG base directory for caches.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The user's home directory.
pub const HOME: &str = "HOME";
/// The storage account key of a `backend "azurerm"` (Terraform's name).
pub const ARM_ACCESS_KEY: &str = "ARM_ACCESS_KEY";
/// A SAS token for a `backend "azurerm"` (Terraform's name).
pub const ARM_SAS_TOKEN: &str = "ARM_SAS_TOKEN";
/// The user's login name, recorded with a remote state lock.
pub const USER: &str = "USER";
/// `PAMFORM_VAR_name=VALUE` sets the input variable `name`.
pub const VAR_PREFIX: &str = "PAMFORM_VAR_";

/// A variable's value when it is set, is UTF-8 and is not blank: a variable set to an empty
/// string is treated as unset, as shells make unsetting awkward.
pub fn get(name: &str) -> Option<String> {
    #[allow(clippy::disallowed_methods)] // the one place the environment is read
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A variable that names a path: set and not empty, in any encoding.
pub fn path(name: &str) -> Option<OsString> {
    #[allow(clippy::disallowed_methods)] // the one place the environment is read
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Every variable whose name starts with `prefix`, with the prefix taken off, in the order the
/// environment lists them. Other variables are never looked at, whatever their encoding. A
/// name that is not UTF-8 is skipped (it cannot name anything pamform knows); a value that is
/// not UTF-8 is read with U+FFFD in place of the bytes that are not.
pub fn with_prefix(prefix: &str) -> Vec<(String, String)> {
    #[allow(clippy::disallowed_methods)] // the one place the environment is read
    let vars = std::env::vars_os();
    vars.filter_map(|(k, v)| {
        let name = k.to_str()?.strip_prefix(prefix)?;
        (!name.is_empty()).then(|| (name.to_string(), v.to_string_lossy().into_owned()))
    })
    .collect()
}
