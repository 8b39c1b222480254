//! Renders state for people: `show` without a plan file, and `state show ADDR`.

use std::fmt::Write;

use serde_json::Value;

use crate::state::{ResourceState, State};

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
