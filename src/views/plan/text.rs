//! The human plan, in Terraform's shape: one block per resource with `+`, `~`, `-`, `-/+`,
//! member lists element by element, `# forces replacement`, move notes, a "Security impact"
//! block when the plan widens access or leaves something ungated, and the closing summary
//! line.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use super::facts::{self, SecurityFacts};
use crate::model::Sensitivity;
use crate::model::{Address, ResourceType};
use crate::plan::attributes::Attrs;
use crate::plan::{Action, Plan, PlanMode, Reason, ResourceChange, ResourceDrift};
use crate::views::sensitive::{REDACTED, is_redacted, redact};
use crate::views::style::{self, paint};

/// Renders a whole plan.
pub fn render(plan: &Plan) -> String {
    render_redacted(plan, &Sensitivity::default())
}

/// Renders a whole plan, showing the attributes `sensitivity` marks as `(sensitive value)`.
pub fn render_redacted(plan: &Plan, sensitivity: &Sensitivity) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        render_drift(&mut out, &plan.drift, sensitivity);
    }
    let actionable: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_actionable()).collect();
    if plan.mode == PlanMode::RefreshOnly {
        if plan.drift.is_empty() {
            out.push_str("No changes. The state matches the tenant.\n");
        } else {
            out.push_str(
                "This is a refresh-only plan: applying it records the values above in state; it changes nothing in the tenant.\n",
            );
        }
        return out;
    }
    if actionable.is_empty() {
        out.push_str(&paint(style::OK, "No changes."));
        out.push_str(" The tenant matches the configuration.\n");
        return out;
    }
    out.push_str("pamform will perform the following actions:\n\n");
    for c in &actionable {
        render_change(&mut out, c, sensitivity);
        out.push('\n');
    }
    out.push_str(&security_impact(&SecurityFacts::of_redacted(plan, sensitivity)));
    out.push_str(&summary_line(plan));
    out.push('\n');
    if !plan.targets.is_empty() {
        out.push_str(&paint(
            style::WARNING,
            "\nWarning: resource targeting is in effect: the plan may be incomplete; use --target for exceptional cases only\n",
        ));
    }
    out
}

/// `Plan: N to import, N to add, N to change, N to destroy.`, with `, N to move` before the
/// period when the plan moves anything.
pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let mut line = String::from("Plan: ");
    if s.import > 0 {
        let _ = write!(line, "{} to import, ", s.import);
    }
    let _ = write!(
        line,
        "{} to add, {} to change, {} to destroy",
        paint(style::CREATE, s.add),
        paint(style::UPDATE, s.change),
        paint(style::DESTROY, s.destroy)
    );
    if s.moved > 0 {
        let _ = write!(line, ", {} to move", s.moved);
    }
    line.push('.');
    paint(style::BOLD, line)
}

/// Names listed in one line of the security block before the rest is counted.
const MAX_NAMES: usize = 10;

/// The "Security impact" block: what the plan ungates or widens, from the same facts the
/// Markdown and JSON renderers show; empty when there is nothing to say.
pub fn security_impact(f: &SecurityFacts) -> String {
    if !f.any_widening() {
        return String::new();
    }
    let mut lines: Vec<String> = Vec::new();
    if f.pam_disabled {
        lines.push(
            "PAM will be switched off: no task, role or role group needs approval until it is switched on again"
                .into(),
        );
    }
    for p in &f.policies_ungated {
        lines.push(match (p.action, &p.target_after) {
            (Action::Replace, Some(now)) => format!(
                "{} now gates {now} instead of {}: {} will no longer be gated by it",
                p.address, p.target, p.target
            ),
            (Action::Replace, None) => format!(
                "{} is replaced: {} is not gated between the removal and the re-creation",
                p.address, p.target
            ),
            _ => format!("{} is destroyed: {} will no longer be gated", p.address, p.target),
        });
    }
    for p in f.approvals_to_auto() {
        lines.push(format!(
            "{}: approval of {} changes from manual to auto (requests are approved without an approver)",
            p.address, p.target
        ));
    }
    for g in &f.approver_members_added {
        let what = if g.new_group { "the new group " } else { "" };
        lines.push(format!("approvers added to {what}{} ({}): {}", g.address, g.email, names(&g.members)));
    }
    for p in &f.policies_to_wider_group {
        let added = match &p.approvers_added {
            Some(m) => format!(", adding approvers: {}", names(m)),
            None => " (pamform does not manage these groups' members: check who approves now)".into(),
        };
        lines.push(format!(
            "{}: {} moves from approver group {} to {}{added}",
            p.address, p.target, p.group_before, p.group_after
        ));
    }
    if let Some(v) = f.default_group_switched() {
        let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
        let added = match &v.approvers_added {
            Some(m) if !m.is_empty() => format!(", adding approvers: {}", names(m)),
            _ => String::new(),
        };
        lines.push(format!(
            "the default approver group changes from {} to {}{added}",
            side(&v.before),
            side(&v.after)
        ));
    }
    if !f.system_accounts_widened().is_empty() {
        lines.push(format!(
            "system accounts added (they bypass approval): {}",
            names(f.system_accounts_widened())
        ));
    }
    let mut out = format!("{}\n", paint(style::WARNING, "Security impact:"));
    for l in lines {
        let _ = writeln!(out, "  - {l}");
    }
    out.push('\n');
    out
}

