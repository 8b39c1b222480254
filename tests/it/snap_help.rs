//! The help of every command, as the real binary prints it, in snapshots: in a pipe (no
//! terminal: NO_COLOR, whatever width clap picks without one) and on a terminal 80 columns
//! wide (the screen a person reads, see [`crate::support::pty`]). The commands are walked
//! from the CLI's definition, so a new command fails here until its help is snapshotted,
//! and a snapshot left from a removed command fails too. `-h` gets its own snapshots only
//! where it prints something else than `--help`.
//!
//! On the terminal the help is drawn in colour and once more with NO_COLOR: the snapshot is
//! the screen's text (the styles are stripped), the colour run must carry styles, and the
//! NO_COLOR run must carry none and draw the same text.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::help::command_tree;
use crate::support::pamform;
use crate::support::pty::{self, TermRun, Typing};

/// Every command's path below `pamform` (the root is the empty path), `help` left out.
fn command_paths() -> Vec<Vec<String>> {
    command_tree().into_iter().map(|(path, _)| path).collect()
}

/// The snapshot name of a command's help: `pamform_request_list`.
fn name(path: &[String]) -> String {
    std::iter::once("pamform")
        .chain(path.iter().map(|s| s.as_str()))
        .collect::<Vec<_>>()
        .join("_")
        .replace('-', "_")
}

fn help_command(path: &[String], flag: &str) -> Command {
    let mut cmd = pamform();
    cmd.args(path).arg(flag).env_remove("COLUMNS").env_remove("LINES").env_remove("CLICOLOR_FORCE");
    cmd
}

fn piped(path: &[String], flag: &str) -> String {
    let out = help_command(path, flag).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "pamform {} {flag}", path.join(" "));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "colour in a pipe:\n{text}");
    text
}

fn on_terminal(path: &[String], flag: &str, no_color: bool) -> TermRun {
    let mut cmd = help_command(path, flag);
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let run = pty::run(&cmd, Typing::default());
    assert_eq!(run.code, 0, "pamform {} {flag}:\n{}", path.join(" "), run.text());
    run
}

/// Runs `f` over `items` on a few threads (the binary starts fast, but there are many).
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(4).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(true);
    s.set_omit_expression(true);
    s
}

#[test]
fn help_in_a_pipe() {
    let paths = command_paths();
    let outputs = parallel(&paths, |p| (piped(p, "--help"), piped(p, "-h")));
    settings().bind(|| {
        for (path, (long, short)) in paths.iter().zip(outputs) {
            insta::assert_snapshot!(format!("{}__pipe", name(path)), long);
            if short != long {
                insta::assert_snapshot!(format!("{}__pipe_short", name(path)), short);
            }
        }
    });
}

#[test]
fn help_on_an_80_column_terminal() {
    let paths = command_paths();
    let runs = parallel(&paths, |p| {
        let short_differs = piped(p, "-h") != piped(p, "--help");
        let flags: &[&str] = if short_differs { &["--help", "-h"] } else { &["--help"] };
        flags.iter().map(|f| (*f, on_terminal(p, f, false), on_terminal(p, f, true))).collect::<Vec<_>>()
    });
    let mut problems = Vec::new();
    settings().bind(|| {
        for (path, runs) in paths.iter().zip(runs) {
            for (flag, colour, plain) in runs {
                let what = format!("pamform {} {flag}", path.join(" "));
                if !colour.has_styles() {
                    problems.push(format!("{what}: no colour on a terminal"));
                }
                if plain.has_styles() {
                    problems.push(format!("{what}: colour with NO_COLOR"));
                }
                if colour.text() != plain.text() {
                    problems.push(format!("{what}: NO_COLOR draws other text:\n{}", plain.text()));
                }
                for w in colour.wrapped_rows() {
                    problems.push(format!("{what}: a line wider than 80 columns:\n{w}"));
                }
                let suffix = if flag == "-h" { "__terminal_short" } else { "__terminal" };
                insta::assert_snapshot!(format!("{}{suffix}", name(path)), colour.text());
            }
        }
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A snapshot of the help of a command that no longer exists fails: it would be kept and
/// read for nothing.
#[test]
fn every_help_snapshot_belongs_to_a_command() {
    let names: BTreeSet<String> = command_paths().iter().map(|p| name(p)).collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix("it__snap_help__") else { continue };
        let command = rest.split("__").next().unwrap_or_default();
        if !names.contains(command) {
            stale.push(file);
        }
    }
    assert!(stale.is_empty(), "snapshots of no command (remove them): {stale:?}");
}
