//! Secrets (client secrets, tokens, assertions, device codes) in a type that never prints
//! itself, and the redaction applied to every URL that reaches a log line.

use std::fmt;

/// A secret value. `Debug` and `Display` print `[redacted]`; only [`Secret::expose`] gives the
/// value, at the single place that puts it on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

pub const REDACTED: &str = "[redacted]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Query parameters whose values are secrets wherever they appear.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "client_secret",
    "client_assertion",
    "code",
    "device_code",
    "refresh_token",
    "id_token",
    "token",
    "sig",
    "password",
];

/// The path and query of `url` for a log line, with secret query values replaced by
/// `[redacted]` and any user info dropped.
pub fn loggable_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return REDACTED.to_string();
    };
    let mut out = parsed.path().to_string();
    if let Some(query) = parsed.query() {
        out.push('?');
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
                let bare = name.trim_start_matches('$').to_ascii_lowercase();
                if SECRET_PARAMS.contains(&bare.as_str()) {
                    format!("{name}={REDACTED}")
                } else {
                    pair.to_string()
                }
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn urls_lose_secret_query_values() {
        let u = loggable_url("https://u:p@h.example/a/b?$filter=mail%20eq%20x&code=abc&Access_Token=t");
        assert_eq!(u, "/a/b?$filter=mail%20eq%20x&code=[redacted]&Access_Token=[redacted]");
        assert!(!u.contains("abc") && !u.contains("u:p"));
        assert_eq!(loggable_url("not a url"), REDACTED);
    }
}
