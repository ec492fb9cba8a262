//! The one table of error reasons: every `google.rpc.ErrorInfo` reason this
//! API sends, the gRPC status it always comes with, and what it means.
//!
//! Statuses are built from these entries (see `status`), so a reason cannot
//! travel with another status. Tests keep the table, the `.proto` comments
//! and the README's API table the same, and the fuzz tests check that every
//! refusal the server sends carries a reason from here.

use engine::domain::rejection::Rejection;
use engine::domain::workflow::WorkflowRejection;
use engine::workflow::request::RequestRejection;
use tonic::Code;

/// One ErrorInfo reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The stable code clients match on, such as "SOLD_OUT".
    pub name: &'static str,
    /// The gRPC status it is always sent with.
    pub code: Code,
    /// When it is sent, for people reading the table.
    pub meaning: &'static str,
}

macro_rules! reasons {
    ($($name:ident => $code:ident, $meaning:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $name: Reason = Reason { name: stringify!($name), code: Code::$code, meaning: $meaning };
        )*
        /// Every reason, in documentation order.
        pub const REASONS: &[Reason] = &[$($name),*];
    };
}

reasons! {
    MALFORMED_REQUEST => InvalidArgument,
        "The request message does not decode as its protobuf type, such as a string field that is not UTF-8.";
    INVALID_ARGUMENT => InvalidArgument,
        "A field is missing, malformed or out of its documented range; BadRequest names it.";
    PASSENGER_COUNT => InvalidArgument, "An order has 1 to 5 passengers.";
    INVALID_JOURNEY => InvalidArgument,
        "The boarding and alighting stations are the same, or the train calls at them in the other order.";
    DUPLICATE_PASSENGER => InvalidArgument, "The same id_number appears twice on one order.";
    CLASS_NOT_ON_TRAIN => InvalidArgument, "The train carries no seats of a passenger's class.";
    INVALID_SEAT_CHOICE => InvalidArgument, "A pick or exact seat does not exist on this train or class.";
    REQUEST_ID_REUSED => InvalidArgument, "The user already used this request id for a different hold or waitlist request.";
    TRAIN_NOT_FOUND => NotFound, "No train with this code is in the timetable.";
    TRAIN_DATE_NOT_FOUND => NotFound, "The train-date is not open (never opened, or archived after its run).";
    ORDER_NOT_FOUND => NotFound,
        "No such order for this user: another user's order answers exactly like a missing one.";
    SOLD_OUT => FailedPrecondition, "Not enough seats of the class are free for the whole journey.";
    SEAT_TAKEN => FailedPrecondition, "An exact seat asked for is taken for this journey.";
    SALES_CLOSED => FailedPrecondition, "Sales are closed for this train-date.";
    DEPARTED => FailedPrecondition, "The train has left the boarding station: too late to hold or refund.";
    HOLD_EXPIRED => FailedPrecondition, "The hold expired before it was confirmed.";
    NOT_CONFIRMABLE => FailedPrecondition, "The order is cancelled or refunded and cannot be confirmed.";
    PASSENGER_OVERLAP => AlreadyExists, "A passenger already holds an overlapping journey on this train-date.";
    BOOK_NORMALLY => FailedPrecondition, "The choice can be booked now: waitlist only what is sold out; book it with Hold.";
    WAITLIST_FULL => FailedPrecondition, "The train-date's waitlist queue for this class is at its bound.";
    WAITLIST_DEADLINE_TOO_LATE => InvalidArgument, "The waitlist cut-off is later than the departure allows (by default 19:00 the day before).";
    WAITLIST_DEADLINE_PASSED => FailedPrecondition, "The waitlist request's cut-off has passed.";
    WAITLIST_NO_CHOICES => InvalidArgument, "A waitlist request names no (train-date, class) choice.";
    WAITLIST_DATES => InvalidArgument, "A waitlist request names more departure dates than allowed, or dates that are not adjacent.";
    WAITLIST_CHOICES_PER_DATE => InvalidArgument, "A waitlist request names more choices on one date than allowed.";
    WAITLIST_STATIONS_DIFFER => InvalidArgument, "A waitlist request's choices do not all run between the same two stations.";
    WAITLIST_OPEN_REQUESTS => FailedPrecondition, "The user already has as many open waitlist requests as allowed.";
    WAITLIST_REQUEST_NOT_FOUND => NotFound, "No such waitlist request for this user: another user's answers exactly like a missing one.";
    WAITLIST_REQUEST_STATUS => FailedPrecondition, "The waitlist request's status does not allow this step (cancel after a grant, activate after a cancel).";
    WAITLIST_CHOICE_NOT_FOUND => NotFound, "A workflow step named a waitlist choice its train-date does not know.";
    WAITLIST_NOT_RESERVED => FailedPrecondition, "A workflow step asked to fulfil a waitlist choice that has no seats reserved.";
    WAITLIST_CHOICE_ENDED => FailedPrecondition, "The waitlist choice has already left its queue.";
    NOT_CHANGEABLE => FailedPrecondition, "Only a confirmed order's tickets can be changed.";
    CHANGE_IN_FLIGHT => FailedPrecondition, "The order is already being changed; wait for that change to end.";
    CHANGE_LIMIT => FailedPrecondition, "The tickets have been changed as often as allowed (once by default).";
    DESTINATION_CHANGED => FailedPrecondition, "Tickets from a change of destination cannot be changed again.";
    CHANGE_OUTSIDE_PRESALE => FailedPrecondition, "The new train-date is outside the presale window.";
    CHANGE_DEPARTED => FailedPrecondition, "The train has left: a change is allowed only to a train the same day.";
    USE_CHANGE_IN_PLACE => InvalidArgument, "A change across train-dates named the order's own train-date.";
    NOTHING_TO_CHANGE => InvalidArgument, "The change names the order's own train-date, class and journey.";
    CHANGE_STATIONS_DIFFER => InvalidArgument, "The new journey does not run between the old journey's two stations.";
    CHANGE_NOT_FOUND => NotFound, "A workflow step named a ticket change its train-date does not know.";
    CHANGE_ENDED => FailedPrecondition, "The ticket change has already committed or aborted.";
    MAILBOX_FULL => ResourceExhausted, "The train-date has too much work queued; retry shortly.";
    JOURNAL_QUEUE_FULL => ResourceExhausted,
        "The journal writer is behind the database, so writes are refused at once; retry shortly.";
    RATE_LIMITED => ResourceExhausted, "Too many calls for this user or address; RetryInfo says when to retry.";
    FEED_STREAMS_FULL => ResourceExhausted,
        "This seatd already serves its maximum of concurrent event feed streams; retry later or on another node.";
    TOO_MANY_WATCHES => ResourceExhausted,
        "Too many open WatchAvailability streams for this user, this address or the server; close one first.";
    WATCH_STALLED => ResourceExhausted,
        "A WatchAvailability stream was ended because its client read nothing for 30 s while updates waited.";
    MESSAGE_TOO_LARGE => OutOfRange,
        "The request message is larger than its service accepts (Booking 64 KiB, Admin 4 MiB).";
    FEED_POSITION_AHEAD => OutOfRange,
        "StreamEvents was asked to resume after a position the feed has not reached: a position from another database, or a journal restored from an older backup.";
    TRAIN_DATE_READ_ONLY => Unavailable,
        "The train-date's journal failed; it refuses writes until it has rebuilt from the journal. Reads work.";
    JOURNAL_CORRUPT => Unavailable,
        "The train-date's journal cannot be read back; writes stay refused until an operator repairs it.";
    NOT_DURABLE => Unavailable,
        "The write was decided but its commit failed, so it did not happen; retry with the same request_id.";
    TRAIN_DATE_STOPPED => Unavailable, "The train-date is shutting down or was archived.";
    NOT_IN_CLUSTER => FailedPrecondition, "A cluster call reached a seatd that runs alone.";
    WATCH_SPANS_NODES => FailedPrecondition,
        "In a cluster: a watch of a search, or of train-dates served by different nodes; watch each node's journeys apart.";
    SLOT_MOVED => Unavailable,
        "In a cluster: the train-date's slot is moving to another node, or this node lost it; retry with the same request_id.";
    STORE_UNAVAILABLE => Unavailable,
        "The database is unavailable: an admin change could not be saved, or the event feed could not be read.";
    DEADLINE_EXCEEDED => DeadlineExceeded, "The call's deadline passed before it was processed; nothing changed.";
    INVARIANT_BROKEN => Internal,
        "A train-date failed its own recount: a bug, reported rather than served; never the caller's fault.";
    UNAUTHENTICATED => Unauthenticated, "The bearer token is missing, malformed, expired or forged.";
    PERMISSION_DENIED => PermissionDenied, "The token's role may not make this call, or not for this user.";
}

