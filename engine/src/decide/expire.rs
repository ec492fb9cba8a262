use super::serve::{Released, serve_queue};
use crate::domain::event::Event;
use crate::domain::state::TrainDateState;

/// Most holds one expiry command releases. Bounds the time one message keeps
/// the actor from bookings; the rest go at the next sweep, moments later.
pub const EXPIRIES_PER_COMMAND_MAX: usize = 1024;

/// Releases holds whose time is up, oldest first; the seats freed serve the
/// waitlist in the same decision.
pub fn decide_expire(state: &TrainDateState, now_ms: u64) -> Vec<Event> {
    let expired: Vec<_> = state
        .hold_expiries
        .iter()
        .take_while(|(expires_at_ms, _)| *expires_at_ms <= now_ms)
        .take(EXPIRIES_PER_COMMAND_MAX)
        .map(|(_, order_id)| &state.orders[order_id])
        .collect();
    let mut events: Vec<Event> =
        expired.iter().map(|order| Event::HoldExpired { order_id: order.id, at_ms: now_ms }).collect();
    if state.waitlist.has_waiting() && !expired.is_empty() {
        let released: Vec<Released> = expired
            .iter()
            .map(|order| Released {
                order_id: order.id,
                from: usize::from(order.from),
                to: usize::from(order.to),
                tickets: &order.tickets,
            })
            .collect();
        events.extend(serve_queue(state, &released, now_ms));
    }
    events
}
