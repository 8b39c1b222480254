//! `pamform logout`: delete the cached delegated sign-in.

use std::io::Write;

use crate::cli::{CliError, Context, ErrorKind, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let store = super::login::store()?;
    let who = store.load().ok().flatten().map(|s| s.upn);
    let removed = store.remove().map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    let mut out = ctx.printer.out();
    let _ = match (removed, who) {
        (true, Some(upn)) => writeln!(out, "Signed out {upn}; removed {}.", store.path().display()),
        (true, None) => writeln!(out, "Removed the unreadable sign-in {}.", store.path().display()),
        (false, _) => writeln!(out, "Not signed in; there was nothing to remove."),
    };
    Ok(Outcome::Success)
}
