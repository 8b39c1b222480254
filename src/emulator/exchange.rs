//! `POST /adminapi/beta/{tenant}/InvokeCommand`: token checks, body parsing, paging with
//! `Prefer: odata.maxpagesize` and server-side continuations behind `@odata.nextLink`, and the
//! service's envelopes, written by the emulator itself with the member names and annotations
//! of [`crate::wire::exchange`].

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::cmdlets::{self, CmdletError, Ctx};
use super::faults::Counters;
use super::store::{Listing, Shared};
use super::sync::lock;
use super::tokens::{self, Caller};
use crate::wire::exchange::{
    self as wx, FORBIDDEN_NUL_BODY_LEN, InvokeCommandRequest, class, envelope as env, odata, paging,
};
use crate::wire::oauth;

/// The error envelope of an exception, with the members its class has (see
/// [`wx::envelope::layout`]).
pub(crate) fn envelope_json(status: u16, class: &str, message: &str) -> Value {
    let internal = json!({ (env::MESSAGE): message, (env::TYPE): class, (env::STACKTRACE): "" });
    let inner = json!({
        (env::MESSAGE): env::GENERIC_MESSAGE,
        (env::TYPE): env::INNER_ERROR_TYPE,
        (env::STACKTRACE): "",
        (env::INTERNAL_EXCEPTION): internal,
    });
    let mut error = Map::new();
    error.insert(env::CODE.into(), env::code_for_status(status).into());
    error.insert(env::MESSAGE.into(), env::GENERIC_MESSAGE.into());
    let layout = env::layout(class);
    if layout == env::Layout::Detailed {
        let detail = json!({
            (env::CODE): env::DETAIL_CODE_CLIENT,
            (env::TARGET): "",
            (env::MESSAGE): env::detail_message(class, message),
        });
        error.insert(env::DETAILS.into(), json!([detail]));
    }
    error.insert(env::INNER_ERROR.into(), inner);
    if layout == env::Layout::InnerWithWarnings {
        error.insert(odata::WARNINGS_TYPE.into(), odata::COLLECTION_OF_STRING.into());
        error.insert(odata::WARNINGS.into(), json!([]));
    }
    json!({ (env::ERROR): error })
}

/// An error envelope with its status.
pub(crate) fn envelope(status: u16, class: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (code, axum::Json(envelope_json(code.as_u16(), class, message))).into_response()
}

fn cmdlet_error(e: &CmdletError) -> Response {
    envelope(wx::error_status(e.class), e.class, &e.message)
}

/// A page of output: context, warnings (always present), the next link when there is more.
fn page_json(
    shared: &Shared,
    tenant: &str,
    warnings: Vec<String>,
    next: Option<String>,
    value: Vec<Value>,
) -> Value {
    let mut m = Map::new();
    m.insert(odata::CONTEXT.into(), odata::context(&shared.base_url, tenant).into());
    m.insert(odata::WARNINGS_TYPE.into(), odata::COLLECTION_OF_STRING.into());
    m.insert(odata::WARNINGS.into(), json!(warnings));
    if let Some(n) = next {
        m.insert(odata::NEXT_LINK.into(), n.into());
    }
    m.insert(odata::VALUE.into(), Value::Array(value));
    Value::Object(m)
}

/// 401 like the admin API: `WWW-Authenticate` and an empty body.
pub(crate) fn unauthorized() -> Response {
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(wx::WWW_AUTHENTICATE));
    r
}

/// 403 for a token without `Exchange.ManageAsApp`: a body of NUL bytes (observed quirk).
pub(crate) fn forbidden_nul() -> Response {
    let mut r = Response::new(Body::from(vec![0u8; FORBIDDEN_NUL_BODY_LEN]));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// Page size from `Prefer: odata.maxpagesize=N`, capped at the service's 1000.
fn page_size(headers: &HeaderMap) -> usize {
    headers
        .get_all(wx::HEADER_PREFER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            part.trim().strip_prefix(wx::PREFER_PAGE_SIZE_KEY).and_then(|n| n.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(1, wx::MAX_PAGE_SIZE))
        .unwrap_or(wx::MAX_PAGE_SIZE)
}

/// The `$skiptoken` of a next link, if the request has one.
fn skip_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == paging::SKIP_TOKEN)
        .map(|(_, v)| v.into_owned())
}

fn pagination_refused() -> Response {
    envelope(400, class::PAGINATION, wx::PAGINATION_EXPIRED_MESSAGE)
}

fn next_link(base: &str, tenant: &str, token: &str) -> String {
    format!("{base}{}?{}={token}", wx::invoke_command_path(tenant), paging::SKIP_TOKEN)
}

