use super::serve::{Released, serve_queue};
use crate::domain::event::Event;
use crate::domain::order::{Order, OrderId, OrderStatus};
use crate::domain::rejection::Rejection;
use crate::domain::state::TrainDateState;

/// Releases a hold, or refunds a paid order until the train leaves the
/// passenger's boarding station, less the refund tier fee. The seats freed
/// serve the waitlist in the same decision. An order already ended changes nothing.
pub fn decide_cancel(
    state: &TrainDateState,
    order_id: &OrderId,
    user_id: Option<&str>,
    now_ms: u64,
) -> Result<Vec<Event>, Rejection> {
    let order = super::owned_order(state, order_id, user_id)?;
    let mut events = decide_release(state, order, now_ms)?;
    if !events.is_empty() {
        events.extend(serve_queue(state, &[Released::of(order)], now_ms));
    }
    Ok(events)
}

fn decide_release(state: &TrainDateState, order: &Order, now_ms: u64) -> Result<Vec<Event>, Rejection> {
    let order_id = &order.id;
    match order.status {
        // The sweep may not have run yet; a lapsed hold is recorded as expired.
        OrderStatus::Held if now_ms >= order.expires_at_ms => {
            Ok(vec![Event::HoldExpired { order_id: *order_id, at_ms: now_ms }])
        }
        OrderStatus::Held => Ok(vec![Event::HoldCancelled { order_id: *order_id, at_ms: now_ms }]),
        OrderStatus::Confirmed if now_ms >= state.departure_ms(usize::from(order.from)) => Err(Rejection::Departed),
        OrderStatus::Confirmed => {
            let departure_ms = state.departure_ms(usize::from(order.from));
            let fee_fen = state.rules.refund_fees.fee_fen(order.total_fare_fen(), departure_ms, now_ms);
            let refunded = Event::TicketsRefunded { order_id: *order_id, at_ms: now_ms, fee_fen };
            // A refund wins over a change not yet committed, which aborts.
            Ok(match order.change.changing {
                Some(change_id) => vec![Event::ChangeAborted { change_id, at_ms: now_ms }, refunded],
                None => vec![refunded],
            })
        }
        OrderStatus::Cancelled | OrderStatus::Refunded | OrderStatus::Expired => Ok(Vec::new()),
    }
}
