use crate::domain::event::Event;
use crate::domain::state::{SalesStatus, TrainDateState};

/// Stops new holds. Existing holds may still be paid or cancelled.
pub fn decide_close(state: &TrainDateState, now_ms: u64) -> Vec<Event> {
    match state.sales {
        SalesStatus::Open => vec![Event::SalesClosed { at_ms: now_ms }],
        SalesStatus::Closed { .. } => Vec::new(),
    }
}
