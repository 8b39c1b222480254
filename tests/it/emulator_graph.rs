//! Graph reads in the emulator: groups by mail, members with paging, users, `$batch`,
//! `groups/delta` with delta tokens, replication delay, and Graph's error envelopes.

use std::collections::BTreeSet;

use pamform::emulator::Seed;
use pamform::tenant::{Client, ClientOptions, Credential, Endpoints, RefreshRequest, Secret};
use pamform::wire::graph::{self, budget, code};
use serde_json::{Value, json};

use crate::support::api::*;
use crate::support::{emulator_config, upn};

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
    // A group key that is not an object id is a bad request, not a missing group.
    let a = emu.graph(&t, "/groups/nope").await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::REQUEST_BAD_REQUEST));
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
        {"id": "2", "method": "GET", "url": "/groups/00000000-0000-0000-0000-000000000001"},
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

/// A GET with extra headers.
async fn get_with(emu: &Emu, token: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut rb = emu.http.get(format!("{}/v1.0{path}", emu.base())).bearer_auth(token);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Answer { status, headers, bytes: r.bytes().await.unwrap().to_vec() }
}

#[tokio::test]
async fn errors_carry_the_request_ids_and_advanced_queries_need_eventual_consistency() {
    let emu = start().await;
    let t = emu.graph_app().await;
    let cid = "8a3c3a1e-6f0e-4c55-9a51-0e1d2f3a4b5c";

    let a = get_with(&emu, &t, "/groups/not-a-guid", &[(graph::HEADER_CLIENT_REQUEST_ID, cid)]).await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::REQUEST_BAD_REQUEST));
    let body = a.json();
    assert_eq!(body["error"]["message"], graph::invalid_object_identifier("not-a-guid"));
    let inner = &body["error"]["innerError"];
    assert_eq!(inner["client-request-id"], cid, "{body}");
    assert!(inner["date"].is_string() && inner["request-id"].is_string(), "{body}");
    assert_eq!(a.headers[graph::HEADER_CLIENT_REQUEST_ID], cid);
    assert_eq!(a.headers[graph::HEADER_REQUEST_ID].to_str().unwrap(), inner["request-id"].as_str().unwrap());
    // Without a client id, Graph repeats the request id.
    let a = emu.graph(&t, "/groups/00000000-0000-0000-0000-000000000000").await;
    let inner = &a.json()["error"]["innerError"];
    assert_eq!(inner["client-request-id"], inner["request-id"]);

    let eventual = [(graph::HEADER_CONSISTENCY_LEVEL, graph::CONSISTENCY_EVENTUAL)];
    // The $count segment.
    let a = emu.graph(&t, "/users/$count").await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::REQUEST_BAD_REQUEST));
    let a = get_with(&emu, &t, "/users/$count", &eventual).await;
    assert_eq!(a.status, 200);
    let users = a.json().as_u64().unwrap();
    assert!(users > 5);
    // $count=true: ignored without the header, counted with it.
    let a = emu.graph(&t, "/users?$count=true&$top=2").await;
    assert!(a.json().get("@odata.count").is_none());
    let a = get_with(&emu, &t, "/users?$count=true&$top=2", &eventual).await;
    assert_eq!(a.json()["@odata.count"].as_u64(), Some(users));
    // $search.
    let a = emu.graph(&t, "/users?$search=%22displayName:ali%22").await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::UNSUPPORTED_QUERY));
    let a = get_with(&emu, &t, "/users?$search=%22displayName:ali%22", &eventual).await;
    assert_eq!(a.status, 200);
    let found: Vec<Value> = a.json()["value"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["userPrincipalName"], upn("alice"));
    // endsWith needs the header and $count=true.
    let ends =
        format!("/users?$filter={}", urlencode("endsWith(userPrincipalName,'contoso.onmicrosoft.com')"));
    let a = get_with(&emu, &t, &ends, &eventual).await;
    assert_eq!((a.status, err_code(&a).as_str()), (400, code::UNSUPPORTED_QUERY));
    let a = get_with(&emu, &t, &format!("{ends}&$count=true"), &eventual).await;
    assert_eq!(a.status, 200);
    emu.shutdown().await;
}

