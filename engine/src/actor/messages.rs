//! What a train-date actor is sent: `Execute` (a command to decide, apply,
//! journal and answer once durable), `Read` (a query answered from its exact
//! state once what it shows is durable) and `Retire`. Every handler counts
//! the message out of the mailbox through `TrainDateActor::in_turn`, so no
//! message can leave the mailbox looking fuller than it is.

use super::TrainDateActor;
use super::replies::{OrderSnapshot, SeatMap};
use crate::domain::command::Command;
use crate::domain::order::OrderId;
use crate::domain::state::TrainDateState;
use crate::error::CommandError;
use actix::{ActorContext, Context, Handler, Message, ResponseActFuture};
use std::time::Instant;

/// A command for the train-date to decide.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Executed, CommandError>")]
pub struct Execute {
    /// Dropped undecided once this has passed: its answer would go unheard.
    pub deadline: Option<Instant>,
    /// Built by the facade; decided by the actor in mailbox order.
    pub command: Command,
}

/// What an executed command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The order a hold, confirm or cancel was about, as it stands after it
    /// (the original order for an idempotent repeat); `None` for the others.
    pub order: Option<OrderSnapshot>,
    /// Events applied: 0 for a repeat that changed nothing; for
    /// `ExpireHolds`, the number of holds released.
    pub events: usize,
}

/// A question answered from the actor's exact state.
pub trait Query: Send + 'static {
    type Answer: Send + 'static;
    fn answer(self, state: &TrainDateState) -> Self::Answer;
}

/// A read through the mailbox, answered once every change it may show is durable.
#[derive(Debug, Clone)]
pub struct Read<Q>(pub Q);

impl<Q: Query> Message for Read<Q> {
    type Result = Result<Q::Answer, CommandError>;
}

/// One order by id, whoever owns it (the facade checks ownership).
#[derive(Debug, Clone, Copy)]
pub struct OrderQuery(pub OrderId);

impl Query for OrderQuery {
    type Answer = Option<OrderSnapshot>;
    fn answer(self, state: &TrainDateState) -> Self::Answer {
        state.order(&self.0).map(|order| OrderSnapshot::of(state, order))
    }
}

/// Seat-by-seat state of one carriage for one journey; `None` if the
/// carriage or journey does not exist on this train.
#[derive(Debug, Clone, Copy)]
pub struct SeatMapQuery {
    pub carriage: u8,
    pub from: usize,
    pub to: usize,
}

impl Query for SeatMapQuery {
    type Answer = Option<SeatMap>;
    fn answer(self, state: &TrainDateState) -> Self::Answer {
        let plan = &state.plan;
        let carriage = plan.carriage(self.carriage)?;
        if self.from >= self.to || self.to >= plan.stop_count() {
            return None;
        }
        let free =
            plan.carriage_seats(self.carriage).map(|seat| state.inventory.is_free(seat, self.from, self.to)).collect();
        Some(SeatMap {
            carriage: self.carriage,
            class: carriage.class,
            letters: carriage.letters.clone(),
            free,
            rows: carriage.rows,
        })
    }
}

/// Recount everything and compare; `Err` describes the first difference.
#[derive(Debug, Clone, Copy)]
pub struct Verify;

impl Query for Verify {
    type Answer = Result<(), String>;
    fn answer(self, state: &TrainDateState) -> Self::Answer {
        state.verify_invariants()
    }
}

/// Stop for good: the train-date is archived. Answers its orders' ids and
/// users, so the global indexes can forget them.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Vec<(OrderId, String)>")]
pub struct Retire;

/// Hand the train-date to another node: refuse writes from now on (as
/// SLOT_MOVED), answer once everything applied so far is durable (or has
/// failed, which the fence makes harmless), then stop. Answers the orders'
/// ids and users, as `Retire` does.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Vec<(OrderId, String)>")]
pub struct Release;

pub(super) type Reply<T> = ResponseActFuture<TrainDateActor, Result<T, CommandError>>;

/// A reply that is ready now.
pub(super) fn answered<T: 'static>(value: Result<T, CommandError>) -> Reply<T> {
    Box::pin(actix::fut::ready(value))
}

/// Whether a caller's deadline has passed: its answer would go unheard.
pub(super) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

impl Handler<Execute> for TrainDateActor {
    type Result = Reply<Executed>;

    fn handle(&mut self, msg: Execute, ctx: &mut Context<Self>) -> Self::Result {
        self.in_turn(ctx, |actor, ctx| {
            if expired(msg.deadline) {
                return answered(Err(CommandError::DeadlineExceeded));
            }
            if let Command::ExpireHolds = msg.command {
                // Nobody waits on expiries: the sweep journals them unacknowledged.
                let events = actor.expire_due(ctx);
                return answered(Ok(Executed { order: None, events }));
            }
            let (result, ack) = actor.write(&msg.command, ctx);
            let value = result.map(|events| Executed { order: actor.subject_order(&msg.command), events });
            actor.reply_when_durable(value, ack, ctx)
        })
    }
}

impl<Q: Query> Handler<Read<Q>> for TrainDateActor {
    type Result = Reply<Q::Answer>;

    fn handle(&mut self, Read(query): Read<Q>, ctx: &mut Context<Self>) -> Self::Result {
        self.in_turn(ctx, |actor, ctx| {
            let answer = query.answer(&actor.state);
            match actor.read_barrier() {
                Ok(ack) => actor.reply_when_durable(Ok(answer), ack, ctx),
                Err(error) => answered(Err(error)),
            }
        })
    }
}

impl Handler<Retire> for TrainDateActor {
    type Result = Vec<(OrderId, String)>;

    fn handle(&mut self, _msg: Retire, ctx: &mut Context<Self>) -> Self::Result {
        self.in_turn(ctx, |actor, ctx| {
            ctx.stop();
            actor.state.orders.values().map(|order| (order.id, order.user_id.clone())).collect()
        })
    }
}

impl Handler<Release> for TrainDateActor {
    type Result = ResponseActFuture<TrainDateActor, Vec<(OrderId, String)>>;

    fn handle(&mut self, _msg: Release, ctx: &mut Context<Self>) -> Self::Result {
        self.in_turn(ctx, |actor, ctx| {
            actor.released = true;
            let orders = actor.state.orders.values().map(|order| (order.id, order.user_id.clone())).collect();
            actor.stop_when_durable(orders, ctx)
        })
    }
}

impl TrainDateActor {
    /// The order `command` was about, as it stands now.
    fn subject_order(&self, command: &Command) -> Option<OrderSnapshot> {
        let order = match command {
            Command::HoldSeats(hold) => self.state.order_for_request(&hold.user_id, &hold.request_id),
            Command::ConfirmOrder { order_id, .. } | Command::CancelOrder { order_id, .. } => {
                self.state.order(order_id)
            }
            Command::ExpireHolds | Command::CloseSales => None,
        };
        order.map(|order| OrderSnapshot::of(&self.state, order))
    }
}
