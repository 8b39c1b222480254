//! Markdown for pull-request comments and drift issues: a one-line verdict, the summary and
//! security tables first, then one collapsible section per resource with element-level diffs.
//! However large the plan, the output stays within a character budget below GitHub's 65,536
//! character comment limit: details are cut short with a visible notice, the summary never is.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use super::plan::facts::{self, SecurityFacts, policy_target};
use super::plan::text::{attribute_names, is_empty};
use super::sensitive::{REDACTED, is_redacted, redact, redact_differences};
use crate::drift::{self, Counts, Difference, Report, Severity, Unmanaged};
use crate::model::Address;
use crate::model::Sensitivity;
use crate::plan::attributes::Attrs;
use crate::plan::{Action, Plan, PlanMode, Reason, ResourceChange};

/// GitHub's limit for the body of a comment or issue.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// The default budget, leaving room for text a workflow adds around the output.
pub const DEFAULT_BUDGET: usize = 60_000;
/// The hidden marker a workflow finds its previous plan comment by.
pub const PLAN_MARKER: &str = "<!-- pamform-plan -->";
/// The hidden marker of a drift report.
pub const DRIFT_MARKER: &str = "<!-- pamform-drift -->";
/// Elements of one list (members, system accounts) shown before the rest is summarised.
pub const MAX_LIST_ELEMENTS: usize = 500;
/// Names listed in one summary cell before the rest is counted.
const MAX_NAMES_IN_CELL: usize = 30;
/// Rows of the drift differences table before the rest is counted.
const MAX_DIFFERENCE_ROWS: usize = 100;

/// How to render Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The saved plan the output was made from, named in the truncation notice.
    pub plan_file: Option<String>,
    /// The most bytes the output may take (bytes bound characters from above).
    pub budget: usize,
    /// The tenant the plan was made for, named in the headline.
    pub tenant: Option<String>,
    /// Attributes shown as `(sensitive value)`.
    pub sensitivity: Sensitivity,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            plan_file: None,
            budget: DEFAULT_BUDGET,
            tenant: None,
            sensitivity: Sensitivity::default(),
        }
    }
}

/// Renders a plan for a pull-request comment.
pub fn render(plan: &Plan, options: &MarkdownOptions) -> String {
    let mut head = format!("{PLAN_MARKER}\n");
    let actionable: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_actionable()).collect();
    let mut differences = drift::differences(&plan.drift, None);
    redact_differences(&mut differences, &options.sensitivity);
    let facts = SecurityFacts::of_redacted(plan, &options.sensitivity);
    head.push_str(&verdict(plan, &facts, options.tenant.as_deref()));
    head.push_str("\n\n");
    if !plan.targets.is_empty() {
        let targets: Vec<String> = plan.targets.iter().map(|t| code(&t.to_string())).collect();
        let _ = writeln!(
            head,
            "> **Warning**: resource targeting is in effect ({}): the plan may be incomplete\n",
            targets.join(", ")
        );
    }
    if plan.mode != PlanMode::RefreshOnly && !actionable.is_empty() {
        summary_table(&mut head, plan);
        security_table(&mut head, &facts);
    }
    if !differences.is_empty() {
        let counts = Counts::of(differences.iter().map(|d| d.severity));
        let _ = writeln!(
            head,
            "**Changed outside pamform** since the last apply: {} ({})\n",
            plural(plan.drift.len(), "object", "objects"),
            severity_words(&counts)
        );
        difference_table(&mut head, &differences);
    }

    let order: Vec<&Address> = plan.drift.iter().map(|d| &d.address).collect();
    let remote_id = |a: &Address| {
        plan.drift.iter().find(|d| &d.address == a).map(|d| d.remote_id.clone()).filter(|id| !id.is_empty())
    };
    let mut sections = drift_sections(&differences, &order, &remote_id);
    sections.extend(actionable.iter().map(|c| change_section(c, &options.sensitivity)));
    let notice_target = match &options.plan_file {
        Some(f) => format!("run `pamform show {f}` for the whole plan"),
        None => "run `pamform plan` for the whole plan".to_string(),
    };
    assemble(head, "### Details\n\n", sections, &notice_target, options.budget)
}

