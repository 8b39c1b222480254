//! Hiding sensitive values in rendered output: attributes that take their value from a
//! `sensitive = true` variable are shown as `(sensitive value)` by every human renderer and
//! marked in the JSON plan's `before_sensitive` and `after_sensitive`, as Terraform does.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::drift::Difference;
use crate::model::{Address, Sensitivity};
use crate::plan::Plan;

/// What a human renderer prints in place of a sensitive value.
pub const REDACTED: &str = crate::diagnostic::REDACTED;

/// The value that stands for a sensitive one inside an attribute object. No attribute of a
/// resource is an object, so it cannot be mistaken for a real value.
fn marker() -> Value {
    json!({ REDACTED: true })
}

/// Whether `v` is the stand-in for a sensitive value.
pub fn is_redacted(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.len() == 1 && o.get(REDACTED) == Some(&Value::Bool(true)))
}

/// `attributes` (an attribute object of `address`) with every sensitive attribute replaced by
/// the stand-in.
pub fn redact(attributes: Option<Value>, address: &Address, sensitivity: &Sensitivity) -> Option<Value> {
    let mut v = attributes?;
    if let Some(o) = v.as_object_mut() {
        for name in sensitivity.attributes(address) {
            if let Some(slot) = o.get_mut(name) {
                *slot = marker();
            }
        }
    }
    Some(v)
}

/// The JSON plan's `*_sensitive` object for one side: `false` when the side is absent, else
/// `true` for each sensitive attribute it has.
pub fn json_marks(side: &Value, address: &Address, sensitivity: &Sensitivity) -> Value {
    if side.is_null() {
        return Value::Bool(false);
    }
    let mut marks = Map::new();
    for name in sensitivity.attributes(address) {
        if side.get(name).is_some() {
            marks.insert(name.to_string(), Value::Bool(true));
        }
    }
    Value::Object(marks)
}

/// Every string a sensitive attribute of `plan` holds (scalars and set elements, both sides),
/// for renderers that name values outside the attribute rows (the security impact).
pub fn secret_strings(plan: &Plan, sensitivity: &Sensitivity) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if sensitivity.is_empty() {
        return out;
    }
    let sides = plan
        .changes
        .iter()
        .flat_map(|c| [(&c.address, c.before.as_ref()), (&c.address, c.after.as_ref())])
        .chain(
            plan.drift.iter().flat_map(|d| [(&d.address, Some(&d.before)), (&d.address, d.after.as_ref())]),
        );
    for (address, attrs) in sides {
        let Some(value) = attrs.map(|a| a.to_value()) else { continue };
        for name in sensitivity.attributes(address) {
            match value.get(name) {
                Some(Value::String(s)) => {
                    out.insert(s.clone());
                }
                Some(Value::Array(items)) => {
                    out.extend(items.iter().filter_map(Value::as_str).map(str::to_string));
                }
                _ => {}
            }
        }
    }
    out
}

/// `s`, or the stand-in when it is one of `secrets`.
pub fn scrub(s: &str, secrets: &BTreeSet<String>) -> String {
    if secrets.contains(s) { REDACTED.to_string() } else { s.to_string() }
}

/// Drift differences with the values of sensitive attributes replaced by the stand-in, in
/// their values and in their messages.
pub fn redact_differences(differences: &mut [Difference], sensitivity: &Sensitivity) {
    for d in differences {
        let names: Vec<String> = sensitivity.attributes(&d.address).map(str::to_string).collect();
        if names.is_empty() {
            continue;
        }
        let mut secrets = BTreeSet::new();
        let hide = |v: &mut Value, secrets: &mut BTreeSet<String>| {
            collect_strings(v, secrets);
            *v = marker();
        };
        if d.attribute == "*" {
            for side in [&mut d.in_state, &mut d.in_tenant] {
                if let Some(o) = side.as_object_mut() {
                    for n in &names {
                        if let Some(v) = o.get_mut(n) {
                            hide(v, &mut secrets);
                        }
                    }
                }
            }
        } else if names.contains(&d.attribute) {
            hide(&mut d.in_state, &mut secrets);
            hide(&mut d.in_tenant, &mut secrets);
        }
        // Longest first, so that a secret inside another is not left half replaced.
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            d.message = d.message.replace(&s, REDACTED);
        }
    }
}

fn collect_strings(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}
