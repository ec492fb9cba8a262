//! Commands a train-date decides on, one file of logic each under `decide/`.

use super::allocation_policy::AllocationPolicy;
use super::order::OrderId;
use super::seat_class::SeatClass;
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
    /// Whose order it is: the key of idempotency together with `request_id`.
    pub user_id: String,
    /// Index of the boarding stop.
    pub from: usize,
    /// Index of the alighting stop; greater than `from`.
    pub to: usize,
    /// One to `PASSENGERS_PER_ORDER_MAX`, all seated or none.
    pub passengers: Vec<PassengerRequest>,
    /// How long the hold lasts unpaid.
    pub hold_ttl_ms: u64,
    /// How to rank free seats; configuration, carried in so decide stays pure.
    pub policy: AllocationPolicy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassengerRequest {
    pub name: String,
    /// The passenger-overlap rule is per ID number.
    pub id_number: String,
    pub class: SeatClass,
    /// Any seat, an exact seat, or a 选座 pick.
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
