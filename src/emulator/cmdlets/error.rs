//! A cmdlet failure as the admin API reports it (exception class and message), and the
//! failures every cmdlet shares: not found, access denied, bad argument.

use crate::wire::exchange::class;

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

pub(super) fn not_found(id: &str) -> CmdletError {
    CmdletError::new(
        class::NOT_FOUND,
        format!(
            "The operation couldn't be performed because object '{id}' couldn't be found on '{}'.",
            "emulator"
        ),
    )
}

pub(super) fn denied(message: impl Into<String>) -> CmdletError {
    CmdletError::new(class::ACCESS_DENIED, message)
}

pub(super) fn argument(message: impl Into<String>) -> CmdletError {
    CmdletError::new(class::ARGUMENT, message)
}
