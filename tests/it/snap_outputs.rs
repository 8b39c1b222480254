//! What people read from the main commands, in snapshots, three ways each: in a pipe (a CI
//! log: NO_COLOR, stdout and stderr apart), and on a terminal 80 columns wide in colour and
//! with NO_COLOR (see [`crate::support::pty`]: the screen once pamform exits, stdout and
//! stderr mixed as a person sees them).
//!
//! Colour on the terminal is kept, as marks: the colour snapshots show the screen with
//! `<green>…</>`, `<bold>…</>` where the style changes (never the escape codes themselves);
//! the NO_COLOR snapshots are the plain screen and must carry no style at all. A pipe must
//! get no escape code and no carriage return (no spinner), and no terminal line may be wider
//! than 80 columns (the terminal would break it where it falls, mid-word).
//!
//! Covered: `plan` (creates; then updates, a replacement, a delete and security-relevant
//! changes), `apply` (auto-approved progress and summary; the prompt on a terminal),
//! `drift` (clean; findings of several severities and an unmanaged policy), `request list`
//! and `request show` (pending, approved, denied; `--json` in the pipe), and errors (a
//! configuration error with its source, a tenant that refuses the credentials, a refused
//! request). Each group runs against its own emulator on 127.0.0.1, the three ways in
//! parallel; what varies between runs (ids, times, ports, temporary paths, durations) is
//! redacted by filters, the layout kept, and `apply`'s progress lines, which come in the
//! order operations finish, are sorted within their block.

use std::process::Command;

use pamform::wire::exchange::cmdlet;
use serde_json::json;

use crate::e2e_requests::{MOVE, World};
use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::pty::{self, Typing};
use crate::support::upn;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Pipe,
    Colour,
    Plain,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Pipe, Mode::Colour, Mode::Plain];

    fn suffix(self) -> &'static str {
        match self {
            Mode::Pipe => "pipe",
            Mode::Colour => "terminal_colour",
            Mode::Plain => "terminal_no_color",
        }
    }
}

/// The snapshots of one way of running, taken in order, and what was wrong with them.
struct Shots {
    mode: Mode,
    taken: Vec<(String, String)>,
    problems: Vec<String>,
}

impl Shots {
    fn new(mode: Mode) -> Shots {
        Shots { mode, taken: Vec::new(), problems: Vec::new() }
    }

    /// Runs `cmd` this way and keeps what it showed as `name`, expecting exit code `code`.
    /// On a terminal `typing` answers a prompt; in a pipe nothing is typed.
    fn take(&mut self, name: &str, mut cmd: Command, typing: Typing<'_>, expected: i32) -> String {
        cmd.env("TZ", "UTC");
        let (code, text) = match self.mode {
            Mode::Pipe => {
                let out = cmd.env("NO_COLOR", "1").output().unwrap();
                let (stdout, stderr) =
                    (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                    if text.contains('\u{1b}') || text.contains('\r') {
                        self.problems
                            .push(format!("{name}: escape codes or \\r on {stream} in a pipe:\n{text:?}"));
                    }
                }
                let code = out.status.code().unwrap_or(-1);
                (code, format!("--- stdout\n{stdout}--- stderr\n{stderr}"))
            }
            Mode::Colour | Mode::Plain => {
                if self.mode == Mode::Colour {
                    cmd.env_remove("NO_COLOR");
                } else {
                    cmd.env("NO_COLOR", "1");
                }
                let run = pty::run(&cmd, typing);
                if self.mode == Mode::Plain && run.has_styles() {
                    self.problems.push(format!("{name}: colour with NO_COLOR:\n{}", run.text()));
                }
                for w in run.wrapped_rows() {
                    self.problems.push(format!("{name}: a line wider than 80 columns:\n{w}"));
                }
                let text = if self.mode == Mode::Colour { run.styled() } else { run.text() };
                (run.code, text)
            }
        };
        let text = if name.starts_with("apply") { sort_progress(&text) } else { text };
        if code != expected {
            self.problems.push(format!("{name}: exit {code}, not {expected}:\n{text}"));
        }
        self.taken.push((name.to_string(), format!("exit {code}\n{text}")));
        text
    }
}

