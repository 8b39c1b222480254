//! Loading the configuration at the command-line edge: the shared `--var` flags, and one
//! function every command that needs the configuration calls; it renders diagnostics
//! (warnings too) through miette to stderr.

use std::io::Write;

use crate::config::{self, Loaded, VarInputs};
use crate::diagnostic::{self, Diagnostics};
use crate::model::Sources;

use super::{CliError, Context, ErrorKind};

/// Variable values from the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VarArgs {
    /// Set a variable (repeatable); values of non-string variables are HCL expressions
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    VarInputs::parse_assignment(s)
}

impl VarArgs {
    /// The inputs: these flags plus `PAMFORM_VAR_*` from the environment.
    pub fn inputs(&self) -> VarInputs {
        VarInputs::from_env(self.vars.clone())
    }
}

/// Prints diagnostics to stderr through miette.
pub fn render_diagnostics(ctx: &Context, diagnostics: &Diagnostics, sources: &Sources) {
    let mut err = ctx.printer.err();
    for d in diagnostics {
        let report = miette::Report::new(diagnostic::to_report(d, sources));
        let _ = writeln!(err, "{report:?}");
    }
}

/// Loads the configuration in `-C DIR`, printing warnings; on errors prints every
/// diagnostic and returns an already-reported configuration error.
pub fn load_configuration(ctx: &Context, vars: &VarArgs) -> Result<Loaded, CliError> {
    match config::load(&ctx.dir, &vars.inputs()) {
        Ok(loaded) => {
            render_diagnostics(ctx, &loaded.warnings, loaded.sources());
            Ok(loaded)
        }
        Err(e) => {
            render_diagnostics(ctx, &e.diagnostics, &e.sources);
            let n = e.diagnostics.error_count();
            let _ = writeln!(
                ctx.printer.err(),
                "{n} error{} in the configuration; fix {} and run the command again",
                if n == 1 { "" } else { "s" },
                if n == 1 { "it" } else { "them" }
            );
            Err(CliError::reported(ErrorKind::Config))
        }
    }
}
