//! Workflow steps and reads for train-dates another cluster node serves.
//!
//! A waitlist request's choices, and a ticket change's old and new
//! train-dates, may live on different nodes. The engine never reaches a
//! remote actor itself: it asks the cluster layer (`Peers`, installed with
//! `set_peers`) to carry one [`PeerCall`] to the node serving a slot, and
//! that node answers it from its own actors (`answer_peer`). Every call is
//! one actor's step or read, as it would be locally, so the workflows keep
//! their rule: one step, one state, idempotent. A call that cannot be
//! carried (the owner died, the slot is moving) fails as `SlotMoved`, which
//! the effect driver retries and then parks (`workflow`).

use super::{Engine, EngineError};
use crate::actor::Read;
use crate::actor::replies::OrderSnapshot;
use crate::actor::workflow::{ChoiceFacts, ChoiceQuery, ChoiceStanding, NextChangeStepQuery, Step};
use crate::domain::change::OutgoingChange;
use crate::domain::order::OrderId;
use crate::domain::rejection::Rejection;
use crate::domain::state::TrainDateKey;
use crate::domain::timetable::StationCode;
use crate::domain::waitlist::{ChoiceRef, WaitlistRequestId};
use crate::domain::workflow::{JoinWaitlist, WorkflowRejection};
use crate::error::{NotFound, Unavailable};
use crate::slots::{SlotId, slot_of};
use crate::workflow::Effect;
use crate::workflow::request::{RequestCommand, RequestRejection};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so `Peers` stays object-safe without an async-trait crate.
pub type PeerFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries calls to other nodes; the cluster layer implements it.
pub trait Peers: Send + Sync {
    /// `call`, answered by the node serving `slot` (this node included).
    fn call(&self, slot: SlotId, call: PeerCall) -> PeerFuture<'_, Result<PeerAnswer, EngineError>>;
    /// `call`, answered by every other live node; one result per node.
    fn call_others(&self, call: PeerCall) -> PeerFuture<'_, Vec<Result<PeerAnswer, EngineError>>>;
}

/// One step or read of one state on the node that serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerCall {
    /// A workflow step of train-date `key`.
    Step { key: TrainDateKey, step: Step },
    /// A step of the waitlist request homed on the answering node.
    RequestStep { request_id: WaitlistRequestId, command: RequestCommand },
    /// Whether `join` may be waitlisted on `key` now, for a submission.
    Waitlistable {
        key: TrainDateKey,
        from_station: StationCode,
        to_station: StationCode,
        join: JoinWaitlist,
        now_ms: u64,
    },
    /// Where a choice stands in `key`'s queue.
    Standing { key: TrainDateKey, choice: ChoiceRef },
    /// The next step of a change out of `source`, from its new train-date.
    NextChangeStep { source: TrainDateKey, change: OutgoingChange },
    /// An order of train-date `key` (a change's new order).
    Order { key: TrainDateKey, order_id: OrderId },
    /// Stop indexes of a journey on `key` (a change's new journey).
    JourneyStops { key: TrainDateKey, from_station: StationCode, to_station: StationCode },
    /// How many open requests `user_id` has homed on the answering node.
    OpenRequests { user_id: String },
}

