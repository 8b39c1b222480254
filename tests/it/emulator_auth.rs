//! Tokens and faults in the emulator: client secret, certificate and federated assertions,
//! device code flow, expiry by clock advance, audience and permission checks, throttling,
//! concurrency limit, server errors, dropped connections and counters.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pamform::wire::exchange::{self, class};
use pamform::wire::{graph, oauth};
use serde_json::json;

use crate::support::api::*;
use crate::support::{APP_ID, DOMAIN, TENANT_ID, upn};

const KEY_PEM: &str = include_str!("../fixtures/emulator_app_key.pem");
const CERT_PEM: &str = include_str!("../fixtures/emulator_app_cert.pem");

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn cert_assertion(aud: &str, thumb: &str, exp: i64) -> String {
    let mut header = Header::new(Algorithm::PS256);
    header.x5t_s256 = Some(thumb.to_string());
    let claims = oauth::AssertionClaims {
        aud: aud.to_string(),
        iss: APP_ID.into(),
        sub: APP_ID.into(),
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now() - 10,
        exp,
        iat: None,
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap()).unwrap()
}

#[tokio::test]
async fn client_secret_errors_look_like_the_identity_platform() {
    let emu = start().await;
    let scope = oauth::default_scope(oauth::EXCHANGE_RESOURCE);
    let a = emu
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", "wrong"),
            ("scope", &scope),
        ])
        .await;
    assert_eq!(a.status, 401);
    let e: oauth::TokenError = serde_json::from_slice(&a.bytes).unwrap();
    assert_eq!(e.error, oauth::ERROR_INVALID_CLIENT);
    assert_eq!(e.error_codes, vec![oauth::aadsts::INVALID_CLIENT_SECRET]);
    let a = emu
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nope"),
            ("client_secret", "x"),
            ("scope", &scope),
        ])
        .await;
    // An unknown app is `unauthorized_client` with 400, not `invalid_client`.
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"], oauth::ERROR_UNAUTHORIZED_CLIENT);
    assert_eq!(a.json()["error_codes"][0], oauth::aadsts::APP_NOT_FOUND);
    let secret = emu.running.app.client_secret.clone();
    let a = emu
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", &secret),
            ("scope", "https://example.com/.default"),
        ])
        .await;
    // A resource the tenant has no service principal for.
    assert_eq!((a.status, a.json()["error"].as_str()), (400, Some(oauth::ERROR_INVALID_RESOURCE)));
    assert_eq!(a.json()["error_codes"][0], oauth::aadsts::RESOURCE_NOT_FOUND);
    let a = emu.token_form(&[("grant_type", "password")]).await;
    assert_eq!(a.json()["error"], oauth::ERROR_UNSUPPORTED_GRANT_TYPE);
    let a = emu.token_form(&[]).await;
    assert_eq!(a.status, 400);
    let url = format!("{}{}", emu.base(), oauth::token_path("other.onmicrosoft.com"));
    let r = emu.http.post(url).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // The tenant id works as well as the domain.
    let url = format!("{}{}", emu.base(), oauth::token_path(TENANT_ID));
    let r = emu
        .http
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP_ID),
            ("client_secret", &secret),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap();
    let tok: oauth::TokenResponse = r.json().await.unwrap();
    assert_eq!((tok.token_type.as_str(), tok.expires_in), ("Bearer", 3599));
    emu.shutdown().await;
}

