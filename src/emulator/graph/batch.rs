//! `POST /v1.0/$batch`: up to 20 GET requests answered one by one, each with its own status,
//! headers and body, and each subject to throttling.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, json};

use super::answer::{error, throttled};
use super::{get, unauthorized};
use crate::emulator::store::Shared;
use crate::emulator::sync::lock;
use crate::emulator::tokens;
use crate::wire::graph::{self as wg, BatchItemResponse, BatchRequest, BatchResponse, code};
use crate::wire::oauth;

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
