//! The emulated Exchange admin API: every cmdlet pamform runs, its rules and error envelopes,
//! paging and warnings, through a real HTTP client on 127.0.0.1.

use pamform::wire::exchange::{self, class};
use serde_json::json;

use crate::support::api::*;
use crate::support::{APP_ID, DOMAIN, upn};

#[tokio::test]
async fn organization_config_and_pam_switch() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    let cfg = emu.ok(&t, "Get-OrganizationConfig", json!({})).await;
    let cfg: exchange::OrganizationConfig = serde_json::from_value(cfg[0].clone()).unwrap();
    assert_eq!(cfg.elevated_access_control, exchange::PAM_DISABLED);

    let (status, class_, _) =
        emu.fails(&t, "Enable-ElevatedAccessControl", json!({"AdminGroup": upn("nope")})).await;
    assert_eq!((status, class_.as_str()), (404, class::NOT_FOUND));

    emu.group(&t, "pam-approvers", &["alice", "bob"]).await;
    emu.group(&t, "pam-other", &["carol"]).await;
    let out = emu
        .invoke(
            &t,
            "Enable-ElevatedAccessControl",
            json!({"AdminGroup": upn("pam-approvers"), "SystemAccounts": [upn("svc-pamform"), APP_ID]}),
        )
        .await;
    assert_eq!(out.status, 200);
    assert!(out.json()["@adminapi.warnings"].as_array().unwrap().is_empty());
    // Re-running updates both values and warns.
    let out = emu
        .invoke(
            &t,
            "Enable-ElevatedAccessControl",
            json!({"AdminGroup": upn("pam-other"), "SystemAccounts": APP_ID}),
        )
        .await;
    assert_eq!(out.status, 200);
    assert_eq!(out.json()["@adminapi.warnings"].as_array().unwrap().len(), 1);
    let cfg = emu.ok(&t, "Get-OrganizationConfig", json!({})).await;
    let cfg: exchange::OrganizationConfig = serde_json::from_value(cfg[0].clone()).unwrap();
    assert_eq!(cfg.elevated_access_control, exchange::PAM_ENABLED);
    assert_eq!(cfg.elevated_access_approvers.as_deref(), Some(upn("pam-other").as_str()));
    assert_eq!(cfg.elevated_access_system_accounts, vec![APP_ID.to_string()]);

    let (_, class_, _) = emu
        .fails(
            &t,
            "Enable-ElevatedAccessControl",
            json!({"AdminGroup": upn("pam-other"), "SystemAccounts": ["ghost@x.com"]}),
        )
        .await;
    assert_eq!(class_, class::NOT_FOUND);

    emu.ok(&t, "Disable-ElevatedAccessControl", json!({})).await;
    let cfg = emu.ok(&t, "Get-OrganizationConfig", json!({})).await;
    assert_eq!(cfg[0]["ElevatedAccessControl"], exchange::PAM_DISABLED);
    let again = emu.invoke(&t, "Disable-ElevatedAccessControl", json!({})).await;
    assert_eq!(again.json()["@adminapi.warnings"].as_array().unwrap().len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn distribution_groups_and_members() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    let g = emu.group(&t, "pam-approvers", &["alice", "bob"]).await;
    let g: exchange::DistributionGroup = serde_json::from_value(g).unwrap();
    assert_eq!(g.recipient_type_details, exchange::RECIPIENT_MAIL_UNIVERSAL_SECURITY_GROUP);
    assert_eq!(g.primary_smtp_address, upn("pam-approvers"));

    // Unique email, unique name.
    let (_, c, m) = emu
        .fails(
            &t,
            "New-DistributionGroup",
            json!({"Name": "other", "PrimarySmtpAddress": upn("pam-approvers"), "Type": "Security"}),
        )
        .await;
    assert_eq!(c, class::ALREADY_EXISTS);
    assert!(m.contains("proxy address"));
    let (_, c, _) = emu
        .fails(
            &t,
            "New-DistributionGroup",
            json!({"Name": "other", "PrimarySmtpAddress": upn("alice"), "Type": "Security"}),
        )
        .await;
    assert_eq!(c, class::ALREADY_EXISTS);
    let (_, c, _) = emu
        .fails(
            &t,
            "New-DistributionGroup",
            json!({"Name": "pam-approvers", "PrimarySmtpAddress": upn("x1"), "Type": "Security"}),
        )
        .await;
    assert_eq!(c, class::ALREADY_EXISTS);
    // Members must be mail-enabled; unknown members are not found.
    let (_, c, _) = emu
        .fails(
            &t,
            "New-DistributionGroup",
            json!({"Name": "g2", "Type": "Security", "Members": [upn("grace")]}),
        )
        .await;
    assert_eq!(c, class::RECIPIENT_NOT_MAIL_ENABLED);
    let (status, c, _) = emu
        .fails(
            &t,
            "New-DistributionGroup",
            json!({"Name": "g3", "Type": "Security", "Members": ["ghost@nowhere.com"]}),
        )
        .await;
    assert_eq!((status, c.as_str()), (404, class::NOT_FOUND));
    let (_, c, _) = emu.fails(&t, "New-DistributionGroup", json!({"Name": "g4", "Type": "Weird"})).await;
    assert_eq!(c, class::ARGUMENT);

    // Add, duplicate add, guest add, remove, remove again.
    emu.ok(&t, "Add-DistributionGroupMember", json!({"Identity": "pam-approvers", "Member": upn("carol")}))
        .await;
    let (_, c, _) = emu
        .fails(
            &t,
            "Add-DistributionGroupMember",
            json!({"Identity": "pam-approvers", "Member": upn("carol")}),
        )
        .await;
    assert_eq!(c, class::MEMBER_ALREADY_EXISTS);
    emu.ok(
        &t,
        "Add-DistributionGroupMember",
        json!({"Identity": upn("pam-approvers"), "Member": "oscar@fabrikam.com"}),
    )
    .await;
    let (_, c, _) = emu
        .fails(
            &t,
            "Add-DistributionGroupMember",
            json!({"Identity": "pam-approvers", "Member": upn("grace")}),
        )
        .await;
    assert_eq!(c, class::RECIPIENT_NOT_MAIL_ENABLED);
    emu.ok(
        &t,
        "Remove-DistributionGroupMember",
        json!({"Identity": g.guid, "Member": upn("carol"), "BypassSecurityGroupManagerCheck": true}),
    )
    .await;
    let (_, c, _) = emu
        .fails(
            &t,
            "Remove-DistributionGroupMember",
            json!({"Identity": "pam-approvers", "Member": upn("carol")}),
        )
        .await;
    assert_eq!(c, class::MEMBER_NOT_FOUND);

    let members = emu
        .ok(
            &t,
            "Get-DistributionGroupMember",
            json!({"Identity": "pam-approvers", "ResultSize": "Unlimited"}),
        )
        .await;
    let mut names: Vec<String> = members
        .iter()
        .map(|m| {
            serde_json::from_value::<exchange::Recipient>(m.clone()).unwrap().primary_smtp_address.unwrap()
        })
        .collect();
    names.sort();
    assert_eq!(names, vec![upn("alice"), upn("bob"), "oscar@fabrikam.com".to_string()]);

    // Update replaces the whole list.
    emu.ok(
        &t,
        "Update-DistributionGroupMember",
        json!({"Identity": "pam-approvers", "Members": [upn("dave"), upn("erin")]}),
    )
    .await;
    let members = emu.ok(&t, "Get-DistributionGroupMember", json!({"Identity": "pam-approvers"})).await;
    assert_eq!(members.len(), 2);
    let (_, c, _) = emu
        .fails(
            &t,
            "Update-DistributionGroupMember",
            json!({"Identity": "pam-approvers", "Members": [upn("dave"), upn("grace")]}),
        )
        .await;
    assert_eq!(c, class::RECIPIENT_NOT_MAIL_ENABLED);

    // Set, get by identity and filter, remove.
    emu.ok(
        &t,
        "Set-DistributionGroup",
        json!({"Identity": "pam-approvers", "DisplayName": "PAM approvers", "Description": "who approves"}),
    )
    .await;
    let same = emu
        .invoke(
            &t,
            "Set-DistributionGroup",
            json!({"Identity": "pam-approvers", "DisplayName": "PAM approvers"}),
        )
        .await;
    assert_eq!(same.json()["@adminapi.warnings"].as_array().unwrap().len(), 1);
    let got = emu.ok(&t, "Get-DistributionGroup", json!({"Identity": g.external_directory_object_id})).await;
    assert_eq!(got[0]["DisplayName"], "PAM approvers");
    // Description is multi-valued on the service.
    assert_eq!(got[0]["Description"], json!(["who approves"]));
    assert_eq!(got[0]["Description@odata.type"], exchange::odata::COLLECTION_OF_STRING);
    // Set-DistributionGroup has no -Notes.
    let (_, c, m) =
        emu.fails(&t, "Set-DistributionGroup", json!({"Identity": "pam-approvers", "Notes": "x"})).await;
    assert_eq!(c, class::AMBIGUOUS_PARAMETER_SET);
    assert!(m.ends_with("Notes"), "{m}");
    let filtered = emu
        .ok(
            &t,
            "Get-DistributionGroup",
            json!({"Filter": format!("PrimarySmtpAddress -eq '{}'", upn("pam-approvers"))}),
        )
        .await;
    assert_eq!(filtered.len(), 1);
    let none = emu.ok(&t, "Get-DistributionGroup", json!({"Filter": "Name -like 'zzz*'"})).await;
    assert!(none.is_empty());
    let (_, c, _) = emu.fails(&t, "Get-DistributionGroup", json!({"Filter": "Name -bogus 'x'"})).await;
    assert_eq!(c, class::INVALID_PARAMETER);
    // DisplayName is not an identity.
    let (status, c, _) = emu.fails(&t, "Get-DistributionGroup", json!({"Identity": "PAM approvers"})).await;
    assert_eq!((status, c.as_str()), (404, class::NOT_FOUND));
    emu.ok(
        &t,
        "Remove-DistributionGroup",
        json!({"Identity": "pam-approvers", "BypassSecurityGroupManagerCheck": true}),
    )
    .await;
    let (status, c, _) = emu.fails(&t, "Get-DistributionGroup", json!({"Identity": "pam-approvers"})).await;
    assert_eq!((status, c.as_str()), (404, class::NOT_FOUND));
    let (_, c, _) = emu.fails(&t, "Remove-DistributionGroup", json!({"Identity": "pam-approvers"})).await;
    assert_eq!(c, class::NOT_FOUND);
    emu.shutdown().await;
}

