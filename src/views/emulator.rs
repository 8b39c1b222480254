//! `pamform emulator serve`: where the emulated tenant listens, as `key: value` lines a
//! script can read, then a note on stderr.

use std::io::Write;

use super::Printer;
use crate::emulator::RunningEmulator;

/// The running emulator's address, tenant and app.
pub fn serving(printer: &Printer, running: &RunningEmulator) {
    let mut out = printer.out();
    let _ = writeln!(out, "base_url: {}", running.base_url);
    let _ = writeln!(out, "tenant: {} ({})", running.tenant_domain, running.tenant_id);
    if running.tenant_count > 1 {
        let _ = writeln!(out, "tenants: {}", running.tenant_count);
    }
    let _ = writeln!(out, "client_id: {}", running.app.client_id);
    if let Some(p) = &running.ca_pem_path {
        let _ = writeln!(out, "ca_pem: {}", p.display());
    }
    let _ = out.flush();
    printer.note("serving; press Ctrl-C to stop (the app's client secret is in docs/emulator.md)");
}