/// A plan that could not be made, for a pull-request comment: the tenant, the verdict
/// "failed", and each error with its place and help, so the comment says what to fix instead
/// of "see the log".
pub fn render_failed(
    tenant: Option<&str>,
    diagnostics: &crate::diagnostic::Diagnostics,
    sources: &crate::model::Sources,
) -> String {
    let mut out = format!("{PLAN_MARKER}\n**pamform plan**");
    if let Some(t) = tenant {
        let _ = write!(out, " for {}", code(t));
    }
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    let _ = writeln!(
        out,
        ": ❌ **failed** with {}; nothing can be applied until {} fixed.\n",
        plural(errors.len(), "error", "errors"),
        if errors.len() == 1 { "it is" } else { "they are" }
    );
    for d in errors {
        let j = crate::diagnostic::to_json(d, sources);
        let place = match (&j.file, j.line, j.column) {
            (Some(f), Some(l), Some(c)) => format!(" at {}", code(&format!("{f}:{l}:{c}"))),
            _ => String::new(),
        };
        let _ = writeln!(out, "- {}{place}: {}", code(&j.code), cell(&j.message));
        if let Some(help) = &j.help {
            let _ = writeln!(out, "  - {}", cell(help));
        }
    }
    out
}

/// A plan that stopped before planning (no sign-in, an unreadable state, a tenant error):
/// the verdict and the error's text.
pub fn render_failed_message(message: &str) -> String {
    let mut out = format!(
        "{PLAN_MARKER}\n**pamform plan**: ❌ **failed**; nothing can be applied until this is fixed.\n\n"
    );
    // The text can quote what the service says (names included): a fence longer than any run
    // of backticks in it keeps it one block of text, never Markdown.
    let longest = message.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = write!(out, "{fence}\n{}\n{fence}\n", message.trim_end());
    out
}

/// Renders a drift report for an issue: the differences between the last applied state and
/// the tenant, and the tenant's objects pamform does not manage.
pub fn render_drift(report: &Report, options: &MarkdownOptions) -> String {
    let mut head = format!("{DRIFT_MARKER}\n");
    let mut redacted = report.differences.clone();
    redact_differences(&mut redacted, &options.sensitivity);
    let (differences, unmanaged) = (&redacted, &report.unmanaged);
    let counts = &report.summary;
    if counts.total() == 0 {
        head.push_str("**pamform drift**: No drift. The tenant matches the last apply.\n");
        return head;
    }
    let _ = writeln!(
        head,
        "**pamform drift**: {} between the tenant and the last apply, {} unmanaged\n",
        plural(differences.len(), "difference", "differences"),
        plural(unmanaged.len(), "object", "objects")
    );
    head.push_str("| severity | count |\n|---|---:|\n");
    for s in Severity::ALL {
        let n = counts.get(s);
        let _ = writeln!(head, "| {} | {} |", s.as_str(), strong_if(n > 0, &n.to_string()));
    }
    head.push('\n');
    if !differences.is_empty() {
        difference_table(&mut head, differences);
    }

    let mut sections = Vec::new();
    if !unmanaged.is_empty() {
        sections.push(unmanaged_section(unmanaged));
    }
    let order: Vec<&Address> = differences.iter().map(|d| &d.address).collect();
    sections.extend(drift_sections(differences, &order, &|_| None));
    let notice_target = "run `pamform drift` for the whole report".to_string();
    assemble(head, "### Details\n\n", sections, &notice_target, options.budget)
}

