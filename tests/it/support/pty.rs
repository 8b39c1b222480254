//! The real binary on a pseudo-terminal of a known width, and the screen a person would read.
//!
//! The terminal comes from util-linux `script` (as in the prompt tests; `.ci/run` installs
//! bsdutils), sized with `stty` before pamform starts, so pamform, clap and miette all see an
//! 80-column terminal. What pamform writes there is replayed through a terminal emulator
//! (the `vt100` crate): the snapshot is the screen once pamform exits, so spinners that
//! were cleared leave nothing, and a line longer than the terminal wraps where the terminal
//! wraps it, as a person sees it, mid-word if that is what pamform sent.
//!
//! [`TermRun::styled`] writes the screen with its colours and weights as `<red+bold>…</>`
//! marks (one mark per change of style, blanks left out of them), so that a snapshot shows
//! what is coloured without the escape codes that would make it unreadable.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The width of the terminal the snapshots are taken on.
pub const COLS: u16 = 80;

/// Rows of the emulated screen: tall enough that nothing pamform prints scrolls away.
const SCREEN_ROWS: u16 = 2000;

/// The longest a run may take before the test gives up on it (a hung run, not a slow one).
const GIVE_UP: Duration = Duration::from_secs(120);

/// Panics unless util-linux `script` is there: without a terminal the tests would check
/// nothing.
fn require_script() {
    let probe = Command::new("script").arg("--version").output();
    match probe {
        Ok(p) if p.status.success() && String::from_utf8_lossy(&p.stdout).contains("util-linux") => {}
        _ => panic!("util-linux `script` is needed to run pamform on a terminal: install bsdutils"),
    }
}

/// `s` quoted for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// One run on the terminal.
pub struct TermRun {
    pub code: i32,
    /// The bytes pamform wrote, escape codes and all.
    pub raw: Vec<u8>,
    parser: vt100::Parser,
}

/// How a run on the terminal is driven.
#[derive(Default)]
pub struct Typing<'a> {
    /// Type `answer` once the screen shows `after` (a prompt): typing earlier would echo
    /// the answer before the prompt is drawn.
    pub after: Option<&'a str>,
    pub answer: &'a str,
}

