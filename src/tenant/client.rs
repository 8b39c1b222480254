//! The tenant client: endpoints (validated: https, or http on loopback only), options, and the
//! [`Client`] that owns the transport, the token cache and the per-API concurrency limits.
//! The Exchange, Graph and refresh methods live in their own modules.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::auth::{Credential, Tokens};
use super::error::TenantError;
use super::http::{Stats, Transport};
use super::retry::RetryPolicy;
use crate::env::CA_CERT;
use crate::wire::{exchange, oauth};

/// Default number of concurrent Graph requests per tenant.
const DEFAULT_GRAPH_CONCURRENCY: usize = 16;

/// Base URLs of the three services, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub login: String,
    pub exchange: String,
    pub graph: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            login: oauth::DEFAULT_LOGIN_URL.to_string(),
            exchange: oauth::DEFAULT_EXCHANGE_URL.to_string(),
            graph: oauth::DEFAULT_GRAPH_URL.to_string(),
        }
    }
}

/// Whether a host is loopback: 127.0.0.0/8, ::1 or `localhost`.
fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// Checks one endpoint URL: `https://`, or `http://` on a loopback host.
fn check_endpoint(name: &str, value: &str) -> Result<String, TenantError> {
    let trimmed = value.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed).map_err(|e| {
        TenantError::Config(format!("{name} `{trimmed}` is not a URL ({e}); write it like https://host"))
    })?;
    let host = url.host().ok_or_else(|| TenantError::Config(format!("{name} `{trimmed}` has no host")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(TenantError::Config(format!(
                "{name} `{trimmed}` uses plain http on a non-loopback host; use https (http is allowed only for 127.0.0.1, ::1 and localhost)"
            )));
        }
        other => {
            return Err(TenantError::Config(format!("{name} `{trimmed}` has scheme {other}; use https")));
        }
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(TenantError::Config(format!(
            "{name} must be a plain base URL without query or user info"
        )));
    }
    Ok(trimmed.to_string())
}

impl Endpoints {
    /// Endpoints from the tenant block's overrides, defaults for the rest, all checked.
    pub fn from_tenant(tenant: &crate::model::Tenant) -> Result<Self, TenantError> {
        let pick = |v: &Option<crate::model::Spanned<String>>, default: &str| {
            v.as_ref().map(|s| s.value.clone()).unwrap_or_else(|| default.to_string())
        };
        Endpoints {
            login: pick(&tenant.login_url, oauth::DEFAULT_LOGIN_URL),
            exchange: pick(&tenant.exchange_url, oauth::DEFAULT_EXCHANGE_URL),
            graph: pick(&tenant.graph_url, oauth::DEFAULT_GRAPH_URL),
        }
        .checked()
    }

    pub fn checked(self) -> Result<Self, TenantError> {
        Ok(Endpoints {
            login: check_endpoint("login_url", &self.login)?,
            exchange: check_endpoint("exchange_url", &self.exchange)?,
            graph: check_endpoint("graph_url", &self.graph)?,
        })
    }

    /// Whether all three are on loopback (then no proxy is used).
    pub fn all_loopback(&self) -> bool {
        [&self.login, &self.exchange, &self.graph].iter().all(|u| {
            url::Url::parse(u).ok().and_then(|u| u.host().map(|h| is_loopback_host(&h))).unwrap_or(false)
        })
    }
}

/// Knobs of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    pub exchange_concurrency: usize,
    pub graph_concurrency: usize,
    /// Extra CA bundle (PEM); defaults to PAMFORM_CA_CERT.
    pub ca_cert: Option<PathBuf>,
    /// The concurrency limits of another client for the same tenant, to be shared with it
    /// (then `exchange_concurrency` and `graph_concurrency` are not used): the limits are the
    /// tenant's, whichever client sends.
    pub shared_limits: Option<ConcurrencyLimits>,
}

/// A client's per-API concurrency limits, for another client of the same tenant to share
/// ([`Client::concurrency_limits`], [`ClientOptions::shared_limits`]).
#[derive(Debug, Clone)]
pub struct ConcurrencyLimits {
    exchange: Arc<Semaphore>,
    graph: Arc<Semaphore>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryPolicy::default(),
            exchange_concurrency: exchange::DEFAULT_CONCURRENCY,
            graph_concurrency: DEFAULT_GRAPH_CONCURRENCY,
            ca_cert: crate::env::path(CA_CERT).map(PathBuf::from),
            shared_limits: None,
        }
    }
}

pub(super) struct Inner {
    pub transport: Arc<Transport>,
    pub tokens: Tokens,
    pub endpoints: Endpoints,
    pub tenant: String,
    pub exchange_permits: Arc<Semaphore>,
    pub graph_permits: Arc<Semaphore>,
    pub app_only: bool,
    pub identity: String,
    pub warnings: Mutex<Vec<String>>,
}

/// A signed-in client for one tenant. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("tenant", &self.inner.tenant)
            .field("endpoints", &self.inner.endpoints)
            .field("identity", &self.inner.identity)
            .finish()
    }
}