fn names(items: &[String]) -> String {
    let mut shown = items.iter().take(MAX_NAMES).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > MAX_NAMES {
        let _ = write!(shown, " and {} more", items.len() - MAX_NAMES);
    }
    shown
}

fn header(c: &ResourceChange) -> String {
    let a = &c.address;
    let what = match c.action {
        Action::Create if c.reasons.contains(&Reason::DeletedOutside) => {
            "will be created (it was deleted outside pamform)".to_string()
        }
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in place".to_string(),
        Action::Replace => "must be replaced".to_string(),
        Action::Delete if c.reasons.contains(&Reason::DeleteBecauseDestroy) => {
            "will be destroyed".to_string()
        }
        Action::Delete => "will be destroyed\n  # (because it is not in the configuration)".to_string(),
        Action::NoOp if c.importing.is_some() => "will be imported".to_string(),
        Action::NoOp => String::new(),
    };
    let mut h = match (&c.previous_address, what.is_empty()) {
        // Terraform's wording for a move that changes nothing else.
        (Some(prev), true) => format!("  # {prev} has moved to {a}"),
        (Some(prev), false) => format!("  # {a} {what}\n  # (moved from {prev})"),
        (None, _) if what.is_empty() => format!("  # {a} is unchanged"),
        (None, _) => format!("  # {a} {what}"),
    };
    if let Some(prev) = c.previous_address.as_ref().filter(|_| c.reasons.contains(&Reason::ImpliedMove)) {
        let _ = write!(
            h,
            "\n  # (the same {key} was in state as {prev}:\n  #  the object is kept, not destroyed and recreated)\n  # Add this block to the configuration to make the move explicit:\n  #   moved {{\n  #     from = {prev}\n  #     to   = {a}\n  #   }}",
            key = natural_key(a.kind)
        );
    }
    if let Some(id) = &c.importing
        && c.action != Action::NoOp
    {
        let _ = write!(h, "\n  # (imported from \"{id}\")");
    }
    if c.reasons.contains(&Reason::Adopt) {
        h.push_str(
            "\n  # (an object with the same natural key already exists in the tenant and will be adopted)",
        );
    }
    paint(style::BOLD, h)
}

/// What identifies an object of `kind` in the tenant, in words.
fn natural_key(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::AccessPolicy => "task, role or role group",
        ResourceType::ApproverGroup => "email address",
        ResourceType::PrivilegedAccess => "tenant",
    }
}

fn block_open(address: &Address) -> String {
    match address.kind {
        ResourceType::PrivilegedAccess => "privileged_access".to_string(),
        _ => format!("{} \"{}\"", address.kind, address.name),
    }
}

