//! Graph reads in the emulator: groups by mail, members with paging, users, `$batch`,
//! `groups/delta` with delta tokens, replication delay, and Graph's error envelopes.

use pamform::wire::graph::{self, code};
use serde_json::{Value, json};

use crate::support::api::*;
use crate::support::upn;

fn err_code(a: &Answer) -> String {
    let env: graph::ErrorEnvelope = serde_json::from_slice(&a.bytes).expect("graph error envelope");
    env.error.code
}

#[tokio::test]
async fn groups_members_and_users() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice", "bob", "carol"]).await;
    emu.ok(
        &ex,
        "Add-DistributionGroupMember",
        json!({"Identity": "pam-approvers", "Member": "oscar@fabrikam.com"}),
    )
    .await;
    let id = g["ExternalDirectoryObjectId"].as_str().unwrap().to_string();
    let t = emu.graph_app().await;

    let q = format!(
        "/groups?$filter={}&$select=id,mail",
        urlencode(&graph::group_by_mail_query(&upn("PAM-approvers")))
    );
    let a = emu.graph(&t, &q).await;
    assert_eq!(a.status, 200);
    let page: graph::Page<graph::Group> = serde_json::from_slice(&a.bytes).unwrap();
    assert_eq!(page.value.len(), 1);
    assert_eq!(page.value[0].id, id, "Graph id is ExternalDirectoryObjectId");
    assert!(a.json()["value"][0].get("displayName").is_none(), "$select trims properties");

    let a = emu.graph(&t, &format!("/groups/{id}")).await;
    let group: graph::Group = serde_json::from_slice(&a.bytes).unwrap();
    assert!(group.mail_enabled && group.security_enabled && group.group_types.is_empty());

    // Members, two per page, following nextLink as a whole URL.
    let mut url = format!("/groups/{id}/members?$select={}&$top=2", graph::MEMBER_SELECT);
    let mut members = Vec::new();
    loop {
        let a = emu.graph(&t, &url).await;
        assert_eq!(a.status, 200);
        let page: graph::Page<graph::DirectoryObject> = serde_json::from_slice(&a.bytes).unwrap();
        assert!(page.value.len() <= 2);
        members.extend(page.value);
        match page.next_link {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(members.len(), 4);
    let oscar = members.iter().find(|m| m.mail.as_deref() == Some("oscar@fabrikam.com")).unwrap();
    assert_eq!(oscar.user_type.as_deref(), Some(graph::USER_TYPE_GUEST));

    let a = emu.graph(&t, &format!("/users/{}", upn("alice"))).await;
    let alice: graph::DirectoryObject = serde_json::from_slice(&a.bytes).unwrap();
    assert_eq!(alice.user_principal_name.as_deref(), Some(upn("alice").as_str()));
    let a = emu.graph(&t, &format!("/users/{}", alice.id)).await;
    assert_eq!(a.status, 200);
    let a = emu
        .graph(&t, &format!("/users?$filter={}", urlencode(&format!("mail eq '{}'", "oscar@fabrikam.com"))))
        .await;
    assert_eq!(a.json()["value"].as_array().unwrap().len(), 1);
    let a = emu
        .graph(
            &t,
            &format!("/users?$filter={}", urlencode(&format!("userPrincipalName eq '{}'", upn("bob")))),
        )
        .await;
    assert_eq!(a.json()["value"].as_array().unwrap().len(), 1);

    // Errors.
    let a = emu.graph(&t, "/groups/00000000-0000-0000-0000-000000000000").await;
    assert_eq!((a.status, err_code(&a).as_str()), (404, code::NOT_FOUND));
    let a = emu.graph(&t, "/users/nobody@contoso.onmicrosoft.com").await;
    assert_eq!(a.status, 404);
    let a = emu.graph(&t, &format!("/groups?$filter={}", urlencode("mail ne 'x'"))).await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::UNSUPPORTED_QUERY));
    let a = emu.graph(&t, "/groups?$top=5000").await;
    assert_eq!(a.status, 400);
    let a = emu.graph(&t, "/nothing").await;
    assert_eq!(a.status, 400);
    emu.shutdown().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn batch_answers_each_request_and_caps_at_twenty() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice"]).await;
    let id = g["ExternalDirectoryObjectId"].as_str().unwrap();
    let t = emu.graph_app().await;
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/groups/{id}/members")},
        {"id": "2", "method": "GET", "url": "/groups/nope"},
        {"id": "3", "method": "GET", "url": format!("users/{}", upn("bob"))},
        {"id": "4", "method": "POST", "url": "/groups"},
    ]});
    let a = post(&emu, &t, &batch).await;
    assert_eq!(a.0, 200);
    let resp: graph::BatchResponse = serde_json::from_value(a.1).unwrap();
    let status: Vec<(String, u16)> = resp.responses.iter().map(|r| (r.id.clone(), r.status)).collect();
    assert_eq!(status, vec![("1".into(), 200), ("2".into(), 404), ("3".into(), 200), ("4".into(), 405)]);
    let body: Value = serde_json::from_str(resp.responses[0].body.as_ref().unwrap().get()).unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 1);

    let many: Vec<Value> =
        (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"})).collect();
    let a = post(&emu, &t, &json!({"requests": many})).await;
    assert_eq!(a.0, 400);
    let a = post(&emu, &t, &json!({"nope": 1})).await;
    assert_eq!(a.0, 400);

    // Throttling shows inside the batch, each inner 429 with its own Retry-After.
    emu.set_faults(json!({"throttle_rate": 1.0})).await;
    let two = json!({"requests": [{"id": "a", "method": "GET", "url": "/users"}, {"id": "b", "method": "GET", "url": "/users"}]});
    let a = reqwest::Client::new()
        .post(format!("{}/v1.0/$batch", emu.base()))
        .bearer_auth(&t)
        .json(&two)
        .send()
        .await
        .unwrap();
    // The outer request itself is throttled at this rate; lower it to see inner answers.
    assert_eq!(a.status().as_u16(), 429);
    emu.shutdown().await;
}

