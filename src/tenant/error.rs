//! The tenant client's error type, and the decoding of Microsoft's error answers (token
//! endpoint, Exchange admin API, Graph) into errors that say what went wrong and what to do.

use std::time::Duration;

use crate::wire::{exchange, graph, oauth};

/// Which service an error or a log line concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Login,
    Exchange,
    Graph,
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Api::Login => "sign-in",
            Api::Exchange => "exchange",
            Api::Graph => "graph",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Config(String),

    #[error("cannot read {what} from {path}: {message}")]
    Credential { what: &'static str, path: String, message: String },

    #[error("sign-in failed: {error}: {description}; {hint}")]
    SignIn { error: String, description: String, hint: String },

    #[error(
        "{api} request {method} {path} failed: {message}; check the network, proxy (HTTPS_PROXY) and PAMFORM_CA_CERT"
    )]
    Connection { api: Api, method: String, path: String, message: String },

    #[error(
        "{api} request {method} {path} may or may not have run: the connection dropped after it was sent; refresh and try again"
    )]
    OutcomeUnknown { api: Api, method: String, path: String },

    #[error(
        "{api} kept throttling after {attempts} attempts in {elapsed:?}; wait a few minutes and try again"
    )]
    Throttled { api: Api, attempts: u32, elapsed: Duration },

    #[error("{api} denied access (status {status}){detail}; grant {missing}")]
    Permission { api: Api, status: u16, missing: String, detail: String },

    #[error("{cmdlet} failed: {message}{}", class_suffix(.class))]
    Exchange { cmdlet: String, status: u16, class: String, message: String },

    #[error("graph {path} failed (status {status}): {code}: {message}")]
    Graph { path: String, status: u16, code: String, message: String },

    #[error("the graph delta link has expired; read everything again")]
    DeltaExpired,

    #[error("unexpected answer from {api} {path}: {message}")]
    Decode { api: Api, path: String, message: String },

    #[error("device sign-in {0}; run the login again")]
    DeviceCode(String),
}

fn class_suffix(class: &str) -> String {
    if class.is_empty() { String::new() } else { format!(" ({class})") }
}

impl TenantError {
    /// Whether Exchange said the object does not exist: by its class, or by status 404 when
    /// the body named none.
    pub fn is_not_found(&self) -> bool {
        match self {
            TenantError::Exchange { class, status, .. } => {
                class == exchange::class::NOT_FOUND
                    || class == exchange::class::MEMBER_NOT_FOUND
                    || (class.is_empty() && *status == 404)
            }
            TenantError::Graph { status, code, .. } => *status == 404 || code == graph::code::NOT_FOUND,
            _ => false,
        }
    }

    /// Whether Exchange said the object (or the membership) exists already.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, TenantError::Exchange { class, .. }
            if class == exchange::class::ALREADY_EXISTS || class == exchange::class::MEMBER_ALREADY_EXISTS)
    }

    /// Whether Exchange refused a listing's continuation (expired or unknown `$skiptoken`).
    pub fn is_pagination_expired(&self) -> bool {
        matches!(self, TenantError::Exchange { class, status: 400, .. } if class == exchange::class::PAGINATION)
    }

    /// Whether Exchange refused to change a group because the caller is not one of its
    /// owners and did not pass `-BypassSecurityGroupManagerCheck`.
    pub fn is_group_manager_required(&self) -> bool {
        matches!(self, TenantError::Exchange { class, .. } if class == exchange::class::GROUP_MANAGER_REQUIRED)
    }

    /// The exception class of an Exchange error.
    pub fn exchange_class(&self) -> Option<&str> {
        match self {
            TenantError::Exchange { class, .. } => Some(class),
            _ => None,
        }
    }
}

/// Printable text of a body that may be anything (NUL bytes, HTML): control characters
/// dropped, whitespace collapsed, at most 300 characters.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let cleaned: String = text.chars().filter(|c| !c.is_control() || *c == ' ').collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(300).collect();
    if collapsed.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Decodes a failed `InvokeCommand` answer. 401 and 403 name the permission and role the app