fn render_change(out: &mut String, c: &ResourceChange, sensitivity: &Sensitivity) {
    let _ = writeln!(out, "{}", header(c));
    let (symbol, sty) = match c.action {
        Action::Create => ("  +", style::CREATE),
        Action::Update => ("  ~", style::UPDATE),
        Action::Replace => ("-/+", style::UPDATE),
        Action::Delete => ("  -", style::DESTROY),
        Action::NoOp => ("   ", style::DIM),
    };
    let _ = writeln!(out, "{} {} {{", paint(sty, symbol), block_open(&c.address));
    let before = redact(c.before.as_ref().map(Attrs::to_value), &c.address, sensitivity);
    let after = redact(c.after.as_ref().map(Attrs::to_value), &c.address, sensitivity);
    let mut rows = Vec::new();
    let keys = attribute_names(before.as_ref(), after.as_ref());
    if let Some(id) = c.remote_id.as_ref().filter(|_| c.address.kind != ResourceType::PrivilegedAccess) {
        let id_row = match c.action {
            Action::Replace => Row::changed("id", Some(&Value::String(id.clone())), None, false),
            Action::Delete => Row::removed("id", &Value::String(id.clone())),
            _ => Row::same("id", &Value::String(id.clone())),
        };
        rows.push(id_row);
    }
    let mut hidden = 0;
    for k in keys {
        let b = before.as_ref().and_then(|v| v.get(&k));
        let a = after.as_ref().and_then(|v| v.get(&k));
        let row = match c.action {
            Action::Create => a.filter(|v| !is_empty(v)).map(|v| Row::added(&k, v)),
            Action::Delete => b.filter(|v| !is_empty(v)).map(|v| Row::removed(&k, v)),
            _ if c.changed.contains(&k) => Some(Row::changed(&k, b, a, c.replace_paths.contains(&k))),
            _ if c.action == Action::Replace || c.action == Action::NoOp => {
                a.filter(|v| !is_empty(v)).map(|v| Row::same(&k, v))
            }
            _ => {
                hidden += 1;
                None
            }
        };
        rows.extend(row);
    }
    write_rows(out, &rows, "      ");
    if hidden > 0 {
        let noun = if hidden == 1 { "attribute" } else { "attributes" };
        let _ =
            writeln!(out, "        {}", paint(style::DIM, format!("# ({hidden} unchanged {noun} hidden)")));
    }
    let _ = writeln!(out, "    }}");
    if c.action == Action::Replace
        && let Some(Attrs::Policy(p)) = &c.before
    {
        let target = if ["task", "role", "role_group"].iter().any(|a| sensitivity.is_sensitive(&c.address, a))
        {
            REDACTED.to_string()
        } else {
            p.task.clone().or_else(|| p.role.clone()).or_else(|| p.role_group.clone()).unwrap_or_default()
        };
        let _ = writeln!(
            out,
            "  {}",
            paint(
                style::WARNING,
                match facts::retargeted(p, c.after.as_ref().and_then(Attrs::as_policy)) {
                    Some(_) => format!("# note: {target} will no longer be gated by this policy"),
                    None => format!(
                        "# note: between removing and recreating this policy, {target} is briefly not gated"
                    ),
                }
            )
        );
    }
}

fn render_drift(out: &mut String, drift: &[ResourceDrift], sensitivity: &Sensitivity) {
    out.push_str(&paint(style::BOLD, "Note: Objects have changed outside of pamform\n\n"));
    out.push_str("pamform detected the following changes made outside of pamform since the last \"pamform apply\":\n\n");
    for d in drift {
        match &d.after {
            None => {
                let _ =
                    writeln!(out, "{}", paint(style::BOLD, format!("  # {} has been deleted", d.address)));
                let _ = writeln!(out, "{} {} {{", paint(style::DESTROY, "  -"), block_open(&d.address));
                let _ = writeln!(out, "      id = {}", quote(&d.remote_id));
                let _ = writeln!(out, "    }}\n");
            }
            Some(now) => {
                let _ = writeln!(out, "{}", paint(style::BOLD, format!("  # {} has changed", d.address)));
                let _ = writeln!(out, "{} {} {{", paint(style::UPDATE, "  ~"), block_open(&d.address));
                let b = redact(Some(d.before.to_value()), &d.address, sensitivity).unwrap_or_default();
                let a = redact(Some(now.to_value()), &d.address, sensitivity).unwrap_or_default();
                let mut rows = Vec::new();
                if d.address.kind != ResourceType::PrivilegedAccess {
                    rows.push(Row::same("id", &Value::String(d.remote_id.clone())));
                }
                for k in &d.changed {
                    rows.push(Row::changed(k, b.get(k), a.get(k), false));
                }
                write_rows(out, &rows, "      ");
                let _ = writeln!(out, "    }}\n");
            }
        }
    }
    out.push_str(&"─".repeat(77));
    out.push_str("\n\n");
}

