//! The actor's side of the waitlist and ticket-change workflows: `Step`s
//! decided through the same write path as bookings (decide, apply, journal,
//! durable reply), the effects each step's events ask of other states,
//! handed to the facade's driver only once those events are durable, and
//! the timer that expires waitlist choices and requests past their cut-off.

use super::replies::OrderSnapshot;
use super::{CommandError, TrainDateActor, answered, expired};
use crate::domain::event::Event;
use crate::domain::waitlist::WaitlistRequestId;
use crate::domain::workflow::WorkflowCommand;
use crate::durability::AckMode;
use crate::workflow::request::{RequestCommand, WaitlistRequest, decide_request};
use crate::workflow::{Effect, effects_of_events, effects_of_rejection, effects_of_request_events, grant_reply};
use actix::{AsyncContext, Context, Handler, Message, ResponseActFuture};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::warn;

/// Most effects waiting for the driver, over all actors. A step asks at most
/// a few (one per choice of a request); the driver delivers them at mailbox
/// speed, so a full queue means the driver is stuck: further effects are
/// dropped, counted, and sent again by the next start-up's recovery.
pub const EFFECTS_QUEUE_MAX: usize = 65_536;

/// Most request records one expiry sweep expires; more re-arm the timer at once.
pub const REQUEST_EXPIRIES_PER_SWEEP_MAX: usize = 256;

/// Where actors hand the effects of durable steps; the facade's driver reads it.
pub type EffectSender = mpsc::Sender<Effect>;

/// One waitlist or ticket-change step for this train-date to decide.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Step {
    /// A step of the train-date itself (`decide_workflow`).
    TrainDate(WorkflowCommand),
    /// A step of a waitlist request homed here (`decide_request`).
    Request { request_id: WaitlistRequestId, command: RequestCommand },
}

/// A step to decide, apply, journal and answer once durable.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<StepDone, CommandError>")]
pub struct ExecuteStep {
    /// Dropped undecided once this has passed.
    pub deadline: Option<Instant>,
    pub step: Step,
}

/// What a step did, and what the caller may show of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepDone {
    /// Events applied: 0 for a repeat that changed nothing.
    pub events: usize,
    /// The request record after a request step.
    pub request: Option<WaitlistRequest>,
    /// The order a change step was about, as it stands after it.
    pub order: Option<OrderSnapshot>,
}

impl Handler<ExecuteStep> for TrainDateActor {
    type Result = ResponseActFuture<TrainDateActor, Result<StepDone, CommandError>>;

    fn handle(&mut self, msg: ExecuteStep, ctx: &mut Context<Self>) -> Self::Result {
        self.in_turn(ctx, |actor, ctx| {
            if expired(msg.deadline) {
                return answered(Err(CommandError::DeadlineExceeded));
            }
            let (value, ack) = actor.step(&msg.step, ctx);
            actor.reply_when_durable(value, ack, ctx)
        })
    }
}

impl TrainDateActor {
    fn step(
        &mut self,
        step: &Step,
        ctx: &mut Context<Self>,
    ) -> (Result<StepDone, CommandError>, Option<super::durable::PendingAck>) {
        match step {
            Step::TrainDate(command) => {
                let (result, ack) = self.write_with(ctx, |state, now_ms| {
                    crate::decide::decide_workflow(state, command, now_ms).map_err(CommandError::from)
                });
                if let Err(CommandError::WorkflowRejected(rejection)) = &result {
                    let effects = effects_of_rejection(&self.state.key, command, rejection);
                    self.queue_effects(effects);
                }
                let order = self.step_order(command);
                (result.map(|events| StepDone { events, request: None, order }), ack)
            }
            Step::Request { request_id, command } => {
                let rules = std::sync::Arc::clone(&self.state.rules);
                let (result, ack) = self.write_with(ctx, |state, now_ms| {
                    let record = state.waitlist_requests.get(request_id);
                    let events = decide_request(record, command, &rules.waitlist, now_ms)?;
                    Ok(events
                        .into_iter()
                        .map(|event| Event::WaitlistRequest { request_id: *request_id, event })
                        .collect())
                });
                let record = self.state.waitlist_requests.get(request_id).cloned();
                // A repeated ask is answered again: the first answer may have been lost.
                if let (Ok(0), RequestCommand::AskGrant { choice }, Some(record)) = (&result, command, &record) {
                    self.queue_effects(vec![grant_reply(record, *choice)]);
                }
                if !matches!(result, Ok(0)) {
                    self.schedule_workflow_expiry(ctx);
                }
                (result.map(|events| StepDone { events, request: record, order: None }), ack)
            }
        }
    }

