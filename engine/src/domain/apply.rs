//! `apply`: folds one event into the state. No decisions here; the live actor
//! and journal replay both come through this one function.

use super::event::{Event, EventRecord, SeatsHeld};
use super::order::{Order, OrderId, OrderStatus};
use super::state::{PassengerJourney, SalesStatus, StateMap, TrainDateState};
use super::{apply_change, apply_waitlist};

/// Applies `record` to `state`.
///
/// Panics if the record is out of sequence or contradicts the state: a stream
/// that does either is corrupt, and carrying on would sell seats twice.
pub fn apply(state: &mut TrainDateState, record: &EventRecord) {
    assert_eq!(record.seq, state.last_seq + 1, "{}: event seq {} out of order", state.key, record.seq);
    match &record.event {
        Event::SeatsHeld(held) => apply_seats_held(state, held),
        Event::OrderConfirmed { order_id, at_ms } => confirm(state, order_id, *at_ms),
        Event::HoldCancelled { order_id, at_ms } => release(state, order_id, *at_ms, OrderStatus::Cancelled),
        Event::TicketsRefunded { order_id, at_ms, fee_fen } => {
            release(state, order_id, *at_ms, OrderStatus::Refunded);
            state.orders.get_mut(order_id).expect("refunded order exists").refund_fee_fen = *fee_fen;
        }
        Event::HoldExpired { order_id, at_ms } => release(state, order_id, *at_ms, OrderStatus::Expired),
        Event::SalesClosed { at_ms } => state.sales = SalesStatus::Closed { at_ms: *at_ms },
        Event::WaitlistJoined(choice) => apply_waitlist::joined(state, choice),
        Event::WaitlistSeatsReserved { choice, tickets, .. } => apply_waitlist::reserved(state, choice, tickets),
        Event::WaitlistFulfilled { choice, at_ms } => apply_waitlist::fulfilled(state, choice, *at_ms),
        Event::WaitlistLeft { choice, end, .. } => apply_waitlist::left(state, choice, *end),
        Event::ChangeStarted(change) => apply_change::started(state, change),
        Event::ChangeSeatsTaken(incoming) => apply_change::seats_taken(state, incoming),
        Event::ChangeCommitted { change_id, settlement, at_ms } => {
            apply_change::committed(state, change_id, *settlement, *at_ms)
        }
        Event::ChangeAborted { change_id, at_ms } => apply_change::aborted(state, change_id, *at_ms),
        Event::ChangeSeatsReleased { change_id, .. } => apply_change::seats_released(state, change_id),
        Event::ChangeCompleted { change_id, at_ms } => apply_change::completed(state, change_id, *at_ms),
        Event::TicketsChangedInPlace(change) => apply_change::changed_in_place(state, change),
        Event::WaitlistRequest { request_id, event } => {
            let mut record = state.take_request(request_id);
            crate::workflow::request::apply_request(&mut record, event);
            state.put_request(record.expect("a request record after its event"));
        }
    }
    state.last_seq = record.seq;
}

fn apply_seats_held(state: &mut TrainDateState, held: &SeatsHeld) {
    let (from, to) = (usize::from(held.from), usize::from(held.to));
    for ticket in &held.tickets {
        state.inventory.take(ticket.seat, from, to);
        state.passenger_journeys.entry(ticket.id_number.clone()).or_default().push(PassengerJourney {
            order_id: held.order_id,
            from: held.from,
            to: held.to,
        });
    }
    let order = Order {
        id: held.order_id,
        user_id: held.user_id.clone(),
        request_id: held.request_id.clone(),
        from: held.from,
        to: held.to,
        tickets: held.tickets.clone(),
        status: OrderStatus::Held,
        held_at_ms: held.held_at_ms,
        expires_at_ms: held.expires_at_ms,
        updated_at_ms: held.held_at_ms,
        refund_fee_fen: 0,
        change: Default::default(),
    };
    let previous_request = state.requests.insert((held.user_id.clone(), held.request_id.clone()), held.order_id);
    assert!(previous_request.is_none(), "request {} applied twice", held.request_id);
    assert!(state.hold_expiries.insert((held.expires_at_ms, held.order_id)));
    state.totals.held_orders += 1;
    state.totals.held_tickets += held.tickets.len() as u32;
    let previous = state.orders.insert(held.order_id, order);
    assert!(previous.is_none(), "order {} held twice", held.order_id);
}

fn confirm(state: &mut TrainDateState, order_id: &OrderId, at_ms: u64) {
    let order = state.orders.get_mut(order_id).expect("confirmed order exists");
    assert_eq!(order.status, OrderStatus::Held, "only a held order can be confirmed");
    order.status = OrderStatus::Confirmed;
    order.updated_at_ms = at_ms;
    assert!(state.hold_expiries.remove(&(order.expires_at_ms, order.id)));
    let tickets = order.tickets.len() as u32;
    state.totals.held_orders -= 1;
    state.totals.held_tickets -= tickets;
    state.totals.sold_tickets += tickets;
}

/// Returns the order's seats and ends it in `outcome`.
pub(super) fn release(state: &mut TrainDateState, order_id: &OrderId, at_ms: u64, outcome: OrderStatus) {
    let order = state.orders.get_mut(order_id).expect("released order exists");
    let was = order.status;
    let expected_before = if outcome == OrderStatus::Refunded { OrderStatus::Confirmed } else { OrderStatus::Held };
    assert_eq!(was, expected_before, "{outcome:?} needs a {expected_before:?} order");
    order.status = outcome;
    order.updated_at_ms = at_ms;
    let (from, to) = order.journey();
    let tickets = order.tickets.len() as u32;
    for ticket in &order.tickets {
        state.inventory.release(ticket.seat, from, to);
        forget_journey(&mut state.passenger_journeys, &ticket.id_number, order_id);
    }
    if was == OrderStatus::Held {
        assert!(state.hold_expiries.remove(&(order.expires_at_ms, order.id)));
        state.totals.held_orders -= 1;
        state.totals.held_tickets -= tickets;
    } else {
        state.totals.sold_tickets -= tickets;
    }
}

/// Drops `order_id`'s journey from the passenger's overlap index.
pub(super) fn forget_journey(index: &mut StateMap<String, Vec<PassengerJourney>>, id_number: &str, order_id: &OrderId) {
    let journeys = index.get_mut(id_number).expect("passenger journey indexed");
    journeys.retain(|journey| journey.order_id != *order_id);
    if journeys.is_empty() {
        index.remove(id_number);
    }
}

/// Takes `tickets`' seats for `from..to` and indexes them under `order_id`.
pub(super) fn remember_journeys(
    state: &mut TrainDateState,
    order_id: OrderId,
    from: u8,
    to: u8,
    tickets: &[super::order::Ticket],
) {
    for ticket in tickets {
        state.inventory.take(ticket.seat, usize::from(from), usize::from(to));
        let journey = PassengerJourney { order_id, from, to };
        state.passenger_journeys.entry(ticket.id_number.clone()).or_default().push(journey);
    }
}
