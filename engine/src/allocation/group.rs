//! Seating a group of one class without a seat choice: side by side in one
//! row, else in one carriage, else anywhere.

use super::{SeatCosts, SeatSearch};
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
    if count == 1 {
        // One seat is always "side by side": the cheapest seat, lowest index on ties.
        return cheapest_single(search, class, excluded).map(|seat| vec![seat]);
    }
    let costs = search.seat_costs(class, excluded);
    same_row(search, &costs, class, count)
        .or_else(|| same_carriage(search, &costs, class, count))
        .or_else(|| anywhere(search, class, count, excluded))
}

/// The cheapest window of `count` adjacent letters in one row.
fn same_row(search: &SeatSearch, costs: &SeatCosts, class: SeatClass, count: usize) -> Option<Vec<SeatIndex>> {
    let unbeatable = costs.lowest.saturating_mul(count as u32);
    let mut best: Option<(u32, SeatIndex)> = None;
    for carriage_number in search.plan.carriages_of(class) {
        let carriage = search.plan.carriage(carriage_number).expect("listed carriage exists");
        let letters = carriage.letters.len();
        if letters < count {
            continue;
        }
        let seats = search.plan.carriage_seats(carriage_number);
        let carriage_costs = costs.of_range(seats.clone());
        for (row_index, row) in carriage_costs.chunks_exact(letters).enumerate() {
            let row_start = seats.start + (row_index * letters) as SeatIndex;
            for (offset, window) in row.windows(count).enumerate() {
                let Some(cost) = SeatCosts::window_sum(window) else { continue };
                if best.is_none_or(|(best_cost, _)| cost < best_cost) {
                    let window_start = row_start + offset as SeatIndex;
                    best = Some((cost, window_start));
                    if cost == unbeatable {
                        return Some((window_start..window_start + count as SeatIndex).collect());
                    }
                }
            }
        }
    }
    best.map(|(_, start)| (start..start + count as SeatIndex).collect())
}

/// The carriage whose cheapest `count` free seats cost least.
fn same_carriage(search: &SeatSearch, costs: &SeatCosts, class: SeatClass, count: usize) -> Option<Vec<SeatIndex>> {
    let mut best: Option<(u32, Vec<SeatIndex>)> = None;
    for carriage_number in search.plan.carriages_of(class) {
        let candidates: Vec<(u32, SeatIndex)> = search
            .plan
            .carriage_seats(carriage_number)
            .filter_map(|seat| costs.of(seat).map(|cost| (cost, seat)))
            .collect();
        let Some((cost, seats)) = take_cheapest(candidates, count) else { continue };
        if best.as_ref().is_none_or(|(best_cost, _)| cost < *best_cost) {
            if cost == costs.lowest.saturating_mul(count as u32) {
                return Some(seats);
            }
            best = Some((cost, seats));
        }
    }
    best.map(|(_, seats)| seats)
}

fn anywhere(search: &SeatSearch, class: SeatClass, count: usize, excluded: &[SeatIndex]) -> Option<Vec<SeatIndex>> {
    cheapest_anywhere(search, class, count, excluded).map(|(_, seats)| seats)
}

/// The cheapest free seat of the class, ties to the lowest index: the lowest
/// member of the cheapest pattern, in O(patterns).
fn cheapest_single(search: &SeatSearch, class: SeatClass, excluded: &[SeatIndex]) -> Option<SeatIndex> {
    search
        .free_patterns(class)
        .filter_map(|(cost, pattern)| pattern.members().find(|seat| !excluded.contains(seat)).map(|seat| (cost, seat)))
        .min()
        .map(|(_, seat)| seat)
}

/// The `count` cheapest free seats of the class, ties to the lowest index.
/// Each of them is among the `count` lowest seats of its mask pattern, so
/// only those are ranked.
fn cheapest_anywhere(
    search: &SeatSearch,
    class: SeatClass,
    count: usize,
    excluded: &[SeatIndex],
) -> Option<(u32, Vec<SeatIndex>)> {
    let mut candidates: Vec<(u32, SeatIndex)> = Vec::new();
    for (cost, pattern) in search.free_patterns(class) {
        let lowest = pattern.members().filter(|seat| !excluded.contains(seat)).take(count);
        candidates.extend(lowest.map(|seat| (cost, seat)));
    }
    take_cheapest(candidates, count)
}

fn take_cheapest(mut candidates: Vec<(u32, SeatIndex)>, count: usize) -> Option<(u32, Vec<SeatIndex>)> {
    if candidates.len() < count {
        return None;
    }
    if count > 0 && candidates.len() > count {
        candidates.select_nth_unstable(count - 1);
        candidates.truncate(count);
    }
    let cost = candidates.iter().map(|(cost, _)| cost).sum();
    let mut seats: Vec<SeatIndex> = candidates.into_iter().map(|(_, seat)| seat).collect();
    seats.sort_unstable();
    Some((cost, seats))
}
