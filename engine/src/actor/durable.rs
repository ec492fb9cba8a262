//! The actor's side of durability: journal hand-off, replies that wait for
//! the commit without blocking the mailbox, and read-only mode with rebuild
//! when the journal fails.

use super::{CommandError, TrainDateActor};
use crate::domain::command::Command;
use crate::domain::event::{Event, EventRecord};
use crate::domain::snapshot::TrainDateSnapshot;
use crate::domain::state::TrainDateState;
use crate::durability::{AckMode, JournalEntry, JournalFailure, JournalMessage};
use crate::error::{Overload, Unavailable};
use actix::{ActorContext, ActorFutureExt, AsyncContext, Context, ResponseActFuture, WrapFuture};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::{error, info, warn};

/// First wait before a failed train-date tries to rebuild from the journal.
const REBUILD_RETRY_FIRST_MS: u64 = 200;
/// Longest wait between rebuild attempts while the database stays away.
const REBUILD_RETRY_MAX_MS: u64 = 5_000;

/// A pending journal acknowledgement and the epoch it was sent in.
pub(super) struct PendingAck {
    receiver: oneshot::Receiver<Result<(), JournalFailure>>,
    epoch: u64,
    /// The state's last seq when the entry was handed off: the reply reveals
    /// it, so it may succeed only once the journal holds that much.
    needs_seq: u64,
}

impl TrainDateActor {
    /// Decides, applies and hands the events to the journal. Returns how
    /// many events were applied and, when the reply must wait for the
    /// journal, its ack.
    pub(super) fn write(
        &mut self,
        command: &Command,
        ctx: &mut Context<Self>,
    ) -> (Result<usize, CommandError>, Option<PendingAck>) {
        self.write_with(ctx, |state, now_ms| crate::decide(state, command, now_ms).map_err(CommandError::from))
    }

    /// `write` for any decision: a booking command, a workflow step or a
    /// request record's step. What the events ask of other states is handed
    /// to the driver once they are durable.
    pub(super) fn write_with(
        &mut self,
        ctx: &mut Context<Self>,
        decide: impl FnOnce(&TrainDateState, u64) -> Result<Vec<Event>, CommandError>,
    ) -> (Result<usize, CommandError>, Option<PendingAck>) {
        if let Some(refusal) = self.refusal() {
            return (Err(refusal), None);
        }
        // Reserve queue space first: once applied, the events must be sent.
        let permit = match self.reserve_journal() {
            Ok(permit) => permit,
            Err(error) => return (Err(error), None),
        };
        let (result, records) = match self.execute(decide, ctx) {
            Ok(records) => (Ok(records.len()), records),
            Err(error) => (Err(error), Vec::new()),
        };
        let events: Vec<Event> = records.iter().map(|record| record.event.clone()).collect();
        let ack = permit.and_then(|permit| self.hand_off(permit, records));
        let effects = self.effects_of(&events);
        self.queue_effects(effects);
        (result, ack)
    }

    /// An ack for replies that reveal state: resolves once everything applied
    /// so far is durable. `None` when it already is.
    pub(super) fn read_barrier(&mut self) -> Result<Option<PendingAck>, CommandError> {
        if self.durable_seq.load(Ordering::Acquire) >= self.state.last_seq {
            return Ok(None);
        }
        let permit = self.reserve_journal()?;
        Ok(permit.and_then(|permit| self.hand_off(permit, Vec::new())))
    }

    /// Why writes are refused now, if they are: handed off or fenced
    /// (SLOT_MOVED, retried at the new owner), or read-only after a failure.
    fn refusal(&self) -> Option<CommandError> {
        let key = self.state.key.clone();
        if let Some((fence, _)) = self.fence.as_ref().filter(|_| self.released) {
            return Some(Unavailable::SlotMoved { key, slot: fence.slot }.into());
        }
        let cause = self.degraded.as_ref()?;
        Some(Unavailable::ReadOnly { key, cause: cause.clone() }.into())
    }

    fn reserve_journal(&self) -> Result<Option<tokio::sync::mpsc::OwnedPermit<JournalMessage>>, CommandError> {
        let Some(persistence) = &self.persistence else { return Ok(None) };
        persistence
            .sink
            .sender
            .clone()
            .try_reserve_owned()
            .map(Some)
            .map_err(|_| Overload::JournalQueueFull { key: self.state.key.clone() }.into())
    }

