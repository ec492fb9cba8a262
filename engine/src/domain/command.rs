//! Commands a train-date decides on, one file of logic each under `decide/`.

use super::order::OrderId;
use super::seat_class::SeatClass;
use crate::allocation::AllocationPolicy;
use serde::{Deserialize, Serialize};

/// Most passengers on one order (12306's rule).
pub const PASSENGERS_PER_ORDER_MAX: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    HoldSeats(HoldSeats),
    /// `user_id` set: only that user's order is found.
    ConfirmOrder {
        order_id: OrderId,
        user_id: Option<String>,
    },
    /// `user_id` set: only that user's order is found.
    CancelOrder {
        order_id: OrderId,
        user_id: Option<String>,
    },
    /// Release every hold whose time is up at `now`.
    ExpireHolds,
    CloseSales,
}

/// Take seats for every passenger, or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSeats {
    /// Chosen by the caller's wrapper, so decide stays deterministic.
    pub order_id: OrderId,
    /// Client's idempotency key, unique per user.
    pub request_id: String,
    pub user_id: String,
    pub from: usize,
    pub to: usize,
    pub passengers: Vec<PassengerRequest>,
    /// How long the hold lasts unpaid.
    pub hold_ttl_ms: u64,
    /// How to rank free seats; configuration, carried in so decide stays pure.
    pub policy: AllocationPolicy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassengerRequest {
    pub name: String,
    pub id_number: String,
    pub class: SeatClass,
    pub choice: SeatChoice,
}

/// What a passenger asked for beyond the class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatChoice {
    /// Any seat of the class; groups are seated together where possible.
    Any,
    /// One exact seat, as picked from a seat map; taken means rejected.
    Exact { carriage: u8, seat_code: String },
    /// 12306-style choice (选座): a letter in row 1 or 2, relative to the
    /// order's first pick, all picks in one carriage. Met where possible.
    Pick { letter: char, row: u8 },
}
