//! Waitlist commands on one train-date: join, fulfil, leave, expire.
//! Serving the queue when seats free up is in `serve`.

use super::serve::{Released, Seating, serve_queue};
use crate::domain::event::Event;
use crate::domain::order::{OrderId, Ticket};
use crate::domain::rejection::Rejection;
use crate::domain::state::{SalesStatus, TrainDateState};
use crate::domain::waitlist::{ChoiceEnd, ChoiceRef, QueuePosition, WaitingChoice};
use crate::domain::workflow::{JoinWaitlist, WorkflowRejection};

/// Most choices one expiry command lets go, like `EXPIRIES_PER_COMMAND_MAX`
/// for holds: bounds the time one message keeps the actor from bookings.
pub const WAITLIST_EXPIRIES_PER_COMMAND_MAX: usize = 1024;

/// Whether `join` may be waitlisted now: the rules of a join, and the
/// choice must not be bookable outright (`BookNormally` otherwise). The
/// facade asks this of every choice when a request is submitted.
pub fn check_waitlistable(state: &TrainDateState, join: &JoinWaitlist, now_ms: u64) -> Result<(), WorkflowRejection> {
    check_join(state, join, now_ms)?;
    let slot = state.plan.class_slot(join.class).expect("class checked");
    let remaining = state.inventory.remaining(slot, join.from, join.to);
    let requested = join.passengers.len() as u32;
    if remaining >= requested {
        return Err(WorkflowRejection::BookNormally { class: join.class, requested, remaining });
    }
    Ok(())
}

/// Joins the queue; a choice that fits already (seats freed between
/// submission and payment) is served at once, as the head of its queue
/// would be: no waiting choice fits, so none is passed over.
pub fn decide_join(state: &TrainDateState, join: &JoinWaitlist, now_ms: u64) -> Result<Vec<Event>, WorkflowRejection> {
    if state.waitlist.choice(&join.choice).is_some() || state.waitlist.ended(&join.choice).is_some() {
        return Ok(Vec::new());
    }
    check_join(state, join, now_ms)?;
    let choice = WaitingChoice {
        position: QueuePosition { activated_at_ms: join.activated_at_ms, choice: join.choice },
        user_id: join.user_id.clone(),
        order_id: join.order_id,
        class: join.class,
        from: join.from as u8,
        to: join.to as u8,
        passengers: join.passengers.clone(),
        deadline_ms: join.deadline_ms,
        policy: join.policy,
        reserved: None,
    };
    let tickets = Seating::new(state).seat(&choice, now_ms);
    let mut events = vec![Event::WaitlistJoined(choice)];
    if let Some(tickets) = tickets {
        events.push(Event::WaitlistSeatsReserved { choice: join.choice, tickets, at_ms: now_ms });
    }
    Ok(events)
}

fn check_join(state: &TrainDateState, join: &JoinWaitlist, now_ms: u64) -> Result<(), WorkflowRejection> {
    let settings = &state.rules.waitlist;
    let count = join.passengers.len();
    if count == 0 || count > settings.passengers_max {
        return Err(Rejection::PassengerCount { count, max: settings.passengers_max }.into());
    }
    let stop_count = state.plan.stop_count();
    if join.from >= join.to || join.to >= stop_count {
        let reason = format!(
            "boarding stop {} must come before alighting stop {} on a train of {stop_count} stops",
            join.from, join.to
        );
        return Err(Rejection::InvalidJourney { reason }.into());
    }
    for (index, passenger) in join.passengers.iter().enumerate() {
        if join.passengers[..index].iter().any(|earlier| earlier.id_number == passenger.id_number) {
            return Err(Rejection::DuplicatePassenger { passenger: index }.into());
        }
    }
    if state.plan.class_slot(join.class).is_none() {
        return Err(Rejection::ClassNotOnTrain { passenger: 0, class: join.class }.into());
    }
    if let SalesStatus::Closed { .. } = state.sales {
        return Err(Rejection::SalesClosed.into());
    }
    let departure_ms = state.departure_ms(join.from);
    if now_ms >= departure_ms {
        return Err(Rejection::Departed.into());
    }
    let latest_ms = settings.deadline.latest_ms(departure_ms);
    if join.deadline_ms > latest_ms {
        return Err(WorkflowRejection::DeadlineTooLate { latest_ms });
    }
    if now_ms >= join.deadline_ms {
        return Err(WorkflowRejection::DeadlinePassed);
    }
    let seating = Seating::new(state);
    for (index, passenger) in join.passengers.iter().enumerate() {
        if seating.overlaps(&passenger.id_number, join.from, join.to) {
            let order_id = overlapping_order(state, &passenger.id_number, join.from, join.to);
            return Err(Rejection::PassengerOverlap { passenger: index, order_id }.into());
        }
    }
    let max = settings.queue_per_class_max;
    if state.waitlist.len(join.class) >= max {
        return Err(WorkflowRejection::QueueFull { class: join.class, max });
    }
    Ok(())
}

