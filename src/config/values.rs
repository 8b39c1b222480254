//! Typed reading of evaluated values: strings, bools, lists of strings (with the span of each
//! element where the list is written literally), and variable type constraints.

use hcl::Value;
use hcl_edit::expr::Expression;

use super::functions::to_set;
use super::syntax::span_of;
use crate::diagnostic::{Diagnostic, codes};
use crate::model::{FileId, Span, Spanned};

/// A short name of a value's type for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn mismatch(attr: &str, expected: &str, got: &Value, span: Span, help: &str) -> Diagnostic {
    Diagnostic::error(codes::TYPE_MISMATCH, format!("`{attr}` must be {expected}, not {}", type_name(got)))
        .with_label(span, format!("this is {}", type_name(got)))
        .with_help(help.to_string())
}

/// Strings accept numbers and bools (converted), like Terraform.
pub fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn string(attr: &str, v: &Value, span: Span) -> Result<Spanned<String>, Diagnostic> {
    as_string(v)
        .map(|s| Spanned::new(s, span))
        .ok_or_else(|| mismatch(attr, "a string", v, span, &format!("write `{attr} = \"...\"`")))
}

pub fn bool(attr: &str, v: &Value, span: Span) -> Result<Spanned<bool>, Diagnostic> {
    match v {
        Value::Bool(b) => Ok(Spanned::new(*b, span)),
        Value::String(s) if s == "true" || s == "false" => Ok(Spanned::new(s == "true", span)),
        _ => Err(mismatch(attr, "a bool", v, span, &format!("write `{attr} = true` or `{attr} = false`"))),
    }
}

/// A list (or set) of strings. Elements of a literal list keep their own spans. Takes the
/// value, so that its strings move into the result (a group lists thousands of members).
pub fn string_list(
    attr: &str,
    v: Value,
    expr: &Expression,
    file: FileId,
) -> Result<Vec<Spanned<String>>, Diagnostic> {
    let whole = span_of(file, expr);
    let help = || format!("write `{attr} = [\"...\", \"...\"]`");
    let items = match v {
        Value::Array(items) => items,
        other => return Err(mismatch(attr, "a list of strings", &other, whole, &help())),
    };
    let element_spans: Option<Vec<Span>> = match expr {
        Expression::Array(a) if a.len() == items.len() => Some(a.iter().map(|e| span_of(file, e)).collect()),
        _ => None,
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let span = element_spans.as_ref().map_or(whole, |s| s[i]);
            let text = match item {
                Value::String(s) => Ok(s),
                other => as_string(&other).ok_or(other),
            };
            text.map(|s| Spanned::new(s, span)).map_err(|item| {
                mismatch(&format!("every element of `{attr}`"), "a string", &item, span, &help())
            })
        })
        .collect()
}

/// A variable's type constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Any,
    String,
    Number,
    Bool,
    List,
    Map,
    Set,
}

impl VarType {
    /// Reads a type expression such as `string` or `list(string)`.
    pub fn parse(expr: &Expression) -> Option<VarType> {
        match expr {
            Expression::Variable(v) => match v.as_str() {
                "string" => Some(VarType::String),
                "number" => Some(VarType::Number),
                "bool" => Some(VarType::Bool),
                "any" => Some(VarType::Any),
                _ => None,
            },
            Expression::FuncCall(call) => {
                let arg_ok = call.args.len() == 1
                    && matches!(call.args.iter().next(), Some(Expression::Variable(v)) if v.as_str() == "string");
                if !call.name.namespace.is_empty() || !arg_ok {
                    return None;
                }
                match call.name.name.as_str() {
                    "list" => Some(VarType::List),
                    "map" => Some(VarType::Map),
                    "set" => Some(VarType::Set),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VarType::Any => "any",
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Bool => "bool",
            VarType::List => "list(string)",
            VarType::Map => "map(string)",
            VarType::Set => "set(string)",
        }
    }

    /// Converts a value to this type, as Terraform does (numbers and bools to strings, numeric
    /// strings to numbers, sets deduplicated).
    pub fn convert(self, v: Value) -> Result<Value, String> {
        let fail = |v: &Value| Err(format!("expected {}, got {}", self.as_str(), type_name(v)));
        match self {
            VarType::Any => Ok(v),
            VarType::String => as_string(&v).map(Value::String).map_or_else(|| fail(&v), Ok),
            VarType::Number => match &v {
                Value::Number(_) => Ok(v),
                Value::String(s) => s
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(hcl::Number::from_f64)
                    .map(|n| {
                        s.trim()
                            .parse::<i64>()
                            .map_or(Value::Number(n), |i| Value::Number(hcl::Number::from(i)))
                    })
                    .map_or_else(|| fail(&v), Ok),
                _ => fail(&v),
            },
            VarType::Bool => match &v {
                Value::Bool(_) => Ok(v),
                Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
                _ => fail(&v),
            },
            VarType::List | VarType::Set => match v {
                Value::Array(items) => {
                    let items = items
                        .into_iter()
                        .map(|i| as_string(&i).map(Value::String).ok_or(i))
                        .collect::<Result<Vec<_>, _>>();
                    match items {
                        Ok(items) if self == VarType::Set => Ok(Value::Array(to_set(items))),
                        Ok(items) => Ok(Value::Array(items)),
                        Err(bad) => {
                            Err(format!("expected {}, but an element is {}", self.as_str(), type_name(&bad)))
                        }
                    }
                }
                other => fail(&other),
            },
            VarType::Map => match v {
                Value::Object(map) => {
                    let mut out = hcl::Map::new();
                    for (k, i) in map {
                        match as_string(&i) {
                            Some(s) => out.insert(k, Value::String(s)),
                            None => {
                                return Err(format!("expected map(string), but `{k}` is {}", type_name(&i)));
                            }
                        };
                    }
                    Ok(Value::Object(out))
                }
                other => fail(&other),
            },
        }
    }
}
