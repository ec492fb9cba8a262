//! `decide`: all business logic. Reads the state, the command and the time it
//! is given; returns the events to apply or the reason for changing nothing.

mod cancel;
mod change;
mod close;
mod confirm;
mod expire;
mod hold;
mod serve;
mod waitlist;

pub use expire::EXPIRIES_PER_COMMAND_MAX;
pub use hold::{HoldFacts, gate_hold};
pub use serve::first_fitting_choice;
pub use waitlist::{WAITLIST_EXPIRIES_PER_COMMAND_MAX, check_waitlistable};

use crate::domain::command::Command;
use crate::domain::event::Event;
use crate::domain::order::{Order, OrderId};
use crate::domain::rejection::Rejection;
use crate::domain::state::TrainDateState;
use crate::domain::workflow::{WorkflowCommand, WorkflowRejection};

/// Decides `command` against `state` at Unix time `now_ms`.
///
/// An empty event list is a success that changes nothing: an idempotent
/// repeat of a hold, confirm, cancel or close.
pub fn decide(state: &TrainDateState, command: &Command, now_ms: u64) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::HoldSeats(hold) => hold::decide_hold(state, hold, now_ms),
        Command::ConfirmOrder { order_id, user_id } => {
            confirm::decide_confirm(state, order_id, user_id.as_deref(), now_ms)
        }
        Command::CancelOrder { order_id, user_id } => {
            cancel::decide_cancel(state, order_id, user_id.as_deref(), now_ms)
        }
        Command::ExpireHolds => Ok(expire::decide_expire(state, now_ms)),
        Command::CloseSales => Ok(close::decide_close(state, now_ms)),
    }
}

/// Decides a waitlist or ticket-change step against `state` at `now_ms`,
/// as `decide` does for bookings; the same actor runs both, one message at
/// a time, into one stream of events.
pub fn decide_workflow(
    state: &TrainDateState,
    command: &WorkflowCommand,
    now_ms: u64,
) -> Result<Vec<Event>, WorkflowRejection> {
    match command {
        WorkflowCommand::JoinWaitlist(join) => waitlist::decide_join(state, join, now_ms),
        WorkflowCommand::FulfilWaitlist { choice } => waitlist::decide_fulfil(state, choice, now_ms),
        WorkflowCommand::LeaveWaitlist { choice, end } => Ok(waitlist::decide_leave(state, choice, *end, now_ms)),
        WorkflowCommand::ExpireWaitlist => Ok(waitlist::decide_expire_waitlist(state, now_ms)),
        WorkflowCommand::StartChange(start) => change::decide_start(state, start, now_ms),
        WorkflowCommand::TakeChangeSeats(take) => change::decide_take(state, take, now_ms),
        WorkflowCommand::CommitChange { change_id, new_fare_fen } => {
            change::decide_commit(state, change_id, *new_fare_fen, now_ms)
        }
        WorkflowCommand::AbortChange { change_id } => change::decide_abort(state, change_id, now_ms),
        WorkflowCommand::ReleaseChangeSeats { change_id, source } => {
            change::decide_release(state, change_id, source, now_ms)
        }
        WorkflowCommand::CompleteChange { change_id } => change::decide_complete(state, change_id, now_ms),
        WorkflowCommand::ChangeInPlace(change) => change::decide_in_place(state, change, now_ms),
    }
}

/// The order, if it exists and (when a user is named) belongs to that user.
/// Another user's order is reported as not found, so ids cannot be probed.
fn owned_order<'a>(
    state: &'a TrainDateState,
    order_id: &OrderId,
    user_id: Option<&str>,
) -> Result<&'a Order, Rejection> {
    state
        .order(order_id)
        .filter(|order| user_id.is_none_or(|user| order.user_id == user))
        .ok_or(Rejection::OrderNotFound { order_id: *order_id })
}

#[cfg(test)]
mod tests;
