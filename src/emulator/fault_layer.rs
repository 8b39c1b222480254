//! The fault layer in front of Microsoft's paths: request counters, the Exchange concurrency
//! limit, latency, and the injected faults (throttling, server errors, dropped connections,
//! a connection dropped after a write), as the fault options ask.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use super::exchange;
use super::faults::{Api, Counters, Faults, Injected};
use super::graph;
use super::store::Shared;
use super::sync::lock;
use super::tokens;
use crate::wire::exchange::{CONCURRENCY_LIMIT_MESSAGE, HEADER_CLIENT_REQUEST_ID, class};
use crate::wire::graph::code;

/// Lets a handler close its connection without answering (a dropped connection).
#[derive(Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// Counts the request, applies the concurrency limit and the faults, and counts the status.
pub(crate) async fn fault_layer(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let api = if path.starts_with("/adminapi/") {
        Api::Exchange
    } else if path.starts_with("/v1.0/") {
        Api::Graph
    } else {
        Api::Login
    };
    {
        let mut c = lock(&s.counters);
        c.requests += 1;
        Counters::bump(&mut c.per_endpoint, &endpoint_name(api, &path));
        if let Some(id) = req.headers().get(HEADER_CLIENT_REQUEST_ID).and_then(|v| v.to_str().ok()) {
            c.saw_request_id(id);
        }
    }
    let (_guard, inflight) = s.enter(api);
    let faults = s.faults();
    let response = if api == Api::Exchange
        && faults.exchange_concurrency_limit > 0
        && inflight > faults.exchange_concurrency_limit
    {
        lock(&s.counters).throttled += 1;
        let status =
            StatusCode::from_u16(faults.concurrency_limit_status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        with_retry_after((status, CONCURRENCY_LIMIT_MESSAGE).into_response(), &faults.retry_after_header())
    } else {
        answer_with_faults(&s, api, &faults, req, next).await
    };
    Counters::bump(&mut lock(&s.counters).per_status, response.status().as_str());
    response
}

/// After the API's latency, the injected fault the dice pick, or the real answer.
async fn answer_with_faults(s: &Shared, api: Api, faults: &Faults, req: Request, next: Next) -> Response {
    let latency = match api {
        Api::Login => faults.login_latency_ms,
        Api::Exchange => faults.exchange_latency_ms,
        Api::Graph => faults.graph_latency_ms,
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    // Sign-in is faulted only when asked (`login_faults`), so clients that are not testing
    // their token retries always get their tokens.
    let roll =
        if api == Api::Login && !faults.login_faults { Injected::None } else { lock(&s.dice).roll(faults) };
    match roll {
        Injected::Drop => {
            lock(&s.counters).dropped += 1;
            if let Some(kill) = req.extensions().get::<ConnKill>() {
                kill.0.notify_one();
                // The connection task drops this request with its connection.
                std::future::pending::<()>().await;
            }
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Injected::Throttle => {
            lock(&s.counters).throttled += 1;
            let r = if api == Api::Exchange {
                exchange::envelope(
                    429,
                    class::THROTTLED,
                    "The request was throttled; retry after the interval in Retry-After.",
                )
            } else if api == Api::Login {
                tokens::throttled(s, req.headers())
            } else {
                graph::throttled(&faults.retry_after_header()).into_response()
            };
            with_retry_after(r, &faults.retry_after_header())
        }
        Injected::ServerError => {
            lock(&s.counters).server_errors += 1;
            if api == Api::Exchange {
                exchange::envelope(
                    503,
                    class::SERVER_ERROR,
                    "The service is temporarily unavailable; try again.",
                )
            } else if api == Api::Login {
                tokens::server_error(s, req.headers())
            } else {
                graph::error(
                    503,
                    code::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable; try again.",
                )
                .into_response()
            }
        }
        Injected::None if faults.drop_after_write && api == Api::Exchange => {
            let kill = req.extensions().get::<ConnKill>().cloned();
            let writes = lock(&s.counters).writes;
            let answer = next.run(req).await;
            if let Some(kill) = kill.filter(|_| lock(&s.counters).writes > writes) {
                lock(&s.counters).dropped += 1;
                kill.0.notify_one();
                std::future::pending::<()>().await;
            }
            answer
        }
        Injected::None => next.run(req).await,
    }
}

/// Endpoint name for counters: ids replaced by `{id}`.
fn endpoint_name(api: Api, path: &str) -> String {
    match api {
        Api::Login => path.rsplit('/').next().unwrap_or("token").to_string(),
        Api::Exchange => "InvokeCommand".to_string(),
        Api::Graph => {
            let p = path.strip_prefix("/v1.0").unwrap_or(path);
            let segs: Vec<&str> = p
                .split('/')
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(i, s)| if i == 1 && s != "delta" { "{id}" } else { s })
                .collect();
            format!("graph /{}", segs.join("/"))
        }
    }
}

fn with_retry_after(mut r: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}
