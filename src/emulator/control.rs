//! The emulator's own endpoints, all under `/_emulator/` (never under Microsoft's paths):
//! reset, seed, tenant dump, faults, counters, policy journal, device-code approval (for
//! scripts; people use the pages of `devicelogin`), and the clock.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::faults::{Counters, Faults};
use super::seed::Seed;
use super::store::{MAX_CLOCK_OFFSET_MS, Shared};
use super::sync::lock;
use super::tenant_data::TenantData;
use super::tokens;

type S = State<Arc<Shared>>;

fn fail(message: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": message.to_string() }))).into_response()
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/health", get(health))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/seed", post(load_seed))
        .route("/_emulator/tenant", get(tenant))
        .route("/_emulator/faults", get(get_faults).put(put_faults))
        .route("/_emulator/counters", get(counters).delete(clear_counters))
        .route("/_emulator/journal", get(journal))
        .route("/_emulator/devicecode/approve", post(approve))
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance))
        .merge(super::devicelogin::router())
}

async fn health(State(s): S) -> Response {
    let t = lock(&s.tenant);
    axum::Json(json!({ "ok": true, "tenant": t.data.tenant.domain, "tenant_id": t.data.tenant.id }))
        .into_response()
}

async fn reset(State(s): S) -> Response {
    let pending = s.replace(s.initial.clone());
    s.reset_runtime();
    s.journal.clear();
    match s.save(pending).await {
        Ok(()) => axum::Json(json!({ "ok": true })).into_response(),
        Err(e) => fail(e),
    }
}

async fn load_seed(State(s): S, body: Bytes) -> Response {
    let seed = match std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(|t| Seed::from_json(t).and_then(TenantData::load).map_err(|e| e.to_string()))
    {
        Ok(seed) => seed,
        Err(e) => return fail(format!("the seed was not loaded: {e}")),
    };
    let pending = s.replace(seed);
    match s.save(pending).await {
        Ok(()) => axum::Json(json!({ "ok": true })).into_response(),
        Err(e) => fail(e),
    }
}

async fn tenant(State(s): S) -> Response {
    axum::Json(lock(&s.tenant).data.clone()).into_response()
}

async fn get_faults(State(s): S) -> Response {
    axum::Json(s.faults()).into_response()
}

async fn put_faults(State(s): S, body: Bytes) -> Response {
    let f: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return fail(format!("the faults were not set: {e}")),
    };
    if let Err(e) = f.validate() {
        return fail(e);
    }
    s.set_faults(f.clone());
    axum::Json(f).into_response()
}

async fn counters(State(s): S) -> Response {
    axum::Json(lock(&s.counters).clone()).into_response()
}

async fn clear_counters(State(s): S) -> Response {
    *lock(&s.counters) = Counters::default();
    axum::Json(json!({ "ok": true })).into_response()
}

/// `GET /_emulator/journal[?since=SEQ]`: `{"entries": [...]}`, oldest first.
async fn journal(State(s): S, RawQuery(query): RawQuery) -> Response {
    let mut since = 0;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "since" {
            match v.parse::<u64>() {
                Ok(n) => since = n,
                Err(_) => {
                    let error = format!("since must be a sequence number, not '{v}'; use ?since=0 for all");
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": error }))).into_response();
                }
            }
        }
    }
    axum::Json(json!({ "entries": s.journal.since(since) })).into_response()
}

#[derive(Deserialize)]
struct Approve {
    user_code: String,
    user: String,
    #[serde(default)]
    decline: bool,
}

async fn approve(State(s): S, body: Bytes) -> Response {
    let a: Approve = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return fail(format!("send {{\"user_code\": ..., \"user\": ...}}: {e}")),
    };
    match tokens::approve_device_code(&s, &a.user_code, &a.user, a.decline) {
        Ok(()) => axum::Json(json!({ "ok": true })).into_response(),
        Err(e) => fail(e),
    }
}

async fn clock(State(s): S) -> Response {
    axum::Json(json!({ "now": s.now().to_rfc3339(), "offset_ms": s.clock_offset_ms() })).into_response()
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    seconds: i64,
    #[serde(default)]
    ms: i64,
}

async fn advance(State(s): S, body: Bytes) -> Response {
    let a: Advance = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => return fail(format!("send {{\"seconds\": N}} or {{\"ms\": N}}: {e}")),
    };
    let Some(ms) = a.seconds.checked_mul(1000).and_then(|x| x.checked_add(a.ms)) else {
        return fail("the clock advance is too large");
    };
    let Some(offset) = s.advance_clock(ms) else {
        return fail(format!(
            "the clock may move at most {} ms from real time; advance it by less",
            MAX_CLOCK_OFFSET_MS
        ));
    };
    axum::Json(json!({ "now": s.now().to_rfc3339(), "offset_ms": offset })).into_response()
}