impl Client {
    /// A client for `tenant` (id or initial domain) at `endpoints`, signing in with
    /// `credential`. Nothing is sent until the first call.
    pub fn new(
        tenant: &str,
        endpoints: Endpoints,
        credential: Credential,
        options: ClientOptions,
    ) -> Result<Client, TenantError> {
        let tenant = tenant.trim().to_string();
        if tenant.is_empty() || tenant.contains('/') {
            return Err(TenantError::Config(format!(
                "tenant id `{tenant}` is not a tenant id or domain; set the tenant block's id or PAMFORM_TENANT_ID"
            )));
        }
        let endpoints = endpoints.checked()?;
        let transport =
            Arc::new(Transport::new(options.retry, options.ca_cert.as_deref(), endpoints.all_loopback())?);
        let token_url = format!("{}{}", endpoints.login, oauth::token_path(&tenant));
        let app_only = credential.is_app_only();
        let identity = credential.identity();
        let tokens = Tokens::new(transport.clone(), token_url, credential);
        let limits = options.shared_limits.unwrap_or_else(|| ConcurrencyLimits {
            exchange: Arc::new(Semaphore::new(options.exchange_concurrency.max(1))),
            graph: Arc::new(Semaphore::new(options.graph_concurrency.max(1))),
        });
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                tokens,
                endpoints,
                tenant,
                exchange_permits: limits.exchange,
                graph_permits: limits.graph,
                app_only,
                identity,
                warnings: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    /// This client's per-API concurrency limits, for [`ClientOptions::shared_limits`].
    pub fn concurrency_limits(&self) -> ConcurrencyLimits {
        ConcurrencyLimits {
            exchange: self.inner.exchange_permits.clone(),
            graph: self.inner.graph_permits.clone(),
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The identity pamform acts as: the app id (app-only) or the user's UPN (delegated).
    pub fn identity(&self) -> &str {
        &self.inner.identity
    }

    pub fn is_app_only(&self) -> bool {
        self.inner.app_only
    }

    /// Starts with a token obtained earlier (a cached delegated sign-in), valid for `valid_for`.
    pub async fn prime_token(
        &self,
        resource: super::Resource,
        token: super::Secret,
        valid_for: std::time::Duration,
    ) {
        self.inner.tokens.prime(resource, token, valid_for).await;
    }

    /// The token currently cached for `resource` and how long it stays valid.
    pub async fn current_token(
        &self,
        resource: super::Resource,
    ) -> Option<(super::Secret, std::time::Duration)> {
        self.inner.tokens.current(resource).await
    }

    /// A token for `resource`, cached or new (Storage's, for a remote state backend).
    pub async fn token(&self, resource: super::Resource) -> Result<super::Secret, TenantError> {
        self.inner.tokens.token(resource).await
    }

    /// Gets a token for each service (a cached one if still valid): proves that the
    /// credential signs in to Exchange and Graph.
    pub async fn sign_in(&self) -> Result<(), TenantError> {
        self.inner.tokens.token(super::Resource::Exchange).await?;
        self.inner.tokens.token(super::Resource::Graph).await?;
        Ok(())
    }

    /// The delegated sign-in's refresh token, as last rotated by the service.
    pub async fn refresh_token(&self) -> Option<super::Secret> {
        self.inner.tokens.refresh_token().await
    }

    /// Requests made so far, per API, and retries.
    pub fn stats(&self) -> Stats {
        self.inner.transport.stats()
    }

    /// Warnings Exchange attached to answers since the last call.
    pub fn take_warnings(&self) -> Vec<String> {
        self.inner.warnings.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default()
    }

    /// Checks that a `@odata.nextLink` of `api` points at the same origin as `base`, so a
    /// token is never sent elsewhere.
    pub(super) fn check_next_link(api: super::Api, base: &str, link: &str) -> Result<(), TenantError> {
        let same = match (url::Url::parse(base), url::Url::parse(link)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        };
        if same {
            Ok(())
        } else {
            Err(TenantError::Decode {
                api,
                path: super::secret::loggable_url(link),
                message: "a nextLink points at another host; refusing to follow it".to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "https://outlook.office365.com/",
            "http://127.0.0.1:8080",
            "http://127.9.0.1",
            "http://[::1]:3",
            "http://localhost:1",
        ] {
            assert!(check_endpoint("x", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "ftp://127.0.0.1",
            "nonsense",
            "https://h/?a=b",
            "http://localhost.evil.com",
        ] {
            assert!(check_endpoint("x", bad).is_err(), "{bad}");
        }
        assert_eq!(check_endpoint("x", "https://h/base/").unwrap(), "https://h/base");
    }

    #[test]
    fn next_links_stay_on_the_origin() {
        use crate::tenant::Api;
        let local = "http://127.0.0.1:5";
        assert!(Client::check_next_link(Api::Graph, local, "http://127.0.0.1:5/v1.0/x?$skiptoken=1").is_ok());
        assert!(Client::check_next_link(Api::Graph, local, "http://127.0.0.1:6/v1.0/x").is_err());
        let evil = "https://evil.example/v1.0/x";
        assert!(Client::check_next_link(Api::Graph, "https://graph.microsoft.com", evil).is_err());
        // An Exchange listing's link is refused as Exchange's, not Graph's.
        let e = Client::check_next_link(Api::Exchange, local, "http://127.0.0.1:6/adminapi/x").unwrap_err();
        assert!(e.to_string().starts_with("unexpected answer from exchange"), "{e}");
    }
}
