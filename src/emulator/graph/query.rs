//! Graph's query options as the emulator reads them: `$filter` (`eq`, `in` and `startswith`
//! on string properties, `endswith` in advanced queries), `$select`, `$top`, `$skiptoken`,
//! `$deltatoken`, and the advanced options `$count`, `$search` and `$orderby`.

use serde_json::{Map, Value};

use super::answer::{GraphAnswer, error};
use crate::model::normalize;
use crate::wire::graph::{self as wg, code};

pub(super) struct Query {
    pub filter: Option<String>,
    pub select: Option<Vec<String>>,
    pub top: Option<usize>,
    pub skip: usize,
    pub deltatoken: Option<String>,
    pub skiptoken: Option<String>,
    /// `$count=true`.
    pub count: bool,
    /// `$search="property:term"`.
    pub search: Option<String>,
    pub orderby: Option<String>,
    pub expand: bool,
    /// The request came with `ConsistencyLevel: eventual`.
    pub eventual: bool,
}

impl Query {
    /// Whether the options need advanced query parameters: a `$search`, an `endswith`
    /// filter, or `$filter` with `$orderby`. (**doc**, see `wire::graph::SEARCH_NEEDS_EVENTUAL`)
    pub fn advanced_refusal(&self, resource: &str, eventual: bool) -> Option<GraphAnswer> {
        if self.search.is_some() && !eventual {
            return Some(error(400, code::UNSUPPORTED_QUERY, wg::SEARCH_NEEDS_EVENTUAL));
        }
        let advanced = eventual && self.count;
        if let Some(f) = &self.filter
            && !advanced
        {
            let f = f.trim();
            if let Some(rest) = f.strip_prefix("endswith(").or_else(|| f.strip_prefix("endsWith(")) {
                let prop = rest.split(',').next().unwrap_or_default().trim();
                return Some(error(400, code::UNSUPPORTED_QUERY, &wg::unsupported_filter(prop, resource)));
            }
            if self.orderby.is_some() {
                return Some(error(400, code::UNSUPPORTED_QUERY, wg::SORTING_NOT_SUPPORTED));
            }
        }
        None
    }
}

pub(super) fn parse_query(q: &str) -> Result<Query, GraphAnswer> {
    let mut out = Query {
        filter: None,
        select: None,
        top: None,
        skip: 0,
        deltatoken: None,
        skiptoken: None,
        count: false,
        search: None,
        orderby: None,
        expand: false,
        eventual: false,
    };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        match k.trim_start_matches('$').to_ascii_lowercase().as_str() {
            "filter" => out.filter = Some(v.into_owned()),
            "select" => {
                out.select =
                    Some(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            }
            "top" => {
                let n: usize = v
                    .parse()
                    .map_err(|_| error(400, code::BAD_REQUEST, &format!("Invalid $top value '{v}'.")))?;
                if n == 0 || n > wg::MAX_PAGE_SIZE {
                    return Err(error(
                        400,
                        code::BAD_REQUEST,
                        &format!(
                            "Invalid page size specified: '{n}'. Must be between 1 and {}.",
                            wg::MAX_PAGE_SIZE
                        ),
                    ));
                }
                out.top = Some(n);
            }
            "skiptoken" => {
                out.skip = v.parse().unwrap_or(0);
                out.skiptoken = Some(v.into_owned());
            }
            "deltatoken" => out.deltatoken = Some(v.into_owned()),
            "count" => out.count = v.eq_ignore_ascii_case("true"),
            "search" => out.search = Some(v.trim().trim_matches('"').to_string()),
            "orderby" => out.orderby = Some(v.into_owned()),
            "expand" => out.expand = true,
            _ => {}
        }
    }
    Ok(out)
}

/// An object with only the properties `$select` asks for (`id` and `@` annotations always).
pub(super) fn project(mut full: Map<String, Value>, select: &Option<Vec<String>>) -> Value {
    if let Some(sel) = select {
        full.retain(|k, _| k == "id" || k.starts_with('@') || sel.iter().any(|s| s.eq_ignore_ascii_case(k)));
    }
    Value::Object(full)
}

/// `prop eq 'value'`, `prop in ('a','b',...)` (at most [`wg::MAX_IN_VALUES`] values, as
/// Graph allows) and `startswith(prop,'value')` over string properties.
struct GraphFilter {
    prop: String,
    values: Vec<String>,
    mode: Match,
}

#[derive(Clone, Copy)]
enum Match {
    Equal,
    Starts,
    Ends,
}

