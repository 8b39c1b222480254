//! The just-in-time request workflow for a signed-in user: the delegated sign-in kept between
//! commands ([`session`]), reading and changing requests ([`workflow`]), each request joined
//! with its authorization into a derived state ([`status`]; drawn by
//! [`crate::views::requests`]) and the errors that explain the service's refusals
//! ([`explain`]).

pub mod explain;
pub mod session;
pub mod status;
pub mod workflow;

pub use explain::{Action, RequestError};
pub use session::{Session, SessionError, SessionStore};
pub use status::{Filter, RequestView};
