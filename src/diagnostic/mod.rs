//! Diagnostics: what went wrong (or looks wrong) in a configuration or in what it asks of
//! the tenant, with a stable code ([`codes`]), the exact source span and a hint. Any stage
//! may build them from model spans (the language, the plan, the plan-time checks); rendering
//! turns them into miette reports for people and JSON objects for tools, one way for all.

pub mod codes;

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::model::{Sources, Span};

/// How bad a diagnostic is: errors fail the run, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// What stands for a value that comes from a `sensitive = true` variable, in diagnostics and
/// in every human rendering.
pub const REDACTED: &str = "(sensitive value)";

/// A span with the text shown under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One problem found in the configuration (or at plan time, in what it asks for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, descriptive code such as `pamform::unknown_attribute` (see [`codes`]).
    pub code: String,
    pub message: String,
    /// The offending span; `None` for problems that concern no text (e.g. an empty directory).
    pub primary: Option<Label>,
    /// Further spans that explain the problem (the first definition of a duplicate, ...).
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code: code.into(),
            message: message.into(),
            primary: None,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    /// Sets the primary label the first time; later calls add extra labels.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        let label = Label { span, text: text.into() };
        if self.primary.is_none() {
            self.primary = Some(label);
        } else {
            self.labels.push(label);
        }
        self
    }

    /// Adds a secondary label (the primary stays as it is).
    pub fn with_extra_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: text.into() });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, if any.
    pub fn span(&self) -> Option<Span> {
        self.primary.as_ref().map(|l| l.span)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Every diagnostic of one run, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// Source text that holds a sensitive value: never drawn in a snippet, whichever
    /// diagnostic's lines include it.
    hidden: Vec<Span>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Sorts by file and position (stable for equal positions), the order people read them in.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| d.span().map(|s| (s.file, s.start)));
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Marks `span` as holding a sensitive value, which snippets must not draw.
    pub fn hide(&mut self, span: Span) {
        if span.start < span.end && !self.hidden.contains(&span) {
            self.hidden.push(span);
        }
    }

    /// The spans [`Diagnostics::hide`] marked.
    pub fn hidden(&self) -> &[Span] {
        &self.hidden
    }

    /// Replaces every occurrence of each of `values` in the texts (message, labels, help) of
    /// every diagnostic with [`REDACTED`].
    pub fn redact(&mut self, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let scrub = |text: &mut String| {
            for v in values {
                if text.contains(v.as_str()) {
                    *text = text.replace(v.as_str(), REDACTED);
                }
            }
        };
        for d in self.items.iter_mut() {
            scrub(&mut d.message);
            if let Some(h) = d.help.as_mut() {
                scrub(h);
            }
            for l in d.primary.iter_mut().chain(d.labels.iter_mut()) {
                scrub(&mut l.text);
            }
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d], hidden: Vec::new() }
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(items: Vec<Diagnostic>) -> Self {
        Diagnostics { items, hidden: Vec::new() }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// A [`Diagnostic`] bound to its source text, ready for miette. Labels in other files than
/// the primary one become related reports, each with its own source.
#[derive(Debug)]
pub struct Report {
    severity: miette::Severity,
    code: String,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() { None } else { Some(Box::new(self.labels.iter().cloned())) }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
        }
    }
}

/// Lines longer than this (in bytes) are shown clipped around the label.
const LONG_LINE: usize = 1_000;
/// Bytes kept on each side of the label in a clipped line.
const CLIP_WINDOW: usize = 120;

/// A file's text as the renderer sees it: long lines clipped to a window around the
/// labels on them (the renderer cannot draw lines of any length), with the map from
/// offsets in the file to offsets in the shown text. Line numbers stay as they are.
struct Shown {
    name: String,
    text: Arc<str>,
    /// `(start in the file, end in the file, start in the shown text)` of each kept piece.
    pieces: Vec<(usize, usize, usize)>,
}

