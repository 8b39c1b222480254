//! `pamform validate [--json]`: parse, evaluate and check the configuration offline.

use super::super::load::VarArgs;
use super::super::{CliError, Context, ErrorKind, Outcome};
use crate::config;
use crate::views::validate as validate_view;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let result = config::load(&ctx.dir, &args.vars.inputs());
    let (diagnostics, sources) = match &result {
        Ok(loaded) => (&loaded.warnings, loaded.sources()),
        Err(e) => (&e.diagnostics, &e.sources),
    };
    if args.json {
        let text = validate_view::json(result.is_ok(), diagnostics, sources)
            .map_err(|e| CliError::msg(ErrorKind::Internal, format!("cannot render JSON: {e}")))?;
        ctx.printer.write_out(text.as_bytes());
    } else {
        validate_view::text(&ctx.printer, diagnostics, sources);
    }
    match result {
        Ok(_) => Ok(Outcome::Success),
        Err(_) => Err(CliError::reported(ErrorKind::Config)),
    }
}
