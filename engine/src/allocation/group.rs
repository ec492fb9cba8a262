//! Seating a group of one class without a seat choice: side by side in one
//! row, else in one carriage, else anywhere.

use super::SeatSearch;
use crate::domain::plan::SeatIndex;
use crate::domain::seat_class::SeatClass;

/// Chooses `count` free seats of `class`, or `None` if fewer are free.
pub fn allocate_group(
    search: &SeatSearch,
    class: SeatClass,
    count: usize,
    excluded: &[SeatIndex],
) -> Option<Vec<SeatIndex>> {
    if count == 0 {
        return Some(Vec::new());
    }
    same_row(search, class, count, excluded)
        .or_else(|| same_carriage(search, class, count, excluded))
        .or_else(|| anywhere(search, class, count, excluded))
}

/// The cheapest window of `count` adjacent letters in one row.
fn same_row(search: &SeatSearch, class: SeatClass, count: usize, excluded: &[SeatIndex]) -> Option<Vec<SeatIndex>> {
    let mut best: Option<(u32, SeatIndex)> = None;
    for carriage_number in search.plan.carriages_of(class) {
        let carriage = search.plan.carriage(carriage_number).expect("listed carriage exists");
        let letters = carriage.letters.len();
        if letters < count {
            continue;
        }
        let seats = search.plan.carriage_seats(carriage_number);
        for row_start in seats.clone().step_by(letters) {
            for window_start in row_start..=row_start + (letters - count) as SeatIndex {
                let Some(cost) = window_cost(search, window_start, count, excluded) else { continue };
                if best.is_none_or(|(best_cost, _)| cost < best_cost) {
                    best = Some((cost, window_start));
                    if cost == 0 {
                        return Some((window_start..window_start + count as SeatIndex).collect());
                    }
                }
            }
        }
    }
    best.map(|(_, start)| (start..start + count as SeatIndex).collect())
}

fn window_cost(search: &SeatSearch, start: SeatIndex, count: usize, excluded: &[SeatIndex]) -> Option<u32> {
    (start..start + count as SeatIndex).map(|seat| search.cost(seat, excluded)).sum()
}

/// The carriage whose cheapest `count` free seats cost least.
fn same_carriage(
    search: &SeatSearch,
    class: SeatClass,
    count: usize,
    excluded: &[SeatIndex],
) -> Option<Vec<SeatIndex>> {
    let mut best: Option<(u32, Vec<SeatIndex>)> = None;
    for carriage_number in search.plan.carriages_of(class) {
        let Some((cost, seats)) = cheapest(search, search.plan.carriage_seats(carriage_number), count, excluded) else {
            continue;
        };
        if best.as_ref().is_none_or(|(best_cost, _)| cost < *best_cost) {
            best = Some((cost, seats));
        }
    }
    best.map(|(_, seats)| seats)
}

fn anywhere(search: &SeatSearch, class: SeatClass, count: usize, excluded: &[SeatIndex]) -> Option<Vec<SeatIndex>> {
    let mut candidates: Vec<(u32, SeatIndex)> = Vec::new();
    for carriage_number in search.plan.carriages_of(class) {
        for seat in search.plan.carriage_seats(carriage_number) {
            if let Some(cost) = search.cost(seat, excluded) {
                candidates.push((cost, seat));
            }
        }
    }
    take_cheapest(candidates, count).map(|(_, seats)| seats)
}

/// The `count` cheapest free seats in `seats`, ties to the lowest index.
fn cheapest(
    search: &SeatSearch,
    seats: std::ops::Range<SeatIndex>,
    count: usize,
    excluded: &[SeatIndex],
) -> Option<(u32, Vec<SeatIndex>)> {
    let candidates: Vec<(u32, SeatIndex)> =
        seats.filter_map(|seat| search.cost(seat, excluded).map(|cost| (cost, seat))).collect();
    take_cheapest(candidates, count)
}

fn take_cheapest(mut candidates: Vec<(u32, SeatIndex)>, count: usize) -> Option<(u32, Vec<SeatIndex>)> {
    if candidates.len() < count {
        return None;
    }
    candidates.sort_unstable();
    candidates.truncate(count);
    let cost = candidates.iter().map(|(cost, _)| cost).sum();
    let mut seats: Vec<SeatIndex> = candidates.into_iter().map(|(_, seat)| seat).collect();
    seats.sort_unstable();
    Some((cost, seats))
}
