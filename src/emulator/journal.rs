//! The emulator's policy journal: every access policy creation and removal, in order, with the
//! emulator's time, the policy's target and its id, served at `GET /_emulator/journal` so that
//! a test can tell whether a task was ever left ungated, and for how long.

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::store::{Shared, lock};

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

/// `GET /_emulator/journal[?since=SEQ]`: `{"entries": [...]}`, oldest first.
pub(crate) async fn serve(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let mut since = 0;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "since" {
            match v.parse::<u64>() {
                Ok(n) => since = n,
                Err(_) => {
                    let error = format!("since must be a sequence number, not '{v}'; use ?since=0 for all");
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": error }))).into_response();
                }
            }
        }
    }
    axum::Json(json!({ "entries": s.journal.since(since) })).into_response()
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
