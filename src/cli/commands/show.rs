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
            let saved = SavedPlan::read(&pipeline::in_dir(ctx, path))
                .map_err(|e| CliError::msg(ErrorKind::StalePlan, e))?;
            render::plan_redacted(&saved.plan, format, path.to_str(), &saved.sensitive)
        }
        None => {
            let (_, state) = pipeline::load_state(ctx, None)?;
            match (state, format) {
                // Like Terraform's: the format version and no resources.
                (None, Format::Json) => format!(
                    "{:#}\n",
                    serde_json::json!({"format_version": crate::state::FORMAT_VERSION, "resources": []})
                ),
                (None, _) => "No state. Run `pamform apply` to create it.\n".to_string(),
                (Some(s), Format::Json) => String::from_utf8(s.to_bytes()).expect("state is UTF-8"),
                (Some(s), Format::Text) => state_text::render(&s),
                (Some(s), Format::Markdown) => state_text::render_markdown(&s),
            }
        }
    };
    let _ = ctx.printer.out().write_all(text.as_bytes());
    Ok(Outcome::Success)
}
