//! Holds, confirms, cancels and order reads: each goes to the one actor that
//! owns the train-date.

use super::search::journey_stops;
use super::{Engine, EngineError};
use crate::actor::replies::{OrderSnapshot, SeatMap};
use crate::actor::{CancelMsg, ConfirmMsg, GetOrderMsg, HoldMsg, SeatMapMsg};
use crate::domain::command::PassengerRequest;
use crate::domain::order::OrderId;
use crate::domain::rejection::Rejection;
use crate::domain::seat_class::SeatClass;
use crate::domain::state::TrainDateKey;
use std::time::Instant;

/// Most orders one ListOrders page returns; each costs a mailbox round trip.
pub const ORDERS_PER_PAGE_MAX: usize = 100;

/// A hold as the API receives it, stations still as the user typed them.
#[derive(Clone, Debug)]
pub struct HoldInput {
    /// The caller's deadline; past it the request is dropped unprocessed.
    pub deadline: Option<Instant>,
    pub request_id: String,
    pub user_id: String,
    pub key: TrainDateKey,
    pub from_station: String,
    pub to_station: String,
    pub passengers: Vec<PassengerRequest>,
}

/// One page of a user's orders, oldest first.
#[derive(Clone, Debug)]
pub struct OrderPage {
    pub orders: Vec<OrderSnapshot>,
    /// The last order of this page, after which the next page starts, if there is one.
    pub next_after: Option<OrderId>,
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
        let (from_stop, to_stop) = journey_stops(&view, &from, &to)?;
        if !self.may_have_booked(&input.user_id, &input.key) {
            sold_out_gate(&view, &input.passengers, from_stop, to_stop).inspect_err(|_| {
                self.sold_out_gate_rejections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                metrics::counter!("seat_sold_out_gate_rejections_total").increment(1);
            })?;
        }
        let msg = HoldMsg {
            deadline: input.deadline,
            request_id: input.request_id,
            user_id: input.user_id,
            from: from_stop,
            to: to_stop,
            passengers: input.passengers,
        };
        Ok(handle.ask(&input.key, msg).await??)
    }

    /// Pays a held order. `user_id` set: only that user's order is found.
    pub async fn confirm(
        &self,
        order_id: OrderId,
        user_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<OrderSnapshot, EngineError> {
        let (key, handle) = self.order_home(&order_id)?;
        let msg = ConfirmMsg { deadline, order_id, user_id: user_id.map(str::to_owned) };
        Ok(handle.ask(&key, msg).await??)
    }

    /// Cancels a hold or refunds a paid order.
    pub async fn cancel(
        &self,
        order_id: OrderId,
        user_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<OrderSnapshot, EngineError> {
        let (key, handle) = self.order_home(&order_id)?;
        let msg = CancelMsg { deadline, order_id, user_id: user_id.map(str::to_owned) };
        Ok(handle.ask(&key, msg).await??)
    }

    pub async fn get_order(&self, order_id: OrderId, user_id: Option<&str>) -> Result<OrderSnapshot, EngineError> {
        let not_found = || EngineError::NotFound(format!("order {order_id} not found"));
        let (key, handle) = self.order_home(&order_id)?;
        let snapshot = handle.ask(&key, GetOrderMsg { order_id }).await??.ok_or_else(not_found)?;
        if user_id.is_some_and(|user| snapshot.order.user_id != user) {
            return Err(not_found());
        }
        Ok(snapshot)
    }

    /// A user's orders from `offset`, at most `limit` (capped at `ORDERS_PER_PAGE_MAX`).
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
        let msg = SeatMapMsg { carriage, from: from_stop, to: to_stop };
        handle.ask(key, msg).await?.ok_or_else(|| EngineError::invalid("carriage", "no such carriage"))
    }

    /// Whether `user` has any order on `key`: then a hold may be a retry of
    /// an accepted one, which must reach the actor to get its original answer.
    fn may_have_booked(&self, user: &str, key: &TrainDateKey) -> bool {
        self.orders.user_has_order_on(user, key)
    }

    fn order_home(&self, order_id: &OrderId) -> Result<(TrainDateKey, crate::registry::TrainDateHandle), EngineError> {
        let key = self
            .orders
            .train_date_of(order_id)
            .ok_or_else(|| EngineError::NotFound(format!("order {order_id} not found")))?;
        let handle = self.handle(&key)?;
        Ok((key, handle))
    }
}

/// The sold-out gate: refuses a hold at once, without entering the mailbox,
/// when the published view shows too few seats for some class, saying as
/// the actor would whether each segment alone had enough (the view holds
/// every journey's count, single segments included). The view lags by at
/// most one batch, so it may refuse a moment before seats come back; it
/// never admits a hold the actor would then oversell, because the actor
/// decides every hold it lets through on exact state.
fn sold_out_gate(
    view: &crate::actor::view::AvailabilityView,
    passengers: &[PassengerRequest],
    from: usize,
    to: usize,
) -> Result<(), EngineError> {
    for class in SeatClass::ALL {
        let requested = passengers.iter().filter(|passenger| passenger.class == class).count() as u32;
        if requested == 0 || view.plan.class_slot(class).is_none() {
            continue;
        }
        if view.remaining(class, from, to) < requested {
            let remaining = |from, to| view.remaining(class, from, to);
            return Err(EngineError::Rejected(Rejection::sold_out(class, requested, from, to, remaining)));
        }
    }
    Ok(())
}
