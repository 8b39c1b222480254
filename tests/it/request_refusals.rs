//! Refusals of the request cmdlets explained whatever language the service speaks: each
//! refusal below carries a text pamform has never seen, and the explanation comes from the
//! class and from the facts the signed-in user reads from the emulator (the request, their
//! recipient, the approver group's members, the PAM switch and the policies).

use std::time::Duration;

use pamform::model::PolicyTarget;
use pamform::requests::RequestError;
use pamform::requests::explain::{Action, explain};
use pamform::tenant::{Api, Client, ClientOptions, Credential, Endpoints, Resource, Secret, TenantError};
use pamform::wire::exchange::class;
use pamform::wire::oauth;
use serde_json::json;

use crate::support::api::*;
use crate::support::{DOMAIN, upn};

const OSCAR: &str = "oscar_fabrikam.com#EXT#@contoso.onmicrosoft.com";

/// A client acting as `user`, as a `pamform login` session gives it.
async fn client_of(emu: &Emu, user: &str) -> Client {
    let token = emu.user_token(user, oauth::EXCHANGE_RESOURCE).await;
    let base = emu.base().to_string();
    let endpoints = Endpoints { login: base.clone(), exchange: base.clone(), graph: base };
    let credential = Credential::Delegated {
        client_id: oauth::EXCHANGE_PUBLIC_CLIENT_ID.to_string(),
        upn: user.to_string(),
        refresh_token: Secret::new(String::new()),
    };
    let client = Client::new(DOMAIN, endpoints, credential, ClientOptions::default()).unwrap();
    client.prime_token(Resource::Exchange, Secret::new(token), Duration::from_secs(3000)).await;
    client
}

/// An access denial worded in German.
fn denied() -> TenantError {
    TenantError::Permission {
        api: Api::Exchange,
        status: 400,
        missing: "a role".into(),
        detail: ": Zugriff verweigert. Wenden Sie sich an Ihren Administrator.".into(),
    }
}

/// A refusal of another class, worded in Japanese.
fn refused(class: &str) -> TenantError {
    TenantError::Exchange {
        cmdlet: "x".into(),
        status: 400,
        class: class.into(),
        message: "この操作は実行できません。".into(),
    }
}

#[tokio::test]
async fn refusals_in_any_language_are_explained_by_facts() {
    let emu = start().await;
    let app = emu.exchange_app().await;
    emu.group(&app, "pam-approvers", &["alice", "bob"]).await;
    emu.ok(&app, "Add-DistributionGroupMember", json!({"Identity": "pam-approvers", "Member": OSCAR})).await;
    emu.enable_pam(&app, "pam-approvers").await;
    emu.policy(&app, "Exchange\\New-MoveRequest", "Manual", "pam-approvers").await;
    let ask = |token: String| {
        let emu = &emu;
        async move {
            let r = emu
                .ok(
                    &token,
                    "New-ElevatedAccessRequest",
                    json!({"Task": "Exchange\\New-MoveRequest", "Reason": "x"}),
                )
                .await;
            r[0]["Identity"].as_str().unwrap().to_string()
        }
    };
    let id = ask(emu.exchange_user("dave").await).await;
    let (dave, carol, alice, oscar, admin) = (
        client_of(&emu, &upn("dave")).await,
        client_of(&emu, &upn("carol")).await,
        client_of(&emu, &upn("alice")).await,
        client_of(&emu, OSCAR).await,
        client_of(&emu, &upn("admin")).await,
    );
    let decide = Action::Decide { id: &id };

    let e = explain(&dave, &upn("dave"), decide, denied()).await;
    assert!(matches!(e, RequestError::OwnRequest), "{e}");
    let e = explain(&carol, &upn("carol"), decide, denied()).await;
    assert!(
        e.to_string().contains("not a member of the approver group pam-approvers@contoso.onmicrosoft.com"),
        "{e}"
    );
    let e = explain(&oscar, OSCAR, decide, denied()).await;
    assert!(matches!(e, RequestError::Guest), "{e}");
    // An approver refused for a reason no fact shows: the service's own error, unchanged.
    let e = explain(&alice, &upn("alice"), decide, denied()).await;
    assert_eq!(e.to_string(), denied().to_string());

    // Asking for a task no policy covers: an admin reads the policies, so the facts win over
    // a class that would say otherwise; a user who may not read them has the class.
    let mailbox = PolicyTarget::Task("Get-Mailbox".into());
    let new = Action::New { target: &mailbox };
    let e = explain(&admin, &upn("admin"), new, refused(class::INVALID_OPERATION)).await;
    assert!(e.to_string().contains("no access policy covers Exchange\\Get-Mailbox"), "{e}");
    let e = explain(&carol, &upn("carol"), new, refused(class::ARGUMENT)).await;
    assert!(matches!(e, RequestError::NoPolicy { .. }), "{e}");
    let covered = PolicyTarget::Task("New-MoveRequest".into());
    let e = explain(&admin, &upn("admin"), Action::New { target: &covered }, refused(class::ARGUMENT)).await;
    assert!(matches!(e, RequestError::Tenant(_)), "{e}");

    // Approved: carol may not revoke; once revoked, revoking again says so.
    emu.ok(&emu.exchange_user("alice").await, "Approve-ElevatedAccessRequest", json!({"RequestId": id}))
        .await;
    let revoke = Action::Revoke { id: &id };
    let e = explain(&carol, &upn("carol"), revoke, denied()).await;
    assert!(matches!(e, RequestError::NotRevoker), "{e}");
    let e = explain(&alice, &upn("alice"), decide, refused(class::INVALID_OPERATION)).await;
    assert!(e.to_string().contains("is approved and can no longer be approved or denied"), "{e}");
    emu.ok(&emu.exchange_user("bob").await, "Revoke-ElevatedAccessAuthorization", json!({"RequestId": id}))
        .await;
    let e = explain(&dave, &upn("dave"), revoke, refused(class::INVALID_OPERATION)).await;
    assert!(matches!(e, RequestError::AlreadyRevoked { .. }), "{e}");

    // A pending request left for a day has expired.
    let late = ask(emu.exchange_user("dave").await).await;
    emu.advance(25 * 3600).await;
    // (Tokens from before the jump have expired on the emulator's clock.)
    let (alice, admin, app) = (
        client_of(&emu, &upn("alice")).await,
        client_of(&emu, &upn("admin")).await,
        emu.exchange_app().await,
    );
    let e =
        explain(&alice, &upn("alice"), Action::Decide { id: &late }, refused(class::INVALID_OPERATION)).await;
    assert!(matches!(e, RequestError::Expired { .. }), "{e}");

    // PAM off: the admin reads the switch.
    emu.ok(&app, "Disable-ElevatedAccessControl", json!({})).await;
    let e = explain(&admin, &upn("admin"), Action::New { target: &covered }, refused(class::ARGUMENT)).await;
    assert!(matches!(e, RequestError::PamDisabled), "{e}");
    emu.shutdown().await;
}
