//! The state in an Azure Blob (`backend "azurerm"`): one block blob per configuration, a blob
//! lease as the lock, every write conditional on the ETag read, and a blob snapshot of the
//! previous state taken before each write.
//!
//! The REST calls are written here with reqwest rather than with Microsoft's
//! `azure_storage_blob` crate (1.1.0, checked for this backend): that crate signs requests
//! with an Entra `TokenCredential` or takes a SAS URL, but has no Shared Key credential, which
//! is what an account key (`ARM_ACCESS_KEY`, and Azurite's default account) needs; it would
//! also bring `azure_core`/`typespec_client_core`, their own HTTP pipeline, retry policy and
//! XML stack beside pamform's reqwest client. The seven operations used are small and their
//! wire facts live in [`crate::wire::blob`]. Shared Key's HMAC-SHA256 comes from `ring`.
//!
//! **Lease.** A finite lease of [`LEASE_SECONDS`] (60 s), renewed every 20 s by the holder.
//! A holder killed with `kill -9` (or a laptop that lost its network) stops renewing, so the
//! team is locked out for at most a minute, without anyone running `force-unlock`; Terraform's
//! infinite lease needs a `force-unlock` after every crash. A holder whose renewal fails keeps
//! running, but every write it makes still names the ETag it read, so it can never overwrite
//! a state written by whoever took the lease next.
//!
//! **Writes.** Put Blob with `If-Match: <etag read>` (or `If-None-Match: *` when there is no
//! blob yet) and the lease id: a stale writer gets 412 and nothing is written. Before each
//! write the current blob is snapshotted (`If-Match` too), so `state versions` lists every
//! previous state and `state restore` brings one back. A blob that exists but is empty is a
//! lock placeholder (a lease needs a blob): no state yet.
//!
//! The client is blocking, like the local file's reads and writes: each call runs on this
//! backend's own small runtime from a scoped thread, so it can be called from inside or
//! outside an async context.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;

use super::lock::{LockError, LockInfo};
use super::storage::{StateLock, Storage, Version};
use super::{State, StateError};
use crate::wire::blob as wire;
use crate::wire::blob::{error_code, meta, status};

/// The lease's length; renewed every third of it.
pub const LEASE_SECONDS: u32 = wire::LEASE_MAX_SECONDS;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Gets an Entra access token for Storage (audience [`wire::STORAGE_RESOURCE`]).
pub type TokenSource =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// How requests are authorised.
#[derive(Clone)]
pub enum BlobAuth {
    /// Shared Key with the account key (base64, as the portal shows it).
    SharedKey { key: Vec<u8> },
    /// A SAS token (the query string, without `?`).
    Sas(String),
    /// An Entra token for Storage.
    Bearer(TokenSource),
}

impl std::fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key or token.
        f.write_str(match self {
            BlobAuth::SharedKey { .. } => "SharedKey",
            BlobAuth::Sas(_) => "Sas",
            BlobAuth::Bearer(_) => "Bearer",
        })
    }
}

impl BlobAuth {
    pub fn shared_key(base64_key: &str) -> Result<BlobAuth, String> {
        base64::engine::general_purpose::STANDARD
            .decode(base64_key.trim())
            .map(|key| BlobAuth::SharedKey { key })
            .map_err(|_| {
                "the account key is not base64; copy it from the storage account's access keys".to_string()
            })
    }
}

/// Where the state blob is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLocation {
    /// The Blob service endpoint, e.g. `https://acct.blob.core.windows.net` or Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`, without a trailing `/`.
    pub endpoint: String,
    pub account: String,
    pub container: String,
    pub key: String,
}

impl BlobLocation {
    fn name(&self) -> String {
        format!("azurerm:{}/{}/{}", self.account, self.container, self.key)
    }
}

struct Response {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    fn error_code(&self) -> String {
        self.header(wire::H_ERROR_CODE).unwrap_or_default()
    }

