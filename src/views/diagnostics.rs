//! Diagnostics on stderr: configuration and plan diagnostics drawn by miette (with the colour
//! decision of the [`Printer`]), the line that counts the errors, and the error a command
//! ends with. What a diagnostic says, and its JSON, are [`crate::diagnostic`]'s.

use std::io::Write;

use super::Printer;
use crate::diagnostic::{self, Diagnostics};
use crate::model::{Sources, Span};

/// Sets miette's renderer with the printer's decisions: colour, Unicode, and wrapping. On a
/// terminal long lines wrap between words at its width (never inside an id, a flag or an
/// address); in a pipe or a CI log they are not wrapped at all, so nothing is split.
pub fn install(printer: &Printer) {
    let (color, unicode, wrap) = (printer.color(), printer.unicode(), printer.stderr_is_terminal());
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(unicode)
                .terminal_links(false)
                .context_lines(1)
                .wrap_lines(wrap)
                .break_words(false)
                // Lines break at spaces only: never inside a GUID, an email or a cmdlet name.
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation)
                .build(),
        )
    }));
}

/// Prints diagnostics (warnings too) to stderr through miette.
pub fn print(printer: &Printer, diagnostics: &Diagnostics, sources: &Sources) {
    let mut err = printer.err();
    let sources = &redact_secrets(sources, diagnostics.hidden());
    for d in diagnostics {
        let report = miette::Report::new(diagnostic::to_report(d, sources));
        let _ = writeln!(err, "{report:?}");
    }
}

/// Attributes that hold a credential where none belongs (a backend's account key or SAS token
/// written into the configuration, as Terraform's azurerm backend would take them). No
/// configuration attribute has these names; they are reported as unknown, and the lines
/// shown around any diagnostic never print their values.
const SECRET_ATTRIBUTES: &[&str] = &[
    "access_key",
    "sas_token",
    "client_secret",
    "client_certificate_password",
    "oidc_token",
    "oidc_request_token",
    "connection_string",
];

/// The sources as diagnostics show them: the value of every [`SECRET_ATTRIBUTES`] line, and
/// the text of every `hidden` span (a sensitive variable's value in a `*.pamvars.hcl` file or
/// its default), is replaced by `*`, byte for byte, so that every span still points where it
/// did.
fn redact_secrets(sources: &Sources, hidden: &[Span]) -> Sources {
    let mut out = Sources::new();
    for (id, file) in sources.files() {
        let mut text = String::with_capacity(file.text.len());
        for line in file.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let secret = SECRET_ATTRIBUTES.iter().any(|name| {
                trimmed.strip_prefix(name).is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            match line.find('=').filter(|_| secret) {
                Some(eq) => {
                    text.push_str(&line[..=eq]);
                    mask(&line[eq + 1..], &mut text);
                }
                None => text.push_str(line),
            }
        }
        let mut spans: Vec<&Span> = hidden.iter().filter(|s| s.file == id).collect();
        spans.sort_by_key(|s| s.start);
        for span in spans {
            let range = span.start..span.end.min(text.len());
            if let Some(value) = text.get(range.clone()) {
                let mut masked = String::with_capacity(value.len());
                mask(value, &mut masked);
                text.replace_range(range, &masked);
            }
        }
        out.add(file.path.clone(), text);
    }
    out
}

/// `value` with every character but quotes and whitespace replaced by as many `*` as it has
/// bytes: the text keeps its length and its lines.
fn mask(value: &str, out: &mut String) {
    for c in value.chars() {
        if c == '"' || c.is_whitespace() {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('*', c.len_utf8()));
        }
    }
}

/// After the diagnostics of a configuration that has errors: how many, and what to run once
/// they are fixed (`the command`, `` `pamform validate` ``).
pub fn config_rejected(printer: &Printer, errors: usize, rerun: &str) {
    let _ = writeln!(
        printer.err(),
        "{errors} error{} in the configuration; fix {} and run {rerun} again",
        if errors == 1 { "" } else { "s" },
        if errors == 1 { "it" } else { "them" }
    );
}

/// After the diagnostics of a plan that has errors.
pub fn plan_rejected(printer: &Printer, errors: usize) {
    let _ = writeln!(
        printer.err(),
        "the plan was rejected: {errors} error{}",
        if errors == 1 { "" } else { "s" }
    );
}

/// The error a command ends with, drawn by miette. Microsoft's error texts end their lines
/// with `\r\n`; a carriage return would let the next line overwrite the last on a terminal
/// and shows as `^M` in a CI log, so lines end with `\n` only.
pub fn error(printer: &Printer, report: &miette::Report) {
    let text = format!("{report:?}").replace("\r\n", "\n").replace('\r', "\n");
    let _ = writeln!(printer.err(), "{text}");
}
