//! The delegated sign-in kept between commands: one file, readable only by the user (0600 in a
//! 0700 directory), holding the Exchange access token until it expires, the refresh token
//! when the service gave one, the tenant, its endpoints and the user. Tokens never leave
//! this file except on the wire.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::env::{CACHE_DIR, HOME, XDG_CACHE_HOME};
use crate::tenant::{Client, ClientOptions, Credential, DelegatedSignIn, Endpoints, Resource, Secret};

/// Overrides the cache directory (tests, unusual setups).
/// Name of the session file inside the cache directory.
const SESSION_FILE: &str = "session.json";
/// Version of the file's format.
const FORMAT_VERSION: u32 = 1;

/// Why a session could not be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot find a cache directory: set {CACHE_DIR}, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    #[error("cannot {action} the sign-in cache {path}: {message}")]
    Io { action: &'static str, path: String, message: String },
    #[error(
        "the sign-in cache {path} is readable by others (mode {mode:o}); run `pamform logout` and sign in again"
    )]
    Exposed { path: String, mode: u32 },
    #[error("the sign-in cache {path} is damaged ({message}); run `pamform logout` and `pamform login`")]
    Damaged { path: String, message: String },
    #[error("not signed in; run `pamform login`")]
    NotSignedIn,
    #[error("the sign-in of {upn} has expired; run `pamform login`")]
    Expired { upn: String },
    #[error("signed in to {signed_in} but the configuration names {wanted}; run `pamform login`")]
    OtherTenant { signed_in: String, wanted: String },
}

/// The cache directory: PAMFORM_CACHE_DIR, else XDG_CACHE_HOME/pamform, else ~/.cache/pamform.
fn cache_dir_from(var: impl Fn(&str) -> Option<String>) -> Result<PathBuf, SessionError> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty()).map(PathBuf::from);
    if let Some(dir) = get(CACHE_DIR) {
        return Ok(dir);
    }
    if let Some(xdg) = get(XDG_CACHE_HOME).filter(|p| p.is_absolute()) {
        return Ok(xdg.join("pamform"));
    }
    get(HOME).map(|h| h.join(".cache").join("pamform")).ok_or(SessionError::NoCacheDir)
}

/// The session file in the process's cache directory.
fn session_path() -> Result<PathBuf, SessionError> {
    Ok(cache_dir_from(crate::env::get)?.join(SESSION_FILE))
}

/// A signed-in user, as stored. `Debug` never shows the tokens.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub format_version: u32,
    /// Tenant id or domain the user signed in to.
    pub tenant: String,
    pub login_url: String,
    pub exchange_url: String,
    pub graph_url: String,
    pub upn: String,
    pub client_id: String,
    pub signed_in_at: DateTime<Utc>,
    access_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("tenant", &self.tenant)
            .field("exchange_url", &self.exchange_url)
            .field("upn", &self.upn)
            .field("expires_at", &self.expires_at)
            .field("access_token", &Secret::new(""))
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| Secret::new("")))
            .finish()
    }
}

