//! The emulated tenant: Microsoft's token endpoint, Exchange admin API and Graph reads on a
//! loopback port, with the service's rules and quirks. [`start`] binds and serves; the
//! returned [`RunningEmulator`] says where, and stops it.
//!
//! Layout: [`seed`] (seed and data-file format), `tenant_data` (the live data and its
//! loading rules), `store` (shared state, clock, persistence), `tokens` (identity platform),
//! `cmdlets` and `exchange` (admin API), `graph` (Graph reads), [`faults`] (fault options and
//! counters), [`journal`] (policy journal), [`data_lock`] (one emulator per data file), `control` (`/_emulator/`), `devicelogin` (the
//! device-code sign-in pages), `fault_layer` (injected faults), `server` (HTTP, TLS), `sync`
//! (locking), [`tenancy`] (many tenants in one emulator, and the multi-tenant seed generator).

mod cmdlets;
mod control;
pub mod data_lock;
mod devicelogin;
mod exchange;
mod fault_layer;
pub mod faults;
mod graph;
pub mod journal;
pub mod seed;
mod server;
mod store;
mod sync;
pub mod tenancy;
mod tenant_data;
mod tokens;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use data_lock::{Holder, Owner};
pub use faults::{Counters, Faults};
pub use seed::{Seed, SeedError};
pub use tokens::cert_thumbprint;

use tenant_data::TenantData;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Loopback address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Data file: loaded when present; otherwise the tenant starts from the seed and the
    /// file is created on the first write. `None` keeps the tenant in memory.
    pub data: Option<PathBuf>,
    /// Seed of a fresh tenant (and of `/_emulator/reset`); the default tenant when `None`.
    pub seed: Option<Seed>,
    pub faults: Faults,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1 and localhost.
    pub tls: bool,
}

/// The well-known app credentials of the seeded tenant (emulator only).
#[derive(Debug, Clone, PartialEq)]
pub struct AppCredentials {
    pub client_id: String,
    /// The first seeded app with a client secret; empty when the seed has none.
    pub client_secret: String,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the emulator listens on loopback only, not {0}; use 127.0.0.1:PORT")]
    NotLoopback(SocketAddr),
    #[error("could not listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the default seed is broken: {0}")]
    DefaultSeed(SeedError),
    #[error("the seed is not usable: {0}")]
    Seed(SeedError),
    #[error(
        "the data file {path} cannot be written: its directory {dir} does not exist; create it or pick another --data path"
    )]
    DataDir { path: PathBuf, dir: PathBuf },
    #[error("{}", in_use_message(path, holder.as_ref()))]
    DataInUse { path: PathBuf, holder: Option<Holder> },
    #[error("could not lock the data file {path} (through {}): {source}", data_lock::lock_path(path).display())]
    DataLock { path: PathBuf, source: std::io::Error },
    #[error("could not read the data file {path}: {message}; fix or remove it")]
    Data { path: PathBuf, message: String },
    #[error("the fault options are not valid: {0}")]
    Faults(String),
    #[error("could not set up TLS: {0}")]
    Tls(String),
    #[error("the multi-tenant emulator cannot start: {0}")]
    Tenants(String),
    #[error("could not wait for Ctrl-C: {0}")]
    Signal(std::io::Error),
}

/// Another emulator has the data file: two would overwrite each other's writes.
fn in_use_message(path: &Path, holder: Option<&Holder>) -> String {
    let who = holder.map(Holder::to_string).unwrap_or_else(|| "another emulator".to_string());
    let hint = match holder {
        Some(Holder { owner: Owner::Served, url: Some(url), .. }) => format!(
            "; use that emulator (in the tenant block, replace emulator with login_url, exchange_url and graph_url = \"{url}\", and set PAMFORM_CLIENT_ID and PAMFORM_CLIENT_SECRET to its well-known credential, docs/emulator.md) or stop it first"
        ),
        Some(Holder { owner: Owner::Embedded { .. }, .. }) => "; wait for that command to finish".to_string(),
        _ => "; stop it first, or use another data file".to_string(),
    };
    format!("the emulator data file {} is in use by {who}{hint}", path.display())
}

