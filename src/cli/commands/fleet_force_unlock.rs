//! `pamform fleet force-unlock TENANT LOCK_ID`: remove a lock left behind on one fleet
//! tenant's state by a crashed run. The tenant's state is found as `fleet plan` and `fleet
//! apply` find it (`tenants/NAME/`, or its blob `tenants/NAME/KEY` with a `backend "azurerm"`
//! block); `pamform force-unlock` would act on the directory's own state instead.

use std::path::PathBuf;

use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::fleet;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet file (default: fleet.hcl in the configuration directory)
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// The tenant's name in the fleet file
    #[arg(value_name = "TENANT")]
    pub tenant: String,
    /// The lock id, as printed in the tenant's report line
    pub lock_id: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let path = args.fleet.clone().unwrap_or_else(|| ctx.dir.join(fleet::file::FLEET_FILE));
    let fleet = fleet::file::read(&path).map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    let tenant = fleet
        .tenant(&args.tenant)
        .map_err(|e| CliError::msg(ErrorKind::Usage, format!("tenant {}: {e}", args.tenant)))?;
    let store = super::fleet::storage(ctx)?.0(tenant).map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    let info = store.force_unlock(&args.lock_id).map_err(|e| CliError::msg(ErrorKind::Lock, e))?;
    crate::views::state::unlocked(&ctx.printer, &info);
    Ok(Outcome::Success)
}
