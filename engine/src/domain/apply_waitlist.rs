//! `apply` for the waitlist events: reserved seats are taken in the
//! inventory and indexed for the passenger-overlap rule under the order id
//! the choice will become, so holds and later choices see them.

use super::apply_change::{confirmed_order, insert_order};
use super::order::Ticket;
use super::state::TrainDateState;
use super::waitlist::{ChoiceEnd, ChoiceRef, WaitingChoice};

pub(super) fn joined(state: &mut TrainDateState, choice: &WaitingChoice) {
    assert!(choice.reserved.is_none(), "choice {} joins waiting", choice.position.choice);
    state.waitlist.insert(choice.clone());
}

pub(super) fn reserved(state: &mut TrainDateState, choice: &ChoiceRef, tickets: &[Ticket]) {
    let entry = state.waitlist.reserve(choice, tickets.to_vec());
    let (from, to, order_id) = (entry.from, entry.to, entry.order_id);
    super::apply::remember_journeys(state, order_id, from, to, tickets);
}

pub(super) fn fulfilled(state: &mut TrainDateState, choice: &ChoiceRef, at_ms: u64) {
    let order_id = state.waitlist.choice(choice).expect("fulfilled choice is queued").order_id;
    let entry = state.waitlist.remove(choice, ChoiceEnd::Fulfilled { order_id });
    let tickets = entry.reserved.clone().expect("only a reserved choice is fulfilled");
    let order =
        confirmed_order(&entry.user_id, entry.order_id, entry.order_request_id(), entry.from, entry.to, tickets, at_ms);
    insert_order(state, order);
}

pub(super) fn left(state: &mut TrainDateState, choice: &ChoiceRef, end: ChoiceEnd) {
    if state.waitlist.choice(choice).is_none() {
        // Left before it joined (a withdrawal overtook the join): remembered
        // so the join is ignored when it comes.
        assert!(state.waitlist.ended(choice).is_none(), "choice {choice} left twice");
        state.waitlist.restore_ended(*choice, end);
        return;
    }
    let entry = state.waitlist.remove(choice, end);
    let Some(tickets) = &entry.reserved else { return };
    let (from, to) = entry.journey();
    for ticket in tickets {
        state.inventory.release(ticket.seat, from, to);
        super::apply::forget_journey(&mut state.passenger_journeys, &ticket.id_number, &entry.order_id);
    }
}