#[tokio::test]
async fn recipients_users_and_roles() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    let r = emu.ok(&t, "Get-Recipient", json!({"Identity": upn("alice")})).await;
    assert_eq!(r[0]["RecipientTypeDetails"], "UserMailbox");
    let r = emu.ok(&t, "Get-Recipient", json!({"Identity": "oscar@fabrikam.com"})).await;
    assert_eq!(r[0]["RecipientTypeDetails"], "GuestMailUser");
    let (_, c, _) = emu.fails(&t, "Get-Recipient", json!({"Identity": upn("grace")})).await;
    assert_eq!(c, class::NOT_FOUND);
    let u = emu.ok(&t, "Get-User", json!({"Identity": upn("grace")})).await;
    assert_eq!(u[0]["RecipientTypeDetails"], "User");
    let all = emu.ok(&t, "Get-User", json!({"ResultSize": "Unlimited"})).await;
    assert_eq!(all.len(), 15);
    let some = emu.ok(&t, "Get-User", json!({"Filter": "UserPrincipalName -like 'svc-*'"})).await;
    assert_eq!(some.len(), 2);

    let entries = emu.ok(&t, "Get-ManagementRoleEntry", json!({"Identity": "Move Mailboxes\\*"})).await;
    let names: Vec<&str> = entries.iter().map(|e| e["Name"].as_str().unwrap()).collect();
    assert!(names.contains(&"New-MoveRequest"));
    assert!(entries.iter().all(|e| e["Role"] == "Move Mailboxes"));
    let (_, c, _) =
        emu.fails(&t, "Get-ManagementRoleEntry", json!({"Identity": "No Such Role\\New-Thing"})).await;
    assert_eq!(c, class::NOT_FOUND);
    // The eleven built-in role groups of Exchange Online (the synchronised ones aside).
    let groups = emu.ok(&t, "Get-RoleGroup", json!({})).await;
    assert_eq!(groups.len(), 11);
    let om = emu.ok(&t, "Get-RoleGroup", json!({"Identity": "Organization Management"})).await;
    let om: exchange::RoleGroup = serde_json::from_value(om[0].clone()).unwrap();
    assert!(om.roles.contains(&"Move Mailboxes".to_string()));
    emu.shutdown().await;
}

