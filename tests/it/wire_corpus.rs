//! Both sides held to Microsoft's real answers (`tests/corpus/`): the emulator, sent each
//! captured request, answers with the capture's shape; pamform's tenant client, served each
//! capture by a replay server, sends the captured request and reads the answer.

use pamform::model::{Approval, PolicyTarget};
use pamform::tenant::{Client, NewGroup, RetryPolicy, TenantError};
use pamform::wire::exchange::{self, request_status};

use crate::support::api;
use crate::support::corpus::{self, Capture, Replay, replay_client};
use crate::support::{DOMAIN, upn};

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

/// The client calls the corpus names, each run against the replay of its capture. An arm
/// asserts what the call must make of the answer (a value, or an error of a kind).
async fn client_call(name: &str, client: &Client) -> Result<(), String> {
    let fail = |e: TenantError| format!("{e}");
    match name {
        "get_pam_setting" => {
            // Both captures (PAM off, PAM on) hold: an enabled tenant names its admin group
            // (Enable-ElevatedAccessControl -AdminGroup is mandatory), a disabled one none.
            let s = client.get_pam_setting().await.map_err(fail)?;
            check(s.enabled == s.default_approver_group.is_some(), "PAM switch or its approver group")?;
        }
        "get_users" => {
            let name = format!("alice@{DOMAIN}");
            let found = client.get_users(std::slice::from_ref(&name)).await.map_err(fail)?;
            match found.get(&name) {
                Some(Some(user)) if user.upn.as_deref() == Some(name.as_str()) => {}
                other => return Err(format!("alice not read from the batch answer: {other:?}")),
            }
        }
        "find_groups_by_mail" => {
            let mail = format!("pam-approvers@{DOMAIN}");
            let found = client.find_groups_by_mail(std::slice::from_ref(&mail)).await.map_err(fail)?;
            match found.get(&mail) {
                Some(Some(g))
                    if g.mail.as_deref() == Some(mail.as_str()) && g.mail_enabled && g.security_enabled => {}
                other => return Err(format!("the group was not read from the batch answer: {other:?}")),
            }
        }
        "group_members" => {
            // The replay answers whatever group id is asked.
            let id = "02bd9fd6-8f93-4758-87c3-1fb73740a315".to_string();
            let members = client.group_members(std::slice::from_ref(&id)).await.map_err(fail)?;
            let read = members.get(&id).map(Vec::as_slice).unwrap_or_default();
            check(
                read.len() == 1 && read[0].upn.as_deref() == Some(&format!("alice@{DOMAIN}")[..]),
                "the member read from the batch answer",
            )?;
        }
        "group_members_missing" => {
            // A group gone between the lookup and the member read: its item answers 404 and the
            // read fails with Graph's code, not as a decode error of the envelope.
            let id = "6c9a1f0e-3b2d-4c5e-8f7a-9b0c1d2e3f4a".to_string();
            match client.group_members(std::slice::from_ref(&id)).await {
                Err(TenantError::Graph { status: 404, code, .. })
                    if code == pamform::wire::graph::code::NOT_FOUND => {}
                other => return Err(format!("expected Graph's 404 of the item, got {other:?}")),
            }
        }
        "groups_delta_expired" => {
            // A delta link Graph no longer keeps: the drift check must start a full read.
            let link = format!("{}/v1.0/groups/delta?$deltatoken=0123abcd", client.endpoints().graph);
            match client.groups_delta(Some(&link)).await {
                Err(TenantError::DeltaExpired) => {}
                other => return Err(format!("expected DeltaExpired, got {other:?}")),
            }
        }
        "find_groups_without_permission" => {
            // A 403 item: explained as the app permission Graph reads need, not as a bad answer.
            let mail = format!("pam-approvers@{DOMAIN}");
            match client.find_groups_by_mail(std::slice::from_ref(&mail)).await {
                Err(e @ TenantError::Permission { .. }) => {
                    let shown = e.to_string();
                    check(shown.contains("Group.Read.All"), "the permission named")?;
                }
                other => return Err(format!("expected a permission error, got {other:?}")),
            }
        }
        "get_pam_setting_throttled" => match client.get_pam_setting().await {
            // The replay client makes one attempt: throttling is told apart from a failure.
            Err(TenantError::Throttled { .. }) => {}
            other => return Err(format!("expected throttling, got {other:?}")),
        },
        "get_users_throttled" => {
            // The replay client makes one attempt: a throttled item is throttling, not a missing user.
            let name = format!("alice@{DOMAIN}");
            match client.get_users(std::slice::from_ref(&name)).await {
                Err(TenantError::Throttled { .. }) => {}
                other => return Err(format!("expected throttling, got {other:?}")),
            }
        }
        "new_group_exists" => {
            // Told apart by its class: apply adopts or reports the group, never retries it.
            let group = NewGroup {
                name: "pam-approvers".into(),
                display_name: None,
                alias: "pam-approvers-2".into(),
                email: format!("pam-approvers-2@{DOMAIN}"),
                description: None,
                members: vec![],
            };
            match client.new_group(&group).await {
                Err(e) if e.is_already_exists() => {}
                other => return Err(format!("expected an already-exists refusal, got {other:?}")),
            }
        }
        "groups_delta" => {
            let delta = client.groups_delta(None).await.map_err(fail)?;
            if delta.changed.is_empty() || delta.delta_link.is_empty() {
                return Err(format!("the delta round read no group or no link: {delta:?}"));
            }
        }
        "groups_delta_latest" => {
            let link =
                client.groups_delta_latest(pamform::wire::graph::DRIFT_DELTA_SELECT).await.map_err(fail)?;
            if !link.contains("$deltatoken=") {
                return Err(format!("sync from now gave no delta link: {link}"));
            }
        }
        // Exchange groups and recipients.
        "get_group" => {
            let g = client.get_group("pam-approvers@contoso.onmicrosoft.com").await.map_err(fail)?;
            let g = g.ok_or("no group read")?;
            if g.description_text().is_some() || g.managed_by.len() != 1 {
                return Err(format!("description or owners misread: {g:?}"));
            }
        }
        "get_group_not_found" => {
            if client.get_group("nobody@contoso.onmicrosoft.com").await.map_err(fail)?.is_some() {
                return Err("a not-found answer read as a group".into());
            }
        }
        "new_group" => {
            let g = client
                .new_group(&NewGroup {
                    name: "pam-approvers".into(),
                    display_name: Some("pam-approvers".into()),
                    alias: "pam-approvers".into(),
                    email: "pam-approvers@contoso.onmicrosoft.com".into(),
                    description: Some("Approves PAM requests".into()),
                    members: vec![
                        "alice@contoso.onmicrosoft.com".into(),
                        "bob@contoso.onmicrosoft.com".into(),
                    ],
                })
                .await
                .map_err(fail)?;
            if g.description_text().as_deref() != Some("Approves PAM requests") {
                return Err(format!("description misread: {:?}", g.description));
            }
        }
        "set_group" => {
            let email = "pam-approvers@contoso.onmicrosoft.com";
            client
                .set_group(email, Some("pam-approvers-2"), Some("Approves PAM requests"))
                .await
                .map_err(fail)?;
        }
        "remove_group" => {
            client.remove_group("pam-approvers@contoso.onmicrosoft.com").await.map_err(fail)?;
        }
        "get_group_members" => {
            let m = client.get_group_members("pam-approvers@contoso.onmicrosoft.com").await.map_err(fail)?;
            let alice = m.first().ok_or("no members read")?;
            check(
                alice.user_principal_name.as_deref() == Some("alice@contoso.onmicrosoft.com")
                    && alice.recipient_type_details == exchange::recipient_type::USER_MAILBOX
                    && uuid::Uuid::parse_str(&alice.external_directory_object_id).is_ok(),
                "member's UPN, recipient type or directory id",
            )?;
        }
        "add_group_member" => {
            let (g, m) = ("pam-approvers@contoso.onmicrosoft.com", "carol@contoso.onmicrosoft.com");
            client.add_group_member(g, m).await.map_err(fail)?;
        }
        "remove_group_member" => {
            let (g, m) = ("pam-approvers@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com");
            client.remove_group_member(g, m).await.map_err(fail)?;
        }
        "update_group_members" => {
            let members =
                ["carol@contoso.onmicrosoft.com".to_string(), "dave@contoso.onmicrosoft.com".to_string()];
            client
                .update_group_members("pam-approvers@contoso.onmicrosoft.com", &members)
                .await
                .map_err(fail)?;
        }
        "get_recipient" => {
            let r = client.get_recipient("alice@contoso.onmicrosoft.com").await.map_err(fail)?;
            let r = r.ok_or("no recipient read")?;
            if r.recipient_type_details != pamform::wire::exchange::recipient_type::USER_MAILBOX {
                return Err(format!("recipient type misread: {r:?}"));
            }
        }
        // PAM switch, policies, requests and authorizations (tests/corpus/exchange/pam-*.json).
        "enable_pam" => {
            client.enable_pam(&upn("pam-approvers"), &[upn("svc-backup")]).await.map_err(fail)?;
        }
        "disable_pam" => client.disable_pam().await.map_err(fail)?,
        "new_policy" => {
            let p = client
                .new_policy(
                    &PolicyTarget::Task("New-MoveRequest".into()),
                    Approval::Manual,
                    &upn("pam-approvers"),
                )
                .await
                .map_err(fail)?;
            check(p.task == "Exchange\\New-MoveRequest", "the new policy's task")?;
        }
        "get_policies" => {
            let all = client.get_remote_policies().await.map_err(fail)?;
            check(
                all.len() == 1 && all[0].target == PolicyTarget::Task("New-MoveRequest".into()),
                "one policy",
            )?;
        }
        "remove_policy" => {
            client.remove_policy("5c7a2a8e-3f0b-4d8e-9a51-0d6f2b1c9e47").await.map_err(fail)?
        }
        "new_request" => {
            let r = client.new_request("Exchange\\New-MoveRequest", "ticket", 4).await.map_err(fail)?;
            check(r.request_status.as_deref() == Some(request_status::PENDING), "a pending request")?;
        }
        "get_request" => {
            let r = client.get_requests(Some(REQUEST_ID)).await.map_err(fail)?;
            check(r.len() == 1 && !r[0].is_data_access_request(), "one PAM request")?;
        }
        "approve_request" => client.approve_request(REQUEST_ID, "ok").await.map_err(fail)?,
        "deny_request" => client.deny_request(REQUEST_ID, "no").await.map_err(fail)?,
        "revoke_authorization" => {
            let a = client.revoke_authorization(REQUEST_ID, "done").await.map_err(fail)?;
            check(
                a.revoked && a.authorized_by.is_some() && !a.is_data_access_request(),
                "a revoked authorization",
            )?;
            check(
                exchange::dn_name(a.revoked_by.as_deref().unwrap_or_default()) == "alice",
                "RevokedBy's name",
            )?;
        }
        "get_authorizations" => {
            let all = client.get_authorizations().await.map_err(fail)?;
            check(
                all.len() == 1 && !all[0].revoked && all[0].end_time_utc.is_some(),
                "one live authorization",
            )?;
            check(
                all[0].authorized_access.as_deref() == Some("Exchange\\New-MoveRequest")
                    && all[0].authorized_by.is_some()
                    && !all[0].is_data_access_request(),
                "the authorization's task and approver",
            )?;
        }
        // A gated cmdlet refused by PAM: recognised by its class, explained as a task that needs
        // an approved request, never as a missing app permission.
        "get_group_needs_approval" => match client.get_group("pam-approvers").await {
            Err(e @ TenantError::Exchange { .. }) => {
                check(
                    e.exchange_class() == Some(exchange::class::ELEVATION_REQUIRED),
                    "the PAM refusal's class",
                )?;
                check(e.to_string().contains("needs an approved request"), "the PAM refusal's explanation")?;
            }
            other => return Err(format!("expected a PAM refusal, got {other:?}")),
        },
        // The role catalogue (tests/corpus/exchange/rbac-*.json).
        "get_role_entries" => {
            let e = client.get_role_entries("Role Management").await.map_err(fail)?;
            check(e.iter().any(|x| x.name == "Set-RoleGroup"), "Set-RoleGroup in Role Management")?;
        }
        "get_role_groups" => {
            let g = client.get_role_groups(Some("Organization Management")).await.map_err(fail)?;
            check(g.len() == 1 && !g[0].roles.is_empty(), "Organization Management and its roles")?;
        }
        "start_device_code" => {
            // `pamform login`'s first request: the prompt shows the service's code and message,
            // and polling waits the service's interval.
            let retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
            let transport = pamform::tenant::http::Transport::new(retry, None, true).map_err(fail)?;
            let login = &client.endpoints().login;
            let prompt = pamform::tenant::auth::start_device_code(&transport, login, client.tenant())
                .await
                .map_err(fail)?;
            if prompt.user_code != "YZMYLD4K" || !prompt.message.contains(&prompt.user_code) {
                return Err(format!("the prompt does not show the code: {prompt:?}"));
            }
        }
        other => return Err(format!("no client call named {other:?} in wire_corpus.rs")),
    }
    Ok(())
}

