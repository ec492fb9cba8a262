//! Commands a train-date decides for the waitlist and ticket-change
//! workflows, and why it refuses them. Kept apart from `Command` and
//! `Rejection`, whose every variant the API maps one to one, so the
//! workflows' API can be added as a whole later.

use super::allocation_policy::AllocationPolicy;
use super::change::{ChangeId, ChangeTarget};
use super::order::{OrderId, OrderStatus};
use super::rejection::Rejection;
use super::seat_class::SeatClass;
use super::settings::ChangeWindow;
use super::state::TrainDateKey;
use super::timetable::StationCode;
use super::waitlist::{ChoiceEnd, ChoiceRef, WaitlistPassenger};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkflowCommand {
    /// An active request's choice joins this train-date's queue; served at
    /// once if it fits.
    JoinWaitlist(JoinWaitlist),
    /// The request record granted this reserved choice: it becomes a confirmed order.
    FulfilWaitlist { choice: ChoiceRef },
    /// The choice leaves (`Lost` or `Withdrawn`); its reservation, if any,
    /// is released and serves the queue. Recorded even for a choice that
    /// never joined, so a join arriving later is ignored.
    LeaveWaitlist { choice: ChoiceRef, end: ChoiceEnd },
    /// Every waiting choice whose cut-off has passed leaves.
    ExpireWaitlist,
    /// (a) On the old train-date: check the change rules, fix the fee, mark the order changing.
    StartChange(StartChange),
    /// (b) On the new train-date: take the new seats, pending the outcome.
    TakeChangeSeats(TakeChangeSeats),
    /// (c) On the old train-date: the commit point; the old tickets go back.
    CommitChange { change_id: ChangeId, new_fare_fen: u64 },
    /// On the old train-date: the change will not happen (before the commit only).
    AbortChange { change_id: ChangeId },
    /// On the new train-date: undo (b), or refuse a (b) that has not arrived
    /// yet. `source` is the old train-date, told to abort next.
    ReleaseChangeSeats { change_id: ChangeId, source: TrainDateKey },
    /// (d) On the new train-date: the pending seats become a confirmed order.
    CompleteChange { change_id: ChangeId },
    /// Another class or journey on the same train-date, in one decision.
    ChangeInPlace(ChangeInPlace),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartChange {
    pub change_id: ChangeId,
    pub order_id: OrderId,
    /// `Some`: only that user's order is found.
    pub user_id: Option<String>,
    pub target: ChangeTarget,
}

/// Built from the old train-date's `OutgoingChange` (`take_seats_command`),
/// so recovery can send it again from the record alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeChangeSeats {
    pub change_id: ChangeId,
    pub source: TrainDateKey,
    pub source_order_id: OrderId,
    pub new_order_id: OrderId,
    pub user_id: String,
    pub from: usize,
    pub to: usize,
    pub class: SeatClass,
    pub passengers: Vec<WaitlistPassenger>,
    /// The stations the old journey ran between; the new one must too.
    pub from_station: StationCode,
    pub to_station: StationCode,
    /// The changes the new tickets will have been through.
    pub changes: u32,
    pub policy: AllocationPolicy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeInPlace {
    pub change_id: ChangeId,
    pub order_id: OrderId,
    /// `Some`: only that user's order is found.
    pub user_id: Option<String>,
    pub from: usize,
    pub to: usize,
    pub class: SeatClass,
    pub new_order_id: OrderId,
    pub policy: AllocationPolicy,
}

/// One (train-date, class) choice of an active request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinWaitlist {
    pub choice: ChoiceRef,
    /// When the request became active: its place in every queue.
    pub activated_at_ms: u64,
    pub user_id: String,
    /// The order the choice becomes if fulfilled.
    pub order_id: OrderId,
    pub class: SeatClass,
    /// Boarding stop index.
    pub from: usize,
    /// Alighting stop index.
    pub to: usize,
    pub passengers: Vec<WaitlistPassenger>,
    /// The request's cut-off; no later than the settings allow for this departure.
    pub deadline_ms: u64,
    pub policy: AllocationPolicy,
}

