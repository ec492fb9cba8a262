//! Requests, outcomes and errors shared by every target (both baselines and
//! the in-process engine) and the load driver, so the driver treats them alike.

use engine::domain::command::PASSENGERS_PER_ORDER_MAX;
use engine::domain::seat_class::SeatClass;
use serde::Serialize;

/// One passenger on a hold; both baselines store these on the tickets, as the
/// engine does, so no baseline saves work by dropping them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Passenger {
    /// Name printed on the ticket.
    pub name: String,
    /// 18-character resident ID number.
    pub id_number: String,
}

/// Take one seat of `class` for every passenger on `from..to`, or nothing.
///
/// Seat picks (选座) and group adjacency are not modelled: both baselines
/// seat a group first-fit, as the brief allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRequest {
    /// The train-date's key, as given to `open_train_date`.
    pub train_date: String,
    /// Boarding stop index.
    pub from: usize,
    /// Alighting stop index, greater than `from`.
    pub to: usize,
    /// Every passenger's class (a Demand order has one class for all).
    pub class: SeatClass,
    /// One to five passengers.
    pub passengers: Vec<Passenger>,
    /// Who books; with `request_id` the idempotency key.
    pub user_id: String,
    /// The client's idempotency key, unique per user and train-date.
    pub request_id: String,
}

impl HoldRequest {
    /// Rejects requests no baseline should see, before any database work.
    pub fn validate(&self, stop_count: usize) -> Result<(), BaselineError> {
        let passengers = self.passengers.len();
        if !(1..=PASSENGERS_PER_ORDER_MAX).contains(&passengers) {
            return Err(BaselineError::Invalid(format!("{passengers} passengers; 1 to {PASSENGERS_PER_ORDER_MAX}")));
        }
        if self.from >= self.to || self.to >= stop_count {
            return Err(BaselineError::Invalid(format!("journey {}..{} on {stop_count} stops", self.from, self.to)));
        }
        Ok(())
    }
}

/// What a hold did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Seats taken and the order recorded; `seats` are seat ids, one per
    /// passenger in order.
    Held {
        /// The new order, unique within its train-date.
        order_id: u64,
        /// Seat ids, one per passenger.
        seats: Vec<u32>,
    },
    /// The same (user, request id) was held before; nothing new was taken.
    Duplicate {
        /// The order the first request made.
        order_id: u64,
    },
    /// Fewer seats of the class are free for the journey than passengers.
    SoldOut,
    /// Another business rule said no and nothing was taken; `reason` is the
    /// rule's stable code. Only the engine has such rules (one passenger may
    /// not hold two overlapping journeys on a train-date, for one); the
    /// database baselines never answer this.
    Refused {
        /// Such as `PASSENGER_OVERLAP`.
        reason: String,
    },
}

/// What a cancel did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The order's segments were released and the counts given back.
    Cancelled,
    /// Cancelled before; nothing changed (a retried cancel is harmless).
    AlreadyCancelled,
    /// No such order on that train-date.
    NotFound,
}

/// What a confirm (payment) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// A held order is now confirmed.
    Confirmed,
    /// The order is confirmed or cancelled already.
    NotHeld,
    /// No such order on that train-date.
    NotFound,
}

/// An order's state, stored as a small integer in both baselines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Seats taken, not yet paid.
    Held = 1,
    /// Paid; seats still taken.
    Confirmed = 2,
    /// Seats released.
    Cancelled = 3,
}

impl OrderStatus {
    /// The stored code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status a stored code names.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(OrderStatus::Held),
            2 => Some(OrderStatus::Confirmed),
            3 => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }

    /// Whether the order's tickets still occupy their seats.
    pub fn holds_seats(self) -> bool {
        self != OrderStatus::Cancelled
    }
}

/// An order the driver was told succeeded, and the state it was last told,
/// so the audit can check that every acknowledged write is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckedOrder {
    /// The order's train-date.
    pub train_date: String,
    /// The order id the baseline returned.
    pub order_id: u64,
    /// The last acknowledged state.
    pub status: OrderStatus,
}

/// Why a baseline call failed (as opposed to refusing, which is an outcome).
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// A MySQL error that retries did not clear.
    #[error("mysql: {0}")]
    Mysql(#[from] sqlx::Error),
    /// A Redis or Lua error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Stored state contradicts itself (a count says free, no seat is): a bug.
    #[error("inventory drift: {0}")]
    Drift(String),
    /// The train-date was never opened.
    #[error("unknown train-date {0}")]
    UnknownTrainDate(String),
    /// The request is malformed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The in-process engine (or its journal) failed: overloaded, unavailable,
    /// not started, or an order it should have was missing.
    #[error("engine: {0}")]
    Engine(String),
}
