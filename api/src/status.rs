//! Engine errors and rejections → gRPC statuses, in one place.
//!
//! Every error carries `google.rpc.ErrorInfo` with a reason from the table in
//! `reasons`, and argument errors carry `google.rpc.BadRequest` naming the
//! field. Every status is bounded in size whatever the input (see `bounded`).

use crate::reasons::{self, Reason};
use engine::domain::rejection::Rejection;
use engine::domain::workflow::WorkflowRejection;
use engine::durability::StoreError;
use engine::error::{EngineError, NotFound, Overload, Unavailable};
use engine::workflow::request::RequestRejection;
use std::collections::HashMap;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

/// ErrorInfo domain of every status this API returns.
pub const ERROR_DOMAIN: &str = "seat.v1";

/// ErrorInfo metadata key on SOLD_OUT: "true" when every segment of the
/// journey alone had enough free seats of the class, but no seats had the
/// whole journey free (fragmentation); "false" when some segment was full.
pub const SEGMENTS_FREE: &str = "segments_free";

/// Longest status message and BadRequest description, in bytes. A message
/// travels twice in the trailers (percent-encoded in `grpc-message`, where a
/// CJK character costs 9 bytes, and base64 in `grpc-status-details-bin`),
/// and standard clients refuse trailers over 8 or 16 KiB; 512 bytes keep the
/// whole status near 3 KiB at worst. Echoed values are capped before this
/// (`engine::domain::echo`); this bound holds whatever a message is built from.
pub const MESSAGE_BYTES_MAX: usize = 512;
/// Longest BadRequest field path, in bytes; real paths are under 40.
pub const FIELD_BYTES_MAX: usize = 128;
/// Most BadRequest violations one status lists.
pub const VIOLATIONS_MAX: usize = 8;

/// INVALID_ARGUMENT naming `field` and saying why.
pub fn invalid_argument(field: &str, reason: &str) -> Status {
    field_refusal(&reasons::INVALID_ARGUMENT, field, format!("{field}: {reason}"))
}

/// A refusal with `reason`'s status and ErrorInfo, and no other details.
pub fn refusal(reason: &Reason, message: impl Into<String>) -> Status {
    bounded(reason, message.into(), ErrorDetails::new())
}

/// A refusal with `reason`'s status, ErrorInfo, and BadRequest naming `field`
/// with `message` as its description.
pub fn field_refusal(reason: &Reason, field: &str, message: String) -> Status {
    bounded(reason, message.clone(), ErrorDetails::with_bad_request_violation(field, message))
}

pub fn engine_status(error: EngineError) -> Status {
    let message = error.to_string();
    match error {
        EngineError::InvalidArgument { field, reason } => invalid_argument(&field, &reason),
        EngineError::NotFound(what) => refusal(not_found_reason(&what), message),
        EngineError::Rejected(rejection) => rejection_status(&rejection),
        EngineError::WorkflowRejected(rejection) => workflow_status(&rejection),
        EngineError::RequestRejected(rejection) => request_status(&rejection),
        EngineError::Overloaded(why) => refusal(overload_reason(&why), message),
        EngineError::Unavailable(why) => refusal(unavailable_reason(&why), message),
        EngineError::DeadlineExceeded => refusal(&reasons::DEADLINE_EXCEEDED, message),
        EngineError::InvariantBroken { .. } => refusal(&reasons::INVARIANT_BROKEN, message),
    }
}

/// Not found, by what was not found. An order that is not the caller's
/// answers exactly as one that does not exist (see `NotFound::Order`).
fn not_found_reason(what: &NotFound) -> &'static Reason {
    match what {
        NotFound::TrainDate(_) => &reasons::TRAIN_DATE_NOT_FOUND,
        NotFound::Order(_) => &reasons::ORDER_NOT_FOUND,
        NotFound::Train(_) => &reasons::TRAIN_NOT_FOUND,
        NotFound::WaitlistRequest(_) => &reasons::WAITLIST_REQUEST_NOT_FOUND,
    }
}

/// A waitlist or change step a train-date refused; invalid input names its field.
pub fn workflow_status(rejection: &WorkflowRejection) -> Status {
    let message = rejection.to_string();
    let reason = reasons::of_workflow_rejection(rejection);
    match rejection {
        WorkflowRejection::Hold(rejection) => rejection_status(rejection),
        WorkflowRejection::DeadlineTooLate { .. } => field_refusal(reason, "cutoff_ms", message),
        WorkflowRejection::UseChangeInPlace | WorkflowRejection::NothingToChange => {
            field_refusal(reason, "train_date", message)
        }
        WorkflowRejection::StationsDiffer { .. } => field_refusal(reason, "to_station", message),
        _ => refusal(reason, message),
    }
}

/// A step a waitlist request's record refused; invalid input names its field.
pub fn request_status(rejection: &RequestRejection) -> Status {
    let message = rejection.to_string();
    let reason = reasons::of_request_rejection(rejection);
    match rejection {
        RequestRejection::PassengerCount { .. } => field_refusal(reason, "passengers", message),
        RequestRejection::DuplicatePassenger { passenger } => {
            field_refusal(reason, &format!("passengers[{passenger}].id_number"), message)
        }
        RequestRejection::NoChoices | RequestRejection::Dates { .. } | RequestRejection::ChoicesPerDate { .. } => {
            field_refusal(reason, "choices", message)
        }
        RequestRejection::StationsDiffer { choice } => field_refusal(reason, &format!("choices[{choice}]"), message),
        RequestRejection::RequestIdReused { .. } => field_refusal(reason, "client_request_id", message),
        _ => refusal(reason, message),
    }
}

