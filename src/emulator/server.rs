//! HTTP(S) serving: the router of Microsoft's paths and `/_emulator/` (behind the fault
//! layer of `fault_layer`), request bodies read in time, request logging, and the accept loop
//! with optional TLS and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
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
use super::fault_layer::{ConnKill, fault_layer};
use super::graph;
use super::store::Shared;
use super::tokens;
use crate::wire::exchange::class;
use crate::wire::graph::code;

const BODY_LIMIT: usize = 64 * 1024 * 1024;
/// How long a client may take to send a request's headers, and then its body; a half-sent
/// request is answered 408 or its connection closed, never kept forever.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let microsoft = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", axum::routing::get(openid_configuration))
        .route("/{tenant}/discovery/v2.0/keys", axum::routing::get(jwks))
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
    // The served emulator is a process of its own, whose request log is its output.
    #[allow(clippy::disallowed_methods)]
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

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    tokens::token(&s, &segment(&uri, 0), &headers, &body)
}

async fn devicecode(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    tokens::devicecode(&s, &segment(&uri, 0), &headers, &body)
}

async fn openid_configuration(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    tokens::openid_configuration(&s, &segment(&uri, 0), &headers)
}

async fn jwks(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    tokens::jwks(&s, &segment(&uri, 0), &headers)
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