#[tokio::test]
async fn policies_limit_and_uniqueness() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    emu.group(&t, "pam-approvers", &["alice"]).await;
    let pol = emu
        .ok(&t, "New-ElevatedAccessApprovalPolicy", json!({"Task": "Exchange\\New-MoveRequest", "ApprovalType": "Manual", "ApproverGroup": upn("pam-approvers")}))
        .await;
    let pol: exchange::ApprovalPolicy = serde_json::from_value(pol[0].clone()).unwrap();
    assert_eq!(pol.task, "Exchange\\New-MoveRequest");
    assert_eq!(pol.policy_type, exchange::POLICY_TYPE_TASK);
    let (_, c, _) = emu
        .fails(&t, "New-ElevatedAccessApprovalPolicy", json!({"Task": "EXCHANGE\\New-MoveRequest", "ApprovalType": "Manual", "ApproverGroup": upn("pam-approvers")}))
        .await;
    assert_eq!(c, class::ALREADY_EXISTS);
    for (task, want) in [
        ("Nonsense", class::ARGUMENT),
        ("Exchange\\New-Nothing", class::ARGUMENT),
        ("Role:No Role", class::ARGUMENT),
    ] {
        let (_, c, _) = emu
            .fails(
                &t,
                "New-ElevatedAccessApprovalPolicy",
                json!({"Task": task, "ApprovalType": "Manual", "ApproverGroup": upn("pam-approvers")}),
            )
            .await;
        assert_eq!(c, want, "{task}");
    }
    let (_, c, _) = emu
        .fails(&t, "New-ElevatedAccessApprovalPolicy", json!({"Task": "Exchange\\Get-MoveRequest", "ApprovalType": "Sometimes", "ApproverGroup": upn("pam-approvers")}))
        .await;
    assert_eq!(c, class::ARGUMENT);
    let (_, c, _) = emu
        .fails(&t, "New-ElevatedAccessApprovalPolicy", json!({"Task": "Exchange\\Get-MoveRequest", "ApprovalType": "Manual", "ApproverGroup": upn("nope")}))
        .await;
    assert_eq!(c, class::NOT_FOUND);
    let role = emu
        .ok(&t, "New-ElevatedAccessApprovalPolicy", json!({"Task": "Role:Journaling", "ApprovalType": "Manual", "ApproverGroup": upn("pam-approvers")}))
        .await;
    assert_eq!(role[0]["PolicyType"], exchange::POLICY_TYPE_ROLE);

    // Fill up to the limit of 30 with cmdlets of the tenant's roles.
    let entries = emu.ok(&t, "Get-ManagementRoleEntry", json!({"Identity": "Move Mailboxes\\*"})).await;
    let more = emu.ok(&t, "Get-ManagementRoleEntry", json!({"Identity": "Transport *\\*"})).await;
    let cmdlets: Vec<String> = entries
        .iter()
        .chain(&more)
        .map(|e| e["Name"].as_str().unwrap().to_string())
        .filter(|c| c != "New-MoveRequest")
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut made = 2;
    for c in &cmdlets {
        if made == exchange::MAX_POLICIES {
            let (_, cl, _) = emu
                .fails(&t, "New-ElevatedAccessApprovalPolicy", json!({"Task": format!("Exchange\\{c}"), "ApprovalType": "Manual", "ApproverGroup": upn("pam-approvers")}))
                .await;
            assert_eq!(cl, class::LIMIT_EXCEEDED);
            break;
        }
        emu.ok(
            &t,
            "New-ElevatedAccessApprovalPolicy",
            json!({"Task": format!("Exchange\\{c}"), "ApprovalType": "Auto"}),
        )
        .await;
        made += 1;
    }
    assert_eq!(made, exchange::MAX_POLICIES);
    let all = emu.ok(&t, "Get-ElevatedAccessApprovalPolicy", json!({})).await;
    assert_eq!(all.len(), exchange::MAX_POLICIES);
    let one = emu.ok(&t, "Get-ElevatedAccessApprovalPolicy", json!({"Identity": pol.identity})).await;
    assert_eq!(one[0]["Task"], "Exchange\\New-MoveRequest");
    emu.ok(&t, "Remove-ElevatedAccessApprovalPolicy", json!({"Identity": pol.identity})).await;
    let (status, c, _) =
        emu.fails(&t, "Remove-ElevatedAccessApprovalPolicy", json!({"Identity": pol.identity})).await;
    assert_eq!((status, c.as_str()), (404, class::NOT_FOUND));
    // An approver group in use cannot be removed.
    let (_, c, _) = emu.fails(&t, "Remove-DistributionGroup", json!({"Identity": "pam-approvers"})).await;
    assert_eq!(c, class::INVALID_OPERATION);
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_the_error_envelope() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    for body in ["not json", "{}", "{\"CmdletInput\":{}}", "[1,2]", "\u{0}\u{1}"] {
        let a = emu.invoke_raw(&t, body, None, None).await;
        assert_eq!(a.status, 400, "{body}");
        let (c, _) = a.real_error();
        assert_eq!(c, class::BAD_REQUEST_BODY);
        assert_eq!(a.json()["error"]["message"], exchange::GENERIC_ERROR_MESSAGE);
    }
    let (_, c, _) = emu.fails(&t, "Get-Nothing", json!({})).await;
    assert_eq!(c, class::UNKNOWN_CMDLET);
    let (_, c, m) = emu.fails(&t, "Get-DistributionGroup", json!({"Bogus": 1})).await;
    assert_eq!(c, class::AMBIGUOUS_PARAMETER_SET);
    assert!(m.starts_with(exchange::UNKNOWN_PARAMETER_MESSAGE) && m.contains("Bogus"), "{m}");
    let (_, c, _) = emu.fails(&t, "Get-DistributionGroup", json!({"Identity": ["a", "b"]})).await;
    assert_eq!(c, class::PARAMETER_TRANSFORMATION);
    let (_, c, _) = emu.fails(&t, "Add-DistributionGroupMember", json!({"Identity": "x"})).await;
    assert_eq!(c, class::INVALID_PARAMETER);
    let (_, c, _) = emu
        .fails(
            &t,
            "Remove-DistributionGroup",
            json!({"Identity": "x", "BypassSecurityGroupManagerCheck": "yes"}),
        )
        .await;
    assert_eq!(c, class::PARAMETER_TRANSFORMATION);
    // Common parameters are accepted.
    emu.ok(&t, "Get-OrganizationConfig", json!({"Confirm": false, "ErrorAction": "Stop"})).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn paging_follows_next_link_with_the_same_body() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    let all: Vec<&str> =
        vec!["admin", "alice", "bob", "carol", "dave", "erin", "frank", "heidi", "ivan", "judy", "mallory"];
    emu.group(&t, "big", &all).await;
    let body = json!({"CmdletInput": {"CmdletName": "Get-DistributionGroupMember", "Parameters": {"Identity": "big", "ResultSize": "Unlimited"}}}).to_string();
    let mut url: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let a = emu.invoke_raw(&t, &body, Some(4), url.as_deref()).await;
        assert_eq!(a.status, 200);
        let v = a.json();
        let page = v["value"].as_array().unwrap();
        assert!(page.len() <= 4);
        seen.extend(page.iter().map(|m| m["ExternalDirectoryObjectId"].as_str().unwrap().to_string()));
        pages += 1;
        match v["@odata.nextLink"].as_str() {
            Some(next) => url = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), all.len());
    // ResultSize cuts the list and warns.
    let a = emu.invoke(&t, "Get-DistributionGroupMember", json!({"Identity": "big", "ResultSize": 5})).await;
    assert_eq!(a.json()["value"].as_array().unwrap().len(), 5);
    assert_eq!(a.json()["@adminapi.warnings"][0], exchange::MORE_RESULTS_WARNING);
    let a = emu
        .invoke_raw(
            &t,
            &body,
            None,
            Some(&format!(
                "{}?$skiptoken=abc",
                emu.base().to_string() + &exchange::invoke_command_path(DOMAIN)
            )),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.real_error().0, class::PAGINATION);
    // A next link is tied to the body that made it and expires after 30 minutes.
    let first = emu.invoke_raw(&t, &body, Some(4), None).await;
    let next = first.json()["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.contains("$skiptoken="), "{next}");
    let other = json!({"CmdletInput": {"CmdletName": "Get-DistributionGroupMember", "Parameters": {"Identity": "big"}}}).to_string();
    let a = emu.invoke_raw(&t, &other, Some(4), Some(&next)).await;
    assert_eq!((a.status, a.real_error().0.as_str()), (400, class::PAGINATION));
    assert_eq!(emu.invoke_raw(&t, &body, Some(4), Some(&next)).await.status, 200);
    emu.control("POST", "/_emulator/clock/advance", json!({"seconds": exchange::paging::EXPIRY_SECS + 1}))
        .await;
    let a = emu.invoke_raw(&t, &body, Some(4), Some(&next)).await;
    assert_eq!((a.status, a.real_error().0.as_str()), (400, class::PAGINATION));
    assert_eq!(a.real_error().1, exchange::PAGINATION_EXPIRED_MESSAGE);
    emu.shutdown().await;
}

