//! Messages a train-date actor handles; each handler is decide → apply →
//! journal → reply.

use super::replies::{OrderSnapshot, SeatMap};
use super::{CommandError, TrainDateActor};
use crate::domain::command::{Command, HoldSeats, PassengerRequest};
use crate::domain::order::OrderId;
use actix::{Context, Handler, Message, ResponseActFuture};
use std::time::Instant;

/// Hold seats for every passenger of one order.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<OrderSnapshot, CommandError>")]
pub struct HoldMsg {
    /// Dropped unprocessed once this has passed.
    pub deadline: Option<Instant>,
    pub request_id: String,
    pub user_id: String,
    pub from: usize,
    pub to: usize,
    pub passengers: Vec<PassengerRequest>,
}

#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<OrderSnapshot, CommandError>")]
pub struct ConfirmMsg {
    /// Dropped unprocessed once this has passed.
    pub deadline: Option<Instant>,
    pub order_id: OrderId,
    /// Set: only this user's order may be confirmed.
    pub user_id: Option<String>,
}

#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<OrderSnapshot, CommandError>")]
pub struct CancelMsg {
    /// Dropped unprocessed once this has passed.
    pub deadline: Option<Instant>,
    pub order_id: OrderId,
    /// Set: only this user's order may be cancelled.
    pub user_id: Option<String>,
}

/// An order, once everything it depends on is durable.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<Option<OrderSnapshot>, CommandError>")]
pub struct GetOrderMsg {
    pub order_id: OrderId,
}

/// Seat-by-seat state of one carriage for one journey; exact, so it goes
/// through the mailbox.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Option<SeatMap>")]
pub struct SeatMapMsg {
    pub carriage: u8,
    pub from: usize,
    pub to: usize,
}

#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), CommandError>")]
pub struct CloseSalesMsg;

/// Run the expiry sweep now rather than at the timer; answers how many holds ended.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "usize")]
pub struct ExpireDueMsg;

/// Stop for good: the train-date is archived. Answers its orders' ids and
/// users, so the global indexes can forget them.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Vec<(OrderId, String)>")]
pub struct RetireMsg;

/// Recount everything and compare; `Err` describes the first difference.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), String>")]
pub struct VerifyMsg;

type Reply<T> = ResponseActFuture<TrainDateActor, Result<T, CommandError>>;

/// Whether a caller's deadline has passed: its answer would go unheard.
fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
}

impl Handler<HoldMsg> for TrainDateActor {
    type Result = Reply<OrderSnapshot>;

    fn handle(&mut self, msg: HoldMsg, ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        if expired(msg.deadline) {
            self.message_done();
            return Box::pin(actix::fut::ready(Err(CommandError::DeadlineExceeded)));
        }
        let hold = HoldSeats {
            order_id: OrderId::generate(),
            request_id: msg.request_id,
            user_id: msg.user_id,
            from: msg.from,
            to: msg.to,
            passengers: msg.passengers,
            hold_ttl_ms: self.settings.hold_ttl_ms,
            policy: self.settings.policy,
        };
        let (user_id, request_id) = (hold.user_id.clone(), hold.request_id.clone());
        let (result, ack) = self.write(&Command::HoldSeats(hold), ctx);
        let value = result.map(|_| {
            let order = self.state.order_for_request(&user_id, &request_id).expect("hold applied or repeated");
            OrderSnapshot::of(&self.state, order)
        });
        self.message_done();
        self.reply_when_durable(value, ack, ctx)
    }
}

impl TrainDateActor {
    fn order_command(
        &mut self,
        order_id: OrderId,
        command: Command,
        deadline: Option<Instant>,
        ctx: &mut Context<Self>,
    ) -> Reply<OrderSnapshot> {
        self.message_received();
        if expired(deadline) {
            self.message_done();
            return Box::pin(actix::fut::ready(Err(CommandError::DeadlineExceeded)));
        }
        let (result, ack) = self.write(&command, ctx);
        let value = result
            .map(|_| OrderSnapshot::of(&self.state, self.state.order(&order_id).expect("decide found the order")));
        self.message_done();
        self.reply_when_durable(value, ack, ctx)
    }
}

impl Handler<ConfirmMsg> for TrainDateActor {
    type Result = Reply<OrderSnapshot>;

    fn handle(&mut self, msg: ConfirmMsg, ctx: &mut Context<Self>) -> Self::Result {
        let command = Command::ConfirmOrder { order_id: msg.order_id, user_id: msg.user_id };
        self.order_command(msg.order_id, command, msg.deadline, ctx)
    }
}

impl Handler<CancelMsg> for TrainDateActor {
    type Result = Reply<OrderSnapshot>;

    fn handle(&mut self, msg: CancelMsg, ctx: &mut Context<Self>) -> Self::Result {
        let command = Command::CancelOrder { order_id: msg.order_id, user_id: msg.user_id };
        self.order_command(msg.order_id, command, msg.deadline, ctx)
    }
}

impl Handler<GetOrderMsg> for TrainDateActor {
    type Result = Reply<Option<OrderSnapshot>>;

    fn handle(&mut self, msg: GetOrderMsg, ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        let snapshot = self.state.order(&msg.order_id).map(|order| OrderSnapshot::of(&self.state, order));
        let (value, ack) = match self.read_barrier() {
            Ok(ack) => (Ok(snapshot), ack),
            Err(error) => (Err(error), None),
        };
        self.message_done();
        self.reply_when_durable(value, ack, ctx)
    }
}

impl Handler<SeatMapMsg> for TrainDateActor {
    type Result = Option<SeatMap>;

    fn handle(&mut self, msg: SeatMapMsg, _ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        let map = self.seat_map(msg);
        self.message_done();
        map
    }
}

impl TrainDateActor {
    fn seat_map(&self, msg: SeatMapMsg) -> Option<SeatMap> {
        let plan = &self.state.plan;
        let carriage = plan.carriage(msg.carriage)?;
        if msg.from >= msg.to || msg.to >= plan.stop_count() {
            return None;
        }
        let free = plan
            .carriage_seats(msg.carriage)
            .map(|seat| self.state.inventory.is_free(seat, msg.from, msg.to))
            .collect();
        Some(SeatMap {
            carriage: msg.carriage,
            class: carriage.class,
            letters: carriage.letters.clone(),
            free,
            rows: carriage.rows,
        })
    }
}

impl Handler<CloseSalesMsg> for TrainDateActor {
    type Result = Reply<()>;

    fn handle(&mut self, _msg: CloseSalesMsg, ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        let (result, ack) = self.write(&Command::CloseSales, ctx);
        self.message_done();
        self.reply_when_durable(result.map(|_| ()), ack, ctx)
    }
}

impl Handler<ExpireDueMsg> for TrainDateActor {
    type Result = usize;

    fn handle(&mut self, _msg: ExpireDueMsg, ctx: &mut Context<Self>) -> usize {
        self.message_received();
        let expired = self.expire_due(ctx);
        self.message_done();
        expired
    }
}

impl Handler<VerifyMsg> for TrainDateActor {
    type Result = Result<(), String>;

    fn handle(&mut self, _msg: VerifyMsg, _ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        let verdict = self.state.verify_invariants();
        self.message_done();
        verdict
    }
}

impl Handler<RetireMsg> for TrainDateActor {
    type Result = Vec<(OrderId, String)>;

    fn handle(&mut self, _msg: RetireMsg, ctx: &mut Context<Self>) -> Self::Result {
        use actix::ActorContext;
        self.message_received();
        ctx.stop();
        self.state.orders.values().map(|order| (order.id, order.user_id.clone())).collect()
    }
}
