//! `pamform show [PLANFILE]`: render a saved plan, or the state when no file is given.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::output::render::{self, Format};
use crate::output::state_text;
use crate::plan::saved::SavedPlan;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `pamform plan --out`
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let format = Format::Text;
    let text = match &args.plan_file {
        Some(path) => {
            let saved = SavedPlan::read(path).map_err(|e| CliError::msg(ErrorKind::StalePlan, e))?;
            render::plan(&saved.plan, format)
        }
        None => {
            let (_, state) = pipeline::load_state(ctx)?;
            match state {
                None => "No state. Run `pamform apply` to create it.\n".to_string(),
                Some(s) => state_text::render(&s),
            }
        }
    };
    let _ = ctx.printer.out().write_all(text.as_bytes());
    Ok(Outcome::Success)
}
