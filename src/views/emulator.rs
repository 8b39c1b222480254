//! `pamform emulator serve`: where the emulated tenant listens, as `key: value` lines a
//! script can read, then a note on stderr. `pamform emulator exec`: the cmdlet's output as
//! PowerShell lists it (`Name : value`), or as JSON.

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

/// A cmdlet's output objects, one `Property : value` list each as PowerShell's Format-List
/// prints them (OData annotations left out); its warnings on stderr; a note when it returned
/// nothing.
pub fn exec_text(printer: &Printer, cmdlet: &str, value: &[serde_json::Value], warnings: &[String]) {
    let mut out = printer.out();
    for (i, object) in value.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out);
        }
        match object.as_object() {
            Some(map) => {
                let shown: Vec<(&String, &serde_json::Value)> =
                    map.iter().filter(|(k, _)| !k.contains('@')).collect();
                let width = shown.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
                for (k, v) in shown {
                    let _ = writeln!(out, "{k:<width$} : {}", cmdlet_value(v));
                }
            }
            None => {
                let _ = writeln!(out, "{}", cmdlet_value(object));
            }
        }
    }
    let _ = out.flush();
    for w in warnings {
        printer.note(format!("WARNING: {w}"));
    }
    if value.is_empty() {
        printer.note(format!("{cmdlet} done; it returned nothing"));
    }
}

/// `{"cmdlet": ..., "value": [...], "warnings": [...]}` on one line.
pub fn exec_json(printer: &Printer, cmdlet: &str, value: &[serde_json::Value], warnings: &[String]) {
    let doc = serde_json::json!({ "cmdlet": cmdlet, "value": value, "warnings": warnings });
    let _ = writeln!(printer.out(), "{doc}");
}

/// A property value as PowerShell shows it: text bare, lists in braces, nothing for null.
fn cmdlet_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            format!("{{{}}}", items.iter().map(cmdlet_value).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}
