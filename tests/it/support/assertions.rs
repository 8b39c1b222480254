//! Client assertions the tests sign for the seeded app, as Microsoft's libraries send them:
//! a certificate assertion with `x5t#S256` and PS256 (MSAL, padded thumbprint), one with `x5t`
//! (SHA-1) and RS256 (azure-identity), and GitHub Actions OIDC tokens for the app's federated
//! credential. The corpus names them as placeholders.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{APP_ID, DOMAIN};
use pamform::wire::oauth;

pub const KEY_PEM: &str = include_str!("../../fixtures/emulator_app_key.pem");
pub const CERT_PEM: &str = include_str!("../../fixtures/emulator_app_cert.pem");
/// The seeded app's federated credential (GitHub Actions, main branch).
pub const FEDERATED_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const FEDERATED_SUBJECT: &str = "repo:contoso/pam-config:ref:refs/heads/main";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn cert_der() -> Vec<u8> {
    rustls_pemfile::certs(&mut CERT_PEM.as_bytes()).next().unwrap().unwrap().as_ref().to_vec()
}

/// base64url with padding, as MSAL and azure-identity send thumbprints.
fn padded(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn claims(token_url: &str) -> serde_json::Value {
    json!({
        "aud": token_url, "iss": APP_ID, "sub": APP_ID, "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now() - 5, "iat": now() - 5, "exp": now() + 600,
    })
}

fn key() -> EncodingKey {
    EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap()
}

/// PS256 with `x5t#S256` (SHA-256 thumbprint, padded).
pub fn cert_assertion(token_url: &str) -> String {
    let mut header = Header::new(Algorithm::PS256);
    header.x5t_s256 = Some(padded(&Sha256::digest(cert_der())));
    jsonwebtoken::encode(&header, &claims(token_url), &key()).unwrap()
}

/// RS256 with `x5t` (SHA-1 thumbprint, padded) and float times, as azure-identity signs.
pub fn cert_assertion_x5t(token_url: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_der());
    header.x5t = Some(padded(sha1.as_ref()));
    let mut c = claims(token_url);
    c["exp"] = json!(now() as f64 + 600.25);
    c["nbf"] = json!(now() as f64 - 5.5);
    jsonwebtoken::encode(&header, &c, &key()).unwrap()
}

/// A GitHub Actions OIDC token for `subject`, for Entra's token exchange audience (signed with a
/// stand-in key: the seeded credential has no key to check it with).
pub fn federated_assertion(subject: &str) -> String {
    let c = json!({
        "iss": FEDERATED_ISSUER, "sub": subject, "aud": oauth::FEDERATED_AUDIENCE,
        "exp": now() + 300, "nbf": now() - 5,
    });
    // GitHub's tokens name their signing key by `x5t` and `kid`, like a certificate assertion.
    let mut header = Header::new(Algorithm::HS256);
    header.x5t = Some("cc413527-173f-5a05-976e-9c52b1d7b431".into());
    header.kid = header.x5t.clone();
    jsonwebtoken::encode(&header, &c, &EncodingKey::from_secret(b"github")).unwrap()
}

/// The corpus placeholders for the emulator at `base`.
pub fn vars(base: &str) -> Vec<(String, String)> {
    let token_url = format!("{base}{}", oauth::token_path(DOMAIN));
    vec![
        ("cert_assertion".into(), cert_assertion(&token_url)),
        ("cert_assertion_x5t".into(), cert_assertion_x5t(&token_url)),
        ("federated_assertion".into(), federated_assertion(FEDERATED_SUBJECT)),
        (
            "federated_assertion_other_subject".into(),
            federated_assertion("repo:evil/fork:ref:refs/heads/main"),
        ),
    ]
}
