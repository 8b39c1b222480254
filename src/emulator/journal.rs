//! The emulator's policy journal: every access policy creation and removal, in order, with the
//! emulator's time, the policy's target and its id. `control` serves it at
//! `GET /_emulator/journal` so that a test can tell whether a task was ever left ungated, and
//! for how long.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sync::lock;

/// Entries kept; the oldest are dropped past this (sequence numbers keep counting).
const MAX_ENTRIES: usize = 100_000;

/// What happened to a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalAction {
    Created,
    Removed,
}

/// One creation or removal of an access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// 1, 2, 3, ... in the order the tenant changed; restarts after a reset.
    pub seq: u64,
    /// The emulator's clock when the tenant changed.
    pub time: DateTime<Utc>,
    pub action: JournalAction,
    /// The policy's natural key as the service spells it: `Exchange\<Cmdlet>`,
    /// `Role:<Name>` or `RoleGroup:<Name>`.
    pub target: String,
    pub policy_id: String,
}

/// The journal; every method takes its own lock, so it can be written while the tenant is.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_seq: u64,
    entries: Vec<JournalEntry>,
}

impl Journal {
    pub fn record(&self, time: DateTime<Utc>, action: JournalAction, target: &str, policy_id: &str) {
        let mut j = lock(&self.inner);
        j.last_seq += 1;
        let seq = j.last_seq;
        if j.entries.len() >= MAX_ENTRIES {
            j.entries.remove(0);
        }
        j.entries.push(JournalEntry {
            seq,
            time,
            action,
            target: target.to_string(),
            policy_id: policy_id.to_string(),
        });
    }

    /// Entries with a sequence number above `since`.
    pub fn since(&self, since: u64) -> Vec<JournalEntry> {
        lock(&self.inner).entries.iter().filter(|e| e.seq > since).cloned().collect()
    }

    pub fn clear(&self) {
        *lock(&self.inner) = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_order_and_filters_and_clears() {
        let j = Journal::default();
        let t = Utc::now();
        j.record(t, JournalAction::Created, "Exchange\\Set-Mailbox", "a");
        j.record(t, JournalAction::Removed, "Exchange\\Set-Mailbox", "a");
        let all = j.since(0);
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(all[1].action, JournalAction::Removed);
        assert_eq!(j.since(1).len(), 1);
        j.clear();
        assert!(j.since(0).is_empty());
        j.record(t, JournalAction::Created, "Role:Journaling", "b");
        assert_eq!(j.since(0)[0].seq, 1);
    }
}
