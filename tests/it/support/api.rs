//! An emulator on 127.0.0.1 in the test process, talked to with reqwest as a client of
//! Microsoft's endpoints would.

use pamform::emulator::{self, EmulatorConfig, Faults, RunningEmulator, Seed};
use pamform::wire::{exchange, oauth};
use serde_json::{Value, json};

use super::{APP_ID, DOMAIN, emulator_config, upn};

pub struct Emu {
    pub running: RunningEmulator,
    pub http: reqwest::Client,
}

pub fn config() -> EmulatorConfig {
    emulator_config(None, Faults::default())
}

pub async fn start() -> Emu {
    start_with(config()).await
}

pub async fn start_with(cfg: EmulatorConfig) -> Emu {
    let running = emulator::start(cfg).await.expect("emulator starts");
    Emu { running, http: reqwest::Client::new() }
}

/// The default seed, parsed (not loaded), for tests to extend.
pub fn default_seed() -> Seed {
    Seed::default_seed().unwrap()
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// The real exception class and message of an Exchange error envelope.
    pub fn real_error(&self) -> (String, String) {
        let env: exchange::ErrorEnvelope = serde_json::from_slice(&self.bytes).expect("error envelope");
        env.real_error().expect("real error")
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap().to_vec();
    Answer { status, headers, bytes }
}

impl Emu {
    pub fn base(&self) -> &str {
        &self.running.base_url
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }

    pub async fn token_form(&self, form: &[(&str, &str)]) -> Answer {
        let url = format!("{}{}", self.base(), oauth::token_path(DOMAIN));
        answer(self.http.post(url).form(form).send().await.unwrap()).await
    }

    /// Asks for an app token with a client assertion (certificate or federated).
    pub async fn assertion_token(&self, assertion: &str, resource: &str) -> Answer {
        let scope = oauth::default_scope(resource);
        self.token_form(&[
            ("grant_type", oauth::GRANT_CLIENT_CREDENTIALS),
            ("client_id", APP_ID),
            ("client_assertion_type", oauth::CLIENT_ASSERTION_TYPE_JWT),
            ("client_assertion", assertion),
            ("scope", &scope),
        ])
        .await
    }

    pub async fn app_token_for(&self, client_id: &str, secret: &str, resource: &str) -> String {
        let scope = oauth::default_scope(resource);
        let a = self
            .token_form(&[
                ("grant_type", oauth::GRANT_CLIENT_CREDENTIALS),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", &scope),
            ])
            .await;
        assert_eq!(a.status, 200, "token: {}", String::from_utf8_lossy(&a.bytes));
        a.json()["access_token"].as_str().unwrap().to_string()
    }

    pub async fn app_token(&self, resource: &str) -> String {
        let secret = self.running.app.client_secret.clone();
        self.app_token_for(APP_ID, &secret, resource).await
    }

    pub async fn exchange_app(&self) -> String {
        self.app_token(oauth::EXCHANGE_RESOURCE).await
    }

    pub async fn graph_app(&self) -> String {
        self.app_token(oauth::GRAPH_RESOURCE).await
    }

    /// A delegated token through the device code flow, approved as `user`.
    pub async fn user_token(&self, user: &str, resource: &str) -> String {
        let scope = oauth::default_scope(resource);
        self.device_code_token(oauth::EXCHANGE_PUBLIC_CLIENT_ID, user, &scope).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The device code flow of `client_id` asking for `scope`, approved as `user`: the token
    /// endpoint's answer (the token and its echoed `scope`).
    pub async fn device_code_token(&self, client_id: &str, user: &str, scope: &str) -> Value {
        let url = format!("{}{}", self.base(), oauth::devicecode_path(DOMAIN));
        let dc = answer(
            self.http.post(url).form(&[("client_id", client_id), ("scope", scope)]).send().await.unwrap(),
        )
        .await;
        assert_eq!(dc.status, 200, "{}", String::from_utf8_lossy(&dc.bytes));
        let dc = dc.json();
        let ok = self
            .control(
                "POST",
                "/_emulator/devicecode/approve",
                json!({"user_code": dc["user_code"], "user": user}),
            )
            .await;
        assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.bytes));
        let a = self
            .token_form(&[
                ("grant_type", oauth::GRANT_DEVICE_CODE),
                ("client_id", client_id),
                ("device_code", dc["device_code"].as_str().unwrap()),
            ])
            .await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
        a.json()
    }

    pub async fn exchange_user(&self, name: &str) -> String {
        self.user_token(&upn(name), oauth::EXCHANGE_RESOURCE).await
    }

    pub async fn invoke_raw(
        &self,
        token: &str,
        body: &str,
        page: Option<usize>,
        url: Option<&str>,
    ) -> Answer {
        let default = format!("{}{}", self.base(), exchange::invoke_command_path(DOMAIN));
        let mut rb = self
            .http
            .post(url.unwrap_or(&default))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(n) = page {
            rb = rb.header(exchange::HEADER_PREFER, format!("odata.maxpagesize={n}"));
        }
        answer(rb.send().await.unwrap()).await
    }

    pub async fn invoke(&self, token: &str, cmdlet: &str, params: Value) -> Answer {
        let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});
        self.invoke_raw(token, &body.to_string(), None, None).await
    }

    /// Runs a cmdlet that must succeed and returns its `value`.
    pub async fn ok(&self, token: &str, cmdlet: &str, params: Value) -> Vec<Value> {
        let a = self.invoke(token, cmdlet, params).await;
        assert_eq!(a.status, 200, "{cmdlet}: {}", String::from_utf8_lossy(&a.bytes));
        a.json()["value"].as_array().cloned().unwrap_or_default()
    }

    /// Runs a cmdlet that must fail and returns (status, class, message).
    pub async fn fails(&self, token: &str, cmdlet: &str, params: Value) -> (u16, String, String) {
        let a = self.invoke(token, cmdlet, params).await;
        assert_ne!(a.status, 200, "{cmdlet} should fail: {}", String::from_utf8_lossy(&a.bytes));
        let (class, msg) = a.real_error();
        (a.status, class, msg)
    }

    pub async fn graph(&self, token: &str, path_and_query: &str) -> Answer {
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_string()
        } else {
            format!("{}/v1.0{path_and_query}", self.base())
        };
        answer(self.http.get(url).bearer_auth(token).send().await.unwrap()).await
    }

    pub async fn control(&self, method: &str, path: &str, body: Value) -> Answer {
        let url = format!("{}{path}", self.base());
        let rb = match method {
            "GET" => self.http.get(url),
            "PUT" => self.http.put(url).json(&body),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        answer(rb.send().await.unwrap()).await
    }

    pub async fn set_faults(&self, faults: Value) {
        let a = self.control("PUT", "/_emulator/faults", faults).await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
    }

    pub async fn advance(&self, seconds: i64) {
        let a = self.control("POST", "/_emulator/clock/advance", json!({"seconds": seconds})).await;
        assert_eq!(a.status, 200);
    }

    pub async fn counters(&self) -> Value {
        self.control("GET", "/_emulator/counters", Value::Null).await.json()
    }

    /// Switches PAM on with `group@` the tenant as the default approver group and the seeded
    /// app as the only system account.
    pub async fn enable_pam(&self, token: &str, group: &str) {
        self.ok(
            token,
            "Enable-ElevatedAccessControl",
            json!({"AdminGroup": upn(group), "SystemAccounts": [APP_ID]}),
        )
        .await;
    }

    /// A policy gating `task` with `approval` (`Manual` or `Auto`), decided by `group@` the tenant.
    pub async fn policy(&self, token: &str, task: &str, approval: &str, group: &str) {
        self.ok(
            token,
            "New-ElevatedAccessApprovalPolicy",
            json!({"Task": task, "ApprovalType": approval, "ApproverGroup": upn(group)}),
        )
        .await;
    }

    /// Creates a mail-enabled security group with members.
    pub async fn group(&self, token: &str, name: &str, members: &[&str]) -> Value {
        let members: Vec<String> = members.iter().map(|m| upn(m)).collect();
        let v = self
            .ok(
                token,
                "New-DistributionGroup",
                json!({"Name": name, "PrimarySmtpAddress": upn(name), "Type": "Security", "Members": members}),
            )
            .await;
        v[0].clone()
    }
}