/// The default seed with `users` more users (`u00000@...`) and `groups` more groups
/// (`big-00@...`) of `members` members each, group `g` starting at user `g * stride`.
fn large_seed(users: usize, groups: usize, members: usize, stride: usize) -> Seed {
    let mut v = serde_json::to_value(default_seed()).unwrap();
    let user = |i: usize| format!("u{i:05}@contoso.onmicrosoft.com");
    let extra: Vec<Value> = (0..users)
        .map(
            |i| json!({"user_principal_name": user(i), "display_name": format!("User {i}"), "mailbox": true}),
        )
        .collect();
    v["users"].as_array_mut().unwrap().extend(extra);
    let gs: Vec<Value> = (0..groups)
        .map(|g| {
            let m: Vec<String> = (0..members).map(|k| user((g * stride + k) % users.max(1))).collect();
            json!({"name": format!("Big {g:02}"), "primary_smtp_address": format!("big-{g:02}@contoso.onmicrosoft.com"), "members": m})
        })
        .collect();
    v["groups"].as_array_mut().unwrap().extend(gs);
    Seed::from_json(&v.to_string()).unwrap()
}

#[tokio::test]
async fn delta_answers_its_call_form_splits_large_groups_and_leaves_empty_groups_bare() {
    let big = graph::DELTA_MEMBERS_PER_PAGE * 2 + 200;
    let emu = start_with(emulator_config(Some(large_seed(big, 1, big, 0)), Default::default())).await;
    let ex = emu.exchange_app().await;
    let empty = emu.group(&ex, "empty-group", &[]).await;
    let empty_id = empty["ExternalDirectoryObjectId"].as_str().unwrap().to_string();
    let t = emu.graph_app().await;

    // The call form Kiota SDKs send.
    let mut url = format!("/groups/delta()?$select={}", graph::DELTA_SELECT);
    let mut big_parts = 0;
    let mut big_members = BTreeSet::new();
    let mut empty_seen = false;
    loop {
        let a = emu.graph(&t, &url).await;
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.bytes));
        let v = a.json();
        let mut on_page = 0;
        for g in v["value"].as_array().unwrap() {
            if g["id"] == empty_id.as_str() {
                empty_seen = true;
                assert!(g.get("members@delta").is_none(), "an empty group has no members@delta: {g}");
            }
            let md = g["members@delta"].as_array().cloned().unwrap_or_default();
            on_page += md.len();
            if g["mail"] == "big-00@contoso.onmicrosoft.com" {
                big_parts += 1;
                assert!(g["displayName"].is_string(), "each part repeats the properties");
                big_members.extend(md.iter().map(|m| m["id"].as_str().unwrap().to_string()));
            }
        }
        assert!(on_page <= graph::DELTA_MEMBERS_PER_PAGE, "{on_page} members on one page");
        match (v["@odata.nextLink"].as_str(), v["@odata.deltaLink"].as_str()) {
            (Some(n), _) => url = n.to_string(),
            (None, Some(_)) => break,
            _ => panic!("a delta page has a nextLink or a deltaLink"),
        }
    }
    assert!(empty_seen);
    assert_eq!(big_parts, 3, "the large group comes in three parts");
    assert_eq!(big_members.len(), big);
    // The full names of the function too.
    for form in ["/groups/microsoft.graph.delta()", "/groups/microsoft.graph.delta"] {
        assert_eq!(emu.graph(&t, form).await.status, 200, "{form}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn batch_requests_wait_for_their_dependencies() {
    let emu = start().await;
    let t = emu.graph_app().await;
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/groups/00000000-0000-0000-0000-000000000001"},
        {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": format!("/users/{}", upn("bob"))},
        {"id": "4", "method": "GET", "url": "/users?$top=1", "dependsOn": ["3"]},
    ]});
    let (status, v) = post(&emu, &t, &batch).await;
    assert_eq!(status, 200);
    let statuses: Vec<u64> =
        v["responses"].as_array().unwrap().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![404, u64::from(graph::FAILED_DEPENDENCY_STATUS), 200, 200]);
    // A dependency on a later or unknown request refuses the batch.
    let bad = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]},
        {"id": "2", "method": "GET", "url": "/users"},
    ]});
    assert_eq!(post(&emu, &t, &bad).await.0, 400);
    // Advanced queries inside a batch take the header from the item.
    let counted = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/$count", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "2", "method": "GET", "url": "/users/$count"},
    ]});
    let (_, v) = post(&emu, &t, &counted).await;
    assert_eq!(v["responses"][0]["status"], 200, "{v}");
    assert_eq!(v["responses"][1]["status"], 400, "{v}");
    emu.shutdown().await;
}

