//! The overlap rule as a rectangle, so a baseline can update every count a
//! seat flips with one range statement instead of one statement per pair.
//!
//! Taking journey `from..to` on a seat whose other taken segments are `mask`
//! makes journey `(s, e)` unavailable on that seat exactly when `(s, e)`
//! overlaps `from..to` and lay wholly inside the free run around it. With the
//! free run `[run_start, run_end]` that is `run_start <= s < to` and
//! `from < e <= run_end` (`s < e` holds for every stored pair), a rectangle in
//! (from_stop, to_stop). Releasing the journey flips the same pairs back.

use engine::domain::segments::free_run;
pub use engine::domain::segments::journey_bits;

/// The pairs whose availability flips on one seat when a journey is taken or
/// released there: every `(s, e)` with `s` in `from_stops` and `e` in `to_stops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlipRegion {
    /// First and last boarding stop of the flipped pairs (inclusive).
    pub from_stops: (usize, usize),
    /// First and last alighting stop of the flipped pairs (inclusive).
    pub to_stops: (usize, usize),
}

impl FlipRegion {
    /// The region for journey `from..to` on a seat whose taken segments,
    /// leaving out the journey's own, are `mask_without_journey`.
    pub fn new(mask_without_journey: u64, from: usize, to: usize, last_stop: usize) -> Self {
        debug_assert_eq!(mask_without_journey & journey_bits(from, to), 0, "journey must be free on the mask");
        let (run_start, run_end) = free_run(mask_without_journey, from, to, last_stop);
        FlipRegion { from_stops: (run_start, to - 1), to_stops: (from + 1, run_end) }
    }

    /// Every flipped pair, boarding stop major.
    pub fn pairs(self) -> impl Iterator<Item = (usize, usize)> {
        let (to_first, to_last) = self.to_stops;
        (self.from_stops.0..=self.from_stops.1)
            .flat_map(move |start| (to_first.max(start + 1)..=to_last).map(move |end| (start, end)))
    }

    /// How many pairs flip: what a range update must report as changed rows.
    pub fn pair_count(self) -> u64 {
        self.pairs().count() as u64
    }
}

/// Seats grouped by flip region, with how many seats share each: one
/// `count - k` update per region instead of one per seat, since seats of one
/// order often share a free run (on a fresh train they all span the line).
pub fn grouped_regions(regions: impl IntoIterator<Item = FlipRegion>) -> Vec<(FlipRegion, u32)> {
    let mut grouped: Vec<(FlipRegion, u32)> = Vec::new();
    for region in regions {
        match grouped.iter_mut().find(|(known, _)| *known == region) {
            Some((_, seats)) => *seats += 1,
            None => grouped.push((region, 1)),
        }
    }
    grouped.sort();
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    /// Journeys free on `mask`, as a set of pairs.
    fn free_pairs(mask: u64, stop_count: usize) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for from in 0..stop_count {
            for to in from + 1..stop_count {
                if mask & journey_bits(from, to) == 0 {
                    pairs.push((from, to));
                }
            }
        }
        pairs
    }

    #[test]
    fn region_is_exactly_the_pairs_a_recount_loses() {
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..5_000 {
            let stop_count = rng.random_range(2..=30);
            let segments = stop_count - 1;
            let mask = rng.random_range(0..1u64 << segments) & rng.random_range(0..1u64 << segments);
            let from = rng.random_range(0..segments);
            let to = rng.random_range(from + 1..=segments);
            let bits = journey_bits(from, to);
            if mask & bits != 0 {
                continue;
            }
            let before = free_pairs(mask, stop_count);
            let after = free_pairs(mask | bits, stop_count);
            let lost: Vec<_> = before.into_iter().filter(|pair| !after.contains(pair)).collect();
            let region = FlipRegion::new(mask, from, to, stop_count - 1);
            assert_eq!(region.pairs().collect::<Vec<_>>(), lost, "mask {mask:#b} journey {from}..{to}");
            assert_eq!(region.pair_count(), lost.len() as u64);
        }
    }

    #[test]
    fn regions_group_by_free_run() {
        let a = FlipRegion::new(0, 2, 4, 9);
        let b = FlipRegion::new(1 << 7, 2, 4, 9);
        let mut expected = vec![(a, 2), (b, 1)];
        expected.sort();
        assert_eq!(grouped_regions([a, b, a]), expected);
    }
}