/// The first line a reviewer reads: which tenant, whether the plan needs a security review
/// and why, then the counts.
fn verdict(plan: &Plan, facts: &SecurityFacts, tenant: Option<&str>) -> String {
    let s = plan.summary();
    let mut line = String::from("**pamform plan**");
    match plan.mode {
        PlanMode::RefreshOnly => line.push_str(" (refresh-only)"),
        PlanMode::Destroy => line.push_str(" (destroy)"),
        PlanMode::Normal => {}
    }
    if let Some(t) = tenant {
        let _ = write!(line, " for {}", code(t));
    }
    line.push_str(": ");
    match plan.mode {
        PlanMode::RefreshOnly if plan.drift.is_empty() => {
            line.push_str("No changes. The state matches the tenant.");
            return line;
        }
        PlanMode::RefreshOnly => {
            let _ = write!(
                line,
                "{} changed outside pamform; applying records them in state and changes nothing in the tenant",
                plural(plan.drift.len(), "object", "objects")
            );
            return line;
        }
        _ if !plan.changes.iter().any(ResourceChange::is_actionable) => {
            line.push_str("No changes. The tenant matches the configuration.");
            return line;
        }
        _ => {}
    }
    let findings = security_findings(facts);
    if findings.is_empty() {
        line.push_str("no security-relevant change. ");
    } else {
        let _ = write!(line, "⚠️ **security review**: {}. ", findings.join(", "));
    }
    if s.import > 0 {
        let _ = write!(line, "{} to import, ", s.import);
    }
    let _ = write!(line, "{} to add, {} to change, {} to destroy", s.add, s.change, s.destroy);
    if s.moved > 0 {
        let _ = write!(line, ", {} to move", s.moved);
    }
    line
}

/// The security facts that widen access or leave a task ungated, most severe first, in a
/// few words each.
fn security_findings(f: &SecurityFacts) -> Vec<String> {
    let mut out = Vec::new();
    if f.pam_disabled {
        out.push("PAM switched off".to_string());
    }
    let removed =
        f.policies_ungated.iter().filter(|p| p.action == Action::Delete && p.target_after.is_none()).count();
    if removed > 0 {
        out.push(format!("{} ungated", plural(removed, "task", "tasks")));
    }
    let to_auto = f.approvals_to_auto().count();
    if to_auto > 0 {
        out.push(format!("{} from manual to auto approval", plural(to_auto, "policy", "policies")));
    }
    let other = f.policies_ungated.len() - removed - to_auto;
    if other > 0 {
        out.push(format!(
            "{} removed and created again (ungated meanwhile)",
            plural(other, "policy", "policies")
        ));
    }
    let added = f.approver_members_added_count();
    if added > 0 {
        out.push(format!(
            "{} added to {}",
            plural(added, "approver", "approvers"),
            plural(f.approver_members_added.len(), "group", "groups")
        ));
    }
    if !f.policies_to_wider_group.is_empty() {
        out.push(format!(
            "{} moved to a wider approver group",
            plural(f.policies_to_wider_group.len(), "policy", "policies")
        ));
    }
    if f.default_group_switched().is_some() {
        out.push("default approver group switched".to_string());
    }
    let exempt = f.system_accounts_widened().len();
    if exempt > 0 {
        out.push(format!("{} exempted from approval", plural(exempt, "system account", "system accounts")));
    }
    out
}

fn summary_table(out: &mut String, plan: &Plan) {
    let s = plan.summary();
    out.push_str("| action | count |\n|---|---:|\n");
    for (name, n) in [
        ("add", s.add),
        ("change", s.change),
        ("destroy", s.destroy),
        ("replace", s.replace),
        ("import", s.import),
        ("move", s.moved),
    ] {
        // Only what happens: a row of zeros tells a reviewer nothing.
        if n > 0 {
            let _ = writeln!(out, "| {name} | {n} |");
        }
    }
    out.push('\n');
}