async fn post(emu: &Emu, token: &str, body: &Value) -> (u16, Value) {
    let r = emu
        .http
        .post(format!("{}/v1.0/$batch", emu.base()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn inner_batch_requests_can_be_throttled() {
    let emu = start().await;
    let t = emu.graph_app().await;
    emu.set_faults(json!({"throttle_rate": 0.5, "fault_seed": 3})).await;
    let reqs: Vec<Value> =
        (0..20).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users?$top=1"})).collect();
    let mut inner_429 = 0;
    for _ in 0..10 {
        let (status, body) = post(&emu, &t, &json!({"requests": reqs})).await;
        if status != 200 {
            continue;
        }
        let resp: graph::BatchResponse = serde_json::from_value(body).unwrap();
        for r in resp.responses.iter().filter(|r| r.status == 429) {
            inner_429 += 1;
            assert!(r.headers.as_ref().unwrap().contains_key("Retry-After"));
        }
    }
    assert!(inner_429 > 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn delta_reports_changes_since_the_token() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice", "bob"]).await;
    let id = g["ExternalDirectoryObjectId"].as_str().unwrap().to_string();
    let gone = emu.group(&ex, "to-remove", &[]).await;
    let gone_id = gone["ExternalDirectoryObjectId"].as_str().unwrap().to_string();
    let t = emu.graph_app().await;

    let first = emu.graph(&t, &format!("/groups/delta?$select={}", graph::DELTA_SELECT)).await;
    assert_eq!(first.status, 200);
    let page: graph::Page<graph::DeltaGroup> = serde_json::from_slice(&first.bytes).unwrap();
    assert_eq!(page.value.len(), 2);
    let full = page.value.iter().find(|g| g.id == id).unwrap();
    assert_eq!(full.members_delta.as_ref().unwrap().len(), 2);
    let link = page.delta_link.unwrap();

    // Nothing changed: an empty round.
    let a = emu.graph(&t, &link).await;
    let same: graph::Page<graph::DeltaGroup> = serde_json::from_slice(&a.bytes).unwrap();
    assert!(same.value.is_empty());
    let link = same.delta_link.unwrap();

    emu.ok(&ex, "Add-DistributionGroupMember", json!({"Identity": "pam-approvers", "Member": upn("carol")}))
        .await;
    emu.ok(
        &ex,
        "Remove-DistributionGroupMember",
        json!({"Identity": "pam-approvers", "Member": upn("alice")}),
    )
    .await;
    emu.ok(&ex, "Remove-DistributionGroup", json!({"Identity": "to-remove"})).await;
    let a = emu.graph(&t, &link).await;
    let changes: graph::Page<graph::DeltaGroup> = serde_json::from_slice(&a.bytes).unwrap();
    let changed = changes.value.iter().find(|g| g.id == id).unwrap();
    let md = changed.members_delta.as_ref().unwrap();
    assert_eq!(md.len(), 2);
    assert!(md.iter().any(|m| m.removed.is_some()));
    assert!(md.iter().any(|m| m.removed.is_none()));
    let removed = changes.value.iter().find(|g| g.id == gone_id).unwrap();
    assert!(removed.removed.is_some());

    // Paging within a round.
    for i in 0..5 {
        emu.group(&ex, &format!("bulk-{i}"), &["dave"]).await;
    }
    let mut url = "/groups/delta?$top=2".to_string();
    let mut seen = 0;
    loop {
        let a = emu.graph(&t, &url).await;
        let page: graph::Page<graph::DeltaGroup> = serde_json::from_slice(&a.bytes).unwrap();
        seen += page.value.len();
        match (page.next_link, page.delta_link) {
            (Some(n), _) => url = n,
            (None, Some(_)) => break,
            (None, None) => panic!("a delta page has a nextLink or a deltaLink"),
        }
    }
    assert_eq!(seen, 6);

    // Unknown and badly formed tokens.
    let a = emu.graph(&t, "/groups/delta?$deltatoken=0123456789abcdef").await;
    assert_eq!((a.status, err_code(&a).as_str()), (410, code::SYNC_STATE_NOT_FOUND));
    let a = emu.graph(&t, "/groups/delta?$deltatoken=not-a-token!").await;
    assert_eq!(a.status, 400);
    // Tokens stop working after seven days.
    emu.advance(8 * 24 * 3600).await;
    let t = emu.graph_app().await;
    let a = emu.graph(&t, &link).await;
    assert_eq!((a.status, err_code(&a).as_str()), (410, code::SYNC_STATE_NOT_FOUND));
    emu.shutdown().await;
}

#[tokio::test]
async fn writes_show_in_graph_after_the_replication_delay() {
    let mut cfg = config();
    cfg.faults.replication_delay_ms = 30_000;
    let emu = start_with(cfg).await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice"]).await;
    let id = g["ExternalDirectoryObjectId"].as_str().unwrap().to_string();
    let t = emu.graph_app().await;
    assert_eq!(emu.graph(&t, &format!("/groups/{id}")).await.status, 404);
    emu.advance(31).await;
    let t = emu.graph_app().await;
    assert_eq!(emu.graph(&t, &format!("/groups/{id}")).await.status, 200);
    emu.ok(&ex, "Add-DistributionGroupMember", json!({"Identity": "pam-approvers", "Member": upn("bob")}))
        .await;
    let members = emu.graph(&t, &format!("/groups/{id}/members")).await;
    assert_eq!(members.json()["value"].as_array().unwrap().len(), 1);
    emu.advance(31).await;
    let t = emu.graph_app().await;
    let members = emu.graph(&t, &format!("/groups/{id}/members")).await;
    assert_eq!(members.json()["value"].as_array().unwrap().len(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn guest_upns_are_found_by_their_percent_encoded_path() {
    let emu = start().await;
    let t = emu.graph_app().await;
    let guest = "oscar_fabrikam.com#EXT#@contoso.onmicrosoft.com";

    // The client's own encoding: `#` must travel as `%23`, or it would start a fragment.
    let url = graph::user_url(guest);
    assert!(url.contains("%23EXT%23"), "{url}");
    let a = emu.graph(&t, &url).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
    let user: graph::DirectoryObject = serde_json::from_slice(&a.bytes).unwrap();
    assert_eq!(user.user_principal_name.as_deref(), Some(guest));
    assert_eq!(user.user_type.as_deref(), Some(graph::USER_TYPE_GUEST));

    // Any percent-encoded byte is decoded, and case does not matter.
    let a = emu.graph(&t, "/users/OSCAR_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com").await;
    assert_eq!(a.status, 200);

    // The same inside `$batch`.
    let body = json!({"requests": [{"id": "1", "method": "GET", "url": url.trim_start_matches('/')}]});
    let (status, v) = post(&emu, &t, &body).await;
    assert_eq!(status, 200);
    assert_eq!(v["responses"][0]["status"], 200, "{v}");
    assert_eq!(v["responses"][0]["body"]["userPrincipalName"], guest);

    // A path that does not decode to UTF-8 is a bad request, not a missing user.
    let a = emu.graph(&t, "/users/%FF%FE").await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::BAD_REQUEST));
    emu.shutdown().await;
}
