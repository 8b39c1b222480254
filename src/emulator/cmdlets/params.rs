//! Parameter binding for emulated cmdlets: names matched case-insensitively like PowerShell,
//! unknown names and wrong types refused with Exchange's parameter-binding error.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::CmdletError;
use crate::wire::exchange::{COMMON_PARAMETERS, class, param};

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
}

/// A parameter a cmdlet declares: name, kind, mandatory.
pub type Spec = (&'static str, Kind, bool);

/// Bound parameters by canonical name.
#[derive(Debug, Default)]
pub struct Bound {
    values: HashMap<&'static str, Value>,
}

fn type_error(name: &str, value: &Value, want: &str) -> CmdletError {
    let got = match value {
        Value::Array(_) => "System.Object[]",
        Value::Object(_) => "System.Collections.Hashtable",
        Value::Bool(_) => "System.Boolean",
        Value::Number(_) => "System.Int32",
        _ => "System.String",
    };
    CmdletError::new(
        class::INVALID_PARAMETER,
        format!(
            "Cannot process argument transformation on parameter '{name}'. Cannot convert the \"{}\" value of type \"{got}\" to type \"{want}\".",
            short(value)
        ),
    )
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}...", s.chars().take(60).collect::<String>()) } else { s }
}

fn check(name: &str, kind: Kind, v: &Value) -> Result<(), CmdletError> {
    let ok = match kind {
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
    };
    if ok {
        return Ok(());
    }
    let want = match kind {
        Kind::Str => "System.String",
        Kind::List => "System.String[]",
        Kind::Switch => "System.Management.Automation.SwitchParameter",
        Kind::Int => "System.Int32",
        Kind::Size => "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
    };
    Err(type_error(name, v, want))
}

/// Binds `params` against `spec`; `None` for `spec` accepts anything (unmodelled cmdlets).
pub fn bind(params: &Map<String, Value>, spec: &[Spec]) -> Result<Bound, CmdletError> {
    let mut bound = Bound::default();
    for (name, value) in params {
        if COMMON_PARAMETERS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            continue;
        }
        let Some((canon, kind, _)) = spec.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) else {
            return Err(CmdletError::new(
                class::INVALID_PARAMETER,
                format!("A parameter cannot be found that matches parameter name '{name}'."),
            ));
        };
        if value.is_null() {
            continue;
        }
        check(canon, *kind, value)?;
        bound.values.insert(canon, value.clone());
    }
    let missing: Vec<&str> =
        spec.iter().filter(|(n, _, req)| *req && !bound.values.contains_key(n)).map(|(n, _, _)| *n).collect();
    if !missing.is_empty() {
        return Err(CmdletError::new(
            class::INVALID_PARAMETER,
            format!(
                "Cannot process command because of one or more missing mandatory parameters: {}.",
                missing.join(" ")
            ),
        ));
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
        let b = bind(&map(json!({"identity": "x", "MEMBERS": "a", "Confirm": false})), SPEC).unwrap();
        assert_eq!(b.req("Identity"), "x");
        assert_eq!(b.list("Members").unwrap(), vec!["a"]);
        assert_eq!(b.size("ResultSize", 1000), Some(1000));
        assert!(
            bind(&map(json!({"Identity": "x", "Bogus": 1})), SPEC).unwrap_err().message.contains("Bogus")
        );
        assert!(bind(&map(json!({"Identity": ["x"]})), SPEC).is_err());
        assert!(bind(&map(json!({"Members": ["a"]})), SPEC).unwrap_err().message.contains("mandatory"));
        let b = bind(&map(json!({"Identity": "x", "ResultSize": "Unlimited"})), SPEC).unwrap();
        assert_eq!(b.size("ResultSize", 1000), None);
    }
}
