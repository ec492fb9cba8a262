//! `apply` for the ticket-change events. Seats taken for a pending change
//! are indexed for the overlap rule under the new order's id, as a hold's are.

use super::apply::{forget_journey, release, remember_journeys};
use super::change::{
    ChangeId, ChangeOutcome, ChangeSettlement, InPlaceChange, IncomingChange, IncomingStatus, OutgoingChange,
};
use super::order::{Order, OrderStatus, Ticket};
use super::state::TrainDateState;

pub(super) fn started(state: &mut TrainDateState, change: &OutgoingChange) {
    let order = state.orders.get_mut(&change.order_id).expect("changed order exists");
    assert_eq!(order.status, OrderStatus::Confirmed, "only a confirmed order changes");
    assert!(order.change.changing.is_none(), "order {} changes twice at once", order.id);
    order.change.changing = Some(change.change_id);
    let previous = state.changes.outgoing.insert(change.change_id, change.clone());
    assert!(previous.is_none(), "change {} started twice", change.change_id);
}

pub(super) fn committed(state: &mut TrainDateState, change_id: &ChangeId, settlement: ChangeSettlement, at_ms: u64) {
    let change = state.changes.outgoing.get_mut(change_id).expect("committed change started");
    assert!(change.outcome.is_none(), "change {change_id} ended twice");
    change.outcome = Some(ChangeOutcome::Committed { settlement, at_ms });
    let (order_id, new_order_id) = (change.order_id, change.target.new_order_id);
    release(state, &order_id, at_ms, OrderStatus::Refunded);
    let order = state.orders.get_mut(&order_id).expect("changed order exists");
    order.change.changing = None;
    order.change.changed_to = Some(new_order_id);
}

pub(super) fn aborted(state: &mut TrainDateState, change_id: &ChangeId, at_ms: u64) {
    let change = state.changes.outgoing.get_mut(change_id).expect("aborted change started");
    assert!(change.outcome.is_none(), "change {change_id} ended twice");
    change.outcome = Some(ChangeOutcome::Aborted { at_ms });
    let order = state.orders.get_mut(&change.order_id).expect("changed order exists");
    order.change.changing = None;
}

pub(super) fn seats_taken(state: &mut TrainDateState, incoming: &IncomingChange) {
    assert_eq!(incoming.status, IncomingStatus::Pending, "change seats are taken pending");
    assert!(
        !state.changes.abandoned.contains(&incoming.change_id),
        "abandoned change {} took seats",
        incoming.change_id
    );
    remember_journeys(state, incoming.new_order_id, incoming.from, incoming.to, &incoming.tickets);
    let previous = state.changes.incoming.insert(incoming.change_id, incoming.clone());
    assert!(previous.is_none(), "change {} took seats twice", incoming.change_id);
}

pub(super) fn seats_released(state: &mut TrainDateState, change_id: &ChangeId) {
    let Some(incoming) = state.changes.incoming.get_mut(change_id) else {
        assert!(state.changes.abandoned.insert(*change_id), "change {change_id} abandoned twice");
        return;
    };
    assert_eq!(incoming.status, IncomingStatus::Pending, "only pending change seats are released");
    incoming.status = IncomingStatus::Released;
    let (from, to) = (usize::from(incoming.from), usize::from(incoming.to));
    for ticket in &incoming.tickets {
        state.inventory.release(ticket.seat, from, to);
        forget_journey(&mut state.passenger_journeys, &ticket.id_number, &incoming.new_order_id);
    }
}

pub(super) fn completed(state: &mut TrainDateState, change_id: &ChangeId, at_ms: u64) {
    let incoming = state.changes.incoming.get_mut(change_id).expect("completed change took seats");
    assert_eq!(incoming.status, IncomingStatus::Pending, "only pending change seats complete");
    incoming.status = IncomingStatus::Completed;
    let incoming = incoming.clone();
    let mut order = confirmed_order(
        &incoming.user_id,
        incoming.new_order_id,
        format!("change:{change_id}"),
        incoming.from,
        incoming.to,
        incoming.tickets,
        at_ms,
    );
    order.change.changes = incoming.changes;
    insert_order(state, order);
}

pub(super) fn changed_in_place(state: &mut TrainDateState, change: &InPlaceChange) {
    release(state, &change.order_id, change.at_ms, OrderStatus::Refunded);
    let old = state.orders.get_mut(&change.order_id).expect("changed order exists");
    old.change.changed_to = Some(change.new_order_id);
    let (user_id, prior_changes, old_journey) = (old.user_id.clone(), old.change.changes, (old.from, old.to));
    remember_journeys(state, change.new_order_id, change.from, change.to, &change.tickets);
    let mut order = confirmed_order(
        &user_id,
        change.new_order_id,
        format!("change:{}", change.change_id),
        change.from,
        change.to,
        change.tickets.clone(),
        change.at_ms,
    );
    order.change.changes = prior_changes + 1;
    order.change.destination_changed = old_journey != (change.from, change.to);
    insert_order(state, order);
}

/// A paid order taken at `at_ms` without a hold before it: the order a
/// change moves into, or a fulfilled waitlist choice.
pub(super) fn confirmed_order(
    user_id: &str,
    id: super::order::OrderId,
    request_id: String,
    from: u8,
    to: u8,
    tickets: Vec<Ticket>,
    at_ms: u64,
) -> Order {
    Order {
        id,
        user_id: user_id.to_owned(),
        request_id,
        from,
        to,
        tickets,
        status: OrderStatus::Confirmed,
        held_at_ms: at_ms,
        expires_at_ms: at_ms,
        updated_at_ms: at_ms,
        refund_fee_fen: 0,
        change: Default::default(),
    }
}

/// Adds a `confirmed_order` to the train-date's orders, its tickets to the
/// sold count, and its idempotency key.
pub(super) fn insert_order(state: &mut TrainDateState, order: Order) {
    state.totals.sold_tickets += order.tickets.len() as u32;
    let previous_request = state.requests.insert((order.user_id.clone(), order.request_id.clone()), order.id);
    assert!(previous_request.is_none(), "{} applied twice", order.request_id);
    let order_id = order.id;
    let previous = state.orders.insert(order_id, order);
    assert!(previous.is_none(), "order {order_id} exists twice");
}
