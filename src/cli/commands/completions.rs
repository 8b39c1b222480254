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
    clap_complete::generate(args.shell, &mut cmd, "pamform", &mut ctx.printer.out());
    Ok(Outcome::Success)
}
