//! The wire corpus attacked: shape rules that let a wrong answer through, a client request
//! check that let a wrong body through, and PAM refusals that must be explained as a task
//! that needs an approved request whatever their status and wording, through the client and
//! through the real binary.

use std::sync::Arc;

use pamform::tenant::TenantError;
use pamform::wire::exchange::{self, class, envelope as env, odata};
use serde_json::{Value, json};

use crate::support::DOMAIN;
use crate::support::api::Answer;
use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::corpus::{self, Capture, Replay, Seen, replay_client};

fn capture(response: Value) -> Capture {
    serde_json::from_value(json!({
        "provenance": {"kind": "assumed", "source": "this test"},
        "request": {"method": "POST", "path": "/adminapi/beta/{tenant}/InvokeCommand",
            "body": {"CmdletInput": {"CmdletName": "Set-DistributionGroup", "Parameters": {
                "Identity": "{group}", "BypassSecurityGroupManagerCheck": true,
                "Description": ["Approves PAM requests"], "DurationHours": 4}}}},
        "response": response,
    }))
    .unwrap()
}

/// A change to an answer body.
type Change = Box<dyn Fn(&mut Value)>;

fn answer(status: u16, body: Value) -> Answer {
    Answer { status, headers: Default::default(), bytes: body.to_string().into_bytes() }
}

/// Answers the shape rules used to let through: a null for an array or object, items
/// where the capture has none, a declared collection that is not one, another exception
/// class in a `|Class|text` message, a UPN where the capture has a directory path.
#[test]
fn the_shape_rules_catch_what_they_let_through() {
    let alice_dn =
        "NAMPR00A001.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/alice";
    let body = json!({
        (odata::WARNINGS_TYPE): odata::COLLECTION_OF_STRING, (odata::WARNINGS): [],
        "value": [{
            "AuthorizedBy": "alice@contoso.onmicrosoft.com",
            "RevokedBy": alice_dn,
            "Description@odata.type": odata::COLLECTION_OF_STRING, "Description": [],
            "RevocationComment": null,
        }],
        "error": {"details": [{"message": env::detail_message(class::ELEVATION_REQUIRED, "needs approval")}]}
    });
    let c = capture(json!({"status": 200, "body": body}));
    let same = body.clone();
    assert_eq!(corpus::differences(&c, &answer(200, same)), Vec::<String>::new());
    // A scalar's null matches a value either way: a property can be set in one answer only
    // (Graph's `description` of a group without one, an authorization not revoked).
    let mut set = body.clone();
    set["value"][0]["RevocationComment"] = json!("done");
    set["value"][0]["AuthorizedBy"] = Value::Null;
    assert_eq!(corpus::differences(&c, &answer(200, set)), Vec::<String>::new());

    let wrong: Vec<(&str, Change)> = vec![
        ("a null for an array", Box::new(|b| b["value"] = Value::Null)),
        ("a null for an object", Box::new(|b| b["error"] = Value::Null)),
        ("items where the capture has none", Box::new(|b| b["value"][0]["Description"] = json!(["x"]))),
        ("a declared collection sent as null", Box::new(|b| b["value"][0]["Description"] = Value::Null)),
        ("warnings that are not strings", Box::new(|b| b[odata::WARNINGS] = json!([{"w": 1}]))),
        (
            "a UPN where the capture has a directory path",
            Box::new(|b| b["value"][0]["RevokedBy"] = json!("alice@contoso.onmicrosoft.com")),
        ),
        (
            "a name where the capture has an address",
            Box::new(|b| b["value"][0]["AuthorizedBy"] = json!("alice")),
        ),
        (
            "another exception class",
            Box::new(|b| {
                b["error"]["details"][0]["message"] =
                    json!(env::detail_message(class::ACCESS_DENIED, "needs approval"))
            }),
        ),
    ];
    for (what, change) in wrong {
        let mut b = body.clone();
        change(&mut b);
        assert!(!corpus::differences(&c, &answer(200, b.clone())).is_empty(), "not caught: {what}: {b}");
    }
}

