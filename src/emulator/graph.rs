//! Microsoft Graph reads over the emulated directory: groups (with `$filter`, `$select`,
//! `$top`), members, users, `$batch` and `groups/delta` with delta tokens.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::seed::{SeedGroup, SeedUser};
use super::store::{Shared, Tenant, lock};
use super::tokens::{self, Caller};
use crate::model::normalize;
use crate::wire::graph::{self as wg, BatchItemResponse, BatchRequest, BatchResponse, ErrorEnvelope, code};
use crate::wire::oauth;

/// A Graph answer before it becomes HTTP (also the inner answer of a batch).
pub(crate) struct GraphAnswer {
    pub status: u16,
    pub body: AnswerBody,
    pub headers: Vec<(String, String)>,
}

/// A body as a JSON tree, or already written (pages, so that thousands of members are
/// written once, straight from the tenant, and not built into a tree first).
pub(crate) enum AnswerBody {
    Json(Value),
    Raw(Box<RawValue>),
}

impl AnswerBody {
    fn into_raw(self) -> Option<Box<RawValue>> {
        match self {
            AnswerBody::Json(v) => serde_json::value::to_raw_value(&v).ok(),
            AnswerBody::Raw(r) => Some(r),
        }
    }
}

fn ok(body: Value) -> GraphAnswer {
    GraphAnswer { status: 200, body: AnswerBody::Json(body), headers: Vec::new() }
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> GraphAnswer {
    GraphAnswer {
        status,
        body: AnswerBody::Json(
            serde_json::to_value(ErrorEnvelope::new(code, message)).unwrap_or(Value::Null),
        ),
        headers: Vec::new(),
    }
}

pub(crate) fn throttled(retry_after: &str) -> GraphAnswer {
    let mut a = error(429, code::THROTTLED, "Too many requests; retry after the interval in Retry-After.");
    a.headers.push(("Retry-After".into(), retry_after.to_string()));
    a
}

impl IntoResponse for GraphAnswer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = match self.body {
            AnswerBody::Json(v) => (status, axum::Json(v)).into_response(),
            AnswerBody::Raw(raw) => {
                let json = HeaderValue::from_static("application/json");
                (status, [(header::CONTENT_TYPE, json)], String::from(Box::<str>::from(raw))).into_response()
            }
        };
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (header::HeaderName::try_from(k), HeaderValue::from_str(&v)) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    }
}

/// 401 like Graph: `InvalidAuthenticationToken` envelope and `WWW-Authenticate`.
fn unauthorized(message: &str) -> Response {
    let mut r = error(401, code::UNAUTHORIZED, message).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(wg::WWW_AUTHENTICATE));
    r
}

/// A delta snapshot: per group, the selected scalar values and the member ids.
#[derive(Debug, Clone)]
struct Snapshot {
    created: DateTime<Utc>,
    select: Option<Vec<String>>,
    groups: BTreeMap<String, (Map<String, Value>, BTreeSet<String>)>,
}

/// Delta tokens and the pages of delta answers still to be fetched.
#[derive(Default)]
pub(crate) struct DeltaStore {
    snapshots: HashMap<String, Snapshot>,
    order: VecDeque<String>,
    pages: HashMap<String, (VecDeque<Value>, String)>,
}

const MAX_SNAPSHOTS: usize = 10_000;

impl DeltaStore {
    pub fn clear(&mut self) {
        *self = DeltaStore::default();
    }

    fn remember(&mut self, snap: Snapshot) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.snapshots.insert(token.clone(), snap);
        self.order.push_back(token.clone());
        while self.order.len() > MAX_SNAPSHOTS {
            if let Some(old) = self.order.pop_front() {
                self.snapshots.remove(&old);
            }
        }
        token
    }
}

struct Query {
    filter: Option<String>,
    select: Option<Vec<String>>,
    top: Option<usize>,
    skip: usize,
    deltatoken: Option<String>,
    skiptoken: Option<String>,
}

