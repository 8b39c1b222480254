//! `pamform apply` as Terraform prints it: the confirmation prompt, one line per operation
//! as it starts, runs long, finishes, fails or is skipped (stderr), the interrupt notices,
//! and the closing summary (stdout).

use std::io::Write;

use super::Printer;
use super::style::{self, paint};
use crate::apply::{self, Event};
use crate::model::ResourceType;
use crate::plan::{Action, Plan, PlanMode};

/// Asks for "yes" on stderr, naming the tenant and identity; the caller reads the answer.
pub fn ask(printer: &Printer, tenant: &str, identity: &str) {
    let mut err = printer.err();
    let mut what =
        format!("  pamform will perform the actions described above in tenant {tenant}, as {identity}.");
    if let Some(width) = printer.stderr_width() {
        what = super::printer::wrap_indented(&what, width);
    }
    let _ = write!(
        err,
        "\n{}\n{what}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
        paint(style::BOLD, "Do you want to perform these actions?")
    );
    let _ = err.flush();
}

/// Ends the prompt's line once the answer is yes.
pub fn answered(printer: &Printer) {
    let _ = writeln!(printer.err());
}

/// The plan had nothing to do.
pub fn no_changes(printer: &Printer) {
    let _ = writeln!(printer.out(), "No changes. The tenant matches the configuration.");
}

/// With nothing to apply, `n` resources were still recorded from the refresh.
pub fn refreshed(printer: &Printer, n: usize) {
    let what = if n == 1 { "resource" } else { "resources" };
    let _ = writeln!(
        printer.out(),
        "State updated from the tenant: {n} {what} recorded with the ids and values found by the refresh."
    );
}

/// The first SIGINT or SIGTERM.
pub fn interrupted(printer: &Printer) {
    let _ = writeln!(
        printer.err(),
        "\n{}\nPlease wait for pamform to exit or data loss may occur.\nGracefully shutting down...",
        paint(style::WARNING, "Interrupt received."),
    );
}

/// The first Ctrl-C where there are no Unix signals.
pub fn interrupted_plain(printer: &Printer) {
    let _ = writeln!(
        printer.err(),
        "\nInterrupt received.\nPlease wait for pamform to exit or data loss may occur.\nGracefully shutting down..."
    );
}

/// The second signal: pamform exits at once.
pub fn interrupted_again(printer: &Printer) {
    let _ = writeln!(
        printer.err(),
        "\n{}",
        paint(
            style::ERROR,
            "Two interrupts received. Exiting immediately: state records every operation that finished; operations in flight may have run in the tenant, run `pamform plan` to see where things stand."
        )
    );
}

fn verb(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("Creating...", "Creation complete"),
        Action::Update => ("Modifying...", "Modifications complete"),
        Action::Replace => ("Replacing...", "Replacement complete"),
        Action::Delete => ("Destroying...", "Destruction complete"),
        Action::NoOp => ("Recording in state...", "Recorded"),
    }
}

/// Terraform's word for an operation that is taking a while.
fn still(action: Action) -> &'static str {
    match action {
        Action::Create => "Still creating...",
        Action::Update | Action::NoOp => "Still modifying...",
        Action::Replace => "Still replacing...",
        Action::Delete => "Still destroying...",
    }
}

/// One apply event, as Terraform prints it: on stderr, failures even with `--quiet`.
pub fn event(printer: &Printer, event: Event<'_>) {
    match event {
        Event::Started(c) => {
            printer.note(format!("{}: {}", paint(style::BOLD, &c.address), verb(c.action).0))
        }
        Event::StillRunning(c, elapsed) => printer.note(format!(
            "{}: {} [{}s elapsed]",
            paint(style::BOLD, &c.address),
            still(c.action),
            elapsed.as_secs()
        )),
        Event::Finished(c, took, id) => {
            let id = id.filter(|_| c.address.kind != ResourceType::PrivilegedAccess);
            let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
            printer.note(format!(
                "{}: {} after {}s{id}",
                paint(style::BOLD, &c.address),
                verb(c.action).1,
                took.as_secs()
            ))
        }
        Event::Failed(c, e) => {
            let _ = writeln!(
                printer.err(),
                "{}: {} {e}",
                paint(style::BOLD, &c.address),
                paint(style::ERROR, "failed:")
            );
        }
        Event::Skipped(c, because) => printer.note(format!(
            "{}: {} because {because} failed",
            paint(style::BOLD, &c.address),
            paint(style::WARNING, "skipped")
        )),
    }
}

/// The closing line on stdout: `Apply complete! Resources: 1 added, 0 changed, 0 destroyed.`
pub fn summary(printer: &Printer, plan: &Plan, report: &apply::Report) {
    let added = report.count(|a| matches!(a, Action::Create | Action::Replace));
    let changed = report.count(|a| a == Action::Update);
    let destroyed = report.count(|a| matches!(a, Action::Delete | Action::Replace));
    let imported = report
        .succeeded
        .iter()
        .filter(|(a, _)| plan.change(a).is_some_and(|c| c.importing.is_some()))
        .count();
    let mut line = String::new();
    if plan.mode == PlanMode::RefreshOnly {
        line.push_str("Apply complete! The state now records the tenant's values.");
    } else {
        if imported > 0 {
            line.push_str(&format!("{imported} imported, "));
        }
        line.push_str(&format!("{added} added, {changed} changed, {destroyed} destroyed."));
        line = if report.is_success() {
            format!("Apply complete! Resources: {line}")
        } else if report.interrupted {
            format!("Apply interrupted. Resources: {line}")
        } else {
            format!("Apply incomplete. Resources: {line}")
        };
    }
    let style = if report.is_success() { style::OK } else { style::WARNING };
    // A blank line parts it from the progress above; with `-q` there is none.
    let gap = if printer.is_quiet() { "" } else { "\n" };
    let _ = writeln!(printer.out(), "{gap}{}", paint(style, line));
}

/// Why an apply that did not finish failed, and what was left undone: the error it ends with.
pub fn unfinished(report: &apply::Report) -> String {
    let mut msg = if report.interrupted {
        String::from("apply interrupted; state records everything that succeeded\n")
    } else {
        String::from("apply failed; state records everything that succeeded\n")
    };
    for (a, action) in &report.not_started {
        let what = match action {
            Action::Delete => "destroyed",
            Action::Create => "created",
            _ => "changed",
        };
        msg.push_str(&format!("  - {a} was not {what}\n"));
    }
    for (a, e) in &report.failed {
        msg.push_str(&format!("  - {a} failed: {e}\n"));
    }
    for (a, because) in &report.skipped {
        msg.push_str(&format!("  - {a} skipped because {because} failed\n"));
    }
    if report.interrupted && report.failed.is_empty() && report.skipped.is_empty() {
        msg.push_str("run `pamform apply` again to finish: it picks up where this one stopped");
    } else {
        msg.push_str("fix the cause and run `pamform apply` again: it picks up where this one stopped");
    }
    msg
}
