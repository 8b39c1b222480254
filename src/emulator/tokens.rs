//! The identity platform: the token endpoint (client secret, certificate assertion, federated
//! assertion, device code, refresh token), the device-code endpoint, OpenID Connect discovery
//! and its key set, and the signing (RS256, with the published key) and checking of the access
//! tokens the Exchange and Graph endpoints accept. Every answer is built here as JSON from the
//! facts in `wire::oauth`, never by serialising the client's decode types.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::seed::{SeedApp, consented_for, secret_hash};
use super::store::{DeviceCode, DeviceState, RefreshGrant, Shared};
use super::sync::lock;
use crate::model::normalize;
use crate::wire::exchange::HEADER_CLIENT_REQUEST_ID;
use crate::wire::oauth::{self, AccessTokenClaims, Refusal, refusal};

/// Who is calling, from a checked access token.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    /// App-only: the application (client) id and its application permissions.
    App { client_id: String, roles: Vec<String> },
    /// Delegated: the signed-in user and the token's delegated permissions (`scp`, space
    /// separated, as granted at sign-in).
    User { upn: String, scp: String },
}

impl Caller {
    /// Name PAM compares with system accounts: UPN, or application id for app-only calls.
    pub fn principal(&self) -> String {
        match self {
            Caller::App { client_id, .. } => normalize::principal(client_id),
            Caller::User { upn, .. } => normalize::principal(upn),
        }
    }
}

/// The key that signs the emulator's access and ID tokens (RS256), published in its JWKS so
/// libraries that validate ID tokens can. It is a fixed key shipped with the emulator: the
/// emulator is a local test double, and anyone may read this key.
const SIGNING_KEY_PEM: &str = include_str!("token_signing_key.pem");
const SIGNING_CERT_PEM: &str = include_str!("token_signing_cert.pem");

struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// `kid` and `x5t`: base64url SHA-1 of the certificate.
    kid: String,
    /// base64url modulus and exponent, and the standard-base64 DER certificate.
    n: String,
    e: String,
    x5c: String,
}

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        use base64::Engine as _;
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key_der = rustls_pemfile::private_key(&mut SIGNING_KEY_PEM.as_bytes())
            .ok()
            .flatten()
            .expect("the emulator's signing key is a PEM private key");
        let pair = ring::signature::RsaKeyPair::from_pkcs8(key_der.secret_der())
            .expect("the emulator's signing key is an RSA PKCS#8 key");
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let cert = der_of(SIGNING_CERT_PEM).expect("the emulator's signing certificate is a PEM");
        Signer {
            encoding: EncodingKey::from_rsa_pem(SIGNING_KEY_PEM.as_bytes()).expect("RSA signing key"),
            decoding: DecodingKey::from_rsa_components(&b64url.encode(&public.n), &b64url.encode(&public.e))
                .expect("RSA public key"),
            kid: b64url.encode(sha1(&cert)),
            n: b64url.encode(&public.n),
            e: b64url.encode(&public.e),
            x5c: base64::engine::general_purpose::STANDARD.encode(&cert),
        }
    })
}

fn sha1(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes).as_ref().to_vec()
}

fn der_of(pem: &str) -> Option<Vec<u8>> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    Some(rustls_pemfile::certs(&mut reader).next()?.ok()?.as_ref().to_vec())
}

fn sign<T: serde::Serialize>(claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
    let s = signer();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(s.kid.clone());
    header.x5t = Some(s.kid.clone());
    jsonwebtoken::encode(&header, claims, &s.encoding)
}

/// The answer to one request: what the identity platform refuses it with, filled in.
pub(crate) struct Refused {
    refusal: Refusal,
    args: Vec<String>,
}

impl Refused {
    fn new(refusal: Refusal, args: &[&str]) -> Self {
        Refused { refusal, args: args.iter().map(|a| a.to_string()).collect() }
    }
}

