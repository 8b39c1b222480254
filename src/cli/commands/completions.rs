//! `pamform completions SHELL`: shell completion scripts.

use clap::CommandFactory;

use super::super::{Cli, CliError, Context, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let mut cmd = Cli::command();
    // Generated into memory: clap_complete panics on a failed write, and a closed pipe
    // (`pamform completions bash | head -1`) is not an error.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pamform", &mut script);
    ctx.printer.write_out(&script);
    Ok(Outcome::Success)
}
