//! Attacks on the everyday commands: request refusals must never be explained by a guess that
//! misleads (telling an approver they are not one).

use pamform::requests::explain::{Action, Facts, Membership, RequestError, judge, membership};
use pamform::tenant::{Api, TenantError};
use pamform::wire::exchange::{self as wx, recipient_type};
use serde_json::json;

const ME: &str = "carol@contoso.com";
const GROUP: &str = "pam@contoso.com";

fn recipient(upn: &str, details: &str) -> wx::Recipient {
    serde_json::from_value(json!({
        "Identity": upn, "Name": upn, "UserPrincipalName": upn, "PrimarySmtpAddress": upn,
        "ExternalDirectoryObjectId": "00000000-0000-0000-0000-000000000001",
        "RecipientTypeDetails": details,
    }))
    .unwrap()
}

fn denied() -> TenantError {
    TenantError::Permission {
        api: Api::Exchange,
        status: 400,
        missing: "a role".into(),
        detail: String::new(),
    }
}

/// An approver group may hold groups of kinds other than the two pamform manages (documented
/// values of RecipientTypeDetails), or a kind pamform does not know: any of them may hold the
/// signed-in user, so pamform cannot say they are not an approver. It used to count only the
/// two universal group kinds as groups, and told such an approver "you are not a member of the
/// approver group" (and `request list --pending` hid their requests).
#[test]
fn a_nested_group_of_any_kind_never_makes_an_approver_a_non_member() {
    for kind in
        ["MailNonUniversalGroup", "GroupMailbox", "RoleGroup", "DynamicDistributionGroup", "RoomList", ""]
    {
        let members = vec![
            recipient("alice@contoso.com", recipient_type::USER_MAILBOX),
            recipient("team@contoso.com", kind),
        ];
        assert_eq!(membership(ME, &members), Membership::Unknown, "{kind:?}");
        let request = serde_json::from_value(json!({
            "Identity": "r1", "RequestStatus": "Pending", "Requestor": "dave@contoso.com", "ApproverGroup": GROUP,
        }))
        .unwrap();
        let facts = Facts { request: Some(request), approvers: Some(members), ..Facts::default() };
        let e = judge(Action::Decide { id: "r1" }, denied(), ME, &facts);
        assert!(!matches!(e, RequestError::NotApprover { .. }), "{kind:?}: {e}");
    }
    // Only people, none of them the user: not a member.
    let people = vec![
        recipient("alice@contoso.com", recipient_type::USER_MAILBOX),
        recipient("bob@contoso.com", recipient_type::MAIL_USER),
        recipient("eve@fabrikam.com", recipient_type::GUEST_MAIL_USER),
    ];
    assert_eq!(membership(ME, &people), Membership::NotListed);
    assert_eq!(
        membership(ME, &[recipient(ME, recipient_type::USER_MAILBOX)]),
        Membership::Listed { guest: false }
    );
}
