//! Microsoft Graph reads over the emulated directory: groups (with `$filter`, `$select`,
//! `$top`), members, users, `$batch` and `groups/delta` with delta tokens, the advanced
//! queries that need `ConsistencyLevel: eventual`, and Graph's throttling budget. This file
//! routes a GET to its answer; [`answer`] is the answer type, [`query`] the query options,
//! [`objects`] the shapes of users and groups, [`paging`] the pages, [`budget`] the resource
//! units, [`delta`] and [`batch`] the two special endpoints.

mod answer;
mod batch;
mod budget;
mod delta;
mod objects;
mod paging;
mod query;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use self::answer::ok;
pub(crate) use self::answer::{GraphAnswer, error, throttled};
pub(crate) use self::batch::handle_batch;
use self::objects::{group_map, user_map};
use self::paging::{members_page, page};
use self::query::{Query, parse_query, project, select_filtered};
use super::store::Shared;
use super::sync::lock;
use super::tokens::{self, Caller};
use crate::wire::graph::{self as wg, code};
use crate::wire::oauth;

/// 401 like Graph: `InvalidAuthenticationToken` envelope and `WWW-Authenticate`.
fn unauthorized(message: &str, client_request_id: Option<&str>) -> Response {
    let mut r = error(401, code::UNAUTHORIZED, message).stamp(client_request_id).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(wg::WWW_AUTHENTICATE));
    r
}

fn forbidden() -> GraphAnswer {
    error(403, code::FORBIDDEN, "Insufficient privileges to complete the operation.")
}

/// Whether the caller may read: an app by its application permission `app_permission` (or
/// `Directory.Read.All`), a signed-in user's app by one of the `delegated` permissions in its
/// token's `scp`. Either way Graph answers 403 `Authorization_RequestDenied` otherwise.
fn allowed(caller: &Caller, app_permission: &str, delegated: &[&str]) -> bool {
    match caller {
        Caller::User { scp, .. } => wg::scp_allows(scp, delegated),
        Caller::App { roles, .. } => roles.iter().any(|r| r == app_permission || r == "Directory.Read.All"),
    }
}

fn not_found(id: &str) -> GraphAnswer {
    error(404, code::NOT_FOUND, &wg::resource_not_found(id))
}

/// Who asks and how: the caller, the client's request id, and whether it asked for
/// eventual consistency (advanced queries).
pub(crate) struct Asker<'a> {
    pub caller: &'a Caller,
    pub client_request_id: Option<&'a str>,
    pub eventual: bool,
}

impl<'a> Asker<'a> {
    /// From a request's (or a batch item's) headers.
    pub fn of(caller: &'a Caller, headers: impl Fn(&str) -> Option<&'a str>) -> Self {
        Asker {
            caller,
            client_request_id: headers(wg::HEADER_CLIENT_REQUEST_ID),
            eventual: headers(wg::HEADER_CONSISTENCY_LEVEL)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case(wg::CONSISTENCY_EVENTUAL)),
        }
    }
}

/// The answer to one GET below `/v1.0` (`path` starts with `/`), with its ids stamped.
pub(crate) fn get(shared: &Shared, asker: &Asker, path: &str, raw_query: &str) -> GraphAnswer {
    answer_get(shared, asker, path, raw_query).stamp(asker.client_request_id)
}