impl Session {
    /// The session a finished device-code sign-in gives.
    pub fn from_sign_in(
        tenant: &str,
        endpoints: &Endpoints,
        signed: &DelegatedSignIn,
        now: DateTime<Utc>,
    ) -> Session {
        let refresh_token = match &signed.credential {
            Credential::Delegated { refresh_token, .. } if !refresh_token.is_empty() => {
                Some(refresh_token.expose().to_string())
            }
            _ => None,
        };
        Session {
            format_version: FORMAT_VERSION,
            tenant: tenant.to_string(),
            login_url: endpoints.login.clone(),
            exchange_url: endpoints.exchange.clone(),
            graph_url: endpoints.graph.clone(),
            upn: signed.upn.clone(),
            client_id: signed.credential.client_id().to_string(),
            signed_in_at: now,
            access_token: signed.access_token.expose().to_string(),
            expires_at: now + chrono::Duration::from_std(signed.expires_in).unwrap_or_default(),
            refresh_token,
        }
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            login: self.login_url.clone(),
            exchange: self.exchange_url.clone(),
            graph: self.graph_url.clone(),
        }
    }

    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// Whether the session can still get a token: the access token is valid, or a refresh
    /// token can renew it.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token.is_some() || self.expires_at > now
    }

    /// Refuses a session for another tenant or other endpoints: a token is only ever sent
    /// to the service it was issued by.
    pub fn check_target(&self, tenant: &str, endpoints: &Endpoints) -> Result<(), SessionError> {
        let same = self.tenant.eq_ignore_ascii_case(tenant.trim())
            && self.login_url == endpoints.login
            && self.exchange_url == endpoints.exchange;
        if same {
            Ok(())
        } else {
            Err(SessionError::OtherTenant {
                signed_in: format!("{} at {}", self.tenant, self.exchange_url),
                wanted: format!("{} at {}", tenant.trim(), endpoints.exchange),
            })
        }
    }

    /// A client that acts as the signed-in user, starting with the cached access token while
    /// it is valid (the refresh token renews it afterwards).
    pub async fn client(&self, now: DateTime<Utc>) -> Result<Client, crate::tenant::TenantError> {
        let credential = Credential::Delegated {
            client_id: self.client_id.clone(),
            upn: self.upn.clone(),
            refresh_token: Secret::new(self.refresh_token.clone().unwrap_or_default()),
        };
        let client = Client::new(&self.tenant, self.endpoints(), credential, ClientOptions::default())?;
        if let Some(valid_for) = self.access_valid_for(now) {
            client.prime_token(Resource::Exchange, self.access_token(), valid_for).await;
        }
        Ok(client)
    }

    /// How long the access token stays valid from `now`.
    fn access_valid_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        (self.expires_at - now).to_std().ok().filter(|d| !d.is_zero())
    }

    pub fn access_token(&self) -> Secret {
        Secret::new(self.access_token.clone())
    }

    /// Takes renewed tokens from a client that used this session; `true` when they changed.
    pub async fn absorb(&mut self, client: &Client, now: DateTime<Utc>) -> bool {
        let mut changed = false;
        if let Some((token, left)) = client.current_token(Resource::Exchange).await
            && token.expose() != self.access_token
        {
            self.access_token = token.expose().to_string();
            self.expires_at = now + chrono::Duration::from_std(left).unwrap_or_default();
            changed = true;
        }
        if let Some(rt) = client.refresh_token().await
            && self.refresh_token.as_deref() != Some(rt.expose())
        {
            self.refresh_token = Some(rt.expose().to_string());
            changed = true;
        }
        changed
    }
}

/// The session file at a path.
#[derive(Debug, Clone)]
pub struct SessionStore {
    path: PathBuf,
}

impl SessionStore {
    pub fn new(path: PathBuf) -> Self {
        SessionStore { path }
    }

    /// The store in the user's cache directory.
    pub fn default_location() -> Result<Self, SessionError> {
        session_path().map(SessionStore::new)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, action: &'static str, e: impl std::fmt::Display) -> SessionError {
        SessionError::Io { action, path: self.path.display().to_string(), message: e.to_string() }
    }

