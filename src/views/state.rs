//! State as `pamform show` (without a plan file) and `pamform state list|show|rm` print it:
//! for people, as Markdown, or as the state file's own JSON.

use std::fmt::Write;

use serde_json::Value;

use super::plan::Format;
use crate::model::Address;
use crate::state::{ResourceState, State};

/// `pamform show` without a plan file: the state in `format`, or what to do when there is none.
pub fn show(state: Option<&State>, format: Format) -> String {
    match (state, format) {
        // Like Terraform's: the format version and no resources.
        (None, Format::Json) => {
            format!(
                "{:#}\n",
                serde_json::json!({"format_version": crate::state::FORMAT_VERSION, "resources": []})
            )
        }
        (None, _) => "No state. Run `pamform apply` to create it.\n".to_string(),
        (Some(s), Format::Json) => String::from_utf8(s.to_bytes()).expect("state is UTF-8"),
        (Some(s), Format::Text) => render(s),
        (Some(s), Format::Markdown) => render_markdown(s),
    }
}

/// `pamform state list`: one address a line.
pub fn list(state: Option<&State>) -> String {
    let mut out = String::new();
    for r in state.iter().flat_map(|s| &s.resources) {
        let _ = writeln!(out, "{}", r.address);
    }
    out
}

/// `pamform state rm`: what was removed.
/// What `state mv` did.
pub fn moved(from: &Address, to: &Address) -> String {
    format!("Moved {from} to {to}\nSuccessfully moved 1 resource in state; the tenant was not changed.\n")
}

pub fn removed(addresses: &[Address]) -> String {
    let mut out = String::new();
    for r in addresses {
        let _ = writeln!(out, "Removed {r}");
    }
    let _ = writeln!(
        out,
        "Successfully removed {} resource(s) from state; the tenant was not changed.",
        addresses.len()
    );
    out
}

pub fn render(state: &State) -> String {
    if state.resources.is_empty() {
        return "The state is empty.\n".to_string();
    }
    let mut out = String::new();
    for r in &state.resources {
        out.push_str(&render_resource(r));
        out.push('\n');
    }
    out
}

/// One resource as HCL-like text.
pub fn render_resource(r: &ResourceState) -> String {
    let mut out = format!("# {}:\n", r.address);
    let header = match r.address.kind {
        crate::model::ResourceType::PrivilegedAccess => "privileged_access".to_string(),
        kind => format!("{kind} \"{}\"", r.address.name),
    };
    let _ = writeln!(out, "{header} {{");
    let mut rows: Vec<(String, Value)> = vec![("id".into(), Value::String(r.id.clone()))];
    if let Some(o) = r.attributes.as_object() {
        rows.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        match v {
            Value::Array(items) if !items.is_empty() => {
                let _ = writeln!(out, "    {k:width$} = [");
                for i in items {
                    let _ = writeln!(out, "        {i},");
                }
                let _ = writeln!(out, "    ]");
            }
            Value::Null => {}
            v => {
                let _ = writeln!(out, "    {k:width$} = {v}");
            }
        }
    }
    out.push_str("}\n");
    out
}

pub fn render_markdown(state: &State) -> String {
    let mut out = format!(
        "**pamform state** of `{}` (serial {}, {} resources)\n\n| address | id |\n|---|---|\n",
        state.tenant,
        state.serial,
        state.resources.len()
    );
    for r in &state.resources {
        let _ = writeln!(out, "| `{}` | `{}` |", r.address, r.id);
    }
    out
}

/// `pamform force-unlock`: whose lock was removed.
pub fn unlocked(printer: &super::Printer, info: &crate::state::lock::LockInfo) {
    use std::io::Write as _;
    let _ = writeln!(
        printer.out(),
        "Removed the lock held by `{}` (pid {} on {}).",
        info.command,
        info.pid,
        info.host
    );
}

/// `pamform state versions`: the previous versions kept, newest first.
pub fn versions(name: &str, versions: &[crate::state::Version]) -> String {
    if versions.is_empty() {
        return format!("No previous versions of {name} are kept yet.\n");
    }
    let mut out = format!("Previous versions of {name}, newest first:\n");
    for v in versions {
        let serial = v.serial.map_or_else(|| "?".to_string(), |s| s.to_string());
        let lineage = v.lineage.as_deref().unwrap_or("?");
        let _ = writeln!(out, "  {}  serial {serial}  lineage {lineage}", v.id);
    }
    out.push_str("Restore one with `pamform state restore VERSION`.\n");
    out
}

/// `state restore`, `state push`, `state migrate`: what was written where.
pub fn written(what: &str, name: &str, state: &State) -> String {
    format!(
        "{what} {name}: serial {} of lineage {}, {} resources.\n",
        state.serial,
        state.lineage,
        state.resources.len()
    )
}
