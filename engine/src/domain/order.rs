//! Orders and their tickets as the train-date actor keeps them.

use super::change::OrderChangeState;
use super::plan::SeatIndex;
use super::seat_class::SeatClass;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Globally unique order id (UUID v7, so ids sort by creation time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderId(pub Uuid);

impl OrderId {
    /// A fresh id; called by the actor wrapper, never inside decide.
    pub fn generate() -> Self {
        OrderId(Uuid::now_v7())
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for OrderId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(OrderId)
    }
}

/// Where an order is in its life. Held is the only state that can still
/// change to Confirmed; Confirmed can still become Refunded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Seats taken, awaiting payment until `expires_at_ms`.
    Held,
    /// Paid; seats stay taken.
    Confirmed,
    /// The holder cancelled before paying; seats returned.
    Cancelled,
    /// Cancelled after paying; seats returned.
    Refunded,
    /// Not paid in time; seats returned.
    Expired,
}

impl OrderStatus {
    /// Whether the order's seats are taken.
    pub fn holds_seats(self) -> bool {
        matches!(self, OrderStatus::Held | OrderStatus::Confirmed)
    }
}

/// One passenger's seat on an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub passenger_name: String,
    /// 18-character resident ID number (or other document number).
    pub id_number: String,
    pub class: SeatClass,
    /// Index into the plan's seats; `TrainPlan::position` names it.
    pub seat: SeatIndex,
    /// What the ticket costs, in fen, fixed when held.
    pub fare_fen: u64,
    /// False when the passenger asked for a seat position that could not be met
    /// and another seat of the class was given instead.
    pub preference_met: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub user_id: String,
    /// The client's idempotency key it was held with.
    pub request_id: String,
    /// Boarding stop index.
    pub from: u8,
    /// Alighting stop index.
    pub to: u8,
    pub tickets: Vec<Ticket>,
    pub status: OrderStatus,
    /// Unix ms the hold was decided.
    pub held_at_ms: u64,
    /// Unix ms past which an unpaid hold expires.
    pub expires_at_ms: u64,
    /// When the order last changed status.
    pub updated_at_ms: u64,
    /// Kept from the fare when the order was refunded (the refund tier table).
    #[serde(default)]
    pub refund_fee_fen: u64,
    /// Changes the tickets came through, and a change in flight or done.
    #[serde(default)]
    pub change: OrderChangeState,
}

impl Order {
    pub fn total_fare_fen(&self) -> u64 {
        self.tickets.iter().map(|ticket| ticket.fare_fen).sum()
    }

    pub fn journey(&self) -> (usize, usize) {
        (usize::from(self.from), usize::from(self.to))
    }
}
