//! Ticket change (改签) steps on one train-date. Across train-dates: (a)
//! start on the old one, (b) take seats on the new one, (c) commit on the
//! old one (the commit point), (d) complete on the new one; an abort undoes
//! (b) then (a). Within one train-date, one decision. See `crate::workflow`.
//!
//! A refund of a changing order is not refused: the old train-date decides
//! both, so the refund aborts the change in the same decision (the change
//! has not committed, or the order would no longer be refundable), and the
//! commit that follows is refused, so the new seats are released.

use super::serve::{Released, Seating, serve_queue};
use crate::domain::change::{
    ChangeId, ChangeOutcome, ChangeSettlement, InPlaceChange, IncomingChange, IncomingStatus, OutgoingChange,
};
use crate::domain::event::Event;
use crate::domain::order::{Order, OrderStatus};
use crate::domain::rejection::Rejection;
use crate::domain::state::{SalesStatus, TrainDateState};
use crate::domain::waitlist::WaitlistPassenger;
use crate::domain::workflow::{ChangeInPlace, StartChange, TakeChangeSeats, WorkflowRejection};

/// (a): checks the change rules on the old order and fixes the fee.
pub fn decide_start(state: &TrainDateState, start: &StartChange, now_ms: u64) -> Result<Vec<Event>, WorkflowRejection> {
    if state.changes.outgoing.contains_key(&start.change_id) {
        return Ok(Vec::new());
    }
    let order = super::owned_order(state, &start.order_id, start.user_id.as_deref())?;
    check_changeable(state, order, start.target.train_date.date, now_ms)?;
    if start.target.train_date == state.key {
        return Err(WorkflowRejection::UseChangeInPlace);
    }
    let (from, to) = order.journey();
    let old_fare_fen = order.total_fare_fen();
    let departure_ms = state.departure_ms(from);
    let settings = &state.rules.change;
    let fee_fen = settings.fee_fen(old_fare_fen, departure_ms, state.key.date, start.target.train_date.date, now_ms);
    Ok(vec![Event::ChangeStarted(OutgoingChange {
        change_id: start.change_id,
        order_id: order.id,
        user_id: order.user_id.clone(),
        passengers: passengers_of(order),
        from_station: state.stop_station(from).clone(),
        to_station: state.stop_station(to).clone(),
        old_fare_fen,
        fee_fen,
        prior_changes: order.change.changes,
        target: start.target.clone(),
        started_at_ms: now_ms,
        outcome: None,
    })])
}

/// The rules on the old order, for both kinds of change.
fn check_changeable(
    state: &TrainDateState,
    order: &Order,
    target_date: chrono::NaiveDate,
    now_ms: u64,
) -> Result<(), WorkflowRejection> {
    let settings = &state.rules.change;
    if order.status != OrderStatus::Confirmed {
        return Err(WorkflowRejection::NotChangeable { order_id: order.id, status: order.status });
    }
    if let Some(change_id) = order.change.changing {
        return Err(WorkflowRejection::ChangeInFlight { order_id: order.id, change_id });
    }
    if order.change.changes >= settings.changes_per_ticket_max {
        let max = settings.changes_per_ticket_max;
        return Err(WorkflowRejection::ChangeLimit { order_id: order.id, changes: order.change.changes, max });
    }
    if order.change.destination_changed && !settings.change_after_destination_change {
        return Err(WorkflowRejection::DestinationChanged { order_id: order.id });
    }
    let departure_ms = state.departure_ms(usize::from(order.from));
    settings
        .check_window(departure_ms, target_date, now_ms)
        .map_err(|window| WorkflowRejection::ChangeWindow { window })
}

fn passengers_of(order: &Order) -> Vec<WaitlistPassenger> {
    order
        .tickets
        .iter()
        .map(|ticket| WaitlistPassenger { name: ticket.passenger_name.clone(), id_number: ticket.id_number.clone() })
        .collect()
}

