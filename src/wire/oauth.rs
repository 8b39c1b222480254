//! OAuth2 and OpenID Connect (Microsoft identity platform v2.0): the token and device-code
//! endpoints, their error bodies and AADSTS codes, OIDC discovery and the signing keys, and the
//! claims of the tokens. (**doc** unless marked)
//!
//! Sources: the client credentials flow
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>, the
//! device authorization grant <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>,
//! certificate credentials <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>,
//! error codes <https://learn.microsoft.com/entra/identity-platform/reference-error-codes>, and the
//! captured answers under `tests/corpus/oauth/` (each names its source).

use serde::{Deserialize, Serialize};

/// Public Microsoft cloud defaults. (**doc**)
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_EXCHANGE_URL: &str = "https://outlook.office365.com";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// Tenant names the endpoints take besides a tenant's domain and id. (**doc**)
pub const TENANT_ALIASES: &[&str] = &["organizations", "common"];

/// Scope for an app-only or delegated token for a resource: `{resource}/.default`. (**doc**)
/// Always built from Microsoft's resource identifiers, never from an overridden endpoint URL,
/// because the audience of a token is the resource, not the host it is sent to.
pub const EXCHANGE_RESOURCE: &str = "https://outlook.office365.com";
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

pub fn default_scope(resource: &str) -> String {
    format!("{resource}/.default")
}

/// `{login_url}/{tenant}/oauth2/v2.0/token`
pub fn token_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

/// `{login_url}/{tenant}/oauth2/v2.0/devicecode`
pub fn devicecode_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/devicecode")
}

/// `{login_url}/{tenant}/v2.0/.well-known/openid-configuration`: the OIDC discovery document
/// every MSAL-based client reads before its first token request. (**doc**)
pub fn openid_configuration_path(tenant: &str) -> String {
    format!("/{tenant}/v2.0/.well-known/openid-configuration")
}

/// The fixed values of the discovery document (**observed**: the captured Entra document,
/// `github:panva/wellknown`, tests/corpus/oauth/openid-configuration.json).
pub mod discovery {
    pub const TOKEN_ENDPOINT_AUTH_METHODS: &[&str] =
        &["client_secret_post", "private_key_jwt", "client_secret_basic"];
    pub const RESPONSE_MODES: &[&str] = &["query", "fragment", "form_post"];
    pub const SUBJECT_TYPES: &[&str] = &["pairwise"];
    pub const ID_TOKEN_SIGNING_ALGS: &[&str] = &["RS256"];
    pub const RESPONSE_TYPES: &[&str] = &["code", "id_token", "code id_token", "id_token token"];
    pub const SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];
    pub const CLAIMS: &[&str] = &[
        "sub",
        "iss",
        "cloud_instance_name",
        "cloud_instance_host_name",
        "cloud_graph_host_name",
        "msgraph_host",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "acr",
        "nonce",
        "preferred_username",
        "name",
        "tid",
        "ver",
        "at_hash",
        "c_hash",
        "email",
    ];
    pub const CLOUD_INSTANCE_NAME: &str = "microsoftonline.com";
    pub const CLOUD_GRAPH_HOST_NAME: &str = "graph.windows.net";
    pub const MSGRAPH_HOST: &str = "graph.microsoft.com";
    pub const RBAC_URL: &str = "https://pas.windows.net";
    /// Where the document puts the user-info and Kerberos endpoints, under the login URL.
    pub const USERINFO_PATH: &str = "/oidc/userinfo";
    pub fn kerberos_path(tenant: &str) -> String {
        format!("/{tenant}/kerberos")
    }
}

/// `{login_url}/{tenant}/discovery/v2.0/keys`: the JSON Web Key Set that signs ID tokens.
/// (**observed**: `jwks_uri` of the captured discovery document)
pub fn jwks_path(tenant: &str) -> String {
    format!("/{tenant}/discovery/v2.0/keys")
}

