//! The plan, for `pamform plan`, `apply` and `show`: human text ([`text`]), Terraform-style
//! JSON ([`json`]) or Markdown ([`crate::views::markdown`]), and the facts all three derive
//! once ([`facts`]). [`Format`] picks one.

pub mod facts;
pub mod json;
pub mod text;

use super::markdown::MarkdownOptions;
use std::collections::BTreeSet;

use crate::config::Outline;
use crate::model::{Address, Sensitivity};
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
    plan_redacted(plan, format, plan_file, None, &Sensitivity::default(), &Recorded::default())
}

/// What the JSON plan shows besides the plan itself: the configuration as written (for
/// `configuration` and `variables`) and the addresses state recorded (for `prior_state`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    pub outline: Outline,
    pub in_state: BTreeSet<Address>,
}

/// [`plan`], showing the attributes `sensitivity` marks as `(sensitive value)` (marked in
/// JSON, as Terraform does); the Markdown headline names `tenant`; the JSON plan's
/// `configuration`, `variables` and `prior_state` come from `recorded`.
pub fn plan_redacted(
    plan: &Plan,
    format: Format,
    plan_file: Option<&str>,
    tenant: Option<&str>,
    sensitivity: &Sensitivity,
    recorded: &Recorded,
) -> String {
    match format {
        Format::Text => text::render_redacted(plan, sensitivity),
        Format::Json => {
            let meta = json::PlanMeta {
                sensitivity: sensitivity.clone(),
                outline: recorded.outline.clone(),
                in_state: recorded.in_state.clone(),
                ..json::PlanMeta::now()
            };
            let mut s = serde_json::to_string(&json::render(plan, &meta)).expect("json");
            s.push('\n');
            s
        }
        Format::Markdown => super::markdown::render(
            plan,
            &MarkdownOptions {
                plan_file: plan_file.map(str::to_string),
                tenant: tenant.map(str::to_string),
                sensitivity: sensitivity.clone(),
                ..Default::default()
            },
        ),
    }
}

/// The JSON plan of a plan that was rejected (`errored`: neither applyable nor complete),
/// showing what `sensitivity` marks as Terraform does.
pub fn plan_json_errored(plan: &Plan, sensitivity: &Sensitivity, recorded: &Recorded) -> String {
    let meta = json::PlanMeta {
        sensitivity: sensitivity.clone(),
        errored: true,
        outline: recorded.outline.clone(),
        in_state: recorded.in_state.clone(),
        ..json::PlanMeta::now()
    };
    let mut s = serde_json::to_string(&json::render(plan, &meta)).expect("json");
    s.push('\n');
    s
}
