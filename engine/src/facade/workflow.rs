//! The workflow driver: delivers the effects actors hand on once a step's
//! events are durable to the state each names, outside the deterministic
//! core; and, at start-up after recovery, sends every step the recovered
//! states still owe each other. Every step is idempotent, so a repeat is
//! harmless and a lost one is found again by the next start-up.

use super::{Engine, EngineError};
use crate::actor::Read;
use crate::actor::workflow::{
    EFFECTS_QUEUE_MAX, ExecuteStep, NextChangeStepQuery, PendingEffectsQuery, Step, StepDone,
};
use crate::domain::state::TrainDateKey;
use crate::domain::workflow::WorkflowCommand;
use crate::error::NotFound;
use crate::workflow::Effect;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, info, warn};

/// Effects delivered at once: enough to keep every arbiter busy, few
/// enough that a burst (a refund serving a long queue) cannot flood the
/// mailboxes the bookings use.
pub const EFFECT_DELIVERIES_IN_FLIGHT_MAX: usize = 64;
/// Attempts to deliver one effect while its train-date is overloaded or
/// unavailable; past it the step waits for the next start-up's recovery.
pub const EFFECT_ATTEMPTS_MAX: u32 = 6;
/// First wait between attempts, doubled each time (100 ms .. 3.2 s).
pub const EFFECT_RETRY_FIRST_MS: u64 = 100;

/// The channel actors hand effects to, and its receiving end for the driver.
pub(super) fn effect_channel() -> (mpsc::Sender<Effect>, mpsc::Receiver<Effect>) {
    mpsc::channel(EFFECTS_QUEUE_MAX)
}

impl Engine {
    /// Starts delivering effects, then sends every step the recovered states
    /// still owe each other. Call once, after `recover`.
    pub async fn start_workflows(self: &Arc<Self>) {
        let Some(inbox) = self.effects_inbox.lock().expect("effects inbox lock").take() else { return };
        tokio::spawn(drive(Arc::downgrade(self), inbox));
        let owed = self.pending_effects().await;
        if !owed.is_empty() {
            info!(steps = owed.len(), "sending the workflow steps recovery found pending");
        }
        for effect in owed {
            if self.effects.send(effect).await.is_err() {
                return;
            }
        }
    }

    /// Every step the running train-dates and their requests still owe.
    async fn pending_effects(&self) -> Vec<Effect> {
        let mut owed = Vec::new();
        for key in self.registry.sorted_keys() {
            let Ok(handle) = self.handle(&key) else { continue };
            let pending = match handle.ask(&key, Read(PendingEffectsQuery)).await {
                Ok(Ok(pending)) => pending,
                Ok(Err(error)) | Err(error) => {
                    warn!(train_date = %key, %error, "could not read the steps it owes");
                    continue;
                }
            };
            owed.extend(pending.effects);
            for change in pending.changes {
                owed.extend(self.next_change_step(&key, change).await);
            }
        }
        owed
    }

    /// The next step of one change out of `source`, asked of its new train-date.
    async fn next_change_step(
        &self,
        source: &TrainDateKey,
        change: crate::domain::change::OutgoingChange,
    ) -> Option<Effect> {
        let target = change.target.train_date.clone();
        let change_id = change.change_id;
        let not_started = change.outcome.is_none();
        let Ok(handle) = self.handle(&target) else {
            // The new train-date is gone (archived): nothing there to take, release or complete.
            return not_started.then(|| Effect::TrainDate {
                key: source.clone(),
                command: WorkflowCommand::AbortChange { change_id },
            });
        };
        let query = NextChangeStepQuery { source: source.clone(), change };
        handle.ask(&target, Read(query)).await.ok()?.ok()?
    }

    /// Sends one step to the state it names and awaits its durable answer.
    pub(super) async fn step(
        &self,
        key: &TrainDateKey,
        step: Step,
        deadline: Option<std::time::Instant>,
    ) -> Result<StepDone, EngineError> {
        let handle = self.handle(key)?;
        Ok(handle.ask(key, ExecuteStep { deadline, step }).await??)
    }

    /// Delivers one effect, retrying while its state is overloaded or unavailable.
    async fn deliver(&self, effect: Effect) {
        let mut delay_ms = EFFECT_RETRY_FIRST_MS;
        for attempt in 1..=EFFECT_ATTEMPTS_MAX {
            let (key, step) = match self.route(&effect) {
                Ok(routed) => routed,
                Err(error) => {
                    warn!(?effect, %error, "workflow step has nowhere to go");
                    return;
                }
            };
            match self.step(&key, step, None).await {
                Ok(_) => return,
                Err(EngineError::NotFound(NotFound::TrainDate(_))) => {
                    self.deliver_to_closed(&effect);
                    return;
                }
                Err(
                    error @ (EngineError::Overloaded(_) | EngineError::Unavailable(_) | EngineError::DeadlineExceeded),
                ) if attempt < EFFECT_ATTEMPTS_MAX => {
                    debug!(?effect, %error, attempt, "workflow step not taken; retrying");
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    delay_ms *= 2;
                }
                // A refusal is an answer: the actor already sent on what it asks.
                Err(error @ (EngineError::WorkflowRejected(_) | EngineError::RequestRejected(_))) => {
                    debug!(?effect, %error, "workflow step refused");
                    return;
                }
                Err(error) => {
                    warn!(?effect, %error, attempt, "workflow step not delivered; the next start-up sends it again");
                    metrics::counter!("seat_workflow_steps_undelivered_total").increment(1);
                    return;
                }
            }
        }
    }

    /// Which train-date decides `effect`: a request's step goes to its home.
    fn route(&self, effect: &Effect) -> Result<(TrainDateKey, Step), EngineError> {
        match effect {
            Effect::TrainDate { key, command } => Ok((key.clone(), Step::TrainDate(command.clone()))),
            Effect::Request { request_id, command } => {
                let key = self.waitlist.home_of(request_id).ok_or(NotFound::WaitlistRequest(*request_id))?;
                Ok((key, Step::Request { request_id: *request_id, command: command.clone() }))
            }
        }
    }

    /// A step for a train-date that is not open: change seats it cannot
    /// take are refused, so the change aborts on its old train-date.
    fn deliver_to_closed(&self, effect: &Effect) {
        let Effect::TrainDate { command: WorkflowCommand::TakeChangeSeats(take), .. } = effect else {
            warn!(?effect, "workflow step for a train-date that is not open");
            return;
        };
        let abort = Effect::TrainDate {
            key: take.source.clone(),
            command: WorkflowCommand::AbortChange { change_id: take.change_id },
        };
        if self.effects.try_send(abort).is_err() {
            metrics::counter!("seat_workflow_effects_dropped_total").increment(1);
        }
    }
}

/// Takes effects off the queue and delivers up to
/// `EFFECT_DELIVERIES_IN_FLIGHT_MAX` at once, until the engine is dropped.
async fn drive(engine: Weak<Engine>, mut inbox: mpsc::Receiver<Effect>) {
    let permits = Arc::new(Semaphore::new(EFFECT_DELIVERIES_IN_FLIGHT_MAX));
    while let Some(effect) = inbox.recv().await {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
        let Some(engine) = engine.upgrade() else { return };
        tokio::spawn(async move {
            engine.deliver(effect).await;
            drop(permit);
        });
    }
}
