//! Waitlist (候补) and ticket change (改签) across train-dates, as steps that
//! each one actor decides and records, and the rules that say which step
//! comes next, live and after a crash.
//!
//! # Design
//!
//! **Actors.** Every step is one command decided by one state: a train-date
//! (`decide_workflow`, events in its own stream, alongside its bookings) or
//! a waitlist request's record (`request::decide_request`, events in the
//! request's own stream). No step reads or writes two states; no lock spans
//! two. What one step asks of another is an [`Effect`]: a command for one
//! state. Effects are never stored: they follow from the recorded events
//! (`effects_of_events`, `effects_of_request_events`, live) and from the
//! states alone (`pending_*`, at recovery). Every step is idempotent (a
//! repeat changes nothing and gets the same answer), so sending an effect
//! twice is harmless and recovery may simply send everything pending again.
//!
//! **Waitlist.** Submit (record) → Activate (record: prepaid = highest fare
//! of its choices, activation time = queue position) → Join on each choice's
//! train-date. A train-date serves its queue in the decision that frees
//! seats (`decide::serve`): the first waiting choice that fits gets the
//! seats *reserved*, which asks the record for the grant (`AskGrant`). The
//! record grants the first choice that asks, exactly once (`Granted`); the
//! winner's train-date turns its reservation into a confirmed order
//! (`FulfilWaitlist`), the record records `Fulfilled` with the refund of the
//! difference; every other choice is told to leave (`Lost`), releasing any
//! reservation, which serves the next in that queue. Cancel and expiry are
//! decided by the record (refund: everything) unless a grant came first;
//! then every choice is told to leave (`Withdrawn`). A leave that overtakes
//! its join is remembered, so the join is ignored.
//!
//! Crash points (everything recorded before the crash survives it):
//! - after *Activated*, before some joins: the record is Active, so recovery
//!   sends every join again (a joined or ended choice ignores it);
//! - after *SeatsReserved*, before the record hears: the train-date has a
//!   reserved choice, so recovery asks the grant again;
//! - after *Granted*, before the winner's order: the record is Granted, so
//!   recovery tells the winner to fulfil and the others to leave again;
//! - after *Fulfilled* on the train-date, before the record hears: the
//!   train-date has a Fulfilled choice, so recovery tells the record again
//!   (with the order's fare);
//! - a loser's reservation when the record said Lost or Withdrawn: the
//!   choice asks again and is told to leave again.
//!
//! So after recovery runs to quiescence no choice stays reserved: each was
//! fulfilled (the one granted) or left. A request is fulfilled at most once
//! because only a Granted record sends `FulfilWaitlist`, it grants once, and
//! the train-date fulfils only a reserved choice, once.
//!
//! **Change across train-dates.** (a) `StartChange` on the old train-date
//! checks the rules, fixes the fee and marks the order changing (no second
//! change meanwhile); (b) `TakeChangeSeats` on the new one takes the seats,
//! pending; (c) `CommitChange` on the old one releases the old tickets and
//! records the outcome, the commit point; (d) `CompleteChange` on the new one
//! turns the pending seats into a confirmed order. If (b) is refused, the
//! abort path undoes (b) (`ReleaseChangeSeats`, which on a train-date that
//! never took seats records the change so a late (b) is refused) then (a)
//! (`AbortChange`). A refund of the old order before (c) aborts the change
//! in its own decision, and the change then releases (b). At every moment
//! the old train-date's record says which ticket is the passenger's: the old
//! one until (c), the new one from (c); both sets of seats may be occupied
//! only between (b) and (c) or (c) and (d).
//!
//! Crash points and what recovery does (`pending_change_effects`, from the
//! old record and the new train-date's record of the change):
//! - started, new knows nothing: send (b) again (if refused: abort path);
//! - started, new pending: send (c) with the new fare;
//! - started, new released or abandoned: send the abort of (a);
//! - committed, new pending: send (d);
//! - aborted, new pending or unknown: send the release of (b);
//! - committed and completed, or aborted and released: nothing.
//!
//! A change within one train-date (another class or journey) is one
//! decision (`ChangeInPlace`) and needs no recovery.

pub mod request;

use crate::domain::change::{ChangeOutcome, IncomingStatus, OutgoingChange};
use crate::domain::event::Event;
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::domain::waitlist::{ChoiceEnd, WaitlistRequestId};
use crate::domain::workflow::{WorkflowCommand, WorkflowRejection};
use request::{GrantAnswer, RequestCommand, RequestEvent, RequestStatus, WaitlistRequest};

/// A step one state must decide next.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    TrainDate { key: TrainDateKey, command: WorkflowCommand },
    Request { request_id: WaitlistRequestId, command: RequestCommand },
}

