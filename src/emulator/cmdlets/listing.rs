//! Listings as the read cmdlets return them: the `-Filter` subset of OPATH the emulator
//! understands, `-ResultSize` with the service's warning, and `*` wildcards.

use serde_json::Value;

use super::Output;
use super::error::{CmdletError, Res};
use super::params::Bound;
use crate::wire::exchange::{self as wx, class, param as p};

/// Applies `Filter` and `ResultSize` to a listing; a cut list carries the warning. The items
/// are filtered as they are made, so a filtered read of a large directory keeps only what
/// matches.
pub(super) fn listing(items: impl IntoIterator<Item = Value>, b: &Bound) -> Res<Output> {
    let items: Vec<Value> = match b.str(p::FILTER) {
        Some(f) => {
            let filter = Filter::parse(&f)?;
            items.into_iter().filter(|v| filter.matches(v)).collect()
        }
        None => items.into_iter().collect(),
    };
    let mut out = Output::default();
    match b.size(p::RESULT_SIZE, wx::MAX_PAGE_SIZE) {
        Some(n) if items.len() > n => {
            out.value = items.into_iter().take(n).collect();
            out.warnings.push(wx::MORE_RESULTS_WARNING.to_string());
        }
        _ => out.value = items,
    }
    Ok(out)
}

/// Case-insensitive match with `*` wildcards.
pub(super) fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The OPATH subset the emulator understands: `Prop -eq|-ne|-like|-notlike 'value'`,
/// joined by `-and` and `-or` (`-and` binds tighter).
struct Filter {
    /// Alternatives (`-or`), each a list of clauses that must all hold (`-and`).
    any: Vec<Vec<(String, String, String)>>,
}

impl Filter {
    fn parse(text: &str) -> Res<Filter> {
        let bad = || {
            CmdletError::new(
                class::INVALID_PARAMETER,
                format!(
                    "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"Invalid filter syntax '{text}'. The emulator understands Property -eq|-ne|-like|-notlike 'value' joined by -and or -or.\""
                ),
            )
        };
        let t = text.trim().trim_start_matches('{').trim_end_matches('}').trim();
        let tokens = tokenize(t).ok_or_else(bad)?;
        let mut any = Vec::new();
        let mut clauses = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if i > 0 {
                if tokens[i].eq_ignore_ascii_case("-or") {
                    any.push(std::mem::take(&mut clauses));
                } else if !tokens[i].eq_ignore_ascii_case("-and") {
                    return Err(bad());
                }
                i += 1;
            }
            let (Some(prop), Some(op), Some(val)) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
            else {
                return Err(bad());
            };
            let op = op.to_lowercase();
            if !matches!(op.as_str(), "-eq" | "-ne" | "-like" | "-notlike") {
                return Err(bad());
            }
            clauses.push((prop.clone(), op, val.clone()));
            i += 3;
        }
        if clauses.is_empty() {
            return Err(bad());
        }
        any.push(clauses);
        Ok(Filter { any })
    }

    fn matches(&self, v: &Value) -> bool {
        self.any.iter().any(|clauses| Self::all_hold(clauses, v))
    }

    fn all_hold(clauses: &[(String, String, String)], v: &Value) -> bool {
        clauses.iter().all(|(prop, op, want)| {
            let found = v.as_object().and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(prop)));
            let other;
            let got: &str = match found.map(|(_, x)| x) {
                Some(Value::String(s)) => s,
                None | Some(Value::Null) => "",
                Some(x) => {
                    other = x.to_string();
                    &other
                }
            };
            match op.as_str() {
                "-eq" => got.eq_ignore_ascii_case(want),
                "-ne" => !got.eq_ignore_ascii_case(want),
                "-like" => wildcard(want, got),
                _ => !wildcard(want, got),
            }
        })
    }
}

fn tokenize(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&ch) = chars.peek() {
        if ch.is_whitespace() {
            chars.next();
        } else if ch == '\'' || ch == '"' {
            chars.next();
            let mut tok = String::new();
            loop {
                match chars.next()? {
                    q if q == ch => {
                        if chars.peek() == Some(&ch) {
                            chars.next();
                            tok.push(ch);
                        } else {
                            break;
                        }
                    }
                    other => tok.push(other),
                }
            }
            out.push(tok);
        } else {
            let mut tok = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() {
                    break;
                }
                tok.push(x);
                chars.next();
            }
            out.push(tok);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_and_filters() {
        assert!(wildcard("pam-*", "PAM-approvers"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("a*c", "abd"));
        let f = Filter::parse("PrimarySmtpAddress -eq 'x@y.com' -and Name -like 'pam*'").unwrap();
        assert!(f.matches(&json!({"PrimarySmtpAddress": "X@y.com", "Name": "pam-a"})));
        let or = Filter::parse("Name -eq 'a' -or Alias -eq 'b' -and Name -eq 'c'").unwrap();
        assert!(or.matches(&json!({"Name": "A", "Alias": "x"})));
        assert!(or.matches(&json!({"Name": "c", "Alias": "B"})));
        assert!(!or.matches(&json!({"Name": "d", "Alias": "b"})));
        assert!(Filter::parse("Name -eq 'a' -or").is_err());
        assert!(!f.matches(&json!({"PrimarySmtpAddress": "x@y.com", "Name": "other"})));
        assert!(Filter::parse("Name -foo 'x'").is_err());
        assert!(Filter::parse("Name -eq 'unterminated").is_err());
    }
}
