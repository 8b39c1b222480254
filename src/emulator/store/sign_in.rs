//! Sign-ins under way and granted: pending device codes and what each refresh token stands
//! for. The identity platform (`tokens`) reads and writes them; the store keeps them.

use chrono::{DateTime, Utc};

/// A pending device-code sign-in.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub user_code: String,
    pub client_id: String,
    pub resource: String,
    /// The scopes asked for, as the success answer echoes them.
    pub scope: String,
    /// `nonce` of the request, echoed in the ID token.
    pub nonce: Option<String>,
    pub expires: DateTime<Utc>,
    pub state: DeviceState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeviceState {
    Pending,
    Approved(String),
    Declined,
}

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub upn: String,
}