    /// The stored session, if any. Refuses a file others can read.
    pub fn load(&self) -> Result<Option<Session>, SessionError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("read", e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.path).map_err(|e| self.io("read", e))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(SessionError::Exposed {
                    path: self.path.display().to_string(),
                    mode: mode & 0o777,
                });
            }
        }
        let session: Session = serde_json::from_slice(&bytes).map_err(|e| SessionError::Damaged {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        if session.format_version != FORMAT_VERSION {
            return Err(SessionError::Damaged {
                path: self.path.display().to_string(),
                message: format!("format version {} is not {FORMAT_VERSION}", session.format_version),
            });
        }
        Ok(Some(session))
    }

    /// The stored session; an error when there is none or it can no longer get a token.
    pub fn require(&self, now: DateTime<Utc>) -> Result<Session, SessionError> {
        let session = self.load()?.ok_or(SessionError::NotSignedIn)?;
        if !session.usable(now) {
            return Err(SessionError::Expired { upn: session.upn });
        }
        Ok(session)
    }

    /// Writes the session: directory 0700, file 0600, atomically.
    pub fn save(&self, session: &Session) -> Result<(), SessionError> {
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            builder.mode(0o700);
            builder.create(dir).map_err(|e| self.io("create the directory of", e))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| self.io("protect the directory of", e))?;
        }
        #[cfg(not(unix))]
        builder.create(dir).map_err(|e| self.io("create the directory of", e))?;
        let bytes = serde_json::to_vec_pretty(session).map_err(|e| self.io("encode", e))?;
        crate::files::write_atomic(&self.path, &bytes).map_err(|e| self.io("write", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| self.io("protect", e))?;
        }
        Ok(())
    }

    /// Deletes the session file (also a damaged one); `false` when there was none.
    pub fn remove(&self) -> Result<bool, SessionError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io("remove", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::oauth;

    fn sample(now: DateTime<Utc>) -> Session {
        let signed = DelegatedSignIn {
            credential: Credential::Delegated {
                client_id: oauth::EXCHANGE_PUBLIC_CLIENT_ID.to_string(),
                upn: "alice@contoso.onmicrosoft.com".into(),
                refresh_token: Secret::new("rt-secret"),
            },
            upn: "alice@contoso.onmicrosoft.com".into(),
            access_token: Secret::new("at-secret"),
            expires_in: Duration::from_secs(3599),
        };
        let endpoints = Endpoints {
            login: "http://127.0.0.1:1".into(),
            exchange: "http://127.0.0.1:1".into(),
            graph: "http://127.0.0.1:1".into(),
        };
        Session::from_sign_in("contoso.onmicrosoft.com", &endpoints, &signed, now)
    }

    #[test]
    fn cache_dir_prefers_the_override_then_xdg_then_home() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        const ALL: &[(&str, &str)] = &[(CACHE_DIR, "/o"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
        assert_eq!(cache_dir_from(vars(ALL)).unwrap(), PathBuf::from("/o"));
        assert_eq!(cache_dir_from(vars(&ALL[1..])).unwrap(), PathBuf::from("/x/pamform"));
        assert_eq!(cache_dir_from(vars(&ALL[2..])).unwrap(), PathBuf::from("/h/.cache/pamform"));
        assert!(cache_dir_from(vars(&[("XDG_CACHE_HOME", "relative")])).is_err());
    }

    #[test]
    fn sessions_round_trip_privately_and_never_debug_print_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::new(dir.path().join("cache").join(SESSION_FILE));
        let now = Utc::now();
        let s = sample(now);
        assert!(!format!("{s:?}").contains("secret"));
        store.save(&s).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.path()), 0o600);
            assert_eq!(mode(store.path().parent().unwrap()), 0o700);
        }
        assert_eq!(store.load().unwrap(), Some(s.clone()));
        assert!(store.require(now).is_ok());
        assert!(store.remove().unwrap());
        assert!(matches!(store.require(now), Err(SessionError::NotSignedIn)));
        assert!(!store.remove().unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::new(dir.path().join(SESSION_FILE));
        store.save(&sample(Utc::now())).unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(store.load(), Err(SessionError::Exposed { .. })));
    }

    #[test]
    fn expiry_and_targets() {
        let now = Utc::now();
        let mut s = sample(now);
        let ep = s.endpoints();
        assert!(s.check_target("CONTOSO.onmicrosoft.com", &ep).is_ok());
        assert!(s.check_target("fabrikam.onmicrosoft.com", &ep).is_err());
        let other = Endpoints { exchange: "http://127.0.0.1:2".into(), ..ep };
        assert!(s.check_target("contoso.onmicrosoft.com", &other).is_err());
        let later = now + chrono::Duration::hours(2);
        assert!(s.access_valid_for(later).is_none());
        assert!(s.usable(later), "the refresh token renews it");
        s.refresh_token = None;
        assert!(!s.usable(later));
    }
}