/// `apply`'s progress lines grouped by address within each run of them, each address's
/// lines in the order they came (a wrapped line keeps its continuation): operations run
/// concurrently, and settling holds no parallelism slot, so lines of different resources
/// interleave in any order even one at a time; one resource's lines keep their order.
fn sort_progress(text: &str) -> String {
    // `address: ` or `<bold>address</>: ` at the start of a line.
    let is_progress = |line: &str| {
        let line = line.strip_prefix("<bold>").unwrap_or(line);
        let Some((address, _)) = line.split_once(": ") else { return false };
        let address = address.strip_suffix("</>").unwrap_or(address);
        !address.is_empty() && address.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
    };
    let address = |entry: &String| {
        entry.trim_start_matches("<bold>").split([':', '<']).next().unwrap_or("").to_string()
    };
    let mut entries: Vec<(bool, String)> = Vec::new();
    for line in text.lines() {
        match entries.last_mut() {
            Some((true, last)) if line.starts_with("  ") && !line.trim().is_empty() => {
                last.push('\n');
                last.push_str(line);
            }
            _ => entries.push((is_progress(line), line.to_string())),
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for (progress, entry) in entries {
        if progress {
            run.push(entry);
            continue;
        }
        run.sort_by_key(address);
        out.append(&mut run);
        out.push(entry);
    }
    run.sort_by_key(address);
    out.append(&mut run);
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

/// Runs `story` the three ways at once (each with its own emulator when it starts one),
/// then checks every snapshot, and fails with every problem found.
fn three_ways(story: impl Fn(&mut Shots) + Sync) {
    let shots: Vec<Shots> = std::thread::scope(|s| {
        let handles: Vec<_> = Mode::ALL
            .into_iter()
            .map(|m| {
                let story = &story;
                s.spawn(move || {
                    let mut shots = Shots::new(m);
                    story(&mut shots);
                    shots
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    check(shots);
}

fn check(shots: Vec<Shots>) {
    let mut problems = Vec::new();
    settings().bind(|| {
        for s in shots {
            problems.extend(s.problems);
            for (name, text) in s.taken {
                insta::assert_snapshot!(format!("{name}__{}", s.mode.suffix()), text);
            }
        }
    });
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// What varies between runs, redacted; the layout is kept (lines are not re-wrapped).
pub(crate) fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(true);
    s.set_omit_expression(true);
    for (re, with) in [
        // Ids keep their width, so that columns and wrapping stay as they were.
        (
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            "########-####-####-####-############",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"(/[\w.-]+)*/\.tmp[\w]{6}", "[TMP]"),
        (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z| ?[+-]\d{2}:\d{2})?", "[TIME]"),
        (r"\b[A-Z][a-z]{2} \d{2} \d{2}:\d{2}\b", "[TIME]"),
        (r"\b\d{2}:\d{2}\b", "[HH:MM]"),
        (r"\b\d+h \d+m\b|\b\d+h\b|\b\d+m\b|under a minute", "[DURATION]"),
        (r"after \d+s\b", "after [N]s"),
        (r#""remaining_seconds": \d+"#, r#""remaining_seconds": [N]"#),
        (r"\[\d+s elapsed\]", "[[N]s elapsed]"),
        (r"\b(request|Request|request wait) [0-9a-f]{8}\b", "$1 ########"),
        (r"(?m)^[0-9a-f]{8}  ", "########  "),
    ] {
        s.add_filter(re, with);
    }
    s
}

/// The quickstart with one more policy (to delete later).
fn first_configuration() -> String {
    format!(
        "{QUICKSTART}\naccess_policy \"import\" {{\n  task           = \"Exchange\\\\New-MailboxImportRequest\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers\n}}\n"
    )
}

/// The second configuration: carol joins the approvers (update, security), the move policy
/// gates another task (replacement), Set-Mailbox is approved automatically (update,
/// security) and the import policy is gone (delete).
fn second_configuration() -> String {
    QUICKSTART
        .replace(
            "\"bob@contoso.onmicrosoft.com\"]",
            "\"bob@contoso.onmicrosoft.com\", \"carol@contoso.onmicrosoft.com\"]",
        )
        .replace("Exchange\\\\New-MoveRequest", "Exchange\\\\New-MailboxRestoreRequest")
        .replacen(
            "task           = \"Exchange\\\\Set-Mailbox\"\n  approval       = \"manual\"",
            "task           = \"Exchange\\\\Set-Mailbox\"\n  approval       = \"auto\"",
            1,
        )
}

/// `apply` without a question in a pipe, answering its prompt on a terminal.
fn apply(shots: &mut Shots, name: &str, ws: &Workspace) {
    match shots.mode {
        Mode::Pipe => shots.take(name, ws.command(&["apply", "--auto-approve"]), Typing::default(), 0),
        _ => shots.take(
            name,
            ws.command(&["apply"]),
            Typing { after: Some("Enter a value: "), answer: "yes\n" },
            0,
        ),
    };
}

#[test]
fn plan_apply_and_drift() {
    three_ways(|shots| {
        let tenant = Tenant::start();
        let ws = Workspace::new(&tenant, &first_configuration());
        shots.take("plan_creates", ws.command(&["plan"]), Typing::default(), 0);
        let auto = ws.command(&["apply", "--auto-approve"]);
        shots.take("apply_auto_approved", auto, Typing::default(), 0);
        shots.take("drift_clean", ws.command(&["drift"]), Typing::default(), 0);

        ws.configure(&tenant, &second_configuration());
        shots.take("plan_changes", ws.command(&["plan"]), Typing::default(), 0);
        apply(shots, "apply_changes", &ws);

        // Out of band: PAM switched off (critical), an approver added (high), a policy
        // nobody manages (info).
        tenant.invoke(cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL, json!({}));
        tenant.invoke(
            cmdlet::ADD_GROUP_MEMBER,
            json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
        );
        tenant.invoke(
            cmdlet::NEW_POLICY,
            json!({"Task": "Exchange\\New-TransportRule", "ApprovalType": "Manual",
                   "ApproverGroup": "pam-approvers@contoso.onmicrosoft.com"}),
        );
        shots.take("drift_findings", ws.command(&["drift"]), Typing::default(), 2);
    });
}

#[test]
fn errors() {
    three_ways(|shots| {
        let tenant = Tenant::start();
        let broken = Workspace::new(
            &tenant,
            "approver_group \"approvers\" {\n  name    = 1\n  email   = \"pam-approvers@contoso.onmicrosoft.com\"\n  membres = []\n}\n",
        );
        shots.take("error_configuration", broken.command(&["plan"]), Typing::default(), 1);
        let ws = Workspace::new(&tenant, QUICKSTART);
        let mut wrong = ws.command(&["plan"]);
        wrong.env("PAMFORM_CLIENT_SECRET", "not-the-secret");
        shots.take("error_tenant_credentials", wrong, Typing::default(), 1);
    });
}

#[test]
fn requests() {
    let w = World::new();
    let dave = w.login("dave", &upn("dave"));
    let alice = w.login("alice", &upn("alice"));
    // A minute apart: the list is newest first, and requests made in the same instant would
    // come in the order of their random ids.
    let pending = w.new_request(&dave, MOVE, "4");
    w.tenant.advance_clock(60);
    let approved = w.new_request(&dave, "Exchange\\Set-Mailbox", "2");
    let comment = "checked against ticket 4711: the Zurich office moves its mailboxes tonight, as planned";
    w.run(&alice, &["request", "approve", &approved, "--comment", comment]).expect(0);
    w.tenant.advance_clock(60);
    let denied = w.new_request(&dave, MOVE, "1");
    w.run(&alice, &["request", "deny", &denied, "--comment", "not today"]).expect(0);

    // The commands are made here (the world is not shared between threads), run the three
    // ways at once.
    let commands = |mode: Mode| {
        let mut c = vec![
            ("request_list_all", w.command(&alice, &["request", "list", "--all"])),
            ("request_list_pending", w.command(&alice, &["request", "list", "--pending"])),
            ("request_show_pending", w.command(&dave, &["request", "show", &pending])),
            ("request_show_approved", w.command(&dave, &["request", "show", &approved])),
            ("request_show_denied", w.command(&dave, &["request", "show", &denied])),
            ("error_request_refused", w.command(&dave, &["request", "approve", &pending])),
        ];
        if mode == Mode::Pipe {
            c.push(("request_list_all_json", w.command(&alice, &["request", "list", "--all", "--json"])));
            c.push((
                "request_show_approved_json",
                w.command(&dave, &["request", "show", &approved, "--json"]),
            ));
        }
        c
    };
    let work: Vec<_> = Mode::ALL.into_iter().map(|m| (Shots::new(m), commands(m))).collect();
    let shots: Vec<Shots> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|(mut shots, commands)| {
                s.spawn(move || {
                    for (name, cmd) in commands {
                        let expected = if name.starts_with("error_") { 1 } else { 0 };
                        shots.take(name, cmd, Typing::default(), expected);
                    }
                    shots
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Then one request made and approved each way, in turn: what `new` and `approve` say.
    let mut shots = shots;
    for shots in shots.iter_mut() {
        let new = w.command(
            &dave,
            &["request", "new", "--task", MOVE, "--hours", "2", "--reason", "the Zurich moves"],
        );
        let said = shots.take("request_new", new, Typing::default(), 0);
        let id = guid_in(&said).unwrap_or_else(|| panic!("no request id in:\n{said}"));
        let approve = w.command(&alice, &["request", "approve", &id, "--comment", comment]);
        shots.take("request_approve", approve, Typing::default(), 0);
    }
    check(shots);
}

/// The first GUID in `text`.
fn guid_in(text: &str) -> Option<String> {
    let shape = |s: &str| {
        s.len() == 36
            && s.char_indices()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
    };
    text.char_indices().filter_map(|(i, _)| text.get(i..i + 36)).find(|s| shape(s)).map(str::to_string)
}
