//! What an actor publishes for lock-free reads: availability counts and
//! totals, and the filter of passengers who hold journeys, which together let
//! the sold-out gate answer as the actor would.

use super::changes::ChangeSignal;
use crate::decide::HoldFacts;
use crate::domain::plan::TrainPlan;
use crate::domain::seat_class::SeatClass;
use crate::domain::segments::{pair_count, pair_index};
use crate::domain::state::{SalesStatus, TrainDateKey, TrainDateState, TrainDateTotals};
use arc_swap::ArcSwap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// An immutable copy of one train-date's remaining counts. Searches read it
/// without entering the actor's mailbox; it lags the actor by at most one
/// batch of processed messages.
#[derive(Clone, Debug)]
pub struct AvailabilityView {
    pub key: TrainDateKey,
    /// The plan the train-date opened with, shared with the actor.
    pub plan: Arc<TrainPlan>,
    /// Same layout as `SeatInventory::remaining_table`.
    remaining: Box<[u16]>,
    pub sales: SalesStatus,
    pub totals: TrainDateTotals,
    /// Seq of the last event this view includes.
    pub last_seq: u64,
    /// Unix ms of 00:00 (UTC+8) on the run's departure date; stop times count from it.
    pub service_day_start_ms: u64,
    /// Waitlist choices waiting or reserved, per class that has any.
    pub waitlist: Vec<(SeatClass, u32)>,
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
            service_day_start_ms: state.service_day_start_ms,
            waitlist: state
                .plan
                .classes()
                .iter()
                .map(|class| (*class, state.waitlist.len(*class) as u32))
                .filter(|(_, waiting)| *waiting > 0)
                .collect(),
        }
    }

    /// Seats of `class` free for the whole journey `from..to`; 0 if the train
    /// has no such class.
    pub fn remaining(&self, class: SeatClass, from: usize, to: usize) -> u32 {
        let Some(slot) = self.plan.class_slot(class) else { return 0 };
        self.remaining_in_slot(slot, from, to)
    }

    fn remaining_in_slot(&self, slot: usize, from: usize, to: usize) -> u32 {
        let stop_count = self.plan.stop_count();
        u32::from(self.remaining[slot * pair_count(stop_count) + pair_index(stop_count, from, to)])
    }

    pub fn sales_open(&self) -> bool {
        self.sales == SalesStatus::Open
    }
}

impl HoldFacts for AvailabilityView {
    fn plan(&self) -> &TrainPlan {
        &self.plan
    }

    fn sales(&self) -> SalesStatus {
        self.sales
    }

    fn departure_ms(&self, stop: usize) -> u64 {
        self.service_day_start_ms + u64::from(self.plan.template.stops[stop].time_minutes()) * 60_000
    }

    fn remaining(&self, slot: usize, from: usize, to: usize) -> u32 {
        self.remaining_in_slot(slot, from, to)
    }
}

/// What an actor shares with everyone who routes to it.
pub struct TrainDateShared {
    /// Replaced whole on every publish; readers never wait.
    pub view: ArcSwap<AvailabilityView>,
    /// Every passenger (ID number) who has held a journey on the train-date,
    /// so the gate knows when the passenger-overlap rule might answer first.
    pub passengers: PassengerFilter,
    /// Messages sent but not yet handled: the mailbox depth. Senders refuse
    /// new work beyond `mailbox_pending_max`.
    pub pending_messages: AtomicUsize,
    /// The bound `pending_messages` is checked against.
    pub mailbox_pending_max: usize,
    /// Poked after every publish, for live watchers of the counts.
    pub changes: Arc<ChangeSignal>,
}

impl TrainDateShared {
    pub fn new(state: &TrainDateState, mailbox_pending_max: usize) -> Self {
        let passengers = PassengerFilter::for_seats(state.plan.seat_count());
        for id_number in state.passenger_journeys.keys() {
            passengers.insert(id_number);
        }
        TrainDateShared {
            view: ArcSwap::from_pointee(AvailabilityView::of(state)),
            passengers,
            pending_messages: AtomicUsize::new(0),
            mailbox_pending_max,
            changes: Arc::new(ChangeSignal::new()),
        }
    }
}

/// Filter bits per seat of the train. A seat carries one to a few tickets
/// over a run, so this gives roughly 3–8 bits per passenger: a false
/// positive (a hold sent to the actor that the gate could have refused) for
/// about 3–25% of new passengers once a train is full, and never a wrong answer.
pub const PASSENGER_FILTER_BITS_PER_SEAT: usize = 8;
/// Bounds of the filter's size in 64-bit words (1 KiB to 32 KiB).
const PASSENGER_FILTER_WORDS_MIN: usize = 128;
const PASSENGER_FILTER_WORDS_MAX: usize = 4096;
/// Bits set per passenger.
const PASSENGER_FILTER_HASHES: u64 = 3;

/// An insert-only Bloom filter of ID numbers, written by the actor and read
/// lock-free by the gate. It only answers "certainly not" or "maybe", and
/// its bits are allocated at the first insert, so a train-date nobody has
/// booked costs no memory for it.
pub struct PassengerFilter {
    words: usize,
    bits: OnceLock<Box<[AtomicU64]>>,
}

impl PassengerFilter {
    pub fn for_seats(seat_count: u32) -> Self {
        let bits = seat_count as usize * PASSENGER_FILTER_BITS_PER_SEAT;
        let words = (bits / 64).next_power_of_two().clamp(PASSENGER_FILTER_WORDS_MIN, PASSENGER_FILTER_WORDS_MAX);
        PassengerFilter { words, bits: OnceLock::new() }
    }

    pub fn insert(&self, id_number: &str) {
        let bits = self.bits.get_or_init(|| (0..self.words).map(|_| AtomicU64::new(0)).collect());
        for (word, mask) in self.positions(id_number) {
            bits[word].fetch_or(mask, Ordering::Release);
        }
    }

    /// False only if `id_number` was never inserted.
    pub fn may_contain(&self, id_number: &str) -> bool {
        let Some(bits) = self.bits.get() else { return false };
        self.positions(id_number).all(|(word, mask)| bits[word].load(Ordering::Acquire) & mask != 0)
    }

    /// The (word, bit mask) of each of the passenger's bits, by double hashing.
    fn positions(&self, id_number: &str) -> impl Iterator<Item = (usize, u64)> {
        // A fixed-key hasher: the actor and the gate must agree on positions.
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(id_number);
        let (first, step) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        let bit_count = (self.words * 64) as u64;
        (0..PASSENGER_FILTER_HASHES).map(move |index| {
            let bit = first.wrapping_add(index.wrapping_mul(step)) % bit_count;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PassengerFilter;

    #[test]
    fn a_passenger_inserted_is_always_found_and_an_empty_filter_finds_none() {
        let filter = PassengerFilter::for_seats(576);
        assert!(!filter.may_contain("11010519491231002X"));
        let ids: Vec<String> = (0..2_000).map(|n| format!("1101051949123{n:05}")).collect();
        for id in &ids {
            filter.insert(id);
        }
        assert!(ids.iter().all(|id| filter.may_contain(id)));
        let strangers = (0..2_000).filter(|n| filter.may_contain(&format!("4405241880010{n:05}"))).count();
        assert!(strangers < 1_000, "{strangers} of 2,000 strangers looked known");
    }
}