/// The identity platform's error body: `error`, `error_description` with its trace suffix,
/// `error_codes`, `timestamp`, `trace_id`, `correlation_id` (the client's `client-request-id`
/// when it sent one) and `error_uri`.
pub(crate) fn refuse(shared: &Shared, headers: &HeaderMap, r: Refused) -> Response {
    let timestamp = shared.now().format(oauth::ERROR_TIMESTAMP_FORMAT).to_string();
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = headers
        .get(HEADER_CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let args: Vec<&str> = r.args.iter().map(String::as_str).collect();
    let text = r.refusal.describe(&args);
    let body = json!({
        "error": r.refusal.error,
        "error_description": oauth::error_description(&text, &trace_id, &correlation_id, &timestamp),
        "error_codes": [r.refusal.code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": oauth::error_uri(&shared.base_url, r.refusal.code),
    });
    let status = StatusCode::from_u16(r.refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(body)).into_response()
}

/// An injected throttling answer of the token endpoint (the fault layer adds `Retry-After`).
pub(crate) fn throttled(shared: &Shared, headers: &HeaderMap) -> Response {
    refuse(shared, headers, Refused::new(refusal::THROTTLED, &[]))
}

/// An injected server failure of the token endpoint.
pub(crate) fn server_error(shared: &Shared, headers: &HeaderMap) -> Response {
    refuse(shared, headers, Refused::new(refusal::SERVER_ERROR, &[]))
}

/// The resource a request's scopes ask for, checked as the service checks them: every scope of
/// a client credentials request is `{resource}/.default`; all scopes name one resource; the
/// resource is one the tenant has (Exchange Online or Microsoft Graph). Delegated requests may
/// add the OpenID Connect scopes and name permissions (`https://graph.microsoft.com/User.Read`,
/// or `User.Read` for Graph).
fn scope_resource(scope: Option<&String>, client_credentials: bool, tenant: &str) -> Result<String, Refused> {
    let Some(scope) = scope.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Err(Refused::new(refusal::MISSING_PARAMETER, &["scope"]));
    };
    let mut resources: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        if client_credentials && !s.ends_with(oauth::DEFAULT_SCOPE_SUFFIX) {
            return Err(Refused::new(refusal::SCOPE_NOT_DEFAULT, &[s]));
        }
        if oauth::OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            continue;
        }
        let resource = match s.rfind('/') {
            Some(at) if s[..at].contains("://") => s[..at].trim_end_matches('/').to_string(),
            Some(_) => return Err(Refused::new(refusal::INVALID_SCOPE, &[s])),
            None => oauth::GRAPH_RESOURCE.to_string(),
        };
        if !resources.iter().any(|r| r.eq_ignore_ascii_case(&resource)) {
            resources.push(resource);
        }
    }
    if resources.len() > 1 {
        return Err(Refused::new(refusal::SCOPES_INCOMPATIBLE, &[scope]));
    }
    let resource = resources.pop().unwrap_or_else(|| oauth::GRAPH_RESOURCE.to_string());
    // Storage too, for the state backend's Entra sign-in (`use_azuread_auth`).
    [oauth::EXCHANGE_RESOURCE, oauth::GRAPH_RESOURCE, crate::wire::blob::STORAGE_RESOURCE]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(&resource))
        .map(str::to_string)
        .ok_or_else(|| Refused::new(refusal::RESOURCE_NOT_FOUND, &[&resource, tenant]))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn tenant_known(shared: &Shared, tenant: &str) -> bool {
    shared.tenant_matches(tenant) || oauth::TENANT_ALIASES.iter().any(|a| a.eq_ignore_ascii_case(tenant))
}

/// The form of a token or device-code request and its `client_id`, once the tenant is known.
fn parse_form(
    shared: &Shared,
    tenant: &str,
    body: &[u8],
) -> Result<(HashMap<String, String>, String), Refused> {
    if !tenant_known(shared, tenant) {
        return Err(Refused::new(refusal::TENANT_NOT_FOUND, &[tenant]));
    }
    let f = form(body);
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    Ok((f, client_id))
}

