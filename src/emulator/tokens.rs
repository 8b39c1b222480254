//! The identity platform: the token endpoint (client secret, certificate assertion, federated
//! assertion, device code, refresh token), the device-code endpoint, and the signing and
//! checking of the access tokens the Exchange and Graph endpoints accept.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::seed::{SeedApp, secret_hash};
use super::store::{DeviceCode, DeviceState, RefreshGrant, Shared};
use super::sync::lock;
use crate::model::normalize;
use crate::wire::oauth::{self, AccessTokenClaims, TokenError, TokenResponse, aadsts};

/// Who is calling, from a checked access token.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// App-only: the application (client) id and its application permissions.
    App { client_id: String, roles: Vec<String> },
    /// Delegated: the signed-in user.
    User { upn: String },
}

impl Caller {
    /// Name PAM compares with system accounts: UPN, or application id for app-only calls.
    pub fn principal(&self) -> String {
        match self {
            Caller::App { client_id, .. } => normalize::principal(client_id),
            Caller::User { upn } => normalize::principal(upn),
        }
    }
}

/// Lifetime of device codes and the polling interval. (**assumed** values for the emulator;
/// the service uses 900 s and 5 s)
const DEVICE_CODE_SECS: i64 = 900;
const DEVICE_POLL_SECS: u64 = 1;
/// Clock skew allowed on assertion `nbf`/`exp`.
const SKEW_SECS: i64 = 60;

pub(crate) fn token_error(status: StatusCode, error: &str, code: u64, description: &str) -> Response {
    let body = TokenError {
        error: error.to_string(),
        error_description: format!("AADSTS{code}: {description}"),
        error_codes: vec![code],
        trace_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
    };
    (status, axum::Json(body)).into_response()
}

fn bad(error: &str, code: u64, description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, error, code, description)
}

fn unauthorized_client(code: u64, description: &str) -> Response {
    token_error(StatusCode::UNAUTHORIZED, oauth::ERROR_INVALID_CLIENT, code, description)
}

fn app_not_found(client_id: &str) -> Response {
    unauthorized_client(
        aadsts::APP_NOT_FOUND,
        &format!("Application with identifier '{client_id}' was not found in the directory."),
    )
}

fn invalid_scope() -> Response {
    bad(
        oauth::ERROR_INVALID_SCOPE,
        aadsts::INVALID_SCOPE,
        "The provided value for the input parameter 'scope' is not valid; ask for '<resource>/.default' of Exchange or Graph.",
    )
}

