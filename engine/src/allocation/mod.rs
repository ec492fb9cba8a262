//! Seat allocation: which free seats a hold takes.
//!
//! Every function here only reads the inventory; decide turns the chosen seats
//! into an event. Seats already chosen for the same order are passed in
//! `excluded` so one order never picks a seat twice.

mod group;
mod picks;
mod policy;

pub use group::allocate_group;
pub use picks::{Pick, allocate_picks};
pub use policy::AllocationPolicy;

use crate::domain::inventory::SeatInventory;
use crate::domain::plan::{SeatIndex, TrainPlan};

/// What an allocation looks at: one journey on one train-date's seats.
pub struct SeatSearch<'a> {
    pub plan: &'a TrainPlan,
    pub inventory: &'a SeatInventory,
    pub from: usize,
    pub to: usize,
    pub policy: AllocationPolicy,
}

impl SeatSearch<'_> {
    /// Cost of giving `seat` to this journey, or `None` if it is not free.
    /// Lower is better.
    #[inline]
    fn cost(&self, seat: SeatIndex, excluded: &[SeatIndex]) -> Option<u32> {
        let mask = self.inventory.mask(seat);
        if mask & crate::domain::segments::journey_bits(self.from, self.to) != 0 || excluded.contains(&seat) {
            return None;
        }
        Some(self.policy.cost(mask, self.from, self.to, self.plan.stop_count() - 1))
    }
}

#[cfg(test)]
mod tests;