/// The client's request is held to the capture's parameter types, not only their names.
#[test]
fn the_request_check_catches_a_wrong_parameter_type() {
    let c = capture(json!({"status": 200}));
    let seen = |params: Value| Seen {
        method: "POST".into(),
        path: format!("/adminapi/beta/{DOMAIN}/InvokeCommand"),
        body: Some(json!({"CmdletInput": {"CmdletName": "Set-DistributionGroup", "Parameters": params}})),
    };
    let good = json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "BypassSecurityGroupManagerCheck": true,
        "Description": ["Approves PAM requests", "and more"], "DurationHours": 8});
    assert_eq!(corpus::request_differences(&c, &seen(good.clone())), Vec::<String>::new());
    for (name, value) in [
        ("Description", json!("Approves PAM requests")),
        ("Description", json!([1])),
        ("DurationHours", json!("4")),
        ("BypassSecurityGroupManagerCheck", json!(false)),
        ("Identity", json!(["pam-approvers"])),
    ] {
        let mut p = good.clone();
        p[name] = value.clone();
        assert!(!corpus::request_differences(&c, &seen(p)).is_empty(), "not caught: {name} sent as {value}");
    }
}

/// An Exchange error envelope: the detailed layout (`details[0]` and the inner exception) or
/// only the inner exception, as the service sends for some classes.
fn refusal_body(status: u16, class: &str, text: &str, detailed: bool) -> Value {
    let mut error = json!({
        (env::CODE): env::code_for_status(status), (env::MESSAGE): env::GENERIC_MESSAGE,
        (env::INNER_ERROR): {(env::MESSAGE): env::GENERIC_MESSAGE, (env::TYPE): env::INNER_ERROR_TYPE,
            (env::STACKTRACE): "",
            (env::INTERNAL_EXCEPTION): {(env::MESSAGE): text, (env::TYPE): class, (env::STACKTRACE): ""}}
    });
    if detailed {
        error[env::DETAILS] = json!([{(env::CODE): env::DETAIL_CODE_CLIENT, (env::TARGET): "",
            (env::MESSAGE): env::detail_message(class, text)}]);
    }
    json!({ (env::ERROR): error })
}

async fn served(status: u16, body: Value) -> Result<Option<exchange::DistributionGroup>, TenantError> {
    let c = capture(json!({"status": status, "body": body}));
    let replay = Replay::start(&c).await;
    replay_client(&replay.base).get_group("pam-approvers").await
}

const GERMAN: &str = "Für das Cmdlet 'Get-DistributionGroup' ist ein genehmigter Zugriff erforderlich.";

/// A PAM refusal is recognised by its class, whatever the status, the layout and the wording
/// (another language, or none), and explained as a task that needs an approved request; a
/// real permission error is not.
#[tokio::test]
async fn a_pam_refusal_is_explained_whatever_its_status_and_wording() {
    for status in [400, 403, 401, 500] {
        for text in ["The cmdlet requires elevated access.", GERMAN, ""] {
            for detailed in [true, false] {
                let body = refusal_body(status, class::ELEVATION_REQUIRED, text, detailed);
                let e = served(status, body.clone()).await.expect_err("a refusal");
                let shown = e.to_string();
                assert!(
                    matches!(e, TenantError::Exchange { .. }) && shown.contains("needs an approved request"),
                    "status {status}, detailed {detailed}, text {text:?}: {shown}\n{body}"
                );
                assert_eq!(e.exchange_class(), Some(class::ELEVATION_REQUIRED));
            }
        }
    }
    for status in [400, 403] {
        for text in ["Access denied.", GERMAN] {
            let body = refusal_body(status, class::ACCESS_DENIED, text, true);
            let e = served(status, body).await.expect_err("a refusal");
            let shown = e.to_string();
            assert!(
                matches!(e, TenantError::Permission { .. }) && !shown.contains("approved request"),
                "a permission error explained as PAM (status {status}): {shown}"
            );
        }
    }
    let e = served(403, json!({})).await.expect_err("a refusal");
    assert!(matches!(e, TenantError::Permission { .. }), "{e}");
}

/// How the proxy refuses one cmdlet.
#[derive(Clone, Copy)]
struct Refusal {
    cmdlet: &'static str,
    status: u16,
    class: &'static str,
    text: &'static str,
    detailed: bool,
}