/// What a train-date's recorded events ask of others. `state` is the
/// train-date after applying them.
pub fn effects_of_events(key: &TrainDateKey, state: &TrainDateState, events: &[Event]) -> Vec<Effect> {
    events.iter().filter_map(|event| effect_of_event(key, state, event)).collect()
}

fn effect_of_event(key: &TrainDateKey, state: &TrainDateState, event: &Event) -> Option<Effect> {
    let request = |request_id, command| Some(Effect::Request { request_id, command });
    let train_date = |key: &TrainDateKey, command| Some(Effect::TrainDate { key: key.clone(), command });
    match event {
        Event::WaitlistSeatsReserved { choice, .. } => {
            request(choice.request_id, RequestCommand::AskGrant { choice: choice.index })
        }
        Event::WaitlistFulfilled { choice, .. } => {
            let ChoiceEnd::Fulfilled { order_id } = state.waitlist.ended(choice)? else { return None };
            let fare_fen = state.orders[&order_id].total_fare_fen();
            request(choice.request_id, RequestCommand::ConfirmFulfilled { choice: choice.index, order_id, fare_fen })
        }
        Event::WaitlistLeft { choice, end: ChoiceEnd::DeadlinePassed | ChoiceEnd::SalesClosed, .. } => {
            request(choice.request_id, RequestCommand::ChoiceEnded { choice: choice.index })
        }
        Event::ChangeStarted(change) => {
            train_date(&change.target.train_date, WorkflowCommand::TakeChangeSeats(change.take_seats_command(key)))
        }
        Event::ChangeSeatsTaken(incoming) => train_date(
            &incoming.source,
            WorkflowCommand::CommitChange { change_id: incoming.change_id, new_fare_fen: incoming.fare_fen() },
        ),
        Event::ChangeCommitted { change_id, .. } => {
            let target = &state.changes.outgoing[change_id].target.train_date;
            train_date(target, WorkflowCommand::CompleteChange { change_id: *change_id })
        }
        Event::ChangeAborted { change_id, .. } => {
            let target = &state.changes.outgoing[change_id].target.train_date;
            train_date(target, WorkflowCommand::ReleaseChangeSeats { change_id: *change_id, source: key.clone() })
        }
        Event::ChangeSeatsReleased { change_id, source, .. } => {
            train_date(source, WorkflowCommand::AbortChange { change_id: *change_id })
        }
        _ => None,
    }
}

/// What a refused step asks of others: a choice that could not join ends
/// for its request; a change whose new seats were refused takes the abort path.
pub fn effects_of_rejection(
    key: &TrainDateKey,
    command: &WorkflowCommand,
    _rejection: &WorkflowRejection,
) -> Vec<Effect> {
    match command {
        WorkflowCommand::JoinWaitlist(join) => vec![Effect::Request {
            request_id: join.choice.request_id,
            command: RequestCommand::ChoiceEnded { choice: join.choice.index },
        }],
        WorkflowCommand::TakeChangeSeats(take) => vec![Effect::TrainDate {
            key: key.clone(),
            command: WorkflowCommand::ReleaseChangeSeats { change_id: take.change_id, source: take.source.clone() },
        }],
        _ => Vec::new(),
    }
}

/// What a request record's recorded events ask of the train-dates.
/// `record` is the record after applying them.
pub fn effects_of_request_events(record: &WaitlistRequest, events: &[RequestEvent]) -> Vec<Effect> {
    let mut effects = Vec::new();
    for event in events {
        match event {
            RequestEvent::Activated { .. } => effects.extend(joins(record)),
            RequestEvent::Granted { choice, .. } => effects.extend(grant_effects(record, *choice)),
            RequestEvent::Cancelled { .. } | RequestEvent::Expired { .. } if record.activated_at_ms.is_some() => {
                effects.extend(leaves(record, request::all(record).collect(), ChoiceEnd::Withdrawn));
            }
            _ => {}
        }
    }
    effects
}

/// The answer to a choice that asked for the grant, as an effect on its train-date.
pub fn grant_reply(record: &WaitlistRequest, choice: u8) -> Effect {
    let key = record.choices[usize::from(choice)].train_date.clone();
    let choice_ref = record.choice_ref(choice);
    let command = match request::grant_answer(record, choice) {
        GrantAnswer::Fulfil => WorkflowCommand::FulfilWaitlist { choice: choice_ref },
        GrantAnswer::Leave(end) => WorkflowCommand::LeaveWaitlist { choice: choice_ref, end },
    };
    Effect::TrainDate { key, command }
}

fn joins(record: &WaitlistRequest) -> impl Iterator<Item = Effect> + '_ {
    request::all(record).map(|index| Effect::TrainDate {
        key: record.choices[usize::from(index)].train_date.clone(),
        command: WorkflowCommand::JoinWaitlist(record.join_command(index)),
    })
}

