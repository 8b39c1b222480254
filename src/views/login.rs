//! `pamform login` and `pamform logout`: the device code prompt, the wait for it (a
//! [`super::progress::Spinner`]), and where the sign-in is kept or that it was removed.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::Printer;

/// The device code prompt: the point of the command, shown even with `--quiet`.
pub fn prompt(printer: &Printer, message: &str) {
    let _ = writeln!(printer.err(), "{message}");
}

/// Signed in as `upn` to `tenant`; the sign-in is kept at `path` until `until`.
pub fn signed_in(
    printer: &Printer,
    upn: &str,
    tenant: &str,
    path: &Path,
    until: DateTime<Utc>,
    renews: bool,
) {
    let until = until.with_timezone(&chrono::Local).format("%b %d %H:%M");
    let renewal = if renews { "; it renews itself after that" } else { "" };
    let _ = writeln!(printer.out(), "Signed in as {upn} to {tenant}.");
    printer.note(format!(
        "The sign-in is kept in {} (readable only by you) until {until}{renewal}; `pamform logout` removes it.",
        path.display()
    ));
}

/// What `logout` removed at `path`: the sign-in of `who`, an unreadable one, or nothing.
pub fn signed_out(printer: &Printer, removed: bool, who: Option<&str>, path: &Path) {
    let mut out = printer.out();
    let _ = match (removed, who) {
        (true, Some(upn)) => writeln!(out, "Signed out {upn}; removed {}.", path.display()),
        (true, None) => writeln!(out, "Removed the unreadable sign-in {}.", path.display()),
        (false, _) => writeln!(out, "Not signed in; there was nothing to remove."),
    };
}
