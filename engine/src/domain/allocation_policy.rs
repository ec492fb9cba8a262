//! How to rank free seats for a journey. A domain value, since a hold
//! carries it into decide; `allocation` applies it.

use super::segments::free_run;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationPolicy {
    /// Prefer the seat whose free gap around the journey is tightest, so seats
    /// with long free runs stay whole for long journeys.
    #[default]
    TightestFit,
    /// The first free seat in carriage, row, letter order; kept to measure
    /// what fragmentation-aware allocation gains.
    FirstFit,
}

impl AllocationPolicy {
    /// Cost of using a seat with taken-segment `mask` for `from..to`: the stops
    /// of free run the journey leaves unused. Zero for every seat under first-fit,
    /// so order alone decides.
    #[inline]
    pub fn cost(self, mask: u64, from: usize, to: usize, last_stop: usize) -> u32 {
        match self {
            AllocationPolicy::FirstFit => 0,
            AllocationPolicy::TightestFit => {
                let (start, end) = free_run(mask, from, to, last_stop);
                ((end - start) - (to - from)) as u32
            }
        }
    }
}

impl std::str::FromStr for AllocationPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "tightest_fit" | "tightest-fit" => Ok(AllocationPolicy::TightestFit),
            "first_fit" | "first-fit" => Ok(AllocationPolicy::FirstFit),
            other => Err(format!("unknown allocation policy {other:?}; expected tightest-fit or first-fit")),
        }
    }
}