/// Why a workflow command changed nothing.
#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkflowRejection {
    /// A rule shared with holds: shape, sales, departure, passenger overlap.
    #[error(transparent)]
    Hold(#[from] Rejection),
    #[error("{requested} {class} seat(s) can be booked now for this journey ({remaining} left): book normally instead")]
    BookNormally { class: SeatClass, requested: u32, remaining: u32 },
    #[error("the {class} waitlist of this train-date is full ({max} choices)")]
    QueueFull { class: SeatClass, max: usize },
    #[error("deadline_ms: the cut-off may be no later than {latest_ms}")]
    DeadlineTooLate { latest_ms: u64 },
    #[error("deadline_ms: the cut-off has passed")]
    DeadlinePassed,
    #[error("choice {choice} is not queued on this train-date")]
    ChoiceNotFound { choice: ChoiceRef },
    #[error("choice {choice} has no seats reserved yet")]
    NotReserved { choice: ChoiceRef },
    #[error("choice {choice} has already left the queue ({end:?})")]
    ChoiceEnded { choice: ChoiceRef, end: ChoiceEnd },
    #[error("order {order_id} is {status:?}; only a confirmed order can change")]
    NotChangeable { order_id: OrderId, status: OrderStatus },
    #[error("order {order_id} is already changing (change {change_id})")]
    ChangeInFlight { order_id: OrderId, change_id: ChangeId },
    #[error("order {order_id}'s tickets have been changed {changes} time(s); at most {max} allowed")]
    ChangeLimit { order_id: OrderId, changes: u32, max: u32 },
    #[error("order {order_id}'s tickets came from a change of destination and cannot change again")]
    DestinationChanged { order_id: OrderId },
    #[error("target: {window:?}")]
    ChangeWindow { window: ChangeWindow },
    #[error("target: the same train-date; change class or journey in place instead")]
    UseChangeInPlace,
    #[error("target: the new tickets are the old ones")]
    NothingToChange,
    #[error("target: the journey must run from {from_station} to {to_station}, as the old one does")]
    StationsDiffer { from_station: StationCode, to_station: StationCode },
    #[error("change {change_id} is not known here")]
    ChangeNotFound { change_id: ChangeId },
    #[error("change {change_id} has already ended ({})", if *committed { "committed" } else { "aborted" })]
    ChangeEnded { change_id: ChangeId, committed: bool },
}

impl WorkflowRejection {
    /// A stable machine-readable reason, as `Rejection::reason_code`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            WorkflowRejection::Hold(rejection) => rejection.reason_code(),
            WorkflowRejection::BookNormally { .. } => "BOOK_NORMALLY",
            WorkflowRejection::QueueFull { .. } => "WAITLIST_FULL",
            WorkflowRejection::DeadlineTooLate { .. } => "WAITLIST_DEADLINE_TOO_LATE",
            WorkflowRejection::DeadlinePassed => "WAITLIST_DEADLINE_PASSED",
            WorkflowRejection::ChoiceNotFound { .. } => "WAITLIST_CHOICE_NOT_FOUND",
            WorkflowRejection::NotReserved { .. } => "WAITLIST_NOT_RESERVED",
            WorkflowRejection::ChoiceEnded { .. } => "WAITLIST_CHOICE_ENDED",
            WorkflowRejection::NotChangeable { .. } => "NOT_CHANGEABLE",
            WorkflowRejection::ChangeInFlight { .. } => "CHANGE_IN_FLIGHT",
            WorkflowRejection::ChangeLimit { .. } => "CHANGE_LIMIT",
            WorkflowRejection::DestinationChanged { .. } => "DESTINATION_CHANGED",
            WorkflowRejection::ChangeWindow { window: ChangeWindow::OutsidePresale } => "CHANGE_OUTSIDE_PRESALE",
            WorkflowRejection::ChangeWindow { window: ChangeWindow::DepartedNotSameDay } => "CHANGE_DEPARTED",
            WorkflowRejection::UseChangeInPlace => "USE_CHANGE_IN_PLACE",
            WorkflowRejection::NothingToChange => "NOTHING_TO_CHANGE",
            WorkflowRejection::StationsDiffer { .. } => "CHANGE_STATIONS_DIFFER",
            WorkflowRejection::ChangeNotFound { .. } => "CHANGE_NOT_FOUND",
            WorkflowRejection::ChangeEnded { .. } => "CHANGE_ENDED",
        }
    }
}