/// A running emulator. Login, Exchange and Graph share `base_url`.
#[derive(Debug)]
pub struct RunningEmulator {
    pub addr: SocketAddr,
    /// `http(s)://127.0.0.1:PORT`
    pub base_url: String,
    pub tenant_domain: String,
    pub tenant_id: String,
    pub app: AppCredentials,
    /// The self-signed certificate (PEM) to trust, with `tls`.
    pub ca_pem_path: Option<PathBuf>,
    /// How many tenants it hosts (1 unless started by [`tenancy::start_tenants`]).
    pub tenant_count: usize,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningEmulator {
    /// Stops accepting, lets open requests finish (up to a few seconds) and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        if let Some(p) = &self.ca_pem_path {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Serves until Ctrl-C, then shuts down gracefully.
    pub async fn run_until_ctrl_c(self) -> Result<(), EmulatorError> {
        let signal = tokio::signal::ctrl_c().await;
        self.shutdown().await;
        signal.map_err(EmulatorError::Signal)
    }
}

/// Binds the listener and starts serving in the background.
pub async fn start(cfg: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    start_logged(cfg, false).await
}

/// [`start`], writing one line per request to stderr when `log_requests` (method, path,
/// status, time; never a query, token or secret).
pub async fn start_logged(cfg: EmulatorConfig, log_requests: bool) -> Result<RunningEmulator, EmulatorError> {
    start_owned(cfg, log_requests, Owner::Library).await
}

/// [`start_logged`], recording `owner` as the holder of the data file: while it runs, another
/// emulator on the same file is refused with [`EmulatorError::DataInUse`], which names it.
pub async fn start_owned(
    cfg: EmulatorConfig,
    log_requests: bool,
    owner: Owner,
) -> Result<RunningEmulator, EmulatorError> {
    check_config(&cfg)?;
    // Taken before the file is read, so the tenant loaded is the last one written.
    let mut lock = match &cfg.data {
        Some(path) => Some(data_lock::DataLock::acquire(path, owner).map_err(|e| match e {
            data_lock::LockError::Held(holder) => EmulatorError::DataInUse { path: path.clone(), holder },
            data_lock::LockError::Io(source) => EmulatorError::DataLock { path: path.clone(), source },
        })?),
        None => None,
    };
    let seed = match cfg.seed {
        Some(s) => s,
        None => Seed::default_seed().map_err(EmulatorError::DefaultSeed)?,
    };
    let app = app_credentials(&seed);
    let initial = TenantData::load(seed).map_err(EmulatorError::Seed)?;
    let tenant = match &cfg.data {
        Some(path) if path.exists() => load_data_file(path)?,
        _ => initial.clone(),
    };
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| EmulatorError::Bind { addr: cfg.listen, source })?;
    let addr = listener.local_addr().map_err(|source| EmulatorError::Bind { addr: cfg.listen, source })?;
    let (acceptor, ca_pem_path) = if cfg.tls {
        let (a, p) = tls_acceptor(addr)?;
        (Some(a), Some(p))
    } else {
        (None, None)
    };
    let base_url = base_url(addr, cfg.tls);
    if let (Some(lock), Some(path)) = (&mut lock, &cfg.data) {
        lock.set_url(&base_url).map_err(|source| EmulatorError::DataLock { path: path.clone(), source })?;
    }
    let (tenant_domain, tenant_id) = (tenant.tenant.domain.clone(), tenant.tenant.id.clone());
    // Written where the path resolves to: through a symbolic link, not over it (replacing the
    // link would part the two spellings of the file, and their locks).
    let data = cfg.data.as_deref().map(data_lock::resolve);
    let shared = Arc::new(store::Shared::new(tenant, initial, base_url.clone(), cfg.faults, data));
    shared.set_log_requests(log_requests);
    let router = server::router(shared);
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        server::serve(listener, router, acceptor, rx).await;
        // Released once the last request (and its save) is done.
        drop(lock);
    });
    Ok(RunningEmulator {
        addr,
        base_url,
        tenant_domain,
        tenant_id,
        app,
        ca_pem_path,
        tenant_count: 1,
        shutdown: tx,
        task,
    })
}

/// Refuses what cannot work before anything is bound: an address off loopback, a data file
/// in a missing directory, fault options out of range.
fn check_config(cfg: &EmulatorConfig) -> Result<(), EmulatorError> {
    if !cfg.listen.ip().is_loopback() {
        return Err(EmulatorError::NotLoopback(cfg.listen));
    }
    if let Some(path) = &cfg.data {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(EmulatorError::DataDir { path: path.clone(), dir: dir.to_path_buf() });
        }
    }
    cfg.faults.validate().map_err(EmulatorError::Faults)
}

/// `http(s)://HOST:PORT` of the bound address.
fn base_url(addr: SocketAddr, tls: bool) -> String {
    let host = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}:{}", addr.port())
}

/// The app a client of the seeded tenant signs in as: the first with a client secret, or
/// else the first app.
fn app_credentials(seed: &Seed) -> AppCredentials {
    let (client_id, client_secret) = seed
        .app_secret()
        .or_else(|| seed.apps.first().map(|a| (a.client_id.clone(), String::new())))
        .unwrap_or_default();
    AppCredentials { client_id, client_secret }
}

/// The tenant a data file kept.
fn load_data_file(path: &Path) -> Result<TenantData, EmulatorError> {
    let data_err = |message: String| EmulatorError::Data { path: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| data_err(e.to_string()))?;
    Seed::from_json(&text).and_then(TenantData::load).map_err(|e| data_err(e.to_string()))
}

/// A self-signed certificate for 127.0.0.1 and localhost; its PEM goes to a file to trust.
fn tls_acceptor(addr: SocketAddr) -> Result<(tokio_rustls::TlsAcceptor, PathBuf), EmulatorError> {
    let tls = |e: &dyn std::fmt::Display| EmulatorError::Tls(e.to_string());
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string(), "::1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| tls(&e))?;
    let pem = certified.cert.pem();
    let path =
        std::env::temp_dir().join(format!("pamform-emulator-{}-{}.pem", std::process::id(), addr.port()));
    crate::files::write_atomic(&path, pem.as_bytes()).map_err(|e| tls(&e))?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| tls(&e))?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), path))
}
