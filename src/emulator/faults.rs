//! Fault options (latency, throttling, server errors, dropped connections, concurrency limit,
//! replication delay) and the request counters the emulator keeps about its traffic.

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How the emulated service misbehaves. Every field can be changed at runtime through
/// `PUT /_emulator/faults`; rates are probabilities between 0 and 1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every Exchange admin API answer.
    pub exchange_latency_ms: u64,
    /// Added before every Graph answer.
    pub graph_latency_ms: u64,
    /// Added before every token and device-code answer.
    pub login_latency_ms: u64,
    /// Concurrent Exchange requests per tenant; beyond it the answer is the concurrency
    /// message. 0 means no limit.
    pub exchange_concurrency_limit: usize,
    /// Status of an answer over the concurrency limit: 429 or 503.
    pub concurrency_limit_status: u16,
    /// Share of Exchange and Graph requests answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// `Retry-After` of throttled answers, in milliseconds; whole seconds are sent as an
    /// integer, anything else as a decimal number of seconds.
    pub retry_after_ms: u64,
    /// Share of Exchange and Graph requests answered 503.
    pub server_error_rate: f64,
    /// Share of Exchange and Graph requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Close the connection without an answer after an Exchange write has changed the tenant,
    /// so the client cannot know whether it ran.
    pub drop_after_write: bool,
    /// Delay before a directory write shows in Graph and a new policy takes effect.
    pub replication_delay_ms: u64,
    /// Lifetime of issued access tokens.
    pub token_lifetime_secs: u64,
    /// `interval` of device-code answers. The service says 5 s; tests shorten it to poll
    /// faster (test-only: a real tenant never sends less).
    pub device_code_interval_secs: u64,
    /// Apply `throttle_rate`, `server_error_rate` and `drop_rate` to the token and device-code
    /// endpoints too (off: sign-in always answers), to test a client's token retries.
    pub login_faults: bool,
    /// Graph's throttling budget for identity reads: resource units per application per
    /// 10 s. Unset (the default): Microsoft's documented quota for the tenant's size
    /// (3,500, 5,000 or 8,000); 0: no budget.
    pub graph_resource_unit_quota: Option<u64>,
    /// Seed of the random choices, so a run with the same requests fails the same way.
    pub fault_seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            exchange_latency_ms: 0,
            graph_latency_ms: 0,
            login_latency_ms: 0,
            exchange_concurrency_limit: 0,
            concurrency_limit_status: 429,
            throttle_rate: 0.0,
            retry_after_ms: 1000,
            server_error_rate: 0.0,
            drop_rate: 0.0,
            drop_after_write: false,
            replication_delay_ms: 0,
            token_lifetime_secs: 3599,
            device_code_interval_secs: crate::wire::oauth::DEVICE_CODE_INTERVAL_SECS,
            login_faults: false,
            graph_resource_unit_quota: None,
            fault_seed: 0,
        }
    }
}

impl Faults {
    /// Checks the values; the message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("throttle_rate", self.throttle_rate),
            ("server_error_rate", self.server_error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        // One draw picks at most one fault (dropped, then throttled, then a server error), so
        // the rates share the same unit interval.
        let total = self.throttle_rate + self.server_error_rate + self.drop_rate;
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "throttle_rate, server_error_rate and drop_rate add up to {total}, more than 1: lower them so that their sum is at most 1"
            ));
        }
        if !matches!(self.concurrency_limit_status, 429 | 503) {
            return Err(format!(
                "concurrency_limit_status must be 429 or 503, got {}",
                self.concurrency_limit_status
            ));
        }
        if self.token_lifetime_secs == 0 {
            return Err("token_lifetime_secs must be at least 1".into());
        }
        if !(1..=crate::wire::oauth::DEVICE_CODE_INTERVAL_SECS).contains(&self.device_code_interval_secs) {
            return Err(format!(
                "device_code_interval_secs must be between 1 and {}, got {}",
                crate::wire::oauth::DEVICE_CODE_INTERVAL_SECS,
                self.device_code_interval_secs
            ));
        }
        // Bounds that keep every clock addition in range (one day of delay, one year of token).
        const MAX_MS: u64 = 24 * 60 * 60 * 1000;
        for (name, ms) in [
            ("exchange_latency_ms", self.exchange_latency_ms),
            ("graph_latency_ms", self.graph_latency_ms),
            ("login_latency_ms", self.login_latency_ms),
            ("retry_after_ms", self.retry_after_ms),
            ("replication_delay_ms", self.replication_delay_ms),
        ] {
            if ms > MAX_MS {
                return Err(format!("{name} must be at most {MAX_MS}, got {ms}"));
            }
        }
        if self.token_lifetime_secs > 366 * 24 * 60 * 60 {
            return Err(format!(
                "token_lifetime_secs must be at most one year, got {}",
                self.token_lifetime_secs
            ));
        }
        Ok(())
    }

    /// The `Retry-After` header value.
    pub fn retry_after_header(&self) -> String {
        if self.retry_after_ms.is_multiple_of(1000) {
            (self.retry_after_ms / 1000).to_string()
        } else {
            format!("{:.3}", self.retry_after_ms as f64 / 1000.0)
        }
    }
}