    /// A short description for messages: status and error code (never the body's secrets:
    /// Storage error bodies carry only a code, a message and a request id).
    fn describe(&self) -> String {
        let code = self.error_code();
        let hint = match self.status {
            status::FORBIDDEN => {
                "; check the credentials (ARM_ACCESS_KEY, ARM_SAS_TOKEN, or with use_azuread_auth the role Storage Blob Data Contributor on the container)"
            }
            status::NOT_FOUND if code == error_code::CONTAINER_NOT_FOUND => {
                "; create the container first (e.g. `az storage container create`)"
            }
            _ => "",
        };
        format!("the Blob service answered {} {code}{hint}", self.status)
    }
}

/// What a request targets.
enum Target<'a> {
    Container,
    Blob,
    Snapshot(&'a str),
}

/// A blocking client of one container and blob.
struct Client {
    location: BlobLocation,
    auth: BlobAuth,
    http: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Client {
    fn drop(&mut self) {
        // Safe to drop inside or outside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Client {
    fn new(location: BlobLocation, auth: BlobAuth, http: reqwest::Client) -> Result<Client, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pamform-blob")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Blob client: {e}"))?;
        Ok(Client { location, auth, http, runtime: Some(runtime) })
    }

    fn url(&self, target: &Target<'_>, query: &str) -> String {
        let container = percent_encoding::utf8_percent_encode(&self.location.container, wire::PATH_SEGMENT);
        let mut url = format!("{}/{container}", self.location.endpoint);
        if !matches!(target, Target::Container) {
            url.push('/');
            url.push_str(
                &percent_encoding::utf8_percent_encode(&self.location.key, wire::PATH_SEGMENT).to_string(),
            );
        }
        let mut q: Vec<String> = Vec::new();
        if !query.is_empty() {
            q.push(query.to_string());
        }
        if let Target::Snapshot(s) = target {
            q.push(wire::snapshot_query(s));
        }
        if let BlobAuth::Sas(sas) = &self.auth {
            q.push(sas.trim_start_matches('?').to_string());
        }
        if !q.is_empty() {
            url.push('?');
            url.push_str(&q.join("&"));
        }
        url
    }

    /// Sends one request and waits for its whole answer.
    fn send(
        &self,
        method: Method,
        target: Target<'_>,
        query: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, String> {
        let url = self.url(&target, query);
        let rt = self.runtime.as_ref().expect("runtime lives as long as the client");
        let fut = self.request(method, url, headers, body);
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut)).join().unwrap_or_else(|_| Err("the Blob client stopped".to_string()))
        })
    }

    async fn request(
        &self,
        method: Method,
        url: String,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Response, String> {
        let parsed = url::Url::parse(&url).map_err(|e| format!("bad Blob URL: {e}"))?;
        let mut ms: Vec<(String, String)> = vec![
            (wire::H_VERSION.to_string(), wire::VERSION.to_string()),
            (wire::H_DATE.to_string(), wire::http_date(chrono::Utc::now())),
        ];
        let mut plain: Vec<(String, String)> = Vec::new();
        for (k, v) in headers {
            if wire::is_ms_header(k) {
                ms.push((k.to_string(), v.clone()));
            } else {
                plain.push((k.to_string(), v.clone()));
            }
        }
        let mut req = self.http.request(method.clone(), parsed.clone()).timeout(REQUEST_TIMEOUT);
        for (k, v) in ms.iter().chain(&plain) {
            req = req.header(k, v);
        }
        match &self.auth {
            BlobAuth::Sas(_) => {}
            BlobAuth::Bearer(source) => {
                let token = source().await.map_err(|e| format!("cannot get a token for Storage: {e}"))?;
                req = req.header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
            }
            BlobAuth::SharedKey { key } => {
                let find = |name: &str| {
                    plain
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.as_str())
                        .unwrap_or("")
                };
                let query: Vec<(String, String)> =
                    parsed.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                let to_sign = wire::string_to_sign(&wire::SignedRequest {
                    method: method.as_str(),
                    content_length: body.len(),
                    content_type: find("content-type"),
                    if_match: find("if-match"),
                    if_none_match: find("if-none-match"),
                    ms_headers: &ms,
                    account: &self.location.account,
                    path: parsed.path(),
                    query: &query,
                });
                let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
                let signature = base64::engine::general_purpose::STANDARD
                    .encode(ring::hmac::sign(&k, to_sign.as_bytes()));
                req = req.header(
                    reqwest::header::AUTHORIZATION,
                    wire::shared_key_header(&self.location.account, &signature),
                );
            }
        }
        if !body.is_empty() || method == Method::PUT {
            // Put Blob requires Content-Length even when it is 0, which hyper leaves out for
            // an empty body.
            req = req.header(reqwest::header::CONTENT_LENGTH, body.len()).body(body);
        }
        let resp = req.send().await.map_err(|e| {
            format!(
                "cannot reach the Blob service at {}: {}",
                self.location.endpoint,
                root_cause(&e.without_url())
            )
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("the Blob service's answer broke off: {}", root_cause(&e.without_url())))?
            .to_vec();
        Ok(Response { status, headers, body })
    }
}

