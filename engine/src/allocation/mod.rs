//! Seat allocation: which free seats a hold takes.
//!
//! Every function here only reads the inventory; decide turns the chosen seats
//! into an event. Seats already chosen for the same order are passed in
//! `excluded` so one order never picks a seat twice.

mod group;
mod picks;

pub use crate::domain::allocation_policy::AllocationPolicy;
pub use group::allocate_group;
pub use picks::{Pick, allocate_picks};

use crate::domain::inventory::SeatInventory;
use crate::domain::patterns::Pattern;
use crate::domain::plan::{SeatIndex, TrainPlan};
use crate::domain::seat_class::SeatClass;

/// What an allocation looks at: one journey on one train-date's seats.
pub struct SeatSearch<'a> {
    pub plan: &'a TrainPlan,
    pub inventory: &'a SeatInventory,
    pub from: usize,
    pub to: usize,
    pub policy: AllocationPolicy,
}

impl SeatSearch<'_> {
    /// Cost of this journey on every seat with `mask`, or `None` if taken.
    #[inline]
    fn mask_cost(&self, mask: u64) -> Option<u32> {
        if mask & crate::domain::segments::journey_bits(self.from, self.to) != 0 {
            return None;
        }
        Some(self.policy.cost(mask, self.from, self.to, self.plan.stop_count() - 1))
    }

    /// The cost of every seat of `class` for this journey, read from the
    /// patterns once, so ranking rows and blocks reads a byte per seat.
    fn seat_costs(&self, class: SeatClass, excluded: &[SeatIndex]) -> SeatCosts {
        let mut costs = vec![SeatCosts::UNAVAILABLE; self.inventory.seat_count()];
        let mut lowest = u32::MAX;
        for (cost, pattern) in self.free_patterns(class) {
            lowest = lowest.min(cost);
            // Costs are free-run lengths in stops, so below 64 and never the sentinel.
            let cost = cost as u8;
            pattern.for_each_member(|seat| costs[seat as usize] = cost);
        }
        for seat in excluded {
            costs[*seat as usize] = SeatCosts::UNAVAILABLE;
        }
        SeatCosts { costs, lowest }
    }

    /// Free patterns of `class` with their cost: seats sharing a mask cost
    /// the same, so ranking patterns ranks seats.
    fn free_patterns(&self, class: SeatClass) -> impl Iterator<Item = (u32, &Pattern)> + '_ {
        let patterns = match self.plan.class_slot(class) {
            Some(slot) => self.inventory.patterns(slot),
            None => &[],
        };
        patterns.iter().filter_map(|pattern| self.mask_cost(pattern.mask).map(|cost| (cost, pattern)))
    }
}

/// Per-seat costs for one journey and class, indexed by train-wide seat.
struct SeatCosts {
    costs: Vec<u8>,
    /// The cheapest free seat's cost: no `n` seats can cost less than `n`
    /// times this, so a search may stop at the first set that does.
    lowest: u32,
}

impl SeatCosts {
    /// Taken, excluded or of another class.
    const UNAVAILABLE: u8 = u8::MAX;

    #[inline]
    fn of(&self, seat: SeatIndex) -> Option<u32> {
        let cost = self.costs[seat as usize];
        (cost != Self::UNAVAILABLE).then_some(u32::from(cost))
    }

    /// The costs of a run of seats, such as one carriage.
    #[inline]
    fn of_range(&self, seats: std::ops::Range<SeatIndex>) -> &[u8] {
        &self.costs[seats.start as usize..seats.end as usize]
    }

    /// Total cost of adjacent seats' `costs`, or `None` if any is unavailable.
    #[inline]
    fn window_sum(costs: &[u8]) -> Option<u32> {
        // A window is a handful of bytes: a plain scan beats `contains`, which
        // calls memchr (measured: 5% more instructions per hold).
        #[expect(clippy::manual_contains, reason = "memchr costs more than a 2-5 byte scan")]
        if costs.iter().any(|cost| *cost == Self::UNAVAILABLE) {
            return None;
        }
        Some(costs.iter().map(|cost| u32::from(*cost)).sum())
    }

    /// Total cost of `seats`, or `None` if any is unavailable.
    #[inline]
    fn sum(&self, seats: impl Iterator<Item = SeatIndex>) -> Option<u32> {
        seats.map(|seat| self.of(seat)).sum()
    }
}

#[cfg(test)]
mod tests;
