//! The [`Printer`]: stdout for results, stderr for progress and diagnostics, colour that
//! respects `--color` and `NO_COLOR`, and text for people wrapped at a terminal's width
//! between words ([`wrap_indented`]), never in a pipe.

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

    /// Writes data (a state file) to stdout exactly as given: unlike [`Printer::write_out`],
    /// nothing is filtered on the way, so a DEL or C1 character inside a value reaches a pipe
    /// or file unchanged and the file still matches its checksum.
    pub fn write_data(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes).and_then(|()| out.flush());
    }

    /// Text for people on stdout (a plan, a drift report): on a terminal, a line wider than
    /// it wraps between words, its continuation indented two more than the line (never
    /// inside an id, an address or an email); in a pipe or a file every line stays whole.
    /// Never for JSON or Markdown, whose lines are data.
    pub fn write_text(&self, text: &str) {
        match self.stdout_width() {
            Some(width) => {
                let mut wrapped = wrap_indented(text, width);
                if text.ends_with('\n') {
                    wrapped.push('\n');
                }
                self.write_out(wrapped.as_bytes())
            }
            None => self.write_out(text.as_bytes()),
        }
    }

    /// Messages for people: progress, warnings, summaries.
    pub fn err(&self) -> anstream::Stderr {
        anstream::stderr()
    }

    /// Writes a line to stderr unless `--quiet`; on a terminal it wraps between words at the
    /// terminal's width (never inside an id or an address), in a pipe it stays whole.
    pub fn note(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            let line = line.to_string();
            let line = match self.stderr_width() {
                Some(width) => wrap_indented(&line, width),
                None => line,
            };
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

    /// The width of the terminal stderr writes to; `None` in a pipe or a log.
    pub fn stderr_width(&self) -> Option<usize> {
        terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| usize::from(w.0)).filter(|w| *w > 0)
    }

    /// The width of the terminal stdout writes to; `None` in a pipe or a file.
    pub fn stdout_width(&self) -> Option<usize> {
        terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0)).filter(|w| *w > 0)
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

/// `text` with each line wider than `width` broken at spaces, never at a hyphen (escape
/// codes take no width; a word wider than `width` is kept whole on its own line), and
/// continuations indented two more than their line, or under the value of an
/// `attribute = value` line (a plan's) or of a `Label     value` line (`request show`'s).
pub fn wrap_indented(text: &str, width: usize) -> String {
    text.lines()
        .map(|l| {
            // Positions are counted on the line as shown, without its escape codes.
            let plain = anstream::adapter::strip_str(l).to_string();
            let lead = plain.chars().take_while(|c| *c == ' ').count();
            let under_value = plain.find(" = ").map(|at| at + 3).filter(|at| {
                let name = plain[lead..at - 3].trim_start_matches(['+', '-', '~', '/', ' ']).trim_end();
                *at <= width / 2 && !name.is_empty() && !name.contains(' ')
            });
            let under_label = (lead == 0)
                .then(|| plain.find("  "))
                .flatten()
                .filter(|at| !plain[..*at].contains(' '))
                .map(|at| at + plain[at..].chars().take_while(|c| *c == ' ').count())
                .filter(|at| *at <= width / 4);
            let indent = " ".repeat(under_value.or(under_label).unwrap_or(lead + 2));
            let options = textwrap::Options::new(width)
                .break_words(false)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation)
                .subsequent_indent(&indent);
            textwrap::fill(l, &options)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::wrap_indented;

    #[test]
    fn a_labelled_value_wraps_under_its_value() {
        let line = "Reason     the quarterly mailbox moves for the Zurich office need to be finished tonight";
        assert_eq!(
            wrap_indented(line, 80),
            "Reason     the quarterly mailbox moves for the Zurich office need to be finished\n           tonight"
        );
    }

    #[test]
    fn escape_codes_do_not_move_the_indent() {
        let marker = crate::views::style::paint(crate::views::style::UPDATE, "~");
        let line = format!(
            "      {marker} id             = \"5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11\" -> (known after apply)"
        );
        let wrapped = wrap_indented(&line, 80);
        assert!(wrapped.ends_with("\n                         apply)"), "{wrapped:?}");
    }

    #[test]
    fn wrapped_text_keeps_its_indent() {
        let text = "    in tenant: alice@contoso.onmicrosoft.com, bob@contoso.onmicrosoft.com, carol@contoso.onmicrosoft.com\n  short";
        assert_eq!(
            wrap_indented(text, 80),
            "    in tenant: alice@contoso.onmicrosoft.com, bob@contoso.onmicrosoft.com,\n      carol@contoso.onmicrosoft.com\n  short"
        );
        let plan = "      ~ task           = \"Exchange\\\\New-MoveRequest\" -> \"Exchange\\\\New-MailboxRestoreRequest\" # forces replacement";
        assert_eq!(
            wrap_indented(plan, 80),
            "      ~ task           = \"Exchange\\\\New-MoveRequest\" ->\n                         \"Exchange\\\\New-MailboxRestoreRequest\" # forces\n                         replacement"
        );
    }

    #[test]
    fn wrapping_keeps_words_and_ids_whole() {
        let line = "Tenant contoso.onmicrosoft.com, signed in as app 5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11";
        assert_eq!(
            wrap_indented(line, 80),
            "Tenant contoso.onmicrosoft.com, signed in as app\n  5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11"
        );
        assert_eq!(wrap_indented("short\nlines", 80), "short\nlines");
        assert_eq!(
            wrap_indented("(pam-approvers@contoso.onmicrosoft.com)", 20),
            "(pam-approvers@contoso.onmicrosoft.com)"
        );
        let styled = crate::views::style::paint(crate::views::style::BOLD, "x".repeat(78));
        assert_eq!(wrap_indented(&styled, 80), styled, "escape codes take no width");
    }
}