fn grant_effects(record: &WaitlistRequest, winner: u8) -> Vec<Effect> {
    let mut effects = vec![grant_reply(record, winner)];
    effects.extend(leaves(record, request::others(record, winner).collect(), ChoiceEnd::Lost));
    effects
}

fn leaves(record: &WaitlistRequest, choices: Vec<u8>, end: ChoiceEnd) -> Vec<Effect> {
    choices
        .into_iter()
        .map(|index| Effect::TrainDate {
            key: record.choices[usize::from(index)].train_date.clone(),
            command: WorkflowCommand::LeaveWaitlist { choice: record.choice_ref(index), end },
        })
        .collect()
}

/// Recovery: every step a request record still owes the train-dates.
pub fn pending_request_effects(record: &WaitlistRequest) -> Vec<Effect> {
    match record.status {
        RequestStatus::Submitted => Vec::new(),
        RequestStatus::Active => joins(record).collect(),
        RequestStatus::Granted { choice } => grant_effects(record, choice),
        RequestStatus::Fulfilled { choice, .. } => {
            leaves(record, request::others(record, choice).collect(), ChoiceEnd::Lost)
        }
        RequestStatus::Cancelled { .. } | RequestStatus::Expired { .. } if record.activated_at_ms.is_some() => {
            leaves(record, request::all(record).collect(), ChoiceEnd::Withdrawn)
        }
        RequestStatus::Cancelled { .. } | RequestStatus::Expired { .. } => Vec::new(),
    }
}

/// Recovery: every waitlist step a train-date still owes request records.
pub fn pending_waitlist_effects(state: &TrainDateState) -> Vec<Effect> {
    let asks = state.waitlist.live().filter(|choice| choice.reserved.is_some()).map(|choice| Effect::Request {
        request_id: choice.position.choice.request_id,
        command: RequestCommand::AskGrant { choice: choice.position.choice.index },
    });
    let told = state.waitlist.ended_choices().filter_map(|(choice, end)| {
        let command = match end {
            ChoiceEnd::Fulfilled { order_id } => RequestCommand::ConfirmFulfilled {
                choice: choice.index,
                order_id: *order_id,
                fare_fen: state.orders[order_id].total_fare_fen(),
            },
            ChoiceEnd::DeadlinePassed | ChoiceEnd::SalesClosed => RequestCommand::ChoiceEnded { choice: choice.index },
            ChoiceEnd::Lost | ChoiceEnd::Withdrawn => return None,
        };
        Some(Effect::Request { request_id: choice.request_id, command })
    });
    asks.chain(told).collect()
}

/// Recovery: the next step of every change out of `state` that has not
/// finished, read from the old record and the new train-date's (`lookup`).
pub fn pending_change_effects<'a>(
    key: &TrainDateKey,
    state: &'a TrainDateState,
    lookup: impl Fn(&TrainDateKey) -> Option<&'a TrainDateState>,
) -> Vec<Effect> {
    state
        .changes
        .outgoing
        .values()
        .filter_map(|change| {
            let target = lookup(&change.target.train_date)?;
            next_change_step(key, change, target)
        })
        .collect()
}

/// The step a change needs next, from the two records of it.
pub fn next_change_step(key: &TrainDateKey, change: &OutgoingChange, target: &TrainDateState) -> Option<Effect> {
    let incoming = target.changes.incoming.get(&change.change_id).map(|incoming| incoming.status);
    let abandoned = target.changes.abandoned.contains(&change.change_id);
    let change_id = change.change_id;
    let (to, command) = match (change.outcome, incoming) {
        (None, None) if !abandoned => {
            (&change.target.train_date, WorkflowCommand::TakeChangeSeats(change.take_seats_command(key)))
        }
        (None, None | Some(IncomingStatus::Released)) => (key, WorkflowCommand::AbortChange { change_id }),
        (None, Some(IncomingStatus::Pending | IncomingStatus::Completed)) => {
            let new_fare_fen = target.changes.incoming[&change_id].fare_fen();
            (key, WorkflowCommand::CommitChange { change_id, new_fare_fen })
        }
        (Some(ChangeOutcome::Committed { .. }), Some(IncomingStatus::Pending)) => {
            (&change.target.train_date, WorkflowCommand::CompleteChange { change_id })
        }
        (Some(ChangeOutcome::Aborted { .. }), Some(IncomingStatus::Pending) | None) if !abandoned => {
            (&change.target.train_date, WorkflowCommand::ReleaseChangeSeats { change_id, source: key.clone() })
        }
        _ => return None,
    };
    Some(Effect::TrainDate { key: to.clone(), command })
}
