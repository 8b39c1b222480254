//! The one place where the service's refusals of request cmdlets (exception class and message)
//! become errors that say what happened and what to do next.

use crate::tenant::{Api, TenantError};
use crate::wire::exchange::{class, refusal};

use super::session::SessionError;
use super::status::short_id;

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
    New { task: &'a str },
    Decide { id: &'a str },
    Revoke { id: &'a str },
    Read { id: &'a str },
}

/// The exception class and message of a refusal, also when the client filed it as a
/// permission error (the service answers access denials with the same class).
fn refusal_of(e: &TenantError) -> Option<(&str, &str)> {
    match e {
        TenantError::Exchange { class, message, .. } => Some((class.as_str(), message.as_str())),
        TenantError::Permission { api: Api::Exchange, detail, .. } => {
            Some((class::ACCESS_DENIED, detail.trim_start_matches(':').trim()))
        }
        _ => None,
    }
}

fn has(message: &str, phrase: &str) -> bool {
    message.to_lowercase().contains(phrase)
}

/// The first single-quoted part of a message (`... group 'x@y' can ...`).
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('\'')? + 1;
    let len = message[start..].find('\'')?;
    Some(&message[start..start + len])
}

/// Maps a tenant error of a request cmdlet to what it means for the user.
pub fn explain(action: Action<'_>, e: TenantError) -> RequestError {
    if let TenantError::SignIn { error, .. } = &e {
        // Only a refresh of the cached sign-in asks for a token here.
        return RequestError::SignInRejected { error: error.clone() };
    }
    let Some((class_name, message)) = refusal_of(&e) else { return RequestError::Tenant(e) };
    let id = match action {
        Action::Decide { id } | Action::Revoke { id } | Action::Read { id } => id,
        Action::New { .. } => "",
    };
    if class_name == class::NOT_FOUND {
        return match action {
            Action::Revoke { id } => RequestError::NothingToRevoke { id: id.to_string() },
            _ => RequestError::NotFound { id: id.to_string() },
        };
    }
    if has(message, refusal::OWN_REQUEST) {
        return RequestError::OwnRequest;
    }
    if has(message, refusal::GUEST) {
        return RequestError::Guest;
    }
    if has(message, refusal::NOT_REVOKER) {
        return RequestError::NotRevoker;
    }
    if has(message, refusal::NOT_APPROVER) {
        let group = quoted(message).unwrap_or("of this request").to_string();
        return RequestError::NotApprover { group };
    }
    if has(message, refusal::NOT_PENDING) {
        let status =
            message.split_whitespace().skip_while(|w| *w != "is").nth(1).unwrap_or("closed").to_lowercase();
        if status == "expired" {
            return RequestError::Expired { id: id.to_string() };
        }
        return RequestError::NotPending { id: id.to_string(), status };
    }
    if has(message, refusal::ALREADY_REVOKED) {
        return RequestError::AlreadyRevoked { id: id.to_string() };
    }
    if let Action::New { task } = action {
        if has(message, refusal::NO_POLICY) {
            return RequestError::NoPolicy { task: task.to_string() };
        }
        if class_name == class::INVALID_OPERATION && has(message, refusal::PAM_DISABLED) {
            return RequestError::PamDisabled;
        }
    }
    RequestError::Tenant(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(class: &str, message: &str) -> TenantError {
        TenantError::Exchange {
            cmdlet: "x".into(),
            status: 400,
            class: class.into(),
            message: message.into(),
        }
    }

    fn denied(message: &str) -> TenantError {
        TenantError::Permission {
            api: Api::Exchange,
            status: 400,
            missing: "a role".into(),
            detail: format!(": {message}"),
        }
    }

    #[test]
    fn refusals_become_explanations() {
        let d = Action::Decide { id: "r1" };
        let e = explain(d, denied("You can't approve or deny your own request. Ask another member."));
        assert!(matches!(e, RequestError::OwnRequest));
        let e = explain(d, denied("Guest users can't approve or deny elevated access requests."));
        assert!(matches!(e, RequestError::Guest));
        let e = explain(
            d,
            denied("Only members of the approver group 'pam@contoso.com' can approve or deny this request."),
        );
        assert!(e.to_string().contains("approver group pam@contoso.com"), "{e}");
        let e = explain(
            d,
            exchange(
                class::INVALID_OPERATION,
                "The request 'r1' is Expired and can no longer be approved or denied.",
            ),
        );
        assert!(matches!(e, RequestError::Expired { .. }), "{e}");
        assert!(e.to_string().contains("24 hours"));
        let e = explain(
            d,
            exchange(
                class::INVALID_OPERATION,
                "The request 'r1' is Denied and can no longer be approved or denied.",
            ),
        );
        assert!(e.to_string().contains("is denied"), "{e}");
        let n = Action::New { task: "Exchange\\Get-Mailbox" };
        let e =
            explain(n, exchange(class::ARGUMENT, "No approval policy exists for 'Exchange\\Get-Mailbox'; x"));
        assert!(e.to_string().contains("no access policy covers Exchange\\Get-Mailbox"), "{e}");
        let e = explain(d, exchange(class::NOT_FOUND, "object 'r9' couldn't be found"));
        assert!(e.to_string().contains("no request r1"), "{e}");
        let e = explain(Action::Revoke { id: "r1" }, exchange(class::NOT_FOUND, "gone"));
        assert!(matches!(e, RequestError::NothingToRevoke { .. }));
        let rejected = TenantError::SignIn {
            error: "invalid_grant".into(),
            description: "AADSTS9002313".into(),
            hint: "check PAMFORM_CLIENT_ID".into(),
        };
        let e = explain(Action::Read { id: "" }, rejected);
        assert!(
            e.to_string().contains("run `pamform login`") && !e.to_string().contains("PAMFORM_CLIENT_ID")
        );
        let other = explain(d, TenantError::Config("boom".into()));
        assert!(matches!(other, RequestError::Tenant(_)));
    }
}
