//! Commands a train-date decides for the waitlist and ticket-change
//! workflows, and why it refuses them. Kept apart from `Command` and
//! `Rejection`, whose every variant the API maps one to one, so the
//! workflows' API can be added as a whole later.

use super::allocation_policy::AllocationPolicy;
use super::order::OrderId;
use super::rejection::Rejection;
use super::seat_class::SeatClass;
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
        }
    }
}
