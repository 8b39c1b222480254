//! Both sides held to Microsoft's real answers (`tests/corpus/`): the emulator, sent each
//! captured request, answers with the capture's shape; pamform's tenant client, served each
//! capture by a replay server, sends the captured request and reads the answer.

use pamform::tenant::{Client, ClientOptions, Credential, Endpoints, RetryPolicy, Secret, TenantError};

use crate::support::api;
use crate::support::corpus::{self, Capture, Replay};
use crate::support::{APP_ID, APP_SECRET, DOMAIN};

#[tokio::test]
async fn emulator_answers_like_the_corpus() {
    let captures = corpus::load_all();
    let mut failures = Vec::new();
    for capture in &captures {
        let emu = api::start().await;
        let mut vars = corpus::vars_for(&emu);
        corpus::setup(&emu, capture, &mut vars).await;
        let answer = corpus::send(&emu, &capture.request, &vars).await;
        for d in corpus::differences(capture, &answer) {
            failures.push(format!("{}: {d}", capture.name));
        }
        emu.shutdown().await;
    }
    assert!(failures.is_empty(), "the emulator differs from the corpus:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn client_reads_the_corpus() {
    let mut failures = Vec::new();
    for capture in corpus::load_all().iter().filter(|c| c.client.is_some()) {
        let name = capture.client.as_deref().unwrap();
        let replay = Replay::start(capture).await;
        let client = replay_client(&replay.base);
        if let Err(e) = client_call(name, &client).await {
            failures.push(format!("{}: client call {name}: {e}", capture.name));
        }
        match replay.seen().first() {
            None => failures.push(format!("{}: client call {name} sent nothing", capture.name)),
            Some(first) => {
                for d in corpus::request_differences(capture, first) {
                    failures.push(format!("{}: {d}", capture.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "the client differs from the corpus:\n{}", failures.join("\n"));
}

/// A deliberately wrong field must fail the shape comparison, so the corpus test can fail.
#[test]
fn a_wrong_field_is_a_difference() {
    let capture: Capture = serde_json::from_value(serde_json::json!({
        "provenance": {"kind": "assumed", "source": "this test"},
        "request": {"method": "GET", "path": "/"},
        "response": {"status": 200, "body": {
            "Description@odata.type": "#Collection(String)", "Description": ["x"],
            "Guid": "0b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "2026-01-01T10:00:00Z",
            "value": [{"n": 1}]
        }},
        "exact": ["/Guid"]
    }))
    .unwrap();
    let answer = |body: serde_json::Value| api::Answer {
        status: 200,
        headers: Default::default(),
        bytes: body.to_string().into_bytes(),
    };
    let good = answer(serde_json::json!({
        "Description@odata.type": "#Collection(String)", "Description": ["y"],
        "Guid": "0b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "2026-02-01T10:00:00Z",
        "value": [{"n": 2}, {"n": 3}]
    }));
    assert_eq!(corpus::differences(&capture, &good), Vec::<String>::new());
    let wrong = [
        serde_json::json!({"Description": "y", "Guid": "0b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "2026-02-01T10:00:00Z", "value": [{"n": 2}]}),
        serde_json::json!({"Description@odata.type": "#Collection(String)", "Description": ["y"], "Guid": "1b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "2026-02-01T10:00:00Z", "value": [{"n": 2}]}),
        serde_json::json!({"Description@odata.type": "#Collection(String)", "Description": ["y"], "Guid": "0b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "/Date(1767261600000)/", "value": [{"n": 2}]}),
        serde_json::json!({"Description@odata.type": "#Collection(String)", "Description": ["y"], "Guid": "0b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "2026-02-01T10:00:00Z", "value": [{"n": "2"}]}),
        serde_json::json!({"Description@odata.type": "#Collection(String)", "Description": ["y"], "Guid": "0b7f8a3c-2d4e-4f61-8a9b-0c1d2e3f4a5b", "WhenChanged": "2026-02-01T10:00:00Z", "value": [], "extra": 1}),
    ];
    for body in wrong {
        assert!(!corpus::differences(&capture, &answer(body.clone())).is_empty(), "not caught: {body}");
    }
}

fn replay_client(base: &str) -> Client {
    let endpoints =
        Endpoints { login: base.to_string(), exchange: base.to_string(), graph: base.to_string() };
    let credential =
        Credential::Secret { client_id: APP_ID.to_string(), secret: Secret::new(APP_SECRET.to_string()) };
    let options = ClientOptions {
        retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
        ca_cert: None,
        ..ClientOptions::default()
    };
    Client::new(DOMAIN, endpoints, credential, options).expect("client")
}

/// The client calls the corpus names, each run against the replay of its capture. An arm
/// asserts what the call must make of the answer (a value, or an error of a kind).
async fn client_call(name: &str, client: &Client) -> Result<(), String> {
    let fail = |e: TenantError| format!("{e}");
    match name {
        "get_pam_setting" => {
            client.get_pam_setting().await.map_err(fail)?;
        }
        "get_users" => {
            let name = format!("alice@{DOMAIN}");
            let found = client.get_users(std::slice::from_ref(&name)).await.map_err(fail)?;
            match found.get(&name) {
                Some(Some(user)) if user.upn.as_deref() == Some(name.as_str()) => {}
                other => return Err(format!("alice not read from the batch answer: {other:?}")),
            }
        }
        "groups_delta" => {
            let delta = client.groups_delta(None).await.map_err(fail)?;
            if delta.changed.is_empty() || delta.delta_link.is_empty() {
                return Err(format!("the delta round read no group or no link: {delta:?}"));
            }
        }
        other => return Err(format!("no client call named {other:?} in wire_corpus.rs")),
    }
    Ok(())
}