/// The request id of the PAM captures.
const REQUEST_ID: &str = "28560ed0-419d-4cc3-8f5b-603911cbd450";

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(format!("wrong {what}")) }
}

/// Every cmdlet the tenant client sends (every `cmdlet::NAME` in `src/tenant/exchange.rs`)
/// has a capture that the client is served: nothing pamform sends is left to a guess that
/// only the emulator checks.
#[test]
fn every_cmdlet_the_client_sends_has_a_capture() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let wire = std::fs::read_to_string(root.join("src/wire/exchange.rs")).unwrap();
    let client = std::fs::read_to_string(root.join("src/tenant/exchange.rs")).unwrap();
    let value_of = |name: &str| -> String {
        let decl = format!("pub const {name}: &str = \"");
        let start = wire.find(&decl).unwrap_or_else(|| panic!("no cmdlet constant {name}")) + decl.len();
        wire[start..].split('"').next().unwrap().to_string()
    };
    let sent: std::collections::BTreeSet<String> = client
        .split("cmdlet::")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect::<String>())
        .filter(|n| !n.is_empty())
        .map(|n| value_of(&n))
        .collect();
    assert!(sent.len() >= 20, "the scan found too few cmdlets: {sent:?}");
    let captured: std::collections::BTreeSet<String> = corpus::load_all()
        .iter()
        .filter(|c| c.client.is_some())
        .filter_map(|c| {
            c.request.body.as_ref()?.pointer("/CmdletInput/CmdletName")?.as_str().map(str::to_string)
        })
        .collect();
    let missing: Vec<&String> = sent.iter().filter(|c| !captured.contains(*c)).collect();
    assert!(missing.is_empty(), "cmdlets the client sends with no capture served to it: {missing:?}");
}

/// Every kind of Graph request the tenant client sends (each `$batch` item URL builder and the
/// delta round) has a capture that the client is served.
#[test]
fn every_graph_read_the_client_sends_has_a_capture() {
    use pamform::wire::graph as wg;
    let served: Vec<Capture> = corpus::load_all().into_iter().filter(|c| c.client.is_some()).collect();
    let item_urls: Vec<String> = served
        .iter()
        .filter_map(|c| c.request.body.as_ref()?.pointer("/requests/0/url")?.as_str().map(str::to_string))
        .collect();
    let kinds = [
        ("groups by mail", wg::group_by_mail_url("x@y").split('?').next().unwrap().to_string() + "?$filter="),
        ("group members", "/members?$select=".to_string()),
        ("users by name", "/users?$filter=".to_string()),
    ];
    for (what, marker) in kinds {
        assert!(
            item_urls.iter().any(|u| u.contains(&marker)),
            "no capture of the {what} batch item served to the client"
        );
    }
    assert!(
        served.iter().any(|c| c.request.path.contains("/groups/delta")),
        "no capture of the groups delta round served to the client"
    );
}
