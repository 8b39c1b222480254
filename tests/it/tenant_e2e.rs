//! The tenant client against the real emulator on 127.0.0.1: refresh under faults, token
//! renewal, permission errors, the concurrency limit, credentials, delta, device code,
//! connect, and a `-v` log free of secrets.

use std::collections::BTreeSet;
use std::time::Duration;

use pamform::emulator::{self, Faults, RunningEmulator, Seed};
use pamform::model::{self, PolicyTarget, Span, Spanned};
use pamform::tenant::auth::{self, Credential};
use pamform::tenant::http::Transport;
use pamform::tenant::{
    Client, ClientOptions, ConnectOptions, Endpoints, RefreshRequest, RetryPolicy, Secret, TenantError,
};
use pamform::views::{ColorMode, Printer};
use serde_json::{Value, json};

use crate::support::{APP_ID, APP_SECRET, DOMAIN, emulator_config, upn};

/// The default seed plus three approver groups, three policies (task, role, role group) and
/// PAM enabled; `edit` changes the JSON further.
fn seed_with(edit: impl FnOnce(&mut Value)) -> Seed {
    let mut v = serde_json::to_value(Seed::default_seed().unwrap()).unwrap();
    v["groups"] = json!([
        {"name": "PAM Approvers", "primary_smtp_address": upn("pam-approvers"), "members": [upn("alice"), upn("bob")]},
        {"name": "Move Approvers", "primary_smtp_address": upn("move-approvers"),
         "members": [upn("carol"), upn("dave"), "oscar@fabrikam.com"]},
        {"name": "Journal Approvers", "primary_smtp_address": upn("journal-approvers"), "members": [upn("erin")]},
    ]);
    v["policies"] = json!([
        {"task": "Exchange\\New-MoveRequest", "approver_group": upn("move-approvers")},
        {"task": "Role:Journaling", "approval_type": "Auto", "approver_group": upn("journal-approvers")},
        {"task": "RoleGroup:Discovery Management", "approver_group": upn("pam-approvers")},
    ]);
    let app_id = v["apps"][0]["client_id"].clone();
    v["pam"] = json!({"enabled": true, "admin_group": upn("pam-approvers"), "system_accounts": [upn("svc-pamform"), app_id]});
    edit(&mut v);
    Seed::from_json(&v.to_string()).unwrap()
}

fn seed() -> Seed {
    seed_with(|_| {})
}

async fn start(seed: Seed, faults: Faults) -> RunningEmulator {
    emulator::start(emulator_config(Some(seed), faults)).await.unwrap()
}

fn endpoints(emu: &RunningEmulator) -> Endpoints {
    Endpoints { login: emu.base_url.clone(), exchange: emu.base_url.clone(), graph: emu.base_url.clone() }
}

fn app(emu: &RunningEmulator) -> Credential {
    Credential::Secret {
        client_id: emu.app.client_id.clone(),
        secret: Secret::new(emu.app.client_secret.clone()),
    }
}

fn fast_retries() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    }
}

fn client_with(emu: &RunningEmulator, credential: Credential, options: ClientOptions) -> Client {
    Client::new(&emu.tenant_domain, endpoints(emu), credential, options).unwrap()
}

fn client(emu: &RunningEmulator) -> Client {
    client_with(emu, app(emu), fast_retries())
}

async fn control(emu: &RunningEmulator, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut rb = http.request(method, format!("{}/_emulator/{path}", emu.base_url));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    assert!(resp.status().is_success(), "/_emulator/{path}: {}", resp.status());
    resp.json().await.unwrap()
}

async fn set_faults(emu: &RunningEmulator, faults: Value) {
    control(emu, reqwest::Method::PUT, "faults", Some(faults)).await;
}

async fn counters(emu: &RunningEmulator) -> Value {
    control(emu, reqwest::Method::GET, "counters", None).await
}

fn request() -> RefreshRequest {
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    RefreshRequest {
        groups: set(&[&upn("pam-approvers"), &upn("move-approvers"), &upn("missing-group")]),
        principals: set(&[
            &upn("alice"),
            &upn("grace"),
            &upn("frank"),
            "oscar@fabrikam.com",
            &upn("nobody"),
            "ADMIN@Contoso.onmicrosoft.com",
        ]),
        roles: set(&["Move Mailboxes"]),
        role_groups: set(&["Recipient Management"]),
        ..RefreshRequest::default()
    }
}

