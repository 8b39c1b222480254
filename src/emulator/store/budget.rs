//! The state behind Graph's throttling budget: per application and tenant, the resource
//! units spent and still draining. Graph (`graph::budget`) prices requests and answers 429;
//! the store keeps the buckets.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// One bucket: units in it at a time; it drains at the quota per window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: DateTime<Utc>,
}

/// A charge the bucket took, or the wait before it can take it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Charge {
    /// Taken; the share of the quota now used.
    Taken { used: f64 },
    /// Over the quota; seconds until the units fit.
    Refused { wait_secs: f64 },
}

/// The buckets of resource units, one per application (the emulator is one tenant).
#[derive(Default)]
pub(crate) struct Buckets {
    by_app: HashMap<String, Bucket>,
}

impl Buckets {
    pub fn clear(&mut self) {
        self.by_app.clear();
    }

    /// Puts `cost` units in `app`'s bucket of `quota` units per `window_secs` at `now`, or
    /// says how long until they fit. A refused request costs nothing.
    pub fn charge(
        &mut self,
        app: &str,
        cost: u64,
        quota: u64,
        window_secs: u64,
        now: DateTime<Utc>,
    ) -> Charge {
        let rate = quota as f64 / window_secs as f64;
        let b = self.by_app.entry(app.to_string()).or_insert(Bucket { level: 0.0, at: now });
        let elapsed = (now - b.at).num_milliseconds().max(0) as f64 / 1000.0;
        let level = (b.level - elapsed * rate).max(0.0);
        let after = level + cost as f64;
        if after > quota as f64 {
            b.level = level;
            b.at = now;
            return Charge::Refused { wait_secs: (after - quota as f64) / rate };
        }
        *b = Bucket { level: after, at: now };
        Charge::Taken { used: after / quota as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_past_its_quota_and_drains_with_time() {
        let mut b = Buckets::default();
        let t0 = Utc::now();
        assert_eq!(b.charge("app", 10, 10, 10, t0), Charge::Taken { used: 1.0 });
        let Charge::Refused { wait_secs } = b.charge("app", 1, 10, 10, t0) else { panic!("over quota") };
        assert!((wait_secs - 1.0).abs() < 1e-9, "one unit drains in one second: {wait_secs}");
        assert_eq!(b.charge("other", 1, 10, 10, t0), Charge::Taken { used: 0.1 }, "per app");
        let later = t0 + chrono::Duration::seconds(5);
        assert_eq!(b.charge("app", 5, 10, 10, later), Charge::Taken { used: 1.0 });
    }
}