/// The envelope members the service sends, by exception class. (Captures quoted in
/// `wire::exchange::envelope`.)
#[tokio::test]
async fn error_envelopes_have_the_service_shape() {
    let emu = start().await;
    let t = emu.exchange_app().await;
    let a = emu.invoke(&t, "Get-DistributionGroup", json!({"BogusParameter": 1})).await;
    assert_eq!(a.status, 400);
    let e = &a.json()["error"];
    assert_eq!(e["code"], "BadRequest");
    assert_eq!(e["message"], exchange::GENERIC_ERROR_MESSAGE);
    assert_eq!(e["details"][0]["code"], exchange::envelope::DETAIL_CODE_CLIENT);
    assert_eq!(e["details"][0]["target"], "");
    let detail = e["details"][0]["message"].as_str().unwrap();
    assert!(detail.starts_with(&format!("|{}|", class::AMBIGUOUS_PARAMETER_SET)), "{detail}");
    assert_eq!(e["innererror"]["type"], exchange::envelope::INNER_ERROR_TYPE);
    assert_eq!(e["innererror"]["internalexception"]["type"], class::AMBIGUOUS_PARAMETER_SET);

    let a = emu.invoke(&t, "Get-DistributionGroup", json!({"Identity": "nobody"})).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["error"]["code"], "NotFound");

    let a =
        emu.invoke(&t, "Get-DistributionGroupMember", json!({"Identity": "x", "ResultSize": "many"})).await;
    let e = &a.json()["error"];
    assert_eq!(a.real_error().0, class::PARAMETER_TRANSFORMATION);
    assert!(e.get("details").is_none());
    assert_eq!(e["@adminapi.warnings"], json!([]));
    emu.shutdown().await;
}