impl GraphFilter {
    fn parse(filter: &str) -> Result<GraphFilter, GraphAnswer> {
        let unsupported = || error(400, code::UNSUPPORTED_QUERY, &format!("Unsupported query: '{filter}'."));
        let f = filter.trim();
        let function = |name: &str| {
            f.strip_prefix(name)
                .or_else(|| f.strip_prefix(&name.to_ascii_lowercase()))
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
        };
        let (prop, values, mode) = if let Some(rest) = function("startsWith") {
            let (prop, val) = rest.split_once(',').ok_or_else(unsupported)?;
            (prop.trim(), vec![quoted(val).ok_or_else(unsupported)?], Match::Starts)
        } else if let Some(rest) = function("endsWith") {
            let (prop, val) = rest.split_once(',').ok_or_else(unsupported)?;
            (prop.trim(), vec![quoted(val).ok_or_else(unsupported)?], Match::Ends)
        } else {
            let (prop, rest) = f.split_once(' ').ok_or_else(unsupported)?;
            let rest = rest.trim_start();
            if let Some(list) = rest.strip_prefix("in ") {
                let list = list
                    .trim()
                    .strip_prefix('(')
                    .and_then(|l| l.strip_suffix(')'))
                    .ok_or_else(unsupported)?;
                let values = split_quoted(list).ok_or_else(unsupported)?;
                if values.len() > wg::MAX_IN_VALUES {
                    return Err(error(400, code::UNSUPPORTED_QUERY, &wg::too_many_in_values(values.len())));
                }
                (prop, values, Match::Equal)
            } else {
                let val = rest.strip_prefix("eq ").ok_or_else(unsupported)?;
                (prop, vec![quoted(val).ok_or_else(unsupported)?], Match::Equal)
            }
        };
        if !matches!(prop, "mail" | "userPrincipalName" | "displayName" | "mailNickname" | "id") {
            return Err(unsupported());
        }
        let values = values.iter().map(|v| normalize::principal(v)).collect();
        Ok(GraphFilter { prop: prop.to_string(), values, mode })
    }

    fn matches(&self, obj: &Map<String, Value>) -> bool {
        let got = normalize::principal(obj.get(&self.prop).and_then(Value::as_str).unwrap_or_default());
        match self.mode {
            Match::Starts => self.values.iter().any(|v| got.starts_with(v)),
            Match::Ends => self.values.iter().any(|v| got.ends_with(v)),
            Match::Equal => self.values.contains(&got),
        }
    }
}

/// A single-quoted OData string literal, quotes undoubled.
fn quoted(value: &str) -> Option<String> {
    let v = value.trim();
    v.strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .filter(|_| v.len() >= 2)
        .map(|v| v.replace("''", "'"))
}

/// `'a','b', 'c'`: comma-separated literals (a comma inside quotes belongs to its value).
fn split_quoted(list: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let body = rest.strip_prefix('\'')?;
        let mut end = None;
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                end = Some(i);
                break;
            }
            i += 1;
        }
        let end = end?;
        out.push(body[..end].replace("''", "'"));
        rest = body[end + 1..].trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The objects that pass the query's filter and search, in `$orderby` order, projected to
/// its `$select`. A `$search` is `"property:term"`, matched as a case-insensitive substring
/// (**assumed**: Graph tokenizes; for the names the emulator holds that is the same).
pub(super) fn select_filtered(
    maps: impl Iterator<Item = Map<String, Value>>,
    q: &Query,
) -> Result<Vec<Value>, GraphAnswer> {
    let filter = q.filter.as_deref().map(GraphFilter::parse).transpose()?;
    let search = q.search.as_deref().map(|s| match s.split_once(':') {
        Some((p, t)) => (p.trim().to_string(), t.trim().to_lowercase()),
        None => ("displayName".to_string(), s.trim().to_lowercase()),
    });
    let mut found: Vec<Map<String, Value>> = maps
        .filter(|m| filter.as_ref().is_none_or(|f| f.matches(m)))
        .filter(|m| {
            search.as_ref().is_none_or(|(p, t)| {
                m.get(p).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().contains(t.as_str()))
            })
        })
        .collect();
    if let Some(order) = &q.orderby {
        let mut parts = order.split_whitespace();
        let prop = parts.next().unwrap_or_default().to_string();
        let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        let key =
            |m: &Map<String, Value>| m.get(&prop).and_then(Value::as_str).unwrap_or_default().to_lowercase();
        found.sort_by_key(|m| key(m));
        if desc {
            found.reverse();
        }
    }
    Ok(found.into_iter().map(|m| project(m, &q.select)).collect())
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn user(upn: &str) -> Map<String, Value> {
        serde_json::json!({ "id": "1", "userPrincipalName": upn }).as_object().cloned().unwrap()
    }

    #[test]
    fn in_takes_up_to_fifteen_quoted_values() {
        let f =
            GraphFilter::parse("userPrincipalName in ('a@x.com', 'O''Neil@x.com','c,d@x.com')").ok().unwrap();
        assert!(
            f.matches(&user("A@x.com")) && f.matches(&user("o'neil@x.com")) && f.matches(&user("c,d@x.com"))
        );
        assert!(!f.matches(&user("b@x.com")));
        let eq = GraphFilter::parse("displayName eq 'a in b'").ok().unwrap();
        assert_eq!(eq.values, vec!["a in b".to_string()]);
        let many: Vec<String> = (0..16).map(|i| format!("u{i}@x.com")).collect();
        let refused = GraphFilter::parse(&wg::in_query("userPrincipalName", &many)).err().unwrap();
        assert_eq!(refused.status, 400);
        assert!(GraphFilter::parse(&wg::in_query("userPrincipalName", &many[..15])).is_ok());
        assert!(GraphFilter::parse("userPrincipalName in ('a@x.com'").is_err());
        assert!(GraphFilter::parse("userPrincipalName in ('a@x.com' 'b')").is_err());
    }
}
