//! `POST /v1.0/$batch`: up to 20 GET requests answered in order, each with its own status,
//! headers and body, each priced against the throttling budget and subject to injected
//! throttling; a request whose `dependsOn` request failed gets 424.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::answer::{error, throttled};
use super::{Asker, get, header_of, unauthorized};
use crate::emulator::store::Shared;
use crate::emulator::sync::lock;
use crate::emulator::tokens;
use crate::wire::graph::{self as wg, code};
use crate::wire::oauth;

/// One request of a batch, as the emulator reads it.
struct Item {
    id: String,
    method: String,
    url: String,
    headers: Map<String, Value>,
    depends_on: Vec<String>,
}

/// The items of a batch body, or why the batch is refused (400).
fn items_of(body: &[u8]) -> Result<Vec<Item>, String> {
    let invalid = || "Invalid batch payload format.".to_string();
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    let requests = v.get("requests").and_then(Value::as_array).ok_or_else(invalid)?;
    if requests.len() > wg::MAX_BATCH {
        return Err(wg::too_many_batch_requests());
    }
    let mut items: Vec<Item> = Vec::new();
    for r in requests {
        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let id = text(wg::BATCH_ID).ok_or_else(invalid)?;
        if items.iter().any(|i| i.id == id) {
            return Err(format!("Batch request ids must be unique; '{id}' appears twice."));
        }
        let depends_on: Vec<String> = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| d.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid()),
        };
        // A dependency must be an earlier request of the batch.
        if let Some(d) = depends_on.iter().find(|d| !items.iter().any(|i| &i.id == *d)) {
            return Err(wg::invalid_dependency(d));
        }
        items.push(Item {
            id,
            method: text("method").ok_or_else(invalid)?,
            url: text("url").ok_or_else(invalid)?,
            headers: r.get(wg::BATCH_HEADERS).and_then(Value::as_object).cloned().unwrap_or_default(),
            depends_on,
        });
    }
    Ok(items)
}

/// `POST /v1.0/$batch`
pub(crate) fn handle_batch(shared: &Arc<Shared>, headers: &HeaderMap, body: &[u8]) -> Response {
    let client_request_id = header_of(headers, wg::HEADER_CLIENT_REQUEST_ID);
    let caller = match tokens::authenticate(shared, headers, oauth::GRAPH_RESOURCE) {
        Ok(c) => c,
        Err(p) => return unauthorized(p.message(), client_request_id),
    };
    let items = match items_of(body) {
        Ok(items) => items,
        Err(message) => {
            return error(400, code::BAD_REQUEST, &message).stamp(client_request_id).into_response();
        }
    };
    let faults = shared.faults();
    let mut statuses: BTreeMap<String, u16> = BTreeMap::new();
    let mut responses = Vec::new();
    for item in items {
        let item_header = |name: &str| {
            item.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
        };
        let asker = Asker::of(&caller, item_header);
        let failed =
            item.depends_on.iter().find(|d| statuses.get(*d).is_none_or(|s| !(200..300).contains(s)));
        let ans = if let Some(d) = failed {
            error(wg::FAILED_DEPENDENCY_STATUS, wg::FAILED_DEPENDENCY, &wg::failed_dependency(d))
                .stamp(asker.client_request_id)
        } else if lock(&shared.dice).roll_throttle(&faults) {
            lock(&shared.counters).throttled += 1;
            throttled(&faults.retry_after_header()).stamp(asker.client_request_id)
        } else if !item.method.eq_ignore_ascii_case("GET") {
            error(
                405,
                code::METHOD_NOT_ALLOWED,
                "Only GET requests are supported in a batch by the emulator.",
            )
            .stamp(asker.client_request_id)
        } else {
            let url = item.url.trim();
            let url = url.strip_prefix("https://graph.microsoft.com").unwrap_or(url);
            let url = url.strip_prefix(wg::VERSION_PATH).unwrap_or(url);
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
            get(shared, &asker, &path, query)
        };
        statuses.insert(item.id.clone(), ans.status);
        let mut hdrs = Map::new();
        hdrs.insert(wg::HEADER_CONTENT_TYPE.into(), json!(wg::JSON_CONTENT_TYPE));
        for (k, v) in ans.headers {
            hdrs.insert(k, json!(v));
        }
        responses.push(ItemOut { id: item.id, status: ans.status, headers: hdrs, body: ans.body.into_raw() });
    }
    axum::Json(BatchOut(responses)).into_response()
}

/// The batch answer: `{"responses": [...]}`.
struct BatchOut(Vec<ItemOut>);

impl Serialize for BatchOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(wg::BATCH_RESPONSES, &self.0)?;
        m.end()
    }
}

/// One answer of a batch; the body stays written (pages of members are not parsed again).
struct ItemOut {
    id: String,
    status: u16,
    headers: Map<String, Value>,
    body: Option<Box<RawValue>>,
}

impl Serialize for ItemOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(wg::BATCH_ID, &self.id)?;
        m.serialize_entry(wg::BATCH_STATUS, &self.status)?;
        m.serialize_entry(wg::BATCH_HEADERS, &self.headers)?;
        if let Some(body) = &self.body {
            m.serialize_entry(wg::BATCH_BODY, body)?;
        }
        m.end()
    }
}
