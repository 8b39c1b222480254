//! `pamform show [PLANFILE]`: render a saved plan, or the state when no file is given.

use std::path::PathBuf;

use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::plan::saved::SavedPlan;
use crate::views::plan::{self as plan_view, Format};
use crate::views::state as state_view;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `pamform plan --out` (relative to where you run pamform)
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
    /// Print as JSON (same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let format = if args.json { Format::Json } else { args.format };
    let text = match &args.plan_file {
        Some(path) => {
            let saved = SavedPlan::read(path).map_err(|e| CliError::msg(ErrorKind::StalePlan, e))?;
            let tenant = Some(saved.tenant.as_str()).filter(|t| !t.is_empty());
            plan_view::plan_redacted(
                &saved.plan,
                format,
                path.to_str(),
                tenant,
                &saved.sensitive,
                &plan_view::Recorded {
                    outline: saved.outline.clone().unwrap_or_default(),
                    in_state: saved.in_state.clone().unwrap_or_default(),
                },
            )
        }
        None => {
            let (_, state) = pipeline::load_state(ctx, None)?;
            state_view::show(state.as_ref(), format)
        }
    };
    if format == Format::Text {
        ctx.printer.write_text(&text);
    } else {
        ctx.printer.write_out(text.as_bytes());
    }
    Ok(Outcome::Success)
}