#[tokio::test]
async fn reading_users_one_by_one_spends_the_throttling_budget() {
    let emu = start().await;
    let t = emu.graph_app().await;
    let alice = format!("/users/{}?$select=id", upn("alice"));
    // The default tenant is small: 3,500 units per 10 s; a user by key costs 1.
    let reqs: Vec<Value> =
        (0..graph::MAX_BATCH).map(|i| json!({"id": i.to_string(), "method": "GET", "url": alice})).collect();
    // The bucket drains while the test runs (350 units a second), so reads go on until
    // they outrun it; a client that reads thousands of users one by one does.
    let mut throttled = Vec::new();
    let mut sent = 0;
    while throttled.is_empty() && sent < 20 * budget::SMALL_QUOTA as usize {
        let (status, v) = post(&emu, &t, &json!({"requests": reqs})).await;
        assert_eq!(status, 200);
        sent += graph::MAX_BATCH;
        throttled.extend(v["responses"].as_array().unwrap().iter().filter(|r| r["status"] == 429).cloned());
    }
    assert!(!throttled.is_empty(), "reads past the quota are throttled");
    assert!(sent > budget::SMALL_QUOTA as usize);
    let h = &throttled[0]["headers"];
    assert!(h["Retry-After"].as_str().unwrap().parse::<u64>().unwrap() >= 1, "{h}");
    assert_eq!(h[budget::HEADER_INFORMATION], budget::RESOURCE_UNIT_LIMIT_EXCEEDED);
    assert!(h[budget::HEADER_SCOPE].as_str().unwrap().starts_with("Tenant_Application/"), "{h}");
    assert_eq!(throttled[0]["body"]["error"]["code"], code::THROTTLED);
    let c = emu.counters().await;
    assert_eq!(c["graph_budget_throttled"].as_u64(), Some(throttled.len() as u64));
    assert!(c["graph_resource_units"].as_u64().unwrap() >= budget::SMALL_QUOTA, "{c}");

    // The bucket drains with time.
    emu.advance(10).await;
    let t = emu.graph_app().await;
    let a = emu.graph(&t, &alice).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers[budget::HEADER_RESOURCE_UNIT], "1");

    // A quota set in the fault options; 0 turns the budget off.
    emu.set_faults(json!({"graph_resource_unit_quota": 3})).await;
    emu.advance(10).await;
    let t = emu.graph_app().await;
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..3 {
            s.push(emu.graph(&t, "/users").await.status);
        }
        s
    };
    assert_eq!(statuses, vec![200, 429, 429], "a list of users costs 2");
    emu.set_faults(json!({"graph_resource_unit_quota": 0})).await;
    assert_eq!(emu.graph(&t, "/users").await.status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_refresh_of_the_benchmark_tenant_stays_within_the_budget() {
    // The benchmark tenant (benches/support/tenant.rs): 10,000 users, 31 groups of 2,000.
    let (users, groups, members, stride) = (10_000, 31, 2_000, 250);
    let emu =
        start_with(emulator_config(Some(large_seed(users, groups, members, stride)), Default::default()))
            .await;
    let base = emu.base().to_string();
    let endpoints = Endpoints { login: base.clone(), exchange: base.clone(), graph: base };
    let credential = Credential::Secret {
        client_id: emu.running.app.client_id.clone(),
        secret: Secret::new(emu.running.app.client_secret.clone()),
    };
    let client =
        Client::new(&emu.running.tenant_domain, endpoints, credential, ClientOptions::default()).unwrap();
    let req = RefreshRequest {
        groups: (0..groups).map(|g| format!("big-{g:02}@contoso.onmicrosoft.com")).collect(),
        principals: (0..groups)
            .flat_map(|g| {
                (0..members).map(move |k| format!("u{:05}@contoso.onmicrosoft.com", (g * stride + k) % users))
            })
            .collect(),
        ..RefreshRequest::default()
    };
    let snapshot = client.refresh(&req).await.expect("refresh");
    assert_eq!(snapshot.groups.len(), groups);
    let c = emu.counters().await;
    assert_eq!(c["graph_budget_throttled"], 0, "{c}");
    let units = c["graph_resource_units"].as_u64().unwrap();
    assert!(units > 0 && units < budget::LARGE_QUOTA, "{units} units");
    emu.shutdown().await;
}

/// A delegated Graph token for `user` through the device code flow of `client_id`, asking for
/// `scope`; with the token endpoint's answer (its echoed `scope`).
async fn delegated(emu: &Emu, client_id: &str, user: &str, scope: &str) -> (String, Value) {
    let body = emu.device_code_token(client_id, user, scope).await;
    (body["access_token"].as_str().unwrap().to_string(), body)
}

/// Status and Graph error code (empty on success) of a read.
async fn read(emu: &Emu, token: &str, path: &str) -> (u16, String) {
    let a = emu.graph(token, path).await;
    let code = if a.status == 200 { String::new() } else { err_code(&a) };
    (a.status, code)
}

#[tokio::test]
async fn delegated_tokens_read_only_what_their_scopes_allow() {
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice", "bob"]).await;
    let members = format!("/groups/{}/members", g["ExternalDirectoryObjectId"].as_str().unwrap());
    let public = pamform::wire::oauth::EXCHANGE_PUBLIC_CLIENT_ID;
    let denied = (403, code::FORBIDDEN.to_string());

    let (me_only, _) = delegated(&emu, public, &upn("alice"), "User.Read openid offline_access").await;
    assert_eq!(read(&emu, &me_only, &members).await, denied);
    assert_eq!(read(&emu, &me_only, "/groups").await, denied);
    assert_eq!(read(&emu, &me_only, "/users").await, denied);
    assert_eq!(read(&emu, &me_only, &format!("/users/{}", upn("bob"))).await, denied);
    // Inside a batch each item is checked the same way.
    let batch = json!({"requests": [{"id": "1", "method": "GET", "url": members}]});
    let (status, body) = post(&emu, &me_only, &batch).await;
    assert_eq!((status, body["responses"][0]["status"].as_u64()), (200, Some(403)));

    let (group_reader, _) = delegated(&emu, public, &upn("alice"), "GroupMember.Read.All").await;
    let a = emu.graph(&group_reader, &members).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["value"].as_array().unwrap().len(), 2);
    assert_eq!(read(&emu, &group_reader, "/users").await, denied, "group permissions do not read users");

    let (user_reader, _) =
        delegated(&emu, public, &upn("alice"), "https://graph.microsoft.com/User.ReadBasic.All").await;
    assert_eq!(read(&emu, &user_reader, "/users").await, (200, String::new()));
    assert_eq!(read(&emu, &user_reader, &members).await, denied);
    emu.shutdown().await;
}