fn tenant_name(shared: &Shared) -> String {
    lock(&shared.tenant).data.tenant.domain.clone()
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub(crate) fn token(shared: &Arc<Shared>, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    match token_answer(shared, tenant, body) {
        Ok(r) => r,
        Err(refused) => refuse(shared, headers, refused),
    }
}

fn token_answer(shared: &Arc<Shared>, tenant: &str, body: &[u8]) -> Result<Response, Refused> {
    let (f, client_id) = parse_form(shared, tenant, body)?;
    match f.get("grant_type").map(String::as_str) {
        Some(oauth::GRANT_CLIENT_CREDENTIALS) => client_credentials(shared, tenant, &f, &client_id),
        Some(oauth::GRANT_DEVICE_CODE) => device_code_grant(shared, &f, &client_id),
        Some(oauth::GRANT_REFRESH_TOKEN) => refresh_grant(shared, &f, &client_id),
        Some(other) => Err(Refused::new(refusal::UNSUPPORTED_GRANT_TYPE, &[other])),
        None => Err(Refused::new(refusal::MISSING_PARAMETER, &["grant_type"])),
    }
}

fn find_app(shared: &Shared, client_id: &str) -> Result<SeedApp, Refused> {
    let t = lock(&shared.tenant);
    t.data
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .cloned()
        .ok_or_else(|| Refused::new(refusal::APP_NOT_FOUND, &[client_id, &t.data.tenant.domain]))
}

fn client_credentials(
    shared: &Arc<Shared>,
    tenant: &str,
    f: &HashMap<String, String>,
    client_id: &str,
) -> Result<Response, Refused> {
    let app = find_app(shared, client_id)?;
    let resource = scope_resource(f.get("scope"), true, &tenant_name(shared))?;
    if let Some(secret) = f.get("client_secret") {
        if app.secret_sha256.as_deref() != Some(secret_hash(secret).as_str()) {
            return Err(Refused::new(refusal::INVALID_CLIENT_SECRET, &[client_id]));
        }
    } else if let Some(assertion) = f.get("client_assertion") {
        check_assertion(shared, tenant, &app, assertion)?;
    } else {
        return Err(Refused::new(refusal::MISSING_CREDENTIAL, &[]));
    }
    // A token carries the application permissions of its own audience only.
    let roles = app.permissions.iter().filter(|p| oauth::resource_of_role(p) == resource).cloned().collect();
    let claims = AccessTokenClaims {
        aud: resource,
        iss: String::new(),
        tid: String::new(),
        exp: 0,
        iat: 0,
        appid: app.client_id.clone(),
        roles,
        upn: None,
        oid: None,
        scp: None,
    };
    let (access_token, lifetime) = access_token(shared, claims)?;
    Ok(axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }))
    .into_response())
}

/// Signs an access token (RS256, the key of the JWKS) and returns it with its lifetime.
fn access_token(shared: &Shared, mut claims: AccessTokenClaims) -> Result<(String, u64), Refused> {
    let lifetime = shared.faults().token_lifetime_secs;
    let now = shared.now().timestamp();
    claims.iat = now;
    claims.exp = now + lifetime as i64;
    let tid = lock(&shared.tenant).data.tenant.id.clone();
    claims.iss = oauth::issuer(&shared.base_url, &tid);
    claims.tid = tid;
    match sign(&claims) {
        Ok(token) => Ok((token, lifetime)),
        Err(e) => Err(Refused::new(refusal::SERVER_ERROR, &[&e.to_string()])),
    }
}

/// Lenient view of assertion claims: `aud` may be a string or an array; times may be integers
/// or floating-point numbers (both are JSON NumericDate, RFC 7519 §2).
#[derive(Debug, Deserialize)]
struct AnyClaims {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    sub: String,
    #[serde(default)]
    aud: serde_json::Value,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
}

fn aud_contains(aud: &serde_json::Value, want: &[String]) -> bool {
    match aud {
        serde_json::Value::String(s) => want.iter().any(|w| w.eq_ignore_ascii_case(s)),
        serde_json::Value::Array(a) => a.iter().any(|v| aud_contains(v, want)),
        _ => false,
    }
}