/// An HTTP proxy on 127.0.0.1 in front of the emulator's Exchange endpoint that refuses one
/// cmdlet the way another tenant might: its own status, layout, class and language. Every
/// other request goes through unchanged.
struct RefusingProxy {
    _rt: tokio::runtime::Runtime,
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RefusingProxy {
    fn start(upstream: &str, refusal: Refusal) -> RefusingProxy {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let upstream = Arc::new(upstream.to_string());
        let http = reqwest::Client::new();
        let (base, stop) = rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let own = Arc::new(base.clone());
            let app = axum::Router::new().fallback(
                move |method: axum::http::Method,
                      uri: axum::http::Uri,
                      headers: axum::http::HeaderMap,
                      body: axum::body::Bytes| {
                    let (upstream, own, http) = (upstream.clone(), own.clone(), http.clone());
                    async move {
                        let cmdlet = serde_json::from_slice::<Value>(&body)
                            .ok()
                            .and_then(|b| b.pointer("/CmdletInput/CmdletName").cloned());
                        let (status, bytes) = if cmdlet == Some(json!(refusal.cmdlet)) {
                            let body =
                                refusal_body(refusal.status, refusal.class, refusal.text, refusal.detailed);
                            (refusal.status, body.to_string().into_bytes())
                        } else {
                            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                            let mut rb =
                                http.request(method, format!("{upstream}{path}")).body(body.to_vec());
                            for (k, v) in &headers {
                                if k != axum::http::header::HOST && k != axum::http::header::CONTENT_LENGTH {
                                    rb = rb.header(k, v);
                                }
                            }
                            let r = rb.send().await.unwrap();
                            let status = r.status().as_u16();
                            // Next links point back at the proxy, as the service's point at itself.
                            let text = r.text().await.unwrap().replace(upstream.as_str(), own.as_str());
                            (status, text.into_bytes())
                        };
                        axum::http::Response::builder()
                            .status(status)
                            .header(axum::http::header::CONTENT_TYPE, "application/json")
                            .body(axum::body::Body::from(bytes))
                            .unwrap()
                    }
                },
            );
            (base, corpus::serve_until_stopped(listener, app))
        });
        RefusingProxy { _rt: rt, base, stop: Some(stop) }
    }
}

impl Drop for RefusingProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A configuration whose Exchange endpoint is the proxy, the rest the emulator.
fn behind(tenant: &Tenant, exchange_url: &str) -> String {
    format!(
        "tenant {{\n  id           = \"{DOMAIN}\"\n  exchange_url = \"{exchange_url}\"\n  graph_url    = \"{u}\"\n  login_url    = \"{u}\"\n}}\n{QUICKSTART}",
        u = tenant.base_url
    )
}

/// Through the real binary: a tenant that refuses `Get-OrganizationConfig` (the first read of
/// `pamform plan`) as a PAM-gated task gets the approved-request explanation, whether it
/// refuses with 400 or 403, in English, in German or with no text, with or without `details`;
/// a 403 `AccessDeniedException` is explained as a permission the app lacks. (With the
/// emulator's own policy on a read pamform runs, `plan` stops earlier, at its self-lockout
/// check.)
#[test]
fn plan_explains_a_pam_refusal_through_the_binary() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let gated = |status, text, detailed| Refusal {
        cmdlet: exchange::cmdlet::GET_ORGANIZATION_CONFIG,
        status,
        class: class::ELEVATION_REQUIRED,
        text,
        detailed,
    };
    for refusal in [
        gated(400, "The cmdlet requires elevated access.", true),
        gated(403, GERMAN, false),
        gated(403, "", true),
        gated(400, "", false),
    ] {
        let proxy = RefusingProxy::start(&tenant.base_url, refusal);
        ws.write("main.pam.hcl", &behind(&tenant, &proxy.base));
        let run = ws.run(&["plan"]);
        let out = run.all();
        let said = format!("status {}, {:?}, details {}", refusal.status, refusal.text, refusal.detailed);
        assert!(run.code != 0 && out.contains("needs an approved request"), "{said}: {out}");
        assert!(!out.contains("ManageAsApp"), "{said}: {out}");
    }
    let denied = Refusal { class: class::ACCESS_DENIED, ..gated(403, GERMAN, true) };
    let proxy = RefusingProxy::start(&tenant.base_url, denied);
    ws.write("main.pam.hcl", &behind(&tenant, &proxy.base));
    let run = ws.run(&["plan"]);
    let out = run.all();
    assert!(run.code != 0 && !out.contains("approved request") && out.contains("ManageAsApp"), "{out}");
}
