//! Sign-in: the credentials pamform accepts (client secret, certificate, workload identity,
//! a delegated device-code sign-in), the client assertion JWT, and the token cache that keeps
//! one token per resource, renews it before it expires, and lets concurrent callers share a
//! single token request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::future::BoxFuture;
use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::error::{self, Api, TenantError};
use super::http::{Body, Incoming, Outgoing, TokenSource, Transport};
use super::retry::Idempotency;
use super::secret::Secret;
use crate::env::{
    CLIENT_CERTIFICATE, CLIENT_CERTIFICATE_KEY, CLIENT_ID, CLIENT_SECRET, FEDERATED_TOKEN_FILE,
};
use crate::wire::oauth;

/// The resources pamform gets tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Exchange,
    Graph,
    /// Azure Storage, for the state of a `backend "azurerm"` with `use_azuread_auth`.
    Storage,
}

impl Resource {
    pub fn scope(self) -> String {
        oauth::default_scope(match self {
            Resource::Exchange => oauth::EXCHANGE_RESOURCE,
            Resource::Graph => oauth::GRAPH_RESOURCE,
            Resource::Storage => crate::wire::blob::STORAGE_RESOURCE,
        })
    }
}

/// A certificate credential: the private key and the thumbprint of its certificate.
#[derive(Clone)]
pub struct CertificateKey {
    key: Arc<jsonwebtoken::EncodingKey>,
    /// base64url SHA-256 of the DER certificate (`x5t#S256`).
    thumbprint: String,
}

impl std::fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateKey")
            .field(oauth::HEADER_X5T_S256, &self.thumbprint)
            .field("key", &Secret::new(""))
            .finish()
    }
}

impl CertificateKey {
    /// Reads a PEM certificate and a PEM RSA private key (PKCS#1 or PKCS#8). They may be the
    /// same bytes (one file holding both).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, String> {
        let der = rustls_pemfile::certs(&mut &cert_pem[..])
            .next()
            .ok_or("no CERTIFICATE block in the PEM")?
            .map_err(|e| format!("bad PEM certificate: {e}"))?;
        let key_block = extract_private_key_pem(key_pem).ok_or("no PRIVATE KEY block in the PEM")?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_block.as_bytes())
            .map_err(|e| format!("not an RSA private key: {e}"))?;
        Ok(CertificateKey { key: Arc::new(key), thumbprint: thumbprint_s256(&der) })
    }

    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

/// The first private key block of a PEM text (jsonwebtoken wants exactly one block).
fn extract_private_key_pem(pem: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(pem).ok()?;
    for label in ["RSA PRIVATE KEY", "PRIVATE KEY"] {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        if let Some(start) = text.find(&begin)
            && let Some(stop) = text[start..].find(&end)
        {
            return Some(text[start..start + stop + end.len()].to_string());
        }
    }
    None
}

/// base64url (no padding) SHA-256 of a DER certificate: the `x5t#S256` header value.
fn thumbprint_s256(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// Builds a client assertion: PS256, `x5t#S256`, claims per [`oauth::AssertionClaims`].
pub fn client_assertion(
    client_id: &str,
    token_url: &str,
    cert: &CertificateKey,
    now_unix: i64,
) -> Result<Secret, TenantError> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(cert.thumbprint.clone());
    let claims = oauth::AssertionClaims {
        aud: token_url.to_string(),
        iss: client_id.to_string(),
        sub: client_id.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now_unix,
        exp: now_unix + oauth::ASSERTION_LIFETIME_SECS,
        iat: Some(now_unix),
    };
    jsonwebtoken::encode(&header, &claims, &cert.key)
        .map(Secret::new)
        .map_err(|e| TenantError::Config(format!("cannot sign the client assertion: {e}")))
}

/// How pamform signs in.
#[derive(Debug, Clone)]
pub enum Credential {
    /// App-only with a client secret.
    Secret { client_id: String, secret: Secret },
    /// App-only with a certificate (signed JWT client assertion).
    Certificate { client_id: String, key: CertificateKey },
    /// App-only with workload identity federation: the file's content is the assertion,
    /// read again for every token request (it is rotated underneath us).
    Federated { client_id: String, token_file: PathBuf },
    /// A signed-in user (device code flow): the refresh token gets tokens for each resource.
    Delegated { client_id: String, upn: String, refresh_token: Secret },
}

