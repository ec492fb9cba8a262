use crate::domain::event::Event;
use crate::domain::state::TrainDateState;

/// Most holds one expiry command releases. Bounds the time one message keeps
/// the actor from bookings; the rest go at the next sweep, moments later.
pub const EXPIRIES_PER_COMMAND_MAX: usize = 1024;

/// Releases holds whose time is up, oldest first.
pub fn decide_expire(state: &TrainDateState, now_ms: u64) -> Vec<Event> {
    state
        .hold_expiries
        .iter()
        .take_while(|(expires_at_ms, _)| *expires_at_ms <= now_ms)
        .take(EXPIRIES_PER_COMMAND_MAX)
        .map(|(_, order_id)| Event::HoldExpired { order_id: *order_id, at_ms: now_ms })
        .collect()
}
