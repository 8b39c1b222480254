//! The just-in-time request workflow for a signed-in user: the delegated sign-in kept between
//! commands ([`session`]), reading and changing requests ([`workflow`]), the view pamform
//! shows of them ([`view`]) and the errors that explain the service's refusals ([`explain`]).

pub mod explain;
pub mod session;
pub mod view;
pub mod workflow;

pub use explain::{Action, RequestError};
pub use session::{Session, SessionError, SessionStore};
pub use view::{Filter, RequestView};