impl PeerCall {
    /// The slot whose node answers this call; `None` for a call every node answers.
    pub fn slot(&self) -> Option<SlotId> {
        match self {
            PeerCall::Step { key, .. }
            | PeerCall::Waitlistable { key, .. }
            | PeerCall::Standing { key, .. }
            | PeerCall::Order { key, .. }
            | PeerCall::JourneyStops { key, .. } => Some(slot_of(key)),
            PeerCall::RequestStep { request_id, .. } => Some(request_id.home_slot()),
            PeerCall::NextChangeStep { change, .. } => Some(slot_of(&change.target.train_date)),
            PeerCall::OpenRequests { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerAnswer {
    /// A step was decided and is durable (or was a repeat).
    Done {
        events: usize,
    },
    Waitlistable {
        from: usize,
        to: usize,
        facts: ChoiceFacts,
    },
    Standing(ChoiceStanding),
    NextChangeStep(Option<Effect>),
    Order(Box<OrderSnapshot>),
    JourneyStops {
        from: usize,
        to: usize,
    },
    OpenRequests(usize),
}

/// Why a peer call failed, as it crosses the wire: the `EngineError`
/// variants callers branch on, and the rest as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerFailure {
    /// The node asked does not serve the state now, or could not take the
    /// call now (overloaded, read-only, stopping): retry.
    Retry(String),
    TrainDateNotOpen(TrainDateKey),
    OrderNotFound(OrderId),
    RequestNotFound(WaitlistRequestId),
    Invalid {
        field: String,
        reason: String,
    },
    Rejected(Rejection),
    WorkflowRejected(WorkflowRejection),
    RequestRejected(RequestRejection),
    /// Anything else: a bug or a broken invariant on the other node.
    Failed(String),
}

impl PeerFailure {
    pub fn of(error: EngineError) -> Self {
        match error {
            EngineError::InvalidArgument { field, reason } => PeerFailure::Invalid { field, reason },
            EngineError::NotFound(NotFound::TrainDate(key)) => PeerFailure::TrainDateNotOpen(key),
            EngineError::NotFound(NotFound::Order(order_id)) => PeerFailure::OrderNotFound(order_id),
            EngineError::NotFound(NotFound::WaitlistRequest(request_id)) => PeerFailure::RequestNotFound(request_id),
            EngineError::Rejected(rejection) => PeerFailure::Rejected(rejection),
            EngineError::WorkflowRejected(rejection) => PeerFailure::WorkflowRejected(rejection),
            EngineError::RequestRejected(rejection) => PeerFailure::RequestRejected(rejection),
            error @ (EngineError::Overloaded(_) | EngineError::Unavailable(_) | EngineError::DeadlineExceeded) => {
                PeerFailure::Retry(error.to_string())
            }
            error @ (EngineError::NotFound(NotFound::Train(_)) | EngineError::InvariantBroken { .. }) => {
                PeerFailure::Failed(error.to_string())
            }
        }
    }

    /// The failure as this node's error for a call about `call`.
    pub fn into_error(self, call: &PeerCall) -> EngineError {
        match self {
            PeerFailure::Retry(detail) | PeerFailure::Failed(detail) => moved(call, detail),
            PeerFailure::TrainDateNotOpen(key) => NotFound::TrainDate(key).into(),
            PeerFailure::OrderNotFound(order_id) => NotFound::Order(order_id).into(),
            PeerFailure::RequestNotFound(request_id) => NotFound::WaitlistRequest(request_id).into(),
            PeerFailure::Invalid { field, reason } => EngineError::InvalidArgument { field, reason },
            PeerFailure::Rejected(rejection) => rejection.into(),
            PeerFailure::WorkflowRejected(rejection) => rejection.into(),
            PeerFailure::RequestRejected(rejection) => rejection.into(),
        }
    }
}

/// The node serving `call`'s state could not take it now: the caller retries.
pub fn moved(call: &PeerCall, detail: impl Into<String>) -> EngineError {
    Unavailable::Peer { slot: call.slot(), detail: detail.into() }.into()
}

impl Engine {
    /// Installs the cluster layer's carrier; once, before `start_workflows`.
    pub fn set_peers(&self, peers: std::sync::Arc<dyn Peers>) {
        let _ = self.peers.set(peers);
    }

    /// `call` on the node serving it, which may be this one: answered here
    /// on a single node, else by the cluster layer's carrier, which answers
    /// here too when this node serves the slot and has finished recovering
    /// it. A slot being adopted here is answered "retry" until ready, rather
    /// than taken for a train-date that is not open.
    pub(super) async fn peer(&self, call: PeerCall) -> Result<PeerAnswer, EngineError> {
        let (Some(peers), Some(slot)) = (self.peers.get(), call.slot()) else {
            return self.answer_peer(call).await;
        };
        peers.call(slot, call).await
    }

    /// Answers a call another node carried here, from this node's states only.
    pub async fn answer_peer(&self, call: PeerCall) -> Result<PeerAnswer, EngineError> {
        if let Some(slot) = call.slot()
            && self.slots.as_ref().is_some_and(|slots| !slots.is_ready(slot))
        {
            return Err(moved(&call, "this node is not serving the slot now"));
        }
        match call {
            PeerCall::Step { key, step } => {
                self.step(&key, step, None).await.map(|done| PeerAnswer::Done { events: done.events })
            }
            PeerCall::RequestStep { request_id, command } => {
                let home = self.waitlist.home_of(&request_id).ok_or(NotFound::WaitlistRequest(request_id))?;
                let step = Step::Request { request_id, command };
                self.step(&home, step, None).await.map(|done| PeerAnswer::Done { events: done.events })
            }
            PeerCall::Waitlistable { key, from_station, to_station, join, now_ms } => {
                let (from, to, facts) = self.local_choice_facts(&key, &from_station, &to_station, join, now_ms).await?;
                Ok(PeerAnswer::Waitlistable { from, to, facts })
            }
            PeerCall::Standing { key, choice } => {
                let handle = self.handle(&key)?;
                Ok(PeerAnswer::Standing(handle.ask(&key, Read(ChoiceQuery(choice))).await??))
            }
            PeerCall::NextChangeStep { source, change } => {
                let target = change.target.train_date.clone();
                let handle = self.handle(&target)?;
                let query = NextChangeStepQuery { source, change };
                Ok(PeerAnswer::NextChangeStep(handle.ask(&target, Read(query)).await??))
            }
            PeerCall::Order { order_id, .. } => Ok(PeerAnswer::Order(Box::new(self.get_order(order_id, None).await?))),
            PeerCall::JourneyStops { key, from_station, to_station } => {
                let view = self.handle(&key)?.shared.view.load_full();
                let (from, to) = super::search::journey_stops(&view, &from_station, &to_station)?;
                Ok(PeerAnswer::JourneyStops { from, to })
            }
            PeerCall::OpenRequests { user_id } => {
                Ok(PeerAnswer::OpenRequests(self.local_open_requests(&user_id).await?))
            }
        }
    }

    /// The open requests `user_id` has homed on every other node.
    pub(super) async fn open_requests_elsewhere(&self, user_id: &str) -> Result<usize, EngineError> {
        let Some(peers) = self.peers.get() else { return Ok(0) };
        let mut open = 0;
        for answer in peers.call_others(PeerCall::OpenRequests { user_id: user_id.to_owned() }).await {
            match answer? {
                PeerAnswer::OpenRequests(count) => open += count,
                other => return Err(unexpected(other)),
            }
        }
        Ok(open)
    }
}

/// A peer answered a call with another call's answer: a bug on one side,
/// reported as the peer being unable to serve the call.
pub(super) fn unexpected(answer: PeerAnswer) -> EngineError {
    Unavailable::Peer { slot: None, detail: format!("a peer answered with {answer:?}") }.into()
}
