//! PAM in the emulator: gating by task, role and role group, system accounts, the request
//! workflow (approval rules, expiry, durations, revocation) and foreign request items.

use pamform::wire::exchange::{self, class, request_status};
use serde_json::json;

use crate::support::api::*;
use crate::support::upn;

/// Groups, PAM enabled with the app as the only system account.
async fn pam_tenant(emu: &Emu) -> String {
    let app = emu.exchange_app().await;
    emu.group(&app, "pam-approvers", &["alice", "bob", "admin"]).await;
    emu.ok(
        &app,
        "Add-DistributionGroupMember",
        json!({"Identity": "pam-approvers", "Member": "oscar@fabrikam.com"}),
    )
    .await;
    emu.enable_pam(&app, "pam-approvers").await;
    app
}

async fn policy(emu: &Emu, app: &str, task: &str, approval: &str) {
    emu.policy(app, task, approval, "pam-approvers").await;
}

#[tokio::test]
async fn task_policy_gates_until_approved_and_revoke_closes_again() {
    let emu = start().await;
    let app = pam_tenant(&emu).await;
    policy(&emu, &app, "Exchange\\New-MoveRequest", "Manual").await;
    let admin = emu.exchange_user("admin").await;
    let alice = emu.exchange_user("alice").await;
    let bob = emu.exchange_user("bob").await;

    // Gated for a user who is not a system account, not for the system account app.
    let (_, c, _) = emu.fails(&admin, "New-MoveRequest", json!({"Identity": "x"})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);
    emu.ok(&app, "New-MoveRequest", json!({"Identity": "x"})).await;
    emu.ok(&admin, "Get-MoveRequest", json!({})).await;

    let req = emu
        .ok(
            &admin,
            "New-ElevatedAccessRequest",
            json!({"Task": "Exchange\\New-MoveRequest", "Reason": "ticket 4711", "DurationHours": 2}),
        )
        .await;
    let req: exchange::ElevatedAccessRequest = serde_json::from_value(req[0].clone()).unwrap();
    assert_eq!(req.request_status.as_deref(), Some(request_status::PENDING));
    assert_eq!(req.duration_hours, Some(2));
    let id = req.identity.clone();

    // Nobody approves their own request; guests and non-members never approve.
    let (_, c, _) = emu.fails(&admin, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(c, class::ACCESS_DENIED);
    let oscar = emu
        .user_token(
            "oscar_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            pamform::wire::oauth::EXCHANGE_RESOURCE,
        )
        .await;
    let (_, c, m) = emu.fails(&oscar, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(c, class::ACCESS_DENIED);
    assert!(m.contains("Guest"));
    let carol = emu.exchange_user("carol").await;
    let (_, c, _) = emu.fails(&carol, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(c, class::ACCESS_DENIED);
    let (_, c, _) = emu.fails(&app, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(c, class::INVALID_OPERATION);

    let approved =
        emu.ok(&alice, "Approve-ElevatedAccessRequest", json!({"RequestId": id, "Comment": "ok"})).await;
    assert_eq!(approved[0]["RequestStatus"], request_status::APPROVED);
    assert_eq!(approved[0]["Approver"], upn("alice"));
    let (_, c, _) = emu.fails(&bob, "Deny-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(c, class::INVALID_OPERATION);

    emu.ok(&admin, "New-MoveRequest", json!({"Identity": "x"})).await;
    let auths = emu.ok(&admin, "Get-ElevatedAccessAuthorization", json!({})).await;
    assert_eq!(auths.len(), 1);

    // Only the requestor or an approver may revoke.
    let (_, c, _) = emu.fails(&carol, "Revoke-ElevatedAccessAuthorization", json!({"RequestId": id})).await;
    assert_eq!(c, class::ACCESS_DENIED);
    let revoked =
        emu.ok(&bob, "Revoke-ElevatedAccessAuthorization", json!({"RequestId": id, "Comment": "done"})).await;
    // The authorization as Microsoft's sample shows it: who approved, what it grants, a
    // DN-style RevokedBy, the comment, and no RequestId (its Identity is the request's id).
    assert!(revoked[0].get("RequestId").is_none(), "{}", revoked[0]);
    let revoked: exchange::Authorization = serde_json::from_value(revoked[0].clone()).unwrap();
    assert!(revoked.revoked);
    assert_eq!(revoked.request_id(), id);
    assert_eq!(revoked.authorized_by.as_deref(), Some(upn("alice").as_str()));
    assert_eq!(revoked.kind.as_deref(), Some(exchange::POLICY_TYPE_TASK));
    assert_eq!(revoked.authorized_access.as_deref(), Some("Exchange\\New-MoveRequest"));
    assert_eq!(revoked.revocation_comment.as_deref(), Some("done"));
    let by = revoked.revoked_by.clone().unwrap();
    assert!(by.contains(exchange::HOSTED_ORGANIZATIONS) && exchange::dn_name(&by) == "bob", "{by}");
    assert!(
        revoked.revocation_date_time_utc.is_some()
            && revoked.start_time_utc.is_some()
            && revoked.end_time_utc.is_some()
    );
    // The request no longer reads Approved.
    let after = emu.ok(&admin, "Get-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(after[0]["RequestStatus"], request_status::REVOKED);
    let (_, c, _) = emu.fails(&bob, "Revoke-ElevatedAccessAuthorization", json!({"RequestId": id})).await;
    assert_eq!(c, class::INVALID_OPERATION);
    let (_, c, _) = emu.fails(&admin, "New-MoveRequest", json!({"Identity": "x"})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);
    assert!(emu.ok(&admin, "Get-ElevatedAccessAuthorization", json!({})).await.is_empty());

    // Disabling PAM lifts the gate.
    emu.ok(&app, "Disable-ElevatedAccessControl", json!({})).await;
    emu.ok(&admin, "New-MoveRequest", json!({"Identity": "x"})).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn role_and_role_group_policies_gate_their_cmdlets() {
    let emu = start().await;
    let app = pam_tenant(&emu).await;
    policy(&emu, &app, "Role:Journaling", "Manual").await;
    policy(&emu, &app, "RoleGroup:Discovery Management", "Manual").await;
    let admin = emu.exchange_user("admin").await;
    for cmd in ["New-JournalRule", "Get-JournalRule", "Set-MailboxSearch", "Get-MailboxSearch"] {
        let (_, c, _) = emu.fails(&admin, cmd, json!({})).await;
        assert_eq!(c, class::ELEVATION_REQUIRED, "{cmd}");
    }
    emu.ok(&admin, "Get-TransportRule", json!({})).await;
    // A request for the role covers its cmdlets once approved; Auto approves at once.
    let req = emu
        .ok(&admin, "New-ElevatedAccessRequest", json!({"Task": "Role:Journaling", "Reason": "audit"}))
        .await;
    let id = req[0]["Identity"].as_str().unwrap().to_string();
    let alice = emu.exchange_user("alice").await;
    emu.ok(&alice, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    emu.ok(&admin, "New-JournalRule", json!({})).await;
    let (_, c, _) = emu.fails(&admin, "Set-MailboxSearch", json!({})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);

    policy(&emu, &app, "Exchange\\Set-TransportRule", "Auto").await;
    let (_, c, _) = emu.fails(&admin, "Set-TransportRule", json!({})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);
    let auto = emu
        .ok(
            &admin,
            "New-ElevatedAccessRequest",
            json!({"Task": "Exchange\\Set-TransportRule", "Reason": "change"}),
        )
        .await;
    assert_eq!(auto[0]["RequestStatus"], request_status::APPROVED);
    emu.ok(&admin, "Set-TransportRule", json!({})).await;

    // A policy on a cmdlet pamform needs locks out a caller that is not a system account.
    policy(&emu, &app, "Exchange\\New-DistributionGroup", "Manual").await;
    let (_, c, _) =
        emu.fails(&admin, "New-DistributionGroup", json!({"Name": "x", "Type": "Security"})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);
    emu.group(&app, "made-by-system-account", &[]).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn requests_expire_durations_are_checked_and_authorizations_end() {
    let emu = start().await;
    let app = pam_tenant(&emu).await;
    let admin = emu.exchange_user("admin").await;
    let (_, c, _) = emu
        .fails(
            &admin,
            "New-ElevatedAccessRequest",
            json!({"Task": "Exchange\\New-MoveRequest", "Reason": "x"}),
        )
        .await;
    assert_eq!(c, class::ARGUMENT, "no policy, nothing to request");
    policy(&emu, &app, "Exchange\\New-MoveRequest", "Manual").await;
    for hours in [json!(0), json!(-3), json!("many"), json!(true)] {
        let a = emu
            .invoke(
                &admin,
                "New-ElevatedAccessRequest",
                json!({"Task": "Exchange\\New-MoveRequest", "Reason": "x", "DurationHours": hours}),
            )
            .await;
        assert_eq!(a.status, 400, "{hours}");
    }
    let (_, c, _) =
        emu.fails(&admin, "New-ElevatedAccessRequest", json!({"Task": "Exchange\\New-MoveRequest"})).await;
    assert_eq!(c, class::INVALID_PARAMETER);

    let pending = emu
        .ok(&admin, "New-ElevatedAccessRequest", json!({"Task": "Exchange\\New-MoveRequest", "Reason": "a"}))
        .await;
    assert_eq!(pending[0]["DurationHours"], exchange::DEFAULT_REQUEST_HOURS);
    // Microsoft sets no upper limit: a Data Access Request's 4,320 hours are fine.
    let long = emu
        .ok(
            &admin,
            "New-ElevatedAccessRequest",
            json!({"Task": "Exchange\\New-MoveRequest", "Reason": "c", "DurationHours": exchange::DATA_ACCESS_REQUEST_HOURS}),
        )
        .await;
    assert_eq!(long[0]["DurationHours"], exchange::DATA_ACCESS_REQUEST_HOURS);
    let pending_id = pending[0]["Identity"].as_str().unwrap().to_string();
    let short = emu
        .ok(
            &admin,
            "New-ElevatedAccessRequest",
            json!({"Task": "Exchange\\New-MoveRequest", "Reason": "b", "DurationHours": "1"}),
        )
        .await;
    let short_id = short[0]["Identity"].as_str().unwrap().to_string();
    let alice = emu.exchange_user("alice").await;
    emu.ok(&alice, "Approve-ElevatedAccessRequest", json!({"RequestId": short_id})).await;
    emu.ok(&admin, "New-MoveRequest", json!({})).await;

    // Two hours later the one-hour authorization is over; the token is renewed first.
    emu.advance(2 * 3600).await;
    let admin = emu.exchange_user("admin").await;
    let (_, c, _) = emu.fails(&admin, "New-MoveRequest", json!({})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);

    // After 24 hours a pending request is Expired and cannot be approved.
    emu.advance(23 * 3600).await;
    let (admin, alice) = (emu.exchange_user("admin").await, emu.exchange_user("alice").await);
    let got = emu.ok(&admin, "Get-ElevatedAccessRequest", json!({"Identity": pending_id})).await;
    assert_eq!(got[0]["RequestStatus"], request_status::EXPIRED);
    let (_, c, _) =
        emu.fails(&alice, "Approve-ElevatedAccessRequest", json!({"RequestId": pending_id})).await;
    assert_eq!(c, class::INVALID_OPERATION);
    let (status, c, _) = emu
        .fails(
            &alice,
            "Approve-ElevatedAccessRequest",
            json!({"RequestId": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    assert_eq!((status, c.as_str()), (404, class::NOT_FOUND));
    emu.shutdown().await;
}

#[tokio::test]
async fn new_policies_take_effect_after_the_replication_delay() {
    let mut cfg = config();
    cfg.faults.replication_delay_ms = 60_000;
    let emu = start_with(cfg).await;
    let app = pam_tenant(&emu).await;
    policy(&emu, &app, "Exchange\\New-MoveRequest", "Manual").await;
    assert!(emu.ok(&app, "Get-ElevatedAccessApprovalPolicy", json!({})).await.is_empty());
    let admin = emu.exchange_user("admin").await;
    emu.ok(&admin, "New-MoveRequest", json!({})).await;
    emu.advance(61).await;
    assert_eq!(emu.ok(&app, "Get-ElevatedAccessApprovalPolicy", json!({})).await.len(), 1);
    let (_, c, _) = emu.fails(&admin, "New-MoveRequest", json!({})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);
    emu.shutdown().await;
}

#[tokio::test]
async fn foreign_request_items_share_the_list() {
    let mut seed = default_seed();
    seed.foreign_requests = serde_json::from_value(json!([
        {"request_type": "CustomerLockbox", "request_status": "Pending", "requestor": "engineer@microsoft.com", "reason": "support case"},
        {"request_type": "DataAccessRequest", "request_status": "Pending", "context": {"DataTable": "Calendar Events"}}
    ]))
    .unwrap();
    let mut cfg = config();
    cfg.seed = Some(seed);
    let emu = start_with(cfg).await;
    let alice = emu.exchange_user("alice").await;
    let all = emu.ok(&alice, "Get-ElevatedAccessRequest", json!({})).await;
    assert_eq!(all.len(), 2);
    let kinds: Vec<&str> = all.iter().map(|r| r["RequestType"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["CustomerLockbox", "DataAccessRequest"]);
    let decoded: Vec<exchange::ElevatedAccessRequest> =
        all.iter().map(|r| serde_json::from_value(r.clone()).unwrap()).collect();
    assert!(!decoded[0].is_data_access_request() && decoded[1].is_data_access_request());
    assert_eq!(decoded[1].duration_hours, Some(exchange::DATA_ACCESS_REQUEST_HOURS));
    assert_eq!(all[1]["Context"]["DataTable"], "Calendar Events");
    emu.shutdown().await;
}

#[tokio::test]
async fn approvers_in_nested_groups_approve() {
    let emu = start().await;
    let app = emu.exchange_app().await;
    // alice approves through a group nested in the approver group.
    emu.group(&app, "pam-leads", &["alice"]).await;
    emu.group(&app, "pam-approvers", &["bob"]).await;
    emu.ok(
        &app,
        "Add-DistributionGroupMember",
        json!({"Identity": "pam-approvers", "Member": upn("pam-leads")}),
    )
    .await;
    emu.ok(&app, "Enable-ElevatedAccessControl", json!({"AdminGroup": upn("pam-approvers")})).await;
    policy(&emu, &app, "Exchange\\New-MoveRequest", "Manual").await;
    let admin = emu.exchange_user("admin").await;
    let req = emu
        .ok(&admin, "New-ElevatedAccessRequest", json!({"Task": "Exchange\\New-MoveRequest", "Reason": "x"}))
        .await;
    let id = req[0]["Identity"].as_str().unwrap().to_string();
    let carol = emu.exchange_user("carol").await;
    let (_, c, _) = emu.fails(&carol, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(c, class::ACCESS_DENIED);
    let alice = emu.exchange_user("alice").await;
    let ok = emu.ok(&alice, "Approve-ElevatedAccessRequest", json!({"RequestId": id})).await;
    assert_eq!(ok[0]["RequestStatus"], request_status::APPROVED);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_admin_group_is_a_security_group() {
    let emu = start().await;
    let app = emu.exchange_app().await;
    emu.ok(
        &app,
        "New-DistributionGroup",
        json!({"Name": "newsletter", "PrimarySmtpAddress": upn("newsletter"), "Type": "Distribution"}),
    )
    .await;
    let (_, c, _) =
        emu.fails(&app, "Enable-ElevatedAccessControl", json!({"AdminGroup": upn("newsletter")})).await;
    assert_eq!(c, class::ARGUMENT);
    let org = emu.ok(&app, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(org[0]["ElevatedAccessControl"], exchange::PAM_DISABLED);
    emu.shutdown().await;
}

#[tokio::test]
async fn policies_name_any_cmdlet_role_or_role_group_of_exchange_online() {
    let emu = start().await;
    let app = pam_tenant(&emu).await;
    for task in [
        "Exchange\\Set-RoleGroup",
        "Exchange\\New-InboxRule",
        "Role:Mail Recipients",
        "RoleGroup:Help Desk",
        "RoleGroup:View-Only Organization Management",
    ] {
        policy(&emu, &app, task, "Manual").await;
    }
    for task in ["Exchange\\Search-Mailbox", "Exchange\\New-Nothing", "Role:No Such Role"] {
        let (_, c, _) = emu
            .fails(
                &app,
                "New-ElevatedAccessApprovalPolicy",
                json!({"Task": task, "ApprovalType": "Manual", "ApproverGroup": upn("pam-approvers")}),
            )
            .await;
        assert_eq!(c, class::ARGUMENT, "{task}");
    }
    let entries = emu.ok(&app, "Get-ManagementRoleEntry", json!({"Identity": "*\\Set-RoleGroup"})).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["Role"], "Role Management");
    let admin = emu.exchange_user("admin").await;
    let (_, c, _) = emu.fails(&admin, "Set-RoleGroup", json!({})).await;
    assert_eq!(c, class::ELEVATION_REQUIRED);
    emu.shutdown().await;
}
