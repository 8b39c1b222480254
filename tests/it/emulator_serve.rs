//! Running the emulator: `pamform emulator serve` as a process, persistence of the data file
//! across restarts, TLS with the printed certificate, and the reset and seed endpoints.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use pamform::emulator;
use serde_json::json;

use crate::support::api::*;
use crate::support::{APP_ID, APP_SECRET, DOMAIN, TENANT_ID, pamform, upn};

#[tokio::test]
async fn serve_runs_as_a_process_and_prints_where() {
    let mut child = pamform()
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--exchange-latency-ms", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for _ in 0..3 {
        printed.push(lines.next().unwrap().unwrap());
    }
    let base = printed[0].strip_prefix("base_url: ").unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(printed[1].contains(DOMAIN) && printed[1].contains(TENANT_ID));
    assert_eq!(printed[2], format!("client_id: {APP_ID}"));
    assert!(!printed.iter().any(|l| l.contains("emulator-secret")), "no secret in the output");

    let http = reqwest::Client::new();
    let tok: serde_json::Value = http
        .post(format!("{base}/{DOMAIN}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", APP_SECRET),
            ("scope", "https://outlook.office365.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/adminapi/beta/{DOMAIN}/InvokeCommand"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .json(&json!({"CmdletInput": {"CmdletName": "Get-OrganizationConfig"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_refuses_non_loopback_addresses() {
    let out = pamform().args(["emulator", "serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let out = pamform()
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--throttle-rate", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value '3' for '--throttle-rate <RATE>'")
            && stderr.contains("between 0 and 1"),
        "{stderr}"
    );
    // Rates that are each in range but add up to more than 1 cannot all be honoured.
    let out = pamform()
        .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--throttle-rate", "0.7"])
        .args(["--server-error-rate", "0.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("add up to 1.2, more than 1"), "{stderr}");
}

#[tokio::test]
async fn library_start_refuses_non_loopback() {
    let mut cfg = config();
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    assert!(matches!(emulator::start(cfg).await, Err(emulator::EmulatorError::NotLoopback(_))));
}

#[tokio::test]
async fn writes_persist_across_restart_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tenant.json");
    let mut cfg = config();
    cfg.data = Some(data.clone());
    let emu = start_with(cfg.clone()).await;
    let t = emu.exchange_app().await;
    emu.ok(&t, "Get-OrganizationConfig", json!({})).await;
    assert!(!data.exists(), "created on the first write only");
    emu.group(&t, "pam-approvers", &["alice"]).await;
    emu.ok(
        &t,
        "Enable-ElevatedAccessControl",
        json!({"AdminGroup": upn("pam-approvers"), "SystemAccounts": [APP_ID]}),
    )
    .await;
    assert!(data.exists());
    emu.shutdown().await;

    let text = std::fs::read_to_string(&data).unwrap();
    assert!(!text.contains(APP_SECRET));
    assert!(
        !dir.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp"))
    );

    let emu = start_with(cfg.clone()).await;
    let t = emu.exchange_app().await;
    let g = emu.ok(&t, "Get-DistributionGroupMember", json!({"Identity": "pam-approvers"})).await;
    assert_eq!(g.len(), 1);
    let c = emu.ok(&t, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(c[0]["ElevatedAccessControl"], "Enabled");

    // Reset goes back to the seed (and is persisted); a posted seed replaces the tenant.
    assert_eq!(emu.control("POST", "/_emulator/reset", json!(null)).await.status, 200);
    let (s, c, _) = emu.fails(&t, "Get-DistributionGroup", json!({"Identity": "pam-approvers"})).await;
    assert_eq!((s, c.as_str()), (404, pamform::wire::exchange::class::NOT_FOUND));
    let mut seed = serde_json::to_value(default_seed()).unwrap();
    seed["groups"] =
        json!([{"name": "seeded", "primary_smtp_address": upn("seeded"), "members": [upn("bob")]}]);
    assert_eq!(emu.control("POST", "/_emulator/seed", seed).await.status, 200);
    let t = emu.exchange_app().await;
    assert_eq!(emu.ok(&t, "Get-DistributionGroupMember", json!({"Identity": "seeded"})).await.len(), 1);
    let bad = emu.control("POST", "/_emulator/seed", json!({"tenant": {"domain": "", "id": ""}})).await;
    assert_eq!(bad.status, 400);
    let tenant = emu.control("GET", "/_emulator/tenant", json!(null)).await.json();
    assert_eq!(tenant["groups"][0]["name"], "seeded");
    emu.shutdown().await;
    let again = start_with(cfg).await;
    let t = again.exchange_app().await;
    assert_eq!(again.ok(&t, "Get-DistributionGroup", json!({"Identity": "seeded"})).await.len(), 1);
    again.shutdown().await;

    // A broken data file is an error that names the file.
    std::fs::write(&data, "{ not json").unwrap();
    let mut cfg = config();
    cfg.data = Some(data.clone());
    let err = emulator::start(cfg).await.unwrap_err();
    assert!(err.to_string().contains("tenant.json"));
}

#[tokio::test]
async fn tls_serves_with_the_printed_certificate() {
    let mut cfg = config();
    cfg.tls = true;
    let emu = emulator::start(cfg).await.unwrap();
    assert!(emu.base_url.starts_with("https://127.0.0.1:"));
    let pem = std::fs::read(emu.ca_pem_path.as_ref().unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = http.get(format!("{}/_emulator/health", emu.base_url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Without trusting the certificate, the connection fails.
    assert!(reqwest::Client::new().get(format!("{}/_emulator/health", emu.base_url)).send().await.is_err());
    let path = emu.ca_pem_path.clone().unwrap();
    emu.shutdown().await;
    assert!(!path.exists());
}

#[tokio::test]
async fn concurrent_writes_are_safe() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    emu.group(&t, "big", &[]).await;
    let users = ["alice", "bob", "carol", "dave", "erin", "frank", "heidi", "ivan", "judy", "mallory"];
    let url = format!("{}{}", emu.base(), pamform::wire::exchange::invoke_command_path(DOMAIN));
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let (http, url, t) = (emu.http.clone(), url.clone(), t.clone());
            let body = json!({"CmdletInput": {"CmdletName": "Add-DistributionGroupMember", "Parameters": {"Identity": "big", "Member": upn(u)}}});
            tokio::spawn(async move { http.post(url).bearer_auth(t).json(&body).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        emu.ok(&t, "Get-DistributionGroupMember", json!({"Identity": "big"})).await.len(),
        users.len()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn malformed_input_never_breaks_the_server() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let gr = emu.graph_app().await;
    let deep = "[".repeat(10_000);
    let huge = format!("{{\"CmdletInput\":{{\"CmdletName\":\"{}\"}}}}", "A".repeat(1_000_000));
    for body in [
        deep.as_str(),
        huge.as_str(),
        "{\"CmdletInput\":{\"CmdletName\":5}}",
        "{\"CmdletInput\":{\"CmdletName\":\"Get-User\",\"Parameters\":[]}}",
    ] {
        let a = emu.invoke_raw(&ex, body, None, None).await;
        assert!(a.status == 400, "{}", a.status);
        a.real_error();
    }
    let a = emu.invoke(&ex, "Get-User", json!({"Identity": "\u{0}\u{ffff}'\"*%"})).await;
    assert_eq!(a.status, 404);
    let raw = reqwest::Client::new();
    let r = raw
        .post(format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", emu.base()))
        .body(vec![0xff, 0xfe, b'=', b'&', 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = raw.post(format!("{}/%FF%FE/oauth2/v2.0/token", emu.base())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    for path in [
        "/groups/%FF",
        "/groups?$filter=%27",
        "/groups?$top=-1",
        "/groups/delta?$skiptoken=zz",
        "/users/'",
        "/groups/x/members/y",
    ] {
        let a = emu.graph(&gr, path).await;
        assert!(matches!(a.status, 400 | 404), "{path}: {}", a.status);
        assert!(a.json()["error"]["code"].is_string(), "{path}");
    }
    let a = emu.graph(&gr, "/groups?$filter=mail%20eq%20'x'").await;
    assert_eq!(a.status, 200);
    let r = raw.get(format!("{}/adminapi/beta/x/Other", emu.base())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    for (path, body) in [
        ("/_emulator/seed", "nope"),
        ("/_emulator/clock/advance", "{\"seconds\":9223372036854775807}"),
        ("/_emulator/devicecode/approve", "{}"),
    ] {
        let r = raw.post(format!("{}{path}", emu.base())).body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{path}");
    }
    // Still serving.
    emu.ok(&ex, "Get-OrganizationConfig", json!({})).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn requests_and_authorizations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.data = Some(dir.path().join("tenant.json"));
    let emu = start_with(cfg.clone()).await;
    let app = emu.exchange_app().await;
    emu.group(&app, "pam-approvers", &["alice"]).await;
    emu.enable_pam(&app, "pam-approvers").await;
    emu.policy(&app, "Exchange\\New-MoveRequest", "Manual", "pam-approvers").await;
    let admin = emu.exchange_user("admin").await;
    let req = emu
        .ok(&admin, "New-ElevatedAccessRequest", json!({"Task": "Exchange\\New-MoveRequest", "Reason": "r"}))
        .await;
    let id = req[0]["Identity"].as_str().unwrap().to_string();
    let alice = emu.exchange_user("alice").await;
    emu.ok(&alice, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    emu.shutdown().await;

    let emu = start_with(cfg).await;
    let admin = emu.exchange_user("admin").await;
    let got = emu.ok(&admin, "Get-ElevatedAccessRequest", json!({"Identity": id})).await;
    assert_eq!(got[0]["RequestStatus"], "Approved");
    emu.ok(&admin, "New-MoveRequest", json!({})).await;
    emu.shutdown().await;
}
