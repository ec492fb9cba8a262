use super::waitlist::close_waitlist;
use crate::domain::event::Event;
use crate::domain::state::{SalesStatus, TrainDateState};

/// Stops new holds and ends every waiting waitlist choice. Existing holds
/// may still be paid or cancelled; reserved choices still finish their grant.
pub fn decide_close(state: &TrainDateState, now_ms: u64) -> Vec<Event> {
    match state.sales {
        SalesStatus::Open => {
            let mut events = vec![Event::SalesClosed { at_ms: now_ms }];
            events.extend(close_waitlist(state, now_ms));
            events
        }
        SalesStatus::Closed { .. } => Vec::new(),
    }
}