fn security_table(out: &mut String, f: &SecurityFacts) {
    out.push_str("| security check | finding |\n|---|---|\n");
    let widened = if f.approver_members_added.is_empty() {
        "no".to_string()
    } else {
        let groups: Vec<String> = f
            .approver_members_added
            .iter()
            .map(|g| {
                let new = if g.new_group { ", new group" } else { "" };
                format!("{} ({}{new})", code(&g.address.to_string()), g.members.len())
            })
            .collect();
        format!(
            "**yes**: {} added to {}",
            plural(f.approver_members_added_count(), "member", "members"),
            name_list(&groups)
        )
    };
    let _ = writeln!(out, "| approver membership widened | {} |", cell(&widened));
    if !f.policies_to_wider_group.is_empty() {
        let items: Vec<String> = f
            .policies_to_wider_group
            .iter()
            .map(|p| {
                let added = match &p.approvers_added {
                    Some(m) => {
                        let names: Vec<String> = m.iter().map(|a| code(a)).collect();
                        format!("adding {}", name_list(&names))
                    }
                    None => "approvers unknown to pamform".to_string(),
                };
                format!(
                    "{} ({}) {} → {}, {added}",
                    code(&p.address.to_string()),
                    code(&p.target),
                    code(&p.group_before),
                    code(&p.group_after)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| policies moved to a wider approver group | **{}**: {} |",
            f.policies_to_wider_group.len(),
            cell(&name_list(&items))
        );
    }

    let ungated = if f.policies_ungated.is_empty() {
        "no".to_string()
    } else {
        let items: Vec<String> = f
            .policies_ungated
            .iter()
            .map(|p| {
                let what = match (&p.target_after, p.action) {
                    (Some(now), _) => format!("moved to {}", code(now)),
                    (None, Action::Replace) => "replaced".to_string(),
                    (None, _) => "removed".to_string(),
                };
                let approval = match &p.approval_after {
                    Some(after) if *after != p.approval_before => {
                        format!(", approval {} → {after}", p.approval_before)
                    }
                    _ => String::new(),
                };
                format!("{} {what} ({}{approval})", code(&p.address.to_string()), code(&p.target))
            })
            .collect();
        format!(
            "**{}**: {}; a removed or moved policy leaves its task ungated, a replaced one between delete and create",
            f.policies_ungated.len(),
            name_list(&items)
        )
    };
    let _ = writeln!(out, "| policies removed or replaced | {} |", cell(&ungated));
    let _ = writeln!(out, "| PAM switched off | {} |", if f.pam_disabled { "**yes**" } else { "no" });

    let default_group = match &f.default_approver_group_changed {
        None => "unchanged".to_string(),
        Some(v) => {
            let added = match &v.approvers_added {
                Some(m) if !m.is_empty() => {
                    let names: Vec<String> = m.iter().map(|a| code(a)).collect();
                    format!(", adding approvers {}", name_list(&names))
                }
                _ => String::new(),
            };
            format!("**changed**: {} → {}{added}", optional_code(&v.before), optional_code(&v.after))
        }
    };
    let _ = writeln!(out, "| default approver group | {} |", cell(&default_group));

    let accounts = &f.system_accounts;
    let system = if accounts.is_empty() {
        "unchanged".to_string()
    } else {
        let mut parts = Vec::new();
        if !accounts.added.is_empty() {
            let names: Vec<String> = accounts.added.iter().map(|a| code(a)).collect();
            parts.push(format!(
                "**{} added** (exempt from approval): {}",
                accounts.added.len(),
                name_list(&names)
            ));
        }
        if !accounts.removed.is_empty() {
            let names: Vec<String> = accounts.removed.iter().map(|a| code(a)).collect();
            parts.push(format!("{} removed: {}", accounts.removed.len(), name_list(&names)));
        }
        parts.join("; ")
    };
    let _ = writeln!(out, "| system accounts | {} |\n", cell(&system));
}

fn difference_table(out: &mut String, differences: &[Difference]) {
    out.push_str("| severity | address | attribute | what happened |\n|---|---|---|---|\n");
    for d in differences.iter().take(MAX_DIFFERENCE_ROWS) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            strong_if(d.severity <= Severity::High, d.severity.as_str()),
            cell(&code(&d.address.to_string())),
            cell(&code(&d.attribute)),
            cell(&d.message)
        );
    }
    if differences.len() > MAX_DIFFERENCE_ROWS {
        let _ = writeln!(out, "| | | | and {} more |", differences.len() - MAX_DIFFERENCE_ROWS);
    }
    out.push('\n');
}

