//! HTTP(S) serving: the router of Microsoft's paths and `/_emulator/`, the fault layer
//! (latency, concurrency limit, throttling, server errors, dropped connections, counters),
//! and the accept loop with optional TLS and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::exchange;
use super::faults::{Api, Counters, Injected};
use super::graph;
use super::store::Shared;
use super::sync::lock;
use super::tokens;
use crate::wire::exchange::{CONCURRENCY_LIMIT_MESSAGE, HEADER_CLIENT_REQUEST_ID, class};
use crate::wire::graph::code;

/// Lets a handler close its connection without answering (a dropped connection).
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// How long a client may take to send a request's headers, and then its body; a half-sent
/// request is answered 408 or its connection closed, never kept forever.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let microsoft = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/adminapi/beta/{tenant}/InvokeCommand", post(invoke))
        .route("/v1.0/{*rest}", axum::routing::get(graph_get).post(graph_post))
        .layer(from_fn_with_state(shared.clone(), fault_layer));
    Router::new()
        .merge(microsoft)
        .merge(super::control::router())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(read_body))
        .layer(from_fn_with_state(shared.clone(), log_request))
        .with_state(shared)
}

/// Reads the whole body within [`BODY_TIMEOUT`] before any handler runs: 408 when the
/// client stops sending, 413 when it sends too much.
async fn read_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(e)) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({ "error": format!("the request body could not be read: {e}") })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            axum::Json(serde_json::json!({ "error": "the request body did not arrive in time" })),
        )
            .into_response(),
    }
}

/// With request logging on (`emulator serve -v`), one line per request on stderr: method,
/// path (never the query, which may carry a token), status and time taken.
async fn log_request(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if !s.logs_requests() {
        return next.run(req).await;
    }
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let line = format!(
        "emulator: {method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), format!("{line}\n").as_bytes());
    response
}

/// The `n`th path segment, percent-decoded (never a rejection: odd bytes are replaced).
fn segment(uri: &Uri, n: usize) -> String {
    let raw = uri.path().split('/').filter(|s| !s.is_empty()).nth(n).unwrap_or_default();
    url::form_urlencoded::parse(format!("t={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn token(State(s): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    tokens::token(&s, &segment(&uri, 0), &body)
}

async fn devicecode(State(s): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    tokens::devicecode(&s, &segment(&uri, 0), &body)
}

async fn invoke(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    exchange::invoke(s, segment(&uri, 2), headers, uri.query().map(str::to_string), &body).await
}

fn graph_path(uri: &Uri) -> String {
    uri.path().strip_prefix("/v1.0").unwrap_or(uri.path()).to_string()
}

async fn graph_get(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    graph::handle_get(&s, &headers, &graph_path(&uri), uri.query().unwrap_or(""))
}

async fn graph_post(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    if graph_path(&uri) == "/$batch" {
        graph::handle_batch(&s, &headers, &body)
    } else {
        graph::error(
            405,
            code::METHOD_NOT_ALLOWED,
            "The emulator serves Graph reads only; use GET or $batch.",
        )
        .into_response()
    }
}

async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/adminapi/") {
        exchange::envelope(404, class::NOT_FOUND, &format!("The resource '{path}' wasn't found."))
    } else if path.starts_with("/v1.0") {
        graph::error(404, code::NOT_FOUND, &format!("Resource not found for the segment '{path}'."))
            .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": format!("no such endpoint: {path}") })),
        )
            .into_response()
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

async fn fault_layer(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
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
    let response = 'answer: {
        if api == Api::Exchange
            && faults.exchange_concurrency_limit > 0
            && inflight > faults.exchange_concurrency_limit
        {
            lock(&s.counters).throttled += 1;
            let status = StatusCode::from_u16(faults.concurrency_limit_status)
                .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            break 'answer with_retry_after(
                (status, CONCURRENCY_LIMIT_MESSAGE).into_response(),
                &faults.retry_after_header(),
            );
        }
        let latency = match api {
            Api::Login => faults.login_latency_ms,
            Api::Exchange => faults.exchange_latency_ms,
            Api::Graph => faults.graph_latency_ms,
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let roll = if api == Api::Login { Injected::None } else { lock(&s.dice).roll(&faults) };
        match roll {
            Injected::Drop => {
                lock(&s.counters).dropped += 1;
                if let Some(kill) = req.extensions().get::<ConnKill>() {
                    kill.0.notify_one();
                    // The connection task drops this request with its connection.
                    std::future::pending::<()>().await;
                }
                break 'answer StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            Injected::Throttle => {
                lock(&s.counters).throttled += 1;
                let r = if api == Api::Exchange {
                    exchange::envelope(
                        429,
                        class::THROTTLED,
                        "The request was throttled; retry after the interval in Retry-After.",
                    )
                } else {
                    graph::throttled(&faults.retry_after_header()).into_response()
                };
                break 'answer with_retry_after(r, &faults.retry_after_header());
            }
            Injected::ServerError => {
                lock(&s.counters).server_errors += 1;
                break 'answer if api == Api::Exchange {
                    exchange::envelope(
                        503,
                        class::SERVER_ERROR,
                        "The service is temporarily unavailable; try again.",
                    )
                } else {
                    graph::error(
                        503,
                        code::SERVICE_UNAVAILABLE,
                        "The service is temporarily unavailable; try again.",
                    )
                    .into_response()
                };
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
    };
    Counters::bump(&mut lock(&s.counters).per_status, response.status().as_str());
    response
}

/// Accepts connections until `shutdown` flips, then lets open connections finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let stream = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        conns.spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                    {
                        serve_conn(s, app, shutdown).await;
                    }
                }
                None => serve_conn(stream, app, shutdown).await,
            }
        });
    }
    let _ =
        tokio::time::timeout(Duration::from_secs(5), async { while conns.join_next().await.is_some() {} })
            .await;
    conns.abort_all();
}

async fn serve_conn<I>(io: I, app: Router, mut shutdown: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let k = kill.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnKill(k.clone()));
        app.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = kill.notified() => {}
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