fn check_snapshot(s: &model::TenantSnapshot, app_id: &str) {
    assert!(s.pam.enabled);
    assert_eq!(s.pam.default_approver_group.as_deref(), Some(upn("pam-approvers").as_str()));
    assert!(s.pam.system_accounts.iter().any(|a| a.eq_ignore_ascii_case(&upn("svc-pamform"))));
    assert_eq!(s.policies.len(), 3);
    assert!(s.policy_by_target(&PolicyTarget::Task("New-MoveRequest".into())).is_some());
    let journaling = s.policy_by_target(&PolicyTarget::Role("Journaling".into())).unwrap();
    assert_eq!(journaling.approval, model::Approval::Auto);

    let keys: Vec<&str> = s.groups.keys().map(String::as_str).collect();
    let (pam, moves, journal) = (upn("pam-approvers"), upn("move-approvers"), upn("journal-approvers"));
    assert_eq!(keys, vec![journal.as_str(), moves.as_str(), pam.as_str()], "policy-only groups are read too");
    let moves = s.group(&moves).unwrap();
    assert!(moves.security_enabled);
    assert_eq!(moves.members.len(), 3);
    assert!(moves.members.iter().any(|m| m.is_guest && m.answers_to("oscar@fabrikam.com")));
    assert!(!moves.id.is_empty());

    let alice = s.principal(&upn("alice")).unwrap();
    assert!(alice.has_mailbox && !alice.is_guest);
    let grace = s.principal(&upn("grace")).unwrap();
    assert!(!grace.has_mailbox, "grace has no mailbox");
    assert!(s.principal(&upn("frank")).unwrap().has_mailbox);
    assert!(s.principal("oscar@fabrikam.com").unwrap().is_guest);
    assert!(s.principal(&upn("admin")).is_some());
    assert!(s.principals.contains_key(&upn("nobody")) && s.principal(&upn("nobody")).is_none());

    assert!(s.role_cmdlets["move mailboxes"].iter().any(|c| c == "New-MoveRequest"));
    assert!(s.role_cmdlets["journaling"].iter().any(|c| c == "New-JournalRule"), "policy roles are expanded");
    assert!(s.role_cmdlets.contains_key("mail recipients"), "roles of requested role groups are expanded");
    assert!(s.role_group_roles["recipient management"].iter().any(|r| r == "Move Mailboxes"));
    assert!(s.role_group_roles.contains_key("discovery management"), "policy role groups are expanded");
    assert_eq!(s.identity.as_deref(), Some(app_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_under_throttling_and_server_errors_matches_a_clean_refresh() {
    let emu = start(seed(), Faults::default()).await;
    let clean = client(&emu).refresh(&request()).await.unwrap();
    check_snapshot(&clean, &emu.app.client_id);

    set_faults(
        &emu,
        json!({"throttle_rate": 0.3, "server_error_rate": 0.05, "retry_after_ms": 50, "fault_seed": 11}),
    )
    .await;
    control(&emu, reqwest::Method::DELETE, "counters", None).await;
    let faulty_client = client(&emu);
    let faulty = faulty_client.refresh(&request()).await.unwrap();
    assert_eq!(faulty, clean);
    let c = counters(&emu).await;
    assert!(c["throttled"].as_u64().unwrap() > 0, "faults were injected: {c}");
    assert!(faulty_client.stats().retries > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried_for_reads() {
    let emu = start(seed(), Faults::default()).await;
    let clean = client(&emu).refresh(&request()).await.unwrap();
    set_faults(&emu, json!({"drop_rate": 0.2, "fault_seed": 5})).await;
    let again = client(&emu).refresh(&request()).await.unwrap();
    assert_eq!(again, clean);
    assert!(counters(&emu).await["dropped"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_renewed_during_a_run() {
    let emu = start(seed(), Faults { token_lifetime_secs: 2, ..Faults::default() }).await;
    let c = client(&emu);
    let first = c.refresh(&request()).await.unwrap();
    let logins = c.stats().login_requests;
    assert_eq!(logins, 2, "one token per resource, shared by concurrent calls");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = c.refresh(&request()).await.unwrap();
    assert_eq!(first, second);
    assert!(c.stats().login_requests > logins, "tokens past half their life are renewed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_service_calls_expired_is_replaced() {
    let emu = start(seed(), Faults::default()).await;
    let c = client(&emu);
    c.refresh(&request()).await.unwrap();
    let logins = c.stats().login_requests;
    control(&emu, reqwest::Method::POST, "clock/advance", Some(json!({"seconds": 7200}))).await;
    c.refresh(&request()).await.unwrap();
    assert!(c.stats().login_requests > logins);
    assert!(
        counters(&emu).await["per_status"]["401"].as_u64().unwrap_or(0) > 0,
        "the service refused the old token"
    );
}

fn extra_app(v: &mut Value, client_id: &str, permissions: &[&str], role_groups: &[&str]) {
    v["apps"].as_array_mut().unwrap().push(json!({
        "client_id": client_id, "secret": "other-secret", "permissions": permissions, "role_groups": role_groups,
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_are_named() {
    let seed = seed_with(|v| {
        let om = &["Organization Management"];
        extra_app(v, "11111111-0000-0000-0000-000000000001", &["Group.Read.All", "User.Read.All"], om);
        extra_app(v, "11111111-0000-0000-0000-000000000002", &["Exchange.ManageAsApp"], om);
        let all = &["Exchange.ManageAsApp", "Group.Read.All", "User.Read.All"];
        extra_app(v, "11111111-0000-0000-0000-000000000003", all, &[]);
    });
    let emu = start(seed, Faults::default()).await;
    let as_app = |id: &str| {
        client_with(
            &emu,
            Credential::Secret { client_id: id.to_string(), secret: Secret::new("other-secret") },
            fast_retries(),
        )
    };
    let err = as_app("11111111-0000-0000-0000-000000000001").refresh(&request()).await.unwrap_err();
    assert!(matches!(err, TenantError::Permission { .. }), "{err}");
    assert!(err.to_string().contains("Exchange.ManageAsApp"), "{err}");
    assert!(!err.to_string().contains("Invalid Operation"));

    let err = as_app("11111111-0000-0000-0000-000000000002").refresh(&request()).await.unwrap_err();
    assert!(err.to_string().contains("Group.Read.All"), "{err}");

    let err = as_app("11111111-0000-0000-0000-000000000003").refresh(&request()).await.unwrap_err();
    assert!(err.to_string().contains("Exchange admin role"), "{err}");

    let wrong = client_with(
        &emu,
        Credential::Secret { client_id: emu.app.client_id.clone(), secret: Secret::new("wrong") },
        fast_retries(),
    );
    let err = wrong.refresh(&request()).await.unwrap_err();
    assert!(err.to_string().contains("PAMFORM_CLIENT_SECRET"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_concurrency_limit_is_never_exceeded() {
    let faults = Faults { exchange_concurrency_limit: 3, exchange_latency_ms: 80, ..Faults::default() };
    let emu = start(seed(), faults).await;
    let mut req = request();
    req.roles.extend(
        ["Mail Recipients", "Mailbox Search", "Journaling", "Transport Rules", "Retention Management"]
            .map(String::from),
    );
    // Records and Compliance Management: role groups to expand. (Organization Management holds
    // 40 roles of Exchange Online's catalogue, a read each, too many for this test's retries.)
    req.role_groups.extend(["Records Management", "Compliance Management"].map(String::from));
    req.principals.extend((0..8).map(|i| format!("external{i}@fabrikam.com")));
    let snapshot = client(&emu).refresh(&req).await.unwrap();
    assert!(snapshot.role_cmdlets.len() >= 9, "{:?}", snapshot.role_cmdlets.keys());
    let c = counters(&emu).await;
    assert!(c["peak_concurrency"]["exchange"].as_u64().unwrap() <= 3, "{c}");
    assert!(c["peak_concurrency"]["exchange"].as_u64().unwrap() >= 2, "reads overlapped: {c}");
    assert_eq!(c["throttled"].as_u64().unwrap(), 0, "{c}");

    // The limit is real: a client allowed more is told to wait, and still gets there.
    let greedy = client_with(&emu, app(&emu), ClientOptions { exchange_concurrency: 10, ..fast_retries() });
    assert_eq!(greedy.refresh(&req).await.unwrap(), snapshot);
    assert!(counters(&emu).await["throttled"].as_u64().unwrap() > 0);
}

/// An RSA key (PKCS#8 PEM) and a self-signed certificate (PEM) for it.
fn rsa_certificate() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let key_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let der =
        rustls::pki_types::PrivatePkcs8KeyDer::from(private.to_pkcs8_der().unwrap().as_bytes().to_vec());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["pamform".to_string()]).unwrap().self_signed(&pair).unwrap();
    (key_pem, cert.pem())
}

fn vars(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_and_workload_identity_sign_in() {
    let (key_pem, cert_pem) = rsa_certificate();
    let cert_for_seed = cert_pem.clone();
    let emu =
        start(seed_with(|v| v["apps"][0]["certificates"] = json!([cert_for_seed])), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("app.crt"), dir.path().join("app.key"));
    std::fs::write(&cert_path, &cert_pem).unwrap();
    std::fs::write(&key_path, &key_pem).unwrap();
    let id = emu.app.client_id.clone();
    let cert = Credential::from_vars(vars(vec![
        (pamform::env::CLIENT_ID, id.clone()),
        (pamform::env::CLIENT_CERTIFICATE, cert_path.display().to_string()),
        (pamform::env::CLIENT_CERTIFICATE_KEY, key_path.display().to_string()),
    ]))
    .unwrap()
    .unwrap();
    check_snapshot(&client_with(&emu, cert, fast_retries()).refresh(&request()).await.unwrap(), &id);

    // Workload identity: the file holds the external token, read again for each request.
    let token_file = dir.path().join("federated.jwt");
    let external = |subject: &str| {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": "https://token.actions.githubusercontent.com", "sub": subject,
            "aud": "api://AzureADTokenExchange", "nbf": now - 10, "exp": now + 600});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    std::fs::write(&token_file, external("repo:contoso/pam-config:ref:refs/heads/feature")).unwrap();
    let federated = Credential::from_vars(vars(vec![
        (pamform::env::CLIENT_ID, id.clone()),
        (pamform::env::FEDERATED_TOKEN_FILE, token_file.display().to_string()),
    ]))
    .unwrap()
    .unwrap();
    let c = client_with(&emu, federated, fast_retries());
    let err = c.get_pam_setting().await.unwrap_err();
    assert!(err.to_string().contains("AADSTS70021"), "{err}");
    std::fs::write(&token_file, external("repo:contoso/pam-config:ref:refs/heads/main")).unwrap();
    assert!(c.get_pam_setting().await.unwrap().enabled, "the rotated file is read again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_reports_changed_groups_and_expires() {
    let emu = start(seed(), Faults::default()).await;
    let c = client(&emu);
    let first = c.groups_delta(None).await.unwrap();
    assert_eq!(first.changed.len(), 3);
    let pam = c.get_group(&upn("pam-approvers")).await.unwrap().unwrap();
    let quiet = c.groups_delta(Some(&first.delta_link)).await.unwrap();
    assert!(quiet.changed.is_empty(), "{quiet:?}");
    c.add_group_member(&upn("pam-approvers"), &upn("frank")).await.unwrap();
    let changed = c.groups_delta(Some(&quiet.delta_link)).await.unwrap();
    assert_eq!(changed.changed, BTreeSet::from([pam.external_directory_object_id.clone()]));
    control(&emu, reqwest::Method::POST, "clock/advance", Some(json!({"seconds": 8 * 24 * 3600}))).await;
    let expired = c.groups_delta(Some(&changed.delta_link)).await.unwrap_err();
    assert!(matches!(expired, TenantError::DeltaExpired), "{expired}");
}

/// Sync from now: `$deltatoken=latest` reads no group, and its link returns the changes made
/// after it. The full drift read takes that link first and reads the groups after it, so a
/// change made in between is in the cache already and comes again through the link: the
/// next drift read applies it once more, and that changes nothing (no group read again, the
/// cache left as it is, the groups as a full read finds them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_between_the_latest_link_and_the_reads_is_harmless_when_seen_again() {
    use pamform::drift::cache::{DriftCache, FORMAT_VERSION};
    use pamform::drift::refresh::{ReadKind, read};
    use pamform::wire::graph::DRIFT_DELTA_SELECT;

    let emu = start(seed(), Faults::default()).await;
    let c = client(&emu);
    let quiet = c.groups_delta_latest(DRIFT_DELTA_SELECT).await.unwrap();
    let (entries, _) = c.groups_delta_entries(Some(&quiet), DRIFT_DELTA_SELECT).await.unwrap();
    assert!(entries.is_empty(), "a link from now on returns no group of before it: {entries:?}");

    let link = c.groups_delta_latest(DRIFT_DELTA_SELECT).await.unwrap();
    // Between the link and the reads: members join and leave, a description changes.
    c.add_group_member(&upn("pam-approvers"), &upn("frank")).await.unwrap();
    c.remove_group_member(&upn("move-approvers"), &upn("dave")).await.unwrap();
    c.set_group(&upn("journal-approvers"), None, Some("approves journaling")).await.unwrap();
    let emails: Vec<String> = ["pam-approvers", "move-approvers", "journal-approvers"].map(upn).into();
    let groups = c.read_groups(&emails).await.unwrap();
    assert_eq!(groups.len(), 3);
    let (entries, _) = c.groups_delta_entries(Some(&link), DRIFT_DELTA_SELECT).await.unwrap();
    assert_eq!(entries.len(), 3, "the link reports the three changes again: {entries:?}");

    let cache = DriftCache {
        format_version: FORMAT_VERSION,
        tenant: c.tenant().to_string(),
        graph_url: c.endpoints().graph.clone(),
        updated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        delta_link: link,
        groups: groups.clone(),
        absent: BTreeSet::new(),
    };
    let req = RefreshRequest { groups: emails.iter().cloned().collect(), ..RefreshRequest::default() };
    let drift = read(&c, &req, Ok(cache), &|_| {}).await.unwrap();
    assert_eq!(drift.kind, ReadKind::Delta { changed_groups: 3, reread_groups: 0 });
    assert!(drift.cache.is_none(), "changes the cache holds already change nothing");
    assert_eq!(drift.snapshot.groups, groups);
    assert!(drift.snapshot.groups[&upn("pam-approvers")].members.iter().any(|m| m.upn == Some(upn("frank"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_errors_and_cmdlet_helpers() {
    let emu = start(seed(), Faults::default()).await;
    let c = client(&emu);
    assert!(c.get_group(&upn("no-such-group")).await.unwrap().is_none());
    let created = c
        .new_group(&pamform::tenant::NewGroup {
            name: "Helpdesk Approvers".into(),
            alias: "helpdesk-approvers".into(),
            email: upn("helpdesk-approvers"),
            members: vec![upn("ivan")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.primary_smtp_address, upn("helpdesk-approvers"));
    let err = c.add_group_member(&upn("helpdesk-approvers"), &upn("grace")).await.unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("Invalid Operation") && err.exchange_class().is_some_and(|c| !c.is_empty()),
        "{text}"
    );
    c.update_group_members(&upn("helpdesk-approvers"), &[upn("judy"), upn("ivan")]).await.unwrap();
    let members: BTreeSet<String> = c
        .get_group_members(&upn("helpdesk-approvers"))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.primary_smtp_address)
        .collect();
    assert_eq!(members, BTreeSet::from([upn("ivan"), upn("judy")]));
    let target = PolicyTarget::Task("New-JournalRule".into());
    let policy = c.new_policy(&target, model::Approval::Manual, &upn("helpdesk-approvers")).await.unwrap();
    assert!(c.get_policy(&policy.identity).await.unwrap().is_some());
    c.remove_policy(&policy.identity).await.unwrap();
    assert!(c.get_policy(&policy.identity).await.unwrap().is_none());
    let err = c.remove_policy(&policy.identity).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_sign_in_acts_as_the_user() {
    let emu = start(seed(), Faults::default()).await;
    let transport = Transport::new(RetryPolicy::default(), None, true).unwrap();
    let prompt = auth::start_device_code(&transport, &emu.base_url, &emu.tenant_domain).await.unwrap();
    assert!(!prompt.user_code.is_empty() && !prompt.verification_uri.is_empty());
    let approve = json!({"user_code": prompt.user_code, "user": upn("alice")});
    let approval = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        control(&emu, reqwest::Method::POST, "devicecode/approve", Some(approve)).await
    };
    let alice = upn("alice");
    let finish =
        auth::finish_device_code(&transport, &emu.base_url, &emu.tenant_domain, &prompt, Some(&alice));
    let (signed, _) = tokio::join!(finish, approval);
    let signed = signed.unwrap();
    assert_eq!(signed.upn, upn("alice"));
    let c = client_with(&emu, signed.credential, fast_retries());
    assert_eq!(c.identity(), upn("alice"));
    assert!(!c.is_app_only());
    let request = c.new_request("Exchange\\New-MoveRequest", "ticket 4711", 2).await.unwrap();
    let mine = c.get_requests(Some(&request.identity)).await.unwrap();
    assert_eq!(mine.len(), 1);
}

fn tenant_block(emulator: Option<std::path::PathBuf>) -> model::Tenant {
    model::Tenant {
        span: Span::default(),
        id: Spanned::new(DOMAIN.to_string(), Span::default()),
        exchange_url: None,
        graph_url: None,
        login_url: None,
        emulator: emulator.map(|p| Spanned::new(p, Span::default())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_starts_the_embedded_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tenant.json");
    let conn = pamform::cli::connect::connect(
        &Printer::plain(),
        &tenant_block(Some(data.clone())),
        ConnectOptions::default(),
    )
    .await
    .unwrap();
    let snapshot = conn.client.refresh(&RefreshRequest::default()).await.unwrap();
    assert!(!snapshot.pam.enabled);
    assert_eq!(snapshot.identity.as_deref(), Some(APP_ID));
    drop(conn);

    // Plain http to a real host is refused before anything is sent.
    let mut remote = tenant_block(None);
    remote.exchange_url = Some(Spanned::new("http://outlook.example.com".to_string(), Span::default()));
    let err = pamform::tenant::connect(&remote, ConnectOptions::default()).unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
}

/// The `-v` log, captured from a child process running a refresh with every kind of secret in
/// play, names each request and never a secret, token or assertion.
#[test]
fn verbose_log_never_shows_secrets() {
    const CHILD: &str = "PAMFORM_TENANT_E2E_VERBOSE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        verbose_child();
        return;
    }
    // This test's name as the harness knows it: its module path without the crate.
    let (_, module) = module_path!().split_once("::").unwrap();
    let name = format!("{module}::verbose_log_never_shows_secrets");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{log}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(log.contains("exchange POST /adminapi/beta/"), "{log}");
    assert!(log.contains("graph POST /v1.0/$batch"), "{log}");
    assert!(log.contains("sign-in POST /"), "{log}");
    assert!(log.contains("retry"), "throttled requests show their retries: {log}");
    for forbidden in
        [APP_SECRET, "eyJ", "Bearer", "client_assertion=", "device_code=", "refresh_token=", "PRIVATE KEY"]
    {
        assert!(!log.contains(forbidden), "the log shows {forbidden:?}:\n{log}");
    }
}

/// The child half of [`verbose_log_never_shows_secrets`]: secret, certificate and device-code
/// sign-ins with `-v` on, under throttling.
fn verbose_child() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let (key_pem, cert_pem) = rsa_certificate();
        let cert = cert_pem.clone();
        let emu = start(
            seed_with(|v| v["apps"][0]["certificates"] = json!([cert])),
            Faults { throttle_rate: 0.2, retry_after_ms: 10, ..Faults::default() },
        )
        .await;
        let printer = Printer::new(ColorMode::Never, false, true);
        pamform::cli::connect::install_log(&printer);
        let key = auth::CertificateKey::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let by_cert = Credential::Certificate { client_id: emu.app.client_id.clone(), key };
        for credential in [app(&emu), by_cert] {
            let c = Client::new(&emu.tenant_domain, endpoints(&emu), credential, fast_retries()).unwrap();
            c.refresh(&request()).await.unwrap();
        }
        let transport = Transport::new(RetryPolicy::default(), None, true).unwrap();
        let prompt = auth::start_device_code(&transport, &emu.base_url, &emu.tenant_domain).await.unwrap();
        let approve = json!({"user_code": prompt.user_code, "user": upn("bob")});
        control(&emu, reqwest::Method::POST, "devicecode/approve", Some(approve)).await;
        let signed = auth::finish_device_code(
            &transport,
            &emu.base_url,
            &emu.tenant_domain,
            &prompt,
            Some(&upn("bob")),
        )
        .await
        .unwrap();
        let c = Client::new(&emu.tenant_domain, endpoints(&emu), signed.credential, fast_retries()).unwrap();
        c.get_requests(None).await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_graph_does_not_show_yet_is_read_from_exchange() {
    let emu = start(seed(), Faults { replication_delay_ms: 600_000, ..Faults::default() }).await;
    let c = client(&emu);
    let new = pamform::tenant::NewGroup {
        name: "Fresh Approvers".into(),
        alias: "fresh-approvers".into(),
        email: upn("fresh-approvers"),
        members: vec![upn("heidi"), upn("ivan")],
        ..Default::default()
    };
    c.new_group(&new).await.unwrap();
    assert_eq!(
        c.find_groups_by_mail(&[upn("fresh-approvers")]).await.unwrap()[&upn("fresh-approvers")],
        None
    );
    let mut req = request();
    req.groups.insert(upn("fresh-approvers"));
    let snapshot = c.refresh(&req).await.unwrap();
    let fresh = snapshot.group(&upn("fresh-approvers")).expect("the new group is in the snapshot");
    assert!(fresh.security_enabled);
    let members: BTreeSet<&str> = fresh.members.iter().map(|m| m.label()).collect();
    assert_eq!(members, BTreeSet::from([upn("heidi").as_str(), upn("ivan").as_str()]));
    assert!(snapshot.group(&upn("missing-group")).is_none());
}

/// Principals no group read holds are asked of Graph 15 to a `$filter ... in`, 20 filters to
/// a `$batch`: 40 users about to be added (one with a quote in the UPN, one by object id,
/// one in capitals) resolve in one `$batch`, and names Graph does not know stay unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_outside_every_group_are_looked_up_in_batches() {
    let mut seed = seed();
    let newcomers: Vec<String> = (0..40).map(|i| upn(&format!("newcomer{i}"))).collect();
    for (i, name) in newcomers.iter().enumerate() {
        seed.users.push(pamform::emulator::seed::SeedUser {
            id: if i == 0 { "0f6d3c0e-5b3a-4d55-9a7e-2f7d2c1b9a01".into() } else { String::new() },
            user_principal_name: name.clone(),
            display_name: None,
            mail: None,
            mailbox: true,
            guest: false,
            service_account: false,
        });
    }
    seed.users.push(pamform::emulator::seed::SeedUser {
        id: String::new(),
        user_principal_name: upn("o'neil"),
        display_name: None,
        mail: None,
        mailbox: true,
        guest: false,
        service_account: false,
    });
    let emu = start(seed, Faults::default()).await;
    let mut names: BTreeSet<String> = newcomers[1..].iter().cloned().collect();
    names.insert("0f6d3c0e-5b3a-4d55-9a7e-2f7d2c1b9a01".into());
    names.insert(upn("NEWCOMER7").to_uppercase());
    names.insert(upn("o'neil"));
    names.insert(upn("nobody-at-all"));
    let batches = |c: Value| c["per_endpoint"]["graph /$batch"].as_u64().unwrap_or(0);
    // The same refresh without principals, for the $batches the group reads take.
    control(&emu, reqwest::Method::DELETE, "counters", None).await;
    client(&emu).refresh(&RefreshRequest::default()).await.unwrap();
    let without = batches(counters(&emu).await);
    control(&emu, reqwest::Method::DELETE, "counters", None).await;
    let req = RefreshRequest { principals: names, ..RefreshRequest::default() };
    let s = client(&emu).refresh(&req).await.unwrap();
    for name in newcomers[1..].iter().chain([&upn("o'neil")]) {
        assert!(s.principal(name).is_some_and(|p| p.answers_to(name)), "{name} resolved");
    }
    assert!(s.principal("0f6d3c0e-5b3a-4d55-9a7e-2f7d2c1b9a01").is_some(), "by object id");
    assert!(s.principal(&upn("NEWCOMER7")).is_some(), "case does not matter");
    assert!(s.principals.contains_key(&upn("nobody-at-all")) && s.principal(&upn("nobody-at-all")).is_none());
    assert_eq!(batches(counters(&emu).await), without + 1, "42 names in one $batch of 15-value filters");
}