fn parse_query(q: &str) -> Result<Query, GraphAnswer> {
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

fn project(mut full: Map<String, Value>, select: &Option<Vec<String>>) -> Value {
    if let Some(sel) = select {
        full.retain(|k, _| k == "id" || k.starts_with('@') || sel.iter().any(|s| s.eq_ignore_ascii_case(k)));
    }
    Value::Object(full)
}

fn group_map(g: &SeedGroup) -> Map<String, Value> {
    let v = json!({
        "id": g.id,
        "displayName": g.display(),
        "mail": g.primary_smtp_address,
        "mailNickname": g.alias(),
        "description": g.description,
        "groupTypes": [],
        "mailEnabled": true,
        "securityEnabled": g.is_security(),
        "proxyAddresses": [format!("SMTP:{}", g.primary_smtp_address)],
    });
    into_map(v)
}

/// A user as Graph shows it, borrowed from the tenant, with only the properties `$select`
/// asks for (`@odata.type` and `id` always).
#[derive(Serialize)]
struct UserOut<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    id: &'a str,
    #[serde(rename = "userPrincipalName", skip_serializing_if = "Option::is_none")]
    upn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mail: Option<Option<&'a str>>,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(rename = "userType", skip_serializing_if = "Option::is_none")]
    user_type: Option<&'static str>,
    #[serde(rename = "accountEnabled", skip_serializing_if = "Option::is_none")]
    account_enabled: Option<bool>,
}

impl<'a> UserOut<'a> {
    fn new(u: &'a SeedUser, select: &Option<Vec<String>>) -> Self {
        let wants = |key: &str| select.as_ref().is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(key)));
        UserOut {
            odata_type: wg::ODATA_TYPE_USER,
            id: &u.id,
            upn: wants("userPrincipalName").then_some(u.user_principal_name.as_str()),
            mail: wants("mail").then_some(u.mail.as_deref()),
            display_name: wants("displayName")
                .then(|| u.display_name.as_deref().unwrap_or_else(|| u.alias())),
            user_type: wants("userType").then_some(if u.guest {
                wg::USER_TYPE_GUEST
            } else {
                wg::USER_TYPE_MEMBER
            }),
            account_enabled: wants("accountEnabled").then_some(true),
        }
    }
}