/// An error with its causes, as reqwest nests them ("error sending request: connection
/// refused"), each said once.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(next) = cur {
        let text = next.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = next.source();
    }
    parts.join(": ")
}

/// The held lease.
#[derive(Debug, Clone)]
struct Lease {
    id: String,
    info: LockInfo,
}

struct Inner {
    client: Client,
    /// The ETag of the blob as last read or written, and whether it held a state (not the
    /// empty lock placeholder); `None`: no blob.
    etag: Mutex<Option<(String, bool)>>,
    lease: Mutex<Option<Lease>>,
}

/// The state in an Azure Blob.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({}, {:?})", self.inner.client.location.name(), self.inner.client.auth)
    }
}

impl BlobStore {
    pub fn new(location: BlobLocation, auth: BlobAuth, http: reqwest::Client) -> Result<BlobStore, String> {
        Ok(BlobStore {
            inner: Arc::new(Inner {
                client: Client::new(location, auth, http)?,
                etag: Mutex::new(None),
                lease: Mutex::new(None),
            }),
        })
    }

    fn remote(&self, message: impl Into<String>) -> StateError {
        StateError::Remote { name: self.name(), message: message.into() }
    }

    fn lock_error(&self, message: impl Into<String>) -> LockError {
        LockError::Remote { name: self.name(), message: message.into() }
    }

    /// Creates the container (for tests and first-time setup); an existing one is fine.
    pub fn create_container(&self) -> Result<(), String> {
        let r = self.inner.client.send(Method::PUT, Target::Container, wire::Q_CONTAINER, &[], Vec::new())?;
        match r.status {
            status::CREATED | status::CONFLICT => Ok(()),
            _ => Err(r.describe()),
        }
    }

    /// The names of the container's blobs under `prefix` (each once, snapshots aside), every
    /// page of the listing.
    pub fn list_names(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut names = std::collections::BTreeSet::new();
        let mut marker = String::new();
        loop {
            let mut query = wire::list_query(prefix);
            if !marker.is_empty() {
                query.push_str(&format!("&{}", wire::marker_query(&marker)));
            }
            let r = self
                .inner
                .client
                .send(Method::GET, Target::Container, &query, &[], Vec::new())
                .map_err(|m| self.remote(m))?;
            if r.status != status::OK {
                return Err(self.remote(format!("cannot list the container's states: {}", r.describe())));
            }
            let text = String::from_utf8_lossy(&r.body);
            let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
                .map_err(|e| self.remote(format!("the blob list is not XML: {e}")))?;
            for blob in doc.descendants().filter(|n| n.has_tag_name("Blob")) {
                if let Some(name) = blob.children().find(|n| n.has_tag_name("Name")).and_then(|n| n.text()) {
                    names.insert(name.to_string());
                }
            }
            let next = doc
                .descendants()
                .find(|n| n.has_tag_name("NextMarker"))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .trim()
                .to_string();
            if next.is_empty() || next == marker {
                return Ok(names.into_iter().collect());
            }
            marker = next;
        }
    }