/// `{login_url}/{tenant}/oauth2/v2.0/authorize` and `/logout`, named by the discovery document.
pub fn authorize_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/authorize")
}
pub fn logout_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/logout")
}

/// The `iss` of v2.0 tokens and of the discovery document: `{login_url}/{tenant_id}/v2.0`. (**doc**)
pub fn issuer(login_url: &str, tenant_id: &str) -> String {
    format!("{login_url}/{tenant_id}/v2.0")
}

/// The `error_uri` of an error body: `{login_url}/error?code={code}`. (**observed**)
pub fn error_uri(login_url: &str, code: u64) -> String {
    format!("{login_url}/error?code={code}")
}

/// `timestamp` of an error body and of its description's suffix: `2020-04-09 17:28:46Z`.
/// (**observed**)
pub const ERROR_TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%SZ";

/// `error_description` ends with the request's trace id, correlation id and time, each on a
/// line of its own (CRLF). (**observed**)
pub fn error_description(text: &str, trace_id: &str, correlation_id: &str, timestamp: &str) -> String {
    format!("{text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}")
}

pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const CLIENT_ASSERTION_TYPE_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Exchange Online PowerShell's public client, used for delegated sign-in. (**observed**)
pub const EXCHANGE_PUBLIC_CLIENT_ID: &str = "fb78d390-0c51-40cd-8e17-fdbfab77341b";
/// Its name on the sign-in and consent pages and in sign-in logs. (**observed**)
pub const EXCHANGE_PUBLIC_CLIENT_NAME: &str = "Microsoft Exchange REST API Based Powershell";

/// App role that lets an app call the Exchange admin API. (**doc**)
pub const PERMISSION_EXCHANGE_MANAGE_AS_APP: &str = "Exchange.ManageAsApp";
/// Graph application permissions pamform reads with. (**doc**)
pub const PERMISSION_GROUP_READ_ALL: &str = "Group.Read.All";
pub const PERMISSION_USER_READ_ALL: &str = "User.Read.All";

/// Application permissions of Office 365 Exchange Online (the resource
/// `https://outlook.office365.com`); every other application permission pamform knows is
/// Microsoft Graph's. A token carries only the `roles` of its own audience. (**doc**:
/// <https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2> and
/// <https://learn.microsoft.com/exchange/client-developer/exchange-web-services/how-to-authenticate-an-ews-application-by-using-oauth>)
pub const EXCHANGE_APP_ROLES: &[&str] = &[PERMISSION_EXCHANGE_MANAGE_AS_APP, "full_access_as_app"];

/// The resource whose token carries application permission `role`.
pub fn resource_of_role(role: &str) -> &'static str {
    if EXCHANGE_APP_ROLES.iter().any(|r| r.eq_ignore_ascii_case(role)) {
        EXCHANGE_RESOURCE
    } else {
        GRAPH_RESOURCE
    }
}

/// The suffix of a client credentials scope: `{resource}/.default`. (**doc**)
pub const DEFAULT_SCOPE_SUFFIX: &str = "/.default";
/// OpenID Connect scopes that name no resource. (**doc**)
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "offline_access", "email"];

/// A successful token response. (**doc**)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token_type: String,
    pub expires_in: u64,
    /// Sent with app-only tokens: how long the token stays usable during an outage of the
    /// token service. (**doc**: the client credentials flow's response example)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_expires_in: Option<u64>,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The ID token naming the user, for delegated sign-ins that asked for `openid`. (**doc**)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The error body of the token and device-code endpoints (status 400 or 401), as the client
/// reads it: `error`, `error_description` (ending with the trace/correlation/time suffix),
/// `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`. (**doc**, **observed**)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub trace_id: String,
    #[serde(default)]
    pub correlation_id: String,
    #[serde(default)]
    pub error_uri: String,
}