/// Only a group's owners change it without `-BypassSecurityGroupManagerCheck`; the creator
/// owns a new group unless `-ManagedBy` says otherwise.
#[tokio::test]
async fn group_owners_and_the_manager_check() {
    let emu = start().await;
    let app = emu.exchange_app().await;
    let g = emu
        .ok(
            &app,
            "New-DistributionGroup",
            json!({"Name": "owned", "PrimarySmtpAddress": upn("owned"), "Type": "Security", "ManagedBy": [upn("alice")], "Description": ["a", "b"]}),
        )
        .await;
    assert_eq!(g[0]["ManagedBy"], json!([upn("alice")]));
    assert_eq!(g[0]["Description"], json!(["a\nb"]));
    for (cmdlet, params) in [
        ("Set-DistributionGroup", json!({"Identity": "owned", "DisplayName": "x"})),
        ("Add-DistributionGroupMember", json!({"Identity": "owned", "Member": upn("bob")})),
        ("Update-DistributionGroupMember", json!({"Identity": "owned", "Members": [upn("bob")]})),
        ("Remove-DistributionGroup", json!({"Identity": "owned"})),
    ] {
        let (status, c, m) = emu.fails(&app, cmdlet, params).await;
        assert_eq!((status, c.as_str()), (400, class::GROUP_MANAGER_REQUIRED), "{cmdlet}");
        assert_eq!(m, exchange::GROUP_MANAGER_REQUIRED_MESSAGE);
    }
    // The real parameters pamform might use, with the bypass.
    emu.ok(
        &app,
        "Set-DistributionGroup",
        json!({"Identity": "owned", "Name": "owned2", "DisplayName": "Owners of things", "ManagedBy": [APP_ID], "PrimarySmtpAddress": upn("owned2"), "MailTip": "hi", "BypassSecurityGroupManagerCheck": true}),
    )
    .await;
    let got = emu.ok(&app, "Get-DistributionGroup", json!({"Identity": upn("owned2")})).await;
    assert_eq!(got[0]["Name"], "owned2");
    assert_eq!(got[0]["ManagedBy"], json!([APP_ID]));
    // Now the app owns it: no bypass needed. A group cannot contain itself.
    let (_, c, _) = emu
        .fails(&app, "Add-DistributionGroupMember", json!({"Identity": "owned2", "Member": "owned2"}))
        .await;
    assert_eq!(c, class::RECIPIENT_TASK);
    emu.ok(&app, "Add-DistributionGroupMember", json!({"Identity": "owned2", "Member": upn("bob")})).await;
    // Identity by DN, Guid and alias; never by display name.
    let dn = got[0]["DistinguishedName"].as_str().unwrap().to_string();
    for id in [dn.as_str(), got[0]["Guid"].as_str().unwrap(), "owned"] {
        emu.ok(&app, "Get-DistributionGroup", json!({"Identity": id})).await;
    }
    let (_, c, _) = emu.fails(&app, "Get-DistributionGroup", json!({"Identity": "Owners of things"})).await;
    assert_eq!(c, class::NOT_FOUND);
    emu.ok(&app, "Remove-DistributionGroup", json!({"Identity": "owned2"})).await;
    emu.shutdown().await;
}

#[tokio::test]
async fn rbac_limits_users_to_their_role_groups() {
    let emu = start().await;
    let alice = emu.exchange_user("alice").await;
    let (status, c, _) = emu.fails(&alice, "Get-OrganizationConfig", json!({})).await;
    assert_eq!((status, c.as_str()), (400, class::ACCESS_DENIED));
    // Request cmdlets only need a signed-in user.
    emu.ok(&alice, "Get-ElevatedAccessRequest", json!({})).await;
    let admin = emu.exchange_user("admin").await;
    emu.ok(&admin, "Get-OrganizationConfig", json!({})).await;
    // An app-only caller cannot submit requests.
    let app = emu.exchange_app().await;
    let (_, c, _) = emu
        .fails(&app, "New-ElevatedAccessRequest", json!({"Task": "Exchange\\New-MoveRequest", "Reason": "x"}))
        .await;
    assert_eq!(c, class::INVALID_OPERATION);
    emu.shutdown().await;
}
