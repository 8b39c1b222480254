//! `-q` means only results and errors, `-q` with `-v` is refused, and every command's help
//! keeps the options every command takes in a "Global options" section of their own and
//! describes each of its arguments.

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::help::command_tree;
use crate::support::pamform;

#[test]
fn quiet_prints_only_results() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let validate = ws.run(&["-q", "validate"]).expect(0);
    assert_eq!((validate.stdout.as_str(), validate.stderr.as_str()), ("", ""), "{}", validate.all());
    let apply = ws.run(&["-q", "apply", "--auto-approve"]).expect(0);
    assert_eq!(
        apply.stdout,
        "Apply complete! Resources: 3 added, 1 changed, 0 destroyed.\n",
        "{}",
        apply.all()
    );
    assert_eq!(apply.stderr, "");
    // Without -q the verdict and the plan are there.
    assert!(ws.run(&["validate"]).expect(0).stderr.contains("The configuration is valid."));
    assert!(ws.run(&["apply", "--auto-approve"]).expect(0).stdout.contains("No changes."));
}

#[test]
fn quiet_and_verbose_together_are_a_usage_error() {
    let out = pamform().args(["-q", "-v", "version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'--quiet' cannot be used with '--verbose'"), "{err}");
}

#[test]
fn every_help_puts_global_options_apart() {
    let mut problems = Vec::new();
    for (path, mut cmd) in command_tree() {
        let help = cmd.render_help().to_string();
        let (own, global) = help.split_once("Global options:").unwrap_or((&help, ""));
        for flag in ["--chdir", "--color", "--quiet", "--verbose"] {
            if own.contains(flag) || !global.contains(flag) {
                problems.push(format!("pamform {}: {flag} is not under Global options", path.join(" ")));
            }
        }
        for arg in cmd.get_positionals() {
            if arg.get_help().is_none() {
                problems.push(format!("pamform {}: <{}> has no description", path.join(" "), arg.get_id()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Commands are listed by use; completions last but help.
    let top = command_tree().remove(0).1.render_help().to_string();
    let names: Vec<&str> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.first(), Some(&"validate"), "{top}");
    assert_eq!(names[names.len() - 2..], ["completions", "help"], "{top}");
}

#[test]
fn no_color_on_a_terminal_drops_colour_not_unicode() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, "approver_group \"a\" {\n  name = 1\n}\n");
    // Workspace commands run with NO_COLOR=1.
    let tty = crate::e2e_core_state::on_terminal(&ws, &["validate"], "");
    assert_eq!(tty.code, 1, "{}", tty.all());
    assert!(tty.all().contains('│') || tty.all().contains('╭'), "{}", tty.all());
    assert!(!tty.all().contains('\u{1b}'), "no colour: {}", tty.all());
    // In a pipe (a CI log), plain ASCII.
    let piped = ws.run(&["validate"]).expect(1);
    assert!(piped.stderr.is_ascii(), "{}", piped.stderr);
}

#[test]
fn a_pipe_gets_long_lines_whole() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), "approver_group \"a\" {\n  name = \"A\"\n}\n").unwrap();
    let out = pamform().arg("-C").arg(dir.path()).arg("validate").env("NO_COLOR", "1").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let help = err.lines().find(|l| l.contains("help: add `tenant")).unwrap_or_else(|| panic!("{err}"));
    assert!(help.len() > 80 && help.trim_end().ends_with("beside it)"), "wrapped in a pipe:\n{err}");
}
