//! Parameter binding for emulated cmdlets: names matched case-insensitively like PowerShell;
//! a name the cmdlet does not have is refused with the service's
//! `AmbiguousParameterSetException`, a value of the wrong type with its
//! `ParameterTransformationException`, a missing mandatory parameter with a binding error.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::CmdletError;
use crate::wire::exchange::{self as wx, COMMON_PARAMETERS, class, param};

/// What a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string (numbers are converted, as PowerShell does).
    Str,
    /// A string or an array of strings (multi-valued).
    List,
    /// `true`/`false`.
    Switch,
    /// An integer or a string holding one.
    Int,
    /// A positive integer or `Unlimited`.
    Size,
    /// A documented parameter the emulator does not model: any value, no effect.
    Any,
}

/// A parameter a cmdlet declares: name, kind, mandatory.
pub type Spec = (&'static str, Kind, bool);

/// Bound parameters by canonical name.
#[derive(Debug, Default)]
pub struct Bound {
    values: HashMap<&'static str, Value>,
}

/// The .NET type a kind converts to, as the service names it in its error.
fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Str | Kind::Any => "System.String",
        Kind::List => "Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]",
        Kind::Switch => "System.Management.Automation.SwitchParameter",
        Kind::Int => "System.Int32",
        Kind::Size => "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) => "System.Object[]".to_string(),
        Value::Object(_) => "System.Collections.Hashtable".to_string(),
        Value::String(s) => s.chars().take(60).collect(),
        other => other.to_string(),
    }
}

fn accepts(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Any => true,
        Kind::Str => matches!(v, Value::String(_) | Value::Number(_)),
        Kind::List => match v {
            Value::String(_) => true,
            Value::Array(a) => a.iter().all(|x| matches!(x, Value::String(_))),
            _ => false,
        },
        Kind::Switch => matches!(v, Value::Bool(_)),
        Kind::Int => v.as_i64().is_some() || v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_ok()),
        Kind::Size => {
            v.as_u64().is_some_and(|n| n > 0)
                || v.as_str().is_some_and(|s| {
                    s.eq_ignore_ascii_case(param::UNLIMITED) || s.trim().parse::<u64>().is_ok_and(|n| n > 0)
                })
        }
    }
}

fn check(name: &str, kind: Kind, v: &Value) -> Result<(), CmdletError> {
    if accepts(kind, v) {
        return Ok(());
    }
    let error = match v {
        Value::Array(_) | Value::Object(_) => "Specified argument was not of the expected shape.",
        _ => "Invalid cast from the given value to the parameter's type.",
    };
    Err(CmdletError::new(
        class::PARAMETER_TRANSFORMATION,
        wx::transformation_message(name, &shown(v), type_name(kind), error),
    ))
}

/// Binds `params` against `spec` and the cmdlet's other documented parameters (`documented`,
/// bound as [`Kind::Any`]).
pub fn bind(
    params: &Map<String, Value>,
    spec: &[Spec],
    documented: &'static [&'static str],
) -> Result<Bound, CmdletError> {
    let mut bound = Bound::default();
    let mut unknown = Vec::new();
    for (name, value) in params {
        if COMMON_PARAMETERS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            continue;
        }
        let declared = spec.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)).map(|(n, k, _)| (*n, *k));
        let known = declared
            .or_else(|| documented.iter().find(|n| n.eq_ignore_ascii_case(name)).map(|n| (*n, Kind::Any)));
        let Some((canon, kind)) = known else {
            unknown.push(name.as_str());
            continue;
        };
        if value.is_null() {
            continue;
        }
        check(canon, kind, value)?;
        bound.values.insert(canon, value.clone());
    }
    if !unknown.is_empty() {
        return Err(CmdletError::new(
            class::AMBIGUOUS_PARAMETER_SET,
            format!("{} {}", wx::UNKNOWN_PARAMETER_MESSAGE, unknown.join(", ")),
        ));
    }
    let missing: Vec<&str> =
        spec.iter().filter(|(n, _, req)| *req && !bound.values.contains_key(n)).map(|(n, _, _)| *n).collect();
    if !missing.is_empty() {
        return Err(CmdletError::new(class::INVALID_PARAMETER, wx::text::missing_mandatory(&missing)));
    }
    Ok(bound)
}

impl Bound {
    pub fn str(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A mandatory string (binding has checked it is there).
    pub fn req(&self, name: &str) -> String {
        self.str(name).unwrap_or_default()
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        match self.values.get(name)? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => Some(a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()),
            _ => None,
        }
    }

    /// Whether a switch was given as `true`.
    pub fn switch(&self, name: &str) -> bool {
        self.values.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        let v = self.values.get(name)?;
        v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    }

    /// `ResultSize`: `Some(n)`, `None` for `Unlimited`, `default` when absent.
    pub fn size(&self, name: &str, default: usize) -> Option<usize> {
        match self.values.get(name) {
            None => Some(default),
            Some(v) => {
                v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).map(|n| n as usize)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPEC: &[Spec] =
        &[("Identity", Kind::Str, true), ("Members", Kind::List, false), ("ResultSize", Kind::Size, false)];

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn binds_case_insensitively_and_refuses_unknown_or_wrong_types() {
        let b = bind(&map(json!({"identity": "x", "MEMBERS": "a", "Confirm": false})), SPEC, &[]).unwrap();
        assert_eq!(b.req("Identity"), "x");
        assert_eq!(b.list("Members").unwrap(), vec!["a"]);
        assert_eq!(b.size("ResultSize", 1000), Some(1000));
        let e = bind(&map(json!({"Identity": "x", "Bogus": 1})), SPEC, &[]).unwrap_err();
        assert_eq!(e.class, class::AMBIGUOUS_PARAMETER_SET);
        assert!(e.message.starts_with(wx::UNKNOWN_PARAMETER_MESSAGE) && e.message.ends_with("Bogus"));
        let e = bind(&map(json!({"Identity": ["x"]})), SPEC, &[]).unwrap_err();
        assert_eq!(e.class, class::PARAMETER_TRANSFORMATION);
        assert!(e.message.contains("parameter 'Identity'"), "{}", e.message);
        let e = bind(&map(json!({"Members": ["a"]})), SPEC, &[]).unwrap_err();
        assert!(e.message.contains("mandatory"));
        let b = bind(&map(json!({"Identity": "x", "ResultSize": "Unlimited"})), SPEC, &[]).unwrap();
        assert_eq!(b.size("ResultSize", 1000), None);
        // A documented parameter the emulator does not model is accepted.
        let b = bind(&map(json!({"Identity": "x", "mailtip": {"a": 1}})), SPEC, &["MailTip"]).unwrap();
        assert_eq!(b.req("Identity"), "x");
    }
}