fn answer_get(shared: &Shared, asker: &Asker, path: &str, raw_query: &str) -> GraphAnswer {
    let mut q = match parse_query(raw_query) {
        Ok(q) => q,
        Err(a) => return a,
    };
    q.eventual = asker.eventual;
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
    match segs.as_slice() {
        ["groups", ..]
            if !allowed(asker.caller, oauth::PERMISSION_GROUP_READ_ALL, wg::DELEGATED_GROUP_READ) =>
        {
            return forbidden();
        }
        ["users", ..] if !allowed(asker.caller, oauth::PERMISSION_USER_READ_ALL, wg::DELEGATED_USER_READ) => {
            return forbidden();
        }
        [.., last] if *last == wg::COUNT_SEGMENT && !asker.eventual => {
            return error(400, code::REQUEST_BAD_REQUEST, wg::COUNT_NOT_SUPPORTED);
        }
        ["groups", id, ..]
            if !wg::is_delta_segment(id)
                && *id != wg::COUNT_SEGMENT
                && uuid::Uuid::try_parse(id).is_err() =>
        {
            return error(400, code::REQUEST_BAD_REQUEST, &wg::invalid_object_identifier(id));
        }
        _ => {}
    }
    let resource = match segs.first() {
        Some(&"users") => "User",
        _ => "Group",
    };
    if let Some(refusal) = q.advanced_refusal(resource, asker.eventual) {
        return refusal;
    }
    let read = wg::budget::Read { segments: &segs, select: q.select.is_some(), expand: q.expand, top: q.top };
    let unit_headers = match budget::charge(shared, asker.caller, &read) {
        Ok(h) => h,
        Err(throttled) => return throttled,
    };
    let at = Listing { shared, path, raw_query, q: &q };
    let mut answer = match segs.as_slice() {
        ["groups"] => list_groups(&at),
        ["users", c] | ["groups", c] if *c == wg::COUNT_SEGMENT => count(shared, segs[0]),
        ["groups", d] if wg::is_delta_segment(d) => delta::delta(shared, &q),
        ["groups", id] => one_group(shared, id, &q),
        ["groups", id, "members"] => {
            members_page(shared, id, &q, path, raw_query).unwrap_or_else(|| not_found(id))
        }
        ["users"] => list_users(&at),
        ["users", id] => one_user(shared, id, &q),
        _ => error(
            400,
            code::BAD_REQUEST,
            &format!("Resource not found for the segment '{}'.", segs.first().unwrap_or(&"")),
        ),
    };
    answer.headers.extend(unit_headers);
    answer
}

/// `GET /users/$count` or `/groups/$count` (advanced queries only): the number, as text.
fn count(shared: &Shared, what: &str) -> GraphAnswer {
    let n = if what == "users" {
        lock(&shared.tenant).data.users.len()
    } else {
        shared.with_graph_groups(<[_]>::len)
    };
    ok(json!(n))
}

/// Where a collection is being listed: the request and its query options.
struct Listing<'a> {
    shared: &'a Shared,
    path: &'a str,
    raw_query: &'a str,
    q: &'a Query,
}

/// `GET /groups`, as Graph sees them (after the replication delay).
fn list_groups(at: &Listing) -> GraphAnswer {
    at.shared.with_graph_groups(|groups| match select_filtered(groups.iter().map(group_map), at.q) {
        Ok(items) => page(at.shared, at.path, at.raw_query, items, at.q, wg::CONTEXT_GROUPS),
        Err(a) => a,
    })
}

/// `GET /groups/{id}`, as Graph sees it.
fn one_group(shared: &Shared, id: &str, q: &Query) -> GraphAnswer {
    shared.with_graph_groups(|groups| match groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) {
        Some(g) => {
            let mut body = project(group_map(g), &q.select);
            body[wg::ODATA_CONTEXT] = json!(wg::context_url(&shared.base_url, wg::CONTEXT_GROUP_ENTITY));
            ok(body)
        }
        None => not_found(id),
    })
}

/// `GET /users`.
fn list_users(at: &Listing) -> GraphAnswer {
    let t = lock(&at.shared.tenant);
    let items = select_filtered(t.data.users.iter().map(user_map), at.q);
    drop(t);
    match items {
        Ok(items) => page(at.shared, at.path, at.raw_query, items, at.q, wg::CONTEXT_USERS),
        Err(a) => a,
    }
}

/// `GET /users/{id or principal name}`.
fn one_user(shared: &Shared, id: &str, q: &Query) -> GraphAnswer {
    let found = lock(&shared.tenant).user_by_id_or_upn(id).map(user_map);
    match found {
        Some(u) => {
            let mut body = project(u, &q.select);
            body[wg::ODATA_CONTEXT] = json!(wg::context_url(&shared.base_url, wg::CONTEXT_USER_ENTITY));
            ok(body)
        }
        None => not_found(id),
    }
}

/// A header of a request, as text.
fn header_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `GET /v1.0/...`
pub(crate) fn handle_get(shared: &Arc<Shared>, headers: &HeaderMap, path: &str, query: &str) -> Response {
    let client_request_id = header_of(headers, wg::HEADER_CLIENT_REQUEST_ID);
    match tokens::authenticate(shared, headers, oauth::GRAPH_RESOURCE) {
        Ok(caller) => {
            let asker = Asker::of(&caller, |name| header_of(headers, name));
            get(shared, &asker, path, query).into_response()
        }
        Err(p) => unauthorized(p.message(), client_request_id),
    }
}