#[tokio::test]
async fn certificate_assertion_is_verified() {
    let emu = start().await;
    let thumb = pamform::emulator::cert_thumbprint(CERT_PEM).unwrap();
    let aud = format!("{}{}", emu.base(), oauth::token_path(DOMAIN));
    let e = &emu;
    let go = |assertion: String| async move { e.assertion_token(&assertion, oauth::EXCHANGE_RESOURCE).await };
    let a = go(cert_assertion(&aud, &thumb, now() + 300)).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
    let token = a.json()["access_token"].as_str().unwrap().to_string();
    emu.ok(&token, "Get-OrganizationConfig", json!({})).await;
    // Wrong thumbprint, wrong audience, expired, tampered.
    assert_eq!(go(cert_assertion(&aud, "AAAA", now() + 300)).await.status, 401);
    assert_eq!(go(cert_assertion("https://login.example/token", &thumb, now() + 300)).await.status, 401);
    let expired = go(cert_assertion(&aud, &thumb, now() - 600)).await;
    assert_eq!(expired.json()["error_codes"][0], oauth::aadsts::ASSERTION_NOT_IN_TIME);
    let mut bad = cert_assertion(&aud, &thumb, now() + 300);
    bad.push('x');
    assert_eq!(go(bad).await.status, 401);
    assert_eq!(go("garbage".into()).await.status, 401);
    emu.shutdown().await;
}

#[tokio::test]
async fn federated_assertion_matches_a_registered_credential() {
    let emu = start().await;
    let fed = |iss: &str, sub: &str, aud: &str| {
        let claims = json!({"iss": iss, "sub": sub, "aud": aud, "exp": now() + 300, "nbf": now() - 5});
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"github"))
            .unwrap()
    };
    let e = &emu;
    let ask = |assertion: String| async move { e.assertion_token(&assertion, oauth::GRAPH_RESOURCE).await };
    let iss = "https://token.actions.githubusercontent.com";
    let good = ask(fed(iss, "repo:contoso/pam-config:ref:refs/heads/main", oauth::FEDERATED_AUDIENCE)).await;
    assert_eq!(good.status, 200);
    let bad_sub = ask(fed(iss, "repo:evil/fork:ref:refs/heads/main", oauth::FEDERATED_AUDIENCE)).await;
    assert_eq!(bad_sub.status, 401);
    assert_eq!(bad_sub.json()["error"], oauth::ERROR_UNAUTHORIZED_CLIENT);
    assert_eq!(bad_sub.json()["error_codes"][0], oauth::aadsts::NO_FEDERATED_CREDENTIAL);
    let bad_aud = ask(fed(iss, "repo:contoso/pam-config:ref:refs/heads/main", "api://other")).await;
    assert_eq!(bad_aud.status, 401);
    emu.shutdown().await;
}