/// The resource a scope list asks for (`https://outlook.office365.com/.default`, ...).
fn resource_of(scope: Option<&String>) -> Option<String> {
    let scope = scope?;
    scope.split_whitespace().find_map(|s| {
        [oauth::EXCHANGE_RESOURCE, oauth::GRAPH_RESOURCE].into_iter().find_map(|r| {
            let rest = s.strip_prefix(r)?;
            (rest.is_empty() || rest.starts_with('/')).then(|| r.to_string())
        })
    })
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn tenant_known(shared: &Shared, tenant: &str) -> bool {
    shared.tenant_matches(tenant)
        || tenant.eq_ignore_ascii_case("organizations")
        || tenant.eq_ignore_ascii_case("common")
}

/// The form of a token or device-code request and its `client_id`, once the tenant is known.
fn parse_form(
    shared: &Shared,
    tenant: &str,
    body: &[u8],
) -> Result<(HashMap<String, String>, String), Box<Response>> {
    if !tenant_known(shared, tenant) {
        return Err(Box::new(bad(
            oauth::ERROR_INVALID_REQUEST,
            aadsts::TENANT_NOT_FOUND,
            &format!("Tenant '{tenant}' not found."),
        )));
    }
    let f = form(body);
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    Ok((f, client_id))
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub(crate) fn token(shared: &Arc<Shared>, tenant: &str, body: &[u8]) -> Response {
    let (f, client_id) = match parse_form(shared, tenant, body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match f.get("grant_type").map(String::as_str) {
        Some(oauth::GRANT_CLIENT_CREDENTIALS) => client_credentials(shared, tenant, &f, &client_id),
        Some(oauth::GRANT_DEVICE_CODE) => device_code_grant(shared, &f, &client_id),
        Some(oauth::GRANT_REFRESH_TOKEN) => refresh_grant(shared, &f, &client_id),
        Some(other) => bad(
            oauth::ERROR_UNSUPPORTED_GRANT_TYPE,
            aadsts::UNSUPPORTED_GRANT_TYPE,
            &format!("The provided value for the 'grant_type' is not valid: '{other}'."),
        ),
        None => bad(
            oauth::ERROR_INVALID_REQUEST,
            aadsts::INVALID_REQUEST,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
    }
}

fn client_credentials(
    shared: &Arc<Shared>,
    tenant: &str,
    f: &HashMap<String, String>,
    client_id: &str,
) -> Response {
    let app = {
        let t = lock(&shared.tenant);
        t.data.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id)).cloned()
    };
    let Some(app) = app else {
        return app_not_found(client_id);
    };
    let Some(resource) = resource_of(f.get("scope")) else {
        return invalid_scope();
    };
    if let Some(secret) = f.get("client_secret") {
        if app.secret_sha256.as_deref() != Some(secret_hash(secret).as_str()) {
            return unauthorized_client(
                aadsts::INVALID_CLIENT_SECRET,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
    } else if let Some(assertion) = f.get("client_assertion") {
        if f.get("client_assertion_type").map(String::as_str) != Some(oauth::CLIENT_ASSERTION_TYPE_JWT) {
            return bad(
                oauth::ERROR_INVALID_REQUEST,
                aadsts::INVALID_REQUEST,
                "The 'client_assertion_type' must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
            );
        }
        if let Err(Refusal(code, message)) = check_assertion(shared, tenant, &app, assertion) {
            return unauthorized_client(code, &message);
        }
    } else {
        return bad(
            oauth::ERROR_INVALID_CLIENT,
            aadsts::INVALID_REQUEST,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let claims = AccessTokenClaims {
        aud: resource.clone(),
        tid: String::new(),
        exp: 0,
        iat: 0,
        appid: app.client_id.clone(),
        roles: app.permissions.clone(),
        upn: None,
        oid: None,
    };
    issue(shared, claims, None, None)
}

/// Signs an access token (HS256) with the emulator's key and answers the token response.
fn issue(
    shared: &Arc<Shared>,
    mut claims: AccessTokenClaims,
    refresh: Option<String>,
    id_token: Option<String>,
) -> Response {
    let lifetime = shared.faults().token_lifetime_secs;
    let now = shared.now().timestamp();
    claims.iat = now;
    claims.exp = now + lifetime as i64;
    claims.tid = lock(&shared.tenant).data.tenant.id.clone();
    // App-only answers carry ext_expires_in and no scope; delegated ones name the scope.
    let delegated = claims.upn.is_some();
    let scope = delegated.then(|| format!("{}/.default", claims.aud));
    match jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&shared.key),
    ) {
        Ok(access_token) => axum::Json(TokenResponse {
            token_type: "Bearer".into(),
            expires_in: lifetime,
            ext_expires_in: (!delegated).then_some(lifetime),
            access_token,
            refresh_token: refresh,
            scope,
            id_token,
        })
        .into_response(),
        Err(e) => token_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            0,
            &format!("could not sign the token: {e}"),
        ),
    }
}

/// Lenient view of assertion claims: `aud` may be a string or an array.
#[derive(Debug, Deserialize)]
struct AnyClaims {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    sub: String,
    #[serde(default)]
    aud: serde_json::Value,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
}

fn aud_contains(aud: &serde_json::Value, want: &[String]) -> bool {
    match aud {
        serde_json::Value::String(s) => want.iter().any(|w| w.eq_ignore_ascii_case(s)),
        serde_json::Value::Array(a) => a.iter().any(|v| aud_contains(v, want)),
        _ => false,
    }
}

/// Why an assertion was refused: AADSTS code and description.
struct Refusal(u64, String);

fn refuse(code: u64, message: &str) -> Refusal {
    Refusal(code, message.to_string())
}

fn check_times(shared: &Shared, c: &AnyClaims) -> Result<(), Refusal> {
    let now = shared.now().timestamp();
    let exp_ok = c.exp.is_some_and(|e| e + SKEW_SECS > now);
    let nbf_ok = c.nbf.is_none_or(|n| n - SKEW_SECS <= now);
    if exp_ok && nbf_ok {
        Ok(())
    } else {
        Err(refuse(aadsts::ASSERTION_NOT_IN_TIME, "Client assertion is not within its valid time range."))
    }
}

/// Checks a certificate assertion (header `x5t#S256` names a registered certificate) or a
/// federated assertion (issuer and subject match a registered federated credential).
fn check_assertion(
    shared: &Arc<Shared>,
    tenant: &str,
    app: &SeedApp,
    assertion: &str,
) -> Result<(), Refusal> {
    let invalid = |m: &str| refuse(aadsts::ASSERTION_INVALID_SIGNATURE, m);
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid("The client assertion is not a well-formed JWT."))?;
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    if let Some(thumb) = header.x5t_s256.as_deref() {
        if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
            return Err(invalid("Client assertion must be signed with PS256."));
        }
        let cert = app.certificates.iter().find(|pem| cert_thumbprint(pem).as_deref() == Some(thumb));
        let Some(cert) = cert else {
            return Err(refuse(
                aadsts::CERTIFICATE_NOT_REGISTERED,
                &format!(
                    "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumb}']"
                ),
            ));
        };
        let key = DecodingKey::from_rsa_pem(cert.as_bytes())
            .map_err(|_| invalid("The registered certificate could not be read."))?;
        let data = jsonwebtoken::decode::<AnyClaims>(assertion, &key, &v)
            .map_err(|_| invalid("Client assertion contains an invalid signature."))?;
        let c = data.claims;
        let urls: Vec<String> = {
            let t = lock(&shared.tenant);
            [tenant.to_string(), t.data.tenant.domain.clone(), t.data.tenant.id.clone()]
                .iter()
                .map(|x| format!("{}{}", shared.base_url, oauth::token_path(x)))
                .collect()
        };
        if !aud_contains(&c.aud, &urls) {
            return Err(refuse(
                aadsts::ASSERTION_BAD_AUDIENCE,
                "The audience claim in the client assertion must be the token endpoint URL.",
            ));
        }
        if !c.iss.eq_ignore_ascii_case(&app.client_id) || !c.sub.eq_ignore_ascii_case(&app.client_id) {
            return Err(invalid("The client assertion's iss and sub must be the client id."));
        }
        return check_times(shared, &c);
    }
    // Federated: the external token's iss/sub/aud must match a registered credential.
    let data = jsonwebtoken::dangerous::insecure_decode::<AnyClaims>(assertion)
        .map_err(|_| invalid("The client assertion is not a well-formed JWT."))?;
    let c = data.claims;
    let cred = app.federated_credentials.iter().find(|f| {
        f.issuer == c.iss && f.subject == c.sub && aud_contains(&c.aud, std::slice::from_ref(&f.audience))
    });
    let Some(cred) = cred else {
        return Err(refuse(
            aadsts::NO_FEDERATED_CREDENTIAL,
            &format!(
                "No matching federated identity record found for presented assertion issuer '{}' and subject '{}'.",
                c.iss, c.sub
            ),
        ));
    };
    if let Some(pem) = &cred.public_key_pem {
        let key = DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| invalid("The federated credential's key could not be read."))?;
        jsonwebtoken::decode::<AnyClaims>(assertion, &key, &v)
            .map_err(|_| invalid("Federated assertion contains an invalid signature."))?;
    }
    check_times(shared, &c)
}