/// `exp` must be ahead and `nbf` (if any) behind, within the allowed skew. The service sets no
/// upper limit on an assertion's lifetime (certificate credentials: "Microsoft Entra ID doesn't
/// place restrictions on the exp time currently"), and it accepts the same assertion more than
/// once: MSAL reuses one for up to nine minutes (`create_regenerative_assertion`), so neither
/// is refused here.
fn check_times(shared: &Shared, c: &AnyClaims) -> Result<(), Refused> {
    let now = shared.now().timestamp() as f64;
    let skew = oauth::ASSERTION_SKEW_SECS as f64;
    let exp_ok = c.exp.is_some_and(|e| e + skew > now);
    let nbf_ok = c.nbf.is_none_or(|n| n - skew <= now);
    if exp_ok && nbf_ok {
        return Ok(());
    }
    let show = |t: Option<f64>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .map(|d| d.format("%m/%d/%Y %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    Err(Refused::new(refusal::ASSERTION_NOT_IN_TIME, &[&show(Some(now)), &show(c.nbf), &show(c.exp)]))
}

/// A registered certificate named by a thumbprint header: `x5t#S256` (SHA-256) or `x5t`
/// (SHA-1), base64url with or without padding.
fn registered_certificate<'a>(app: &'a SeedApp, header: &Header) -> Option<(&'a str, String)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let want = |t: &Option<String>| t.as_deref().map(|v| v.trim_end_matches('=').to_string());
    let (named, by_sha256) = match (want(&header.x5t_s256), want(&header.x5t)) {
        (Some(t), _) => (t, true),
        (None, Some(t)) => (t, false),
        (None, None) => return None,
    };
    let cert = app.certificates.iter().find(|pem| {
        der_of(pem).is_some_and(|der| {
            let digest = if by_sha256 { Sha256::digest(&der).to_vec() } else { sha1(&der) };
            b64.encode(digest) == named
        })
    });
    Some((cert.map(String::as_str).unwrap_or_default(), named))
}

/// Checks a certificate assertion (issued by the app itself, a thumbprint header naming a
/// registered certificate; signed PS256 or RS256) or a federated assertion (issuer and subject
/// match a registered federated credential).
fn check_assertion(
    shared: &Arc<Shared>,
    tenant: &str,
    app: &SeedApp,
    assertion: &str,
) -> Result<(), Refused> {
    let invalid = |m: &str| Refused::new(refusal::ASSERTION_INVALID, &[m]);
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid("The client assertion is not a well-formed JWT."))?;
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    // A certificate assertion is the app's own (`iss` = client id); anything else is another
    // issuer's token for a federated credential, which may name its own key by `x5t` (GitHub's
    // do).
    let unverified = jsonwebtoken::dangerous::insecure_decode::<AnyClaims>(assertion)
        .map_err(|_| invalid("The client assertion is not a well-formed JWT."))?
        .claims;
    let own = unverified.iss.eq_ignore_ascii_case(&app.client_id);
    if let Some((cert, thumb)) = registered_certificate(app, &header).filter(|_| own) {
        if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
            return Err(invalid("The client assertion must be signed with PS256 or RS256."));
        }
        if cert.is_empty() {
            return Err(invalid(&format!(
                "[Reason - The key was not found., Thumbprint of key used by client: '{thumb}']"
            )));
        }
        let key = DecodingKey::from_rsa_pem(cert.as_bytes())
            .map_err(|_| invalid("[Reason - The registered certificate could not be read.]"))?;
        let data = jsonwebtoken::decode::<AnyClaims>(assertion, &key, &v)
            .map_err(|_| invalid("[Reason - The signature does not verify with the registered key.]"))?;
        let c = data.claims;
        let urls: Vec<String> = {
            let t = lock(&shared.tenant);
            [tenant.to_string(), t.data.tenant.domain.clone(), t.data.tenant.id.clone()]
                .iter()
                .map(|x| format!("{}{}", shared.base_url, oauth::token_path(x)))
                .collect()
        };
        if !aud_contains(&c.aud, &urls) {
            return Err(Refused::new(refusal::ASSERTION_BAD_AUDIENCE, &[&urls[0]]));
        }
        if !c.iss.eq_ignore_ascii_case(&app.client_id) || !c.sub.eq_ignore_ascii_case(&app.client_id) {
            return Err(invalid("[Reason - The assertion's iss and sub must be the client id.]"));
        }
        return check_times(shared, &c);
    }
    // Federated: the external token's iss/sub/aud must match a registered credential.
    let c = unverified;
    let cred = app.federated_credentials.iter().find(|f| {
        f.issuer == c.iss && f.subject == c.sub && aud_contains(&c.aud, std::slice::from_ref(&f.audience))
    });
    let Some(cred) = cred else {
        let aud = match &c.aud {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Err(Refused::new(refusal::NO_FEDERATED_CREDENTIAL, &[&c.iss, &c.sub, &aud]));
    };
    if let Some(pem) = &cred.public_key_pem {
        let key = DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| invalid("[Reason - The federated credential's key could not be read.]"))?;
        jsonwebtoken::decode::<AnyClaims>(assertion, &key, &v)
            .map_err(|_| invalid("[Reason - The federated assertion's signature does not verify.]"))?;
    }
    check_times(shared, &c)
}

