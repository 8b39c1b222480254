//! The README's "Just-in-time access" walkthrough, run as written: its shell block is taken
//! from README.md and run by bash in an empty directory, with only the port changed (a free
//! one for 8740) and `pamform` on `PATH` being this build. The browser step of each `pamform
//! login` is done as its comment says (enter the code, Next; pick the user, Next; Continue) by
//! posting the sign-in page's forms. So the README cannot rot: a second user approving
//! included.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::emulator_ux_support::Browser;
use crate::support::PAMFORM;

const README: &str = include_str!("../../README.md");

/// The first ```sh block of the section `heading`.
fn shell_block(heading: &str) -> String {
    let start = README.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("README has {heading}"));
    let section = &README[start + 1..];
    let section = &section[..section[3..].find("\n## ").map(|i| i + 3).unwrap_or(section.len())];
    let open = section.find("```sh\n").expect("the section has a shell block") + "```sh\n".len();
    let len = section[open..].find("\n```").expect("the block ends");
    section[open..open + len + 1].to_string()
}

/// The user each `pamform login` line's comment says to pick, in order.
fn users_to_pick(script: &str) -> Vec<(String, String)> {
    script
        .lines()
        .filter(|l| l.trim_start().starts_with("pamform login"))
        .map(|l| {
            let comment = l.split_once('#').map(|(_, c)| c).expect("a login line says what to click");
            let user =
                comment.split("pick ").nth(1).and_then(|r| r.split([',', ' ']).next()).expect("names a user");
            let decision = if comment.contains("Continue") { "continue" } else { "cancel" };
            (user.to_string(), decision.to_string())
        })
        .collect()
}

/// Stops the process group the script runs in (the server it started in the background
/// included).
fn stop(group: u32) {
    let _ = Command::new("kill").args(["-TERM", "--", &format!("-{group}")]).status();
}

/// Stops the script's process group when the test ends, passed or failed.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        stop(self.0);
    }
}

#[test]
fn the_readme_request_walkthrough_works_as_written() {
    let script = shell_block("## Just-in-time access");
    assert!(script.contains("127.0.0.1:8740"), "the walkthrough serves on 8740:\n{script}");
    let users = users_to_pick(&script);
    assert_eq!(users.len(), 2, "a requestor and an approver sign in:\n{script}");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script = script.replace("127.0.0.1:8740", &format!("127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(PAMFORM, bin.join("pamform")).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(dir.path().join("walkthrough.sh"), &script).unwrap();

    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("bash");
    cmd.arg("-e")
        .arg(dir.path().join("walkthrough.sh"))
        .current_dir(&work)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("bash runs");
    let group = child.id();
    let _guard = Group(group);

    let (tx, rx) = mpsc::channel::<String>();
    let read = |stream: Box<dyn std::io::Read + Send>, tx: mpsc::Sender<String>| {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()), tx.clone());
    let err = read(Box::new(child.stderr.take().unwrap()), tx);

    let browser = Browser::new();
    let mut pending = users.into_iter();
    let mut seen = Vec::new();
    let mut idle = Duration::ZERO;
    let mut status = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                idle = Duration::ZERO;
                if let (Some(page), Some(code)) =
                    (line.split("open the page ").nth(1), line.split("enter the code ").nth(1))
                {
                    let url = page.split_whitespace().next().unwrap();
                    let code = code.split_whitespace().next().unwrap();
                    let (user, decision) = pending.next().expect("a login the README explains");
                    let done = browser.sign_in(url, code, &user, &decision);
                    assert!(done.body.contains("You have signed in"), "{}", done.body);
                }
                seen.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The script ended (a failed step stops it before `kill %1`): stop what it
                // left running, then read the rest.
                if status.is_none()
                    && let Some(s) = child.try_wait().unwrap()
                {
                    status = Some(s);
                    stop(group);
                }
                idle += Duration::from_millis(500);
                assert!(idle < Duration::from_secs(60), "the walkthrough stalled:\n{}", seen.join("\n"));
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => child.wait().unwrap(),
    };
    out.join().unwrap();
    err.join().unwrap();
    let all = seen.join("\n");
    assert!(status.success(), "the walkthrough failed ({status}):\n{all}");
    assert_eq!(pending.next(), None, "every login was signed in:\n{all}");
    for expected in [
        "Apply complete!",
        "Signed in as dave@contoso.onmicrosoft.com",
        "Signed in as alice@contoso.onmicrosoft.com",
        "Exchange\\New-MoveRequest",
    ] {
        assert!(all.contains(expected), "{expected}:\n{all}");
    }
    let approved = all.lines().filter(|l| l.to_lowercase().contains("approved")).count();
    assert!(approved >= 2, "approve and wait say approved:\n{all}");
}
