//! 12306-style seat choice (选座): letters in row 1 or 2 relative to the
//! first pick, all in one carriage.

use super::SeatSearch;
use crate::domain::plan::SeatIndex;
use crate::domain::seat_class::SeatClass;

/// One passenger's pick: a column letter in relative row 1 or 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    pub letter: char,
    pub row: u8,
}

/// Seats meeting every pick with the picks' row offsets kept, in one carriage
/// of `class`, cheapest first; `None` if no carriage has such a free block.
/// Seats are returned in the order of `picks`.
pub fn allocate_picks(
    search: &SeatSearch,
    class: SeatClass,
    picks: &[Pick],
    excluded: &[SeatIndex],
) -> Option<Vec<SeatIndex>> {
    // Rows are relative: a lone "C2" is just a C seat, so the lowest picked row counts as row 1.
    let lowest_row = picks.iter().map(|pick| pick.row).min()?;
    let rows_spanned = u16::from(picks.iter().map(|pick| pick.row).max()? - lowest_row + 1);
    let costs = search.seat_costs(class, excluded);
    let unbeatable = costs.lowest.saturating_mul(picks.len() as u32);
    let mut best: Option<(u32, Vec<SeatIndex>)> = None;
    for carriage_number in search.plan.carriages_of(class) {
        let carriage = search.plan.carriage(carriage_number).expect("listed carriage exists");
        let Some(letter_indices) = picks
            .iter()
            .map(|pick| search.plan.letter_index(carriage_number, pick.letter))
            .collect::<Option<Vec<u8>>>()
        else {
            continue;
        };
        let block_at = |base_row: u16| {
            picks.iter().zip(&letter_indices).map(move |(pick, letter)| {
                let row = base_row + u16::from(pick.row - lowest_row);
                search.plan.seat_index(carriage_number, row, *letter).expect("row within carriage")
            })
        };
        for base_row in 1..=carriage.rows.saturating_sub(rows_spanned - 1) {
            let Some(cost) = costs.sum(block_at(base_row)) else { continue };
            if best.as_ref().is_none_or(|(best_cost, _)| cost < *best_cost) {
                best = Some((cost, block_at(base_row).collect()));
                if cost == unbeatable {
                    return best.map(|(_, seats)| seats);
                }
            }
        }
    }
    best.map(|(_, seats)| seats)
}
