//! The fleet report of `pamform fleet plan | drift | apply` and `fleet report merge`: for a
//! terminal, a verdict line and one line per tenant; as JSON, the report itself
//! (`schemas/fleet-report.schema.json`); as Markdown, a verdict, the totals and a table of
//! the tenants that need attention first, within GitHub's comment limit however many tenants
//! (the rest counted, never cut silently). Also the progress line of each finished tenant and
//! the combined summary `fleet apply` asks about.

use std::fmt::Write;

use super::Printer;
use super::markdown::DEFAULT_BUDGET;
use super::plan::Format;
use super::style::{self, paint};
use crate::drift::Severity;
use crate::fleet::report::{FleetReport, Operation, Status, TenantReport};

/// The hidden marker a workflow finds its previous fleet comment by.
pub const FLEET_MARKER: &str = "<!-- pamform-fleet -->";
/// Longest error message shown in a Markdown row.
const MAX_ERROR_CHARS: usize = 300;

/// The report in `format`, ending with a newline.
pub fn report(report: &FleetReport, format: Format) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Text => text(report),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s
        }
        Format::Markdown => markdown(report, DEFAULT_BUDGET),
    })
}

/// `3 tenants: 1 in sync, 1 drift, 1 error`.
fn totals_line(r: &FleetReport) -> String {
    let t = &r.totals;
    let mut parts = Vec::new();
    for (n, what) in [
        (t.in_sync, "in sync"),
        (t.changes, "with changes"),
        (t.drift, "drifted"),
        (t.applied, "applied"),
        (t.error, "failed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let s = if t.tenants == 1 { "" } else { "s" };
    format!(
        "{} tenant{s}: {}",
        t.tenants,
        if parts.is_empty() { "none selected".into() } else { parts.join(", ") }
    )
}

fn headline(r: &FleetReport) -> String {
    let what = match r.operation {
        Operation::Plan => "Fleet plan",
        Operation::Drift => "Fleet drift check",
        Operation::Apply => "Fleet apply",
    };
    let shards = match r.shards.as_slice() {
        [] => String::new(),
        [one] => format!(" (shard {one})"),
        all => format!(" ({} shards merged)", all.len()),
    };
    format!("{what}{shards}")
}

/// What one tenant's line says after its status.
fn detail(t: &TenantReport) -> String {
    match t.status {
        Status::Error => t.error.clone().unwrap_or_default(),
        Status::Drift => t
            .drift
            .as_ref()
            .map(|d| {
                let sev = d.highest_severity.map(|s| s.as_str()).unwrap_or("none");
                let mut s = format!(
                    "{} difference{}, {} unmanaged (highest: {sev})",
                    d.differences,
                    if d.differences == 1 { "" } else { "s" },
                    d.unmanaged
                );
                if d.pending_changes > 0 {
                    let _ = write!(s, "; {} not yet applied", d.pending_changes);
                }
                s
            })
            .unwrap_or_default(),
        Status::Changes | Status::Applied => t
            .changes
            .map(|c| {
                let mut s = format!("{} to add, {} to change, {} to destroy", c.add, c.change, c.destroy);
                if t.status == Status::Applied {
                    s = format!("{} added, {} changed, {} destroyed", c.add, c.change, c.destroy);
                }
                if c.import > 0 {
                    let _ = write!(s, ", {} to import", c.import);
                }
                if c.moved > 0 {
                    let _ = write!(s, ", {} to move", c.moved);
                }
                s
            })
            .unwrap_or_default(),
        Status::InSync => t
            .drift
            .as_ref()
            .filter(|d| d.pending_changes > 0)
            .map(|d| format!("no drift; {} not yet applied", d.pending_changes))
            .unwrap_or_default(),
    }
}

fn status_style(s: Status) -> anstyle::Style {
    match s {
        Status::InSync | Status::Applied => style::OK,
        Status::Changes => style::UPDATE,
        Status::Drift => style::WARNING,
        Status::Error => style::ERROR,
    }
}

/// The report for a terminal: verdict, one line per tenant, missing shards.
pub fn text(r: &FleetReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", paint(style::BOLD, headline(r)), totals_line(r));
    let width = r.tenants.iter().map(|t| t.name.chars().count()).max().unwrap_or(0);
    if !r.tenants.is_empty() {
        out.push('\n');
    }
    for t in &r.tenants {
        let detail = detail(t);
        let status = if detail.is_empty() {
            t.status.as_str().to_string()
        } else {
            format!("{:<8}  {detail}", t.status.as_str())
        };
        let _ = writeln!(out, "  {:<width$}  {}", t.name, paint(status_style(t.status), status));
    }
    if !r.missing_shards.is_empty() {
        let missing: Vec<String> = r.missing_shards.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "\n{} the report of shard{} {} is missing: its tenants are not in this report",
            paint(style::ERROR, "Error:"),
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        );
    }
    out
}

/// Markdown cell text: one line, pipes escaped, cut at `max` characters.
fn cell(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    if one_line.chars().count() > max {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// How urgent a tenant's line is: errors, then drift by severity, then changes.
fn urgency(t: &TenantReport) -> (u8, u8) {
    let sev = |s: Option<Severity>| match s {
        Some(Severity::Critical) => 0,
        Some(Severity::High) => 1,
        Some(Severity::Medium) => 2,
        _ => 3,
    };
    match t.status {
        Status::Error => (0, 0),
        Status::Drift => (1, sev(t.drift.as_ref().and_then(|d| d.highest_severity))),
        Status::Changes => (2, 0),
        Status::Applied => (3, 0),
        Status::InSync => (4, 0),
    }
}

/// The report as Markdown within `budget` bytes: tenants that need attention first (most
/// urgent first), then the others, and a count of the rows left out when the budget ends.
pub fn markdown(r: &FleetReport, budget: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "{FLEET_MARKER}");
    let icon = if r.failed() {
        "❌"
    } else if r.differs() {
        "⚠️"
    } else {
        "✅"
    };
    let _ = writeln!(head, "### {icon} {}: {}\n", headline(r), totals_line(r));
    let t = &r.totals;
    let _ = writeln!(head, "| tenants | in sync | changes | drift | applied | failed |");
    let _ = writeln!(head, "|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        head,
        "| {} | {} | {} | {} | {} | {} |\n",
        t.tenants, t.in_sync, t.changes, t.drift, t.applied, t.error
    );
    if !r.missing_shards.is_empty() {
        let missing: Vec<String> = r.missing_shards.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            head,
            "**Missing shard reports: {}** (their tenants are not in this report)\n",
            missing.join(", ")
        );
    }
    let mut rows: Vec<&TenantReport> = r.tenants.iter().collect();
    rows.sort_by(|a, b| urgency(a).cmp(&urgency(b)).then_with(|| a.name.cmp(&b.name)));
    if rows.is_empty() {
        return head;
    }
    let table_head = "| tenant | id | status | details |\n|---|---|---|---|\n";
    // Room for the closing notice, however many rows it counts.
    let reserve = 200;
    let mut body = String::from(table_head);
    let mut shown = 0;
    for t in &rows {
        let name = match &t.display_name {
            Some(d) => format!("{} ({})", cell(&t.name, 100), cell(d, 100)),
            None => cell(&t.name, 100),
        };
        let row = format!(
            "| {name} | `{}` | {} | {} |\n",
            cell(&t.id, 100),
            t.status.as_str(),
            cell(&detail(t), MAX_ERROR_CHARS)
        );
        if head.len() + body.len() + row.len() + reserve > budget {
            break;
        }
        body.push_str(&row);
        shown += 1;
    }
    let mut out = head;
    out.push_str(&body);
    if shown < rows.len() {
        let _ = writeln!(
            out,
            "\n…and {} more tenant{} not shown here (the comment limit); the JSON report (`--json`) has every tenant.",
            rows.len() - shown,
            if rows.len() - shown == 1 { "" } else { "s" }
        );
    }
    out
}

/// One tenant finished: its line on stderr, as the run goes.
pub fn progress(printer: &Printer, t: &TenantReport) {
    let detail = detail(t);
    printer.note(format!(
        "{}: {}{}",
        t.name,
        paint(status_style(t.status), t.status.as_str()),
        if detail.is_empty() { String::new() } else { format!(" ({detail})") }
    ));
}

/// The question `fleet apply` asks once, after the combined plan.
pub fn ask(printer: &Printer, tenants_with_changes: usize) {
    printer.note(format!(
        "\nDo you want to apply these changes to {tenants_with_changes} tenant{}?\n  Only 'yes' will be accepted to approve.\n",
        if tenants_with_changes == 1 { "" } else { "s" }
    ));
    let mut err = printer.err();
    let _ = std::io::Write::write_all(&mut err, b"  Enter a value: ");
    let _ = std::io::Write::flush(&mut err);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::file::{Fleet, FleetTenant};
    use crate::fleet::report::{DriftCounts, Scope, Selection};

    fn big_report(n: usize) -> FleetReport {
        let tenants: Vec<FleetTenant> = (0..n)
            .map(|i| FleetTenant {
                name: format!("tenant-{i:05}"),
                id: format!("{i:08x}-0000-4000-8000-000000000000"),
                display_name: Some(format!("Customer number {i} | Ltd")),
                tags: vec![],
                vars: vec![],
                credentials: None,
            })
            .collect();
        let lines = tenants
            .iter()
            .enumerate()
            .map(|(i, t)| TenantReport {
                name: t.name.clone(),
                id: t.id.clone(),
                display_name: t.display_name.clone(),
                tags: vec![],
                status: if i % 3 == 0 { Status::Error } else { Status::Drift },
                changes: None,
                drift: (i % 3 != 0).then(|| DriftCounts {
                    differences: 2,
                    highest_severity: Some(Severity::High),
                    high: 2,
                    ..DriftCounts::default()
                }),
                error: (i % 3 == 0).then(|| "x".repeat(2000)),
                signed_in_tenant_id: None,
            })
            .collect();
        let scope = Scope {
            configuration_digest: "sha256:00".into(),
            selection: Selection::default(),
            selected_tenants: n,
            shard: None,
            ignore: vec![],
            ignore_unmanaged: vec![],
        };
        FleetReport::new(Operation::Drift, &Fleet { path: "fleet.hcl".into(), tenants }, &scope, lines)
    }

    #[test]
    fn markdown_fits_the_comment_limit_however_many_tenants() {
        for n in [1, 50, 10_000] {
            let md = markdown(&big_report(n), DEFAULT_BUDGET);
            assert!(md.chars().count() <= crate::views::markdown::GITHUB_COMMENT_LIMIT, "{n}: {}", md.len());
            assert!(md.contains(&format!("{n} tenant")), "the totals are never cut");
            if n == 10_000 {
                assert!(md.contains("more tenants not shown"), "the cut is said");
            } else {
                assert!(!md.contains("not shown"));
            }
        }
        let md = markdown(&big_report(3), DEFAULT_BUDGET);
        assert!(md.contains("Customer number 1 \\| Ltd"), "pipes escaped: {md}");
        let first_row = md.lines().find(|l| l.starts_with("| tenant-")).unwrap();
        assert!(first_row.contains("error"), "errors come first: {first_row}");
    }
}
