//! Read models the actor answers with: self-contained, so callers need no plan.

use crate::domain::order::Order;
use crate::domain::seat_class::SeatClass;
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::domain::timetable::StationCode;

/// An order with everything a ticket shows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderSnapshot {
    pub key: TrainDateKey,
    /// The order as the actor holds it, tickets in passenger order.
    pub order: Order,
    pub from_station: StationCode,
    pub to_station: StationCode,
    /// Unix ms the train leaves the boarding station.
    pub depart_at_ms: u64,
    /// Unix ms the train reaches the alighting station.
    pub arrive_at_ms: u64,
    /// Carriage number and `12F`-style seat code of each ticket, in ticket order.
    pub seats: Vec<(u8, String)>,
}

impl OrderSnapshot {
    pub fn of(state: &TrainDateState, order: &Order) -> Self {
        let (from, to) = order.journey();
        let stops = &state.plan.template.stops;
        let arrive_minutes = stops[to].arrive_minutes.unwrap_or_else(|| stops[to].time_minutes());
        OrderSnapshot {
            key: state.key.clone(),
            order: order.clone(),
            from_station: stops[from].station.clone(),
            to_station: stops[to].station.clone(),
            depart_at_ms: state.departure_ms(from),
            arrive_at_ms: state.service_day_start_ms + u64::from(arrive_minutes) * 60_000,
            seats: order
                .tickets
                .iter()
                .map(|ticket| (state.plan.position(ticket.seat).carriage, state.plan.seat_code(ticket.seat)))
                .collect(),
        }
    }
}

/// One carriage's seats for one journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatMap {
    pub carriage: u8,
    pub class: SeatClass,
    /// Column letters left to right, as printed on the carriage.
    pub letters: String,
    /// Row-major: `free[(row - 1) * letters + letter]`.
    pub free: Vec<bool>,
    /// Rows in the carriage, numbered from 1.
    pub rows: u16,
}
