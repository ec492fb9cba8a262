//! The train-date actor: owns one `TrainDateState`, runs decide/apply for each
//! message in turn, hands events to the journal, publishes availability, and
//! drives hold expiry.
//!
//! - `view`: the availability an actor publishes for lock-free reads.
//! - `changes`: the signal that tells live watchers a new view was published.

pub mod changes;
mod durable;
mod messages;
pub mod replies;
pub mod view;
pub mod workflow;

#[cfg(test)]
mod tests;

pub use messages::*;

use crate::allocation::AllocationPolicy;
use crate::clock::Clock;
use crate::decide;
use crate::domain::apply::apply;
use crate::domain::command::Command;
use crate::domain::event::{EVENT_SCHEMA_VERSION, Event, EventRecord};
use crate::domain::state::TrainDateState;
use crate::durability::Persistence;
use crate::durability::StoreError;
pub use crate::error::CommandError;
use crate::orders::OrderIndex;
use crate::slots::{SlotFence, SlotTable};
use actix::{Actor, AsyncContext, Context, SpawnHandle};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use view::{AvailabilityView, TrainDateShared};

/// Default for the most messages an actor accepts ahead of processing. At a
/// few microseconds a message this is a few milliseconds of queue; past it a
/// caller is better served by an immediate "try again" than by waiting.
pub const MAILBOX_PENDING_MAX: usize = 4096;

/// Most changes before the availability view is republished even while the
/// mailbox is busy; bounds how stale a search can be under sustained load.
pub const PUBLISH_CHANGES_MAX: u32 = 64;

/// Expiries due within this window go out in one sweep instead of one timer each.
pub const EXPIRY_COALESCE_MS: u64 = 250;

/// Per-actor behaviour chosen by configuration.
#[derive(Clone, Copy, Debug)]
pub struct ActorSettings {
    /// How long a hold stays unpaid before its seats return.
    pub hold_ttl_ms: u64,
    /// How free seats are ranked for a hold.
    pub policy: AllocationPolicy,
    /// Messages an actor accepts ahead of processing; beyond it callers get
    /// RESOURCE_EXHAUSTED at once.
    pub mailbox_pending_max: usize,
}

impl Default for ActorSettings {
    fn default() -> Self {
        ActorSettings {
            hold_ttl_ms: 10 * 60 * 1000,
            policy: AllocationPolicy::TightestFit,
            mailbox_pending_max: MAILBOX_PENDING_MAX,
        }
    }
}

pub struct TrainDateActor {
    state: TrainDateState,
    /// Published view and mailbox depth, shared with the registry handle.
    shared: Arc<TrainDateShared>,
    /// Global order-id and user → order indexes, updated as holds are applied.
    orders: Arc<OrderIndex>,
    clock: Arc<dyn Clock>,
    settings: ActorSettings,
    /// The journal and store; `None` runs in memory only (engine tests).
    persistence: Option<Persistence>,
    /// Highest seq the journal has committed; raised by the writer.
    durable_seq: Arc<AtomicU64>,
    /// Set while the journal is failing: writes are refused for this cause.
    degraded: Option<StoreError>,
    /// Bumped on every rebuild, so failures of entries sent before it are ignored.
    journal_epoch: u64,
    events_since_snapshot: u64,
    changes_since_publish: u32,
    /// The expiry time the pending sweep timer is for, and its handle.
    expiry_timer: Option<(u64, SpawnHandle)>,
    /// In a cluster: the slot and token this actor writes under, and the
    /// node's slot table to report to if the journal fences it.
    fence: Option<(SlotFence, Arc<SlotTable>)>,
    /// Set once the train-date is being handed to another node (or was
    /// fenced): writes are refused as SLOT_MOVED from then on.
    released: bool,
    /// Where effects of durable steps go: the facade's workflow driver.
    /// `None`: nobody delivers them (engine unit tests).
    effects: Option<workflow::EffectSender>,
    /// Effects waiting for their events (up to the seq) to be durable.
    pending_effects: Vec<(u64, crate::workflow::Effect)>,
    /// The cut-off the pending waitlist expiry timer is for, and its handle.
    workflow_timer: Option<(u64, SpawnHandle)>,
}

impl Actor for TrainDateActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.mailbox_pending_max);
        // Holds and waitlist cut-offs that fell due while the process was down expire now.
        self.schedule_expiry(ctx);
        self.schedule_workflow_expiry(ctx);
    }
}

impl TrainDateActor {
    /// An actor for `state`, whose events up to `state.last_seq` are durable.
    pub fn new(
        state: TrainDateState,
        shared: Arc<TrainDateShared>,
        orders: Arc<OrderIndex>,
        clock: Arc<dyn Clock>,
        settings: ActorSettings,
        persistence: Option<Persistence>,
    ) -> Self {
        TrainDateActor {
            durable_seq: Arc::new(AtomicU64::new(state.last_seq)),
            state,
            shared,
            orders,
            clock,
            settings,
            persistence,
            degraded: None,
            journal_epoch: 0,
            events_since_snapshot: 0,
            changes_since_publish: 0,
            expiry_timer: None,
            fence: None,
            released: false,
            effects: None,
            pending_effects: Vec::new(),
            workflow_timer: None,
        }
    }

    /// Hands the effects of this actor's durable steps to `effects`.
    pub fn with_effects(mut self, effects: workflow::EffectSender) -> Self {
        self.effects = Some(effects);
        self
    }

