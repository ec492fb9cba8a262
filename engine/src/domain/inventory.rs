//! Seat masks and exact remaining counts per (class, from, to).

use super::patterns::{MaskPatterns, Pattern};
use super::plan::{SeatIndex, TrainPlan};
use super::segments::{free_run, journey_bits, pair_count, pair_index};
use serde::{Deserialize, Serialize};

/// Taken segments of every seat, and for every (class, from, to) the number of
/// seats on which that journey is wholly free.
///
/// Counts are maintained incrementally by the overlap rule on every take and
/// release, so a search reads one number instead of scanning seats. Seats are
/// also grouped by mask, so allocation ranks masks instead of seats.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "StoredInventory", into = "StoredInventory")]
pub struct SeatInventory {
    stop_count: usize,
    /// Bit k set: segment k of that seat is sold or held.
    masks: Vec<u64>,
    /// `remaining[class_slot * pair_count + pair_index(from, to)]`. Two
    /// bytes each: a count never exceeds a train's seats (see
    /// `SEATS_PER_TRAIN_MAX`), and half the width doubles how many counts one
    /// vector instruction updates on every take and release.
    remaining: Vec<u16>,
    /// Class slot of each seat, so the counts can be found without the plan.
    seat_class_slots: Vec<u8>,
    /// Derived from `masks` and `seat_class_slots`; never stored.
    patterns: MaskPatterns,
}

/// What a serialized inventory holds: the patterns are rebuilt on load.
#[derive(Clone, Serialize, Deserialize)]
struct StoredInventory {
    stop_count: usize,
    masks: Vec<u64>,
    remaining: Vec<u16>,
    seat_class_slots: Vec<u8>,
}

/// The most seats the timetable limits allow on one train: 32 carriages of
/// 40 rows of at most five seats (second class, ABCDF).
const SEATS_PER_TRAIN_MAX: usize =
    super::timetable::CARRIAGES_PER_TRAIN_MAX * super::timetable::ROWS_PER_CARRIAGE_MAX as usize * 5;
const _: () = assert!(SEATS_PER_TRAIN_MAX <= u16::MAX as usize, "remaining counts are u16");

impl From<StoredInventory> for SeatInventory {
    fn from(stored: StoredInventory) -> Self {
        let class_count = stored.remaining.len() / pair_count(stored.stop_count).max(1);
        SeatInventory {
            patterns: MaskPatterns::build(&stored.seat_class_slots, &stored.masks, class_count),
            stop_count: stored.stop_count,
            masks: stored.masks,
            remaining: stored.remaining,
            seat_class_slots: stored.seat_class_slots,
        }
    }
}

impl From<SeatInventory> for StoredInventory {
    fn from(inventory: SeatInventory) -> Self {
        StoredInventory {
            stop_count: inventory.stop_count,
            masks: inventory.masks,
            remaining: inventory.remaining,
            seat_class_slots: inventory.seat_class_slots,
        }
    }
}

/// The patterns follow from the masks, so equal masks and counts mean equal
/// inventories whatever order the pattern lists grew in.
impl PartialEq for SeatInventory {
    fn eq(&self, other: &Self) -> bool {
        self.stop_count == other.stop_count
            && self.masks == other.masks
            && self.remaining == other.remaining
            && self.seat_class_slots == other.seat_class_slots
    }
}

impl Eq for SeatInventory {}

impl SeatInventory {
    /// Every seat free.
    pub fn new(plan: &TrainPlan) -> Self {
        let stop_count = plan.stop_count();
        let pairs = pair_count(stop_count);
        let mut remaining = vec![0; plan.classes().len() * pairs];
        let mut seat_class_slots = Vec::with_capacity(plan.seat_count() as usize);
        for carriage in plan.carriages() {
            let slot = plan.class_slot(carriage.class).expect("plan lists every class it carries");
            seat_class_slots.extend(std::iter::repeat_n(slot as u8, carriage.seat_count() as usize));
            for count in &mut remaining[slot * pairs..(slot + 1) * pairs] {
                *count += u16::try_from(carriage.seat_count()).expect("validated timetables fit u16 counts");
            }
        }
        let masks = vec![0; seat_class_slots.len()];
        let patterns = MaskPatterns::build(&seat_class_slots, &masks, plan.classes().len());
        SeatInventory { stop_count, masks, remaining, seat_class_slots, patterns }
    }

    /// Distinct masks among the seats of one class, with their seats.
    #[inline]
    pub fn patterns(&self, class_slot: usize) -> &[Pattern] {
        self.patterns.of_class(class_slot)
    }

    pub fn stop_count(&self) -> usize {
        self.stop_count
    }

    pub fn seat_count(&self) -> usize {
        self.masks.len()
    }

    #[inline]
    pub fn mask(&self, seat: SeatIndex) -> u64 {
        self.masks[seat as usize]
    }

    #[inline]
    pub fn is_free(&self, seat: SeatIndex, from: usize, to: usize) -> bool {
        self.masks[seat as usize] & journey_bits(from, to) == 0
    }