/// needs, unless the body says it was PAM itself that refused (an elevation error is a real
/// Exchange error, not a missing permission).
pub fn exchange_error(cmdlet: &str, status: u16, body: &[u8], app_only: bool) -> TenantError {
    let envelope: Option<exchange::ErrorEnvelope> = serde_json::from_slice(body).ok();
    let real = envelope.as_ref().and_then(|e| e.real_error());
    if let Some((class, _)) = &real
        && class == exchange::class::ELEVATION_REQUIRED
    {
        // Recognised by its class, whatever the status and the wording: PAM refused, so the
        // task needs an approved request, not another permission.
        let (class, said) = real.unwrap_or_default();
        let message = format!(
            "this task needs an approved request: privileged access management covers {cmdlet}; ask for access with `pamform request new` and run it again once approved (the service said: {said})"
        );
        return TenantError::Exchange { cmdlet: cmdlet.to_string(), status, class, message };
    }
    let denied = matches!(status, 401 | 403)
        || real.as_ref().is_some_and(|(class, _)| class == exchange::class::ACCESS_DENIED);
    if denied {
        let detail = match &real {
            Some((_, message)) if !message.is_empty() => format!(": {message}"),
            _ => {
                let text = body_excerpt(body);
                if text.is_empty() { String::new() } else { format!(": {text}") }
            }
        };
        let missing =
            if app_only { exchange::REQUIRED_APP_ACCESS } else { exchange::REQUIRED_USER_ACCESS }.to_string();
        return TenantError::Permission { api: Api::Exchange, status, missing, detail };
    }
    match (real, envelope) {
        (Some((class, message)), _) => {
            TenantError::Exchange { cmdlet: cmdlet.to_string(), status, class, message }
        }
        (None, Some(env)) => {
            let message =
                if env.error.message.is_empty() || env.error.message == exchange::GENERIC_ERROR_MESSAGE {
                    format!("the service gave no reason (status {status}, code {})", env.error.code)
                } else {
                    env.error.message
                };
            TenantError::Exchange { cmdlet: cmdlet.to_string(), status, class: String::new(), message }
        }
        (None, None) => {
            let text = body_excerpt(body);
            let message = if text.is_empty() {
                format!("status {status} with an empty or unreadable body")
            } else {
                format!("status {status}: {text}")
            };
            TenantError::Exchange { cmdlet: cmdlet.to_string(), status, class: String::new(), message }
        }
    }
}

/// Decodes a failed Graph answer (a whole response or one `$batch` item).
pub fn graph_error(path: &str, status: u16, body: &[u8]) -> TenantError {
    let envelope: Option<graph::ErrorEnvelope> = serde_json::from_slice(body).ok();
    let (code, message) = match envelope {
        Some(e) => (e.error.code, e.error.message),
        None => (String::new(), body_excerpt(body)),
    };
    if graph::is_delta_expired(status, &code) {
        return TenantError::DeltaExpired;
    }
    if matches!(status, 401 | 403) {
        let detail = if message.is_empty() { String::new() } else { format!(": {code} {message}") };
        return TenantError::Permission {
            api: Api::Graph,
            status,
            missing: format!(
                "the application permissions {} and {} (admin consent granted)",
                oauth::PERMISSION_GROUP_READ_ALL,
                oauth::PERMISSION_USER_READ_ALL
            ),
            detail,
        };
    }
    TenantError::Graph { path: path.to_string(), status, code, message }
}

