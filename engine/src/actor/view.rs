//! What an actor publishes for lock-free reads: availability counts and totals.

use crate::domain::plan::TrainPlan;
use crate::domain::seat_class::SeatClass;
use crate::domain::segments::{pair_count, pair_index};
use crate::domain::state::{SalesStatus, TrainDateKey, TrainDateState, TrainDateTotals};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

/// An immutable copy of one train-date's remaining counts. Searches read it
/// without entering the actor's mailbox; it lags the actor by at most one
/// batch of processed messages.
#[derive(Clone, Debug)]
pub struct AvailabilityView {
    pub key: TrainDateKey,
    pub plan: Arc<TrainPlan>,
    /// Same layout as `SeatInventory::remaining_table`.
    remaining: Box<[u16]>,
    pub sales: SalesStatus,
    pub totals: TrainDateTotals,
    /// Seq of the last event this view includes.
    pub last_seq: u64,
}

impl AvailabilityView {
    pub fn of(state: &TrainDateState) -> Self {
        AvailabilityView {
            key: state.key.clone(),
            plan: Arc::clone(&state.plan),
            remaining: state.inventory.remaining_table().into(),
            sales: state.sales,
            totals: state.totals,
            last_seq: state.last_seq,
        }
    }

    /// Seats of `class` free for the whole journey `from..to`; 0 if the train
    /// has no such class.
    pub fn remaining(&self, class: SeatClass, from: usize, to: usize) -> u32 {
        let Some(slot) = self.plan.class_slot(class) else { return 0 };
        let stop_count = self.plan.stop_count();
        u32::from(self.remaining[slot * pair_count(stop_count) + pair_index(stop_count, from, to)])
    }

    pub fn sales_open(&self) -> bool {
        self.sales == SalesStatus::Open
    }
}

/// What an actor shares with everyone who routes to it.
pub struct TrainDateShared {
    pub view: ArcSwap<AvailabilityView>,
    /// Messages sent but not yet handled: the mailbox depth. Senders refuse
    /// new work beyond `mailbox_pending_max`.
    pub pending_messages: AtomicUsize,
    pub mailbox_pending_max: usize,
}

impl TrainDateShared {
    pub fn new(state: &TrainDateState, mailbox_pending_max: usize) -> Self {
        TrainDateShared {
            view: ArcSwap::from_pointee(AvailabilityView::of(state)),
            pending_messages: AtomicUsize::new(0),
            mailbox_pending_max,
        }
    }
}