/// base64url (no padding) SHA-256 of the DER certificate in a PEM.
pub fn cert_thumbprint(pem: &str) -> Option<String> {
    use base64::Engine;
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    let der = rustls_pemfile::certs(&mut reader).next()?.ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der.as_ref())))
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`
pub(crate) fn devicecode(shared: &Arc<Shared>, tenant: &str, body: &[u8]) -> Response {
    let (f, client_id) = match parse_form(shared, tenant, body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let known = client_id.eq_ignore_ascii_case(oauth::EXCHANGE_PUBLIC_CLIENT_ID)
        || lock(&shared.tenant).data.apps.iter().any(|a| a.client_id.eq_ignore_ascii_case(&client_id));
    if !known {
        return app_not_found(&client_id);
    }
    let Some(resource) = resource_of(f.get("scope")) else {
        return invalid_scope();
    };
    let device_code = uuid::Uuid::new_v4().simple().to_string();
    let user_code: String = {
        let n: u64 = rand::random::<u64>() % 1_000_000_000;
        format!("EMU{n:09}")
    };
    let code = DeviceCode {
        user_code: user_code.clone(),
        client_id,
        resource,
        expires: shared.now() + Duration::seconds(DEVICE_CODE_SECS),
        state: DeviceState::Pending,
    };
    lock(&shared.device_codes).insert(device_code.clone(), code);
    let verification_uri = format!("{}/_emulator/devicelogin", shared.base_url);
    axum::Json(oauth::DeviceCodeResponse {
        message: format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."
        ),
        device_code,
        user_code,
        verification_uri,
        expires_in: DEVICE_CODE_SECS as u64,
        interval: DEVICE_POLL_SECS,
    })
    .into_response()
}

fn device_code_grant(shared: &Arc<Shared>, f: &HashMap<String, String>, client_id: &str) -> Response {
    let code = f.get("device_code").cloned().unwrap_or_default();
    let entry = lock(&shared.device_codes).get(&code).cloned();
    let Some(entry) = entry.filter(|e| e.client_id.eq_ignore_ascii_case(client_id)) else {
        return bad(
            oauth::ERROR_INVALID_GRANT,
            aadsts::INVALID_GRANT,
            "The provided device code is not valid.",
        );
    };
    if shared.now() > entry.expires {
        lock(&shared.device_codes).remove(&code);
        return bad(
            oauth::ERROR_EXPIRED_TOKEN,
            aadsts::EXPIRED_TOKEN,
            "The provided authorization code or refresh token has expired due to inactivity.",
        );
    }
    match entry.state {
        DeviceState::Pending => bad(
            oauth::ERROR_AUTHORIZATION_PENDING,
            aadsts::AUTHORIZATION_PENDING,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
        DeviceState::Declined => {
            lock(&shared.device_codes).remove(&code);
            bad(oauth::ERROR_AUTHORIZATION_DECLINED, aadsts::DECLINED, "The user declined the sign-in.")
        }
        DeviceState::Approved(upn) => {
            lock(&shared.device_codes).remove(&code);
            delegated(shared, &entry.client_id, &upn, &entry.resource)
        }
    }
}

fn refresh_grant(shared: &Arc<Shared>, f: &HashMap<String, String>, client_id: &str) -> Response {
    let rt = f.get("refresh_token").cloned().unwrap_or_default();
    let grant = lock(&shared.refresh_tokens).get(&rt).cloned();
    let Some(grant) = grant.filter(|g| g.client_id.eq_ignore_ascii_case(client_id)) else {
        return bad(oauth::ERROR_INVALID_GRANT, aadsts::INVALID_GRANT, "The refresh token is not valid.");
    };
    let Some(resource) = resource_of(f.get("scope")) else {
        return invalid_scope();
    };
    delegated(shared, &grant.client_id, &grant.upn, &resource)
}

fn delegated(shared: &Arc<Shared>, client_id: &str, upn: &str, resource: &str) -> Response {
    let oid = lock(&shared.tenant)
        .data
        .users
        .iter()
        .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
        .map(|u| u.id.clone());
    let refresh = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    lock(&shared.refresh_tokens)
        .insert(refresh.clone(), RefreshGrant { client_id: client_id.to_string(), upn: upn.to_string() });
    // The ID token names the user, as the service's does for a sign-in with `openid`.
    let id_claims = oauth::IdTokenClaims {
        preferred_username: Some(upn.to_string()),
        upn: Some(upn.to_string()),
        oid: oid.clone(),
        tid: Some(lock(&shared.tenant).data.tenant.id.clone()),
    };
    let id_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &id_claims,
        &EncodingKey::from_secret(&shared.key),
    )
    .ok();
    let claims = AccessTokenClaims {
        aud: resource.to_string(),
        tid: String::new(),
        exp: 0,
        iat: 0,
        appid: client_id.to_string(),
        roles: Vec::new(),
        upn: Some(upn.to_string()),
        oid,
    };
    issue(shared, claims, Some(refresh), id_token)
}

/// Approves (or declines) a device code as a user; the message says what went wrong.
pub(crate) fn approve_device_code(
    shared: &Shared,
    user_code: &str,
    user: &str,
    decline: bool,
) -> Result<(), String> {
    let upn = {
        let t = lock(&shared.tenant);
        let key = normalize::principal(user);
        t.data
            .users
            .iter()
            .find(|u| {
                normalize::principal(&u.user_principal_name) == key
                    || u.mail.as_deref().map(normalize::principal).as_deref() == Some(key.as_str())
            })
            .map(|u| u.user_principal_name.clone())
            .ok_or_else(|| format!("no user '{user}' in the tenant; use a seeded user principal name"))?
    };
    let mut codes = lock(&shared.device_codes);
    let entry =
        codes.values_mut().find(|c| c.user_code.eq_ignore_ascii_case(user_code)).ok_or_else(|| {
            format!("no pending device code '{user_code}'; request one from the devicecode endpoint first")
        })?;
    entry.state = if decline { DeviceState::Declined } else { DeviceState::Approved(upn) };
    Ok(())
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenProblem {
    Missing,
    Malformed,
    Expired,
    WrongAudience,
    WrongTenant,
}

impl TokenProblem {
    pub fn message(&self) -> &'static str {
        match self {
            TokenProblem::Missing => "Access token is empty.",
            TokenProblem::Malformed => "IDX14100: JWT is not well formed or its signature is invalid.",
            TokenProblem::Expired => "Lifetime validation failed, the token is expired.",
            TokenProblem::WrongAudience => "Invalid audience.",
            TokenProblem::WrongTenant => "The token was issued for another tenant.",
        }
    }
}

/// Checks the bearer token of a request for `resource`.
pub(crate) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    resource: &str,
) -> Result<Caller, TokenProblem> {
    let raw = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenProblem::Missing)?;
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(TokenProblem::Missing)?;
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &DecodingKey::from_secret(&shared.key), &v)
        .map_err(|_| TokenProblem::Malformed)?
        .claims;
    if claims.exp <= shared.now().timestamp() {
        return Err(TokenProblem::Expired);
    }
    if claims.aud != resource {
        return Err(TokenProblem::WrongAudience);
    }
    if !shared.tenant_matches(&claims.tid) {
        return Err(TokenProblem::WrongTenant);
    }
    Ok(match claims.upn {
        Some(upn) => Caller::User { upn },
        None => Caller::App { client_id: claims.appid, roles: claims.roles },
    })
}