fn user_map(u: &SeedUser) -> Map<String, Value> {
    into_map(serde_json::to_value(UserOut::new(u, &None)).unwrap_or(Value::Null))
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A nested group as a member page lists it.
fn member_group_map(groups: &[SeedGroup], id: &str) -> Option<Map<String, Value>> {
    groups.iter().find(|g| g.id == id).map(|g| {
        let mut m = group_map(g);
        m.insert("@odata.type".into(), json!(wg::ODATA_TYPE_GROUP));
        m
    })
}

/// `prop eq 'value'`, `prop in ('a','b',...)` (at most [`wg::MAX_IN_VALUES`] values, as
/// Graph allows) and `startswith(prop,'value')` over string properties.
struct GraphFilter {
    prop: String,
    values: Vec<String>,
    starts: bool,
}

impl GraphFilter {
    fn parse(filter: &str) -> Result<GraphFilter, GraphAnswer> {
        let unsupported = || error(400, code::UNSUPPORTED_QUERY, &format!("Unsupported query: '{filter}'."));
        let f = filter.trim();
        let (prop, values, starts) = if let Some(rest) =
            f.strip_prefix("startswith(").and_then(|r| r.strip_suffix(')'))
        {
            let (prop, val) = rest.split_once(',').ok_or_else(unsupported)?;
            (prop.trim(), vec![quoted(val).ok_or_else(unsupported)?], true)
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
                (prop, values, false)
            } else {
                let val = rest.strip_prefix("eq ").ok_or_else(unsupported)?;
                (prop, vec![quoted(val).ok_or_else(unsupported)?], false)
            }
        };
        if !matches!(prop, "mail" | "userPrincipalName" | "displayName" | "mailNickname" | "id") {
            return Err(unsupported());
        }
        let values = values.iter().map(|v| normalize::principal(v)).collect();
        Ok(GraphFilter { prop: prop.to_string(), values, starts })
    }

    fn matches(&self, obj: &Map<String, Value>) -> bool {
        let got = normalize::principal(obj.get(&self.prop).and_then(Value::as_str).unwrap_or_default());
        if self.starts { self.values.iter().any(|v| got.starts_with(v)) } else { self.values.contains(&got) }
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

/// The objects that pass the query's filter, projected to its `$select`.
fn select_filtered(
    maps: impl Iterator<Item = Map<String, Value>>,
    q: &Query,
) -> Result<Vec<Value>, GraphAnswer> {
    let filter = q.filter.as_deref().map(GraphFilter::parse).transpose()?;
    Ok(maps.filter(|m| filter.as_ref().is_none_or(|f| f.matches(m))).map(|m| project(m, &q.select)).collect())
}

/// A page of `items` at `skip` with a nextLink that repeats the query.
fn page(
    shared: &Shared,
    path: &str,
    raw_query: &str,
    items: Vec<Value>,
    q: &Query,
    context: &str,
) -> GraphAnswer {
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(q.skip).take(page_size(q)).collect();
    page_of(shared, path, raw_query, value, total, q, context)
}

fn page_size(q: &Query) -> usize {
    q.top.unwrap_or(wg::DEFAULT_PAGE_SIZE)
}

/// A page of a collection as Graph writes it.
#[derive(Serialize)]
struct PageOut<T> {
    #[serde(rename = "@odata.context")]
    context: String,
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

/// The page `value` (already sliced at `skip`) of `total` items, with a nextLink that
/// repeats the query when more follow.
fn page_of<T: Serialize>(
    shared: &Shared,
    path: &str,
    raw_query: &str,
    value: Vec<T>,
    total: usize,
    q: &Query,
    context: &str,
) -> GraphAnswer {
    let size = page_size(q);
    let next_link = (q.skip + size < total).then(|| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
            if k.trim_start_matches('$') != "skiptoken" {
                ser.append_pair(&k, &v);
            }
        }
        ser.append_pair("$skiptoken", &(q.skip + size).to_string());
        format!("{}/v1.0{path}?{}", shared.base_url, ser.finish())
    });
    let page = PageOut { context: format!("{}/v1.0/$metadata#{context}", shared.base_url), value, next_link };
    match serde_json::value::to_raw_value(&page) {
        Ok(raw) => GraphAnswer { status: 200, body: AnswerBody::Raw(raw), headers: Vec::new() },
        Err(e) => error(503, code::SERVICE_UNAVAILABLE, &format!("the page could not be written: {e}")),
    }
}

fn forbidden() -> GraphAnswer {
    error(403, code::FORBIDDEN, "Insufficient privileges to complete the operation.")
}

fn allowed(caller: &Caller, permission: &str) -> bool {
    match caller {
        Caller::User { .. } => true,
        Caller::App { roles, .. } => roles.iter().any(|r| r == permission || r == "Directory.Read.All"),
    }
}

/// Answers one GET below `/v1.0` (`path` starts with `/`).
pub(crate) fn get(shared: &Shared, caller: &Caller, path: &str, raw_query: &str) -> GraphAnswer {
    let q = match parse_query(raw_query) {
        Ok(q) => q,
        Err(a) => return a,
    };
    // Split first, then decode, so an encoded `/` stays inside its segment.
    let decoded: Result<Vec<String>, _> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8().map(|d| d.into_owned()))
        .collect();
    let Ok(decoded) = decoded else {
        return error(400, code::BAD_REQUEST, "The request path is not valid percent-encoded UTF-8.");
    };
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let not_found = |id: &str| {
        error(
            404,
            code::NOT_FOUND,
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    };
    match segs.as_slice() {
        ["groups", ..] if !allowed(caller, oauth::PERMISSION_GROUP_READ_ALL) => forbidden(),
        ["users", ..] if !allowed(caller, oauth::PERMISSION_USER_READ_ALL) => forbidden(),
        ["groups"] => {
            shared.with_graph_groups(|groups| match select_filtered(groups.iter().map(group_map), &q) {
                Ok(items) => page(shared, path, raw_query, items, &q, "groups"),
                Err(a) => a,
            })
        }
        ["groups", "delta"] => delta(shared, &q),
        ["groups", id] => {
            shared.with_graph_groups(|groups| match groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) {
                Some(g) => {
                    let mut body = project(group_map(g), &q.select);
                    body["@odata.context"] =
                        json!(format!("{}/v1.0/$metadata#groups/$entity", shared.base_url));
                    ok(body)
                }
                None => not_found(id),
            })
        }
        ["groups", id, "members"] => {
            members_page(shared, id, &q, path, raw_query).unwrap_or_else(|| not_found(id))
        }
        ["users"] => {
            let t = lock(&shared.tenant);
            let items = select_filtered(t.seed.users.iter().map(user_map), &q);
            drop(t);
            match items {
                Ok(items) => page(shared, path, raw_query, items, &q, "users"),
                Err(a) => a,
            }
        }
        ["users", id] => {
            let found = lock(&shared.tenant).user_by_id_or_upn(id).map(user_map);
            match found {
                Some(u) => {
                    let mut body = project(u, &q.select);
                    body["@odata.context"] =
                        json!(format!("{}/v1.0/$metadata#users/$entity", shared.base_url));
                    ok(body)
                }
                None => not_found(id),
            }
        }
        _ => error(
            400,
            code::BAD_REQUEST,
            &format!("Resource not found for the segment '{}'.", segs.first().unwrap_or(&"")),
        ),
    }
}

