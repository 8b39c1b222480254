//! The emulator's shared state: the tenant behind a lock, its clock, fault settings and
//! counters, sign-ins, Graph delta state, the delayed Graph view of the directory, and atomic
//! persistence to the data file. The state types live in the submodules.

mod budget;
mod delta;
mod paging;
mod sign_in;
mod tenant;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

pub(crate) use self::budget::{Buckets, Charge};
pub(crate) use self::delta::{DeltaStore, Snapshot};
pub(crate) use self::paging::{ExchangePages, Listing};
pub(crate) use self::sign_in::{DeviceCode, DeviceState, RefreshGrant};
pub(crate) use self::tenant::LiveTenant;
use super::faults::{Api, Counters, Dice, Faults};
use super::journal::Journal;
use super::seed::SeedGroup;
use super::sync::lock;
use super::tenant_data::TenantData;

/// How far `/_emulator/clock/advance` may move the clock from real time: 100 years.
pub(crate) const MAX_CLOCK_OFFSET_MS: u64 = 100 * 366 * 24 * 60 * 60 * 1000;

/// The groups as they were after a write at a time.
type GroupsAt = (DateTime<Utc>, Arc<Vec<SeedGroup>>);

pub(crate) struct Shared {
    pub tenant: Mutex<LiveTenant>,
    /// The loaded seed `reset` returns to.
    pub initial: TenantData,
    pub base_url: String,
    clock_offset_ms: AtomicI64,
    pub faults: Mutex<Faults>,
    pub dice: Mutex<Dice>,
    pub counters: Mutex<Counters>,
    pub device_codes: Mutex<HashMap<String, DeviceCode>>,
    pub refresh_tokens: Mutex<HashMap<String, RefreshGrant>>,
    pub delta: Mutex<DeltaStore>,
    /// Graph's throttling budget: resource units per application.
    pub graph_budget: Mutex<Buckets>,
    /// Continuations of Exchange listings (`$skiptoken`).
    pub exchange_pages: Mutex<ExchangePages>,
    /// Every policy creation and removal (`/_emulator/journal`).
    pub journal: Journal,
    /// Directory snapshots for the replication delay: (written at, groups after the write).
    history: Mutex<VecDeque<GroupsAt>>,
    persist: Option<Persister>,
    inflight: [AtomicUsize; 3],
    /// One stderr line per request (`emulator serve -v`).
    log_requests: AtomicBool,
}