/// What the fault dice decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    None,
    Drop,
    Throttle,
    ServerError,
}

/// Reproducible dice for fault injection.
pub struct Dice {
    rng: StdRng,
}

impl Dice {
    pub fn new(seed: u64) -> Self {
        Dice { rng: StdRng::seed_from_u64(seed) }
    }

    /// One roll per request: dropped, throttled, failed or answered.
    pub fn roll(&mut self, f: &Faults) -> Injected {
        if f.drop_rate <= 0.0 && f.throttle_rate <= 0.0 && f.server_error_rate <= 0.0 {
            return Injected::None;
        }
        let x: f64 = self.rng.random();
        if x < f.drop_rate {
            Injected::Drop
        } else if x < f.drop_rate + f.throttle_rate {
            Injected::Throttle
        } else if x < f.drop_rate + f.throttle_rate + f.server_error_rate {
            Injected::ServerError
        } else {
            Injected::None
        }
    }

    /// A roll for throttling only (inner requests of a Graph batch).
    pub fn roll_throttle(&mut self, f: &Faults) -> bool {
        f.throttle_rate > 0.0 && self.rng.random::<f64>() < f.throttle_rate
    }
}

/// Which API a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    Login,
    Exchange,
    Graph,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Login => "login",
            Api::Exchange => "exchange",
            Api::Graph => "graph",
        }
    }
}

/// Traffic seen since start or the last reset, as `GET /_emulator/counters` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    pub requests: u64,
    /// Exchange requests per cmdlet name.
    pub per_cmdlet: BTreeMap<String, u64>,
    /// Requests per endpoint (`token`, `devicecode`, `InvokeCommand`, `graph /groups/{id}/members`, ...).
    pub per_endpoint: BTreeMap<String, u64>,
    /// Responses per status code.
    pub per_status: BTreeMap<String, u64>,
    /// Responses that told the client to back off (429, concurrency message, inner batch 429s).
    pub throttled: u64,
    /// Resource units Graph charged against the throttling budget.
    pub graph_resource_units: u64,
    /// Graph requests refused because the throttling budget was spent (also in `throttled`).
    pub graph_budget_throttled: u64,
    /// Server errors and dropped connections injected.
    pub server_errors: u64,
    pub dropped: u64,
    /// Requests whose `client-request-id` was seen before: retries.
    pub retries_seen: u64,
    /// Highest number of requests in flight at once, per API.
    pub peak_concurrency: BTreeMap<String, u64>,
    /// Successful writes (cmdlets that changed the tenant).
    pub writes: u64,
    #[serde(skip)]
    pub(crate) seen_request_ids: HashSet<String>,
}

impl Counters {
    pub fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
        *map.entry(key.to_string()).or_default() += 1;
    }

    pub fn saw_request_id(&mut self, id: &str) {
        if !self.seen_request_ids.insert(id.to_string()) {
            self.retries_seen += 1;
        }
    }

    pub fn concurrency(&mut self, api: Api, now: usize) {
        let peak = self.peak_concurrency.entry(api.name().to_string()).or_default();
        *peak = (*peak).max(now as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_are_reproducible() {
        let f = Faults { throttle_rate: 0.3, drop_rate: 0.1, server_error_rate: 0.1, ..Faults::default() };
        let a: Vec<_> = {
            let mut d = Dice::new(7);
            (0..50).map(|_| d.roll(&f)).collect()
        };
        let mut d = Dice::new(7);
        let b: Vec<_> = (0..50).map(|_| d.roll(&f)).collect();
        assert_eq!(a, b);
        assert!(a.contains(&Injected::Throttle));
        assert!(a.contains(&Injected::None));
    }

    #[test]
    fn retry_after_is_whole_or_fractional_seconds() {
        let mut f = Faults::default();
        assert_eq!(f.retry_after_header(), "1");
        f.retry_after_ms = 200;
        assert_eq!(f.retry_after_header(), "0.200");
        f.throttle_rate = 2.0;
        assert!(f.validate().is_err());
    }

    #[test]
    fn rates_that_add_up_to_more_than_one_are_refused() {
        let f = Faults { throttle_rate: 1.0, server_error_rate: 0.5, ..Faults::default() };
        let err = f.validate().unwrap_err();
        assert!(err.contains("add up to 1.5, more than 1"), "{err}");
        let f = Faults { throttle_rate: 0.5, server_error_rate: 0.3, drop_rate: 0.2, ..Faults::default() };
        assert_eq!(f.validate(), Ok(()));
    }
}
