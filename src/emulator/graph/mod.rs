//! Microsoft Graph reads over the emulated directory: groups (with `$filter`, `$select`,
//! `$top`), members, users, `$batch` and `groups/delta` with delta tokens. This file routes a
//! GET to its answer; [`answer`] is the answer type, [`query`] the query options, [`objects`]
//! the shapes of users and groups, [`paging`] the pages, [`delta`] and [`batch`] the two
//! special endpoints.

mod answer;
mod batch;
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
fn unauthorized(message: &str) -> Response {
    let mut r = error(401, code::UNAUTHORIZED, message).into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(wg::WWW_AUTHENTICATE));
    r
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

fn not_found(id: &str) -> GraphAnswer {
    error(
        404,
        code::NOT_FOUND,
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
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
    let at = Listing { shared, path, raw_query, q: &q };
    match segs.as_slice() {
        ["groups", ..] if !allowed(caller, oauth::PERMISSION_GROUP_READ_ALL) => forbidden(),
        ["users", ..] if !allowed(caller, oauth::PERMISSION_USER_READ_ALL) => forbidden(),
        ["groups"] => list_groups(&at),
        ["groups", "delta"] => delta::delta(shared, &q),
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
    }
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
        Ok(items) => page(at.shared, at.path, at.raw_query, items, at.q, "groups"),
        Err(a) => a,
    })
}

/// `GET /groups/{id}`, as Graph sees it.
fn one_group(shared: &Shared, id: &str, q: &Query) -> GraphAnswer {
    shared.with_graph_groups(|groups| match groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) {
        Some(g) => {
            let mut body = project(group_map(g), &q.select);
            body["@odata.context"] = json!(format!("{}/v1.0/$metadata#groups/$entity", shared.base_url));
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
        Ok(items) => page(at.shared, at.path, at.raw_query, items, at.q, "users"),
        Err(a) => a,
    }
}

/// `GET /users/{id or principal name}`.
fn one_user(shared: &Shared, id: &str, q: &Query) -> GraphAnswer {
    let found = lock(&shared.tenant).user_by_id_or_upn(id).map(user_map);
    match found {
        Some(u) => {
            let mut body = project(u, &q.select);
            body["@odata.context"] = json!(format!("{}/v1.0/$metadata#users/$entity", shared.base_url));
            ok(body)
        }
        None => not_found(id),
    }
}

/// `GET /v1.0/...`
pub(crate) fn handle_get(shared: &Arc<Shared>, headers: &HeaderMap, path: &str, query: &str) -> Response {
    match tokens::authenticate(shared, headers, oauth::GRAPH_RESOURCE) {
        Ok(caller) => get(shared, &caller, path, query).into_response(),
        Err(p) => unauthorized(p.message()),
    }
}