/// base64url (no padding) SHA-256 of the DER certificate in a PEM.
pub fn cert_thumbprint(pem: &str) -> Option<String> {
    use base64::Engine;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der_of(pem)?)))
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`
pub(crate) fn devicecode(shared: &Arc<Shared>, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    match devicecode_answer(shared, tenant, body) {
        Ok(r) => r,
        Err(refused) => refuse(shared, headers, refused),
    }
}

fn devicecode_answer(shared: &Arc<Shared>, tenant: &str, body: &[u8]) -> Result<Response, Refused> {
    let (f, client_id) = parse_form(shared, tenant, body)?;
    if !client_id.eq_ignore_ascii_case(oauth::EXCHANGE_PUBLIC_CLIENT_ID) {
        find_app(shared, &client_id)?;
    }
    let resource = scope_resource(f.get("scope"), false, &tenant_name(shared))?;
    let device_code = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    let user_code: String = (0..oauth::USER_CODE_LEN)
        .map(|_| {
            let i = rand::random::<u32>() as usize % oauth::USER_CODE_ALPHABET.len();
            oauth::USER_CODE_ALPHABET[i] as char
        })
        .collect();
    let lifetime = oauth::DEVICE_CODE_LIFETIME_SECS;
    let code = DeviceCode {
        user_code: user_code.clone(),
        client_id,
        resource,
        scope: f.get("scope").cloned().unwrap_or_default(),
        nonce: f.get("nonce").cloned(),
        expires: shared.now() + Duration::seconds(lifetime as i64),
        state: DeviceState::Pending,
    };
    lock(&shared.device_codes).insert(device_code.clone(), code);
    let verification_uri = format!("{}{}", shared.base_url, super::devicelogin::PATH);
    Ok(axum::Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": lifetime,
        "interval": shared.faults().device_code_interval_secs,
        "message": oauth::device_code_message(&verification_uri, &user_code),
    }))
    .into_response())
}

fn device_code_grant(
    shared: &Arc<Shared>,
    f: &HashMap<String, String>,
    client_id: &str,
) -> Result<Response, Refused> {
    let code = f.get("device_code").cloned().unwrap_or_default();
    let entry = lock(&shared.device_codes).get(&code).cloned();
    let Some(entry) = entry.filter(|e| e.client_id.eq_ignore_ascii_case(client_id)) else {
        return Err(Refused::new(refusal::BAD_VERIFICATION_CODE, &[]));
    };
    if shared.now() > entry.expires {
        lock(&shared.device_codes).remove(&code);
        return Err(Refused::new(refusal::EXPIRED_TOKEN, &[]));
    }
    match entry.state {
        DeviceState::Pending => Err(Refused::new(refusal::AUTHORIZATION_PENDING, &[])),
        DeviceState::Declined => {
            lock(&shared.device_codes).remove(&code);
            Err(Refused::new(refusal::DECLINED, &[]))
        }
        DeviceState::Approved(upn) => {
            lock(&shared.device_codes).remove(&code);
            let sign_in = SignIn {
                client_id: &entry.client_id,
                upn: &upn,
                resource: &entry.resource,
                scope: &entry.scope,
                nonce: entry.nonce.as_deref(),
                client_info: f.contains_key("client_info"),
            };
            delegated(shared, sign_in)
        }
    }
}

fn refresh_grant(
    shared: &Arc<Shared>,
    f: &HashMap<String, String>,
    client_id: &str,
) -> Result<Response, Refused> {
    let rt = f.get("refresh_token").cloned().unwrap_or_default();
    let grant = lock(&shared.refresh_tokens).get(&rt).cloned();
    let Some(grant) = grant.filter(|g| g.client_id.eq_ignore_ascii_case(client_id)) else {
        return Err(Refused::new(refusal::INVALID_REFRESH_TOKEN, &[]));
    };
    let resource = scope_resource(f.get("scope"), false, &tenant_name(shared))?;
    let scope = f.get("scope").cloned().unwrap_or_default();
    let sign_in = SignIn {
        client_id: &grant.client_id,
        upn: &grant.upn,
        resource: &resource,
        scope: &scope,
        nonce: None,
        client_info: f.contains_key("client_info"),
    };
    delegated(shared, sign_in)
}

/// A delegated sign-in about to get its tokens.
struct SignIn<'a> {
    client_id: &'a str,
    upn: &'a str,
    resource: &'a str,
    /// The scopes asked for.
    scope: &'a str,
    nonce: Option<&'a str>,
    /// The client asked for `client_info` (MSAL does, to key its cache by user and tenant).
    client_info: bool,
}

fn delegated(shared: &Arc<Shared>, s: SignIn<'_>) -> Result<Response, Refused> {
    use base64::Engine as _;
    let (oid, name, tid, consented) = {
        let t = lock(&shared.tenant);
        let user = t.data.users.iter().find(|u| u.user_principal_name.eq_ignore_ascii_case(s.upn));
        let consented = if s.client_id.eq_ignore_ascii_case(oauth::EXCHANGE_PUBLIC_CLIENT_ID) {
            &t.data.public_client.delegated_permissions
        } else {
            t.data
                .apps
                .iter()
                .find(|a| a.client_id.eq_ignore_ascii_case(s.client_id))
                .map_or(&[][..], |a| &a.delegated_permissions[..])
        };
        let consented = consented_for(consented, s.resource);
        (user.map(|u| u.id.clone()), user.map(|u| u.display()), t.data.tenant.id.clone(), consented)
    };
    let granted = granted_scopes(s.scope, s.resource, &consented);
    let refresh = uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string();
    lock(&shared.refresh_tokens)
        .insert(refresh.clone(), RefreshGrant { client_id: s.client_id.to_string(), upn: s.upn.to_string() });
    let claims = AccessTokenClaims {
        aud: s.resource.to_string(),
        iss: String::new(),
        tid: String::new(),
        exp: 0,
        iat: 0,
        appid: s.client_id.to_string(),
        roles: Vec::new(),
        upn: Some(s.upn.to_string()),
        oid: oid.clone(),
        scp: Some(scp_claim(&granted)),
    };
    let (access_token, lifetime) = access_token(shared, claims)?;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": granted,
        "expires_in": lifetime,
        "access_token": access_token,
        "refresh_token": refresh,
    });
    if s.scope.split_whitespace().any(|x| x.eq_ignore_ascii_case("openid")) {
        // The ID token names the user, as the service's does for a sign-in with `openid`;
        // `sub` is per user and app (pairwise).
        let now = shared.now().timestamp();
        let oid = oid.clone().unwrap_or_default();
        let sub = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(format!("{oid}|{}", s.client_id.to_lowercase())));
        let mut id_claims = json!({
            "aud": s.client_id,
            "iss": oauth::issuer(&shared.base_url, &tid),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": name,
            "oid": oid,
            "preferred_username": s.upn,
            "sub": sub,
            "tid": tid,
            "ver": "2.0",
        });
        if let Some(nonce) = s.nonce {
            id_claims["nonce"] = json!(nonce);
        }
        let id_token =
            sign(&id_claims).map_err(|e| Refused::new(refusal::SERVER_ERROR, &[&e.to_string()]))?;
        body["id_token"] = json!(id_token);
    }
    if s.client_info {
        let info = json!({ "uid": oid.unwrap_or_default(), "utid": tid }).to_string();
        body["client_info"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(info));
    }
    Ok(axum::Json(body).into_response())
}

/// The `scope` of a delegated answer: the resource's scopes asked for and the OpenID Connect
/// scopes, as the service echoes them. `{resource}/.default` grants the delegated permissions
/// `consented` for the client app on that resource, each echoed with its resource, followed by
/// the `.default` scope itself (**doc**: "the /.default scope" in
/// <https://learn.microsoft.com/en-us/entra/identity-platform/scopes-oidc>; **observed** echo
/// `profile openid email https://graph.microsoft.com/User.Read https://graph.microsoft.com/.default`
/// in microsoftgraph/microsoftgraph-postman-collections issue 12). A named scope is granted as
/// asked: the emulator's sign-in stands for the user's consent to it.
/// The `scp` claim of a delegated access token: the granted permissions by their bare names
/// (`GroupMember.Read.All`, not the resource-qualified form the token answer's `scope` echoes),
/// with `.default` left out. (**doc**: access token claims reference, `scp`)
fn scp_claim(granted: &str) -> String {
    granted
        .split_whitespace()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .filter(|s| !s.eq_ignore_ascii_case(".default"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn granted_scopes(asked: &str, resource: &str, consented: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    for s in asked.split_whitespace() {
        if oauth::OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_lowercase());
        } else if s.ends_with(oauth::DEFAULT_SCOPE_SUFFIX) {
            out.extend(consented.iter().map(|p| format!("{resource}/{p}")));
            out.push(s.to_string());
        } else if s.contains("://") {
            out.push(s.to_string());
        } else {
            out.push(format!("{resource}/{s}"));
        }
    }
    out.join(" ")
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the discovery document, its URLs on
/// the emulator's own base URL.
pub(crate) fn openid_configuration(shared: &Shared, tenant: &str, headers: &HeaderMap) -> Response {
    if !tenant_known(shared, tenant) {
        return refuse(shared, headers, Refused::new(refusal::TENANT_NOT_FOUND, &[tenant]));
    }
    let base = &shared.base_url;
    let tid = lock(&shared.tenant).data.tenant.id.clone();
    let issuer_tenant = if shared.tenant_matches(tenant) { tid.clone() } else { "{tenantid}".to_string() };
    use oauth::discovery as d;
    axum::Json(json!({
        "token_endpoint": format!("{base}{}", oauth::token_path(tenant)),
        "token_endpoint_auth_methods_supported": d::TOKEN_ENDPOINT_AUTH_METHODS,
        "jwks_uri": format!("{base}{}", oauth::jwks_path(tenant)),
        "response_modes_supported": d::RESPONSE_MODES,
        "subject_types_supported": d::SUBJECT_TYPES,
        "id_token_signing_alg_values_supported": d::ID_TOKEN_SIGNING_ALGS,
        "response_types_supported": d::RESPONSE_TYPES,
        "scopes_supported": d::SCOPES,
        "issuer": oauth::issuer(base, &issuer_tenant),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}{}", d::USERINFO_PATH),
        "authorization_endpoint": format!("{base}{}", oauth::authorize_path(tenant)),
        "device_authorization_endpoint": format!("{base}{}", oauth::devicecode_path(tenant)),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}{}", oauth::logout_path(tenant)),
        "claims_supported": d::CLAIMS,
        "kerberos_endpoint": format!("{base}{}", d::kerberos_path(tenant)),
        "tenant_region_scope": null,
        "cloud_instance_name": d::CLOUD_INSTANCE_NAME,
        "cloud_graph_host_name": d::CLOUD_GRAPH_HOST_NAME,
        "msgraph_host": d::MSGRAPH_HOST,
        "rbac_url": d::RBAC_URL,
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: the key that signs the emulator's tokens.
pub(crate) fn jwks(shared: &Shared, tenant: &str, headers: &HeaderMap) -> Response {
    if !tenant_known(shared, tenant) {
        return refuse(shared, headers, Refused::new(refusal::TENANT_NOT_FOUND, &[tenant]));
    }
    let s = signer();
    let tid = lock(&shared.tenant).data.tenant.id.clone();
    axum::Json(json!({
        "keys": [{
            "kty": "RSA",
            "use": "sig",
            "kid": s.kid,
            "x5t": s.kid,
            "n": s.n,
            "e": s.e,
            "x5c": [s.x5c],
            "issuer": oauth::issuer(&shared.base_url, &tid),
        }]
    }))
    .into_response()
}

/// Approves (or declines) a device code as a user; the message says what went wrong (an
/// unknown, expired or already used code, an unknown user).
pub(crate) fn approve_device_code(
    shared: &Shared,
    user_code: &str,
    user: &str,
    decline: bool,
) -> Result<(), String> {
    let upn = sign_in_user(shared, user)?;
    pending_sign_in(shared, user_code)?;
    let mut codes = lock(&shared.device_codes);
    let entry = codes
        .values_mut()
        .find(|c| c.user_code.eq_ignore_ascii_case(user_code.trim()) && c.state == DeviceState::Pending)
        .ok_or_else(|| unknown_code(user_code))?;
    entry.state = if decline { DeviceState::Declined } else { DeviceState::Approved(upn) };
    Ok(())
}

/// A device-code sign-in waiting for its user, as the sign-in page shows it.
#[derive(Debug, Clone)]
pub(crate) struct PendingSignIn {
    /// The code as issued (upper case).
    pub user_code: String,
    /// The app's name: the seeded app's display name, or Exchange Online PowerShell's.
    pub app: String,
    /// The scopes asked for.
    pub scope: String,
}

fn unknown_code(user_code: &str) -> String {
    format!(
        "no sign-in is waiting for the code '{}'; check the code you were given, or run `pamform login` again for a new one",
        user_code.trim()
    )
}

/// The pending sign-in of `user_code` (any case); an unknown, expired, used or declined code
/// is refused with the reason.
pub(crate) fn pending_sign_in(shared: &Shared, user_code: &str) -> Result<PendingSignIn, String> {
    let wanted = user_code.trim();
    if wanted.is_empty() {
        return Err("enter the code you were given (pamform login prints it)".to_string());
    }
    let entry = lock(&shared.device_codes)
        .values()
        .find(|c| c.user_code.eq_ignore_ascii_case(wanted))
        .cloned()
        .ok_or_else(|| unknown_code(wanted))?;
    if shared.now() > entry.expires {
        return Err(format!(
            "the code '{}' has expired (codes last {} minutes); run `pamform login` again for a new one",
            entry.user_code,
            oauth::DEVICE_CODE_LIFETIME_SECS / 60
        ));
    }
    match entry.state {
        DeviceState::Pending => {}
        DeviceState::Approved(_) | DeviceState::Declined => {
            return Err(format!(
                "the code '{}' was already used; run `pamform login` again for a new one",
                entry.user_code
            ));
        }
    }
    let app = if entry.client_id.eq_ignore_ascii_case(oauth::EXCHANGE_PUBLIC_CLIENT_ID) {
        oauth::EXCHANGE_PUBLIC_CLIENT_NAME.to_string()
    } else {
        lock(&shared.tenant)
            .data
            .apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(&entry.client_id))
            .and_then(|a| a.display_name.clone())
            .unwrap_or_else(|| entry.client_id.clone())
    };
    Ok(PendingSignIn { user_code: entry.user_code, app, scope: entry.scope })
}

/// The user principal name of the tenant's user `user` names (UPN or mail address, any case).
pub(crate) fn sign_in_user(shared: &Shared, user: &str) -> Result<String, String> {
    let t = lock(&shared.tenant);
    let key = normalize::principal(user.trim());
    t.data
        .users
        .iter()
        .find(|u| {
            normalize::principal(&u.user_principal_name) == key
                || u.mail.as_deref().map(normalize::principal).as_deref() == Some(key.as_str())
        })
        .map(|u| u.user_principal_name.clone())
        .ok_or_else(|| format!("no user '{}' in the tenant; pick one of its users", user.trim()))
}

/// The users who can sign in, as (user principal name, display name), in seed order.
pub(crate) fn sign_in_users(shared: &Shared) -> Vec<(String, Option<String>)> {
    lock(&shared.tenant)
        .data
        .users
        .iter()
        .map(|u| (u.user_principal_name.clone(), u.display_name.clone()))
        .collect()
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
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &signer().decoding, &v)
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
        Some(upn) => Caller::User { upn, scp: claims.scp.unwrap_or_default() },
        None => Caller::App { client_id: claims.appid, roles: claims.roles },
    })
}
