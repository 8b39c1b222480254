//! The one place where the service's refusals of request cmdlets become errors that say what
//! happened and what to do next.
//!
//! Microsoft publishes none of the refusal texts (and the service translates them), so an
//! explanation never rests on wording: it rests on the error's exception class and status and
//! on facts read as the signed-in user once the service refused ([`Facts`]): the request
//! itself, the user's recipient, the approver group's members, the PAM switch and the
//! policies. A fact the user may not read decides nothing; where the facts that could tell are
//! out of reach, the class decides what it alone can tell (an access denial of a pending
//! request that is not the user's own). When nothing explains a refusal, the service's own
//! error stands.

use crate::model::PolicyTarget;
use crate::model::normalize;
use crate::tenant::{Api, Client, TenantError};
use crate::wire::exchange::{self as wx, ElevatedAccessRequest, class, recipient_type, request_status};

use super::session::SessionError;
use super::status::{short_id, task_label};

/// Why a request command failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Session(#[from] SessionError),

    #[error(
        "you are not a member of the approver group {group}; ask one of its members to approve or deny the request"
    )]
    NotApprover { group: String },

    #[error("you cannot approve or deny your own request; ask another member of the approver group")]
    OwnRequest,

    #[error("guests cannot approve or deny requests; ask a member of the approver group from this tenant")]
    Guest,

    #[error("only the requestor or a member of the approver group can revoke this access")]
    NotRevoker,

    #[error(
        "request {id} has expired: pending requests expire after 24 hours; ask for access again with `pamform request new`"
    )]
    Expired { id: String },

    #[error(
        "request {id} is {status} and can no longer be approved or denied; see `pamform request show {id}`"
    )]
    NotPending { id: String, status: String },

    #[error("the access of request {id} is already revoked")]
    AlreadyRevoked { id: String },

    #[error("request {id} has no active access to revoke; see `pamform request show {}`", short_id(.id))]
    NothingToRevoke { id: String },

    #[error(
        "no access policy covers {task}: there is nothing to request; run it directly, or ask an admin to add a policy"
    )]
    NoPolicy { task: String },

    #[error("privileged access management is not enabled in this tenant, so there is nothing to request")]
    PamDisabled,

    #[error("no request {id}; list requests with `pamform request list --all`")]
    NotFound { id: String },

    #[error("{prefix} matches {count} requests; give more of the id")]
    Ambiguous { prefix: String, count: usize },

    #[error("the service no longer accepts your sign-in ({error}); run `pamform login`")]
    SignInRejected { error: String },

    #[error("{0}")]
    Tenant(TenantError),
}

/// What the failed command was about, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    New { target: &'a PolicyTarget },
    Decide { id: &'a str },
    Revoke { id: &'a str },
}

/// Whether the signed-in user is among the members of a group, as far as its member list tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Listed directly.
    Listed { guest: bool },
    /// Not listed, and every member is one person: not a member.
    NotListed,
    /// Not listed, but a member that is not one person (a nested group of any kind, or a type
    /// pamform does not know) may hold the user: only the service can tell.
    Unknown,
}

/// Where `me` stands in a group with these members (matched by UPN or primary address).
pub fn membership(me: &str, members: &[wx::Recipient]) -> Membership {
    let me = normalize::principal(me);
    let listed = members.iter().find(|m| {
        [m.user_principal_name.as_deref(), m.primary_smtp_address.as_deref()]
            .into_iter()
            .flatten()
            .any(|n| normalize::principal(n) == me)
    });
    if let Some(m) = listed {
        return Membership::Listed { guest: recipient_type::is_guest(&m.recipient_type_details) };
    }
    if members.iter().any(|m| !recipient_type::is_person(&m.recipient_type_details)) {
        Membership::Unknown
    } else {
        Membership::NotListed
    }
}

