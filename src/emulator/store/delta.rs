//! The state behind Graph's `groups/delta`: the snapshot each delta token stands for, and
//! the pages of delta answers still to be fetched. Graph (`graph`) computes the changes;
//! the store keeps this state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Delta tokens kept; the oldest are forgotten past this.
const MAX_SNAPSHOTS: usize = 10_000;

/// A delta snapshot: per group id, the selected scalar values and the member ids.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub created: DateTime<Utc>,
    pub select: Option<Vec<String>>,
    pub groups: BTreeMap<String, (Map<String, Value>, BTreeSet<String>)>,
}

/// Delta entries still to be served, and the delta token that ends their round.
type PendingPages = (VecDeque<Value>, String);

/// Delta tokens and the pages of delta answers still to be fetched.
#[derive(Default)]
pub(crate) struct DeltaStore {
    snapshots: HashMap<String, Snapshot>,
    order: VecDeque<String>,
    pages: HashMap<String, PendingPages>,
}

impl DeltaStore {
    pub fn clear(&mut self) {
        *self = DeltaStore::default();
    }

    /// Keeps a snapshot and returns the new delta token that names it.
    pub fn remember(&mut self, snap: Snapshot) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.snapshots.insert(token.clone(), snap);
        self.order.push_back(token.clone());
        while self.order.len() > MAX_SNAPSHOTS {
            if let Some(old) = self.order.pop_front() {
                self.snapshots.remove(&old);
            }
        }
        token
    }

    /// The snapshot a delta token names.
    pub fn snapshot(&self, token: &str) -> Option<&Snapshot> {
        self.snapshots.get(token)
    }

    /// Keeps the rest of a delta round and returns the skip token that fetches it.
    pub fn park(&mut self, rest: VecDeque<Value>, token: String) -> String {
        let skip = uuid::Uuid::new_v4().simple().to_string();
        self.pages.insert(skip.clone(), (rest, token));
        skip
    }

    /// The rest of a delta round a skip token names; it can be fetched once.
    pub fn take_parked(&mut self, skip: &str) -> Option<PendingPages> {
        self.pages.remove(skip)
    }
}
