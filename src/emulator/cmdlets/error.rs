//! A cmdlet failure as the admin API reports it (exception class and message), and the
//! failures every cmdlet shares: not found, access denied, bad argument, not a manager.

use crate::wire::exchange::{self as wx, class};

/// A cmdlet failure: the exception class and message of the error envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CmdletError {
    pub class: &'static str,
    pub message: String,
}

impl CmdletError {
    pub fn new(class: &'static str, message: impl Into<String>) -> Self {
        CmdletError { class, message: message.into() }
    }
}

pub(super) type Res<T> = Result<T, CmdletError>;

/// Not found, worded like the service.
pub(super) fn not_found(id: &str) -> CmdletError {
    CmdletError::new(class::NOT_FOUND, wx::text::not_found(id, "emulator"))
}

pub(super) fn denied(message: impl Into<String>) -> CmdletError {
    CmdletError::new(class::ACCESS_DENIED, message)
}

pub(super) fn argument(message: impl Into<String>) -> CmdletError {
    CmdletError::new(class::ARGUMENT, message)
}

/// A change to a group whose `ManagedBy` does not list the caller.
pub(super) fn manager_required() -> CmdletError {
    CmdletError::new(class::GROUP_MANAGER_REQUIRED, wx::GROUP_MANAGER_REQUIRED_MESSAGE)
}