    /// The stored bytes and ETag, without touching what this store read before.
    pub fn fetch_raw(&self) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let r = self
            .inner
            .client
            .send(Method::GET, Target::Blob, "", &[], Vec::new())
            .map_err(|m| self.remote(m))?;
        match r.status {
            status::OK => Ok(Some((r.body.clone(), r.header(wire::H_ETAG).unwrap_or_default()))),
            status::NOT_FOUND if r.error_code() != error_code::CONTAINER_NOT_FOUND => Ok(None),
            _ => Err(self.remote(r.describe())),
        }
    }

    /// Lock metadata headers for the held lease, plus the state's serial and lineage.
    fn metadata(&self, lease: Option<&Lease>, state: Option<&State>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(l) = lease {
            for (k, v) in [
                (meta::LOCK_ID, l.info.id.clone()),
                (meta::LOCK_WHO, l.info.who.clone()),
                (meta::LOCK_HOST, l.info.host.clone()),
                (meta::LOCK_PID, l.info.pid.to_string()),
                (meta::LOCK_COMMAND, l.info.command.clone()),
                (meta::LOCK_CREATED, l.info.created.clone()),
            ] {
                out.push((format!("{}{k}", wire::H_META_PREFIX), ascii(&v)));
            }
        }
        if let Some(s) = state {
            out.push((format!("{}{}", wire::H_META_PREFIX, meta::SERIAL), s.serial.to_string()));
            out.push((format!("{}{}", wire::H_META_PREFIX, meta::LINEAGE), ascii(&s.lineage)));
        }
        out
    }

    /// The holder's details from the blob's metadata, when it is leased.
    fn read_holder(&self) -> Result<Option<LockInfo>, String> {
        let r = self.inner.client.send(Method::HEAD, Target::Blob, "", &[], Vec::new())?;
        if r.status == status::NOT_FOUND {
            return Ok(None);
        }
        if r.status != status::OK {
            return Err(r.describe());
        }
        if r.header(wire::H_LEASE_STATE).as_deref() != Some(wire::LEASE_STATE_LEASED) {
            return Ok(None);
        }
        let get = |k: &str| r.header(&format!("{}{k}", wire::H_META_PREFIX)).unwrap_or_default();
        let id = get(meta::LOCK_ID);
        if id.is_empty() {
            // Leased by something else (another tool, or a holder between acquiring and
            // recording itself).
            return Ok(Some(LockInfo {
                id: String::new(),
                pid: 0,
                host: String::new(),
                command: String::new(),
                created: String::new(),
                who: String::new(),
            }));
        }
        Ok(Some(LockInfo {
            id,
            pid: get(meta::LOCK_PID).parse().unwrap_or(0),
            host: get(meta::LOCK_HOST),
            command: get(meta::LOCK_COMMAND),
            created: get(meta::LOCK_CREATED),
            who: get(meta::LOCK_WHO),
        }))
    }

    /// Puts an empty placeholder blob so that there is something to lease; a blob someone
    /// else created meanwhile is fine.
    fn create_placeholder(&self) -> Result<(), String> {
        let headers = [(wire::H_BLOB_TYPE, wire::BLOCK_BLOB.to_string()), ("if-none-match", "*".to_string())];
        let r = self.inner.client.send(Method::PUT, Target::Blob, "", &headers, Vec::new())?;
        match r.status {
            status::CREATED | status::CONFLICT | status::PRECONDITION_FAILED => Ok(()),
            _ => Err(r.describe()),
        }
    }

    fn lease_call(&self, action: &str, extra: &[(&str, String)]) -> Result<Response, String> {
        let mut headers = vec![(wire::H_LEASE_ACTION, action.to_string())];
        headers.extend(extra.iter().cloned());
        self.inner.client.send(Method::PUT, Target::Blob, wire::Q_LEASE, &headers, Vec::new())
    }

    fn renew(&self, id: &str) -> Result<(), String> {
        let r = self.lease_call(wire::LEASE_RENEW, &[(wire::H_LEASE_ID, id.to_string())])?;
        if r.status == status::OK { Ok(()) } else { Err(r.describe()) }
    }

    fn release(&self, id: &str) {
        // Clear the holder's details (Set Blob Metadata without any), then give the lease up;
        // both best effort: a lease that is not released expires on its own.
        self.inner.lease.lock().expect("lease").take();
        let headers = [(wire::H_LEASE_ID, id.to_string())];
        let _ = self.inner.client.send(Method::PUT, Target::Blob, wire::Q_METADATA, &headers, Vec::new());
        let _ = self.lease_call(wire::LEASE_RELEASE, &headers);
    }
}