fn overlapping_order(state: &TrainDateState, id_number: &str, from: usize, to: usize) -> OrderId {
    state.passenger_journeys[id_number]
        .iter()
        .find(|journey| usize::from(journey.from) < to && from < usize::from(journey.to))
        .expect("an overlapping journey exists")
        .order_id
}

/// The grant arrived: the reservation becomes a confirmed order. Repeats
/// change nothing.
pub fn decide_fulfil(state: &TrainDateState, choice: &ChoiceRef, now_ms: u64) -> Result<Vec<Event>, WorkflowRejection> {
    match (state.waitlist.choice(choice), state.waitlist.ended(choice)) {
        (Some(entry), _) if entry.reserved.is_some() => {
            Ok(vec![Event::WaitlistFulfilled { choice: *choice, at_ms: now_ms }])
        }
        (Some(_), _) => Err(WorkflowRejection::NotReserved { choice: *choice }),
        (None, Some(ChoiceEnd::Fulfilled { .. })) => Ok(Vec::new()),
        (None, Some(end)) => Err(WorkflowRejection::ChoiceEnded { choice: *choice, end }),
        (None, None) => Err(WorkflowRejection::ChoiceNotFound { choice: *choice }),
    }
}

/// The choice leaves; a reservation it had is released and serves the
/// queue in the same decision. Leaving twice, or after ending otherwise,
/// changes nothing; leaving before joining is remembered.
pub fn decide_leave(state: &TrainDateState, choice: &ChoiceRef, end: ChoiceEnd, now_ms: u64) -> Vec<Event> {
    if state.waitlist.ended(choice).is_some() {
        return Vec::new();
    }
    let mut events = vec![Event::WaitlistLeft { choice: *choice, end, at_ms: now_ms }];
    if let Some(entry) = state.waitlist.choice(choice)
        && let Some(tickets) = &entry.reserved
    {
        let released = released_of(entry, tickets);
        events.extend(serve_queue(state, &[released], now_ms));
    }
    events
}

/// Waiting choices whose cut-off has passed leave, oldest cut-off first.
/// Their leaving frees no seats: only reservations hold seats, and they wait
/// for their request's answer rather than a clock.
pub fn decide_expire_waitlist(state: &TrainDateState, now_ms: u64) -> Vec<Event> {
    state
        .waitlist
        .due(now_ms)
        .take(WAITLIST_EXPIRIES_PER_COMMAND_MAX)
        .map(|choice| Event::WaitlistLeft { choice, end: ChoiceEnd::DeadlinePassed, at_ms: now_ms })
        .collect()
}

/// Closing sales ends every waiting choice (reservations finish their grant).
pub(crate) fn close_waitlist(state: &TrainDateState, now_ms: u64) -> impl Iterator<Item = Event> + '_ {
    state.waitlist.waiting().map(move |choice| Event::WaitlistLeft {
        choice,
        end: ChoiceEnd::SalesClosed,
        at_ms: now_ms,
    })
}

pub(crate) fn released_of<'a>(entry: &WaitingChoice, tickets: &'a [Ticket]) -> Released<'a> {
    Released { order_id: entry.order_id, from: usize::from(entry.from), to: usize::from(entry.to), tickets }
}
