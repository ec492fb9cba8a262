//! Holds, confirms, cancels and order reads: each goes to the one actor that
//! owns the train-date.

use super::search::journey_stops;
use super::{Engine, EngineError};
use crate::actor::replies::{OrderSnapshot, SeatMap};
use crate::actor::view::AvailabilityView;
use crate::actor::{Execute, Executed, OrderQuery, Read, SeatMapQuery};
use crate::decide::gate_hold;
use crate::domain::command::{Command, HoldSeats, PassengerRequest};
use crate::domain::order::OrderId;
use crate::domain::state::TrainDateKey;
use crate::error::NotFound;
use crate::registry::TrainDateHandle;
use std::time::Instant;

/// Most orders one ListOrders page returns; each costs a mailbox round trip.
pub const ORDERS_PER_PAGE_MAX: usize = 100;

/// A hold as the API receives it, stations still as the user typed them.
#[derive(Clone, Debug)]
pub struct HoldInput {
    /// The caller's deadline; past it the request is dropped unprocessed.
    pub deadline: Option<Instant>,
    /// The client's idempotency key; a retry with it returns the original order.
    pub request_id: String,
    /// The user the order is for (the token subject, or whom an agent names).
    pub user_id: String,
    pub key: TrainDateKey,
    /// Boarding station as typed: code, name or pinyin.
    pub from_station: String,
    /// Alighting station as typed: code, name or pinyin.
    pub to_station: String,
    pub passengers: Vec<PassengerRequest>,
}

/// One page of a user's orders, oldest first.
#[derive(Clone, Debug)]
pub struct OrderPage {
    pub orders: Vec<OrderSnapshot>,
    /// The last order of this page, after which the next page starts, if there is one.
    pub next_after: Option<OrderId>,
    /// The user's orders in all, over every page.
    pub total: usize,
}

impl Engine {
    pub async fn hold(&self, input: HoldInput) -> Result<OrderSnapshot, EngineError> {
        // Trains that left on earlier dates may still be running, and sell later stops.
        let days_running = u64::from(crate::domain::timetable::SERVICE_DAYS_MAX - 1);
        self.check_sales_window("train_date.date", input.key.date, days_running)?;
        let from = self.resolve_station("from_station", &input.from_station)?;
        let to = self.resolve_station("to_station", &input.to_station)?;
        let handle = self.handle(&input.key)?;
        let view = handle.shared.view.load();
        let (from, to) = journey_stops(&view, &from, &to)?;
        let hold = HoldSeats {
            order_id: OrderId::generate(),
            request_id: input.request_id,
            user_id: input.user_id,
            from,
            to,
            passengers: input.passengers,
            hold_ttl_ms: self.settings.actor.hold_ttl_ms,
            policy: self.settings.actor.policy,
        };
        self.sold_out_gate(&handle, &view, &hold)?;
        let executed = self.execute(&input.key, &handle, Command::HoldSeats(hold), input.deadline).await?;
        Ok(executed.order.expect("a hold that succeeds names its order"))
    }

