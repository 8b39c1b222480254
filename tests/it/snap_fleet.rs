//! `pamform fleet apply` on a terminal (see [`crate::support::pty`]): three emulated tenants
//! with changes, the combined plan and one question for all of them. Answering anything but
//! `yes` changes no tenant; `yes` applies every one. The screens, once pamform exits, are
//! snapshots with what varies redacted as in [`crate::snap_outputs`], and the per-tenant
//! lines, which come in the order tenants finish, sorted within their block.

use std::process::Command;

use crate::support::cli::Workspace;
use crate::support::fleet::{Approvers, Fleet, all, fleet_file, report, statuses};
use crate::support::pty::{self, TermRun, Typing};

const PROMPT: &str = "Enter a value: ";

/// `fleet apply` in `ws` on the terminal, answering `answer` to its question.
fn apply_answering(ws: &Workspace, answer: &str) -> TermRun {
    let mut cmd: Command = ws.command(&["fleet", "apply"]);
    cmd.env("NO_COLOR", "1").env("TZ", "UTC");
    pty::run(&cmd, Typing { after: Some(PROMPT), answer })
}

/// The screen, each block of `tN: status` lines sorted by tenant.
fn screen(run: &TermRun) -> String {
    let is_line = |l: &str| {
        l.split_once(": ").is_some_and(|(name, _)| {
            name.len() > 1 && name.starts_with('t') && name[1..].chars().all(|c| c.is_ascii_digit())
        })
    };
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<String> = Vec::new();
    for line in run.text().lines() {
        if is_line(line) {
            block.push(line.to_string());
            continue;
        }
        block.sort();
        out.append(&mut block);
        out.push(line.to_string());
    }
    block.sort();
    out.append(&mut block);
    out.join("\n") + "\n"
}

/// How often the question was asked.
fn questions(run: &TermRun) -> usize {
    String::from_utf8_lossy(&run.raw).matches(PROMPT).count()
}

/// The run's problems as the snapshot tests see them: colour despite NO_COLOR, or a line
/// wider than the terminal.
fn problems(run: &TermRun) -> Vec<String> {
    let mut p: Vec<String> = run.wrapped_rows().into_iter().map(|w| format!("wider than 80:\n{w}")).collect();
    if run.has_styles() {
        p.push(format!("colour with NO_COLOR:\n{}", run.text()));
    }
    p
}

#[test]
fn fleet_apply_asks_once_and_no_changes_nothing_yes_applies_all() {
    let fleet = Fleet::start(3);
    let ws = fleet.workspace(Approvers::PerTenant, &fleet_file(3, &[]));

    let refused = apply_answering(&ws, "no\n");
    assert_eq!(refused.code, 1, "{}", refused.text());
    assert_eq!(questions(&refused), 1, "one question for every tenant:\n{}", refused.text());
    assert_eq!(problems(&refused), Vec::<String>::new());
    for i in 1..=3 {
        assert_eq!(fleet.writes(i), 0, "t{i} was changed after `no`");
        assert!(
            !ws.file(&format!("tenants/t{i}/pamform.state.json")).exists(),
            "t{i} has a state after `no`"
        );
    }
    let plan = report(&ws.run(&["fleet", "plan", "--detailed-exitcode", "--json"]).expect(2));
    assert_eq!(statuses(&plan), all(3, "changes"));

    let approved = apply_answering(&ws, "yes\n");
    assert_eq!(approved.code, 0, "{}", approved.text());
    assert_eq!(questions(&approved), 1, "one question for every tenant:\n{}", approved.text());
    assert_eq!(problems(&approved), Vec::<String>::new());
    for i in 1..=3 {
        assert!(fleet.writes(i) > 0, "t{i} was not changed after `yes`");
        assert!(ws.file(&format!("tenants/t{i}/pamform.state.json")).is_file(), "t{i} has no state");
    }
    let plan = report(&ws.run(&["fleet", "plan", "--detailed-exitcode", "--json"]).expect(0));
    assert_eq!(statuses(&plan), all(3, "in_sync"));

    crate::snap_outputs::settings().bind(|| {
        insta::assert_snapshot!("fleet_apply_answered_no", screen(&refused));
        insta::assert_snapshot!("fleet_apply_answered_yes", screen(&approved));
    });
}
