//! The tenant client: sign-in, the Exchange admin API and Graph over HTTP, one retry policy,
//! and the refresh that fetches a [`crate::model::TenantSnapshot`].
//!
//! [`connect`] turns a tenant block into a signed-in [`Client`] (starting the embedded
//! emulator when the block names one); [`Client::refresh`] reads the live picture; the typed
//! cmdlet helpers in [`exchange`] change it.

pub mod auth;
pub mod client;
pub mod connect;
pub mod error;
pub mod exchange;
pub mod graph;
pub mod http;
pub mod refresh;
pub mod retry;
pub mod secret;

pub use auth::{Credential, DelegatedSignIn, DeviceCodePrompt, Resource};
pub use client::{Client, ClientOptions, Endpoints};
pub use connect::{ConnectOptions, Connection, connect};
pub use error::{Api, TenantError};
pub use exchange::{CmdletOutput, NewGroup};
pub use graph::GroupsDelta;
pub use http::Stats;
pub use refresh::RefreshRequest;
pub use retry::RetryPolicy;
pub use secret::Secret;