#[tokio::test]
async fn device_code_flow_polls_until_approved_or_expired() {
    let emu = start().await;
    let url = format!("{}{}", emu.base(), oauth::devicecode_path(DOMAIN));
    let scope = oauth::default_scope(oauth::EXCHANGE_RESOURCE);
    let new_code = || async {
        let r = emu
            .http
            .post(&url)
            .form(&[("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID), ("scope", &scope)])
            .send();
        r.await.unwrap().json::<oauth::DeviceCodeResponse>().await.unwrap()
    };
    let dc = new_code().await;
    assert_eq!(
        (dc.expires_in, dc.interval),
        (oauth::DEVICE_CODE_LIFETIME_SECS, oauth::DEVICE_CODE_INTERVAL_SECS)
    );
    let form = [
        ("grant_type", oauth::GRANT_DEVICE_CODE),
        ("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID),
        ("device_code", dc.device_code.as_str()),
    ];
    let poll = || emu.token_form(&form);
    assert_eq!(poll().await.json()["error"], oauth::ERROR_AUTHORIZATION_PENDING);
    let a = emu
        .control(
            "POST",
            "/_emulator/devicecode/approve",
            json!({"user_code": dc.user_code, "user": "ghost@x.com"}),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = emu
        .control(
            "POST",
            "/_emulator/devicecode/approve",
            json!({"user_code": dc.user_code, "user": upn("bob")}),
        )
        .await;
    assert_eq!(a.status, 200);
    let ok = poll().await;
    assert_eq!(ok.status, 200);
    let tok: oauth::TokenResponse = serde_json::from_slice(&ok.bytes).unwrap();
    emu.ok(&tok.access_token, "Get-ElevatedAccessRequest", json!({})).await;
    // The refresh token gets a Graph token for the same user.
    let g = emu
        .token_form(&[
            ("grant_type", oauth::GRANT_REFRESH_TOKEN),
            ("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID),
            ("refresh_token", tok.refresh_token.as_deref().unwrap()),
            ("scope", &oauth::default_scope(oauth::GRAPH_RESOURCE)),
        ])
        .await;
    assert_eq!(g.status, 200);
    // A used code is gone (not recognised); a new one expires when the clock passes its
    // lifetime.
    assert_eq!(poll().await.json()["error"], oauth::ERROR_BAD_VERIFICATION_CODE);
    let dc2 = new_code().await;
    emu.advance(dc2.expires_in as i64 + 1).await;
    let a = emu
        .token_form(&[
            ("grant_type", oauth::GRANT_DEVICE_CODE),
            ("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID),
            ("device_code", &dc2.device_code),
        ])
        .await;
    assert_eq!(a.json()["error"], oauth::ERROR_EXPIRED_TOKEN);
    emu.shutdown().await;
}

#[tokio::test]
async fn tokens_are_checked_for_expiry_audience_and_permissions() {
    let mut seed = default_seed();
    seed.apps.push(
        serde_json::from_value(json!({
            "client_id": "11111111-2222-3333-4444-555555555555",
            "secret": "reader-secret",
            "permissions": ["User.Read.All"],
            "role_groups": []
        }))
        .unwrap(),
    );
    let mut cfg = config();
    cfg.seed = Some(seed);
    let emu = start_with(cfg).await;
    let ex = emu.exchange_app().await;
    let gr = emu.graph_app().await;

    // Audience: a Graph token at Exchange and the reverse.
    let a = emu.invoke(&gr, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(a.status, 401);
    assert!(a.headers.get("www-authenticate").unwrap().to_str().unwrap().starts_with("Bearer"));
    let a = emu.graph(&ex, "/users").await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["error"]["code"], graph::code::UNAUTHORIZED);
    // Garbage and missing tokens.
    assert_eq!(emu.invoke("garbage", "Get-OrganizationConfig", json!({})).await.status, 401);
    assert_eq!(emu.graph("", "/users").await.status, 401);

    // Missing permissions: Exchange answers 403 with NUL bytes, Graph with its envelope.
    let reader_ex = emu
        .app_token_for("11111111-2222-3333-4444-555555555555", "reader-secret", oauth::EXCHANGE_RESOURCE)
        .await;
    let a = emu.invoke(&reader_ex, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(a.status, 403);
    assert!(!a.bytes.is_empty() && a.bytes.iter().all(|b| *b == 0));
    let reader_gr = emu
        .app_token_for("11111111-2222-3333-4444-555555555555", "reader-secret", oauth::GRAPH_RESOURCE)
        .await;
    let a = emu.graph(&reader_gr, "/groups").await;
    assert_eq!((a.status, a.json()["error"]["code"].as_str()), (403, Some(graph::code::FORBIDDEN)));
    assert_eq!(emu.graph(&reader_gr, "/users").await.status, 200);

    // Expiry: the token lifetime is a fault option; the clock can move past it.
    emu.ok(&ex, "Get-OrganizationConfig", json!({})).await;
    emu.advance(3600).await;
    assert_eq!(emu.invoke(&ex, "Get-OrganizationConfig", json!({})).await.status, 401);
    assert_eq!(emu.graph(&gr, "/users").await.status, 401);
    emu.set_faults(json!({"token_lifetime_secs": 5})).await;
    let short = emu.exchange_app().await;
    emu.ok(&short, "Get-OrganizationConfig", json!({})).await;
    emu.advance(6).await;
    assert_eq!(emu.invoke(&short, "Get-OrganizationConfig", json!({})).await.status, 401);
    emu.shutdown().await;
}

#[tokio::test]
async fn throttling_server_errors_and_drops() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let gr = emu.graph_app().await;
    emu.set_faults(json!({"throttle_rate": 1.0, "retry_after_ms": 1000})).await;
    let a = emu.invoke(&ex, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers.get("retry-after").unwrap(), "1");
    assert_eq!(a.real_error().0, class::THROTTLED);
    let a = emu.graph(&gr, "/users").await;
    assert_eq!((a.status, a.json()["error"]["code"].as_str()), (429, Some(graph::code::THROTTLED)));
    // Login and /_emulator/ are never faulted.
    emu.exchange_app().await;
    assert_eq!(emu.control("GET", "/_emulator/health", json!(null)).await.status, 200);

    emu.set_faults(json!({"throttle_rate": 1.0, "retry_after_ms": 250})).await;
    assert_eq!(
        emu.invoke(&ex, "Get-OrganizationConfig", json!({})).await.headers.get("retry-after").unwrap(),
        "0.250"
    );

    emu.set_faults(json!({"server_error_rate": 1.0})).await;
    let a = emu.invoke(&ex, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(a.status, 503);
    assert_eq!(emu.graph(&gr, "/users").await.status, 503);

    emu.set_faults(json!({"drop_rate": 1.0})).await;
    let url = format!("{}{}", emu.base(), exchange::invoke_command_path(DOMAIN));
    let r = emu.http.post(url).bearer_auth(&ex).body("{}").send().await;
    assert!(r.is_err(), "the connection is closed without an answer");

    // Reproducible: the same seed gives the same sequence.
    let mut runs = Vec::new();
    for _ in 0..2 {
        emu.set_faults(json!({"throttle_rate": 0.5, "fault_seed": 42})).await;
        let mut seq = Vec::new();
        for _ in 0..12 {
            seq.push(emu.invoke(&ex, "Get-OrganizationConfig", json!({})).await.status);
        }
        runs.push(seq);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&429) && runs[0].contains(&200));
    emu.shutdown().await;
}

#[tokio::test]
async fn invalid_fault_settings_are_refused() {
    let emu = start().await;
    let a = emu.control("PUT", "/_emulator/faults", json!({"throttle_rate": 2.0})).await;
    assert_eq!(a.status, 400);
    let a = emu.control("PUT", "/_emulator/faults", json!({"no_such_fault": 1})).await;
    assert_eq!(a.status, 400);
    let a = emu.control("PUT", "/_emulator/faults", json!({"concurrency_limit_status": 500})).await;
    assert_eq!(a.status, 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn concurrency_limit_answers_with_the_tenant_message_and_counters_see_it() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    emu.set_faults(
        json!({"exchange_concurrency_limit": 2, "exchange_latency_ms": 300, "concurrency_limit_status": 503}),
    )
    .await;
    let url = format!("{}{}", emu.base(), exchange::invoke_command_path(DOMAIN));
    let body = json!({"CmdletInput": {"CmdletName": "Get-OrganizationConfig"}}).to_string();
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (http, url, body, ex) = (emu.http.clone(), url.clone(), body.clone(), ex.clone());
            tokio::spawn(async move {
                let r = http.post(url).bearer_auth(ex).body(body).send().await.unwrap();
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                (status, retry_after, r.text().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }
    let limited: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert!(!limited.is_empty());
    for (_, retry_after, text) in &limited {
        assert!(text.starts_with(exchange::CONCURRENCY_LIMIT_MESSAGE));
        assert!(retry_after);
    }
    assert!(answers.iter().any(|a| a.0 == 200));

    // Retries are requests whose client-request-id was seen before.
    emu.set_faults(json!({})).await;
    for _ in 0..3 {
        emu.http
            .post(&url)
            .bearer_auth(&ex)
            .header(exchange::HEADER_CLIENT_REQUEST_ID, "11111111-1111-1111-1111-111111111111")
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    let c = emu.counters().await;
    assert_eq!(c["retries_seen"], 2);
    assert!(c["throttled"].as_u64().unwrap() >= limited.len() as u64);
    assert!(c["peak_concurrency"]["exchange"].as_u64().unwrap() >= 3);
    assert!(c["per_cmdlet"]["Get-OrganizationConfig"].as_u64().unwrap() >= 3);
    assert!(c["per_status"]["503"].as_u64().unwrap() >= 1);
    assert_eq!(c["writes"], 0);
    emu.group(&ex, "g", &[]).await;
    assert_eq!(emu.counters().await["writes"], 1);
    assert_eq!(emu.control("DELETE", "/_emulator/counters", json!(null)).await.status, 200);
    assert_eq!(emu.counters().await["requests"], 0);
    emu.shutdown().await;
}

fn insecure_claims(token: &str) -> serde_json::Value {
    jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token).unwrap().claims
}

#[tokio::test]
async fn certificate_assertions_as_the_libraries_send_them() {
    use crate::support::assertions;
    let emu = start().await;
    let url = format!("{}{}", emu.base(), oauth::token_path(DOMAIN));
    // MSAL: PS256 with a padded x5t#S256; the same assertion twice (MSAL reuses it).
    let msal = assertions::cert_assertion(&url);
    for resource in [oauth::GRAPH_RESOURCE, oauth::EXCHANGE_RESOURCE] {
        let a = emu.assertion_token(&msal, resource).await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
    }
    // azure-identity: RS256 with a padded SHA-1 x5t, and floating-point times.
    let a = emu.assertion_token(&assertions::cert_assertion_x5t(&url), oauth::GRAPH_RESOURCE).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
    // No upper limit on the lifetime (the service sets none).
    let mut header = Header::new(Algorithm::PS256);
    header.x5t_s256 = pamform::emulator::cert_thumbprint(CERT_PEM);
    let long =
        json!({"aud": url, "iss": APP_ID, "sub": APP_ID, "jti": "x", "nbf": now(), "exp": now() + 86_400});
    let long = jsonwebtoken::encode(&header, &long, &EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(emu.assertion_token(&long, oauth::GRAPH_RESOURCE).await.status, 200);
    // Not yet valid.
    let early = json!({"aud": url, "iss": APP_ID, "sub": APP_ID, "nbf": now() + 3600, "exp": now() + 4000});
    let early =
        jsonwebtoken::encode(&header, &early, &EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap())
            .unwrap();
    let a = emu.assertion_token(&early, oauth::GRAPH_RESOURCE).await;
    assert_eq!((a.status, &a.json()["error_codes"][0]), (401, &json!(oauth::aadsts::ASSERTION_NOT_IN_TIME)));
    emu.shutdown().await;
}

#[tokio::test]
async fn scopes_are_checked_like_the_service() {
    let emu = start().await;
    let secret = emu.running.app.client_secret.clone();
    let ask = |scope: &'static str| {
        let secret = secret.clone();
        let emu = &emu;
        async move {
            let a = emu
                .token_form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", APP_ID),
                    ("client_secret", &secret),
                    ("scope", scope),
                ])
                .await;
            (
                a.status,
                a.json()["error"].as_str().unwrap_or("").to_string(),
                a.json()["error_codes"][0].as_u64(),
            )
        }
    };
    let refused = |code| (400, oauth::ERROR_INVALID_SCOPE.to_string(), Some(code));
    // Client credentials: only `{resource}/.default`, one resource, no delegated scopes.
    assert_eq!(ask("User.Read").await, refused(oauth::aadsts::SCOPE_NOT_DEFAULT));
    assert_eq!(
        ask("https://graph.microsoft.com/User.Read.All").await,
        refused(oauth::aadsts::SCOPE_NOT_DEFAULT)
    );
    assert_eq!(
        ask("https://graph.microsoft.com/.default openid").await,
        refused(oauth::aadsts::SCOPE_NOT_DEFAULT)
    );
    assert_eq!(
        ask("https://graph.microsoft.com/.default https://outlook.office365.com/.default").await,
        refused(oauth::aadsts::INVALID_SCOPE)
    );
    assert_eq!(ask("https://graph.microsoft.com/.default").await.0, 200);
    // Delegated: one resource per request too.
    let url = format!("{}{}", emu.base(), oauth::devicecode_path(DOMAIN));
    let two = "https://graph.microsoft.com/.default https://outlook.office365.com/.default openid";
    let r =
        emu.http.post(&url).form(&[("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID), ("scope", two)]).send();
    let r = r.await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error_codes"][0], oauth::aadsts::INVALID_SCOPE);
    emu.shutdown().await;
}

#[tokio::test]
async fn tokens_carry_the_permissions_of_their_audience_only() {
    let emu = start().await;
    let ex = insecure_claims(&emu.exchange_app().await);
    assert_eq!(ex["aud"], oauth::EXCHANGE_RESOURCE);
    assert_eq!(ex["roles"], json!([oauth::PERMISSION_EXCHANGE_MANAGE_AS_APP]));
    let gr = insecure_claims(&emu.graph_app().await);
    assert_eq!(gr["roles"], json!([oauth::PERMISSION_GROUP_READ_ALL, oauth::PERMISSION_USER_READ_ALL]));
    emu.shutdown().await;
}

#[tokio::test]
async fn error_bodies_carry_the_services_fields() {
    let emu = start().await;
    let url = format!("{}{}", emu.base(), oauth::token_path(DOMAIN));
    let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let r = emu
        .http
        .post(url)
        .header(exchange::HEADER_CLIENT_REQUEST_ID, id)
        .form(&[("grant_type", "client_credentials"), ("client_id", APP_ID), ("client_secret", "wrong")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"]
    );
    assert_eq!(body["correlation_id"], id, "the client's request id is the correlation id");
    let description = body["error_description"].as_str().unwrap();
    let trace = body["trace_id"].as_str().unwrap();
    let stamp = body["timestamp"].as_str().unwrap();
    assert!(
        description
            .ends_with(&format!("\r\nTrace ID: {trace}\r\nCorrelation ID: {id}\r\nTimestamp: {stamp}")),
        "{description}"
    );
    assert!(
        body["error_uri"].as_str().unwrap().ends_with(&format!("/error?code={}", body["error_codes"][0]))
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn discovery_and_the_key_set_verify_the_tokens() {
    let emu = start().await;
    let get = |path: String| {
        let http = emu.http.clone();
        let url = format!("{}{path}", emu.base());
        async move { http.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let config = get(oauth::openid_configuration_path(DOMAIN)).await;
    assert_eq!(config["token_endpoint"], format!("{}{}", emu.base(), oauth::token_path(DOMAIN)));
    assert_eq!(config["issuer"], oauth::issuer(emu.base(), TENANT_ID));
    let jwks_uri = config["jwks_uri"].as_str().unwrap().strip_prefix(emu.base()).unwrap().to_string();
    let keys = get(jwks_uri).await;
    let key = &keys["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let verify = |token: &str, aud: &str| {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::RS256, key["kid"].as_str()));
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.set_audience(&[aud]);
        v.set_issuer(&[config["issuer"].as_str().unwrap()]);
        jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &v).unwrap().claims
    };
    verify(&emu.graph_app().await, oauth::GRAPH_RESOURCE);

    // A device code sign-in with a nonce: the ID token names the user and echoes the nonce.
    let url = format!("{}{}", emu.base(), oauth::devicecode_path(DOMAIN));
    let scope = format!("{} openid profile offline_access", oauth::default_scope(oauth::EXCHANGE_RESOURCE));
    let dc: serde_json::Value = emu
        .http
        .post(&url)
        .form(&[
            ("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID),
            ("scope", &scope),
            ("nonce", "n-0S6_WzA2Mj"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let approve = json!({"user_code": dc["user_code"], "user": upn("alice")});
    assert_eq!(emu.control("POST", "/_emulator/devicecode/approve", approve).await.status, 200);
    let a = emu
        .token_form(&[
            ("grant_type", oauth::GRANT_DEVICE_CODE),
            ("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID),
            ("device_code", dc["device_code"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
    let id = verify(a.json()["id_token"].as_str().unwrap(), oauth::EXCHANGE_PUBLIC_CLIENT_ID);
    assert_eq!(id["preferred_username"], upn("alice"));
    assert_eq!(id["tid"], TENANT_ID);
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert!(id["sub"].as_str().is_some_and(|s| !s.is_empty()) && id["oid"].is_string());
    verify(a.json()["access_token"].as_str().unwrap(), oauth::EXCHANGE_RESOURCE);
    emu.shutdown().await;
}