/// What pamform could read, as the signed-in user, after a refusal; `None` where it could not.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The request as the service shows it now.
    pub request: Option<ElevatedAccessRequest>,
    /// Whether the user's own recipient is a guest.
    pub guest: Option<bool>,
    /// The members of the request's approver group.
    pub approvers: Option<Vec<wx::Recipient>>,
    /// Whether privileged access management is on.
    pub pam_enabled: Option<bool>,
    /// What the approval policies name.
    pub policy_targets: Option<Vec<PolicyTarget>>,
}

impl Facts {
    /// Reads what can explain a refusal of `action`; each read that fails is left unknown.
    pub async fn read(client: &Client, me: &str, action: Action<'_>) -> Facts {
        let mut facts = Facts::default();
        match action {
            Action::New { .. } => {
                facts.pam_enabled = client.get_pam_setting().await.ok().map(|s| s.enabled);
                facts.policy_targets = client
                    .get_remote_policies()
                    .await
                    .ok()
                    .map(|ps| ps.into_iter().map(|p| p.target).collect());
            }
            Action::Decide { id } | Action::Revoke { id } => {
                facts.request = client.get_requests(Some(id)).await.ok().and_then(|rs| rs.into_iter().next());
                facts.guest = client
                    .get_recipient(me)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| recipient_type::is_guest(&r.recipient_type_details));
                let group = facts.request.as_ref().and_then(|r| r.approver_group.clone());
                if let Some(group) = group.filter(|g| !g.trim().is_empty()) {
                    facts.approvers = client.get_group_members(&group).await.ok();
                }
            }
        }
        facts
    }
}

/// Maps a tenant error of a request cmdlet to what it means for the user, reading the facts
/// that tell (as `me`, through `client`) when the service refused.
pub async fn explain(client: &Client, me: &str, action: Action<'_>, e: TenantError) -> RequestError {
    if refusal_class(&e).is_none_or(|c| c == class::NOT_FOUND) {
        return judge(action, e, me, &Facts::default());
    }
    let facts = Facts::read(client, me, action).await;
    judge(action, e, me, &facts)
}

/// Maps an error of a read (listing requests and authorizations): nothing to explain but a
/// sign-in the service no longer accepts.
pub fn read_error(e: TenantError) -> RequestError {
    match e {
        // Only a refresh of the cached sign-in asks for a token here.
        TenantError::SignIn { error, .. } => RequestError::SignInRejected { error },
        other => RequestError::Tenant(other),
    }
}

/// The exception class of a refusal by the service: an Exchange error other than a server
/// fault, or an access denial the client filed as a permission error (its class is the access
/// denial's). Sign-in, throttling, connection and decoding errors are no refusal.
fn refusal_class(e: &TenantError) -> Option<&str> {
    match e {
        TenantError::Exchange { class, status, .. } if *status < 500 => Some(class.as_str()),
        TenantError::Permission { api: Api::Exchange, status, .. } if *status != 401 => {
            Some(class::ACCESS_DENIED)
        }
        _ => None,
    }
}

