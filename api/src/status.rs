//! Engine errors and rejections → gRPC statuses, in one place.
//!
//! Every error carries `google.rpc.ErrorInfo` with a stable reason code, and
//! argument errors carry `google.rpc.BadRequest` naming the field.

use engine::domain::rejection::Rejection;
use engine::durability::StoreError;
use engine::error::{EngineError, NotFound, Overload, Unavailable};
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// ErrorInfo domain of every status this API returns.
pub const ERROR_DOMAIN: &str = "seat.v1";

/// ErrorInfo metadata key on SOLD_OUT: "true" when every segment of the
/// journey alone had enough free seats of the class, but no seats had the
/// whole journey free (fragmentation); "false" when some segment was full.
pub const SEGMENTS_FREE: &str = "segments_free";

/// INVALID_ARGUMENT naming `field` and saying why.
pub fn invalid_argument(field: &str, reason: &str) -> Status {
    let mut details = ErrorDetails::with_bad_request_violation(field, reason);
    details.set_error_info("INVALID_ARGUMENT", ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(Code::InvalidArgument, format!("{field}: {reason}"), details)
}

pub fn engine_status(error: EngineError) -> Status {
    let message = error.to_string();
    match error {
        EngineError::InvalidArgument { field, reason } => invalid_argument(&field, &reason),
        EngineError::NotFound(what) => with_reason(Code::NotFound, not_found_reason(&what), message),
        EngineError::Rejected(rejection) => rejection_status(&rejection),
        EngineError::Overloaded(why) => with_reason(Code::ResourceExhausted, overload_reason(&why), message),
        EngineError::Unavailable(why) => with_reason(Code::Unavailable, unavailable_reason(&why), message),
        EngineError::DeadlineExceeded => with_reason(Code::DeadlineExceeded, "DEADLINE_EXCEEDED", message),
        EngineError::InvariantBroken { .. } => with_reason(Code::Internal, "INVARIANT_BROKEN", message),
    }
}

/// Not found, by what was not found. An order that is not the caller's
/// answers exactly as one that does not exist (see `NotFound::Order`).
fn not_found_reason(what: &NotFound) -> &'static str {
    match what {
        NotFound::TrainDate(_) => "TRAIN_DATE_NOT_FOUND",
        NotFound::Order(_) => "ORDER_NOT_FOUND",
        NotFound::Train(_) => "TRAIN_NOT_FOUND",
    }
}

/// Overload, by which queue was full.
fn overload_reason(why: &Overload) -> &'static str {
    match why {
        Overload::MailboxFull { .. } => "MAILBOX_FULL",
        Overload::JournalQueueFull { .. } => "JOURNAL_QUEUE_FULL",
    }
}

/// Unavailability, by cause; a corrupt journal is told apart, since waiting
/// will not fix it.
fn unavailable_reason(why: &Unavailable) -> &'static str {
    match why {
        Unavailable::ReadOnly { cause: StoreError::Corrupt { .. } | StoreError::Conflict { .. }, .. } => {
            "JOURNAL_CORRUPT"
        }
        Unavailable::ReadOnly { .. } => "TRAIN_DATE_READ_ONLY",
        Unavailable::NotDurable { .. } => "NOT_DURABLE",
        Unavailable::Stopped { .. } => "TRAIN_DATE_STOPPED",
        Unavailable::Store { .. } => "STORE_UNAVAILABLE",
    }
}

pub fn rejection_status(rejection: &Rejection) -> Status {
    let message = rejection.to_string();
    let reason = rejection.reason_code();
    match rejection {
        Rejection::PassengerCount { .. } => field_rejection("passengers", reason, message),
        Rejection::InvalidJourney { .. } => field_rejection("to_station", reason, message),
        Rejection::DuplicatePassenger { passenger } => {
            field_rejection(&format!("passengers[{passenger}].id_number"), reason, message)
        }
        Rejection::ClassNotOnTrain { passenger, .. } => {
            field_rejection(&format!("passengers[{passenger}].seat_class"), reason, message)
        }
        Rejection::InvalidSeatChoice { passenger, .. } => {
            field_rejection(&format!("passengers[{passenger}]"), reason, message)
        }
        Rejection::RequestIdReused { .. } => field_rejection("request_id", reason, message),
        Rejection::PassengerOverlap { .. } => with_reason(Code::AlreadyExists, reason, message),
        Rejection::OrderNotFound { .. } => with_reason(Code::NotFound, reason, message),
        Rejection::SoldOut { segments_free, .. } => {
            let metadata = HashMap::from([(SEGMENTS_FREE.to_owned(), segments_free.to_string())]);
            let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
            Status::with_error_details(Code::FailedPrecondition, message, details)
        }
        Rejection::SalesClosed
        | Rejection::Departed
        | Rejection::SeatTaken { .. }
        | Rejection::NotConfirmable { .. }
        | Rejection::HoldExpired { .. } => with_reason(Code::FailedPrecondition, reason, message),
    }
}

fn field_rejection(field: &str, reason: &str, message: String) -> Status {
    let mut details = ErrorDetails::with_bad_request_violation(field, message.clone());
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(Code::InvalidArgument, message, details)
}

fn with_reason(code: Code, reason: &str, message: String) -> Status {
    Status::with_error_details(code, message, ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()))
}

/// The ErrorInfo reason of a status from this API, for clients and tests.
pub fn reason_of(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// An ErrorInfo metadata entry of a status from this API.
pub fn metadata_of(status: &Status, key: &str) -> Option<String> {
    status.get_details_error_info().and_then(|mut info| info.metadata.remove(key))
}

/// Whether a SOLD_OUT refusal came while each segment alone still had
/// enough free seats (see `SEGMENTS_FREE`); false for any other status.
pub fn refused_while_segments_free(status: &Status) -> bool {
    metadata_of(status, SEGMENTS_FREE).as_deref() == Some("true")
}

/// The first BadRequest field of a status, for clients and tests.
pub fn field_of(status: &Status) -> Option<String> {
    status.get_details_bad_request().and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()))
}
