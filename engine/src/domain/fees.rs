//! Refund and change fees: a percentage of the fare by how long before
//! departure the ticket is given up, as a configurable tier table.

use serde::{Deserialize, Serialize};

const HOUR_MS: u64 = 60 * 60 * 1000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// One tier: given up at least `before_departure_ms` ahead, the fee is `percent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeTier {
    pub before_departure_ms: u64,
    /// Percent of the fare kept as the fee, 0 to 100.
    pub percent: u8,
}

/// Fee tiers, longest lead time first. The last tier (lead time 0) also
/// applies after departure, where a change is still allowed on the day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeTable {
    tiers: Vec<FeeTier>,
}

/// Why a fee table is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeeTableError {
    #[error("fee tiers: at least one tier is needed")]
    Empty,
    #[error("fee tiers[{index}]: lead times must strictly decrease and end at 0")]
    Order { index: usize },
    #[error("fee tiers[{index}].percent: {percent} is over 100")]
    Percent { index: usize, percent: u8 },
}

impl FeeTable {
    /// Tiers longest lead first, the last one at lead time 0.
    pub fn new(tiers: Vec<FeeTier>) -> Result<Self, FeeTableError> {
        let Some(last) = tiers.last() else { return Err(FeeTableError::Empty) };
        if last.before_departure_ms != 0 {
            return Err(FeeTableError::Order { index: tiers.len() - 1 });
        }
        for (index, tier) in tiers.iter().enumerate() {
            if tier.percent > 100 {
                return Err(FeeTableError::Percent { index, percent: tier.percent });
            }
            if index > 0 && tiers[index - 1].before_departure_ms <= tier.before_departure_ms {
                return Err(FeeTableError::Order { index });
            }
        }
        Ok(FeeTable { tiers })
    }

    pub fn tiers(&self) -> &[FeeTier] {
        &self.tiers
    }

    /// The percent due for a ticket leaving at `departure_ms`, given up at `now_ms`.
    pub fn percent(&self, departure_ms: u64, now_ms: u64) -> u8 {
        let lead_ms = departure_ms.saturating_sub(now_ms);
        self.tiers.iter().find(|tier| lead_ms >= tier.before_departure_ms).map_or(0, |tier| tier.percent)
    }

    /// The fee in fen on `fare_fen`, rounded half-up to the fen like fares.
    pub fn fee_fen(&self, fare_fen: u64, departure_ms: u64, now_ms: u64) -> u64 {
        (fare_fen * u64::from(self.percent(departure_ms, now_ms)) + 50) / 100
    }
}

/// The published refund tiers: ≥ 15 days 0%, ≥ 48 h 5%, 24–48 h 10%, < 24 h 20%.
impl Default for FeeTable {
    fn default() -> Self {
        FeeTable::new(vec![
            FeeTier { before_departure_ms: 15 * DAY_MS, percent: 0 },
            FeeTier { before_departure_ms: 48 * HOUR_MS, percent: 5 },
            FeeTier { before_departure_ms: 24 * HOUR_MS, percent: 10 },
            FeeTier { before_departure_ms: 0, percent: 20 },
        ])
        .expect("the default tiers are ordered")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPARTURE_MS: u64 = 100 * DAY_MS;

    fn fee_given_up_ahead(lead_ms: u64) -> u64 {
        FeeTable::default().fee_fen(10_000, DEPARTURE_MS, DEPARTURE_MS - lead_ms)
    }

    #[test]
    fn each_tier_starts_at_its_lead_time() {
        // given a 100-yuan fare, when given up at each boundary and just inside it
        assert_eq!(fee_given_up_ahead(20 * DAY_MS), 0);
        assert_eq!(fee_given_up_ahead(15 * DAY_MS), 0);
        assert_eq!(fee_given_up_ahead(15 * DAY_MS - 1), 500);
        assert_eq!(fee_given_up_ahead(48 * HOUR_MS), 500);
        assert_eq!(fee_given_up_ahead(48 * HOUR_MS - 1), 1_000);
        assert_eq!(fee_given_up_ahead(24 * HOUR_MS), 1_000);
        assert_eq!(fee_given_up_ahead(24 * HOUR_MS - 1), 2_000);
        assert_eq!(fee_given_up_ahead(0), 2_000);
    }

    #[test]
    fn after_departure_the_last_tier_applies() {
        let table = FeeTable::default();
        assert_eq!(table.percent(DEPARTURE_MS, DEPARTURE_MS + HOUR_MS), 20);
    }

    #[test]
    fn fees_round_half_up_to_the_fen() {
        // 5% of 0.10 yuan is half a fen: rounded up; 5% of 0.09 is 0.45 fen: down
        let table = FeeTable::default();
        let three_days = DEPARTURE_MS - 3 * DAY_MS;
        assert_eq!(table.fee_fen(10, DEPARTURE_MS, three_days), 1);
        assert_eq!(table.fee_fen(9, DEPARTURE_MS, three_days), 0);
    }

    #[test]
    fn a_table_is_checked_when_built() {
        let tier = |hours: u64, percent| FeeTier { before_departure_ms: hours * HOUR_MS, percent };
        assert_eq!(FeeTable::new(vec![]), Err(FeeTableError::Empty));
        assert_eq!(FeeTable::new(vec![tier(24, 5)]), Err(FeeTableError::Order { index: 0 }));
        assert_eq!(FeeTable::new(vec![tier(24, 5), tier(48, 5), tier(0, 9)]), Err(FeeTableError::Order { index: 1 }));
        assert_eq!(FeeTable::new(vec![tier(0, 101)]), Err(FeeTableError::Percent { index: 0, percent: 101 }));
        assert!(FeeTable::new(vec![tier(2, 50), tier(0, 100)]).is_ok());
    }
}