    /// Sends new events (and a due snapshot) to the writer. Nothing is sent
    /// when there is nothing new and everything is already durable.
    fn hand_off(
        &mut self,
        permit: tokio::sync::mpsc::OwnedPermit<JournalMessage>,
        records: Vec<EventRecord>,
    ) -> Option<PendingAck> {
        let snapshot_every = self.persistence.as_ref().map_or(u64::MAX, |p| p.snapshot_every_events.max(1));
        let snapshot = (self.events_since_snapshot >= snapshot_every).then(|| {
            self.events_since_snapshot = 0;
            TrainDateSnapshot::of(&self.state)
        });
        let durable = self.durable_seq.load(Ordering::Acquire) >= self.state.last_seq;
        if records.is_empty() && snapshot.is_none() && durable {
            return None;
        }
        let (ack, receiver) = oneshot::channel();
        let entry = JournalEntry {
            key: self.state.key.clone(),
            records,
            snapshot,
            durable_seq: Arc::clone(&self.durable_seq),
            ack,
            fence: self.fence.as_ref().map(|(fence, _)| *fence),
        };
        permit.send(JournalMessage::Append(entry));
        Some(PendingAck { receiver, epoch: self.journal_epoch, needs_seq: self.state.last_seq })
    }

    fn ack_mode(&self) -> AckMode {
        self.persistence.as_ref().map_or(AckMode::Memory, |p| p.sink.ack_mode)
    }

    /// The reply to a write: `value` now, or once `ack` says the journal
    /// committed it. The actor keeps handling messages meanwhile.
    pub(super) fn reply_when_durable<T: 'static>(
        &mut self,
        value: Result<T, CommandError>,
        ack: Option<PendingAck>,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<T, CommandError>> {
        let ack = match (ack, self.ack_mode()) {
            (None, _) => return Box::pin(actix::fut::ready(value)),
            (Some(ack), AckMode::Memory) => {
                self.watch_unacknowledged(Some(ack), ctx);
                return Box::pin(actix::fut::ready(value));
            }
            (Some(ack), AckMode::Durable) => ack,
        };
        let (epoch, needs_seq) = (ack.epoch, ack.needs_seq);
        Box::pin(ack.receiver.into_actor(self).map(move |outcome, actor, ctx| match flatten(outcome) {
            Ok(()) if actor.durable_seq.load(Ordering::Acquire) >= needs_seq => {
                actor.release_effects();
                value
            }
            // The entry itself landed, but an earlier one of this train-date
            // did not (a barrier behind a fenced append commits nothing and
            // is answered at once): what this reply reveals is not durable.
            Ok(()) => Err(actor.not_made_durable(epoch, ctx)),
            Err(failure) => Err(actor.journal_failed(epoch, failure, ctx)),
        }))
    }

    /// Stops the actor once everything applied so far has left the journal
    /// queue and committed (or failed), then answers `value`.
    pub(super) fn stop_when_durable<T: 'static>(
        &mut self,
        value: T,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, T> {
        match self.read_barrier() {
            Ok(Some(ack)) => Box::pin(ack.receiver.into_actor(self).map(move |_, _, ctx| {
                ctx.stop();
                value
            })),
            // Durable already, or the queue is full and the writer will
            // finish what it holds on its own: either way nothing more to wait for.
            Ok(None) | Err(_) => {
                ctx.stop();
                Box::pin(actix::fut::ready(value))
            }
        }
    }

    /// Follows an ack nobody waits for, so a failure still switches the
    /// train-date to read-only and rebuild.
    pub(super) fn watch_unacknowledged(&mut self, ack: Option<PendingAck>, ctx: &mut Context<Self>) {
        let Some(ack) = ack else { return };
        let epoch = ack.epoch;
        ctx.spawn(ack.receiver.into_actor(self).map(move |outcome, actor, ctx| match flatten(outcome) {
            Ok(()) => actor.release_effects(),
            Err(failure) => {
                actor.journal_failed(epoch, failure, ctx);
            }
        }));
    }

    /// The error for a reply whose own entry landed after an earlier entry
    /// failed: SLOT_MOVED once fenced, else the earlier failure's rebuild.
    fn not_made_durable(&mut self, epoch: u64, ctx: &mut Context<Self>) -> CommandError {
        if let (true, Some((fence, _))) = (self.released, &self.fence) {
            return Unavailable::SlotMoved { key: self.state.key.clone(), slot: fence.slot }.into();
        }
        self.journal_failed(epoch, JournalFailure::EarlierBatchFailed, ctx)
    }