impl Credential {
    pub fn client_id(&self) -> &str {
        match self {
            Credential::Secret { client_id, .. }
            | Credential::Certificate { client_id, .. }
            | Credential::Federated { client_id, .. }
            | Credential::Delegated { client_id, .. } => client_id,
        }
    }

    pub fn is_app_only(&self) -> bool {
        !matches!(self, Credential::Delegated { .. })
    }

    /// The identity pamform acts as: the application id, or the user's UPN.
    pub fn identity(&self) -> String {
        match self {
            Credential::Delegated { upn, .. } => upn.clone(),
            other => other.client_id().to_string(),
        }
    }

    /// Reads app-only credentials from the process environment; `None` when
    /// PAMFORM_CLIENT_ID is not set.
    pub fn from_env() -> Result<Option<Credential>, TenantError> {
        Self::from_vars(crate::env::get)
    }

    /// Reads app-only credentials through `var` (the environment, or a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Credential>, TenantError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let Some(client_id) = get(CLIENT_ID) else {
            let stray = [CLIENT_SECRET, CLIENT_CERTIFICATE, FEDERATED_TOKEN_FILE];
            if let Some(name) = stray.iter().find(|n| get(n).is_some()) {
                return Err(TenantError::Config(format!(
                    "{name} is set but {CLIENT_ID} is not; set {CLIENT_ID}"
                )));
            }
            return Ok(None);
        };
        let client_id = client_id.trim().to_string();
        let secret = get(CLIENT_SECRET);
        let cert = get(CLIENT_CERTIFICATE);
        let federated = get(FEDERATED_TOKEN_FILE);
        let given = [secret.is_some(), cert.is_some(), federated.is_some()].iter().filter(|b| **b).count();
        if given != 1 {
            return Err(TenantError::Config(format!(
                "set exactly one of {CLIENT_SECRET}, {CLIENT_CERTIFICATE} or {FEDERATED_TOKEN_FILE} (found {given})"
            )));
        }
        if let Some(secret) = secret {
            return Ok(Some(Credential::Secret { client_id, secret: Secret::new(secret) }));
        }
        if let Some(cert_path) = cert {
            let key_path = get(CLIENT_CERTIFICATE_KEY).unwrap_or_else(|| cert_path.clone());
            let cert_pem = read_file("the client certificate", Path::new(&cert_path))?;
            let key_pem = read_file("the client certificate key", Path::new(&key_path))?;
            let key =
                CertificateKey::from_pem(&cert_pem, &key_pem).map_err(|message| TenantError::Credential {
                    what: "the client certificate",
                    path: format!("{cert_path} / {key_path}"),
                    message,
                })?;
            return Ok(Some(Credential::Certificate { client_id, key }));
        }
        let token_file = PathBuf::from(federated.unwrap_or_default());
        Ok(Some(Credential::Federated { client_id, token_file }))
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TenantError> {
    std::fs::read(path).map_err(|e| TenantError::Credential {
        what,
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// When to renew a token of `lifetime`: 5 minutes before it expires, or at half its life for
/// tokens shorter than 10 minutes.
fn renew_after(lifetime: Duration) -> Duration {
    const MARGIN: Duration = Duration::from_secs(300);
    if lifetime > MARGIN * 2 { lifetime - MARGIN } else { lifetime / 2 }
}

struct Cached {
    token: Secret,
    renew_at: Instant,
    expires_at: Instant,
}

/// The token cache: one slot per resource. A slot's lock is held while its token is fetched,
/// so concurrent callers wait for that one request instead of sending their own.
pub(crate) struct Tokens {
    transport: Arc<Transport>,
    token_url: String,
    credential: Mutex<Credential>,
    exchange: Mutex<Option<Cached>>,
    graph: Mutex<Option<Cached>>,
    storage: Mutex<Option<Cached>>,
}

impl Tokens {
    pub fn new(transport: Arc<Transport>, token_url: String, credential: Credential) -> Self {
        Tokens {
            transport,
            token_url,
            credential: Mutex::new(credential),
            exchange: Mutex::new(None),
            graph: Mutex::new(None),
            storage: Mutex::new(None),
        }
    }

    fn slot(&self, resource: Resource) -> &Mutex<Option<Cached>> {
        match resource {
            Resource::Exchange => &self.exchange,
            Resource::Graph => &self.graph,
            Resource::Storage => &self.storage,
        }
    }

    /// A valid token for `resource`, from the cache or from one new token request.
    pub async fn token(&self, resource: Resource) -> Result<Secret, TenantError> {
        let mut slot = self.slot(resource).lock().await;
        if let Some(c) = slot.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let issued = Instant::now();
        let response = self.request(resource).await?;
        let lifetime = Duration::from_secs(response.expires_in);
        let token = Secret::new(response.access_token);
        *slot = Some(Cached {
            token: token.clone(),
            renew_at: issued + renew_after(lifetime),
            expires_at: issued + lifetime,
        });
        Ok(token)
    }

    /// Starts the slot of `resource` with a token obtained earlier (a cached delegated
    /// sign-in) that is still valid for `valid_for`; it is renewed like any other.
    pub async fn prime(&self, resource: Resource, token: Secret, valid_for: Duration) {
        let now = Instant::now();
        *self.slot(resource).lock().await =
            Some(Cached { token, renew_at: now + renew_after(valid_for), expires_at: now + valid_for });
    }

    /// The cached token of `resource` and how long it stays valid, if one is cached.
    pub async fn current(&self, resource: Resource) -> Option<(Secret, Duration)> {
        let slot = self.slot(resource).lock().await;
        let c = slot.as_ref()?;
        let left = c.expires_at.checked_duration_since(Instant::now())?;
        Some((c.token.clone(), left))
    }

    /// The refresh token of a delegated sign-in, as last rotated by the service.
    pub async fn refresh_token(&self) -> Option<Secret> {
        match &*self.credential.lock().await {
            Credential::Delegated { refresh_token, .. } if !refresh_token.is_empty() => {
                Some(refresh_token.clone())
            }
            _ => None,
        }
    }

    /// The cache's tokens for `resource`, as the transport asks for them.
    pub fn source(&self, resource: Resource) -> impl TokenSource + '_ {
        ResourceTokens { tokens: self, resource }
    }

    /// Forgets `token` if it is still the cached one (the service refused it).
    pub async fn invalidate(&self, resource: Resource, token: &Secret) {
        let mut slot = self.slot(resource).lock().await;
        if slot.as_ref().is_some_and(|c| &c.token == token) {
            *slot = None;
        }
    }

    async fn request(&self, resource: Resource) -> Result<oauth::TokenResponse, TenantError> {
        let mut credential = self.credential.lock().await;
        let client_id = credential.client_id().to_string();
        let mut form: Vec<(&'static str, String)> = vec![("client_id", client_id.clone())];
        match &*credential {
            Credential::Secret { secret, .. } => {
                form.push(("grant_type", oauth::GRANT_CLIENT_CREDENTIALS.to_string()));
                form.push(("scope", resource.scope()));
                form.push(("client_secret", secret.expose().to_string()));
            }
            Credential::Certificate { key, .. } => {
                let assertion =
                    client_assertion(&client_id, &self.token_url, key, chrono::Utc::now().timestamp())?;
                form.push(("grant_type", oauth::GRANT_CLIENT_CREDENTIALS.to_string()));
                form.push(("scope", resource.scope()));
                form.push(("client_assertion_type", oauth::CLIENT_ASSERTION_TYPE_JWT.to_string()));
                form.push(("client_assertion", assertion.expose().to_string()));
            }
            Credential::Federated { token_file, .. } => {
                let content = read_file("the federated token", token_file)?;
                let assertion = String::from_utf8_lossy(&content).trim().to_string();
                if assertion.is_empty() {
                    return Err(TenantError::Credential {
                        what: "the federated token",
                        path: token_file.display().to_string(),
                        message: "the file is empty".to_string(),
                    });
                }
                form.push(("grant_type", oauth::GRANT_CLIENT_CREDENTIALS.to_string()));
                form.push(("scope", resource.scope()));
                form.push(("client_assertion_type", oauth::CLIENT_ASSERTION_TYPE_JWT.to_string()));
                form.push(("client_assertion", assertion));
            }
            Credential::Delegated { refresh_token, .. } => {
                form.push(("grant_type", oauth::GRANT_REFRESH_TOKEN.to_string()));
                form.push(("scope", format!("{} {}", resource.scope(), oauth::DELEGATED_EXTRA_SCOPES)));
                form.push(("refresh_token", refresh_token.expose().to_string()));
            }
        }
        let response = post_token_form(&self.transport, &self.token_url, form).await?;
        if let (Credential::Delegated { refresh_token, .. }, Some(rotated)) =
            (&mut *credential, &response.refresh_token)
        {
            *refresh_token = Secret::new(rotated.clone());
        }
        Ok(response)
    }
}

/// The token cache bound to one resource: what the transport authenticates a request with.
struct ResourceTokens<'a> {
    tokens: &'a Tokens,
    resource: Resource,
}

impl TokenSource for ResourceTokens<'_> {
    fn bearer(&self) -> BoxFuture<'_, Result<Secret, TenantError>> {
        Box::pin(self.tokens.token(self.resource))
    }

    fn invalidate<'a>(&'a self, token: &'a Secret) -> BoxFuture<'a, ()> {
        Box::pin(self.tokens.invalidate(self.resource, token))
    }
}

