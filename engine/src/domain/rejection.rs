//! Business rejections: values with reasons. A hold checks, in order: a
//! repeated request id, the order's shape, sales, passenger overlap, remaining
//! counts, then seat choices.

use super::order::{OrderId, OrderStatus};
use super::seat_class::SeatClass;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a command changed nothing. Each maps to one gRPC status in the API.
#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    #[error("passengers: an order needs 1 to {max} passengers, got {count}")]
    PassengerCount { count: usize, max: usize },
    #[error("journey: {reason}")]
    InvalidJourney { reason: String },
    #[error("passengers[{passenger}].id_number: the same passenger appears twice on the order")]
    DuplicatePassenger { passenger: usize },
    #[error("passengers[{passenger}].seat_class: this train has no {class} seats")]
    ClassNotOnTrain { passenger: usize, class: SeatClass },
    #[error("passengers[{passenger}].seat: {reason}")]
    InvalidSeatChoice { passenger: usize, reason: String },
    #[error("request_id {request_id:?} was already used by this user for a different hold")]
    RequestIdReused { request_id: String },
    #[error("sales are closed for this train-date")]
    SalesClosed,
    #[error("the train has already left the boarding station; sales closed at departure")]
    Departed,
    #[error("passengers[{passenger}]: already holds order {order_id} on this train with an overlapping journey")]
    PassengerOverlap { passenger: usize, order_id: OrderId },
    #[error("passengers[{passenger}].seat: seat {seat} in carriage {carriage:02} is taken for this journey")]
    SeatTaken { passenger: usize, carriage: u8, seat: String },
    #[error(
        "sold out: {requested} {class} seat(s) wanted, {remaining} left for this journey{}",
        if *segments_free { " (every segment has enough free seats, but not on the same seats)" } else { "" }
    )]
    SoldOut {
        class: SeatClass,
        requested: u32,
        remaining: u32,
        /// Every segment of the journey, taken alone, still had `requested`
        /// seats of the class free: the seat-km were there, but chopped into
        /// gaps on different seats (fragmentation). Allocation policy is
        /// judged by how often this happens, so refusals report it.
        segments_free: bool,
    },
    #[error("order {order_id} not found")]
    OrderNotFound { order_id: OrderId },
    #[error("order {order_id} is {status:?} and can no longer be confirmed")]
    NotConfirmable { order_id: OrderId, status: OrderStatus },
    #[error("order {order_id}'s hold expired before payment")]
    HoldExpired { order_id: OrderId },
}

impl Rejection {
    /// SoldOut for `requested` seats of `class` over `from..to`, where
    /// `remaining(a, b)` is the free count of journey `a..b` in that class.
    pub fn sold_out(
        class: SeatClass,
        requested: u32,
        from: usize,
        to: usize,
        remaining: impl Fn(usize, usize) -> u32,
    ) -> Rejection {
        let segments_free = (from..to).all(|segment| remaining(segment, segment + 1) >= requested);
        Rejection::SoldOut { class, requested, remaining: remaining(from, to), segments_free }
    }

    /// A stable machine-readable reason, carried in the gRPC error details.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Rejection::PassengerCount { .. } => "PASSENGER_COUNT",
            Rejection::InvalidJourney { .. } => "INVALID_JOURNEY",
            Rejection::DuplicatePassenger { .. } => "DUPLICATE_PASSENGER",
            Rejection::ClassNotOnTrain { .. } => "CLASS_NOT_ON_TRAIN",
            Rejection::InvalidSeatChoice { .. } => "INVALID_SEAT_CHOICE",
            Rejection::RequestIdReused { .. } => "REQUEST_ID_REUSED",
            Rejection::SalesClosed => "SALES_CLOSED",
            Rejection::Departed => "DEPARTED",
            Rejection::PassengerOverlap { .. } => "PASSENGER_OVERLAP",
            Rejection::SeatTaken { .. } => "SEAT_TAKEN",
            Rejection::SoldOut { .. } => "SOLD_OUT",
            Rejection::OrderNotFound { .. } => "ORDER_NOT_FOUND",
            Rejection::NotConfirmable { .. } => "NOT_CONFIRMABLE",
            Rejection::HoldExpired { .. } => "HOLD_EXPIRED",
        }
    }
}