/// Metadata values are ASCII.
fn ascii(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect()
}

/// A held lease, renewed in the background; released when dropped.
pub struct BlobLock {
    store: BlobStore,
    info: LockInfo,
    id: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for BlobLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobLock({})", self.info.id)
    }
}

impl StateLock for BlobLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        self.store.release(&self.id);
    }
}

impl Storage for BlobStore {
    fn name(&self) -> String {
        self.inner.client.location.name()
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        let found = self.fetch_raw()?;
        // The ETag is kept even when the blob does not read as a state, so that a restore
        // over a damaged state is conditional on it too, and keeps it as a snapshot.
        let (state, etag) = match found {
            None => (None, None),
            Some((bytes, etag)) if bytes.is_empty() => (None, Some((etag, false))),
            Some((bytes, etag)) => {
                *self.inner.etag.lock().expect("etag") = Some((etag, true));
                return parse(&self.name(), &bytes).map(Some);
            }
        };
        *self.inner.etag.lock().expect("etag") = etag;
        Ok(state)
    }

    fn save(&self, state: &mut State) -> Result<(), StateError> {
        match self.try_save(state) {
            Err(Failed::LeaseLost(r)) => {
                // The lease was broken (`force-unlock`) or expired while this command ran. If
                // nobody holds it now, take it back under the same id and write again: the
                // write still names the ETag read, so it succeeds only if nobody else locked
                // or wrote the blob meanwhile (taking the lock records the holder, which
                // changes the ETag).
                self.reacquire(&r)?;
                self.try_save(state).map_err(|f| match f {
                    Failed::LeaseLost(r) => self.lock_lost(&r),
                    Failed::Other(e) => e,
                })
            }
            Err(Failed::Other(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    }

    fn lock(&self, command: &str, timeout: Duration) -> Result<Box<dyn StateLock>, LockError> {
        let start = Instant::now();
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            command: command.to_string(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            who: crate::env::get(crate::env::USER).unwrap_or_default(),
        };
        loop {
            let r = self
                .lease_call(
                    wire::LEASE_ACQUIRE,
                    &[
                        (wire::H_LEASE_DURATION, LEASE_SECONDS.to_string()),
                        (wire::H_PROPOSED_LEASE_ID, info.id.clone()),
                    ],
                )
                .map_err(|m| self.lock_error(m))?;
            match r.status {
                status::CREATED => break,
                status::NOT_FOUND if r.error_code() != error_code::CONTAINER_NOT_FOUND => {
                    self.create_placeholder().map_err(|m| self.lock_error(m))?;
                    continue;
                }
                status::CONFLICT => {
                    if start.elapsed() >= timeout {
                        return Err(match self.read_holder() {
                            Ok(Some(holder)) if !holder.id.is_empty() => LockError::HeldRemote {
                                name: self.name(),
                                info: Box::new(holder),
                                lease_seconds: LEASE_SECONDS,
                            },
                            _ => LockError::HeldRemoteUnknown(self.name()),
                        });
                    }
                    std::thread::sleep(
                        Duration::from_millis(500).min(timeout.saturating_sub(start.elapsed())),
                    );
                }
                _ => return Err(self.lock_error(r.describe())),
            }
        }
        let lease = Lease { id: info.id.clone(), info: info.clone() };
        *self.inner.lease.lock().expect("lease") = Some(lease.clone());
        // Record the holder on the blob (Set Blob Metadata keeps the content).
        let mut headers: Vec<(&str, String)> = vec![(wire::H_LEASE_ID, info.id.clone())];
        let current = self.fetch_raw().ok().flatten().and_then(|(b, _)| parse(&self.name(), &b).ok());
        let metadata = self.metadata(Some(&lease), current.as_ref());
        headers.extend(metadata.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let recorded =
            self.inner.client.send(Method::PUT, Target::Blob, wire::Q_METADATA, &headers, Vec::new());
        if let Err(m) = recorded.and_then(|r| if r.status == status::OK { Ok(()) } else { Err(r.describe()) })
        {
            self.release(&info.id);
            return Err(self.lock_error(format!("cannot record the lock holder: {m}")));
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let store = self.clone();
        let id = info.id.clone();
        let renewer = std::thread::Builder::new()
            .name("pamform-lease".into())
            .spawn(move || {
                let every = Duration::from_secs(u64::from(LEASE_SECONDS) / 3);
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if let Err(e) = store.renew(&id) {
                        log::warn!("cannot renew the state lock on {}: {e}", store.name());
                    }
                }
            })
            .map_err(|e| self.lock_error(format!("cannot start renewing the lease: {e}")))?;
        Ok(Box::new(BlobLock {
            store: self.clone(),
            info,
            id: lease.id,
            stop: Some(stop),
            renewer: Some(renewer),
        }))
    }

    fn holder(&self) -> Result<Option<LockInfo>, LockError> {
        self.read_holder().map_err(|m| self.lock_error(m))
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        let holder = self.read_holder().map_err(|m| self.lock_error(m))?;
        let Some(info) = holder else { return Err(LockError::NotLockedRemote(self.name())) };
        if info.id != id {
            return Err(LockError::WrongId { given: id.to_string(), actual: Box::new(info) });
        }
        let r = self
            .lease_call(wire::LEASE_BREAK, &[(wire::H_LEASE_BREAK_PERIOD, "0".to_string())])
            .map_err(|m| self.lock_error(m))?;
        if r.status != status::ACCEPTED {
            return Err(self.lock_error(format!("cannot break the lease: {}", r.describe())));
        }
        Ok(info)
    }

    fn versions(&self) -> Result<Vec<Version>, StateError> {
        let r = self
            .inner
            .client
            .send(
                Method::GET,
                Target::Container,
                &wire::list_query(&self.inner.client.location.key),
                &[],
                Vec::new(),
            )
            .map_err(|m| self.remote(m))?;
        if r.status != status::OK {
            return Err(self.remote(format!("cannot list the state's snapshots: {}", r.describe())));
        }
        let text = String::from_utf8_lossy(&r.body);
        let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
            .map_err(|e| self.remote(format!("the snapshot list is not XML: {e}")))?;
        let mut out = Vec::new();
        for blob in doc.descendants().filter(|n| n.has_tag_name("Blob")) {
            let child = |name: &str| blob.children().find(|n| n.has_tag_name(name)).and_then(|n| n.text());
            if child("Name") != Some(self.inner.client.location.key.as_str()) {
                continue;
            }
            let Some(snapshot) = child("Snapshot") else { continue };
            let metadata = blob.children().find(|n| n.has_tag_name("Metadata"));
            let meta_value = |name: &str| {
                metadata
                    .and_then(|m| m.children().find(|n| n.tag_name().name().eq_ignore_ascii_case(name)))
                    .and_then(|n| n.text())
                    .map(str::to_string)
            };
            out.push(Version {
                id: snapshot.to_string(),
                serial: meta_value(meta::SERIAL).and_then(|s| s.parse().ok()),
                lineage: meta_value(meta::LINEAGE),
                saved: Some(snapshot.to_string()),
            });
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }

    fn load_version(&self, id: &str) -> Result<State, StateError> {
        let r = self
            .inner
            .client
            .send(Method::GET, Target::Snapshot(id), "", &[], Vec::new())
            .map_err(|m| self.remote(m))?;
        match r.status {
            status::OK if r.body.is_empty() => {
                Err(self.remote(format!("version {id} is the empty lock placeholder, not a state")))
            }
            status::OK => parse(&format!("{} version {id}", self.name()), &r.body),
            status::NOT_FOUND | 400 => Err(StateError::NoVersion { name: self.name(), id: id.to_string() }),
            _ => Err(self.remote(r.describe())),
        }
    }
}

/// Why one attempt at a write failed.
enum Failed {
    /// The request named a lease the blob no longer has.
    LeaseLost(Box<Response>),
    Other(StateError),
}

/// Whether the service refused a request because the lease it named is gone (broken, expired,
/// or someone else's now): `LeaseLost`, `LeaseIdMismatchWithBlobOperation`,
/// `LeaseNotPresentWithBlobOperation`, `LeaseIdMissing`.
fn lease_lost(r: &Response) -> bool {
    matches!(r.status, status::PRECONDITION_FAILED | status::CONFLICT) && r.error_code().starts_with("Lease")
}

impl BlobStore {
    fn try_save(&self, state: &mut State) -> Result<(), Failed> {
        let etag = self.inner.etag.lock().expect("etag").clone();
        let lease = self.inner.lease.lock().expect("lease").clone();
        let lease_header: Vec<(&str, String)> =
            lease.as_ref().map(|l| (wire::H_LEASE_ID, l.id.clone())).into_iter().collect();
        // Keep the current state as a snapshot first, if it is the one this command read.
        if let Some((tag, true)) = &etag {
            let mut headers = lease_header.clone();
            headers.push(("if-match", tag.clone()));
            let r = self
                .inner
                .client
                .send(Method::PUT, Target::Blob, wire::Q_SNAPSHOT, &headers, Vec::new())
                .map_err(|m| Failed::Other(self.remote(m)))?;
            match r.status {
                status::CREATED => {}
                _ if lease_lost(&r) && lease.is_some() => return Err(Failed::LeaseLost(Box::new(r))),
                status::PRECONDITION_FAILED => return Err(Failed::Other(self.conflict(&r))),
                _ => {
                    return Err(Failed::Other(
                        self.remote(format!(
                            "cannot keep the previous state as a snapshot: {}",
                            r.describe()
                        )),
                    ));
                }
            }
        }
        state.serial += 1;
        let bytes = state.to_bytes();
        let mut headers = lease_header;
        headers.push((wire::H_BLOB_TYPE, wire::BLOCK_BLOB.to_string()));
        headers.push(("content-type", "application/json".to_string()));
        match &etag {
            Some((tag, _)) => headers.push(("if-match", tag.clone())),
            None => headers.push(("if-none-match", "*".to_string())),
        }
        let metadata = self.metadata(lease.as_ref(), Some(state));
        let metadata_refs: Vec<(&str, String)> =
            metadata.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        headers.extend(metadata_refs);
        let r = self.inner.client.send(Method::PUT, Target::Blob, "", &headers, bytes).map_err(|m| {
            state.serial -= 1;
            Failed::Other(self.remote(format!("{m}; the write may not have happened: run `pamform state pull` or the command again to see the stored state")))
        })?;
        match r.status {
            status::CREATED => {
                *self.inner.etag.lock().expect("etag") = r.header(wire::H_ETAG).map(|t| (t, true));
                Ok(())
            }
            _ if lease_lost(&r) && lease.is_some() => {
                state.serial -= 1;
                Err(Failed::LeaseLost(Box::new(r)))
            }
            status::PRECONDITION_FAILED | status::CONFLICT => {
                state.serial -= 1;
                Err(Failed::Other(self.conflict(&r)))
            }
            _ => {
                state.serial -= 1;
                Err(Failed::Other(self.remote(format!("cannot write the state: {}", r.describe()))))
            }
        }
    }

    /// Takes the lease back under the id this command held, when nobody holds it now.
    fn reacquire(&self, refused: &Response) -> Result<(), StateError> {
        let Some(lease) = self.inner.lease.lock().expect("lease").clone() else {
            return Err(self.lock_lost(refused));
        };
        let r = self
            .lease_call(
                wire::LEASE_ACQUIRE,
                &[
                    (wire::H_LEASE_DURATION, LEASE_SECONDS.to_string()),
                    (wire::H_PROPOSED_LEASE_ID, lease.id.clone()),
                ],
            )
            .map_err(|m| self.remote(m))?;
        match r.status {
            status::CREATED | status::OK => {
                log::warn!("the state lock on {} was lost and has been taken back", self.name());
                Ok(())
            }
            _ => Err(self.lock_lost(refused)),
        }
    }

    /// The lock this command held is someone else's now: nothing was written.
    fn lock_lost(&self, r: &Response) -> StateError {
        let holder = match self.read_holder() {
            Ok(Some(h)) if !h.id.is_empty() => format!("; it is now held: {h}"),
            _ => String::new(),
        };
        StateError::Remote {
            name: self.name(),
            message: format!(
                "this command lost its lock while it ran (its lease was broken or expired: the Blob service answered {} {}){holder}; nothing was written, so no one else's state was overwritten",
                r.status,
                r.error_code()
            ),
        }
    }

    fn conflict(&self, r: &Response) -> StateError {
        let found = match self.fetch_raw() {
            Ok(Some((bytes, _))) if !bytes.is_empty() => match parse(&self.name(), &bytes) {
                Ok(s) => format!("it is now serial {} of lineage {}", s.serial, s.lineage),
                Err(_) => "it no longer reads as a state".to_string(),
            },
            Ok(_) => "it now holds no state".to_string(),
            Err(_) => format!("the Blob service answered {} {}", r.status, r.error_code()),
        };
        // Whoever changed it may hold the lock now, this command's lease lost to them.
        let mine = self.inner.lease.lock().expect("lease").as_ref().map(|l| l.id.clone());
        let found = match self.read_holder() {
            Ok(Some(h)) if !h.id.is_empty() && Some(&h.id) != mine.as_ref() => {
                format!("{found}; this command lost its lock, which is now held: {h}")
            }
            _ => found,
        };
        StateError::Conflict { name: self.name(), found }
    }
}

/// Parses a state read from a blob; the local file's messages point at `.backup`, a blob's at
/// its versions.
fn parse(name: &str, bytes: &[u8]) -> Result<State, StateError> {
    State::from_bytes(std::path::Path::new(name), bytes).map_err(|e| match e {
        StateError::Corrupt { source, .. } => StateError::Damaged {
            name: name.to_string(),
            message: format!("is not valid JSON ({source}); it was left untouched: restore a previous version (`pamform state versions`, `pamform state restore VERSION`)"),
        },
        StateError::Checksum { .. } => StateError::Damaged {
            name: name.to_string(),
            message: "fails its checksum: it was changed by hand or damaged; it was left untouched: restore a previous version (`pamform state versions`, `pamform state restore VERSION`)".to_string(),
        },
        other => other,
    })
}
