//! The drift report of `pamform drift`. For a terminal: a verdict line, then the differences
//! grouped by severity (most severe first), each with the value in state and in the tenant,
//! then the unmanaged objects. As JSON: the report itself (`schemas/drift.schema.json`). As
//! Markdown: [`crate::views::markdown::render_drift`].

use std::fmt::Write;

use serde_json::Value;

use super::markdown::{self, MarkdownOptions};
use super::plan::Format;
use super::style::{self, paint};
use crate::drift::{Report, Severity};

/// The report in `format`, ending with a newline.
pub fn report(report: &Report, format: Format) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Text => render(report),
        Format::Json => json(report)?,
        Format::Markdown => markdown::render_drift(report, &MarkdownOptions::default()),
    })
}

/// The report as JSON, ending with a newline.
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}

/// Longest value shown whole; longer ones are cut with their length noted.
const MAX_VALUE_CHARS: usize = 400;

fn severity_style(s: Severity) -> anstyle::Style {
    match s {
        Severity::Critical => style::ERROR,
        Severity::High => style::WARNING,
        Severity::Medium => style::UPDATE,
        Severity::Info => style::DIM,
    }
}

fn show(v: &Value) -> String {
    let s = match v {
        v if super::sensitive::is_redacted(v) => super::sensitive::REDACTED.to_string(),
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "[]".to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() > MAX_VALUE_CHARS {
        let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}... ({} characters)", s.chars().count())
    } else {
        s
    }
}

/// Renders the report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    if report.in_sync {
        out.push_str(&paint(style::OK, "No drift."));
        out.push_str(" The tenant matches the last apply.\n");
        return out;
    }
    let c = &report.summary;
    let counts: Vec<String> = Severity::ALL
        .into_iter()
        .filter(|s| c.get(*s) > 0)
        .map(|s| format!("{} {}", c.get(s), s.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "{} {} between the tenant and the last apply, {} unmanaged ({})\n",
        paint(style::BOLD, "Drift:"),
        plural(report.differences.len(), "difference", "differences"),
        plural(report.unmanaged.len(), "object", "objects"),
        counts.join(", ")
    );
    for severity in [Severity::Critical, Severity::High, Severity::Medium] {
        let items: Vec<_> = report.differences.iter().filter(|d| d.severity == severity).collect();
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", paint(severity_style(severity), severity.as_str().to_uppercase()));
        for d in items {
            let _ = writeln!(out, "  {} {}", paint(style::BOLD, &d.address), d.attribute);
            let _ = writeln!(out, "    {}", d.message);
            if d.attribute != "*" {
                let _ = writeln!(out, "    in state:  {}", show(&d.in_state));
                let _ = writeln!(out, "    in tenant: {}", show(&d.in_tenant));
            }
        }
        out.push('\n');
    }
    if !report.unmanaged.is_empty() {
        let _ = writeln!(out, "{}", paint(severity_style(Severity::Info), "INFO: not managed by pamform"));
        for u in &report.unmanaged {
            let _ = writeln!(out, "  {} {}", paint(style::BOLD, u.kind), u.id);
            let _ = writeln!(out, "    {}", u.description);
        }
        out.push_str("  (bring one under management with `pamform import`, or leave it out with `--ignore-unmanaged ID`)\n");
        out.push('\n');
    }
    out.push_str(
        "Run `pamform plan` to see what apply would change back, or `pamform apply --refresh-only` to accept the tenant's values into state.\n",
    );
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