/// One collapsible section: `open` and `close` wrap diff `lines`, which may be cut short.
struct Section {
    open: String,
    lines: Vec<String>,
    close: String,
    /// Changes (`+`/`-` lines) already left out of `lines` by the per-list cap.
    omitted: usize,
}

impl Section {
    fn len(&self) -> usize {
        self.open.len() + self.lines.iter().map(|l| l.len() + 1).sum::<usize>() + self.close.len()
    }

    fn changes(&self) -> usize {
        self.lines.iter().filter(|l| is_change_line(l)).count() + self.omitted
    }
}

fn is_change_line(line: &str) -> bool {
    line.starts_with('+') || line.starts_with('-')
}

/// Smallest room worth opening a section in; below it the section is left out.
const MIN_SECTION_ROOM: usize = 400;

/// Joins the never-cut head with as many sections as the budget allows, and a notice when
/// anything is left out.
fn assemble(
    head: String,
    heading: &str,
    sections: Vec<Section>,
    notice_target: &str,
    budget: usize,
) -> String {
    let mut out = head;
    if sections.is_empty() {
        return out;
    }
    out.push_str(heading);
    // Room for the notice, whose numbers are not known yet.
    let reserve = 160 + notice_target.len();
    let mut omitted = 0;
    let mut cut_resources = 0;
    let mut full = true;
    for s in sections {
        let room = budget.saturating_sub(out.len() + reserve);
        if !full {
            omitted += s.changes();
            cut_resources += 1;
            continue;
        }
        if s.len() <= room {
            omitted += s.omitted;
            if s.omitted > 0 {
                cut_resources += 1;
            }
            write_section(&mut out, &s.open, &s.lines, &s.close);
            continue;
        }
        full = false;
        cut_resources += 1;
        if room < MIN_SECTION_ROOM + s.open.len() + s.close.len() {
            omitted += s.changes();
            continue;
        }
        // Take lines while they fit, leaving room for the cut marker.
        let mut left = room - s.open.len() - s.close.len() - 80;
        let mut shown = 0;
        for l in &s.lines {
            if l.len() + 1 > left {
                break;
            }
            left -= l.len() + 1;
            shown += 1;
        }
        let rest = s.lines[shown..].iter().filter(|l| is_change_line(l)).count() + s.omitted;
        omitted += rest;
        let mut lines = s.lines[..shown].to_vec();
        lines.push(format!("  # ... {rest} more changes to this resource not shown"));
        write_section(&mut out, &s.open, &lines, &s.close);
    }
    if omitted > 0 || cut_resources > 0 {
        let _ = writeln!(
            out,
            "**... {} more {} not shown** ({} cut short or left out); {notice_target}",
            group_digits(omitted),
            if omitted == 1 { "change" } else { "changes" },
            plural(cut_resources, "resource", "resources")
        );
    }
    out
}

fn write_section(out: &mut String, open: &str, lines: &[String], close: &str) {
    out.push_str(open);
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(close);
}

fn section(
    symbol: &str,
    address: &Address,
    what: &str,
    notes: &[String],
    lines: Vec<String>,
    omitted: usize,
) -> Section {
    let mut open = format!(
        "<details><summary><code>{}</code> <code>{}</code> {}</summary>\n\n",
        html(symbol),
        html(&address.to_string()),
        html(what)
    );
    if !notes.is_empty() {
        let _ = writeln!(open, "> {}\n", notes.join("\n>\n> "));
    }
    open.push_str("```diff\n");
    Section { open, lines, close: "```\n\n</details>\n\n".into(), omitted }
}

