//! Messages a train-date actor handles; each handler is decide → apply → reply.

use super::TrainDateActor;
use super::replies::{OrderSnapshot, SeatMap};
use crate::domain::command::{Command, HoldSeats, PassengerRequest};
use crate::domain::order::OrderId;
use crate::domain::rejection::Rejection;
use actix::{Context, Handler, Message};

/// Hold seats for every passenger of one order.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<OrderSnapshot, Rejection>")]
pub struct HoldMsg {
    pub request_id: String,
    pub user_id: String,
    pub from: usize,
    pub to: usize,
    pub passengers: Vec<PassengerRequest>,
}

#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<OrderSnapshot, Rejection>")]
pub struct ConfirmMsg {
    pub order_id: OrderId,
    /// Set: only this user's order may be confirmed.
    pub user_id: Option<String>,
}

#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<OrderSnapshot, Rejection>")]
pub struct CancelMsg {
    pub order_id: OrderId,
    /// Set: only this user's order may be cancelled.
    pub user_id: Option<String>,
}

#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Option<OrderSnapshot>")]
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
#[rtype(result = "()")]
pub struct CloseSalesMsg;

/// Run the expiry sweep now rather than at the timer; answers how many holds ended.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "usize")]
pub struct ExpireDueMsg;

/// Recount everything and compare; `Err` describes the first difference.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), String>")]
pub struct VerifyMsg;

impl Handler<HoldMsg> for TrainDateActor {
    type Result = Result<OrderSnapshot, Rejection>;

    fn handle(&mut self, msg: HoldMsg, ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        let command = Command::HoldSeats(HoldSeats {
            order_id: OrderId::generate(),
            request_id: msg.request_id,
            user_id: msg.user_id,
            from: msg.from,
            to: msg.to,
            passengers: msg.passengers,
            hold_ttl_ms: self.settings.hold_ttl_ms,
            policy: self.settings.policy,
        });
        let result = self.execute(&command, ctx).map(|_| {
            let Command::HoldSeats(hold) = &command else { unreachable!("built above") };
            let order =
                self.state.order_for_request(&hold.user_id, &hold.request_id).expect("hold applied or repeated");
            OrderSnapshot::of(&self.state, order)
        });
        self.message_done();
        result
    }
}

impl TrainDateActor {
    fn order_command(
        &mut self,
        order_id: OrderId,
        command: Command,
        ctx: &mut Context<Self>,
    ) -> Result<OrderSnapshot, Rejection> {
        self.message_received();
        let result = self
            .execute(&command, ctx)
            .map(|_| OrderSnapshot::of(&self.state, self.state.order(&order_id).expect("decide found the order")));
        self.message_done();
        result
    }
}

impl Handler<ConfirmMsg> for TrainDateActor {
    type Result = Result<OrderSnapshot, Rejection>;

    fn handle(&mut self, msg: ConfirmMsg, ctx: &mut Context<Self>) -> Self::Result {
        self.order_command(msg.order_id, Command::ConfirmOrder { order_id: msg.order_id, user_id: msg.user_id }, ctx)
    }
}

impl Handler<CancelMsg> for TrainDateActor {
    type Result = Result<OrderSnapshot, Rejection>;

    fn handle(&mut self, msg: CancelMsg, ctx: &mut Context<Self>) -> Self::Result {
        self.order_command(msg.order_id, Command::CancelOrder { order_id: msg.order_id, user_id: msg.user_id }, ctx)
    }
}

impl Handler<GetOrderMsg> for TrainDateActor {
    type Result = Option<OrderSnapshot>;

    fn handle(&mut self, msg: GetOrderMsg, _ctx: &mut Context<Self>) -> Self::Result {
        self.message_received();
        let snapshot = self.state.order(&msg.order_id).map(|order| OrderSnapshot::of(&self.state, order));
        self.message_done();
        snapshot
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
    type Result = ();

    fn handle(&mut self, _msg: CloseSalesMsg, ctx: &mut Context<Self>) {
        self.message_received();
        self.execute(&Command::CloseSales, ctx).expect("closing sales is never rejected");
        self.message_done();
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
