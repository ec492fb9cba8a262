//! Ticket change (改签) records a train-date keeps: on the old train-date
//! the change of one of its orders (started, then committed or aborted), on
//! the new one the seats taken for it (pending, then completed or released).
//! The steps between them are in `crate::workflow`.

use super::allocation_policy::AllocationPolicy;
use super::order::{OrderId, Ticket};
use super::seat_class::SeatClass;
use super::state::TrainDateKey;
use super::timetable::StationCode;
use super::waitlist::WaitlistPassenger;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Globally unique change id (UUID v7, chosen by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangeId(pub Uuid);

impl fmt::Display for ChangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an order records about changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderChangeState {
    /// Changes the ticket came through (0 for a ticket bought directly).
    pub changes: u32,
    /// Born of a change of destination (变更到站): another journey on the same train.
    pub destination_changed: bool,
    /// A change in flight: no second change until it ends.
    pub changing: Option<ChangeId>,
    /// Ended by a committed change into this order (its status is Refunded:
    /// the seats went back, the fare moved to the new order).
    pub changed_to: Option<OrderId>,
}

/// Where the new tickets go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeTarget {
    pub train_date: TrainDateKey,
    /// Boarding stop index on the target train.
    pub from: u8,
    /// Alighting stop index on the target train.
    pub to: u8,
    pub class: SeatClass,
    /// The order the new tickets become, chosen by the caller.
    pub new_order_id: OrderId,
    pub policy: AllocationPolicy,
}

/// A change of one of this train-date's orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingChange {
    pub change_id: ChangeId,
    pub order_id: OrderId,
    pub user_id: String,
    pub passengers: Vec<WaitlistPassenger>,
    /// The old journey's stations: the new one must run between the same two.
    pub from_station: StationCode,
    pub to_station: StationCode,
    /// The old tickets' total fare.
    pub old_fare_fen: u64,
    /// Due for the change, fixed when it started (the tier rules).
    pub fee_fen: u64,
    /// The changes the old tickets had been through.
    pub prior_changes: u32,
    pub target: ChangeTarget,
    pub started_at_ms: u64,
    pub outcome: Option<ChangeOutcome>,
}

/// The recorded end of a change: the commit point is on the old train-date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOutcome {
    Committed { settlement: ChangeSettlement, at_ms: u64 },
    Aborted { at_ms: u64 },
}

/// What the passenger pays or gets back for a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSettlement {
    pub old_fare_fen: u64,
    pub new_fare_fen: u64,
    pub fee_fen: u64,
}

impl ChangeSettlement {
    /// Positive: the passenger pays this much more; negative: gets it back.
    /// The fee is kept from a refund of the difference, or added to a payment.
    pub fn due_fen(&self) -> i64 {
        self.new_fare_fen as i64 - self.old_fare_fen as i64 + self.fee_fen as i64
    }
}

/// Seats a train-date took for a change of another train-date's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingChange {
    pub change_id: ChangeId,
    pub source: TrainDateKey,
    pub source_order_id: OrderId,
    pub new_order_id: OrderId,
    pub user_id: String,
    pub from: u8,
    pub to: u8,
    /// Empty for a release recorded before any seats were taken.
    pub tickets: Vec<Ticket>,
    /// The changes the new tickets will have been through.
    pub changes: u32,
    pub status: IncomingStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomingStatus {
    /// Seats taken; the old train-date has not told the outcome yet.
    Pending,
    /// The change committed: the seats are a confirmed order.
    Completed,
    /// The change aborted (or never got seats): nothing held.
    Released,
}

impl OutgoingChange {
    /// Step (b) of this change, as recovery sends it again.
    pub fn take_seats_command(&self, source: &TrainDateKey) -> crate::domain::workflow::TakeChangeSeats {
        crate::domain::workflow::TakeChangeSeats {
            change_id: self.change_id,
            source: source.clone(),
            source_order_id: self.order_id,
            new_order_id: self.target.new_order_id,
            user_id: self.user_id.clone(),
            from: usize::from(self.target.from),
            to: usize::from(self.target.to),
            class: self.target.class,
            passengers: self.passengers.clone(),
            from_station: self.from_station.clone(),
            to_station: self.to_station.clone(),
            changes: self.prior_changes + 1,
            policy: self.target.policy,
        }
    }
}

impl IncomingChange {
    pub fn fare_fen(&self) -> u64 {
        self.tickets.iter().map(|ticket| ticket.fare_fen).sum()
    }
}

/// Every change record of one train-date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrainDateChanges {
    /// Changes of this train-date's orders, in flight or ended.
    pub outgoing: std::collections::BTreeMap<ChangeId, OutgoingChange>,
    /// Seats taken here for other train-dates' changes, in any status.
    pub incoming: std::collections::BTreeMap<ChangeId, IncomingChange>,
    /// Changes told to release before any seats were taken here: a take
    /// arriving later is refused, so an aborted change never takes seats.
    pub abandoned: std::collections::BTreeSet<ChangeId>,
}

/// A change to another class or journey on the same train-date, decided at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InPlaceChange {
    pub change_id: ChangeId,
    pub order_id: OrderId,
    pub new_order_id: OrderId,
    pub from: u8,
    pub to: u8,
    pub tickets: Vec<Ticket>,
    pub settlement: ChangeSettlement,
    pub at_ms: u64,
}