/// One attribute line (or a multi-line list).
struct Row {
    symbol: &'static str,
    name: String,
    value: RowValue,
    forces: bool,
}

enum RowValue {
    Scalar(String),
    List(Vec<(&'static str, String)>, usize),
}

impl Row {
    fn same(name: &str, v: &Value) -> Row {
        Row { symbol: " ", name: name.into(), value: scalar_or_list(v, " "), forces: false }
    }
    fn added(name: &str, v: &Value) -> Row {
        Row { symbol: "+", name: name.into(), value: scalar_or_list(v, "+"), forces: false }
    }
    fn removed(name: &str, v: &Value) -> Row {
        let value = match v {
            Value::Array(_) => scalar_or_list(v, "-"),
            _ => RowValue::Scalar(format!("{} -> null", show(v))),
        };
        Row { symbol: "-", name: name.into(), value, forces: false }
    }
    fn changed(name: &str, before: Option<&Value>, after: Option<&Value>, forces: bool) -> Row {
        let value = match (before, after) {
            (b, a) if b.is_some_and(is_redacted) || a.is_some_and(is_redacted) => {
                RowValue::Scalar(REDACTED.to_string())
            }
            (Some(Value::Array(b)), Some(Value::Array(a))) => list_diff(b, a),
            (b, a) => RowValue::Scalar(format!(
                "{} -> {}",
                b.map(show).unwrap_or_else(|| "null".into()),
                a.map(show).unwrap_or_else(|| "(known after apply)".into())
            )),
        };
        Row { symbol: "~", name: name.into(), value, forces }
    }
}

fn scalar_or_list(v: &Value, symbol: &'static str) -> RowValue {
    match v {
        Value::Array(items) => RowValue::List(items.iter().map(|i| (symbol, show(i))).collect(), 0),
        other => RowValue::Scalar(show(other)),
    }
}

/// Element-by-element changes of a set-valued attribute.
fn list_diff(before: &[Value], after: &[Value]) -> RowValue {
    let b: BTreeSet<String> = before.iter().map(show).collect();
    let a: BTreeSet<String> = after.iter().map(show).collect();
    let mut items: Vec<(&'static str, String)> = a.difference(&b).map(|s| ("+", s.clone())).collect();
    items.extend(b.difference(&a).map(|s| ("-", s.clone())));
    items.sort_by(|x, y| x.1.cmp(&y.1));
    RowValue::List(items, a.intersection(&b).count())
}

fn write_rows(out: &mut String, rows: &[Row], indent: &str) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in rows {
        let sym = symbol_paint(r.symbol);
        let forces = if r.forces {
            format!(" {}", paint(style::DESTROY, "# forces replacement"))
        } else {
            String::new()
        };
        match &r.value {
            RowValue::Scalar(s) => {
                let _ = writeln!(out, "{indent}{sym} {:width$} = {s}{forces}", r.name);
            }
            RowValue::List(items, unchanged) => {
                if items.is_empty() && *unchanged == 0 {
                    let _ = writeln!(out, "{indent}{sym} {:width$} = []{forces}", r.name);
                    continue;
                }
                let _ = writeln!(out, "{indent}{sym} {:width$} = [{forces}", r.name);
                for (s, item) in items {
                    let _ = writeln!(out, "{indent}    {} {item},", symbol_paint(s));
                }
                if *unchanged > 0 {
                    let noun = if *unchanged == 1 { "element" } else { "elements" };
                    let _ = writeln!(
                        out,
                        "{indent}      {}",
                        paint(style::DIM, format!("# ({unchanged} unchanged {noun} hidden)"))
                    );
                }
                let _ = writeln!(out, "{indent}  ]");
            }
        }
    }
}

fn symbol_paint(symbol: &str) -> String {
    match symbol {
        "+" => paint(style::CREATE, "+"),
        "-" => paint(style::DESTROY, "-"),
        "~" => paint(style::UPDATE, "~"),
        s => s.to_string(),
    }
}

pub(in crate::views) fn attribute_names(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for v in [before, after].into_iter().flatten() {
        if let Some(o) = v.as_object() {
            names.extend(o.keys().cloned());
        }
    }
    names.into_iter().collect()
}

pub(in crate::views) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn show(v: &Value) -> String {
    match v {
        v if is_redacted(v) => REDACTED.to_string(),
        Value::String(s) => quote(s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}