/// The table entry named `name`, if there is one.
pub fn named(name: &str) -> Option<&'static Reason> {
    REASONS.iter().find(|reason| reason.name == name)
}

/// The reason of a business rejection.
pub fn of_rejection(rejection: &Rejection) -> &'static Reason {
    match rejection {
        Rejection::PassengerCount { .. } => &PASSENGER_COUNT,
        Rejection::InvalidJourney { .. } => &INVALID_JOURNEY,
        Rejection::DuplicatePassenger { .. } => &DUPLICATE_PASSENGER,
        Rejection::ClassNotOnTrain { .. } => &CLASS_NOT_ON_TRAIN,
        Rejection::InvalidSeatChoice { .. } => &INVALID_SEAT_CHOICE,
        Rejection::RequestIdReused { .. } => &REQUEST_ID_REUSED,
        Rejection::SalesClosed => &SALES_CLOSED,
        Rejection::Departed => &DEPARTED,
        Rejection::PassengerOverlap { .. } => &PASSENGER_OVERLAP,
        Rejection::SeatTaken { .. } => &SEAT_TAKEN,
        Rejection::SoldOut { .. } => &SOLD_OUT,
        Rejection::OrderNotFound { .. } => &ORDER_NOT_FOUND,
        Rejection::NotConfirmable { .. } => &NOT_CONFIRMABLE,
        Rejection::HoldExpired { .. } => &HOLD_EXPIRED,
    }
}

