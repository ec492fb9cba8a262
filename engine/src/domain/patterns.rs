//! Seats grouped by (class, taken-segment mask).
//!
//! Every seat with the same mask is equally good for any journey, so
//! allocation ranks the few distinct masks of a class instead of every seat:
//! a single seat is chosen in O(patterns), not O(seats). A train that has
//! sold little has a handful of patterns; a sold-out 24-stop train a few
//! hundred, against 1,000+ seats.

use super::plan::SeatIndex;
use std::collections::HashMap;

/// Seats of one class sharing one mask.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// Taken segments shared by every seat of the pattern.
    pub mask: u64,
    /// How many seats have this mask.
    pub seats: u32,
    /// Bit `s` set: seat `s` (train-wide index) has this mask.
    members: Vec<u64>,
}

impl Pattern {
    fn new(mask: u64, words: usize) -> Self {
        Pattern { mask, seats: 0, members: vec![0; words] }
    }

    /// Members in seat order, from the lowest index.
    pub fn members(&self) -> impl Iterator<Item = SeatIndex> + '_ {
        self.members.iter().enumerate().flat_map(|(index, word)| {
            let base = (index * 64) as SeatIndex;
            BitIter(*word).map(move |bit| base + bit)
        })
    }

    /// Calls `visit` with every member in seat order; the tight loop for
    /// filling a per-seat table.
    #[inline]
    pub fn for_each_member(&self, mut visit: impl FnMut(SeatIndex)) {
        for (index, word) in self.members.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                visit((index * 64) as SeatIndex + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }

    fn contains(&self, seat: SeatIndex) -> bool {
        self.members[seat as usize / 64] & (1 << (seat % 64)) != 0
    }
}

/// Set bits of a word, lowest first.
struct BitIter(u64);

impl Iterator for BitIter {
    type Item = SeatIndex;

    #[inline]
    fn next(&mut self) -> Option<SeatIndex> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

/// The patterns of one class, in no particular order.
#[derive(Clone, Debug, Default)]
struct ClassPatterns {
    patterns: Vec<Pattern>,
    /// foldhash, as the other train-date maps: looked up on every take and release.
    position_of_mask: HashMap<u64, usize, foldhash::fast::RandomState>,
}

/// Every class's patterns; kept in step with the masks by `SeatInventory`.
#[derive(Clone, Debug, Default)]
pub struct MaskPatterns {
    classes: Vec<ClassPatterns>,
    /// Words in each member bitset: one bit per seat of the train.
    words: usize,
}

impl MaskPatterns {
    /// The patterns of seats whose class slot and mask are given per seat.
    pub fn build(seat_class_slots: &[u8], masks: &[u64], class_count: usize) -> Self {
        let mut patterns = MaskPatterns {
            classes: vec![ClassPatterns::default(); class_count],
            words: seat_class_slots.len().div_ceil(64),
        };
        for (seat, (slot, mask)) in seat_class_slots.iter().zip(masks).enumerate() {
            patterns.insert(usize::from(*slot), *mask, seat as SeatIndex);
        }
        patterns
    }

    /// The patterns of one class slot, in no particular order.
    #[inline]
    pub fn of_class(&self, class_slot: usize) -> &[Pattern] {
        &self.classes[class_slot].patterns
    }

    /// Moves `seat` from the pattern of `old_mask` to that of `new_mask`.
    pub fn change(&mut self, class_slot: usize, seat: SeatIndex, old_mask: u64, new_mask: u64) {
        self.remove(class_slot, old_mask, seat);
        self.insert(class_slot, new_mask, seat);
    }

    fn insert(&mut self, class_slot: usize, mask: u64, seat: SeatIndex) {
        let words = self.words;
        let class = &mut self.classes[class_slot];
        let position = *class.position_of_mask.entry(mask).or_insert_with(|| {
            class.patterns.push(Pattern::new(mask, words));
            class.patterns.len() - 1
        });
        let pattern = &mut class.patterns[position];
        debug_assert!(!pattern.contains(seat), "seat {seat} already in pattern {mask:#b}");
        pattern.members[seat as usize / 64] |= 1 << (seat % 64);
        pattern.seats += 1;
    }

    fn remove(&mut self, class_slot: usize, mask: u64, seat: SeatIndex) {
        let class = &mut self.classes[class_slot];
        let position = *class.position_of_mask.get(&mask).expect("a seat's mask always has a pattern");
        let pattern = &mut class.patterns[position];
        assert!(pattern.contains(seat), "seat {seat} missing from pattern {mask:#b}");
        pattern.members[seat as usize / 64] &= !(1 << (seat % 64));
        pattern.seats -= 1;
        if pattern.seats == 0 {
            // Drop empty patterns so allocation never ranks a mask no seat has.
            class.position_of_mask.remove(&mask);
            class.patterns.swap_remove(position);
            if let Some(moved) = class.patterns.get(position) {
                class.position_of_mask.insert(moved.mask, position);
            }
        }
    }

    /// (class slot, mask, member bits) of every pattern, sorted: equal for
    /// two indexes over the same masks whatever order changes came in.
    pub fn summary(&self) -> Vec<(usize, u64, &[u64])> {
        let mut summary: Vec<(usize, u64, &[u64])> = self
            .classes
            .iter()
            .enumerate()
            .flat_map(|(slot, class)| {
                class.patterns.iter().map(move |pattern| (slot, pattern.mask, pattern.members.as_slice()))
            })
            .collect();
        summary.sort_unstable_by_key(|(slot, mask, _)| (*slot, *mask));
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_move_between_patterns_and_empty_patterns_vanish() {
        let slots = [0u8; 130];
        let mut patterns = MaskPatterns::build(&slots, &[0; 130], 1);
        assert_eq!(patterns.of_class(0).len(), 1);
        patterns.change(0, 129, 0, 0b110);
        patterns.change(0, 3, 0, 0b110);
        patterns.change(0, 70, 0, 0b1);
        let masks: Vec<u64> = patterns.of_class(0).iter().map(|p| p.mask).collect();
        assert_eq!(masks.len(), 3);
        let taken = patterns.of_class(0).iter().find(|p| p.mask == 0b110).expect("pattern exists");
        assert_eq!(taken.members().collect::<Vec<_>>(), vec![3, 129]);
        let mut visited = Vec::new();
        taken.for_each_member(|seat| visited.push(seat));
        assert_eq!(visited, vec![3, 129]);
        patterns.change(0, 70, 0b1, 0);
        assert_eq!(patterns.of_class(0).len(), 2);
        let mut masks = slots.map(|_| 0u64);
        masks[3] = 0b110;
        masks[129] = 0b110;
        assert_eq!(patterns.summary(), MaskPatterns::build(&slots, &masks, 1).summary());
    }
}
