//! `pamform fmt`: the files it changed (or would), their unified diffs with `--diff`, and
//! the verdict of `--check`.

use std::io::Write;

use super::Printer;

/// The unified diff of `name` before and after formatting.
pub fn diff(printer: &Printer, name: &str, before: &str, after: &str) {
    let diff = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .header(name, &format!("{name} (formatted)"))
        .to_string();
    let _ = write!(printer.out(), "{diff}");
}

/// A file that was (or would be) reformatted.
pub fn changed(printer: &Printer, name: &str) {
    let _ = writeln!(printer.out(), "{name}");
}

/// `--check` found `n` files that are not formatted.
pub fn unformatted(printer: &Printer, n: usize) {
    let _ = writeln!(
        printer.err(),
        "{n} file{} not formatted; run `pamform fmt` to fix",
        if n == 1 { " is" } else { "s are" }
    );
}