/// A member on a page: a user written straight from the tenant, or a nested group.
#[derive(Serialize)]
#[serde(untagged)]
enum MemberOut<'a> {
    User(UserOut<'a>),
    Other(Value),
}

/// The page of a group's members at the query's skip, as Graph sees the group; `None` when
/// the group is not (yet) visible. Only the page's members are resolved, each through the
/// user index, and written while the tenant lock is held, so that is O(page) work.
fn members_page(shared: &Shared, id: &str, q: &Query, path: &str, raw_query: &str) -> Option<GraphAnswer> {
    // Groups come from the delayed view when a replication delay is set, users from the tenant.
    let view = shared.history_view();
    let t = lock(&shared.tenant);
    let groups: &[SeedGroup] = view.as_deref().map(Vec::as_slice).unwrap_or(&t.seed.groups);
    let g = groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))?;
    let value: Vec<MemberOut<'_>> = g
        .members
        .iter()
        .skip(q.skip)
        .take(page_size(q))
        .filter_map(|m| match t.user_by_id(m) {
            Some(u) => Some(MemberOut::User(UserOut::new(u, &q.select))),
            None => member_group_map(groups, m).map(|g| MemberOut::Other(project(g, &q.select))),
        })
        .collect();
    Some(page_of(shared, path, raw_query, value, g.members.len(), q, "directoryObjects"))
}

fn snapshot_of(groups: &[SeedGroup], select: &Option<Vec<String>>, now: DateTime<Utc>) -> Snapshot {
    let groups = groups
        .iter()
        .map(|g| {
            let scalars = match project(group_map(g), select) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            (g.id.clone(), (scalars, g.members.clone()))
        })
        .collect();
    Snapshot { created: now, select: select.clone(), groups }
}

fn wants_members(select: &Option<Vec<String>>) -> bool {
    select.as_ref().is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case("members")))
}

fn member_ref(t: &Tenant, id: &str, removed: bool) -> Value {
    let kind = if t.user_by_id(id).is_some() { wg::ODATA_TYPE_USER } else { wg::ODATA_TYPE_GROUP };
    let mut v = json!({ "@odata.type": kind, "id": id });
    if removed {
        v["@removed"] = json!({ "reason": wg::REMOVED_REASON_DELETED });
    }
    v
}

/// `GET /groups/delta`: a full round without a token, changes since the token with one.
fn delta(shared: &Shared, q: &Query) -> GraphAnswer {
    let now = shared.now();
    let page_size = q.top.unwrap_or(wg::DEFAULT_PAGE_SIZE);
    if let Some(skip) = &q.skiptoken {
        let mut store = lock(&shared.delta);
        let Some((mut rest, token)) = store.pages.remove(skip) else {
            return error(
                400,
                code::BAD_REQUEST,
                "The $skiptoken of this link isn't valid; start the delta round again.",
            );
        };
        return delta_page(shared, &mut store, &mut rest, token, page_size);
    }
    let old = match &q.deltatoken {
        Some(t) => {
            if t.is_empty() || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return error(400, code::BAD_REQUEST, "Badly formed delta token.");
            }
            let store = lock(&shared.delta);
            match store.snapshots.get(t) {
                Some(s) if now - s.created <= Duration::days(wg::DELTA_TOKEN_DAYS) => Some(s.clone()),
                _ => {
                    return error(
                        410,
                        code::SYNC_STATE_NOT_FOUND,
                        "The delta token is expired or unknown; start a full round without a token.",
                    );
                }
            }
        }
        None => None,
    };
    let select = old.as_ref().map(|s| s.select.clone()).unwrap_or_else(|| q.select.clone());
    let view = shared.history_view();
    let t = lock(&shared.tenant);
    let groups: &[SeedGroup] = view.as_deref().map(Vec::as_slice).unwrap_or(&t.seed.groups);
    let (entries, snap) = {
        let snap = snapshot_of(groups, &select, now);
        let mut entries = Vec::new();
        for (id, (scalars, members)) in &snap.groups {
            let prev = old.as_ref().and_then(|o| o.groups.get(id));
            let (added, removed): (Vec<&String>, Vec<&String>) = match prev {
                Some((_, pm)) => (members.difference(pm).collect(), pm.difference(members).collect()),
                None => (members.iter().collect(), Vec::new()),
            };
            let scalar_changed = prev.is_none_or(|(ps, _)| ps != scalars);
            if !scalar_changed && added.is_empty() && removed.is_empty() {
                continue;
            }
            let mut e = Value::Object(scalars.clone());
            if wants_members(&select) && (!added.is_empty() || !removed.is_empty() || prev.is_none()) {
                let md: Vec<Value> = added
                    .iter()
                    .map(|m| member_ref(&t, m, false))
                    .chain(removed.iter().map(|m| member_ref(&t, m, true)))
                    .collect();
                e["members@delta"] = json!(md);
            }
            entries.push(e);
        }
        if let Some(o) = &old {
            for id in o.groups.keys().filter(|id| !snap.groups.contains_key(*id)) {
                entries.push(json!({ "id": id, "@removed": { "reason": wg::REMOVED_REASON_DELETED } }));
            }
        }
        (entries, snap)
    };
    drop(t);
    let mut store = lock(&shared.delta);
    let token = store.remember(snap);
    let mut rest: VecDeque<Value> = entries.into();
    delta_page(shared, &mut store, &mut rest, token, page_size)
}