    /// The order a change step is about: the old order on its start, the new
    /// one for a change in place.
    fn step_order(&self, command: &WorkflowCommand) -> Option<OrderSnapshot> {
        let order_id = match command {
            WorkflowCommand::StartChange(start) => start.order_id,
            WorkflowCommand::ChangeInPlace(change) => change.new_order_id,
            _ => return None,
        };
        self.state.order(&order_id).map(|order| OrderSnapshot::of(&self.state, order))
    }

    /// What the events just applied ask of other states, by the rules in `workflow`.
    pub(super) fn effects_of(&self, events: &[Event]) -> Vec<Effect> {
        let mut effects = effects_of_events(&self.state.key, &self.state, events);
        let mut by_request: BTreeMap<WaitlistRequestId, Vec<_>> = BTreeMap::new();
        for event in events {
            if let Event::WaitlistRequest { request_id, event } = event {
                by_request.entry(*request_id).or_default().push(event.clone());
            }
        }
        for (request_id, request_events) in by_request {
            if let Some(record) = self.state.waitlist_requests.get(&request_id) {
                effects.extend(effects_of_request_events(record, &request_events));
            }
        }
        effects
    }

    /// Keeps effects until the events that caused them are durable (the
    /// state's last seq now), then hands them to the driver.
    pub(super) fn queue_effects(&mut self, effects: Vec<Effect>) {
        let needs_seq = self.state.last_seq;
        self.pending_effects.extend(effects.into_iter().map(|effect| (needs_seq, effect)));
        self.release_effects();
    }

    /// Hands every effect whose events are durable to the driver.
    pub(super) fn release_effects(&mut self) {
        if self.pending_effects.is_empty() {
            return;
        }
        let durable_seq = match self.persistence.as_ref().map(|p| p.sink.ack_mode) {
            // In memory (engine tests, benchmarks): applied is as durable as it gets.
            None | Some(AckMode::Memory) => u64::MAX,
            Some(AckMode::Durable) => self.durable_seq.load(Ordering::Acquire),
        };
        let due = self.pending_effects.iter().take_while(|(needs_seq, _)| *needs_seq <= durable_seq).count();
        for (_, effect) in self.pending_effects.drain(..due) {
            let Some(sender) = &self.effects else { continue };
            if sender.try_send(effect).is_err() {
                warn!(train_date = %self.state.key, "workflow effect queue full; the step is sent again at the next start");
                metrics::counter!("seat_workflow_effects_dropped_total").increment(1);
            }
        }
    }

    /// Keeps one timer armed for the earliest cut-off of a waiting choice or
    /// an open request homed here.
    pub(super) fn schedule_workflow_expiry(&mut self, ctx: &mut Context<Self>) {
        let Some(next_ms) = self.next_workflow_deadline_ms() else { return };
        if self.workflow_timer.as_ref().is_some_and(|(armed_for_ms, _)| *armed_for_ms <= next_ms) {
            return;
        }
        if let Some((_, handle)) = self.workflow_timer.take() {
            ctx.cancel_future(handle);
        }
        let delay_ms = next_ms.saturating_sub(self.clock.now_ms()) + super::EXPIRY_COALESCE_MS;
        let handle = ctx.run_later(Duration::from_millis(delay_ms), |actor, ctx| {
            actor.workflow_timer = None;
            actor.expire_workflows_due(ctx);
            actor.publish_if_due();
        });
        self.workflow_timer = Some((next_ms, handle));
    }

    fn next_workflow_deadline_ms(&self) -> Option<u64> {
        [self.state.waitlist.next_deadline_ms(), self.state.next_request_deadline_ms()].into_iter().flatten().min()
    }

    /// Expires every waiting choice and open request past its cut-off.
    /// Nobody waits on expiries, so they are not acknowledged.
    fn expire_workflows_due(&mut self, ctx: &mut Context<Self>) {
        let now_ms = self.clock.now_ms();
        loop {
            let (result, ack) = self.write_with(ctx, |state, now_ms| {
                crate::decide::decide_workflow(state, &WorkflowCommand::ExpireWaitlist, now_ms)
                    .map_err(CommandError::from)
            });
            self.watch_unacknowledged(ack, ctx);
            if result.unwrap_or(0) < crate::decide::WAITLIST_EXPIRIES_PER_COMMAND_MAX {
                break;
            }
        }
        let due: Vec<WaitlistRequestId> =
            self.state.requests_due(now_ms).take(REQUEST_EXPIRIES_PER_SWEEP_MAX).collect();
        for request_id in due {
            let step = Step::Request { request_id, command: RequestCommand::Expire };
            let (_, ack) = self.step(&step, ctx);
            self.watch_unacknowledged(ack, ctx);
        }
        self.schedule_workflow_expiry(ctx);
    }
}