/// Posts a token request form and decodes the answer. The form is never logged.
async fn post_token_form(
    transport: &Transport,
    url: &str,
    form: Vec<(&'static str, String)>,
) -> Result<oauth::TokenResponse, TenantError> {
    let incoming = post_form(transport, url, form).await?;
    if !incoming.is_success() {
        return Err(error::token_error(incoming.status, &incoming.body));
    }
    serde_json::from_slice(&incoming.body).map_err(|e| TenantError::Decode {
        api: Api::Login,
        path: "token".to_string(),
        message: format!("not a token response: {e}"),
    })
}

async fn post_form(
    transport: &Transport,
    url: &str,
    form: Vec<(&'static str, String)>,
) -> Result<Incoming, TenantError> {
    let mut req = Outgoing::new(Api::Login, Method::POST, url.to_string(), Idempotency::Read);
    req.body = Body::Form(form);
    req.timeout = Duration::from_secs(60);
    transport.send(&req, None, None).await
}

/// What to show a user who signs in with a device code.
#[derive(Debug, Clone)]
pub struct DeviceCodePrompt {
    pub user_code: String,
    pub verification_uri: String,
    /// Microsoft's ready-made instruction ("To sign in, use a web browser to open …").
    pub message: String,
    pub expires_in: Duration,
    interval: Duration,
    device_code: Secret,
}

/// A finished delegated sign-in: the user, an Exchange token and the refresh token.
#[derive(Debug, Clone)]
pub struct DelegatedSignIn {
    pub credential: Credential,
    pub upn: String,
    /// The Exchange access token the sign-in returned, and its lifetime.
    pub access_token: Secret,
    pub expires_in: Duration,
}

/// Starts a device-code sign-in against Exchange with Exchange's public client.
pub async fn start_device_code(
    transport: &Transport,
    login_url: &str,
    tenant: &str,
) -> Result<DeviceCodePrompt, TenantError> {
    let url = format!("{login_url}{}", oauth::devicecode_path(tenant));
    let scope = format!("{} {}", Resource::Exchange.scope(), oauth::DELEGATED_EXTRA_SCOPES);
    let form = vec![("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID.to_string()), ("scope", scope)];
    let incoming = post_form(transport, &url, form).await?;
    if !incoming.is_success() {
        return Err(error::token_error(incoming.status, &incoming.body));
    }
    let r: oauth::DeviceCodeResponse = serde_json::from_slice(&incoming.body).map_err(|e| {
        TenantError::Decode { api: Api::Login, path: "devicecode".to_string(), message: e.to_string() }
    })?;
    Ok(DeviceCodePrompt {
        user_code: r.user_code,
        verification_uri: r.verification_uri,
        message: r.message,
        expires_in: Duration::from_secs(r.expires_in),
        // The service's interval (5 s), never faster than once a second.
        interval: Duration::from_secs(r.interval.max(1)),
        device_code: Secret::new(r.device_code),
    })
}

/// Polls until the user finished the sign-in the prompt describes, honouring the interval,
/// `authorization_pending`, `slow_down` (+5 s) and `expired_token`. The user's UPN comes from
/// the ID token; `user_hint` (the UPN the user said they sign in as, like
/// `Connect-ExchangeOnline -UserPrincipalName`) is used when the answer carries none.
pub async fn finish_device_code(
    transport: &Transport,
    login_url: &str,
    tenant: &str,
    prompt: &DeviceCodePrompt,
    user_hint: Option<&str>,
) -> Result<DelegatedSignIn, TenantError> {
    let url = format!("{login_url}{}", oauth::token_path(tenant));
    let deadline = Instant::now() + prompt.expires_in;
    let mut interval = prompt.interval;
    loop {
        if Instant::now() >= deadline {
            return Err(TenantError::DeviceCode("expired before it was completed".to_string()));
        }
        tokio::time::sleep(interval).await;
        let form = vec![
            ("grant_type", oauth::GRANT_DEVICE_CODE.to_string()),
            ("client_id", oauth::EXCHANGE_PUBLIC_CLIENT_ID.to_string()),
            ("device_code", prompt.device_code.expose().to_string()),
        ];
        let incoming = post_form(transport, &url, form).await?;
        if incoming.is_success() {
            return delegated_from_body(&incoming.body, user_hint);
        }
        let err: Option<oauth::TokenError> = serde_json::from_slice(&incoming.body).ok();
        match err.as_ref().map(|e| e.error.as_str()) {
            Some(oauth::ERROR_AUTHORIZATION_PENDING) => {}
            Some(oauth::ERROR_SLOW_DOWN) => interval += Duration::from_secs(oauth::SLOW_DOWN_INCREMENT_SECS),
            Some(oauth::ERROR_EXPIRED_TOKEN) => {
                return Err(TenantError::DeviceCode("expired before it was completed".to_string()));
            }
            Some(oauth::ERROR_AUTHORIZATION_DECLINED) => {
                return Err(TenantError::DeviceCode("was declined".to_string()));
            }
            Some(oauth::ERROR_BAD_VERIFICATION_CODE) => {
                return Err(TenantError::DeviceCode(
                    "was not recognised by the service (it may have been used already)".to_string(),
                ));
            }
            _ => return Err(error::token_error(incoming.status, &incoming.body)),
        }
    }
}

fn delegated_from_body(body: &[u8], user_hint: Option<&str>) -> Result<DelegatedSignIn, TenantError> {
    let decode =
        |message: String| TenantError::Decode { api: Api::Login, path: "token".to_string(), message };
    let tokens: oauth::TokenResponse = serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
    let id: oauth::IdTokenField = serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
    let claims = id.id_token.as_deref().and_then(oauth::decode_id_token).unwrap_or_default();
    let upn = claims
        .preferred_username
        .or(claims.upn)
        .or_else(|| user_hint.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()))
        .ok_or_else(|| decode("the sign-in named no user (no id_token); give the user's UPN".to_string()))?;
    let refresh_token = tokens
        .refresh_token
        .ok_or_else(|| decode("the sign-in returned no refresh token (offline_access)".to_string()))?;
    Ok(DelegatedSignIn {
        credential: Credential::Delegated {
            client_id: oauth::EXCHANGE_PUBLIC_CLIENT_ID.to_string(),
            upn: upn.clone(),
            refresh_token: Secret::new(refresh_token),
        },
        upn,
        access_token: Secret::new(tokens.access_token),
        expires_in: Duration::from_secs(tokens.expires_in),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn env_credentials_need_exactly_one_kind() {
        assert!(Credential::from_vars(vars(&[])).unwrap().is_none());
        let c =
            Credential::from_vars(vars(&[(CLIENT_ID, "app"), (CLIENT_SECRET, "s3cr3t")])).unwrap().unwrap();
        assert!(matches!(&c, Credential::Secret { client_id, .. } if client_id == "app"));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let both = Credential::from_vars(vars(&[
            (CLIENT_ID, "app"),
            (CLIENT_SECRET, "s"),
            (FEDERATED_TOKEN_FILE, "/f"),
        ]));
        assert!(both.unwrap_err().to_string().contains("exactly one"));
        let orphan = Credential::from_vars(vars(&[(CLIENT_SECRET, "s")]));
        assert!(orphan.unwrap_err().to_string().contains(CLIENT_ID));
        let missing =
            Credential::from_vars(vars(&[(CLIENT_ID, "app"), (CLIENT_CERTIFICATE, "/nonexistent/c.pem")]));
        assert!(missing.unwrap_err().to_string().contains("/nonexistent/c.pem"));
    }

    #[test]
    fn renewal_keeps_a_margin() {
        assert_eq!(renew_after(Duration::from_secs(3599)), Duration::from_secs(3299));
        assert_eq!(renew_after(Duration::from_secs(120)), Duration::from_secs(60));
    }

    #[test]
    fn certificate_assertion_is_ps256_with_thumbprint_and_claims() {
        let mut rng = rsa::rand_core::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let key_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public_pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let key_der = private.to_pkcs8_der().unwrap();
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_der(key_der.as_bytes()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["pamform-test".to_string()])
            .unwrap()
            .self_signed(&pair)
            .unwrap();
        // One file holding both blocks works, like a combined PEM.
        let combined = format!("{}{}", cert.pem(), key_pem);
        let key = CertificateKey::from_pem(combined.as_bytes(), combined.as_bytes()).unwrap();
        assert_eq!(key.thumbprint(), thumbprint_s256(cert.der()));
        assert!(!format!("{key:?}").contains("PRIVATE"));

        let url = "https://login.example/t/oauth2/v2.0/token";
        let jwt = client_assertion("app-id", url, &key, 1_700_000_000).unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose()).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert_eq!(header.x5t_s256.as_deref(), Some(key.thumbprint()));
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
        validation.set_audience(&[url]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap();
        let data =
            jsonwebtoken::decode::<oauth::AssertionClaims>(jwt.expose(), &decoding, &validation).unwrap();
        assert_eq!(data.claims.iss, "app-id");
        assert_eq!(data.claims.sub, "app-id");
        assert_eq!(data.claims.nbf, 1_700_000_000);
        assert_eq!(data.claims.exp, 1_700_000_000 + oauth::ASSERTION_LIFETIME_SECS);
        assert!(!data.claims.jti.is_empty());
    }

    fn rustls_pki_der(der: &[u8]) -> rustls::pki_types::PrivatePkcs8KeyDer<'static> {
        rustls::pki_types::PrivatePkcs8KeyDer::from(der.to_vec())
    }

    #[test]
    fn id_tokens_name_the_user() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"preferred_username":"alice@contoso.onmicrosoft.com"}"#);
        let body = serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "at",
            "refresh_token": "rt", "id_token": format!("e30.{payload}.sig"),
        });
        let signed = delegated_from_body(&serde_json::to_vec(&body).unwrap(), Some("bob@x")).unwrap();
        assert_eq!(signed.upn, "alice@contoso.onmicrosoft.com", "the ID token wins over the hint");
        assert_eq!(signed.credential.identity(), "alice@contoso.onmicrosoft.com");
        let bare = serde_json::json!({"token_type": "Bearer", "expires_in": 1, "access_token": "at", "refresh_token": "rt"});
        let bytes = serde_json::to_vec(&bare).unwrap();
        assert_eq!(delegated_from_body(&bytes, Some("bob@x")).unwrap().upn, "bob@x");
        assert!(delegated_from_body(&bytes, None).is_err());
    }
}
