//! Loading the configuration at the command-line edge: the shared `--var` flags, and one
//! function every command that needs the configuration calls; it shows diagnostics (warnings
//! too) through [`crate::views::diagnostics`].

use crate::config::{self, Loaded, VarInputs};
use crate::diagnostic::Diagnostics;
use crate::model::Sources;
use crate::views;

use super::{CliError, Context, ErrorKind};

/// Variable values from the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct VarArgs {
    /// Set a variable (repeatable); values of non-string variables are HCL expressions
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read variable values from FILE instead of the directory's *.pamvars.hcl (repeatable;
    /// a later file wins; relative to where you run pamform)
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<std::path::PathBuf>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    VarInputs::parse_assignment(s)
}

impl VarArgs {
    /// The inputs: these flags plus `PAMFORM_VAR_*` from the environment.
    pub fn inputs(&self) -> VarInputs {
        VarInputs { files: self.var_files.clone(), ..VarInputs::from_env(self.vars.clone()) }
    }
}

/// Prints diagnostics to stderr.
pub fn render_diagnostics(ctx: &Context, diagnostics: &Diagnostics, sources: &Sources) {
    // Printing makes a redacted copy of every source first: megabytes for a large
    // configuration, for nothing when there is nothing to print.
    if diagnostics.is_empty() {
        return;
    }
    views::diagnostics::print(&ctx.printer, diagnostics, sources);
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
            views::diagnostics::config_rejected(&ctx.printer, e.diagnostics.error_count(), "the command");
            Err(CliError::reported(ErrorKind::Config))
        }
    }
}