impl Shared {
    pub fn new(
        tenant: TenantData,
        initial: TenantData,
        base_url: String,
        faults: Faults,
        data: Option<PathBuf>,
    ) -> Self {
        Shared {
            tenant: Mutex::new(LiveTenant::new(tenant, 0)),
            initial,
            base_url,
            clock_offset_ms: AtomicI64::new(0),
            dice: Mutex::new(Dice::new(faults.fault_seed)),
            faults: Mutex::new(faults),
            counters: Mutex::new(Counters::default()),
            device_codes: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            delta: Mutex::new(DeltaStore::default()),
            graph_budget: Mutex::new(Buckets::default()),
            exchange_pages: Mutex::new(ExchangePages::default()),
            journal: Journal::default(),
            history: Mutex::new(VecDeque::new()),
            persist: data.map(|path| Persister { path, written: Mutex::new(0) }),
            inflight: [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)],
            log_requests: AtomicBool::new(false),
        }
    }

    /// The emulator's clock: real time plus the offset set by `/_emulator/clock`.
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        Duration::try_milliseconds(self.clock_offset_ms.load(Ordering::Relaxed))
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now)
    }

    /// Moves the clock by `ms` (either way); `None`, and no change, when the clock would
    /// leave [`MAX_CLOCK_OFFSET_MS`] of real time.
    pub fn advance_clock(&self, ms: i64) -> Option<i64> {
        self.clock_offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                old.checked_add(ms).filter(|new| new.unsigned_abs() <= MAX_CLOCK_OFFSET_MS)
            })
            .ok()
            .map(|old| old + ms)
    }

    pub fn set_log_requests(&self, on: bool) {
        self.log_requests.store(on, Ordering::Relaxed);
    }

    pub fn logs_requests(&self) -> bool {
        self.log_requests.load(Ordering::Relaxed)
    }

    pub fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub fn replication_delay(&self) -> Duration {
        let ms = lock(&self.faults).replication_delay_ms;
        Duration::try_milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or(Duration::MAX)
    }

    pub fn set_faults(&self, f: Faults) {
        if f.replication_delay_ms == 0 {
            lock(&self.history).clear();
        }
        *lock(&self.dice) = Dice::new(f.fault_seed);
        *lock(&self.faults) = f;
    }

    pub fn tenant_matches(&self, name: &str) -> bool {
        let t = lock(&self.tenant);
        let info = &t.data.tenant;
        name.eq_ignore_ascii_case(&info.domain) || name.eq_ignore_ascii_case(&info.id)
    }

    /// Marks a request of `api` as in flight until the guard drops; returns the guard and the
    /// number in flight including this one.
    pub fn enter(self: &Arc<Self>, api: Api) -> (InFlight, usize) {
        let i = api as usize;
        let now = self.inflight[i].fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.counters).concurrency(api, now);
        (InFlight { shared: self.clone(), index: i }, now)
    }

    /// Runs `f` on the tenant. When it reports a write, the version is bumped, the Graph
    /// history records the new directory and the returned bytes are what to persist.
    pub fn write<R>(&self, f: impl FnOnce(&mut TenantData) -> (R, bool)) -> (R, Option<(u64, Vec<u8>)>) {
        let delayed = !self.replication_delay().is_zero();
        let mut t = lock(&self.tenant);
        if delayed {
            let mut h = lock(&self.history);
            if h.is_empty() {
                h.push_back((DateTime::<Utc>::MIN_UTC, Arc::new(t.data.groups.clone())));
            }
        }
        let (r, wrote) = f(&mut t.data);
        if !wrote {
            return (r, None);
        }
        t.wrote();
        lock(&self.counters).writes += 1;
        if delayed {
            lock(&self.history).push_back((self.now(), Arc::new(t.data.groups.clone())));
        }
        let bytes = self.persist.as_ref().and_then(|_| serde_json::to_vec_pretty(&t.data).ok());
        (r, bytes.map(|b| (t.version, b)))
    }

    /// Replaces the whole tenant (reset, seed load).
    pub fn replace(&self, data: TenantData) -> Option<(u64, Vec<u8>)> {
        lock(&self.history).clear();
        lock(&self.delta).clear();
        lock(&self.exchange_pages).clear();
        let mut t = lock(&self.tenant);
        let version = t.version + 1;
        *t = LiveTenant::new(data, version);
        let bytes = self.persist.as_ref().and_then(|_| serde_json::to_vec_pretty(&t.data).ok());
        bytes.map(|b| (t.version, b))
    }

    /// Writes a tenant version to the data file (atomically), unless a newer one is there.
    pub async fn save(self: &Arc<Self>, pending: Option<(u64, Vec<u8>)>) -> Result<(), String> {
        let (Some((version, bytes)), Some(_)) = (pending, self.persist.as_ref()) else { return Ok(()) };
        let me = self.clone();
        tokio::task::spawn_blocking(move || match me.persist.as_ref() {
            Some(p) => p.save(version, &bytes),
            None => Ok(()),
        })
        .await
        .map_err(|e| format!("could not write the data file: {e}"))?
    }

    /// The delayed Graph view of the groups: the newest write older than the replication
    /// delay; `None` when there is no delay (Graph sees the tenant itself).
    pub fn history_view(&self) -> Option<Arc<Vec<SeedGroup>>> {
        let delay = self.replication_delay();
        if delay.is_zero() {
            return None;
        }
        let mut h = lock(&self.history);
        if h.is_empty() {
            return None;
        }
        let cutoff = self.now().checked_sub_signed(delay).unwrap_or(DateTime::<Utc>::MIN_UTC);
        while h.len() > 1 && h[1].0 <= cutoff {
            h.pop_front();
        }
        Some(h[0].1.clone())
    }

    /// Runs `f` on the groups as Graph sees them.
    pub fn with_graph_groups<R>(&self, f: impl FnOnce(&[SeedGroup]) -> R) -> R {
        if let Some(view) = self.history_view() {
            return f(&view);
        }
        let t = lock(&self.tenant);
        f(&t.data.groups)
    }

    pub fn reset_runtime(&self) {
        self.clock_offset_ms.store(0, Ordering::Relaxed);
        lock(&self.device_codes).clear();
        lock(&self.refresh_tokens).clear();
        lock(&self.exchange_pages).clear();
        *lock(&self.counters) = Counters::default();
        lock(&self.graph_budget).clear();
    }
}

/// Decrements the in-flight count of an API when dropped.
pub(crate) struct InFlight {
    shared: Arc<Shared>,
    index: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.inflight[self.index].fetch_sub(1, Ordering::SeqCst);
    }
}

struct Persister {
    path: PathBuf,
    written: Mutex<u64>,
}

impl Persister {
    fn save(&self, version: u64, bytes: &[u8]) -> Result<(), String> {
        let mut written = lock(&self.written);
        if *written >= version {
            return Ok(());
        }
        crate::files::write_atomic(&self.path, bytes)
            .map_err(|e| format!("could not write the data file {}: {e}", self.path.display()))?;
        *written = version;
        Ok(())
    }
}