/// Overload, by which queue was full.
fn overload_reason(why: &Overload) -> &'static Reason {
    match why {
        Overload::MailboxFull { .. } => &reasons::MAILBOX_FULL,
        Overload::JournalQueueFull { .. } => &reasons::JOURNAL_QUEUE_FULL,
    }
}

/// Unavailability, by cause; a corrupt journal is told apart, since waiting
/// will not fix it.
fn unavailable_reason(why: &Unavailable) -> &'static Reason {
    match why {
        Unavailable::ReadOnly { cause: StoreError::Corrupt { .. } | StoreError::Conflict { .. }, .. } => {
            &reasons::JOURNAL_CORRUPT
        }
        Unavailable::ReadOnly { .. } => &reasons::TRAIN_DATE_READ_ONLY,
        Unavailable::NotDurable { .. } => &reasons::NOT_DURABLE,
        Unavailable::Stopped { .. } => &reasons::TRAIN_DATE_STOPPED,
        Unavailable::SlotMoved { .. } | Unavailable::Peer { .. } => &reasons::SLOT_MOVED,
        Unavailable::Store { .. } => &reasons::STORE_UNAVAILABLE,
    }
}

pub fn rejection_status(rejection: &Rejection) -> Status {
    let message = rejection.to_string();
    let reason = reasons::of_rejection(rejection);
    match rejection {
        Rejection::PassengerCount { .. } => field_refusal(reason, "passengers", message),
        Rejection::InvalidJourney { .. } => field_refusal(reason, "to_station", message),
        Rejection::DuplicatePassenger { passenger } => {
            field_refusal(reason, &format!("passengers[{passenger}].id_number"), message)
        }
        Rejection::ClassNotOnTrain { passenger, .. } => {
            field_refusal(reason, &format!("passengers[{passenger}].seat_class"), message)
        }
        Rejection::InvalidSeatChoice { passenger, .. } => {
            field_refusal(reason, &format!("passengers[{passenger}]"), message)
        }
        Rejection::RequestIdReused { .. } => field_refusal(reason, "request_id", message),
        Rejection::SoldOut { segments_free, .. } => {
            let metadata = HashMap::from([(SEGMENTS_FREE.to_owned(), segments_free.to_string())]);
            let mut details = ErrorDetails::new();
            details.set_error_info(reason.name, ERROR_DOMAIN, metadata);
            bounded(reason, message, details)
        }
        Rejection::PassengerOverlap { .. }
        | Rejection::OrderNotFound { .. }
        | Rejection::SalesClosed
        | Rejection::Departed
        | Rejection::SeatTaken { .. }
        | Rejection::NotConfirmable { .. }
        | Rejection::HoldExpired { .. } => refusal(reason, message),
    }
}

/// The status for `reason`: its code, `message` and `details` cut to the
/// bounds above, and ErrorInfo with the reason unless `details` has one.
pub fn bounded(reason: &Reason, message: String, mut details: ErrorDetails) -> Status {
    if details.error_info().is_none() {
        details.set_error_info(reason.name, ERROR_DOMAIN, HashMap::new());
    }
    if let Some(bad_request) = details.bad_request() {
        let mut violations = bad_request.field_violations.clone();
        violations.truncate(VIOLATIONS_MAX);
        for violation in &mut violations {
            violation.field = cut(&violation.field, FIELD_BYTES_MAX);
            violation.description = cut(&violation.description, MESSAGE_BYTES_MAX);
        }
        details.set_bad_request(violations);
    }
    Status::with_error_details(reason.code, cut(&message, MESSAGE_BYTES_MAX), details)
}

/// `text` cut to at most `bytes_max` bytes on a character boundary, with
/// "…" marking a cut.
pub fn cut(text: &str, bytes_max: usize) -> String {
    if text.len() <= bytes_max {
        return text.to_owned();
    }
    const ELLIPSIS: &str = "…";
    let mut end = bytes_max - ELLIPSIS.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &text[..end])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut("short", 10), "short");
        let long = "北".repeat(400);
        let cut_text = cut(&long, MESSAGE_BYTES_MAX);
        assert!(cut_text.len() <= MESSAGE_BYTES_MAX);
        assert!(cut_text.ends_with('…'));
    }

    #[test]
    fn huge_inputs_make_small_statuses() {
        let huge = "x".repeat(100_000);
        let status = invalid_argument(&huge, &huge);
        assert!(status.message().len() <= MESSAGE_BYTES_MAX);
        assert!(status.details().len() < 2 * MESSAGE_BYTES_MAX + FIELD_BYTES_MAX + 200, "{}", status.details().len());
        assert_eq!(reason_of(&status).as_deref(), Some("INVALID_ARGUMENT"));
        assert!(field_of(&status).is_some_and(|field| field.len() <= FIELD_BYTES_MAX));
    }

    #[test]
    fn statuses_take_their_reasons_code() {
        for reason in reasons::REASONS {
            let status = refusal(reason, "m");
            assert_eq!(status.code(), reason.code);
            assert_eq!(reason_of(&status).as_deref(), Some(reason.name));
        }
    }
}
