use crate::actor::CommandError;
use crate::domain::rejection::Rejection;
use crate::registry::SendError;
use thiserror::Error;

/// Everything the facade can answer besides success. The API maps each
/// variant to one gRPC status.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The request itself is malformed; `field` names what to fix.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    /// A business rule said no.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Too much work queued; retry shortly.
    #[error("{0}")]
    Overloaded(String),
    #[error("{0}")]
    Unavailable(String),
    /// The caller's deadline passed before the request was processed.
    #[error("the request's deadline passed before it was processed")]
    DeadlineExceeded,
}

impl EngineError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EngineError::InvalidArgument { field: field.into(), reason: reason.into() }
    }
}

impl From<SendError> for EngineError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::MailboxFull(..) => EngineError::Overloaded(error.to_string()),
            SendError::Stopped(_) => EngineError::Unavailable(error.to_string()),
        }
    }
}

impl From<CommandError> for EngineError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected(rejection) => EngineError::Rejected(rejection),
            CommandError::Unavailable(reason) => EngineError::Unavailable(reason),
            CommandError::Overloaded(reason) => EngineError::Overloaded(reason),
            CommandError::DeadlineExceeded => EngineError::DeadlineExceeded,
        }
    }
}