/// Runs `cmd` (program, arguments, environment and directory) on a terminal [`COLS`] wide
/// with `TERM=xterm-256color`; `COLUMNS` and `LINES` are removed so that only the terminal
/// tells the width, and `CLICOLOR`/`CLICOLOR_FORCE` so that only `NO_COLOR` (which `cmd`
/// sets or removes) decides the colour.
pub fn run(cmd: &Command, typing: Typing<'_>) -> TermRun {
    require_script();
    let mut line =
        format!("stty cols {COLS} rows 50 && exec {}", quote(&cmd.get_program().to_string_lossy()));
    for a in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(&a.to_string_lossy()));
    }
    let mut script = Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    script.env_remove("COLUMNS").env_remove("LINES").env_remove("CLICOLOR").env_remove("CLICOLOR_FORCE");
    script.env("TERM", "xterm-256color");
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    script.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = script.spawn().expect("script starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let raw = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let raw = Arc::clone(&raw);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    if let Some(prompt) = typing.after {
        let start = Instant::now();
        while !String::from_utf8_lossy(&raw.lock().unwrap()).contains(prompt) {
            if start.elapsed() > GIVE_UP || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `{prompt}` on the terminal:\n{}", String::from_utf8_lossy(&raw.lock().unwrap()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // The terminal keeps what is typed until pamform reads it; stdin stays open until pamform
    // exits, so `script` never sees the end of its input first.
    stdin.write_all(typing.answer.as_bytes()).expect("typing into the terminal");
    stdin.flush().unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let raw = std::mem::take(&mut *raw.lock().unwrap());
    let rows = std::num::NonZeroU16::new(SCREEN_ROWS).unwrap();
    let cols = std::num::NonZeroU16::new(COLS).unwrap();
    let mut parser = vt100::Parser::new(rows, cols, 0);
    parser.process(&raw);
    TermRun { code: status.code().unwrap_or(-1), raw, parser }
}

impl TermRun {
    /// The screen as text: one line per terminal row, trailing blanks and blank rows
    /// dropped.
    pub fn text(&self) -> String {
        let rows: Vec<String> =
            self.parser.screen().rows(0, COLS).map(|r| r.trim_end().to_string()).collect();
        finish(rows)
    }

    /// The screen with its styles marked: `<red+bold>text</>`. Blanks carry no style: a mark
    /// closes before the blanks that follow it, unless the same style goes on after them.
    pub fn styled(&self) -> String {
        let screen = self.parser.screen();
        let mut rows = Vec::new();
        for row in 0..SCREEN_ROWS {
            let mut line = String::new();
            let mut current = String::new();
            let mut blanks = String::new();
            for col in 0..COLS {
                let Some(cell) = screen.cell(row, col) else { break };
                if cell.is_wide_continuation() {
                    continue;
                }
                let text = if cell.has_contents() { cell.contents() } else { " " };
                if text.trim().is_empty() {
                    blanks.push_str(text);
                    continue;
                }
                let style = style_of(cell);
                if style != current {
                    if !current.is_empty() {
                        line.push_str("</>");
                    }
                    line.push_str(&blanks);
                    if !style.is_empty() {
                        line.push_str(&format!("<{style}>"));
                    }
                    current = style;
                } else {
                    line.push_str(&blanks);
                }
                blanks.clear();
                line.push_str(text);
            }
            if !current.is_empty() {
                line.push_str("</>");
            }
            rows.push(line);
        }
        finish(rows)
    }

    /// The rows the terminal had to wrap because pamform sent a line wider than it, each
    /// with the row that continues it: at 80 columns a line should end before the edge.
    pub fn wrapped_rows(&self) -> Vec<String> {
        let screen = self.parser.screen();
        let rows: Vec<String> = screen.rows(0, COLS).collect();
        (0..SCREEN_ROWS)
            .filter(|r| screen.row_wrapped(*r))
            .map(|r| {
                format!(
                    "{}\n{}",
                    rows[r as usize],
                    rows.get(r as usize + 1).map(String::as_str).unwrap_or("")
                )
            })
            .collect()
    }

    /// Whether the bytes carry any colour or weight (SGR) escape code.
    pub fn has_styles(&self) -> bool {
        let raw = String::from_utf8_lossy(&self.raw);
        raw.split('\u{1b}').skip(1).any(|seq| {
            let Some(rest) = seq.strip_prefix('[') else { return false };
            let end = rest.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(rest.len());
            rest[end..].starts_with('m') && !matches!(&rest[..end], "" | "0")
        })
    }
}

fn style_of(cell: &vt100::Cell) -> String {
    let mut parts = Vec::new();
    match cell.fgcolor() {
        vt100::Color::Default => {}
        vt100::Color::Idx(i) => parts.push(color_name(i)),
        vt100::Color::Rgb(r, g, b) => parts.push(format!("#{r:02x}{g:02x}{b:02x}")),
    }
    if cell.bold() {
        parts.push("bold".into());
    }
    if cell.dim() {
        parts.push("dim".into());
    }
    if cell.italic() {
        parts.push("italic".into());
    }
    if cell.underline() {
        parts.push("underline".into());
    }
    parts.join("+")
}

fn color_name(i: u8) -> String {
    const NAMES: [&str; 8] = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];
    match i {
        0..8 => NAMES[i as usize].to_string(),
        8..16 => format!("bright-{}", NAMES[i as usize - 8]),
        _ => format!("color{i}"),
    }
}

fn finish(mut rows: Vec<String>) -> String {
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    let mut text = rows.join("\n");
    text.push('\n');
    text
}
