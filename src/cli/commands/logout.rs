//! `pamform logout`: delete the cached delegated sign-in.

use crate::cli::{CliError, Context, ErrorKind, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let store = super::login::store()?;
    let who = store.load().ok().flatten().map(|s| s.upn);
    let removed = store.remove().map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    crate::views::login::signed_out(&ctx.printer, removed, who.as_deref(), store.path());
    Ok(Outcome::Success)
}
