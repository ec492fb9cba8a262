//! Errors that cross the engine's seams, as enums callers branch on. The API
//! turns each into one gRPC status, reason and message in `api::status`.

use crate::domain::order::OrderId;
use crate::domain::rejection::Rejection;
use crate::domain::state::TrainDateKey;
use crate::domain::waitlist::WaitlistRequestId;
use crate::domain::workflow::WorkflowRejection;
use crate::durability::StoreError;
use crate::workflow::request::RequestRejection;
use thiserror::Error;

/// What a request named that does not exist (or is not the caller's: another
/// user's order is reported exactly like a missing one, so ids cannot be probed).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum NotFound {
    #[error("train-date {0} is not open")]
    TrainDate(TrainDateKey),
    #[error("order {0} not found")]
    Order(OrderId),
    #[error("no train {0:?}")]
    Train(String),
    #[error("waitlist request {0} not found")]
    WaitlistRequest(WaitlistRequestId),
}

/// Why work was refused at once for load, by where the queue was full.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Overload {
    /// The train-date's mailbox holds `pending_max` messages already.
    #[error("train-date {key} has {pending_max} messages waiting; try again shortly")]
    MailboxFull { key: TrainDateKey, pending_max: usize },
    /// The journal writer's queue is full: the database is behind.
    #[error("train-date {key}: the journal queue is full; try again shortly")]
    JournalQueueFull { key: TrainDateKey },
}

/// Why a train-date cannot serve a write (or an admin change cannot be
/// saved) now. Reads of published views keep working through all of these.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Unavailable {
    /// The train-date's journal failed; it refuses writes until it has
    /// rebuilt from the journal. With a `Corrupt` cause it stays so until an
    /// operator repairs the journal.
    #[error("train-date {key} is read-only while its journal is unavailable ({cause})")]
    ReadOnly { key: TrainDateKey, cause: StoreError },
    /// This write was decided but its batch was not committed, so it was not
    /// acknowledged; a retry with the same request_id is safe.
    #[error("train-date {key}: not made durable ({cause}); retry with the same request_id")]
    NotDurable { key: TrainDateKey, cause: StoreError },
    /// The train-date's actor has stopped (archived, or the server is stopping).
    #[error("train-date {key} is not running")]
    Stopped { key: TrainDateKey },
    /// This node no longer serves the train-date's slot (it was handed off,
    /// or fenced by a newer owner) or has not finished taking it over; the
    /// same call succeeds once routed to the slot's owner.
    #[error("train-date {key} is served by another node now (slot {slot}); retry")]
    SlotMoved { key: TrainDateKey, slot: crate::slots::SlotId },
    /// The node serving a workflow step or read elsewhere in the cluster
    /// could not be reached or could not take it now (`facade::peers`).
    #[error("the node serving slot {slot:?} could not take the call now ({detail}); retry")]
    Peer { slot: Option<crate::slots::SlotId>, detail: String },
    /// An admin change or recovery could not use the store.
    #[error("{what} not saved: {cause}")]
    Store { what: &'static str, cause: StoreError },
}

/// Why a command sent to a train-date actor did not succeed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A waitlist or ticket-change step a train-date refused.
    #[error(transparent)]
    WorkflowRejected(#[from] WorkflowRejection),
    /// A step a waitlist request's record refused.
    #[error(transparent)]
    RequestRejected(#[from] RequestRejection),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error(transparent)]
    Overloaded(#[from] Overload),
    /// The caller's deadline passed while the message waited; nothing was decided.
    #[error("the request's deadline passed before it was processed")]
    DeadlineExceeded,
}

/// Everything the facade can answer besides success. The API maps each
/// variant (and each variant of its parts) to one gRPC status and reason.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum EngineError {
    /// The request itself is malformed; `field` names what to fix.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The request field, in the proto's spelling (`passengers[2].id_number`).
        field: String,
        /// What is wrong with it, for the caller.
        reason: String,
    },
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// A business rule said no.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A waitlist or ticket-change rule said no.
    #[error(transparent)]
    WorkflowRejected(#[from] WorkflowRejection),
    /// A waitlist request's record said no.
    #[error(transparent)]
    RequestRejected(#[from] RequestRejection),
    /// Too much work queued; retry shortly.
    #[error(transparent)]
    Overloaded(#[from] Overload),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The caller's deadline passed before the request was processed.
    #[error("the request's deadline passed before it was processed")]
    DeadlineExceeded,
    /// A train-date failed its own recount: a bug, never a caller's fault.
    #[error("train-date {key} failed its invariant check: {detail}")]
    InvariantBroken { key: TrainDateKey, detail: String },
}

impl EngineError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EngineError::InvalidArgument { field: field.into(), reason: reason.into() }
    }

    /// A store failure while saving `what`.
    pub fn store(what: &'static str, cause: StoreError) -> Self {
        EngineError::Unavailable(Unavailable::Store { what, cause })
    }
}

impl From<CommandError> for EngineError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected(rejection) => EngineError::Rejected(rejection),
            CommandError::WorkflowRejected(rejection) => EngineError::WorkflowRejected(rejection),
            CommandError::RequestRejected(rejection) => EngineError::RequestRejected(rejection),
            CommandError::Unavailable(why) => EngineError::Unavailable(why),
            CommandError::Overloaded(why) => EngineError::Overloaded(why),
            CommandError::DeadlineExceeded => EngineError::DeadlineExceeded,
        }
    }
}
