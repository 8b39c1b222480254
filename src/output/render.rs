//! Picks the renderer for a plan.

use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
}

/// The plan in `format`, ending with a newline.
pub fn plan(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text => super::plan_text::render(plan),
    }
}