/// (b): the new seats, by the rules of a hold (sales, departure, overlap,
/// counts, group seating), pending the outcome.
pub fn decide_take(
    state: &TrainDateState,
    take: &TakeChangeSeats,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    match state.changes.incoming.get(&take.change_id).map(|incoming| incoming.status) {
        Some(IncomingStatus::Pending | IncomingStatus::Completed) => return Ok(Vec::new()),
        Some(IncomingStatus::Released) => {
            return Err(WorkflowRejection::ChangeEnded { change_id: take.change_id, committed: false });
        }
        None if state.changes.abandoned.contains(&take.change_id) => {
            return Err(WorkflowRejection::ChangeEnded { change_id: take.change_id, committed: false });
        }
        None => {}
    }
    let stops = state.plan.stop_count();
    let stations_match = take.to < stops
        && state.stop_station(take.from) == &take.from_station
        && state.stop_station(take.to) == &take.to_station;
    if !stations_match {
        return Err(WorkflowRejection::StationsDiffer {
            from_station: take.from_station.clone(),
            to_station: take.to_station.clone(),
        });
    }
    let tickets = seat_new_tickets(
        &Seating::new(state),
        state,
        take.from,
        take.to,
        take.class,
        &take.passengers,
        take.policy,
        now_ms,
    )?;
    Ok(vec![Event::ChangeSeatsTaken(IncomingChange {
        change_id: take.change_id,
        source: take.source.clone(),
        source_order_id: take.source_order_id,
        new_order_id: take.new_order_id,
        user_id: take.user_id.clone(),
        from: take.from as u8,
        to: take.to as u8,
        tickets,
        changes: take.changes,
        status: IncomingStatus::Pending,
    })])
}

/// Seats for the new tickets on `seating`, or the hold rule that refuses them.
#[expect(clippy::too_many_arguments, reason = "one journey's fields, as a hold carries them")]
fn seat_new_tickets(
    seating: &Seating,
    state: &TrainDateState,
    from: usize,
    to: usize,
    class: crate::domain::seat_class::SeatClass,
    passengers: &[WaitlistPassenger],
    policy: crate::domain::allocation_policy::AllocationPolicy,
    now_ms: u64,
) -> Result<Vec<crate::domain::order::Ticket>, WorkflowRejection> {
    let stop_count = state.plan.stop_count();
    if from >= to || to >= stop_count {
        let reason =
            format!("boarding stop {from} must come before alighting stop {to} on a train of {stop_count} stops");
        return Err(Rejection::InvalidJourney { reason }.into());
    }
    if state.plan.class_slot(class).is_none() {
        return Err(Rejection::ClassNotOnTrain { passenger: 0, class }.into());
    }
    if let SalesStatus::Closed { .. } = state.sales {
        return Err(Rejection::SalesClosed.into());
    }
    if now_ms >= state.departure_ms(from) {
        return Err(Rejection::Departed.into());
    }
    for (index, passenger) in passengers.iter().enumerate() {
        if seating.overlaps(&passenger.id_number, from, to) {
            let order_id = state.passenger_journeys[&passenger.id_number]
                .iter()
                .find(|journey| usize::from(journey.from) < to && from < usize::from(journey.to))
                .map_or(crate::domain::order::OrderId(uuid::Uuid::nil()), |journey| journey.order_id);
            return Err(Rejection::PassengerOverlap { passenger: index, order_id }.into());
        }
    }
    let requested = passengers.len() as u32;
    if seating.remaining(class, from, to) < requested {
        let remaining = |a, b| seating.remaining(class, a, b);
        return Err(Rejection::sold_out(class, requested, from, to, remaining).into());
    }
    Ok(seating.seat_group(class, from, to, passengers, policy).expect("counts and overlap checked"))
}

/// (c): the commit point. The old tickets go back and serve the waitlist.
pub fn decide_commit(
    state: &TrainDateState,
    change_id: &ChangeId,
    new_fare_fen: u64,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    let change =
        state.changes.outgoing.get(change_id).ok_or(WorkflowRejection::ChangeNotFound { change_id: *change_id })?;
    match change.outcome {
        Some(ChangeOutcome::Committed { .. }) => return Ok(Vec::new()),
        Some(ChangeOutcome::Aborted { .. }) => {
            return Err(WorkflowRejection::ChangeEnded { change_id: *change_id, committed: false });
        }
        None => {}
    }
    let order = &state.orders[&change.order_id];
    let settlement = ChangeSettlement { old_fare_fen: change.old_fare_fen, new_fare_fen, fee_fen: change.fee_fen };
    let mut events = vec![Event::ChangeCommitted { change_id: *change_id, settlement, at_ms: now_ms }];
    events.extend(serve_queue(state, &[Released::of(order)], now_ms));
    Ok(events)
}

