//! `pamform validate`: the verdict on stderr after the diagnostics, or one JSON document on
//! stdout with the counts and every diagnostic.

use serde::Serialize;

use super::Printer;
use super::diagnostics;
use crate::diagnostic::{self, Diagnostics, JsonDiagnostic};
use crate::model::Sources;

#[derive(Serialize)]
struct JsonResult {
    valid: bool,
    error_count: usize,
    warning_count: usize,
    diagnostics: Vec<JsonDiagnostic>,
}

/// The result as JSON, ending with a newline.
pub fn json(valid: bool, diagnostics: &Diagnostics, sources: &Sources) -> Result<String, serde_json::Error> {
    let out = JsonResult {
        valid,
        error_count: diagnostics.error_count(),
        warning_count: diagnostics.warning_count(),
        diagnostics: diagnostic::to_json_list(diagnostics, sources),
    };
    Ok(format!("{}\n", serde_json::to_string_pretty(&out)?))
}

/// The diagnostics, then the verdict, on stderr.
pub fn text(printer: &Printer, diagnostics: &Diagnostics, sources: &Sources) {
    diagnostics::print(printer, diagnostics, sources);
    let n = diagnostics.error_count();
    if n == 0 {
        printer.note("The configuration is valid.");
    } else {
        diagnostics::config_rejected(printer, n, "`pamform validate`");
    }
}