/// The base of the links an answer gives: the host the client called, as the service's links
/// name the host they were asked on (a client behind a proxy may call the emulator by another
/// name), else the emulator's own address.
/// A proxy in front says which scheme the client used (RFC 7239 `Forwarded: proto=`).
fn link_base(shared: &Shared, headers: &HeaderMap) -> String {
    let forwarded = headers.get(header::FORWARDED).and_then(|h| h.to_str().ok()).and_then(|f| {
        f.split([';', ','])
            .find_map(|p| p.trim().strip_prefix("proto=").map(|v| v.trim_matches('"').to_string()))
    });
    let scheme =
        forwarded.unwrap_or_else(|| shared.base_url.split("://").next().unwrap_or("http").to_string());
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("{scheme}://{h}"))
        .unwrap_or_else(|| shared.base_url.clone())
}

pub(crate) async fn invoke(
    shared: Arc<Shared>,
    tenant: String,
    headers: HeaderMap,
    query: Option<String>,
    body: &[u8],
) -> Response {
    let caller = match tokens::authenticate(&shared, &headers, oauth::EXCHANGE_RESOURCE) {
        Ok(c) => c,
        Err(tokens::TokenProblem::WrongTenant) => {
            let mut r = unauthorized();
            *r.status_mut() =
                StatusCode::from_u16(wx::OTHER_TENANT_TOKEN_STATUS).unwrap_or(StatusCode::UNAUTHORIZED);
            return r;
        }
        Err(_) => return unauthorized(),
    };
    if let Caller::App { roles, .. } = &caller
        && !roles.iter().any(|r| r == oauth::PERMISSION_EXCHANGE_MANAGE_AS_APP)
    {
        return forbidden_nul();
    }
    if !shared.tenant_matches(&tenant) {
        return envelope(
            404,
            class::NOT_FOUND,
            &format!("The tenant '{tenant}' wasn't found; use the tenant's domain or id."),
        );
    }
    let request: InvokeCommandRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return envelope(
                400,
                class::BAD_REQUEST_BODY,
                &format!(
                    "The request body isn't a valid InvokeCommand request ({e}); send {{\"CmdletInput\":{{\"CmdletName\":...,\"Parameters\":{{...}}}}}}."
                ),
            );
        }
    };
    let size = page_size(&headers);
    let body_value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let name = request.cmdlet_input.cmdlet_name.trim().to_string();
    Counters::bump(&mut lock(&shared.counters).per_cmdlet, &name);
    if let Some(token) = skip_token(query.as_deref()) {
        let now = shared.now();
        let Some((listing, offset)) = lock(&shared.exchange_pages).resume(&token, &body_value, now) else {
            return pagination_refused();
        };
        return serve_page(
            &shared,
            &link_base(&shared, &headers),
            &tenant,
            listing,
            offset,
            size,
            Vec::new(),
        );
    }
    let ctx = Ctx {
        caller: &caller,
        now: shared.now(),
        delay: shared.replication_delay(),
        journal: &shared.journal,
    };
    let (result, pending) = shared.write(|data| {
        let r = cmdlets::invoke(data, &ctx, &name, &request.cmdlet_input.parameters);
        let wrote = r.as_ref().is_ok_and(|o| o.wrote);
        (r, wrote)
    });
    if let Err(e) = shared.save(pending).await {
        return envelope(500, class::SERVER_ERROR, &e);
    }
    let out = match result {
        Ok(o) => o,
        Err(e) => return cmdlet_error(&e),
    };
    // The first page is answered from the output; only the rest is kept for its next link,
    // as text (see `Listing`).
    let mut first = out.value;
    let rest = first.split_off(size.min(first.len()));
    let next = (!rest.is_empty()).then(|| {
        let listing = Arc::new(Listing::new(body_value, &rest, shared.now()));
        let token = lock(&shared.exchange_pages).issue(listing, 0, shared.now());
        next_link(&link_base(&shared, &headers), &tenant, &token)
    });
    axum::Json(page_json(&shared, &tenant, out.warnings, next, first)).into_response()
}

/// The page of `listing` from `offset`, with a new continuation when more follows.
fn serve_page(
    shared: &Shared,
    base: &str,
    tenant: &str,
    listing: Arc<Listing>,
    offset: usize,
    size: usize,
    warnings: Vec<String>,
) -> Response {
    let end = offset.saturating_add(size).min(listing.len());
    let value = listing.page(offset..end);
    let next = (end < listing.len()).then(|| {
        let token = lock(&shared.exchange_pages).issue(listing.clone(), end, shared.now());
        next_link(base, tenant, &token)
    });
    axum::Json(page_json(shared, tenant, warnings, next, value)).into_response()
}
