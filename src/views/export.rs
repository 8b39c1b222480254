//! `pamform export`: the export's warnings on stderr; on stdout what was exported and
//! written, what stays unmanaged (as [`super::import::unmanaged`] lists it) and what to run
//! next.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::Printer;
use super::style::{self, paint};
use crate::export::Export;

/// Each of the export's warnings, on stderr.
pub fn warnings(printer: &Printer, warnings: &[String]) {
    for w in warnings {
        let _ = writeln!(printer.err(), "{} {w}", paint(style::WARNING, "warning:"));
    }
}

/// What was exported from `tenant` in `took`, and the files written to `out`.
pub fn summary(printer: &Printer, exported: &Export, tenant: &str, took: Duration, out: &Path) {
    use std::fmt::Write as _;
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "Exported {} approver group{}, {} access polic{} and the PAM setting (PAM {}) from {} in {:.1}s.",
        exported.groups,
        if exported.groups == 1 { "" } else { "s" },
        exported.policies,
        if exported.policies == 1 { "y" } else { "ies" },
        if exported.pam { "enabled" } else { "disabled" },
        tenant,
        took.as_secs_f64()
    );
    let _ = writeln!(summary, "Files written to {}:", out.display());
    for f in &exported.files {
        let _ = writeln!(summary, "  {}", f.name);
    }
    printer.write_out(summary.as_bytes());
}

/// What to run in `out` next.
pub fn next(printer: &Printer, out: &Path) {
    let _ = writeln!(
        printer.out(),
        "Next: run `pamform -C {} plan`; it should show only imports, which `pamform apply` records in state.",
        out.display()
    );
}