/// Recovery: what this train-date and the requests homed here still owe
/// others, and its changes that have not ended (their next step needs the
/// new train-date's record too, `NextChangeStepQuery`).
#[derive(Debug, Clone, Copy)]
pub struct PendingEffectsQuery;

#[derive(Clone, Debug, Default)]
pub struct PendingEffects {
    pub effects: Vec<Effect>,
    pub changes: Vec<crate::domain::change::OutgoingChange>,
    pub requests: Vec<WaitlistRequest>,
}

impl super::Query for PendingEffectsQuery {
    type Answer = PendingEffects;
    fn answer(self, state: &crate::domain::state::TrainDateState) -> Self::Answer {
        let mut effects = crate::workflow::pending_waitlist_effects(state);
        for record in state.waitlist_requests.values() {
            effects.extend(crate::workflow::pending_request_effects(record));
        }
        // Ended changes answer `None` to `NextChangeStepQuery`; the state does not
        // know whether the new train-date finished its part.
        let changes = state.changes.outgoing.values().cloned().collect();
        PendingEffects { effects, changes, requests: state.waitlist_requests.values().cloned().collect() }
    }
}

/// On a change's new train-date: the step the change needs next, from
/// both records of it (`workflow::next_change_step`).
#[derive(Debug, Clone)]
pub struct NextChangeStepQuery {
    pub source: crate::domain::state::TrainDateKey,
    pub change: crate::domain::change::OutgoingChange,
}

impl super::Query for NextChangeStepQuery {
    type Answer = Option<Effect>;
    fn answer(self, state: &crate::domain::state::TrainDateState) -> Self::Answer {
        crate::workflow::next_change_step(&self.source, &self.change, state)
    }
}

/// A waitlist request homed here.
#[derive(Debug, Clone, Copy)]
pub struct RequestQuery(pub WaitlistRequestId);

impl super::Query for RequestQuery {
    type Answer = Option<WaitlistRequest>;
    fn answer(self, state: &crate::domain::state::TrainDateState) -> Self::Answer {
        state.waitlist_requests.get(&self.0).cloned()
    }
}

/// Where one choice stands in this train-date's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChoiceStanding {
    /// Not joined (yet): the request is not active, or its join is on its way.
    NotJoined,
    /// Waiting; `ahead` active choices are before it in its class's queue.
    Waiting {
        ahead: usize,
    },
    /// Seats reserved, the request's record is deciding.
    Reserved,
    Ended(crate::domain::waitlist::ChoiceEnd),
}

#[derive(Debug, Clone, Copy)]
pub struct ChoiceQuery(pub crate::domain::waitlist::ChoiceRef);

impl super::Query for ChoiceQuery {
    type Answer = ChoiceStanding;
    fn answer(self, state: &crate::domain::state::TrainDateState) -> Self::Answer {
        if let Some(end) = state.waitlist.ended(&self.0) {
            return ChoiceStanding::Ended(end);
        }
        match state.waitlist.choice(&self.0) {
            None => ChoiceStanding::NotJoined,
            Some(choice) if choice.reserved.is_some() => ChoiceStanding::Reserved,
            Some(_) => ChoiceStanding::Waiting { ahead: state.waitlist.ahead_of(&self.0).unwrap_or(0) },
        }
    }
}

/// Facts the facade needs to build a request's choice on this train-date,
/// after checking it may be waitlisted now (`check_waitlistable`).
#[derive(Debug, Clone)]
pub struct WaitlistableQuery {
    /// `deadline_ms` 0: the latest the departure allows.
    pub join: crate::domain::workflow::JoinWaitlist,
    pub now_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChoiceFacts {
    /// One ticket's fare.
    pub fare_fen: u64,
    pub from_station: crate::domain::timetable::StationCode,
    pub to_station: crate::domain::timetable::StationCode,
    /// The latest cut-off this departure allows.
    pub latest_deadline_ms: u64,
}

impl super::Query for WaitlistableQuery {
    type Answer = Result<ChoiceFacts, crate::domain::workflow::WorkflowRejection>;
    fn answer(self, state: &crate::domain::state::TrainDateState) -> Self::Answer {
        let latest_deadline_ms = state.rules.waitlist.deadline.latest_ms(state.departure_ms(self.join.from));
        let mut join = self.join;
        if join.deadline_ms == 0 {
            // No cut-off picked: the latest this departure allows.
            join.deadline_ms = latest_deadline_ms;
        }
        crate::decide::check_waitlistable(state, &join, self.now_ms)?;
        Ok(ChoiceFacts {
            fare_fen: state.plan.fare_fen(join.class, join.from, join.to),
            from_station: state.stop_station(join.from).clone(),
            to_station: state.stop_station(join.to).clone(),
            latest_deadline_ms,
        })
    }
}
