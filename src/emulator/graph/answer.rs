//! A Graph answer before it becomes HTTP (also the inner answer of a `$batch`), and Graph's
//! error envelope.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::wire::graph::{ErrorEnvelope, code};

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
