//! The HTTP transport under every call: one pooled reqwest client (proxy from the
//! environment, an extra CA from PAMFORM_CA_CERT), the retry loop, per-API concurrency
//! permits, token renewal after a 401, request counters and the request log (`log` debug
//! lines, which the CLI shows at `-v`). Tokens come from a [`TokenSource`]; sign-in
//! implements it, so this module knows nothing of credentials.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;

use super::error::{Api, TenantError};
use super::retry::{self, Attempt, Idempotency, Reason, RetryPolicy};
use super::secret::{Secret, loggable_url};
use crate::wire::graph::RETRY_AFTER_HEADER;

/// What a request carries.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Vec<u8>),
    /// A form whose values may be secrets; never logged.
    Form(Vec<(&'static str, String)>),
}

/// One logical request; the transport may send it several times.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub api: Api,
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
    pub idempotency: Idempotency,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// What the log names besides the path (the cmdlet of an `InvokeCommand`).
    pub label: String,
}

impl Outgoing {
    pub fn new(api: Api, method: Method, url: String, idempotency: Idempotency) -> Self {
        Outgoing {
            api,
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            idempotency,
            timeout: Duration::from_secs(100),
            label: String::new(),
        }
    }
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Incoming {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Incoming {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Where an authenticated request gets its bearer token: one audience (service), cached
/// and renewed by the source. Boxed futures, because fetching a token sends a request
/// through [`Transport::send`] itself.
pub trait TokenSource: Sync {
    /// A token for the audience, from a cache or a new token request.
    fn bearer(&self) -> BoxFuture<'_, Result<Secret, TenantError>>;
    /// Forgets `token` if it is still the cached one (the service refused it).
    fn invalidate<'a>(&'a self, token: &'a Secret) -> BoxFuture<'a, ()>;
}

/// Counters of what the transport did, for `-v` summaries and benchmarks.
#[derive(Debug, Default)]
struct Counters {
    login: AtomicU64,
    exchange: AtomicU64,
    graph: AtomicU64,
    retries: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub login_requests: u64,
    pub exchange_requests: u64,
    pub graph_requests: u64,
    pub retries: u64,
}

impl Stats {
    pub fn total(&self) -> u64 {
        self.login_requests + self.exchange_requests + self.graph_requests
    }
}

pub struct Transport {
    client: reqwest::Client,
    retry: RetryPolicy,
    counters: Counters,
}

/// Reads the extra CA bundle (PEM) that PAMFORM_CA_CERT names.
fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, TenantError> {
    let err = |message: String| TenantError::Credential {
        what: "the CA certificate (PAMFORM_CA_CERT)",
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in the file".to_string()));
    }
    Ok(certs)
}

impl Transport {
    /// Builds the pooled client. Proxies come from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (and the
    /// system settings), except when every endpoint is on loopback.
    pub fn new(retry: RetryPolicy, ca_cert: Option<&Path>, loopback_only: bool) -> Result<Self, TenantError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("pamform/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_cert {
            for cert in load_ca(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if loopback_only {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| TenantError::Config(format!("cannot set up HTTPS: {e}")))?;
        Ok(Transport { client, retry, counters: Counters::default() })
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            login_requests: c.login.load(Ordering::Relaxed),
            exchange_requests: c.exchange.load(Ordering::Relaxed),
            graph_requests: c.graph.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        }
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn count(&self, api: Api) {
        let counter = match api {
            Api::Login => &self.counters.login,
            Api::Exchange => &self.counters.exchange,
            Api::Graph => &self.counters.graph,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends `req` until it succeeds, fails for good, or the retry budget is spent. Holds one
    /// permit of `permits` per attempt (never while waiting). A 401 on an authenticated
    /// request drops the cached token and tries once more with a new one. Retryable answers
    /// that exhaust the budget: throttling becomes [`TenantError::Throttled`], server errors
    /// come back as the last answer for the caller to decode.
    pub async fn send(
        &self,
        req: &Outgoing,
        auth: Option<&dyn TokenSource>,
        permits: Option<&Semaphore>,
    ) -> Result<Incoming, TenantError> {
        let start = Instant::now();
        let path = if req.label.is_empty() {
            loggable_url(&req.url)
        } else {
            format!("{} {}", loggable_url(&req.url), req.label)
        };
        let mut attempts = 0u32;
        let mut renewed = false;
        loop {
            attempts += 1;
            let token = match auth {
                Some(a) => Some(a.bearer().await?),
                None => None,
            };
            let permit = match permits {
                Some(s) => {
                    Some(s.acquire().await.map_err(|_| TenantError::Config("client closed".to_string()))?)
                }
                None => None,
            };
            let mut rb = self.client.request(req.method.clone(), &req.url).timeout(req.timeout);
            for (name, value) in &req.headers {
                if let (Ok(n), Ok(v)) =
                    (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
                {
                    rb = rb.header(n, v);
                }
            }
            if let Some(t) = &token {
                rb = rb.bearer_auth(t.expose());
            }
            rb = match &req.body {
                Body::Empty => rb,
                Body::Json(bytes) => {
                    rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(bytes.clone())
                }
                Body::Form(fields) => rb.form(fields),
            };
            let t0 = Instant::now();
            self.count(req.api);
            let outcome = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => Ok(Incoming { status, headers, body: body.to_vec() }),
                        Err(e) => Err((Attempt::Dropped, e)),
                    }
                }
                Err(e) if e.is_connect() => Err((Attempt::ConnectFailed, e)),
                Err(e) => Err((Attempt::Dropped, e)),
            };
            drop(permit);
            let took = t0.elapsed();
            let attempt = match &outcome {
                Ok(inc) => {
                    log::debug!(
                        "{} {} {} -> {} in {} ms (attempt {attempts})",
                        req.api,
                        req.method,
                        path,
                        inc.status,
                        took.as_millis()
                    );
                    if inc.status == 401
                        && let (Some(a), Some(t), false) = (auth, &token, renewed)
                    {
                        renewed = true;
                        a.invalidate(t).await;
                        continue;
                    }
                    Attempt::Answer {
                        status: inc.status,
                        retry_after: inc
                            .headers
                            .get(RETRY_AFTER_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(retry::parse_retry_after),
                        concurrency_message: !inc.is_success() && retry::is_concurrency_message(&inc.body),
                    }
                }
                Err((kind, e)) => {
                    log::debug!(
                        "{} {} {} -> {} after {} ms (attempt {attempts})",
                        req.api,
                        req.method,
                        path,
                        connection_error_text(e),
                        took.as_millis()
                    );
                    *kind
                }
            };
            // An untrusted certificate stays untrusted: waiting and retrying cannot help.
            if let Err((_, e)) = &outcome
                && is_certificate_error(e)
            {
                return Err(TenantError::Connection {
                    api: req.api,
                    method: req.method.to_string(),
                    path: path.clone(),
                    message: format!(
                        "{}; the server's TLS certificate is not trusted: set PAMFORM_CA_CERT to the PEM file of the CA that issued it",
                        connection_error_text(e)
                    ),
                });
            }
            let Some(reason) = retry::classify(attempt, req.idempotency) else {
                return match outcome {
                    Ok(inc) => Ok(inc),
                    Err((_, e)) => Err(self.connection_error(req, &path, attempt, &e)),
                };
            };
            let retry_after = match attempt {
                Attempt::Answer { retry_after, .. } => retry_after,
                _ => None,
            };
            match self.retry.next(attempts, start.elapsed(), retry_after, retry::jitter()) {
                Some(wait) => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    log::debug!(
                        "{} {} {} {reason}, retry {attempts} in {} ms",
                        req.api,
                        req.method,
                        path,
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    return match (reason, outcome) {
                        (Reason::Throttled, _) => {
                            Err(TenantError::Throttled { api: req.api, attempts, elapsed: start.elapsed() })
                        }
                        (_, Ok(inc)) => Ok(inc),
                        (_, Err((_, e))) => Err(self.connection_error(req, &path, attempt, &e)),
                    };
                }
            }
        }
    }

    fn connection_error(
        &self,
        req: &Outgoing,
        path: &str,
        attempt: Attempt,
        e: &reqwest::Error,
    ) -> TenantError {
        if attempt == Attempt::Dropped && req.idempotency == Idempotency::Write {
            return TenantError::OutcomeUnknown {
                api: req.api,
                method: req.method.to_string(),
                path: path.to_string(),
            };
        }
        TenantError::Connection {
            api: req.api,
            method: req.method.to_string(),
            path: path.to_string(),
            message: connection_error_text(e),
        }
    }
}

/// A reqwest error without its URL (which the log already shows, redacted).
fn connection_error_text(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "connection failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether the TLS handshake failed on the server's certificate (unknown issuer, wrong name,
/// expired): a setting to fix, not a passing network problem.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    use std::error::Error as _;
    let is_cert = |err: &(dyn std::error::Error + 'static)| {
        matches!(
            err.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        )
    };
    let mut source = e.source();
    while let Some(s) = source {
        // An io::Error hides the error it wraps from `source()`.
        let wrapped = s.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        // The text is the fallback for wrappers that hide the rustls error from both.
        if is_cert(s)
            || wrapped.is_some_and(|w| is_cert(w))
            || s.to_string().starts_with("invalid peer certificate")
        {
            return true;
        }
        source = s.source();
    }
    false
}
