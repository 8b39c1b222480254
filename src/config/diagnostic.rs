//! Diagnostics: what went wrong (or looks wrong) in a configuration, with a stable code, the
//! exact source span and a hint. Any stage may build them from model spans; rendering turns
//! them into miette reports for people and JSON objects for tools.

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
    /// A stable, descriptive code such as `pamform::unknown_attribute` (see [`super::codes`]).
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
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d] }
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(items: Vec<Diagnostic>) -> Self {
        Diagnostics { items }
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

fn source_span(span: Span, sources: &Sources) -> SourceSpan {
    let len = sources.get(span.file).text.len();
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    SourceSpan::new(start.into(), end - start)
}

fn named_source(span: Span, sources: &Sources) -> NamedSource<Arc<str>> {
    let file = sources.get(span.file);
    NamedSource::new(file.path.display().to_string(), file.text.clone())
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
    report.source = Some(named_source(primary.span, sources));
    report.labels.push(LabeledSpan::new_primary_with_span(
        Some(primary.text.clone()),
        source_span(primary.span, sources),
    ));
    for label in &diagnostic.labels {
        let span = source_span(label.span, sources);
        if label.span.file == primary.span.file {
            report.labels.push(LabeledSpan::new_with_span(Some(label.text.clone()), span));
        } else {
            report.related.push(Report {
                severity: miette::Severity::Advice,
                code: diagnostic.code.clone(),
                message: label.text.clone(),
                help: None,
                source: Some(named_source(label.span, sources)),
                labels: vec![LabeledSpan::new_primary_with_span(Some(label.text.clone()), span)],
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
