//! Events: the only way a train-date's state changes, and what the journal stores.

use super::change::{ChangeId, ChangeSettlement, InPlaceChange, IncomingChange, OutgoingChange};
use super::order::{OrderId, Ticket};
use super::waitlist::{ChoiceEnd, ChoiceRef, WaitingChoice, WaitlistRequestId};
use crate::workflow::request::RequestEvent;
use serde::{Deserialize, Serialize};

/// Bumped whenever an event's stored shape changes; readers accept every
/// version up to this one. New fields are `#[serde(default)]`, so older
/// events decode unchanged; a build older than the events it meets refuses
/// them by version instead of dropping fields it does not know.
///
/// - 1: holds, confirms, cancels, refunds, expiries, sales closed.
/// - 2: refunds record their fee; waitlist and ticket-change events.
/// - 3: waitlist request records, kept by their home train-date.
pub const EVENT_SCHEMA_VERSION: u16 = 3;

/// An event with its place in its train-date's stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// 1-based, gapless position in the train-date's stream.
    pub seq: u64,
    /// Schema version the event was written with; decoding upgrades older ones.
    pub version: u16,
    pub event: Event,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    SeatsHeld(SeatsHeld),
    OrderConfirmed {
        order_id: OrderId,
        at_ms: u64,
    },
    /// A held order cancelled before payment.
    HoldCancelled {
        order_id: OrderId,
        at_ms: u64,
    },
    /// A confirmed order cancelled after payment.
    TicketsRefunded {
        order_id: OrderId,
        at_ms: u64,
        /// Kept from the fare by the refund tier table; 0 in version-1 events.
        #[serde(default)]
        fee_fen: u64,
    },
    HoldExpired {
        order_id: OrderId,
        at_ms: u64,
    },
    SalesClosed {
        at_ms: u64,
    },
    /// A choice of an active waitlist request joined the queue, waiting.
    WaitlistJoined(WaitingChoice),
    /// Freed seats reserved for a waiting choice, in the decision that freed them.
    WaitlistSeatsReserved {
        choice: ChoiceRef,
        /// One per passenger, in the choice's passenger order.
        tickets: Vec<Ticket>,
        at_ms: u64,
    },
    /// The request record granted the choice: its reservation is now a confirmed order.
    WaitlistFulfilled {
        choice: ChoiceRef,
        at_ms: u64,
    },
    /// The choice left the queue; its reservation, if any, is released.
    WaitlistLeft {
        choice: ChoiceRef,
        end: ChoiceEnd,
        at_ms: u64,
    },
    /// (a) On the old train-date: the order is changing; no second change meanwhile.
    ChangeStarted(OutgoingChange),
    /// (b) On the new train-date: seats taken for the change, pending its outcome.
    ChangeSeatsTaken(IncomingChange),
    /// (c) On the old train-date, the commit point: the old tickets are released.
    ChangeCommitted {
        change_id: ChangeId,
        settlement: ChangeSettlement,
        at_ms: u64,
    },
    /// On the old train-date: the change will not happen; the order stays as it was.
    ChangeAborted {
        change_id: ChangeId,
        at_ms: u64,
    },
    /// On the new train-date: the pending seats go back (or, if none were
    /// taken, a later take is refused).
    ChangeSeatsReleased {
        change_id: ChangeId,
        /// The old train-date, told to abort next.
        source: crate::domain::state::TrainDateKey,
        at_ms: u64,
    },
    /// (d) On the new train-date: the pending seats become a confirmed order.
    ChangeCompleted {
        change_id: ChangeId,
        at_ms: u64,
    },
    /// A change within one train-date (another class or journey), in one decision.
    TicketsChangedInPlace(InPlaceChange),
    /// A step of a waitlist request's own record, which lives in its home
    /// train-date (its first choice's): one actor decides it, and it is
    /// journaled in that train-date's stream, so a request needs no stream
    /// or actor kind of its own.
    WaitlistRequest {
        request_id: WaitlistRequestId,
        event: RequestEvent,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatsHeld {
    pub order_id: OrderId,
    pub user_id: String,
    pub request_id: String,
    /// Boarding stop index.
    pub from: u8,
    /// Alighting stop index.
    pub to: u8,
    /// One per passenger, with the seat decide chose.
    pub tickets: Vec<Ticket>,
    /// Unix ms the hold was decided.
    pub held_at_ms: u64,
    /// Unix ms past which an unpaid hold expires.
    pub expires_at_ms: u64,
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SeatsHeld(_) => "seats_held",
            Event::OrderConfirmed { .. } => "order_confirmed",
            Event::HoldCancelled { .. } => "hold_cancelled",
            Event::TicketsRefunded { .. } => "tickets_refunded",
            Event::HoldExpired { .. } => "hold_expired",
            Event::SalesClosed { .. } => "sales_closed",
            Event::WaitlistJoined(_) => "waitlist_joined",
            Event::WaitlistSeatsReserved { .. } => "waitlist_seats_reserved",
            Event::WaitlistFulfilled { .. } => "waitlist_fulfilled",
            Event::WaitlistLeft { .. } => "waitlist_left",
            Event::ChangeStarted(_) => "change_started",
            Event::ChangeSeatsTaken(_) => "change_seats_taken",
            Event::ChangeCommitted { .. } => "change_committed",
            Event::ChangeAborted { .. } => "change_aborted",
            Event::ChangeSeatsReleased { .. } => "change_seats_released",
            Event::ChangeCompleted { .. } => "change_completed",
            Event::TicketsChangedInPlace(_) => "tickets_changed_in_place",
            Event::WaitlistRequest { .. } => "waitlist_request",
        }
    }
}
