//! `pamform whoami`: the tenant, the app plan and apply sign in as, and the user kept for
//! requests, as lines for people or one JSON document.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What `whoami` found.
#[derive(Debug, Default, Serialize)]
pub struct WhoAmI {
    /// The tenant block's id (`None` without a configuration in `-C`).
    pub tenant: Option<String>,
    /// The embedded emulator's data file, when the tenant block names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulated_in: Option<String>,
    /// The app-only sign-in of plan and apply.
    pub app: Option<AppSignIn>,
    /// The user `pamform login` keeps.
    pub user: Option<UserSignIn>,
}

#[derive(Debug, Serialize)]
pub struct AppSignIn {
    /// `app <client id>` (or a user's UPN with delegated credentials).
    pub identity: String,
    /// The sign-in endpoint, when it is not an embedded emulator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Why signing in failed; `None` when it worked.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UserSignIn {
    pub upn: String,
    pub tenant: String,
    /// Whether the sign-in can still get a token.
    pub usable: bool,
    pub expires_at: DateTime<Utc>,
    /// Whether it renews itself after `expires_at` (a refresh token is kept).
    pub renews: bool,
}

/// Lines for people.
pub fn text(w: &WhoAmI) -> String {
    let mut out = String::new();
    match &w.tenant {
        Some(t) => {
            let place = w.emulated_in.as_ref().map(|f| format!(" (emulated, {f})")).unwrap_or_default();
            out.push_str(&format!("Tenant:         {t}{place}\n"));
        }
        None => out.push_str("Tenant:         no configuration here (-C names the directory)\n"),
    }
    if let Some(app) = &w.app {
        let at = app.endpoint.as_ref().map(|e| format!(" at {e}")).unwrap_or_default();
        match &app.error {
            None => out.push_str(&format!("Plan and apply: {}, signed in{at}\n", app.identity)),
            Some(e) => {
                let who = if app.identity.is_empty() { String::new() } else { format!("{}, ", app.identity) };
                out.push_str(&format!("Plan and apply: {who}cannot sign in{at}: {e}\n"));
            }
        }
    }
    match &w.user {
        Some(u) => {
            let until = u.expires_at.format("%Y-%m-%d %H:%M UTC");
            let state = match (u.usable, u.renews) {
                (false, _) => format!("expired at {until}; run `pamform login`"),
                (true, true) => format!("token until {until}, renewed after that"),
                (true, false) => format!("until {until}"),
            };
            out.push_str(&format!("Requests:       {} in {} ({state})\n", u.upn, u.tenant));
        }
        None => out.push_str("Requests:       not signed in; `pamform login` signs in a user\n"),
    }
    out
}

/// One JSON document, one line.
pub fn json(w: &WhoAmI) -> String {
    let mut s = serde_json::to_string(w).expect("plain data serialises");
    s.push('\n');
    s
}