#[tokio::test]
async fn default_scope_grants_what_the_tenant_consented() {
    let graph_default = pamform::wire::oauth::default_scope(pamform::wire::oauth::GRAPH_RESOURCE);
    let public = pamform::wire::oauth::EXCHANGE_PUBLIC_CLIENT_ID;

    // The default tenant consents nothing for Exchange's public client: `.default` gets a
    // token that reads nothing from Graph.
    let emu = start().await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice"]).await;
    let members = format!("/groups/{}/members", g["ExternalDirectoryObjectId"].as_str().unwrap());
    let (t, body) = delegated(&emu, public, &upn("alice"), &graph_default).await;
    assert_eq!(body["scope"], graph_default.as_str());
    assert_eq!(read(&emu, &t, &members).await.0, 403);
    emu.shutdown().await;

    // Consent for the public client and for a seeded app: `.default` grants exactly it, each
    // permission on its own resource.
    let mut v = serde_json::to_value(default_seed()).unwrap();
    v["public_client"] = json!({"delegated_permissions": ["GroupMember.Read.All"]});
    v["apps"][0]["delegated_permissions"] =
        json!(["User.ReadBasic.All", "https://outlook.office365.com/Exchange.Manage"]);
    let seed = Seed::from_json(&v.to_string()).unwrap();
    let emu = start_with(emulator_config(Some(seed), Default::default())).await;
    let ex = emu.exchange_app().await;
    let g = emu.group(&ex, "pam-approvers", &["alice"]).await;
    let members = format!("/groups/{}/members", g["ExternalDirectoryObjectId"].as_str().unwrap());

    let (t, body) = delegated(&emu, public, &upn("alice"), &format!("{graph_default} openid")).await;
    assert_eq!(
        body["scope"],
        format!("https://graph.microsoft.com/GroupMember.Read.All {graph_default} openid").as_str()
    );
    assert_eq!(read(&emu, &t, &members).await.0, 200);
    assert_eq!(read(&emu, &t, "/users").await.0, 403);

    let (t, body) = delegated(&emu, crate::support::APP_ID, &upn("alice"), &graph_default).await;
    assert_eq!(
        body["scope"],
        format!("https://graph.microsoft.com/User.ReadBasic.All {graph_default}").as_str()
    );
    assert_eq!(read(&emu, &t, "/users").await.0, 200);
    assert_eq!(read(&emu, &t, &members).await.0, 403);
    emu.shutdown().await;
}
