//! A Graph answer before it becomes HTTP (also the inner answer of a `$batch`), and Graph's
//! error envelope, written by the emulator from the wire facts (never from the client's
//! decode types).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::wire::graph::{self as wg};

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
    pub fn into_raw(self) -> Option<Box<RawValue>> {
        match self {
            AnswerBody::Json(v) => serde_json::value::to_raw_value(&v).ok(),
            AnswerBody::Raw(r) => Some(r),
        }
    }
}

pub(super) fn ok(body: Value) -> GraphAnswer {
    GraphAnswer { status: 200, body: AnswerBody::Json(body), headers: Vec::new() }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An error in Graph's envelope; its `innerError` names a fresh request id, which
/// [`GraphAnswer::stamp`] pairs with the client's id.
pub(crate) fn error(status: u16, code: &str, message: &str) -> GraphAnswer {
    let rid = new_request_id();
    let body = json!({ wg::ERROR: {
        wg::ERROR_CODE: code,
        wg::ERROR_MESSAGE: message,
        wg::INNER_ERROR: wg::inner_error(&rid, None, &chrono::Utc::now()),
    }});
    GraphAnswer { status, body: AnswerBody::Json(body), headers: Vec::new() }
}

/// 429 with Graph's throttled body and `Retry-After` (seconds).
pub(crate) fn throttled(retry_after: &str) -> GraphAnswer {
    let body = wg::throttled_body(&new_request_id(), &chrono::Utc::now());
    GraphAnswer {
        status: 429,
        body: AnswerBody::Json(body),
        headers: vec![(wg::RETRY_AFTER_HEADER.into(), retry_after.to_string())],
    }
}

impl GraphAnswer {
    /// Gives the answer its ids: the `request-id` header (the one of the error body, or a
    /// new one), and the client's `client-request-id` echoed in the header and the body's
    /// `innerError`.
    pub fn stamp(mut self, client_request_id: Option<&str>) -> Self {
        let mut rid = None;
        if let AnswerBody::Json(v) = &mut self.body
            && let Some(inner) = v.pointer_mut(&format!("/{}/{}", wg::ERROR, wg::INNER_ERROR))
            && let Some(inner) = inner.as_object_mut()
        {
            rid = inner.get(wg::HEADER_REQUEST_ID).and_then(Value::as_str).map(str::to_string);
            if let (Some(cid), true) = (client_request_id, inner.contains_key(wg::HEADER_CLIENT_REQUEST_ID)) {
                inner.insert(wg::HEADER_CLIENT_REQUEST_ID.into(), json!(cid));
            }
        }
        let rid = rid.unwrap_or_else(new_request_id);
        let cid = client_request_id.map(str::to_string).unwrap_or_else(|| rid.clone());
        self.headers.push((wg::HEADER_REQUEST_ID.into(), rid));
        self.headers.push((wg::HEADER_CLIENT_REQUEST_ID.into(), cid));
        self
    }
}

impl IntoResponse for GraphAnswer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = match self.body {
            AnswerBody::Json(v) => (status, axum::Json(v)).into_response(),
            AnswerBody::Raw(raw) => {
                let json = HeaderValue::from_static(wg::JSON_CONTENT_TYPE);
                (status, [(header::CONTENT_TYPE, json)], String::from(Box::<str>::from(raw))).into_response()
            }
        };
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(&v)) {
                r.headers_mut().insert(k, v);
            }
        }
        r
    }
}