/// Token endpoint `error` values pamform reacts to. (**doc**)
pub const ERROR_AUTHORIZATION_PENDING: &str = "authorization_pending";
pub const ERROR_SLOW_DOWN: &str = "slow_down";
pub const ERROR_EXPIRED_TOKEN: &str = "expired_token";
pub const ERROR_AUTHORIZATION_DECLINED: &str = "authorization_declined";
pub const ERROR_INVALID_CLIENT: &str = "invalid_client";
pub const ERROR_INVALID_GRANT: &str = "invalid_grant";
pub const ERROR_INVALID_REQUEST: &str = "invalid_request";
pub const ERROR_UNAUTHORIZED_CLIENT: &str = "unauthorized_client";

pub const ERROR_INVALID_SCOPE: &str = "invalid_scope";
pub const ERROR_INVALID_RESOURCE: &str = "invalid_resource";
pub const ERROR_UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
pub const ERROR_BAD_VERIFICATION_CODE: &str = "bad_verification_code";
pub const ERROR_TEMPORARILY_UNAVAILABLE: &str = "temporarily_unavailable";

/// `AADSTS` error codes in `error_codes`. Names after the error code reference; which refusal
/// carries which code is marked per code.
pub mod aadsts {
    /// `invalid_client`, 401. (**observed**: tests/corpus/oauth/error-invalid-client-secret.json)
    pub const INVALID_CLIENT_SECRET: u64 = 7000215;
    /// `unauthorized_client`, 400. (**observed**: tests/corpus/oauth/error-unknown-app.json)
    pub const APP_NOT_FOUND: u64 = 700016;
    /// `invalid_request`, 400. (**observed**: tests/corpus/oauth/error-tenant-not-found.json)
    pub const TENANT_NOT_FOUND: u64 = 90002;
    /// `invalid_scope`, 400: a scope is not valid, or scopes of two resources in one request.
    /// (**doc**, **observed**)
    pub const INVALID_SCOPE: u64 = 70011;
    /// `invalid_scope`, 400: a client credentials scope without `/.default`. (**doc**)
    pub const SCOPE_NOT_DEFAULT: u64 = 1002012;
    /// `invalid_resource`, 400: no service principal for the resource in the tenant. (**doc**)
    pub const RESOURCE_NOT_FOUND: u64 = 500011;
    /// `authorization_pending`, 400. (**observed**: tests/corpus/oauth/devicecode-pending.json)
    pub const AUTHORIZATION_PENDING: u64 = 70016;
    /// `expired_token`, 400: "This device code has expired." (**observed**:
    /// tests/corpus/oauth/devicecode-expired.json; the code reference's 70019 "CodeExpired" is
    /// the user code typed in the browser, not the polled device code)
    pub const EXPIRED_TOKEN: u64 = 70020;
    /// `bad_verification_code`, 400: BadVerificationCode. (**doc** name; **assumed** to be the
    /// code for an unknown device code)
    pub const BAD_VERIFICATION_CODE: u64 = 70018;
    /// `authorization_declined`, 400. (**assumed**: no capture of a declined sign-in was found)
    pub const DECLINED: u64 = 70000;
    pub const UNSUPPORTED_GRANT_TYPE: u64 = 70003;
    /// A required form parameter is missing. (**doc**)
    pub const INVALID_REQUEST: u64 = 900144;
    /// Neither `client_secret` nor `client_assertion`. (**doc**)
    pub const MISSING_CREDENTIAL: u64 = 7000218;
    /// `invalid_client`, 401: the assertion's signature, or a certificate that is not
    /// registered. (**doc**)
    pub const ASSERTION_INVALID_SIGNATURE: u64 = 700027;
    /// `invalid_client`, 401: the assertion's `exp` has passed or its `nbf` is ahead. (**doc**)
    pub const ASSERTION_NOT_IN_TIME: u64 = 700024;
    /// `invalid_client`, 401: the assertion's `aud` is not the token endpoint. (**doc**)
    pub const ASSERTION_BAD_AUDIENCE: u64 = 700212;
    /// `unauthorized_client`, 401. (**observed**: tests/corpus/oauth/error-no-federated-credential.json)
    pub const NO_FEDERATED_CREDENTIAL: u64 = 70021;
    /// `invalid_grant`: an unknown or revoked refresh token. (**doc**)
    pub const INVALID_GRANT: u64 = 9002313;
    /// Admin consent for a requested permission is missing.
    pub const CONSENT_MISSING: u64 = 65001;
}