    /// Pays a held order. `user_id` set: only that user's order is found.
    pub async fn confirm(
        &self,
        order_id: OrderId,
        user_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<OrderSnapshot, EngineError> {
        let command = Command::ConfirmOrder { order_id, user_id: user_id.map(str::to_owned) };
        self.order_command(order_id, command, deadline).await
    }

    /// Cancels a hold or refunds a paid order.
    pub async fn cancel(
        &self,
        order_id: OrderId,
        user_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<OrderSnapshot, EngineError> {
        let command = Command::CancelOrder { order_id, user_id: user_id.map(str::to_owned) };
        self.order_command(order_id, command, deadline).await
    }

    async fn order_command(
        &self,
        order_id: OrderId,
        command: Command,
        deadline: Option<Instant>,
    ) -> Result<OrderSnapshot, EngineError> {
        let (key, handle) = self.order_home(&order_id)?;
        let executed = self.execute(&key, &handle, command, deadline).await?;
        Ok(executed.order.expect("a confirm or cancel that succeeds names its order"))
    }

    /// Sends one command to the train-date's actor and awaits its durable answer.
    pub(super) async fn execute(
        &self,
        key: &TrainDateKey,
        handle: &TrainDateHandle,
        command: Command,
        deadline: Option<Instant>,
    ) -> Result<Executed, EngineError> {
        Ok(handle.ask(key, Execute { deadline, command }).await??)
    }

    pub async fn get_order(&self, order_id: OrderId, user_id: Option<&str>) -> Result<OrderSnapshot, EngineError> {
        let (key, handle) = self.order_home(&order_id)?;
        let snapshot = handle.ask(&key, Read(OrderQuery(order_id))).await??;
        match snapshot {
            Some(snapshot) if user_id.is_none_or(|user| snapshot.order.user_id == user) => Ok(snapshot),
            // Another user's order answers exactly as a missing one.
            _ => Err(NotFound::Order(order_id).into()),
        }
    }

    /// A user's orders after `after` (from the first when None), oldest first.
    pub async fn list_orders(
        &self,
        user_id: &str,
        after: Option<OrderId>,
        limit: usize,
    ) -> Result<OrderPage, EngineError> {
        let limit = limit.clamp(1, ORDERS_PER_PAGE_MAX);
        let (order_ids, more, total) = self.orders.user_orders(user_id, after, limit);
        let mut orders = Vec::with_capacity(order_ids.len());
        for order_id in &order_ids {
            orders.push(self.get_order(*order_id, Some(user_id)).await?);
        }
        Ok(OrderPage { orders, next_after: order_ids.last().copied().filter(|_| more), total })
    }

    /// Which seats of one carriage are free for a journey; exact, via the actor.
    pub async fn seat_map(
        &self,
        key: &TrainDateKey,
        carriage: u8,
        from_station: &str,
        to_station: &str,
    ) -> Result<SeatMap, EngineError> {
        let from = self.resolve_station("from_station", from_station)?;
        let to = self.resolve_station("to_station", to_station)?;
        let handle = self.handle(key)?;
        let view = handle.shared.view.load();
        let (from_stop, to_stop) = journey_stops(&view, &from, &to)?;
        if view.plan.carriage(carriage).is_none() {
            let count = view.plan.carriages().len();
            return Err(EngineError::invalid("carriage", format!("{} has carriages 1 to {count}", key.train)));
        }
        let query = SeatMapQuery { carriage, from: from_stop, to: to_stop };
        handle.ask(key, Read(query)).await??.ok_or_else(|| EngineError::invalid("carriage", "no such carriage"))
    }

    /// The sold-out gate: refuses a hold at once, without entering the
    /// mailbox, where the actor would answer SOLD_OUT (see `gate_hold`). The
    /// view lags by at most one batch, so it may refuse a moment before seats
    /// come back; it never admits a hold the actor would then oversell,
    /// because the actor decides every hold it lets through on exact state.
    fn sold_out_gate(
        &self,
        handle: &TrainDateHandle,
        view: &AvailabilityView,
        hold: &HoldSeats,
    ) -> Result<(), EngineError> {
        // A hold from a user with an order here may be a retry, which must
        // reach the actor to get its original answer.
        if self.orders.user_has_order_on(&hold.user_id, &view.key) {
            return Ok(());
        }
        let passengers = &handle.shared.passengers;
        gate_hold(view, hold, self.now_ms(), |id_number| passengers.may_contain(id_number)).map_err(|rejection| {
            self.sold_out_gate_rejections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!("seat_sold_out_gate_rejections_total").increment(1);
            EngineError::Rejected(rejection)
        })
    }

    fn order_home(&self, order_id: &OrderId) -> Result<(TrainDateKey, TrainDateHandle), EngineError> {
        let key = self.orders.train_date_of(order_id).ok_or(NotFound::Order(*order_id))?;
        let handle = self.handle(&key)?;
        Ok((key, handle))
    }
}
