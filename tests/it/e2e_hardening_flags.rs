//! Absurd flag values never crash pamform: every value-taking flag and positional of every
//! command, found by walking clap's command tree, is fed huge durations, zero, negatives,
//! non-numbers, a 10,000-character string and binary junk. Each run must end as a usage
//! (or ordinary) error: exit 1, never a panic (101) or clap's own exit 2. Also: a closed
//! pipe is not an error, and a syntax error on a very long line renders.

use std::ffi::OsString;
use std::process::{Command, Stdio};

use clap::CommandFactory;

use crate::support::pamform;

fn bin() -> Command {
    let mut c = pamform();
    c.stdin(Stdio::null());
    // Nothing may leave the machine: any request a lenient value lets through fails at a
    // closed loopback port.
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"] {
        c.env(var, "http://127.0.0.1:9");
    }
    for var in [
        "PAMFORM_RETRY_BUDGET",
        "PAMFORM_TENANT_ID",
        "PAMFORM_CLIENT_ID",
        "PAMFORM_CLIENT_SECRET",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(var);
    }
    c.env("NO_COLOR", "1");
    c
}

fn junk_values() -> Vec<OsString> {
    let mut values: Vec<OsString> =
        ["18000000000000000000s", "18000000000000000000", "0", "-1", "-5s", "soon", "1e309"]
            .into_iter()
            .map(OsString::from)
            .collect();
    values.push(OsString::from("x".repeat(10_000)));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let bytes: Vec<u8> = (1..=255u8).rev().collect();
        values.push(OsString::from_vec(bytes));
    }
    values
}

/// Every leaf command as its path of names, with the clap command itself.
fn leaves(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| s.get_name() != "help").collect();
    if subs.is_empty() {
        out.push((path, cmd.clone()));
        return;
    }
    for s in subs {
        let mut p = path.clone();
        p.push(s.get_name().to_string());
        leaves(s, p, out);
    }
}

fn check(args: &[OsString], dir: &std::path::Path, runs: &mut usize) {
    let out = bin().current_dir(dir).args(args).output().expect("pamform runs");
    *runs += 1;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown: Vec<String> =
        args.iter().map(|a| a.to_string_lossy().chars().take(40).collect::<String>()).collect();
    assert!(!stderr.contains("panicked"), "pamform {shown:?} panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "pamform {shown:?} exited {:?}:\n{stderr}", out.status.code());
}

#[test]
fn every_flag_refuses_absurd_values_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut cli = pamform::cli::Cli::command();
    cli.build();
    let mut all = Vec::new();
    leaves(&cli, Vec::new(), &mut all);
    assert!(all.len() > 10, "the command tree has {} leaves", all.len());
    let mut runs = 0;
    for (path, cmd) in &all {
        // The emulator must never start serving: a non-loopback address makes it refuse
        // after the flag under test has been parsed.
        let prefix: Vec<OsString> = if path.first().map(String::as_str) == Some("emulator") {
            vec!["--listen".into(), "192.0.2.1:1".into()]
        } else {
            Vec::new()
        };
        for arg in cmd.get_arguments() {
            if !arg.get_num_args().is_some_and(|n| n.takes_values()) || arg.get_id() == "help" {
                continue;
            }
            let global = arg.is_global_set() && path.first().map(String::as_str) != Some("validate");
            if global {
                continue;
            }
            for value in junk_values() {
                let mut args: Vec<OsString> = path.iter().map(OsString::from).collect();
                if arg.get_id() != "listen" {
                    args.extend(prefix.iter().cloned());
                }
                match arg.get_long() {
                    Some(long) => {
                        let mut flag = OsString::from(format!("--{long}="));
                        flag.push(&value);
                        args.push(flag);
                    }
                    None if arg.is_positional() => {
                        args.push("--".into());
                        args.push(value);
                    }
                    None => continue,
                }
                check(&args, dir.path(), &mut runs);
            }
        }
    }
    assert!(runs > 100, "only {runs} runs");
}

#[test]
fn usage_errors_exit_1_not_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = 0;
    for args in [&["--no-such-flag"][..], &["no-such-command"], &["apply", "--parallelism", "0"], &[]] {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        check(&args, dir.path(), &mut runs);
    }
    let out = bin().args(["apply", "--lock-timeout", "18000000000000000000s"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at most"), "{stderr}");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let quickstart = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart");
    for args in [&["completions", "bash"][..], &["-C", quickstart, "validate", "--json"]] {
        let mut child = bin().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // The reader goes away before pamform writes (as `| head -c1` does after one byte).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} wrote to stderr: {stderr}");
    }
}

#[test]
fn a_syntax_error_on_a_very_long_line_renders() {
    let dir = tempfile::tempdir().unwrap();
    let quickstart = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart");
    for f in ["main.pam.hcl", "tenant.pam.hcl"] {
        std::fs::copy(format!("{quickstart}/{f}"), dir.path().join(f)).unwrap();
    }
    let line = format!("locals {{\n  x = \"{}\" + )\n}}\n", "a".repeat(200_000));
    std::fs::write(dir.path().join("long.pam.hcl"), line).unwrap();
    for command in ["validate", "fmt", "plan"] {
        let out = bin().arg("-C").arg(dir.path()).arg(command).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.contains("pamform::syntax"), "{command}: {stderr}");
        assert!(stderr.contains("column 200012"), "{command}: {stderr}");
        assert!(stderr.len() < 20_000, "{command} printed the whole line: {} bytes", stderr.len());
    }
}