    /// Enters read-only mode (once per epoch) and schedules the rebuild.
    fn journal_failed(&mut self, epoch: u64, failure: JournalFailure, ctx: &mut Context<Self>) -> CommandError {
        if let (JournalFailure::Fenced { .. }, Some((fence, slots))) = (&failure, &self.fence) {
            // Another node owns the slot now: nothing here may be written
            // again, and no rebuild could change that. The cluster layer
            // stops this actor; until then every write is SLOT_MOVED.
            if !self.released {
                warn!(train_date = %self.state.key, %failure, "fenced by a newer owner; this node stops serving the slot");
                metrics::counter!("seat_cluster_fenced_appends_total").increment(1);
                self.released = true;
                slots.report_fenced(*fence);
            }
            return Unavailable::SlotMoved { key: self.state.key.clone(), slot: fence.slot }.into();
        }
        if epoch == self.journal_epoch && self.degraded.is_none() {
            warn!(train_date = %self.state.key, %failure, "journal failed; refusing writes until rebuilt");
            self.degraded = Some(failure.clone());
            self.schedule_rebuild(REBUILD_RETRY_FIRST_MS, ctx);
        }
        Unavailable::NotDurable { key: self.state.key.clone(), cause: failure }.into()
    }

    fn schedule_rebuild(&mut self, delay_ms: u64, ctx: &mut Context<Self>) {
        ctx.run_later(Duration::from_millis(delay_ms), move |actor, ctx| actor.try_rebuild(delay_ms, ctx));
    }

    /// Reloads the state from the journal; on success the journal's truth
    /// replaces whatever was applied but never made durable.
    fn try_rebuild(&mut self, last_delay_ms: u64, ctx: &mut Context<Self>) {
        let Some(persistence) = &self.persistence else { return };
        let load = persistence.store.load_train_date(self.state.key.clone(), Arc::clone(&self.state.plan));
        ctx.spawn(load.into_actor(self).map(move |loaded, actor, ctx| match loaded {
            Ok(state) => actor.resume_with(state, ctx),
            Err(cause) if cause.is_transient() => {
                warn!(train_date = %actor.state.key, %cause, "rebuild from the journal failed; will retry");
                actor.schedule_rebuild((last_delay_ms * 2).min(REBUILD_RETRY_MAX_MS), ctx);
            }
            Err(cause) => {
                // Retrying cannot fix corrupt or conflicting data: stay
                // read-only, say why, and leave the repair to an operator.
                error!(train_date = %actor.state.key, %cause, "rebuild stopped: the journal cannot be read; writes stay refused until an operator repairs it");
                metrics::counter!("seat_rebuilds_stopped_total").increment(1);
                actor.degraded = Some(cause);
            }
        }));
    }

    fn resume_with(&mut self, mut state: crate::domain::state::TrainDateState, ctx: &mut Context<Self>) {
        // Rules are configuration, never stored: the journal's state decides by the actor's.
        state.rules = Arc::clone(&self.state.rules);
        let Some(persistence) = &self.persistence else { return };
        if persistence.sink.sender.try_send(JournalMessage::Resume(state.key.clone())).is_err() {
            self.schedule_rebuild(REBUILD_RETRY_FIRST_MS, ctx);
            return;
        }
        for (order_id, order) in &self.state.orders {
            if !state.orders.contains_key(order_id) {
                self.orders.forget(order_id, &order.user_id);
            }
        }
        info!(train_date = %state.key, seq = state.last_seq, "rebuilt from the journal; accepting writes again");
        self.durable_seq.store(state.last_seq, Ordering::Release);
        self.state = state;
        self.journal_epoch += 1;
        self.events_since_snapshot = 0;
        self.degraded = None;
        self.publish();
        self.schedule_expiry(ctx);
        // Effects of steps that never became durable are void; what the
        // journal's state still owes others is sent again.
        self.pending_effects.clear();
        let mut owed = crate::workflow::pending_waitlist_effects(&self.state);
        for record in self.state.waitlist_requests.values() {
            owed.extend(crate::workflow::pending_request_effects(record));
        }
        self.queue_effects(owed);
        self.schedule_workflow_expiry(ctx);
    }
}

fn flatten(outcome: Result<Result<(), JournalFailure>, oneshot::error::RecvError>) -> Result<(), JournalFailure> {
    outcome.unwrap_or(Err(JournalFailure::WriterStopped))
}
