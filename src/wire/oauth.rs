//! OAuth2 (Microsoft identity platform v2.0): token and device-code endpoints. (**doc**)

use serde::{Deserialize, Serialize};

/// Public Microsoft cloud defaults. (**doc**)
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_EXCHANGE_URL: &str = "https://outlook.office365.com";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

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

pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const CLIENT_ASSERTION_TYPE_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Exchange Online PowerShell's public client, used for delegated sign-in. (**observed**)
pub const EXCHANGE_PUBLIC_CLIENT_ID: &str = "fb78d390-0c51-40cd-8e17-fdbfab77341b";

/// App role that lets an app call the Exchange admin API. (**doc**)
pub const PERMISSION_EXCHANGE_MANAGE_AS_APP: &str = "Exchange.ManageAsApp";
/// Graph application permissions pamform reads with. (**doc**)
pub const PERMISSION_GROUP_READ_ALL: &str = "Group.Read.All";
pub const PERMISSION_USER_READ_ALL: &str = "User.Read.All";

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

/// The error body of the token and device-code endpoints (status 400 or 401). (**doc**)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub trace_id: String,
    #[serde(default)]
    pub correlation_id: String,
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
pub const ERROR_UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";

/// `AADSTS` error codes in `error_codes`. (**doc**)
pub mod aadsts {
    pub const INVALID_CLIENT_SECRET: u64 = 7000215;
    pub const APP_NOT_FOUND: u64 = 700016;
    pub const TENANT_NOT_FOUND: u64 = 90002;
    pub const INVALID_SCOPE: u64 = 70011;
    pub const AUTHORIZATION_PENDING: u64 = 70016;
    pub const EXPIRED_TOKEN: u64 = 70020;
    pub const DECLINED: u64 = 70000;
    pub const UNSUPPORTED_GRANT_TYPE: u64 = 70003;
    pub const INVALID_REQUEST: u64 = 900144;
    pub const ASSERTION_INVALID_SIGNATURE: u64 = 700027;
    pub const ASSERTION_NOT_IN_TIME: u64 = 700024;
    pub const ASSERTION_BAD_AUDIENCE: u64 = 700212;
    pub const NO_FEDERATED_CREDENTIAL: u64 = 70021;
    pub const CERTIFICATE_NOT_REGISTERED: u64 = 700027;
    pub const INVALID_GRANT: u64 = 9002313;
    /// Admin consent for a requested permission is missing.
    pub const CONSENT_MISSING: u64 = 65001;
}

/// Audience of a federated (workload identity) assertion for Entra. (**doc**)
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Header of a certificate assertion naming the certificate's SHA-256 thumbprint. (**doc**)
pub const HEADER_X5T_S256: &str = "x5t#S256";

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

/// Lifetime we give client assertions. (**assumed**: Microsoft accepts up to 10 minutes.)
pub const ASSERTION_LIFETIME_SECS: i64 = 600;

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
}

/// Scopes added to a delegated sign-in: `offline_access` returns a refresh token that gets
/// tokens for the other resource, `openid profile` an ID token naming the user. (**doc**)
pub const DELEGATED_EXTRA_SCOPES: &str = "openid profile offline_access";

/// How much `slow_down` adds to the device-code polling interval. (**doc**, RFC 8628 §3.5)
pub const SLOW_DOWN_INCREMENT_SECS: u64 = 5;

/// The ID token that comes with a delegated token when `openid` was asked for. Unlike access
/// tokens, ID tokens are meant to be read by the client. (**doc**)
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