/// Undoes (a) before the commit point.
pub fn decide_abort(
    state: &TrainDateState,
    change_id: &ChangeId,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    let change =
        state.changes.outgoing.get(change_id).ok_or(WorkflowRejection::ChangeNotFound { change_id: *change_id })?;
    match change.outcome {
        None => Ok(vec![Event::ChangeAborted { change_id: *change_id, at_ms: now_ms }]),
        Some(ChangeOutcome::Aborted { .. }) => Ok(Vec::new()),
        Some(ChangeOutcome::Committed { .. }) => {
            Err(WorkflowRejection::ChangeEnded { change_id: *change_id, committed: true })
        }
    }
}

/// Undoes (b): the pending seats go back and serve the waitlist. Before
/// (b) arrived, remembers the change so that (b) is refused when it comes.
pub fn decide_release(
    state: &TrainDateState,
    change_id: &ChangeId,
    source: &crate::domain::state::TrainDateKey,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    let event = Event::ChangeSeatsReleased { change_id: *change_id, source: source.clone(), at_ms: now_ms };
    match state.changes.incoming.get(change_id) {
        None if state.changes.abandoned.contains(change_id) => Ok(Vec::new()),
        None => Ok(vec![event]),
        Some(incoming) => match incoming.status {
            IncomingStatus::Released => Ok(Vec::new()),
            IncomingStatus::Completed => Err(WorkflowRejection::ChangeEnded { change_id: *change_id, committed: true }),
            IncomingStatus::Pending => {
                let released = Released {
                    order_id: incoming.new_order_id,
                    from: usize::from(incoming.from),
                    to: usize::from(incoming.to),
                    tickets: &incoming.tickets,
                };
                let mut events = vec![event];
                events.extend(serve_queue(state, &[released], now_ms));
                Ok(events)
            }
        },
    }
}

/// (d): the pending seats become a confirmed order.
pub fn decide_complete(
    state: &TrainDateState,
    change_id: &ChangeId,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    let incoming =
        state.changes.incoming.get(change_id).ok_or(WorkflowRejection::ChangeNotFound { change_id: *change_id })?;
    match incoming.status {
        IncomingStatus::Pending => Ok(vec![Event::ChangeCompleted { change_id: *change_id, at_ms: now_ms }]),
        IncomingStatus::Completed => Ok(Vec::new()),
        IncomingStatus::Released => Err(WorkflowRejection::ChangeEnded { change_id: *change_id, committed: false }),
    }
}

/// Another class or journey on the same train: old tickets released, new
/// ones seated on the seats as they are after the release, and the queue
/// served from what is left free, all in one decision.
pub fn decide_in_place(
    state: &TrainDateState,
    change: &ChangeInPlace,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    let done_before = state
        .order(&change.new_order_id)
        .is_some_and(|order| order.request_id == format!("change:{}", change.change_id));
    if done_before {
        return Ok(Vec::new());
    }
    let order = super::owned_order(state, &change.order_id, change.user_id.as_deref())?;
    check_changeable(state, order, state.key.date, now_ms)?;
    let same_tickets =
        order.journey() == (change.from, change.to) && order.tickets.iter().all(|ticket| ticket.class == change.class);
    if same_tickets {
        return Err(WorkflowRejection::NothingToChange);
    }
    let mut seating = Seating::new(state);
    seating.release(&Released::of(order));
    let passengers = passengers_of(order);
    let tickets =
        seat_new_tickets(&seating, state, change.from, change.to, change.class, &passengers, change.policy, now_ms)?;
    seating.take(change.from, change.to, &tickets);
    let settlement = ChangeSettlement {
        old_fare_fen: order.total_fare_fen(),
        new_fare_fen: tickets.iter().map(|ticket| ticket.fare_fen).sum(),
        fee_fen: 0,
    };
    let mut events = vec![Event::TicketsChangedInPlace(InPlaceChange {
        change_id: change.change_id,
        order_id: order.id,
        new_order_id: change.new_order_id,
        from: change.from as u8,
        to: change.to as u8,
        tickets,
        settlement,
        at_ms: now_ms,
    })];
    if state.waitlist.has_waiting() {
        events.extend(super::serve::serve(state, seating, now_ms));
    }
    Ok(events)
}
