//! Ticket change (改签) as the API sees it: one call that starts the change
//! and waits, bounded, for its outcome while the steps run between the two
//! train-dates.

use super::peers::{PeerAnswer, PeerCall, unexpected};
use super::{Engine, EngineError};
use crate::actor::replies::OrderSnapshot;
use crate::actor::workflow::Step;
use crate::domain::change::{ChangeId, ChangeTarget};
use crate::domain::order::OrderId;
use crate::domain::seat_class::SeatClass;
use crate::domain::state::TrainDateKey;
use crate::domain::timetable::StationCode;
use crate::domain::workflow::{ChangeInPlace, StartChange, WorkflowCommand};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest a ChangeOrder call waits for the change to commit or abort; the
/// steps take milliseconds, and past it the caller reads the order instead.
pub const CHANGE_WAIT_MS: u64 = 3_000;
/// How often the wait looks at the old order.
const CHANGE_POLL_MS: u64 = 10;

#[derive(Clone, Debug)]
pub struct ChangeInput {
    pub deadline: Option<Instant>,
    pub order_id: OrderId,
    /// `Some`: only that user's order is found.
    pub user_id: Option<String>,
    pub target: TrainDateKey,
    /// `None`: the old tickets' class.
    pub class: Option<SeatClass>,
    /// `None`: the old journey's stations.
    pub from_station: Option<String>,
    pub to_station: Option<String>,
}

/// Where a change stands when ChangeOrder answers.
#[derive(Clone, Debug)]
pub struct ChangeView {
    pub change_id: ChangeId,
    /// The old order, as it stands.
    pub old_order: OrderSnapshot,
    /// The new order once the change committed and its tickets are confirmed.
    pub new_order: Option<OrderSnapshot>,
    pub new_order_id: OrderId,
    pub outcome: ChangeProgress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeProgress {
    /// Still running after `CHANGE_WAIT_MS`; read the orders later.
    InFlight,
    Committed,
    /// The new seats could not be had: the old tickets stand as they were.
    Aborted,
}

impl Engine {
    pub async fn change_order(&self, input: ChangeInput) -> Result<ChangeView, EngineError> {
        let old = self.get_order(input.order_id, input.user_id.as_deref()).await?;
        let from_station = match &input.from_station {
            Some(text) => self.resolve_station("from_station", text)?,
            None => old.from_station.clone(),
        };
        let to_station = match &input.to_station {
            Some(text) => self.resolve_station("to_station", text)?,
            None => old.to_station.clone(),
        };
        let (from, to) = self.target_stops(&input.target, &from_station, &to_station).await?;
        let class = match input.class {
            Some(class) => class,
            None => old
                .order
                .tickets
                .first()
                .map(|ticket| ticket.class)
                .ok_or_else(|| EngineError::invalid("class", "the order has no tickets"))?,
        };
        let change_id = ChangeId(Uuid::now_v7());
        let new_order_id = OrderId::generate();
        let policy = self.settings.actor.policy;
        let command = if input.target == old.key {
            WorkflowCommand::ChangeInPlace(ChangeInPlace {
                change_id,
                order_id: input.order_id,
                user_id: input.user_id.clone(),
                from,
                to,
                class,
                new_order_id,
                policy,
            })
        } else {
            let target = ChangeTarget {
                train_date: input.target.clone(),
                from: from as u8,
                to: to as u8,
                class,
                new_order_id,
                policy,
            };
            WorkflowCommand::StartChange(StartChange {
                change_id,
                order_id: input.order_id,
                user_id: input.user_id.clone(),
                target,
            })
        };
        self.step(&old.key, Step::TrainDate(command), input.deadline).await?;
        self.await_change(change_id, input.order_id, &input.target, new_order_id).await
    }

    /// The journey's stop indexes on the change's new train-date, here or on its node.
    async fn target_stops(
        &self,
        target: &TrainDateKey,
        from_station: &StationCode,
        to_station: &StationCode,
    ) -> Result<(usize, usize), EngineError> {
        let call = PeerCall::JourneyStops {
            key: target.clone(),
            from_station: from_station.clone(),
            to_station: to_station.clone(),
        };
        match self.peer(call).await? {
            PeerAnswer::JourneyStops { from, to } => Ok((from, to)),
            other => Err(unexpected(other)),
        }
    }

    /// The change's new order, here or on its train-date's node.
    async fn new_order(&self, target: &TrainDateKey, order_id: OrderId) -> Option<OrderSnapshot> {
        match self.peer(PeerCall::Order { key: target.clone(), order_id }).await {
            Ok(PeerAnswer::Order(order)) => Some(*order),
            Ok(_) | Err(_) => None,
        }
    }

    /// Reads the old order until the change has ended there and, if it
    /// committed, the new order is confirmed; or `CHANGE_WAIT_MS` passes.
    async fn await_change(
        &self,
        change_id: ChangeId,
        order_id: OrderId,
        target: &TrainDateKey,
        new_order_id: OrderId,
    ) -> Result<ChangeView, EngineError> {
        let started = Instant::now();
        loop {
            let old_order = self.get_order(order_id, None).await?;
            let new_order = self.new_order(target, new_order_id).await;
            let change = &old_order.order.change;
            let outcome = match (change.changing, change.changed_to, &new_order) {
                (None, Some(_), Some(_)) => ChangeProgress::Committed,
                (None, None, None) => ChangeProgress::Aborted,
                _ => ChangeProgress::InFlight,
            };
            let waited_out = started.elapsed() >= Duration::from_millis(CHANGE_WAIT_MS);
            if outcome != ChangeProgress::InFlight || waited_out {
                return Ok(ChangeView { change_id, old_order, new_order, new_order_id, outcome });
            }
            tokio::time::sleep(Duration::from_millis(CHANGE_POLL_MS)).await;
        }
    }
}
