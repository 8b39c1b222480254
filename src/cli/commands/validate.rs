//! `pamform validate [--json]`: parse, evaluate and check the configuration offline.

use std::io::Write;

use serde::Serialize;

use super::super::load::{VarArgs, render_diagnostics};
use super::super::{CliError, Context, ErrorKind, Outcome};
use crate::config;
use crate::diagnostic::{self, JsonDiagnostic};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Serialize)]
struct JsonResult {
    valid: bool,
    error_count: usize,
    warning_count: usize,
    diagnostics: Vec<JsonDiagnostic>,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let result = config::load(&ctx.dir, &args.vars.inputs());
    let (diagnostics, sources) = match &result {
        Ok(loaded) => (&loaded.warnings, loaded.sources()),
        Err(e) => (&e.diagnostics, &e.sources),
    };
    if args.json {
        let out = JsonResult {
            valid: result.is_ok(),
            error_count: diagnostics.error_count(),
            warning_count: diagnostics.warning_count(),
            diagnostics: diagnostic::to_json_list(diagnostics, sources),
        };
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| CliError::msg(ErrorKind::Internal, format!("cannot render JSON: {e}")))?;
        let _ = writeln!(ctx.printer.out(), "{text}");
    } else {
        render_diagnostics(ctx, diagnostics, sources);
        let n = diagnostics.error_count();
        if n == 0 {
            let _ = writeln!(ctx.printer.err(), "The configuration is valid.");
        } else {
            let _ = writeln!(
                ctx.printer.err(),
                "{n} error{} in the configuration; fix {} and run `pamform validate` again",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" }
            );
        }
    }
    match result {
        Ok(_) => Ok(Outcome::Success),
        Err(_) => Err(CliError::reported(ErrorKind::Config)),
    }
}