/// One refusal of the token or device-code endpoint: its `error`, AADSTS code, HTTP status and
/// the text of `error_description` (`{}` are filled in order). Codes and statuses are marked in
/// [`aadsts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub code: u64,
    pub status: u16,
    pub text: &'static str,
}

impl Refusal {
    /// `AADSTS{code}: {text}` with the blanks filled in.
    pub fn describe(&self, args: &[&str]) -> String {
        let mut out = format!("AADSTS{}: ", self.code);
        let mut rest = self.text;
        let mut args = args.iter();
        while let Some(at) = rest.find("{}") {
            out.push_str(&rest[..at]);
            out.push_str(args.next().copied().unwrap_or_default());
            rest = &rest[at + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// The refusals the emulator gives and the client recognises.
pub mod refusal {
    use super::{Refusal, aadsts};

    pub const INVALID_CLIENT_SECRET: Refusal = Refusal {
        error: super::ERROR_INVALID_CLIENT,
        code: aadsts::INVALID_CLIENT_SECRET,
        status: 401,
        text: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
    };
    pub const APP_NOT_FOUND: Refusal = Refusal {
        error: super::ERROR_UNAUTHORIZED_CLIENT,
        code: aadsts::APP_NOT_FOUND,
        status: 400,
        text: "Application with identifier '{}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
    };
    pub const TENANT_NOT_FOUND: Refusal = Refusal {
        error: super::ERROR_INVALID_REQUEST,
        code: aadsts::TENANT_NOT_FOUND,
        status: 400,
        text: "Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
    };
    pub const INVALID_SCOPE: Refusal = Refusal {
        error: super::ERROR_INVALID_SCOPE,
        code: aadsts::INVALID_SCOPE,
        status: 400,
        text: "The provided value for the input parameter 'scope' is not valid. The scope {} is not valid.",
    };
    pub const SCOPES_INCOMPATIBLE: Refusal = Refusal {
        error: super::ERROR_INVALID_SCOPE,
        code: aadsts::INVALID_SCOPE,
        status: 400,
        text: "The provided value for the input parameter 'scope' is not valid. One or more scopes in '{}' are not compatible with each other.",
    };
    pub const SCOPE_NOT_DEFAULT: Refusal = Refusal {
        error: super::ERROR_INVALID_SCOPE,
        code: aadsts::SCOPE_NOT_DEFAULT,
        status: 400,
        text: "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
    };
    pub const RESOURCE_NOT_FOUND: Refusal = Refusal {
        error: super::ERROR_INVALID_RESOURCE,
        code: aadsts::RESOURCE_NOT_FOUND,
        status: 400,
        text: "The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
    };
    pub const AUTHORIZATION_PENDING: Refusal = Refusal {
        error: super::ERROR_AUTHORIZATION_PENDING,
        code: aadsts::AUTHORIZATION_PENDING,
        status: 400,
        text: "The provided request has not yet been authorized by the user. The user must input their code.",
    };
    pub const EXPIRED_TOKEN: Refusal = Refusal {
        error: super::ERROR_EXPIRED_TOKEN,
        code: aadsts::EXPIRED_TOKEN,
        status: 400,
        text: "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
    };
    pub const BAD_VERIFICATION_CODE: Refusal = Refusal {
        error: super::ERROR_BAD_VERIFICATION_CODE,
        code: aadsts::BAD_VERIFICATION_CODE,
        status: 400,
        text: "The provided value for the input parameter 'device_code' is not valid.",
    };
    pub const DECLINED: Refusal = Refusal {
        error: super::ERROR_AUTHORIZATION_DECLINED,
        code: aadsts::DECLINED,
        status: 400,
        text: "The user has declined the authorization request.",
    };
    pub const UNSUPPORTED_GRANT_TYPE: Refusal = Refusal {
        error: super::ERROR_UNSUPPORTED_GRANT_TYPE,
        code: aadsts::UNSUPPORTED_GRANT_TYPE,
        status: 400,
        text: "The provided value for the 'grant_type' is not valid: '{}'.",
    };
    pub const MISSING_PARAMETER: Refusal = Refusal {
        error: super::ERROR_INVALID_REQUEST,
        code: aadsts::INVALID_REQUEST,
        status: 400,
        text: "The request body must contain the following parameter: '{}'.",
    };
    pub const MISSING_CREDENTIAL: Refusal = Refusal {
        error: super::ERROR_INVALID_CLIENT,
        code: aadsts::MISSING_CREDENTIAL,
        status: 401,
        text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    };
    pub const ASSERTION_INVALID: Refusal = Refusal {
        error: super::ERROR_INVALID_CLIENT,
        code: aadsts::ASSERTION_INVALID_SIGNATURE,
        status: 401,
        text: "Client assertion contains an invalid signature. {}",
    };
    pub const ASSERTION_NOT_IN_TIME: Refusal = Refusal {
        error: super::ERROR_INVALID_CLIENT,
        code: aadsts::ASSERTION_NOT_IN_TIME,
        status: 401,
        text: "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
    };
    pub const ASSERTION_BAD_AUDIENCE: Refusal = Refusal {
        error: super::ERROR_INVALID_CLIENT,
        code: aadsts::ASSERTION_BAD_AUDIENCE,
        status: 401,
        text: "Invalid audience claim (aud) in the client assertion; it must be the token endpoint '{}'.",
    };
    pub const NO_FEDERATED_CREDENTIAL: Refusal = Refusal {
        error: super::ERROR_UNAUTHORIZED_CLIENT,
        code: aadsts::NO_FEDERATED_CREDENTIAL,
        status: 401,
        text: "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation",
    };
    pub const INVALID_REFRESH_TOKEN: Refusal = Refusal {
        error: super::ERROR_INVALID_GRANT,
        code: aadsts::INVALID_GRANT,
        status: 400,
        text: "Invalid request. Request is malformed or invalid: the refresh token is not valid.",
    };
    /// Too many requests for the tenant, with `Retry-After`: TenantThrottlingError. (**doc**
    /// code name; **assumed** `error` and status)
    pub const THROTTLED: Refusal = Refusal {
        error: super::ERROR_TEMPORARILY_UNAVAILABLE,
        code: 90055,
        status: 429,
        text: "There are too many incoming requests. Please try again later.",
    };
    /// An injected server failure of the token endpoint (5xx). (**assumed** wording)
    pub const SERVER_ERROR: Refusal = Refusal {
        error: super::ERROR_TEMPORARILY_UNAVAILABLE,
        code: 90033,
        status: 503,
        text: "A transient error has occurred. Please try again.",
    };
}

/// Audience of a federated (workload identity) assertion for Entra. (**doc**)
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Header of a certificate assertion naming the certificate's SHA-256 thumbprint, signed
/// PS256. (**doc**) The service also takes the older form, header `x5t` (SHA-1 thumbprint)
/// signed RS256: what azure-identity sends, and MSAL for a certificate given without its public
/// certificate. Both libraries send the base64url value padded (`=`). (**doc**: the RS256
/// variant of certificate credentials; **observed** in the libraries' sources)
pub const HEADER_X5T_S256: &str = "x5t#S256";

/// Device-code lifetime and polling interval. (**observed**: 900 s and 5 s in
/// tests/corpus/oauth/devicecode-start.json)
pub const DEVICE_CODE_LIFETIME_SECS: u64 = 900;
pub const DEVICE_CODE_INTERVAL_SECS: u64 = 5;
/// The user code: upper-case letters and digits, 8 or 9 of them (`YZMYLD4K`, `BPPVYQZMA`,
/// `FQK5HW3UF` in public captures). (**observed**; leaving out the look-alikes 0, 1, I and O is
/// **assumed**)
pub const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const USER_CODE_LEN: usize = 9;
/// The device-code answer's `message`. (**observed**)
pub fn device_code_message(verification_uri: &str, user_code: &str) -> String {
    format!(
        "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
    )
}

/// Device-code response. (**doc**)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceCodeResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
    pub message: String,
}

/// Lifetime we give client assertions. (**doc**: "keep it short - 5-10 minutes after nbf at
/// most. Microsoft Entra ID doesn't place restrictions on the exp time currently.", so the
/// service refuses only an assertion whose `exp` has passed or whose `nbf` is ahead)
pub const ASSERTION_LIFETIME_SECS: i64 = 600;
/// Clock skew the service allows on assertion times. (**assumed**)
pub const ASSERTION_SKEW_SECS: i64 = 300;

/// Claims of a client assertion: `aud` = token URL, `iss` = `sub` = client id. (**doc**)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub aud: String,
    pub iss: String,
    pub sub: String,
    pub jti: String,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// Claims of the access tokens the emulator issues. Real Microsoft tokens are opaque to
/// clients (**doc**: clients must not parse them); pamform never reads these claims, only the
/// emulator does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub aud: String,
    /// `{login_url}/{tenant_id}/v2.0`.
    #[serde(default)]
    pub iss: String,
    pub tid: String,
    pub exp: i64,
    pub iat: i64,
    /// App id of the client.
    pub appid: String,
    /// Application permissions (app-only tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Signed-in user (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    /// Delegated permissions granted (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
}

/// Scopes added to a delegated sign-in: `offline_access` returns a refresh token that gets
/// tokens for the other resource, `openid profile` an ID token naming the user. (**doc**)
pub const DELEGATED_EXTRA_SCOPES: &str = "openid profile offline_access";

/// How much `slow_down` adds to the device-code polling interval. (**doc**, RFC 8628 §3.5)
pub const SLOW_DOWN_INCREMENT_SECS: u64 = 5;

/// The ID token that comes with a delegated token when `openid` was asked for. Unlike access
/// tokens, ID tokens are meant to be read by the client; pamform reads the user's name. (**doc**:
/// <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdTokenClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
}

/// The `id_token` field of a token response (present only for delegated sign-ins with
/// `openid`). Kept apart from [`TokenResponse`] so both can be read from one body. (**doc**)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Reads the claims of an ID token (a JWT) without checking its signature: the client got it
/// straight from the token endpoint over TLS and uses it only to name the signed-in user.
pub fn decode_id_token(id_token: &str) -> Option<IdTokenClaims> {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_fill_their_blanks_in_order() {
        let text = refusal::APP_NOT_FOUND.describe(&["app-1", "contoso.onmicrosoft.com"]);
        assert!(text.starts_with("AADSTS700016: Application with identifier 'app-1' was not found in the directory 'contoso.onmicrosoft.com'."), "{text}");
        assert_eq!(
            refusal::MISSING_PARAMETER.describe(&[]),
            "AADSTS900144: The request body must contain the following parameter: ''."
        );
        let d = error_description("AADSTS1: x", "t", "c", "2026-01-01 00:00:00Z");
        assert_eq!(d, "AADSTS1: x\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z");
    }

    #[test]
    fn roles_belong_to_one_audience() {
        assert_eq!(resource_of_role(PERMISSION_EXCHANGE_MANAGE_AS_APP), EXCHANGE_RESOURCE);
        assert_eq!(resource_of_role(PERMISSION_GROUP_READ_ALL), GRAPH_RESOURCE);
    }
}