/// The reason of a refused waitlist or change step: the engine's own code,
/// which the table lists (`every_workflow_rejection_has_a_reason` checks).
pub fn of_workflow_rejection(rejection: &WorkflowRejection) -> &'static Reason {
    match rejection {
        WorkflowRejection::Hold(rejection) => of_rejection(rejection),
        other => named(other.reason_code()).unwrap_or(&INVARIANT_BROKEN),
    }
}

/// The reason of a step a waitlist request's record refused, as above.
pub fn of_request_rejection(rejection: &RequestRejection) -> &'static Reason {
    named(rejection.reason_code()).unwrap_or(&INVARIANT_BROKEN)
}

/// The name the gRPC spec gives `code`, as the .proto comments write it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::domain::order::{OrderId, OrderStatus};
    use engine::domain::seat_class::SeatClass;
    use std::path::Path;

    /// (reason, status, meaning) rows, as the docs must list them.
    fn table_rows() -> Vec<(String, String, String)> {
        REASONS.iter().map(|r| (r.name.to_owned(), code_name(r.code).to_owned(), r.meaning.to_owned())).collect()
    }

    fn read(relative: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// The "- NAME (STATUS): meaning" list in common.proto's header, with
    /// continuation lines joined.
    fn proto_rows(common: &str) -> Vec<(String, String, String)> {
        let mut rows: Vec<(String, String, String)> = Vec::new();
        let section = common.split("// Error reasons.").nth(1).expect("common.proto has an error reasons list");
        for line in section.lines().skip(1) {
            let Some(text) = line.strip_prefix("//") else { break };
            if let Some(entry) = text.strip_prefix(" - ") {
                let (head, meaning) = entry.split_once(": ").expect("- NAME (STATUS): meaning");
                let (name, status) = head.split_once(" (").expect("NAME (STATUS)");
                rows.push((name.to_owned(), status.trim_end_matches(')').to_owned(), meaning.to_owned()));
            } else if let Some(last) = rows.last_mut() {
                last.2 = format!("{} {}", last.2, text.trim());
            }
        }
        rows
    }

    #[test]
    fn common_proto_documents_exactly_the_table() {
        assert_eq!(proto_rows(&read("../proto/seat/v1/common.proto")), table_rows());
    }

    #[test]
    fn readme_api_table_is_the_table() {
        let readme = read("../README.md");
        let rows: Vec<(String, String, String)> = readme
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.strip_prefix("| ")?.strip_suffix(" |")?.split(" | ").collect();
                let [name, status, meaning] = cells[..] else { return None };
                let is_code = !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                is_code.then(|| (name.to_owned(), status.to_owned(), meaning.to_owned()))
            })
            .collect();
        assert_eq!(rows, table_rows());
    }

    /// Every UPPER_SNAKE word in a .proto comment that is neither a gRPC
    /// status nor an enum value is a reason, and must be in the table.
    #[test]
    fn every_reason_a_proto_mentions_is_in_the_table() {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/seat/v1");
        let statuses: Vec<&str> = (0..=16).map(|value| code_name(Code::from_i32(value))).collect();
        for entry in std::fs::read_dir(&directory).expect("proto directory") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("proto");
            let enum_values: Vec<&str> = text
                .lines()
                .filter_map(|line| line.trim().split_once(" = ").map(|(name, _)| name))
                .filter(|name| name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
                .collect();
            for comment in text.lines().filter_map(|line| line.trim().strip_prefix("//")) {
                let words = comment.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
                for word in
                    words.filter(|word| word.contains('_') && word.starts_with(|c: char| c.is_ascii_uppercase()))
                {
                    if statuses.contains(&word) || enum_values.contains(&word) {
                        continue;
                    }
                    assert!(
                        named(word).is_some(),
                        "{} mentions {word}, which is not in the reason table",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn names_are_unique() {
        for (index, reason) in REASONS.iter().enumerate() {
            assert!(!REASONS[..index].iter().any(|earlier| earlier.name == reason.name), "{} twice", reason.name);
        }
    }

    #[test]
    fn every_workflow_and_request_rejection_has_its_own_reason() {
        use engine::domain::change::ChangeId;
        use engine::domain::settings::ChangeWindow;
        use engine::domain::waitlist::{ChoiceEnd, ChoiceRef, WaitlistRequestId};
        use engine::workflow::request::RequestStatus;
        let order_id = OrderId::generate();
        let change_id = ChangeId(uuid::Uuid::nil());
        let request_id = WaitlistRequestId(uuid::Uuid::nil());
        let choice = ChoiceRef { request_id, index: 0 };
        let class = SeatClass::Business;
        let workflow = [
            WorkflowRejection::BookNormally { class, requested: 1, remaining: 2 },
            WorkflowRejection::QueueFull { class, max: 1 },
            WorkflowRejection::DeadlineTooLate { latest_ms: 0 },
            WorkflowRejection::DeadlinePassed,
            WorkflowRejection::ChoiceNotFound { choice },
            WorkflowRejection::NotReserved { choice },
            WorkflowRejection::ChoiceEnded { choice, end: ChoiceEnd::Lost },
            WorkflowRejection::NotChangeable { order_id, status: OrderStatus::Held },
            WorkflowRejection::ChangeInFlight { order_id, change_id },
            WorkflowRejection::ChangeLimit { order_id, changes: 1, max: 1 },
            WorkflowRejection::DestinationChanged { order_id },
            WorkflowRejection::ChangeWindow { window: ChangeWindow::OutsidePresale },
            WorkflowRejection::ChangeWindow { window: ChangeWindow::DepartedNotSameDay },
            WorkflowRejection::UseChangeInPlace,
            WorkflowRejection::NothingToChange,
            WorkflowRejection::StationsDiffer { from_station: "VNP".into(), to_station: "AOH".into() },
            WorkflowRejection::ChangeNotFound { change_id },
            WorkflowRejection::ChangeEnded { change_id, committed: true },
        ];
        for rejection in &workflow {
            assert_eq!(of_workflow_rejection(rejection).name, rejection.reason_code(), "{rejection:?}");
        }
        let request = [
            RequestRejection::PassengerCount { count: 4, max: 3 },
            RequestRejection::DuplicatePassenger { passenger: 1 },
            RequestRejection::NoChoices,
            RequestRejection::Dates { max: 2 },
            RequestRejection::ChoicesPerDate { max: 2 },
            RequestRejection::StationsDiffer { choice: 1 },
            RequestRejection::DeadlinePassed,
            RequestRejection::OpenRequests { open: 1, max: 1 },
            RequestRejection::RequestIdReused { request_id },
            RequestRejection::NotFound,
            RequestRejection::WrongStatus { status: RequestStatus::Active, expected: "submitted".into() },
            RequestRejection::NoSuchChoice { choice: 3 },
        ];
        for rejection in &request {
            assert_eq!(of_request_rejection(rejection).name, rejection.reason_code(), "{rejection:?}");
        }
    }

    #[test]
    fn every_rejection_keeps_the_engines_reason_code() {
        let order_id = OrderId::generate();
        let rejections = [
            Rejection::PassengerCount { count: 6, max: 5 },
            Rejection::InvalidJourney { reason: String::new() },
            Rejection::DuplicatePassenger { passenger: 1 },
            Rejection::ClassNotOnTrain { passenger: 0, class: SeatClass::Business },
            Rejection::InvalidSeatChoice { passenger: 0, reason: String::new() },
            Rejection::RequestIdReused { request_id: "r".into() },
            Rejection::SalesClosed,
            Rejection::Departed,
            Rejection::PassengerOverlap { passenger: 0, order_id },
            Rejection::SeatTaken { passenger: 0, carriage: 1, seat: "01A".into() },
            Rejection::SoldOut { class: SeatClass::Second, requested: 1, remaining: 0, segments_free: false },
            Rejection::OrderNotFound { order_id },
            Rejection::NotConfirmable { order_id, status: OrderStatus::Cancelled },
            Rejection::HoldExpired { order_id },
        ];
        for rejection in &rejections {
            assert_eq!(of_rejection(rejection).name, rejection.reason_code());
            assert_eq!(named(rejection.reason_code()), Some(of_rejection(rejection)));
        }
    }
}
