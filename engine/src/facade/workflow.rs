//! The workflow driver: delivers the effects actors hand on once a step's
//! events are durable to the state each names, outside the deterministic
//! core, on this node or (in a cluster) on the node serving it (`peers`);
//! and, at start-up after recovery and whenever this node adopts slots,
//! sends every step the recovered states still owe each other. An effect
//! that cannot be delivered within its attempts (its node is down or the
//! slot is moving) is parked and sent again every `PARKED_RETRY_MS`. Every
//! step is idempotent, so a repeat is harmless.

use super::peers::{PeerAnswer, PeerCall};
use super::{Engine, EngineError};
use crate::actor::Read;
use crate::actor::workflow::{EFFECTS_QUEUE_MAX, ExecuteStep, PendingEffectsQuery, Step, StepDone};
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
/// How often parked effects are sent again: a failover takes a lease TTL
/// or two (seconds), so sooner only spins.
pub const PARKED_RETRY_MS: u64 = 1_000;
/// Most effects parked at once. Past it an effect is dropped and counted;
/// the state that owes it still records the step, so the next recovery of
/// that state (a start-up, or a slot adoption) sends it again.
pub const PARKED_EFFECTS_MAX: usize = 65_536;

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
        tokio::spawn(resend_parked(Arc::downgrade(self)));
        self.resume_workflows(self.registry.sorted_keys()).await;
    }

    /// Sends every step the train-dates `keys` (just recovered here) and
    /// their requests still owe.
    pub async fn resume_workflows(&self, keys: Vec<TrainDateKey>) {
        let owed = self.pending_effects(keys).await;
        if !owed.is_empty() {
            info!(steps = owed.len(), "sending the workflow steps recovery found pending");
        }
        for effect in owed {
            if self.effects.send(effect).await.is_err() {
                return;
            }
        }
    }

    /// Every step the train-dates `keys` and their requests still owe.
    async fn pending_effects(&self, keys: Vec<TrainDateKey>) -> Vec<Effect> {
        let mut owed = Vec::new();
        for key in keys {
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
        let change_id = change.change_id;
        let not_started = change.outcome.is_none();
        match self.peer(PeerCall::NextChangeStep { source: source.clone(), change }).await {
            Ok(PeerAnswer::NextChangeStep(next)) => next,
            // The new train-date is gone (archived): nothing there to take, release or complete.
            Err(EngineError::NotFound(NotFound::TrainDate(_))) if not_started => {
                Some(Effect::TrainDate { key: source.clone(), command: WorkflowCommand::AbortChange { change_id } })
            }
            // Busy, or its node is moving: the next recovery of either side asks again.
            Ok(_) | Err(_) => None,
        }
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

    /// Delivers one effect, retrying while its state is overloaded or
    /// unavailable; parks it once the attempts run out.
    async fn deliver(&self, effect: Effect) {
        let mut delay_ms = EFFECT_RETRY_FIRST_MS;
        for attempt in 1..=EFFECT_ATTEMPTS_MAX {
            match self.deliver_once(&effect).await {
                Ok(()) => return,
                Err(EngineError::NotFound(NotFound::TrainDate(_))) => {
                    self.deliver_to_closed(&effect);
                    return;
                }
                Err(
                    error @ (EngineError::Overloaded(_) | EngineError::Unavailable(_) | EngineError::DeadlineExceeded),
                ) => {
                    if attempt == EFFECT_ATTEMPTS_MAX {
                        debug!(?effect, %error, "workflow step not taken; parked");
                        self.park(effect);
                        return;
                    }
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
                    warn!(?effect, %error, attempt, "workflow step not delivered; the next recovery sends it again");
                    metrics::counter!("seat_workflow_steps_undelivered_total").increment(1);
                    return;
                }
            }
        }
    }

    /// One attempt: the step, decided here or by the node serving its
    /// state. A request's step goes to its home (the slot its id names).
    async fn deliver_once(&self, effect: &Effect) -> Result<(), EngineError> {
        let call = match effect {
            Effect::TrainDate { key, command } => {
                PeerCall::Step { key: key.clone(), step: Step::TrainDate(command.clone()) }
            }
            Effect::Request { request_id, command } => {
                PeerCall::RequestStep { request_id: *request_id, command: command.clone() }
            }
        };
        self.peer(call).await.map(drop)
    }

    /// Keeps `effect` for the next `resend_parked` round, within `PARKED_EFFECTS_MAX`.
    fn park(&self, effect: Effect) {
        let mut parked = self.parked.lock().expect("parked effects lock");
        if parked.len() >= PARKED_EFFECTS_MAX {
            metrics::counter!("seat_workflow_effects_dropped_total").increment(1);
            return;
        }
        parked.push(effect);
        metrics::gauge!("seat_workflow_effects_parked").set(parked.len() as f64);
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

/// Every `PARKED_RETRY_MS`, hands the parked effects back to the driver,
/// until the engine is dropped. One that does not fit the queue now stays.
async fn resend_parked(engine: Weak<Engine>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(PARKED_RETRY_MS));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(engine) = engine.upgrade() else { return };
        let parked = std::mem::take(&mut *engine.parked.lock().expect("parked effects lock"));
        let mut kept = Vec::new();
        for effect in parked {
            if let Err(error) = engine.effects.try_send(effect) {
                kept.push(error.into_inner());
            }
        }
        let mut parked = engine.parked.lock().expect("parked effects lock");
        for effect in kept {
            if parked.len() < PARKED_EFFECTS_MAX {
                parked.push(effect);
            } else {
                metrics::counter!("seat_workflow_effects_dropped_total").increment(1);
            }
        }
        metrics::gauge!("seat_workflow_effects_parked").set(parked.len() as f64);
    }
}
