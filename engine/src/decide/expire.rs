use super::serve::{Released, serve_queue};
use crate::domain::event::Event;
use crate::domain::state::TrainDateState;

/// Most holds one expiry command releases. Bounds the time one message keeps
/// the actor from bookings; the rest go at the next sweep, moments later.
pub const EXPIRIES_PER_COMMAND_MAX: usize = 1024;

/// Releases holds whose time is up, oldest first; the seats freed serve the
/// waitlist in the same decision.
pub fn decide_expire(state: &TrainDateState, now_ms: u64) -> Vec<Event> {
    let due = state
        .hold_expiries
        .iter()
        .take_while(|(expires_at_ms, _)| *expires_at_ms <= now_ms)
        .take(EXPIRIES_PER_COMMAND_MAX)
        .map(|(_, order_id)| order_id);
    let mut events: Vec<Event> =
        due.clone().map(|order_id| Event::HoldExpired { order_id: *order_id, at_ms: now_ms }).collect();
    if state.waitlist.has_waiting() && !events.is_empty() {
        let released: Vec<Released> = due.map(|order_id| Released::of(&state.orders[order_id])).collect();
        events.extend(serve_queue(state, &released, now_ms));
    }
    events
}