    /// Seats of the class in `class_slot` on which `from..to` is wholly free.
    #[inline]
    pub fn remaining(&self, class_slot: usize, from: usize, to: usize) -> u32 {
        u32::from(self.remaining[class_slot * pair_count(self.stop_count) + pair_index(self.stop_count, from, to)])
    }

    /// The whole remaining-count table, for publishing.
    pub fn remaining_table(&self) -> &[u16] {
        &self.remaining
    }

    /// Marks `from..to` taken on `seat`.
    ///
    /// Panics if any of those segments is already taken: that would be a
    /// double sale, and decide must have ruled it out.
    pub fn take(&mut self, seat: SeatIndex, from: usize, to: usize) {
        let bits = journey_bits(from, to);
        let mask = self.masks[seat as usize];
        assert_eq!(mask & bits, 0, "seat {seat} segments {from}..{to} already taken (mask {mask:#b})");
        self.adjust_overlapping_pairs(seat, mask, from, to, |counts| {
            // One branch-free pass (it vectorizes), checked once at the end.
            let mut underflow = false;
            for count in counts.iter_mut() {
                underflow |= *count == 0;
                *count = count.wrapping_sub(1);
            }
            assert!(!underflow, "remaining count underflow");
        });
        self.masks[seat as usize] = mask | bits;
        self.patterns.change(usize::from(self.seat_class_slots[seat as usize]), seat, mask, mask | bits);
    }

    /// Frees `from..to` on `seat`, leaving every other holder's segments.
    ///
    /// Panics unless every one of those segments was taken.
    pub fn release(&mut self, seat: SeatIndex, from: usize, to: usize) {
        let bits = journey_bits(from, to);
        let mask = self.masks[seat as usize];
        assert_eq!(mask & bits, bits, "seat {seat} segments {from}..{to} released but not all taken (mask {mask:#b})");
        let freed = mask & !bits;
        self.masks[seat as usize] = freed;
        self.patterns.change(usize::from(self.seat_class_slots[seat as usize]), seat, mask, freed);
        self.adjust_overlapping_pairs(seat, freed, from, to, |counts| counts.iter_mut().for_each(|count| *count += 1));
    }

    /// Applies `change` to every pair that overlaps `from..to` and lies inside
    /// the free run around it on `mask_without_journey`: exactly the pairs
    /// whose availability on this seat flips when the journey is taken or freed.
    /// For each start stop those pairs are one contiguous run of the table.
    fn adjust_overlapping_pairs(
        &mut self,
        seat: SeatIndex,
        mask_without_journey: u64,
        from: usize,
        to: usize,
        mut change: impl FnMut(&mut [u16]),
    ) {
        let stop_count = self.stop_count;
        let (run_start, run_end) = free_run(mask_without_journey, from, to, stop_count - 1);
        let base = usize::from(self.seat_class_slots[seat as usize]) * pair_count(stop_count);
        for start in run_start..to {
            let first_end = (start + 1).max(from + 1);
            let first = base + pair_index(stop_count, start, first_end);
            change(&mut self.remaining[first..first + (run_end + 1 - first_end)]);
        }
    }

    /// Counts recomputed from the masks alone; equals `remaining_table` unless
    /// there is a bug. Seats sharing a class and mask are counted once, so a
    /// recount costs O(distinct masks × pairs), not O(seats × pairs).
    pub fn recount(&self) -> Vec<u16> {
        let stop_count = self.stop_count;
        let pairs = pair_count(stop_count);
        let mut patterns: std::collections::HashMap<(u8, u64), u16> = std::collections::HashMap::new();
        for (mask, slot) in self.masks.iter().zip(&self.seat_class_slots) {
            *patterns.entry((*slot, *mask)).or_default() += 1;
        }
        let mut counts = vec![0; self.remaining.len()];
        for ((slot, mask), seats) in patterns {
            let base = usize::from(slot) * pairs;
            for from in 0..stop_count {
                for to in from + 1..stop_count {
                    if mask & journey_bits(from, to) == 0 {
                        counts[base + pair_index(stop_count, from, to)] += seats;
                    }
                }
            }
        }
        counts
    }

    /// Panics if the incremental counts or the mask patterns have drifted
    /// from what the masks alone say.
    pub fn assert_counts_match_recount(&self) {
        assert_eq!(self.remaining, self.recount(), "remaining counts drifted from a recount");
        assert!(self.patterns_match_masks(), "mask patterns drifted from the masks");
    }

    /// Whether the mask patterns group exactly the seats the masks say.
    pub fn patterns_match_masks(&self) -> bool {
        let rebuilt = MaskPatterns::build(&self.seat_class_slots, &self.masks, self.remaining.len() / self.pairs());
        self.patterns.summary() == rebuilt.summary()
    }

    fn pairs(&self) -> usize {
        pair_count(self.stop_count).max(1)
    }
}
