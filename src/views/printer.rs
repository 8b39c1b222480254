//! The [`Printer`]: stdout for results, stderr for progress and diagnostics, colour that
//! respects `--color` and `NO_COLOR`.

// The one module that writes to stdout and stderr (clippy.toml refuses it elsewhere).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{IsTerminal, Write};

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorMode {
    #[default]
    Auto,
    Always,
    Never,
}

/// The one way output leaves the program.
#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
    verbose: bool,
    color: bool,
}

impl Printer {
    /// Sets the process-wide colour choice (anstream strips styles when colour is off, which
    /// covers `NO_COLOR`, `CLICOLOR_FORCE` and pipes) and returns a printer.
    pub fn new(mode: ColorMode, quiet: bool, verbose: bool) -> Self {
        let choice = match mode {
            ColorMode::Auto => anstream::ColorChoice::Auto,
            ColorMode::Always => anstream::ColorChoice::Always,
            ColorMode::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
        let color = !matches!(anstream::stderr().current_choice(), anstream::ColorChoice::Never);
        Printer { quiet, verbose, color }
    }

    /// A printer for tests and library callers: no colour, no progress.
    pub fn plain() -> Self {
        Printer { quiet: true, verbose: false, color: false }
    }

    /// Results: plans, reports, JSON. Never suppressed by `--quiet`.
    pub fn out(&self) -> anstream::Stdout {
        anstream::stdout()
    }

    /// Writes `bytes` to stdout. A failed write (a reader that closed the pipe, as `head`
    /// does) is not an error: the reader has what it wanted.
    pub fn write_out(&self, bytes: &[u8]) {
        let mut out = self.out();
        let _ = out.write_all(bytes).and_then(|()| out.flush());
    }

    /// Messages for people: progress, warnings, summaries.
    pub fn err(&self) -> anstream::Stderr {
        anstream::stderr()
    }

    /// Writes a line to stderr unless `--quiet`.
    pub fn note(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            let _ = writeln!(self.err(), "{line}");
        }
    }

    /// Writes a line to stderr only with `--verbose`.
    pub fn debug(&self, line: impl std::fmt::Display) {
        if self.verbose {
            let _ = writeln!(self.err(), "{line}");
        }
    }

    /// Warnings Exchange returned with cmdlet results, each as `WARNING: Cmdlet: text` on
    /// stderr, as the Exchange Online PowerShell module shows them. Shown even with
    /// `--quiet`: a warning can say that a write did less than asked.
    pub fn exchange_warnings(&self, warnings: &[String]) {
        let mut err = self.err();
        for w in warnings {
            let _ = writeln!(err, "WARNING: {w}");
        }
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// Whether stderr gets colour (for renderers that pick styles themselves).
    pub fn color(&self) -> bool {
        self.color
    }

    /// Whether diagnostics may draw with box-drawing characters: on a terminal, or when colour
    /// is forced. `NO_COLOR` drops colour only; a pipe or a log file gets plain ASCII.
    pub fn unicode(&self) -> bool {
        self.color || self.stderr_is_terminal()
    }

    /// Whether stderr is a terminal (whose width text may wrap at); a pipe or a CI log is
    /// not, and gets long lines whole.
    pub fn stderr_is_terminal(&self) -> bool {
        std::io::stderr().is_terminal()
    }

    /// Whether progress (spinners, bars) should be drawn: stderr is a terminal and not quiet.
    pub fn show_progress(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }

    /// Whether stdout is a terminal (a person reads it) rather than a pipe or a file.
    pub fn stdout_is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    pub fn stdin_is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }
}
