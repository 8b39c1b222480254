//! The emulator answers every bad control request with an error and stays up: a huge clock
//! advance, seeds with duplicates or dangling approver groups; `serve --data` into a missing
//! directory is refused at start; `serve -v` logs one line per request without secrets.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use pamform::emulator::{self, EmulatorConfig, Faults, Seed};
use serde_json::{Value, json};

use crate::support::{emulator_config, pamform};

fn config() -> EmulatorConfig {
    emulator_config(None, Faults::default())
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(format!("{base}{path}")).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn health(base: &str) -> u16 {
    reqwest::get(format!("{base}/_emulator/health")).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn bad_control_requests_get_400_and_the_emulator_stays_up() {
    let emu = emulator::start(config()).await.unwrap();
    let base = emu.base_url.clone();
    for body in [
        json!({"seconds": i64::MAX}),
        json!({"seconds": 9_000_000_000_000_i64}),
        json!({"ms": i64::MIN}),
        json!({"seconds": -9_000_000_000_000_i64}),
    ] {
        let (status, answer) = post(&base, "/_emulator/clock/advance", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{answer}");
        assert_eq!(health(&base).await, 200);
    }
    // Two large steps that together leave the range: the second is refused.
    let (status, _) = post(&base, "/_emulator/clock/advance", json!({"seconds": 3_000_000_000_i64})).await;
    assert_eq!(status, 200);
    let (status, _) = post(&base, "/_emulator/clock/advance", json!({"seconds": 3_000_000_000_i64})).await;
    assert_eq!(status, 400);
    let clock: Value = reqwest::get(format!("{base}/_emulator/clock")).await.unwrap().json().await.unwrap();
    assert_eq!(clock["offset_ms"], json!(3_000_000_000_000_i64));

    let raw: Value = serde_json::to_value(Seed::default_seed().unwrap()).unwrap();
    let group = |name: &str, email: &str| json!({"name": name, "primary_smtp_address": email});
    let mut twice = raw.clone();
    twice["groups"] =
        json!([group("a", "same@contoso.onmicrosoft.com"), group("b", "same@contoso.onmicrosoft.com")]);
    let mut dangling = raw.clone();
    dangling["policies"] =
        json!([{"task": "Exchange\\Set-Mailbox", "approver_group": "nobody@contoso.onmicrosoft.com"}]);
    let mut pam = raw.clone();
    pam["pam"] = json!({"enabled": true, "admin_group": "ghosts@contoso.onmicrosoft.com"});
    for (seed, names) in [(twice, "same@contoso.onmicrosoft.com"), (dangling, "nobody@"), (pam, "ghosts@")] {
        let (status, answer) = post(&base, "/_emulator/seed", seed).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(names), "{answer}");
        assert_eq!(health(&base).await, 200);
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_data_file_in_a_missing_directory_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.data = Some(dir.path().join("missing/tenant.json"));
    let err = emulator::start(cfg).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn serve_refuses_a_missing_data_directory_and_logs_requests_with_v() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("missing/file.json");
    let out = pamform()
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    let mut child = pamform()
        .args(["-v", "emulator", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("base_url: ").expect("the base URL comes first").to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        assert_eq!(health(&base).await, 200);
        let (status, _) = post(&base, "/_emulator/clock/advance?secret=hunter2", json!({"seconds": 1})).await;
        assert_eq!(status, 200);
    });
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GET /_emulator/health 200"), "{stderr}");
    assert!(stderr.contains("POST /_emulator/clock/advance 200"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
