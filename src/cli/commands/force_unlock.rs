//! `pamform force-unlock LOCK_ID`: remove a lock left behind by a crashed run.

use crate::cli::{CliError, Context, ErrorKind, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lock id, as printed by the command that found the lock held
    pub lock_id: String,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let store = crate::cli::backend::storage(ctx)?;
    let info = store.force_unlock(&args.lock_id).map_err(|e| CliError::msg(ErrorKind::Lock, e))?;
    crate::views::state::unlocked(&ctx.printer, &info);
    Ok(Outcome::Success)
}