impl Shown {
    fn new(sources: &Sources, file: crate::model::FileId, points: &[usize]) -> Shown {
        let source = sources.get(file);
        let name = source.path.display().to_string();
        let text = &source.text;
        if !text.split('\n').any(|l| l.len() > LONG_LINE) {
            return Shown { name, text: text.clone(), pieces: Vec::new() };
        }
        let mut out = String::with_capacity(text.len().min(1 << 20));
        let mut pieces = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let end = start + line.len();
            let content_end = start + line.trim_end_matches(['\n', '\r']).len();
            if line.len() <= LONG_LINE {
                pieces.push((start, end, out.len()));
                out.push_str(line);
            } else {
                let centre =
                    points.iter().copied().find(|p| (start..=content_end).contains(p)).unwrap_or(start);
                let mut from = centre.saturating_sub(CLIP_WINDOW).max(start);
                let mut to = centre.saturating_add(CLIP_WINDOW).min(content_end);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                while !text.is_char_boundary(to) {
                    to += 1;
                }
                if from > start {
                    out.push_str("...");
                }
                pieces.push((from, to, out.len()));
                out.push_str(&text[from..to]);
                if to < content_end {
                    out.push_str("...");
                }
                out.push_str(&text[content_end..end]);
            }
            start = end;
        }
        Shown { name, text: Arc::from(out), pieces }
    }

    /// Where a file offset is in the shown text (clamped into the nearest kept piece).
    fn offset(&self, at: usize) -> usize {
        if self.pieces.is_empty() {
            return at.min(self.text.len());
        }
        let i = self.pieces.partition_point(|&(start, _, _)| start <= at).saturating_sub(1);
        let (start, end, shown) = self.pieces[i];
        shown + at.clamp(start, end) - start
    }

    fn span(&self, span: Span, file_len: usize) -> SourceSpan {
        let start = self.offset(span.start.min(file_len));
        let end = self.offset(span.end.clamp(span.start.min(file_len), file_len)).max(start);
        SourceSpan::new(start.into(), end - start)
    }

    fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.name.clone(), self.text.clone())
    }

    fn clipped(&self) -> bool {
        !self.pieces.is_empty()
    }
}

/// The text under a label; in a clipped line it says the real position too.
fn label_text(text: &str, span: Span, shown: &Shown, sources: &Sources) -> String {
    if !shown.clipped() {
        return text.to_string();
    }
    let (line, column) = sources.line_col(span.file, span.start);
    format!("{text} (line {line}, column {column})")
}

/// Binds a diagnostic to its sources for miette rendering.
pub fn to_report(diagnostic: &Diagnostic, sources: &Sources) -> Report {
    let mut report = Report {
        severity: match diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        },
        code: diagnostic.code.clone(),
        message: diagnostic.message.clone(),
        help: diagnostic.help.clone(),
        source: None,
        labels: Vec::new(),
        related: Vec::new(),
    };
    let Some(primary) = &diagnostic.primary else {
        return report;
    };
    let file = primary.span.file;
    let points: Vec<usize> = std::iter::once(primary)
        .chain(&diagnostic.labels)
        .filter(|l| l.span.file == file)
        .map(|l| l.span.start)
        .collect();
    let shown = Shown::new(sources, file, &points);
    let file_len = sources.get(file).text.len();
    report.source = Some(shown.named());
    report.labels.push(LabeledSpan::new_primary_with_span(
        Some(label_text(&primary.text, primary.span, &shown, sources)),
        shown.span(primary.span, file_len),
    ));
    for label in &diagnostic.labels {
        if label.span.file == file {
            report.labels.push(LabeledSpan::new_with_span(
                Some(label_text(&label.text, label.span, &shown, sources)),
                shown.span(label.span, file_len),
            ));
        } else {
            let other = Shown::new(sources, label.span.file, &[label.span.start]);
            let len = sources.get(label.span.file).text.len();
            report.related.push(Report {
                severity: miette::Severity::Advice,
                code: diagnostic.code.clone(),
                message: label.text.clone(),
                help: None,
                source: Some(other.named()),
                labels: vec![LabeledSpan::new_primary_with_span(
                    Some(label_text(&label.text, label.span, &other, sources)),
                    other.span(label.span, len),
                )],
                related: Vec::new(),
            });
        }
    }
    report
}

/// Renders every diagnostic as plain text (no colour, unicode frames), one after another;
/// what snapshot tests and logs use.
pub fn render_plain(diagnostics: &Diagnostics, sources: &Sources) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for d in diagnostics {
        let report = to_report(d, sources);
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

/// One diagnostic as a JSON-ready object.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub label: Option<String>,
    pub help: Option<String>,
}

pub fn to_json(diagnostic: &Diagnostic, sources: &Sources) -> JsonDiagnostic {
    let mut json = JsonDiagnostic {
        severity: diagnostic.severity,
        code: diagnostic.code.clone(),
        message: diagnostic.message.clone(),
        file: None,
        line: None,
        column: None,
        end_line: None,
        end_column: None,
        label: None,
        help: diagnostic.help.clone(),
    };
    if let Some(primary) = &diagnostic.primary {
        let span = primary.span;
        let (line, column) = sources.line_col(span.file, span.start);
        let (end_line, end_column) = sources.line_col(span.file, span.end);
        json.file = Some(sources.get(span.file).path.display().to_string());
        json.line = Some(line);
        json.column = Some(column);
        json.end_line = Some(end_line);
        json.end_column = Some(end_column);
        json.label = Some(primary.text.clone());
    }
    json
}

/// Every diagnostic as JSON objects, in order.
pub fn to_json_list(diagnostics: &Diagnostics, sources: &Sources) -> Vec<JsonDiagnostic> {
    diagnostics.iter().map(|d| to_json(d, sources)).collect()
}
