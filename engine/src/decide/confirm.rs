use crate::domain::event::Event;
use crate::domain::order::{OrderId, OrderStatus};
use crate::domain::rejection::Rejection;
use crate::domain::state::TrainDateState;

/// Pays a held order. Confirming a confirmed order again changes nothing.
pub fn decide_confirm(
    state: &TrainDateState,
    order_id: &OrderId,
    user_id: Option<&str>,
    now_ms: u64,
) -> Result<Vec<Event>, Rejection> {
    let order = super::owned_order(state, order_id, user_id)?;
    match order.status {
        OrderStatus::Confirmed => Ok(Vec::new()),
        // The sweep may not have run yet; the hold is over all the same.
        OrderStatus::Held if now_ms >= order.expires_at_ms => Err(Rejection::HoldExpired { order_id: *order_id }),
        OrderStatus::Held => Ok(vec![Event::OrderConfirmed { order_id: *order_id, at_ms: now_ms }]),
        OrderStatus::Expired => Err(Rejection::HoldExpired { order_id: *order_id }),
        status => Err(Rejection::NotConfirmable { order_id: *order_id, status }),
    }
}
