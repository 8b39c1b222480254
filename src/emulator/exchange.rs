//! `POST /adminapi/beta/{tenant}/InvokeCommand`: token checks, body parsing, paging with
//! `Prefer: odata.maxpagesize` and `@odata.nextLink`, and the service's envelopes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::cmdlets::{self, CmdletError, Ctx};
use super::faults::Counters;
use super::store::Shared;
use super::sync::lock;
use super::tokens::{self, Caller};
use crate::wire::exchange::{
    self as wx, ErrorEnvelope, FORBIDDEN_NUL_BODY_LEN, InvokeCommandRequest, InvokeCommandResponse, class,
};
use crate::wire::oauth;

/// An error envelope with its status.
pub(crate) fn envelope(status: u16, class: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(ErrorEnvelope::new(class, message))).into_response()
}

fn cmdlet_error(e: &CmdletError) -> Response {
    envelope(wx::error_status(e.class), e.class, &e.message)
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
            part.trim().strip_prefix("odata.maxpagesize=").and_then(|n| n.trim().parse::<usize>().ok())
        })
        .map(|n| n.clamp(1, wx::MAX_PAGE_SIZE))
        .unwrap_or(wx::MAX_PAGE_SIZE)
}

fn skip_of(query: Option<&str>) -> Result<usize, ()> {
    let Some(q) = query else { return Ok(0) };
    match url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "$skiptoken") {
        Some((_, v)) => v.parse().map_err(|_| ()),
        None => Ok(0),
    }
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
    let Ok(skip) = skip_of(query.as_deref()) else {
        return envelope(
            400,
            class::ARGUMENT,
            "The $skiptoken of this link isn't valid; start the listing again.",
        );
    };
    let name = request.cmdlet_input.cmdlet_name.trim().to_string();
    Counters::bump(&mut lock(&shared.counters).per_cmdlet, &name);
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
    let size = page_size(&headers);
    let total = out.value.len();
    let next_link = (skip + size < total).then(|| {
        format!(
            "{}{}?$skiptoken={}",
            link_base(&shared, &headers),
            wx::invoke_command_path(&tenant),
            skip + size
        )
    });
    let value = out.value.into_iter().skip(skip).take(size).collect();
    axum::Json(InvokeCommandResponse {
        context: Some(format!(
            "{}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)",
            shared.base_url
        )),
        warnings_type: "#Collection(String)".into(),
        warnings: out.warnings,
        next_link,
        value,
    })
    .into_response()
}