fn same_target(a: &PolicyTarget, b: &PolicyTarget) -> bool {
    match (a, b) {
        (PolicyTarget::Task(x), PolicyTarget::Task(y)) => {
            normalize::task_cmdlet(x).eq_ignore_ascii_case(normalize::task_cmdlet(y))
        }
        (PolicyTarget::Role(x), PolicyTarget::Role(y))
        | (PolicyTarget::RoleGroup(x), PolicyTarget::RoleGroup(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        _ => false,
    }
}

/// The explanation `facts` and the error's class give; the service's error when they give none.
pub fn judge(action: Action<'_>, e: TenantError, me: &str, facts: &Facts) -> RequestError {
    if matches!(e, TenantError::SignIn { .. }) {
        return read_error(e);
    }
    let Some(class_name) = refusal_class(&e) else { return RequestError::Tenant(e) };
    let denied = class_name == class::ACCESS_DENIED;
    if class_name == class::NOT_FOUND {
        return match action {
            Action::Revoke { id } => RequestError::NothingToRevoke { id: id.to_string() },
            Action::Decide { id } => RequestError::NotFound { id: id.to_string() },
            Action::New { .. } => RequestError::Tenant(e),
        };
    }
    let request = facts.request.as_ref();
    let status = request.and_then(|r| r.request_status.as_deref()).map(str::trim).unwrap_or_default();
    let own = request
        .and_then(|r| r.requestor.as_deref())
        .is_some_and(|r| normalize::principal(r) == normalize::principal(me));
    let group = request.and_then(|r| r.approver_group.clone()).filter(|g| !g.trim().is_empty());
    let member = facts.approvers.as_deref().map(|ms| membership(me, ms));
    let guest = facts.guest == Some(true) || matches!(member, Some(Membership::Listed { guest: true }));
    match action {
        Action::Decide { id } => {
            if request.is_some() && !status.eq_ignore_ascii_case(request_status::PENDING) {
                if status.eq_ignore_ascii_case(request_status::EXPIRED) {
                    return RequestError::Expired { id: id.to_string() };
                }
                let status = if status.is_empty() { "closed".to_string() } else { status.to_lowercase() };
                return RequestError::NotPending { id: id.to_string(), status };
            }
            if own {
                return RequestError::OwnRequest;
            }
            if guest {
                return RequestError::Guest;
            }
            // Members of the group decide; an access denial of a pending request that is not
            // the user's own, when the members cannot be read, leaves only that rule.
            let not_member = match member {
                Some(m) => m == Membership::NotListed,
                None => denied && request.is_some(),
            };
            if let Some(group) = group.filter(|_| not_member) {
                return RequestError::NotApprover { group };
            }
        }
        Action::Revoke { id } => {
            if status.eq_ignore_ascii_case(request_status::REVOKED) {
                return RequestError::AlreadyRevoked { id: id.to_string() };
            }
            let not_member = match member {
                Some(m) => m == Membership::NotListed,
                None => denied,
            };
            if request.is_some() && !own && not_member {
                return RequestError::NotRevoker;
            }
        }
        Action::New { target } => {
            // The PAM switch and the policies, when the user may read them; otherwise the
            // class of the refusal (the arguments pamform sends are checked before they go).
            let disabled = match facts.pam_enabled {
                Some(enabled) => !enabled,
                None => class_name == class::INVALID_OPERATION,
            };
            if disabled {
                return RequestError::PamDisabled;
            }
            let uncovered = match &facts.policy_targets {
                Some(targets) => !targets.iter().any(|t| same_target(t, target)),
                None => class_name == class::ARGUMENT,
            };
            if uncovered {
                return RequestError::NoPolicy { task: task_label(&wx::task::encode(target)) };
            }
        }
    }
    RequestError::Tenant(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "carol@contoso.com";
    const GROUP: &str = "pam@contoso.com";

    /// Refusals worded in another language than any pamform knows: only the class is read.
    fn exchange(class: &str) -> TenantError {
        TenantError::Exchange {
            cmdlet: "x".into(),
            status: 400,
            class: class.into(),
            message: "Der Vorgang wurde abgelehnt.".into(),
        }
    }

    fn denied() -> TenantError {
        TenantError::Permission {
            api: Api::Exchange,
            status: 400,
            missing: "a role".into(),
            detail: ": Zugriff verweigert.".into(),
        }
    }

    fn request(status: &str, requestor: &str) -> ElevatedAccessRequest {
        serde_json::from_value(serde_json::json!({
            "Identity": "r1", "RequestStatus": status, "Requestor": requestor, "ApproverGroup": GROUP,
        }))
        .unwrap()
    }

    fn recipient(upn: &str, details: &str) -> wx::Recipient {
        serde_json::from_value(serde_json::json!({
            "Identity": upn, "Name": upn, "UserPrincipalName": upn, "PrimarySmtpAddress": upn,
            "ExternalDirectoryObjectId": "00000000-0000-0000-0000-000000000001",
            "RecipientTypeDetails": details,
        }))
        .unwrap()
    }

    fn pending_of(requestor: &str, members: Option<Vec<wx::Recipient>>) -> Facts {
        Facts { request: Some(request("Pending", requestor)), approvers: members, ..Facts::default() }
    }

    const D: Action<'static> = Action::Decide { id: "r1" };

    #[test]
    fn decisions_are_explained_by_the_request_and_the_approver_group() {
        let alice = || vec![recipient("alice@contoso.com", recipient_type::USER_MAILBOX)];
        let e = judge(D, denied(), ME, &pending_of(ME, Some(alice())));
        assert!(matches!(e, RequestError::OwnRequest), "{e}");
        let e = judge(D, denied(), ME, &pending_of("dave@contoso.com", Some(alice())));
        assert!(e.to_string().contains("approver group pam@contoso.com"), "{e}");
        // Listed as a guest, or the user's own recipient is a guest.
        let guest = vec![recipient(ME, recipient_type::GUEST_MAIL_USER)];
        let e = judge(D, denied(), ME, &pending_of("dave@contoso.com", Some(guest)));
        assert!(matches!(e, RequestError::Guest), "{e}");
        let facts = Facts { guest: Some(true), ..pending_of("dave@contoso.com", None) };
        assert!(matches!(judge(D, denied(), ME, &facts), RequestError::Guest));
        // A listed member, or a nested group that may hold the user: the service's own error.
        let listed = vec![recipient(ME, recipient_type::USER_MAILBOX)];
        let e = judge(D, denied(), ME, &pending_of("dave@contoso.com", Some(listed)));
        assert!(matches!(e, RequestError::Tenant(_)), "{e}");
        let nested = vec![recipient("team@contoso.com", recipient_type::MAIL_UNIVERSAL_SECURITY_GROUP)];
        let e = judge(D, denied(), ME, &pending_of("dave@contoso.com", Some(nested)));
        assert!(matches!(e, RequestError::Tenant(_)), "{e}");
        // Members out of reach: an access denial of someone else's pending request leaves only
        // the approver rule; another class tells nothing.
        let e = judge(D, denied(), ME, &pending_of("dave@contoso.com", None));
        assert!(matches!(e, RequestError::NotApprover { .. }), "{e}");
        let e = judge(D, exchange(class::INVALID_OPERATION), ME, &pending_of("dave@contoso.com", None));
        assert!(matches!(e, RequestError::Tenant(_)), "{e}");
        // Nothing read at all: nothing explained.
        assert!(matches!(judge(D, denied(), ME, &Facts::default()), RequestError::Tenant(_)));
    }

    #[test]
    fn a_closed_request_is_explained_by_its_status() {
        let closed =
            |status: &str| Facts { request: Some(request(status, "dave@contoso.com")), ..Facts::default() };
        let e = judge(D, exchange(class::INVALID_OPERATION), ME, &closed("Expired"));
        assert!(matches!(e, RequestError::Expired { .. }), "{e}");
        assert!(e.to_string().contains("24 hours"));
        let e = judge(D, exchange(class::INVALID_OPERATION), ME, &closed("Denied"));
        assert!(e.to_string().contains("is denied"), "{e}");
        let e = judge(D, exchange(class::NOT_FOUND), ME, &Facts::default());
        assert!(e.to_string().contains("no request r1"), "{e}");
    }

    #[test]
    fn revocations_are_explained_by_the_request_and_the_approver_group() {
        let r = Action::Revoke { id: "r1" };
        let e = judge(r, exchange(class::NOT_FOUND), ME, &Facts::default());
        assert!(matches!(e, RequestError::NothingToRevoke { .. }));
        let revoked = Facts { request: Some(request("Revoked", ME)), ..Facts::default() };
        let e = judge(r, exchange(class::INVALID_OPERATION), ME, &revoked);
        assert!(matches!(e, RequestError::AlreadyRevoked { .. }), "{e}");
        let others = |members| Facts {
            request: Some(request("Approved", "dave@contoso.com")),
            approvers: members,
            ..Facts::default()
        };
        let e = judge(
            r,
            denied(),
            ME,
            &others(Some(vec![recipient("alice@contoso.com", recipient_type::USER_MAILBOX)])),
        );
        assert!(matches!(e, RequestError::NotRevoker), "{e}");
        let e = judge(r, denied(), ME, &others(None));
        assert!(matches!(e, RequestError::NotRevoker), "{e}");
        let e = judge(r, denied(), ME, &others(Some(vec![recipient(ME, recipient_type::USER_MAILBOX)])));
        assert!(matches!(e, RequestError::Tenant(_)), "{e}");
        let mine = Facts { request: Some(request("Approved", ME)), ..Facts::default() };
        assert!(matches!(judge(r, denied(), ME, &mine), RequestError::Tenant(_)));
    }

    #[test]
    fn requests_are_explained_by_the_pam_switch_and_the_policies() {
        let task = PolicyTarget::Task("Get-Mailbox".into());
        let n = Action::New { target: &task };
        let off = Facts { pam_enabled: Some(false), ..Facts::default() };
        assert!(matches!(judge(n, exchange(class::ARGUMENT), ME, &off), RequestError::PamDisabled));
        let uncovered = Facts {
            pam_enabled: Some(true),
            policy_targets: Some(vec![
                PolicyTarget::Task("Set-Mailbox".into()),
                PolicyTarget::Role("Get-Mailbox".into()),
            ]),
            ..Facts::default()
        };
        let e = judge(n, exchange(class::INVALID_OPERATION), ME, &uncovered);
        assert!(e.to_string().contains("no access policy covers Exchange\\Get-Mailbox"), "{e}");
        let covered = Facts {
            pam_enabled: Some(true),
            policy_targets: Some(vec![PolicyTarget::Task("get-mailbox".into())]),
            ..Facts::default()
        };
        assert!(matches!(judge(n, exchange(class::ARGUMENT), ME, &covered), RequestError::Tenant(_)));
        // Out of reach for the user: the class of the refusal tells.
        let e = judge(n, exchange(class::ARGUMENT), ME, &Facts::default());
        assert!(matches!(e, RequestError::NoPolicy { .. }), "{e}");
        let e = judge(n, exchange(class::INVALID_OPERATION), ME, &Facts::default());
        assert!(matches!(e, RequestError::PamDisabled), "{e}");
        let e = judge(n, exchange(class::ACCESS_DENIED), ME, &Facts::default());
        assert!(matches!(e, RequestError::Tenant(_)), "{e}");
    }

    #[test]
    fn errors_that_are_no_refusal_are_never_explained() {
        let rejected = TenantError::SignIn {
            error: "invalid_grant".into(),
            description: "AADSTS9002313".into(),
            hint: "check PAMFORM_CLIENT_ID".into(),
        };
        let e = read_error(rejected);
        assert!(
            e.to_string().contains("run `pamform login`") && !e.to_string().contains("PAMFORM_CLIENT_ID")
        );
        let facts = pending_of("dave@contoso.com", None);
        let throttled = TenantError::Throttled {
            api: Api::Exchange,
            attempts: 5,
            elapsed: std::time::Duration::from_secs(9),
        };
        assert!(matches!(judge(D, throttled, ME, &facts), RequestError::Tenant(_)));
        let server = TenantError::Exchange {
            cmdlet: "x".into(),
            status: 500,
            class: class::ACCESS_DENIED.into(),
            message: "".into(),
        };
        assert!(matches!(judge(D, server, ME, &facts), RequestError::Tenant(_)));
        let expired_token = TenantError::Permission {
            api: Api::Exchange,
            status: 401,
            missing: "x".into(),
            detail: String::new(),
        };
        assert!(matches!(judge(D, expired_token, ME, &facts), RequestError::Tenant(_)));
        assert!(matches!(judge(D, TenantError::Config("boom".into()), ME, &facts), RequestError::Tenant(_)));
    }
}
