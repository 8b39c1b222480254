//! Graph's query options as the emulator reads them: `$filter` (`eq` and `startswith` on
//! string properties), `$select`, `$top`, `$skiptoken` and `$deltatoken`.

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
}

pub(super) fn parse_query(q: &str) -> Result<Query, GraphAnswer> {
    let mut out = Query { filter: None, select: None, top: None, skip: 0, deltatoken: None, skiptoken: None };
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
            "count" | "orderby" | "expand" | "search" => {}
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

/// `prop eq 'value'` (also `startswith(prop,'value')`) over string properties.
struct GraphFilter {
    prop: String,
    value: String,
    starts: bool,
}

impl GraphFilter {
    fn parse(filter: &str) -> Result<GraphFilter, GraphAnswer> {
        let unsupported = || error(400, code::UNSUPPORTED_QUERY, &format!("Unsupported query: '{filter}'."));
        let f = filter.trim();
        let (prop, value, starts) =
            if let Some(rest) = f.strip_prefix("startswith(").and_then(|r| r.strip_suffix(')')) {
                let (prop, val) = rest.split_once(',').ok_or_else(unsupported)?;
                (prop.trim(), val.trim(), true)
            } else {
                let (prop, val) = f.split_once(" eq ").ok_or_else(unsupported)?;
                (prop.trim(), val.trim(), false)
            };
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .filter(|_| value.len() >= 2)
            .ok_or_else(unsupported)?
            .replace("''", "'");
        if !matches!(prop, "mail" | "userPrincipalName" | "displayName" | "mailNickname" | "id") {
            return Err(unsupported());
        }
        Ok(GraphFilter { prop: prop.to_string(), value: normalize::principal(&value), starts })
    }

    fn matches(&self, obj: &Map<String, Value>) -> bool {
        let got = normalize::principal(obj.get(&self.prop).and_then(Value::as_str).unwrap_or_default());
        if self.starts { got.starts_with(&self.value) } else { got == self.value }
    }
}

/// The objects that pass the query's filter, projected to its `$select`.
pub(super) fn select_filtered(
    maps: impl Iterator<Item = Map<String, Value>>,
    q: &Query,
) -> Result<Vec<Value>, GraphAnswer> {
    let filter = q.filter.as_deref().map(GraphFilter::parse).transpose()?;
    Ok(maps.filter(|m| filter.as_ref().is_none_or(|f| f.matches(m))).map(|m| project(m, &q.select)).collect())
}
