//! Continuations of the Exchange admin API: the rest of a listing after its first page,
//! kept on the server under a random `$skiptoken`, tied to the request body that made it and
//! dropped after the service's expiry.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::wire::exchange::paging::EXPIRY_SECS;

/// At most this many continuations are kept; the oldest go first.
const MAX_CONTINUATIONS: usize = 4096;

/// One listing whose pages are served from the server's copy.
#[derive(Debug)]
pub(crate) struct Listing {
    /// The request body that made it; a next link POSTed with another body is refused.
    pub body: Value,
    /// The items as JSON text: a listing is kept for the continuation's 30 minutes, and text
    /// takes a fraction of the memory of parsed values (many tenants in one emulator each
    /// keep their own listings).
    items: Vec<Box<RawValue>>,
    pub created: DateTime<Utc>,
}

impl Listing {
    pub fn new(body: Value, items: &[Value], created: DateTime<Utc>) -> Listing {
        let items = items.iter().filter_map(|v| serde_json::value::to_raw_value(v).ok()).collect();
        Listing { body, items, created }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The items of `range` (clamped to the listing), parsed again.
    pub fn page(&self, range: std::ops::Range<usize>) -> Vec<Value> {
        let end = range.end.min(self.items.len());
        let start = range.start.min(end);
        self.items[start..end].iter().filter_map(|r| serde_json::from_str(r.get()).ok()).collect()
    }
}

/// The continuations by token: the listing and where the next page starts.
#[derive(Debug, Default)]
pub(crate) struct ExchangePages {
    pages: HashMap<String, (Arc<Listing>, usize)>,
}

impl ExchangePages {
    fn expired(listing: &Listing, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(listing.created) > Duration::seconds(EXPIRY_SECS)
    }

    /// A new token for the page of `listing` that starts at `offset`.
    pub fn issue(&mut self, listing: Arc<Listing>, offset: usize, now: DateTime<Utc>) -> String {
        self.pages.retain(|_, (l, _)| !Self::expired(l, now));
        while self.pages.len() >= MAX_CONTINUATIONS {
            let oldest = self.pages.iter().min_by_key(|(_, (l, _))| l.created).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.pages.remove(&k),
                None => break,
            };
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.pages.insert(token.clone(), (listing, offset));
        token
    }

    /// The continuation of `token`, if it is known, unexpired and asked for with the same body.
    pub fn resume(&self, token: &str, body: &Value, now: DateTime<Utc>) -> Option<(Arc<Listing>, usize)> {
        let (listing, offset) = self.pages.get(token)?;
        (!Self::expired(listing, now) && listing.body == *body).then(|| (listing.clone(), *offset))
    }

    pub fn clear(&mut self) {
        self.pages.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_tied_to_body_and_expire() {
        let now = Utc::now();
        let mut pages = ExchangePages::default();
        let body = json!({"CmdletInput": {"CmdletName": "Get-User"}});
        let listing = Arc::new(Listing::new(body.clone(), &[json!(1), json!(2)], now));
        assert_eq!(listing.page(1..5), vec![json!(2)]);
        let t = pages.issue(listing, 1, now);
        assert_eq!(pages.resume(&t, &body, now).map(|(_, o)| o), Some(1));
        assert!(pages.resume(&t, &json!({"CmdletInput": {"CmdletName": "Get-Recipient"}}), now).is_none());
        assert!(pages.resume("unknown", &body, now).is_none());
        assert!(pages.resume(&t, &body, now + Duration::seconds(EXPIRY_SECS + 1)).is_none());
    }
}