fn change_section(c: &ResourceChange, sensitivity: &Sensitivity) -> Section {
    let (symbol, what) = match c.action {
        Action::Create if c.reasons.contains(&Reason::DeletedOutside) => {
            ("+", "will be created (it was deleted outside pamform)")
        }
        Action::Create => ("+", "will be created"),
        Action::Update => ("~", "will be updated in place"),
        Action::Replace => ("-/+", "must be replaced"),
        Action::Delete => ("-", "will be destroyed"),
        Action::NoOp if c.importing.is_some() => ("<=", "will be imported"),
        Action::NoOp => ("->", "has moved"),
    };
    let mut notes = Vec::new();
    if let Some(prev) = &c.previous_address {
        notes.push(format!("moved from {}", code(&prev.to_string())));
        if c.reasons.contains(&Reason::ImpliedMove) {
            notes.push(format!(
                "no `moved` block names this move: the same object was in state as {}, and it is kept rather than destroyed and recreated; add this block to the configuration to make the move explicit:\n>\n> ```hcl\n> moved {{\n>   from = {prev}\n>   to   = {}\n> }}\n> ```",
                code(&prev.to_string()),
                c.address
            ));
        }
    }
    if let Some(id) = &c.importing {
        notes.push(format!("imported from {}", code(id)));
    }
    for r in &c.reasons {
        if !matches!(r, Reason::Moved | Reason::ImpliedMove | Reason::DeletedOutside) {
            notes.push(format!("because {}", facts::reason_message(r)));
        }
    }
    if let (Action::Replace | Action::Delete, Some(Attrs::Policy(p))) = (c.action, &c.before) {
        let retargeted = facts::retargeted(p, c.after.as_ref().and_then(Attrs::as_policy)).is_some();
        let when = match c.action {
            Action::Replace if !retargeted => "between removing and recreating this policy",
            Action::Replace => "once this policy gates its new target",
            _ => "once this policy is removed",
        };
        let target = if ["task", "role", "role_group"].iter().any(|a| sensitivity.is_sensitive(&c.address, a))
        {
            REDACTED.to_string()
        } else {
            policy_target(p)
        };
        notes.push(format!("**Note**: {when}, {} is not gated", code(&target)));
    }
    let mut lines = Vec::new();
    let before = redact(c.before.as_ref().map(Attrs::to_value), &c.address, sensitivity);
    let after = redact(c.after.as_ref().map(Attrs::to_value), &c.address, sensitivity);
    let mut rows: Vec<Row> = Vec::new();
    if let Some(id) = &c.remote_id {
        let id = Value::String(id.clone());
        rows.push(match c.action {
            Action::Replace => Row::Changed("id".into(), Some(id), None, false),
            Action::Delete => Row::Side('-', "id".into(), id),
            _ => Row::Side(' ', "id".into(), id),
        });
    }
    let mut hidden = 0;
    for k in attribute_names(before.as_ref(), after.as_ref()) {
        let b = before.as_ref().and_then(|v| v.get(&k)).filter(|v| !is_empty(v)).cloned();
        let a = after.as_ref().and_then(|v| v.get(&k)).filter(|v| !is_empty(v)).cloned();
        let row = match c.action {
            Action::Create => a.map(|v| Row::Side('+', k, v)),
            Action::Delete => b.map(|v| Row::Side('-', k, v)),
            _ if c.changed.contains(&k) => {
                let forces = c.replace_paths.contains(&k);
                Some(Row::Changed(k, b, a, forces))
            }
            Action::Replace | Action::NoOp => a.map(|v| Row::Side(' ', k, v)),
            _ => {
                hidden += 1;
                None
            }
        };
        rows.extend(row);
    }
    let omitted = write_rows(&mut lines, &rows);
    if hidden > 0 {
        lines.push(format!("  # ({} hidden)", plural(hidden, "unchanged attribute", "unchanged attributes")));
    }
    section(symbol, &c.address, what, &notes, lines, omitted)
}

