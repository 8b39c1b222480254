//! Value parsers shared by every command's flags: durations and numbers are range-checked
//! here, once, so that nothing downstream adds an absurd value to a clock or sizes a pool
//! with it.

use std::time::Duration;

/// The longest duration any flag accepts: 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The largest millisecond value an emulator fault or latency flag accepts: one day.
pub const MAX_MILLIS: u64 = 24 * 60 * 60 * 1000;
/// The longest token lifetime the emulator issues: one year, in seconds.
pub const MAX_TOKEN_SECS: u64 = 366 * 24 * 60 * 60;
/// The most operations an apply runs at once.
pub const MAX_PARALLELISM: usize = 64;

/// A duration such as `30s`, `2m` or `1h 30m`, from zero to [`MAX_DURATION`].
pub fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{}` is not a duration ({e}); write it like 30s, 2m or 1h", excerpt(s)))?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{}` is too long; use a duration of at most {}",
            excerpt(s),
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(d)
}

/// A duration above zero, at most [`MAX_DURATION`] (polling intervals).
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() {
        return Err("use a duration above zero, e.g. 1s".to_string());
    }
    Ok(d)
}

/// Operations to run at once: 1 to [`MAX_PARALLELISM`].
pub fn parallelism(s: &str) -> Result<usize, String> {
    bounded(s, 1, MAX_PARALLELISM as u64).map(|n| n as usize)
}

/// Milliseconds of an emulator fault (latency, delay, Retry-After): 0 to [`MAX_MILLIS`].
pub fn millis(s: &str) -> Result<u64, String> {
    bounded(s, 0, MAX_MILLIS)
}

/// A token lifetime in seconds: 1 to [`MAX_TOKEN_SECS`].
pub fn token_secs(s: &str) -> Result<u64, String> {
    bounded(s, 1, MAX_TOKEN_SECS)
}

/// A count where 0 means "no limit", up to one million.
pub fn limit(s: &str) -> Result<usize, String> {
    bounded(s, 0, 1_000_000).map(|n| n as usize)
}

/// A share between 0 and 1.
pub fn rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a number; use a share between 0 and 1, e.g. 0.05", excerpt(s)))?;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("`{}` is out of range; use a share between 0 and 1", excerpt(s)));
    }
    Ok(r)
}

/// A whole number between `min` and `max`.
fn bounded(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{}` is not a whole number; use one from {min} to {max}", excerpt(s)))?;
    if !(min..=max).contains(&n) {
        return Err(format!("{n} is out of range; use a number from {min} to {max}"));
    }
    Ok(n)
}

/// The start of a value for an error message: long or binary input is cut short.
fn excerpt(s: &str) -> String {
    const MAX: usize = 40;
    let clean: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    match clean.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        assert!(duration("18000000000000000000s").is_err());
        assert!(duration("31days").unwrap_err().contains("at most"));
        assert!(duration("-1s").is_err());
        assert!(duration("soon").is_err());
        assert!(positive_duration("0s").is_err());
        let long = "9".repeat(10_000);
        let err = duration(&long).unwrap_err();
        assert!(err.len() < 400, "{err}");
    }

    #[test]
    fn numbers_are_bounded() {
        assert_eq!(parallelism("4"), Ok(4));
        assert!(parallelism("0").is_err());
        assert!(parallelism("65").is_err());
        assert!(parallelism("-1").is_err());
        assert!(millis("86400001").is_err());
        assert_eq!(millis("0"), Ok(0));
        assert!(token_secs("0").is_err());
        assert!(rate("1.5").is_err());
        assert!(rate("NaN").is_err());
        assert_eq!(rate("0.25"), Ok(0.25));
    }
}