fn delta_page(
    shared: &Shared,
    store: &mut DeltaStore,
    rest: &mut VecDeque<Value>,
    token: String,
    size: usize,
) -> GraphAnswer {
    let value: Vec<Value> = (0..size).map_while(|_| rest.pop_front()).collect();
    let mut body =
        json!({ "@odata.context": format!("{}/v1.0/$metadata#groups", shared.base_url), "value": value });
    if rest.is_empty() {
        body["@odata.deltaLink"] =
            json!(format!("{}/v1.0/groups/delta?$deltatoken={token}", shared.base_url));
    } else {
        let skip = uuid::Uuid::new_v4().simple().to_string();
        store.pages.insert(skip.clone(), (std::mem::take(rest), token));
        body["@odata.nextLink"] = json!(format!("{}/v1.0/groups/delta?$skiptoken={skip}", shared.base_url));
    }
    ok(body)
}

/// `GET /v1.0/...`
pub(crate) fn handle_get(shared: &Arc<Shared>, headers: &HeaderMap, path: &str, query: &str) -> Response {
    match tokens::authenticate(shared, headers, oauth::GRAPH_RESOURCE) {
        Ok(caller) => get(shared, &caller, path, query).into_response(),
        Err(p) => unauthorized(p.message()),
    }
}

/// `POST /v1.0/$batch`
pub(crate) fn handle_batch(shared: &Arc<Shared>, headers: &HeaderMap, body: &[u8]) -> Response {
    let caller = match tokens::authenticate(shared, headers, oauth::GRAPH_RESOURCE) {
        Ok(c) => c,
        Err(p) => return unauthorized(p.message()),
    };
    let req: BatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return error(400, code::BAD_REQUEST, "Invalid batch payload format.").into_response(),
    };
    if req.requests.len() > wg::MAX_BATCH {
        return error(
            400,
            code::BAD_REQUEST,
            &format!("The number of batch requests exceeds the limit of {}.", wg::MAX_BATCH),
        )
        .into_response();
    }
    let mut ids = BTreeSet::new();
    if let Some(dup) = req.requests.iter().find(|r| !ids.insert(r.id.clone())) {
        return error(
            400,
            code::BAD_REQUEST,
            &format!("Batch request ids must be unique; '{}' appears twice.", dup.id),
        )
        .into_response();
    }
    let faults = shared.faults();
    let mut responses = Vec::new();
    for item in req.requests {
        let ans = if lock(&shared.dice).roll_throttle(&faults) {
            lock(&shared.counters).throttled += 1;
            throttled(&faults.retry_after_header())
        } else if !item.method.eq_ignore_ascii_case("GET") {
            error(
                405,
                code::METHOD_NOT_ALLOWED,
                "Only GET requests are supported in a batch by the emulator.",
            )
        } else {
            let url = item.url.trim();
            let url = url.strip_prefix("https://graph.microsoft.com").unwrap_or(url);
            let url = url.strip_prefix(wg::VERSION_PATH).unwrap_or(url);
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
            get(shared, &caller, &path, query)
        };
        let mut hdrs = Map::new();
        hdrs.insert("Content-Type".into(), json!("application/json"));
        for (k, v) in ans.headers {
            hdrs.insert(k, json!(v));
        }
        responses.push(BatchItemResponse {
            id: item.id,
            status: ans.status,
            headers: Some(hdrs),
            body: ans.body.into_raw(),
        });
    }
    axum::Json(BatchResponse { responses }).into_response()
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    fn user(upn: &str) -> Map<String, Value> {
        into_map(json!({ "id": "1", "userPrincipalName": upn }))
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