/// One section per drifted resource, in `order` (first appearance counts), from its
/// differences; `remote_id` names the object's id where known.
fn drift_sections(
    differences: &[Difference],
    order: &[&Address],
    remote_id: &dyn Fn(&Address) -> Option<String>,
) -> Vec<Section> {
    let mut seen = BTreeSet::new();
    let mut sections = Vec::new();
    for address in order {
        if !seen.insert(*address) {
            continue;
        }
        let mine: Vec<&Difference> = differences.iter().filter(|d| &d.address == *address).collect();
        if mine.is_empty() {
            continue;
        }
        let gone = mine.iter().find(|d| d.attribute == "*");
        let mut rows = Vec::new();
        if let Some(id) = remote_id(address) {
            let sym = if gone.is_some() { '-' } else { ' ' };
            rows.push(Row::Side(sym, "id".into(), Value::String(id)));
        }
        let (symbol, what) = match gone {
            Some(d) => {
                for k in attribute_names(Some(&d.in_state), None) {
                    if let Some(v) = d.in_state.get(&k).filter(|v| !is_empty(v)) {
                        rows.push(Row::Side('-', k, v.clone()));
                    }
                }
                ("-", "has been deleted outside pamform")
            }
            None => {
                let mut mine = mine;
                mine.sort_by(|a, b| a.attribute.cmp(&b.attribute));
                for d in mine {
                    let row = Row::Changed(
                        d.attribute.clone(),
                        Some(d.in_state.clone()),
                        Some(d.in_tenant.clone()),
                        false,
                    );
                    rows.push(row);
                }
                ("~", "has changed outside pamform")
            }
        };
        let mut lines = Vec::new();
        let omitted = write_rows(&mut lines, &rows);
        sections.push(section(symbol, address, what, &[], lines, omitted));
    }
    sections
}

fn unmanaged_section(unmanaged: &[Unmanaged]) -> Section {
    let mut open = format!(
        "<details><summary>{} in the tenant not managed by pamform</summary>\n\n",
        plural(unmanaged.len(), "object", "objects")
    );
    open.push_str("| type | id | description |\n|---|---|---|\n");
    let lines = unmanaged
        .iter()
        .map(|u| format!("| {} | {} | {} |", u.kind, cell(&code(&u.id)), cell(&u.description)))
        .collect();
    Section { open, lines, close: "\n</details>\n\n".into(), omitted: 0 }
}

/// One attribute in a diff block.
enum Row {
    /// A whole value on one side: `+` (added), `-` (removed) or ` ` (unchanged).
    Side(char, String, Value),
    /// A changed value; lists are diffed element by element. The flag marks
    /// `# forces replacement`.
    Changed(String, Option<Value>, Option<Value>, bool),
}

impl Row {
    fn name(&self) -> &str {
        match self {
            Row::Side(_, n, _) | Row::Changed(n, ..) => n,
        }
    }
}

/// Writes rows as diff lines; returns the number of list changes left out by the cap.
fn write_rows(lines: &mut Vec<String>, rows: &[Row]) -> usize {
    let width = rows.iter().map(|r| r.name().len()).max().unwrap_or(0);
    let mut omitted = 0;
    for row in rows {
        match row {
            Row::Side(sym, name, Value::Array(items)) => {
                lines.push(format!("{sym} {name:width$} = ["));
                let elements: Vec<(char, String)> = items.iter().map(|i| (*sym, show(i))).collect();
                omitted += write_elements(lines, &elements, 0);
                lines.push(format!("{sym} ]"));
            }
            Row::Side(sym, name, v) => lines.push(format!("{sym} {name:width$} = {}", show(v))),
            Row::Changed(name, b, a, forces) if as_list(b).or(as_list(a)).is_some() => {
                let before: BTreeSet<String> = as_list(b).unwrap_or_default().iter().map(show).collect();
                let after: BTreeSet<String> = as_list(a).unwrap_or_default().iter().map(show).collect();
                let mut elements: Vec<(char, String)> =
                    after.difference(&before).map(|s| ('+', s.clone())).collect();
                elements.extend(before.difference(&after).map(|s| ('-', s.clone())));
                elements.sort_by(|x, y| x.1.cmp(&y.1));
                lines.push(format!("  {name:width$} = [{}", forces_note(*forces)));
                omitted += write_elements(lines, &elements, after.intersection(&before).count());
                lines.push("  ]".into());
            }
            Row::Changed(name, b, a, forces) => {
                if let Some(b) = b {
                    lines.push(format!("- {name:width$} = {}", show_inline(b)));
                }
                let a = a.as_ref().map(show_inline).unwrap_or_else(|| "(known after apply)".into());
                lines.push(format!("+ {name:width$} = {a}{}", forces_note(*forces)));
            }
        }
    }
    omitted
}

