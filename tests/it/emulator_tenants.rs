//! Many tenants in one emulator: routing by the tenant in the path (token endpoint, Exchange)
//! and by the token's `tid` (Graph), one multi-tenant app consented in every tenant, a token
//! of one tenant refused by another, each tenant's own state and fault options, and the seed
//! generator run as the binary.

use pamform::emulator::tenancy::{self, Generate};
use pamform::wire::{exchange, oauth};
use serde_json::{Value, json};

use crate::support::api::Emu;
use crate::support::{APP_ID, APP_SECRET, emulator_config, pamform};

async fn start(n: usize) -> Emu {
    let seeds = tenancy::generate(&Generate { tenants: n, users: 3, approver_members: 0, policies: 0 })
        .unwrap()
        .tenants;
    let running =
        tenancy::start_tenants(emulator_config(None, Default::default()), seeds, false).await.unwrap();
    Emu { running, http: reqwest::Client::new() }
}

async fn token(emu: &Emu, tenant: &str, resource: &str) -> String {
    let scope = oauth::default_scope(resource);
    let r = emu
        .http
        .post(format!("{}{}", emu.base(), oauth::token_path(tenant)))
        .form(&[
            ("grant_type", oauth::GRANT_CLIENT_CREDENTIALS),
            ("client_id", APP_ID),
            ("client_secret", APP_SECRET),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

async fn invoke(emu: &Emu, tenant: &str, token: &str, cmdlet: &str, params: Value) -> (u16, Value) {
    let r = emu
        .http
        .post(format!("{}{}", emu.base(), exchange::invoke_command_path(tenant)))
        .bearer_auth(token)
        .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_tenant_answers_for_itself_and_refuses_the_others_tokens() {
    let emu = start(3).await;
    let (a, b) = (tenancy::generated_tenant_domain(1), tenancy::generated_tenant_domain(2));
    let token_a = token(&emu, &a, oauth::EXCHANGE_RESOURCE).await;
    let token_b = token(&emu, &tenancy::generated_tenant_id(2), oauth::EXCHANGE_RESOURCE).await;

    let group =
        json!({"Name": "Approvers", "PrimarySmtpAddress": format!("approvers@{a}"), "Type": "Security"});
    let (status, _) = invoke(&emu, &a, &token_a, "New-DistributionGroup", group).await;
    assert_eq!(status, 200);
    let (_, in_a) = invoke(&emu, &a, &token_a, "Get-DistributionGroup", json!({})).await;
    let (_, in_b) = invoke(&emu, &b, &token_b, "Get-DistributionGroup", json!({})).await;
    assert_eq!(in_a["value"].as_array().unwrap().len(), 1, "{in_a}");
    assert_eq!(in_b["value"].as_array().unwrap().len(), 0, "tenant B has its own directory: {in_b}");

    let (status, _) = invoke(&emu, &b, &token_a, "Get-DistributionGroup", json!({})).await;
    assert_eq!(status, exchange::OTHER_TENANT_TOKEN_STATUS, "A's token is refused by B");

    // Graph picks the tenant from the token.
    let graph_b = token(&emu, &b, oauth::GRAPH_RESOURCE).await;
    let users = emu.graph(&graph_b, "/users?$select=userPrincipalName").await.json();
    let upns: Vec<&str> =
        users["value"].as_array().unwrap().iter().map(|u| u["userPrincipalName"].as_str().unwrap()).collect();
    assert!(!upns.is_empty() && upns.iter().all(|u| u.ends_with(&b)), "{upns:?}");

    // Faults of one tenant leave the others alone.
    let put =
        emu.control("PUT", &format!("/_emulator/tenants/{b}/faults"), json!({"throttle_rate": 1.0})).await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.bytes));
    let (status, _) = invoke(&emu, &b, &token_b, "Get-DistributionGroup", json!({})).await;
    assert_eq!(status, 429);
    let (status, _) = invoke(&emu, &a, &token_a, "Get-DistributionGroup", json!({})).await;
    assert_eq!(status, 200);
    let all = emu.control("PUT", "/_emulator/every-tenant/faults", json!({})).await;
    assert_eq!(all.json()["tenants"], 3);
    let (status, _) = invoke(&emu, &b, &token_b, "Get-DistributionGroup", json!({})).await;
    assert_eq!(status, 200);

    let listed = emu.control("GET", "/_emulator/tenants", Value::Null).await.json();
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 3);
    let unknown = emu.control("GET", "/_emulator/tenants/nowhere.example/health", Value::Null).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["error"].as_str().unwrap().contains("nowhere.example"));
    emu.shutdown().await;
}

#[test]
fn the_seed_generator_is_deterministic_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed.json");
    let run = |out: &std::path::Path| {
        let o = pamform()
            .args(["emulator", "seed", "--tenants", "4", "--users", "12", "--approver-members", "10"])
            .args(["--policies", "5", "--out"])
            .arg(out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(out).unwrap()
    };
    let first = run(&file);
    assert_eq!(first, run(&dir.path().join("again.json")));
    let (seeds, multi) = tenancy::parse_seed_file(std::str::from_utf8(&first).unwrap()).unwrap();
    assert!(multi);
    assert_eq!(seeds.len(), 4);
    assert_eq!(seeds[3].policies.len(), 5);
    let bad = pamform()
        .args(["emulator", "seed", "--tenants", "1", "--users", "2", "--approver-members", "5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--approver-members 5"));
}