    /// Makes every journal entry carry `fence`, so only the slot's current
    /// owner can commit; a fenced append is reported to `slots`.
    pub fn with_fence(mut self, fence: SlotFence, slots: Arc<SlotTable>) -> Self {
        self.fence = Some((fence, slots));
        self
    }

    /// Decides and applies one command; the applied records on success.
    fn execute(
        &mut self,
        decide: impl FnOnce(&TrainDateState, u64) -> Result<Vec<Event>, CommandError>,
        ctx: &mut Context<Self>,
    ) -> Result<Vec<EventRecord>, CommandError> {
        let now_ms = self.clock.now_ms();
        let events = decide(&self.state, now_ms)?;
        let new_deadlines =
            events.iter().any(|event| matches!(event, Event::WaitlistJoined(_) | Event::WaitlistRequest { .. }));
        let records: Vec<EventRecord> = events.into_iter().map(|event| self.apply_event(event)).collect();
        if !records.is_empty() {
            self.changes_since_publish += records.len() as u32;
            self.events_since_snapshot += records.len() as u64;
            self.schedule_expiry(ctx);
        }
        if new_deadlines {
            self.schedule_workflow_expiry(ctx);
        }
        Ok(records)
    }

    fn apply_event(&mut self, event: Event) -> EventRecord {
        let record = EventRecord { seq: self.state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event };
        apply(&mut self.state, &record);
        if let Event::SeatsHeld(held) = &record.event {
            self.orders.record(held.order_id, &self.state.key, &held.user_id);
            for ticket in &held.tickets {
                self.shared.passengers.insert(&ticket.id_number);
            }
        }
        if let Some(order_id) = self.order_born_of(&record.event) {
            let order = &self.state.orders[&order_id];
            self.orders.record(order_id, &self.state.key, &order.user_id);
            for ticket in &order.tickets {
                self.shared.passengers.insert(&ticket.id_number);
            }
        }
        record
    }

    /// The order a just-applied workflow event created: a fulfilled waitlist
    /// choice or the new tickets of a change.
    fn order_born_of(&self, event: &Event) -> Option<crate::domain::order::OrderId> {
        match event {
            Event::WaitlistFulfilled { choice, .. } => match self.state.waitlist.ended(choice)? {
                crate::domain::waitlist::ChoiceEnd::Fulfilled { order_id } => Some(order_id),
                _ => None,
            },
            Event::ChangeCompleted { change_id, .. } => Some(self.state.changes.incoming.get(change_id)?.new_order_id),
            Event::TicketsChangedInPlace(change) => Some(change.new_order_id),
            _ => None,
        }
        .filter(|order_id| self.state.orders.contains_key(order_id))
    }

    /// Handles one message from the mailbox: counts it out first (the
    /// senders' bound reads that count), then republishes if due.
    fn in_turn<R>(&mut self, ctx: &mut Context<Self>, handle: impl FnOnce(&mut Self, &mut Context<Self>) -> R) -> R {
        self.shared.pending_messages.fetch_sub(1, Ordering::AcqRel);
        let reply = handle(self, ctx);
        self.publish_if_due();
        reply
    }

    /// Republishes once the mailbox drains, or after `PUBLISH_CHANGES_MAX`
    /// changes, whichever is first.
    fn publish_if_due(&mut self) {
        if self.changes_since_publish == 0 {
            return;
        }
        let mailbox_empty = self.shared.pending_messages.load(Ordering::Acquire) == 0;
        if mailbox_empty || self.changes_since_publish >= PUBLISH_CHANGES_MAX {
            self.publish();
        }
    }

    fn publish(&mut self) {
        self.shared.view.store(Arc::new(AvailabilityView::of(&self.state)));
        self.shared.changes.published();
        self.changes_since_publish = 0;
    }

    /// Keeps one timer armed for the earliest hold expiry.
    fn schedule_expiry(&mut self, ctx: &mut Context<Self>) {
        let Some(&(next_expiry_ms, _)) = self.state.hold_expiries.first() else { return };
        if self.expiry_timer.as_ref().is_some_and(|(armed_for_ms, _)| *armed_for_ms <= next_expiry_ms) {
            return;
        }
        if let Some((_, handle)) = self.expiry_timer.take() {
            ctx.cancel_future(handle);
        }
        let delay_ms = next_expiry_ms.saturating_sub(self.clock.now_ms()) + EXPIRY_COALESCE_MS;
        let handle = ctx.run_later(Duration::from_millis(delay_ms), |actor, ctx| {
            actor.expiry_timer = None;
            actor.expire_due(ctx);
            actor.publish_if_due();
        });
        self.expiry_timer = Some((next_expiry_ms, handle));
    }

    /// Releases every hold due now and journals the expiries; returns how many.
    /// Nobody waits on expiries, so they are not acknowledged.
    fn expire_due(&mut self, ctx: &mut Context<Self>) -> usize {
        let mut expired = 0;
        loop {
            let (result, ack) = self.write(&Command::ExpireHolds, ctx);
            let released = result.unwrap_or(0);
            self.watch_unacknowledged(ack, ctx);
            expired += released;
            if released < decide::EXPIRIES_PER_COMMAND_MAX {
                break;
            }
        }
        self.schedule_expiry(ctx);
        if expired > 0 {
            metrics::counter!("seat_hold_expiries_total").increment(expired as u64);
        }
        expired
    }
}
