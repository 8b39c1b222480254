//! The one retry policy for Exchange, Graph and the token endpoint: which answers are worth
//! another attempt, how long to wait (Retry-After, else capped exponential backoff with full
//! jitter), and the budget (attempts and time) after which a call gives up.

use std::time::Duration;

use crate::wire::exchange::{CONCURRENCY_LIMIT_MESSAGE, RETRY_READ_STATUSES, RETRY_STATUSES};

/// Whether a request may be sent again after the connection failed mid-way. Reads always can;
/// a write only if it never reached the service (the connection was not established),
/// because a cmdlet whose answer was lost may have run: sending `New-…` twice would create
/// twice. Throttling answers (429, 503, 408, the concurrency message) mean the service did
/// not run the request, so they are retried for writes too; 500, 502 and 504 may come after
/// the cmdlet ran, so only reads retry them. A write that cannot be retried surfaces as an
/// error the caller handles by refreshing (apply re-reads and converges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Read,
    Write,
}

/// What one attempt ended with, as far as the retry decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// An HTTP answer: its status, `Retry-After` if any, and whether the body is the Exchange
    /// concurrency message.
    Answer { status: u16, retry_after: Option<Duration>, concurrency_message: bool },
    /// No connection could be made: the request never left.
    ConnectFailed,
    /// The connection broke or timed out after the request may have been sent.
    Dropped,
}

/// Why an attempt is retried (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Throttled,
    ServerError,
    Connection,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::Throttled => "throttled",
            Reason::ServerError => "server error",
            Reason::Connection => "connection failed",
        })
    }
}

/// Decides whether an attempt is retryable and why.
pub fn classify(attempt: Attempt, idempotency: Idempotency) -> Option<Reason> {
    match attempt {
        Attempt::Answer { concurrency_message: true, .. } => Some(Reason::Throttled),
        Attempt::Answer { status, .. } if RETRY_STATUSES.contains(&status) => Some(Reason::Throttled),
        // A gateway timeout or failure may come after the cmdlet ran: reads only.
        Attempt::Answer { status, .. }
            if RETRY_READ_STATUSES.contains(&status) && idempotency == Idempotency::Read =>
        {
            Some(Reason::ServerError)
        }
        Attempt::Answer { .. } => None,
        Attempt::ConnectFailed => Some(Reason::Connection),
        Attempt::Dropped if idempotency == Idempotency::Read => Some(Reason::Connection),
        Attempt::Dropped => None,
    }
}

/// Whether a body is Exchange's "maximum number of concurrent requests" answer.
pub fn is_concurrency_message(body: &[u8]) -> bool {
    let prefix = &body[..body.len().min(CONCURRENCY_LIMIT_MESSAGE.len() + 64)];
    String::from_utf8_lossy(prefix).contains(CONCURRENCY_LIMIT_MESSAGE)
}

/// Parses `Retry-After` in seconds (the form Microsoft sends); fractions are accepted.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Time from the first attempt after which no new attempt starts.
    pub max_elapsed: Duration,
    /// First backoff ceiling; doubles per retry up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// Longest `Retry-After` honoured as given; longer values are clamped.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(120),
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry): `Retry-After` when the
    /// service gave one, else a uniform draw in `[0, min(cap, base * 2^(retry-1))]`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let exp = retry.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The next wait, or `None` when the budget is spent: `attempts` made so far, `elapsed`
    /// since the first, and what the last attempt ended with.
    pub fn next(
        &self,
        attempts: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let wait = self.delay(attempts, retry_after, unit);
        (elapsed + wait <= self.max_elapsed).then_some(wait)
    }
}

/// A fresh jitter draw in `[0, 1)`.
pub fn jitter() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Attempt {
        Attempt::Answer { status, retry_after: None, concurrency_message: false }
    }

    #[test]
    fn throttling_is_retried_for_reads_and_writes() {
        for status in [429, 503, 408] {
            assert_eq!(classify(answer(status), Idempotency::Write), Some(Reason::Throttled));
            assert_eq!(classify(answer(status), Idempotency::Read), Some(Reason::Throttled));
        }
        let concurrency = Attempt::Answer { status: 400, retry_after: None, concurrency_message: true };
        assert_eq!(classify(concurrency, Idempotency::Write), Some(Reason::Throttled));
    }

    #[test]
    fn ambiguous_failures_are_retried_only_for_reads() {
        assert_eq!(classify(answer(500), Idempotency::Read), Some(Reason::ServerError));
        assert_eq!(classify(answer(500), Idempotency::Write), None);
        assert_eq!(classify(answer(504), Idempotency::Read), Some(Reason::ServerError));
        assert_eq!(classify(answer(504), Idempotency::Write), None);
        assert_eq!(classify(Attempt::Dropped, Idempotency::Read), Some(Reason::Connection));
        assert_eq!(classify(Attempt::Dropped, Idempotency::Write), None);
        assert_eq!(classify(Attempt::ConnectFailed, Idempotency::Write), Some(Reason::Connection));
        assert_eq!(classify(answer(400), Idempotency::Read), None);
        assert_eq!(classify(answer(404), Idempotency::Read), None);
        assert_eq!(classify(answer(200), Idempotency::Read), None);
    }

    #[test]
    fn concurrency_message_is_found_in_any_body() {
        let body = format!("{CONCURRENCY_LIMIT_MESSAGE}. Retry in 2 seconds");
        assert!(is_concurrency_message(body.as_bytes()));
        assert!(is_concurrency_message(format!("{{\"error\":\"{CONCURRENCY_LIMIT_MESSAGE}\"}}").as_bytes()));
        assert!(!is_concurrency_message(b"\0\0\0"));
    }

    #[test]
    fn retry_after_wins_and_is_clamped() {
        let p = RetryPolicy::default();
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(p.delay(1, Some(Duration::from_secs(2)), 0.3), Duration::from_secs(2));
        assert_eq!(p.delay(1, Some(Duration::from_secs(3600)), 0.3), p.max_retry_after);
    }

    #[test]
    fn backoff_is_capped_full_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None, 1.0), p.base);
        assert_eq!(p.delay(2, None, 1.0), p.base * 2);
        assert_eq!(p.delay(30, None, 1.0), p.cap);
        assert_eq!(p.delay(3, None, 0.0), Duration::ZERO);
        assert_eq!(p.delay(3, None, 0.5), p.base * 2);
    }

    #[test]
    fn budget_stops_retries() {
        let p =
            RetryPolicy { max_attempts: 3, max_elapsed: Duration::from_secs(5), ..RetryPolicy::default() };
        assert!(p.next(1, Duration::ZERO, None, 0.5).is_some());
        assert!(p.next(3, Duration::ZERO, None, 0.5).is_none());
        assert!(p.next(1, Duration::from_secs(4), Some(Duration::from_secs(2)), 0.5).is_none());
    }
}