/// Decodes a failed token request; the hint says which setting to check.
pub fn token_error(status: u16, body: &[u8]) -> TenantError {
    match serde_json::from_slice::<oauth::TokenError>(body) {
        Ok(e) => {
            let hint = if e.error_codes.contains(&oauth::aadsts::INVALID_CLIENT_SECRET) {
                "check PAMFORM_CLIENT_SECRET (it may have expired)"
            } else if e.error_codes.contains(&oauth::aadsts::APP_NOT_FOUND) {
                "check PAMFORM_CLIENT_ID and PAMFORM_TENANT_ID"
            } else if e.error_codes.contains(&oauth::aadsts::CONSENT_MISSING) {
                "grant admin consent for the app's permissions"
            } else {
                match e.error.as_str() {
                    oauth::ERROR_INVALID_CLIENT => {
                        "check the client id and its secret, certificate or federated token"
                    }
                    oauth::ERROR_UNAUTHORIZED_CLIENT => "check that the app is allowed this kind of sign-in",
                    _ => "check PAMFORM_TENANT_ID, PAMFORM_CLIENT_ID and the credential",
                }
            };
            TenantError::SignIn { error: e.error, description: e.error_description, hint: hint.to_string() }
        }
        Err(_) => TenantError::SignIn {
            error: format!("status {status}"),
            description: body_excerpt(body),
            hint: "check the login endpoint (tenant login_url) and PAMFORM_TENANT_ID".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error envelope as the service writes it (detailed layout, see
    /// `wire::exchange::envelope`).
    fn envelope(status: u16, class: &str, message: &str) -> Vec<u8> {
        use exchange::envelope as e;
        serde_json::to_vec(&serde_json::json!({"error": {
            "code": e::code_for_status(status), "message": e::GENERIC_MESSAGE,
            "details": [{"code": e::DETAIL_CODE_CLIENT, "target": "", "message": e::detail_message(class, message)}],
            "innererror": {"message": e::GENERIC_MESSAGE, "type": e::INNER_ERROR_TYPE, "stacktrace": "",
                "internalexception": {"message": message, "type": class, "stacktrace": ""}}
        }}))
        .unwrap()
    }

    #[test]
    fn exchange_errors_surface_the_real_message_and_class() {
        let body = envelope(404, exchange::class::NOT_FOUND, "object 'x' couldn't be found");
        let err = exchange_error("Get-DistributionGroup", 404, &body, true);
        assert!(err.is_not_found());
        let text = err.to_string();
        assert!(text.contains("object 'x' couldn't be found"), "{text}");
        assert!(text.contains(exchange::class::NOT_FOUND));
        assert!(!text.contains("Invalid Operation"));
        // A 404 whose body names no class is still not found.
        let bare = br#"{"error":{"code":"NotFound","message":"Invalid Operation"}}"#;
        assert!(exchange_error("Get-DistributionGroup", 404, bare, true).is_not_found());
    }

    #[test]
    fn exchange_errors_read_details_when_internalexception_is_missing() {
        let body = br#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"code":"Client","target":"","message":"|Some.Class|it broke"}]}}"#;
        let err = exchange_error("New-DistributionGroup", 400, body, true);
        assert_eq!(err.exchange_class(), Some("Some.Class"));
        assert!(err.to_string().contains("it broke"));
    }

    #[test]
    fn captured_envelopes_are_classified_by_class() {
        // Microsoft Q&A 1023619 (stack trace left out): no details, a System.Exception inside.
        let e = exchange::envelope::GENERIC_MESSAGE;
        let expired = serde_json::to_vec(&serde_json::json!({"error": {
            "code": exchange::envelope::code_for_status(400), "message": e,
            "innererror": {"message": e, "type": exchange::envelope::INNER_ERROR_TYPE, "stacktrace": "",
                "internalexception": {"message": exchange::PAGINATION_EXPIRED_MESSAGE,
                    "type": exchange::class::PAGINATION, "stacktrace": ""}}
        }}))
        .unwrap();
        assert!(exchange_error("Get-Mailbox", 400, &expired, true).is_pagination_expired());
        let body =
            envelope(400, exchange::class::GROUP_MANAGER_REQUIRED, exchange::GROUP_MANAGER_REQUIRED_MESSAGE);
        let err = exchange_error("Remove-DistributionGroup", 400, &body, true);
        assert!(err.is_group_manager_required() && !err.is_not_found());
    }

    #[test]
    fn nul_and_html_bodies_do_not_break_decoding() {
        let err = exchange_error("Get-OrganizationConfig", 403, &[0u8; 64], true);
        let text = err.to_string();
        assert!(text.contains("Exchange.ManageAsApp"), "{text}");
        assert!(text.contains("status 403"));
        let err = exchange_error("Get-OrganizationConfig", 500, b"<html>\0oops</html>", true);
        assert!(err.to_string().contains("<html>oops</html>"));
        let err = exchange_error("Get-OrganizationConfig", 502, b"", true);
        assert!(err.to_string().contains("empty or unreadable"));
    }

    #[test]
    fn elevation_errors_are_not_permission_errors() {
        // Whatever the status and the text, the class says PAM refused: the explanation is
        // about an approved request, never about the app's permissions.
        for (status, text) in [(403, "needs approval"), (400, "Zugriff verweigert"), (401, "")] {
            let body = envelope(status, exchange::class::ELEVATION_REQUIRED, text);
            let err = exchange_error("New-MoveRequest", status, &body, true);
            assert_eq!(err.exchange_class(), Some(exchange::class::ELEVATION_REQUIRED));
            let shown = err.to_string();
            assert!(shown.contains("needs an approved request") && !shown.contains("ManageAsApp"), "{shown}");
        }
    }

    #[test]
    fn graph_permission_and_delta_errors() {
        let env = graph::ErrorEnvelope::new(graph::code::FORBIDDEN, "Insufficient privileges");
        let err = graph_error("/v1.0/groups", 403, &serde_json::to_vec(&env).unwrap());
        assert!(err.to_string().contains("Group.Read.All"));
        let env = graph::ErrorEnvelope::new(graph::code::SYNC_STATE_NOT_FOUND, "gone");
        assert!(matches!(
            graph_error("/v1.0/groups/delta", 400, &serde_json::to_vec(&env).unwrap()),
            TenantError::DeltaExpired
        ));
        let env = graph::ErrorEnvelope::new(graph::code::NOT_FOUND, "no such user");
        assert!(graph_error("/v1.0/users/x", 404, &serde_json::to_vec(&env).unwrap()).is_not_found());
    }

    #[test]
    fn token_errors_name_the_setting_to_check() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#;
        let text = token_error(401, body).to_string();
        assert!(text.contains("PAMFORM_CLIENT_SECRET") && text.contains("AADSTS7000215"), "{text}");
        assert!(token_error(502, b"\0").to_string().contains("login_url"));
    }
}