fn as_list(v: &Option<Value>) -> Option<&[Value]> {
    match v {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    }
}

/// Writes list elements up to [`MAX_LIST_ELEMENTS`]; returns how many were left out.
fn write_elements(lines: &mut Vec<String>, elements: &[(char, String)], unchanged: usize) -> usize {
    for (sym, e) in elements.iter().take(MAX_LIST_ELEMENTS) {
        lines.push(format!("{sym}     {e},"));
    }
    let left_out = elements.len().saturating_sub(MAX_LIST_ELEMENTS);
    if left_out > 0 {
        let noun = if left_out == 1 { "element" } else { "elements" };
        lines.push(format!("      # ... {} more {noun} not shown", group_digits(left_out)));
    }
    if unchanged > 0 {
        lines.push(format!(
            "      # ({} hidden)",
            plural(unchanged, "unchanged element", "unchanged elements")
        ));
    }
    left_out
}

fn forces_note(forces: bool) -> &'static str {
    if forces { " # forces replacement" } else { "" }
}

/// A value as HCL-like text; one line (control characters escaped, so a value cannot break
/// out of its diff line or the code block).
fn show(v: &Value) -> String {
    match v {
        v if is_redacted(v) => REDACTED.to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default().replace("```", "`\u{200b}``"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn show_inline(v: &Value) -> String {
    match v {
        Value::Array(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        other => show(other),
    }
}

/// An inline code span that holds any text: the fence is longer than any backtick run inside.
fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", s.replace('\n', " "))
}

fn optional_code(s: &Option<String>) -> String {
    s.as_deref().map(code).unwrap_or_else(|| "none".into())
}

/// Text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Text safe inside HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn strong_if(cond: bool, s: &str) -> String {
    if cond { format!("**{s}**") } else { s.to_string() }
}

fn name_list(items: &[String]) -> String {
    let mut shown = items.iter().take(MAX_NAMES_IN_CELL).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > MAX_NAMES_IN_CELL {
        let _ = write!(shown, " and {} more", items.len() - MAX_NAMES_IN_CELL);
    }
    shown
}

fn severity_words(c: &Counts) -> String {
    let parts: Vec<String> =
        [("critical", c.critical), ("high", c.high), ("medium", c.medium), ("info", c.info)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
    parts.join(", ")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", group_digits(n), if n == 1 { one } else { many })
}

/// `12345` -> `12,345`.
fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceType;

    #[test]
    fn code_spans_hold_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(10_000), "10,000");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

    #[test]
    fn values_stay_on_one_line() {
        assert_eq!(show(&Value::String("a\nb".into())), "\"a\\nb\"");
        assert!(!show(&Value::String("x```y".into())).contains("```"));
    }

    #[test]
    fn unmanaged_objects_are_escaped_in_cells() {
        let u = Unmanaged::new(ResourceType::AccessPolicy, "p|1", "d");
        let s = unmanaged_section(&[u]);
        assert_eq!(s.lines, vec!["| access_policy | `p\\|1` | d |".to_string()]);
    }
}
