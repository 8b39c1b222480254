//! Picks the renderer for a plan: human text, Terraform-style JSON or Markdown.

use super::markdown::MarkdownOptions;
use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

/// The plan in `format`, ending with a newline. `plan_file` names the saved plan, if any,
/// in the Markdown truncation notice.
pub fn plan(plan: &Plan, format: Format, plan_file: Option<&str>) -> String {
    match format {
        Format::Text => super::plan_text::render(plan),
        Format::Json => {
            let meta = super::plan_json::PlanMeta::now();
            let mut s = serde_json::to_string_pretty(&super::plan_json::render(plan, &meta)).expect("json");
            s.push('\n');
            s
        }
        Format::Markdown => super::markdown::render(
            plan,
            &MarkdownOptions { plan_file: plan_file.map(str::to_string), ..Default::default() },
        ),
    }
}
