//! The tenant client: sign-in, the Exchange admin API and Graph over HTTP, one retry policy,
//! and the refresh that fetches a [`crate::model::TenantSnapshot`].
//!
//! [`connect()`] turns a tenant block into a signed-in [`Client`]; [`Client::refresh`] reads
//! the live picture (telling an observer how far it got, as [`RefreshEvent`]s); the typed
//! cmdlet helpers in [`exchange`] change it. Nothing here draws or prints: request lines go
//! to the `log` crate at debug level, for the CLI to show at `-v`.

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
pub use client::{Client, ClientOptions, ConcurrencyLimits, Endpoints};
pub use connect::{ConnectOptions, connect};
pub use error::{Api, TenantError};
pub use exchange::{CmdletOutput, NewGroup};
pub use graph::GroupsDelta;
pub use http::Stats;
pub use refresh::{KnownGroup, Prefetch, RefreshEvent, RefreshRequest};
pub use retry::RetryPolicy;
pub use secret::Secret;
