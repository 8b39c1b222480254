//! The sign-in side of the wire corpus: pamform's client reads every captured token-endpoint
//! error as the service's class (`error`), the device-code captures end its polling the way
//! they must, and the token endpoint's throttling, server errors and dropped connections are
//! retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pamform::emulator::Faults;
use pamform::tenant::auth;
use pamform::tenant::http::Transport;
use pamform::tenant::{Client, ClientOptions, Credential, Endpoints, RetryPolicy, Secret, TenantError};
use serde_json::{Value, json};

use crate::support::api;
use crate::support::corpus::{self, Capture};
use crate::support::{APP_ID, APP_SECRET, DOMAIN, emulator_config};

/// A server on 127.0.0.1: `/devicecode` answers the device-code capture (interval 1 s), and
/// the token endpoint answers `token` (the first `pending` polls with the pending capture).
struct Server {
    base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn answer(c: &corpus::Response) -> axum::response::Response {
    let body = c.body.clone().unwrap_or(Value::Null).to_string();
    axum::http::Response::builder()
        .status(c.status)
        .header("content-type", "application/json; charset=utf-8")
        .body(axum::body::Body::from(body))
        .unwrap()
}

async fn serve(token: Capture, pending: usize) -> Server {
    let mut start = corpus::load("oauth/devicecode-start.json").response;
    start.body.as_mut().unwrap()["interval"] = json!(1);
    let waiting = corpus::load("oauth/devicecode-pending.json").response;
    let polls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (start, waiting, token, polls) =
            (start.clone(), waiting.clone(), token.response.clone(), polls.clone());
        async move {
            if uri.path().ends_with("/devicecode") {
                answer(&start)
            } else if polls.fetch_add(1, Ordering::SeqCst) < pending {
                answer(&waiting)
            } else {
                answer(&token)
            }
        }
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async { rx.await.unwrap_or(()) }).await.unwrap();
    });
    Server { base, shutdown: Some(tx) }
}

fn options(attempts: u32) -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: attempts,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ca_cert: None,
        ..ClientOptions::default()
    }
}

fn secret_client(base: &str, attempts: u32) -> Client {
    let endpoints =
        Endpoints { login: base.to_string(), exchange: base.to_string(), graph: base.to_string() };
    let credential =
        Credential::Secret { client_id: APP_ID.to_string(), secret: Secret::new(APP_SECRET.to_string()) };
    Client::new(DOMAIN, endpoints, credential, options(attempts)).unwrap()
}

/// The token-endpoint error captures whose request is a client credentials request.
fn token_errors() -> Vec<Capture> {
    corpus::load_all()
        .into_iter()
        .filter(|c| c.name.starts_with("oauth/error-") && c.response.status >= 400)
        .collect()
}

#[tokio::test]
async fn the_client_reads_every_captured_token_error_by_its_class() {
    let captures = token_errors();
    assert!(captures.len() >= 5, "token error captures: {}", captures.len());
    for capture in captures {
        let want = capture.response.body.as_ref().unwrap()["error"].as_str().unwrap().to_string();
        let server = serve(capture.clone(), 0).await;
        let err = secret_client(&server.base, 1).get_pam_setting().await.unwrap_err();
        match &err {
            TenantError::SignIn { error, description, .. } => {
                assert_eq!(error, &want, "{}: {err}", capture.name);
                assert!(description.starts_with("AADSTS"), "{}: {err}", capture.name);
            }
            other => panic!("{}: not a sign-in error: {other}", capture.name),
        }
    }
}

async fn device_code_ends(token: &str, pending: usize) -> Result<auth::DelegatedSignIn, TenantError> {
    let server = serve(corpus::load(token), pending).await;
    let transport = Transport::new(options(1).retry, None, true).unwrap();
    let prompt = auth::start_device_code(&transport, &server.base, DOMAIN).await.unwrap();
    assert_eq!(prompt.user_code, "YZMYLD4K");
    assert_eq!(prompt.expires_in, Duration::from_secs(900));
    auth::finish_device_code(&transport, &server.base, DOMAIN, &prompt, Some("alice@contoso.onmicrosoft.com"))
        .await
}

#[tokio::test]
async fn device_code_polling_ends_as_the_captures_say() {
    let started = std::time::Instant::now();
    let signed = device_code_ends("oauth/devicecode-success.json", 2).await.unwrap();
    // Two pending answers, then the token: three polls one interval (1 s) apart.
    assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(signed.upn, "alice@contoso.onmicrosoft.com");
    for (capture, says) in [
        ("oauth/devicecode-expired.json", "expired"),
        ("oauth/devicecode-declined.json", "declined"),
        ("oauth/devicecode-bad-verification-code.json", "not recognised"),
    ] {
        match device_code_ends(capture, 0).await {
            Err(TenantError::DeviceCode(m)) => assert!(m.contains(says), "{capture}: {m}"),
            other => panic!("{capture}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn token_requests_are_retried_through_throttling_failures_and_drops() {
    for faults in [
        json!({"login_faults": true, "throttle_rate": 0.6, "retry_after_ms": 10, "fault_seed": 3}),
        json!({"login_faults": true, "server_error_rate": 0.6, "fault_seed": 4}),
        json!({"login_faults": true, "drop_rate": 0.5, "fault_seed": 5}),
    ] {
        let emu = api::start_with(emulator_config(None, Faults::default())).await;
        let f: Faults = serde_json::from_value(faults.clone()).unwrap();
        emu.set_faults(serde_json::to_value(&f).unwrap()).await;
        // The rates apply to Exchange too; reads are retried there as well.
        let client = secret_client(emu.base(), 10);
        let ok = client.get_pam_setting().await;
        let counters = emu.counters().await;
        assert!(ok.is_ok(), "{faults}: {ok:?}");
        let tokens = counters["per_endpoint"]["token"].as_u64().unwrap_or(0);
        assert!(tokens >= 2, "{faults}: the token request was not retried: {counters}");
        let faulted = counters["throttled"].as_u64().unwrap()
            + counters["server_errors"].as_u64().unwrap()
            + counters["dropped"].as_u64().unwrap();
        assert!(faulted >= 1, "{faults}: {counters}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn sign_in_is_not_faulted_unless_asked() {
    let emu = api::start().await;
    emu.set_faults(json!({"throttle_rate": 1.0})).await;
    emu.exchange_app().await;
    emu.set_faults(json!({"throttle_rate": 1.0, "login_faults": true, "retry_after_ms": 2000})).await;
    let a = emu
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", APP_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers.get("retry-after").unwrap(), "2");
    let body = a.json();
    assert_eq!(body["error"], pamform::wire::oauth::ERROR_TEMPORARILY_UNAVAILABLE);
    assert!(body["error_codes"][0].is_u64() && body["error_uri"].is_string());
    emu.shutdown().await;
}
