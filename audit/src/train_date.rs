//! One train-date's stored state and its checks: no seat segment sold
//! twice, every seat's taken segments equal to its live tickets, and every
//! remaining count equal to a recount from the seats.
//!
//! Stops are numbered 0.. along the route; segment `i` runs from stop `i` to
//! stop `i + 1`, and a mask has bit `i` set when segment `i` is taken.

use crate::report::AuditReport;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::hash::Hash;

/// Most segments a mask holds: one bit each in a `u64`.
const SEGMENTS_MAX: usize = 64;

/// One seat as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredSeat<Seat, Class> {
    /// The seat's id, unique within the train-date (a baseline's number, or a
    /// [`CarriageSeat`](crate::CarriageSeat) read over gRPC).
    pub seat: Seat,
    /// The seat's class.
    pub class: Class,
    /// Segments the store says are taken.
    pub mask: u64,
}

/// One live ticket (its order holding seats: held or confirmed) as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredTicket<Seat, Order> {
    /// The ticket's order, for the problem text.
    pub order_id: Order,
    /// The seat, as in [`StoredSeat::seat`].
    pub seat: Seat,
    /// Boarding stop.
    pub from: usize,
    /// Alighting stop.
    pub to: usize,
}

/// A remaining count as searches see it: (class, from stop, to stop, seats of
/// the class free on every segment from..to).
pub type StoredCount<Class> = (Class, usize, usize, i64);

/// The mask of segments `from..to`. Written here rather than taken from the
/// engine, so the audit stays independent of the code it checks.
fn journey_bits(from: usize, to: usize) -> u64 {
    debug_assert!(from < to && to <= SEGMENTS_MAX, "journey {from}..{to}");
    let below_to = if to >= SEGMENTS_MAX { u64::MAX } else { (1u64 << to) - 1 };
    let below_from = (1u64 << from) - 1;
    below_to & !below_from
}

impl AuditReport {
    /// Checks one train-date whose every live ticket is known: the tickets
    /// sell no segment twice and name known seats, each seat's mask equals
    /// its tickets, and each count equals a recount from the masks, with a
    /// count for every (class, from, to) that has seats and none other.
    pub fn check_train_date<Seat, Class, Order>(
        &mut self,
        train_date: &str,
        stop_count: usize,
        seats: &[StoredSeat<Seat, Class>],
        counts: &[StoredCount<Class>],
        tickets: &[StoredTicket<Seat, Order>],
    ) where
        Seat: Clone + Eq + Hash + Display,
        Class: Copy + Ord + Hash + Display,
        Order: Display,
    {
        self.train_dates += 1;
        self.seats += seats.len() as u64;
        self.counts += counts.len() as u64;
        let mut taken: HashMap<Seat, u64> = seats.iter().map(|seat| (seat.seat.clone(), 0)).collect();
        if taken.len() != seats.len() {
            self.problem(format!("{train_date}: a seat id is stored twice"));
        }
        if !self.check_stop_count(train_date, stop_count) {
            return;
        }
        self.take_tickets(train_date, stop_count, tickets, &mut taken, false);
        for seat in seats {
            let from_tickets = taken[&seat.seat];
            if seat.mask != from_tickets {
                self.problem(format!(
                    "{train_date}: seat {} mask {:#b} but its live tickets take {from_tickets:#b}",
                    seat.seat, seat.mask
                ));
            }
        }
        self.check_counts(train_date, stop_count, seats, counts);
    }

    /// Checks only that `tickets` sell no segment of a seat twice, for a
    /// caller that knows some of a train-date's orders but not all of them
    /// (so cannot recount): seatbench against a server that had orders before.
    pub fn check_sold_once<Seat, Order>(
        &mut self,
        train_date: &str,
        stop_count: usize,
        tickets: &[StoredTicket<Seat, Order>],
    ) where
        Seat: Clone + Eq + Hash + Display,
        Order: Display,
    {
        self.train_dates += 1;
        if self.check_stop_count(train_date, stop_count) {
            self.take_tickets(train_date, stop_count, tickets, &mut HashMap::new(), true);
        }
    }

    /// False (with a problem) when the route has more segments than a mask holds.
    fn check_stop_count(&mut self, train_date: &str, stop_count: usize) -> bool {
        let fits = stop_count <= SEGMENTS_MAX + 1;
        if !fits {
            self.problem(format!("{train_date}: {stop_count} stops, over the audit's {}", SEGMENTS_MAX + 1));
        }
        fits
    }

    /// Adds each ticket's segments to its seat in `taken`, recording a
    /// problem for a bad journey, a segment taken twice, or (unless
    /// `seats_from_tickets`) a seat not in `taken`.
    fn take_tickets<Seat, Order>(
        &mut self,
        train_date: &str,
        stop_count: usize,
        tickets: &[StoredTicket<Seat, Order>],
        taken: &mut HashMap<Seat, u64>,
        seats_from_tickets: bool,
    ) where
        Seat: Clone + Eq + Hash + Display,
        Order: Display,
    {
        self.live_tickets += tickets.len() as u64;
        for ticket in tickets {
            if ticket.from >= ticket.to || ticket.to >= stop_count {
                self.problem(format!(
                    "{train_date}: order {} has journey {}..{}",
                    ticket.order_id, ticket.from, ticket.to
                ));
                continue;
            }
            let bits = journey_bits(ticket.from, ticket.to);
            if seats_from_tickets {
                taken.entry(ticket.seat.clone()).or_default();
            }
            let Some(seat_taken) = taken.get_mut(&ticket.seat) else {
                self.problem(format!("{train_date}: order {} has unknown seat {}", ticket.order_id, ticket.seat));
                continue;
            };
            if *seat_taken & bits != 0 {
                self.problem(format!(
                    "{train_date}: seat {} segments {}..{} sold twice (order {} overlaps another)",
                    ticket.seat, ticket.from, ticket.to, ticket.order_id
                ));
            }
            *seat_taken |= bits;
        }
    }

    /// Each count against a recount of the seats of its class whose masks
    /// leave its journey free; every (class, from, to) with seats needs one.
    fn check_counts<Seat, Class>(
        &mut self,
        train_date: &str,
        stop_count: usize,
        seats: &[StoredSeat<Seat, Class>],
        counts: &[StoredCount<Class>],
    ) where
        Class: Copy + Ord + Hash + Display,
    {
        let mut patterns: HashMap<(Class, u64), i64> = HashMap::new();
        for seat in seats {
            *patterns.entry((seat.class, seat.mask)).or_default() += 1;
        }
        let mut recount: HashMap<(Class, usize, usize), i64> = HashMap::new();
        let classes: BTreeSet<Class> = seats.iter().map(|seat| seat.class).collect();
        for class in &classes {
            for from in 0..stop_count {
                for to in from + 1..stop_count {
                    recount.insert((*class, from, to), 0);
                }
            }
        }
        for ((class, mask), seat_count) in patterns {
            for from in 0..stop_count {
                for to in from + 1..stop_count {
                    if mask & journey_bits(from, to) == 0 {
                        *recount.entry((class, from, to)).or_default() += seat_count;
                    }
                }
            }
        }
        for (class, from, to, count) in counts {
            match recount.remove(&(*class, *from, *to)) {
                Some(expected) if expected == *count => {}
                Some(expected) => self.problem(format!(
                    "{train_date}: class {class} {from}..{to} count {count}, recount from masks {expected}"
                )),
                None => self.problem(format!("{train_date}: class {class} {from}..{to} has a count but no seats")),
            }
        }
        let mut missing: Vec<(Class, usize, usize)> = recount.into_keys().collect();
        missing.sort();
        for (class, from, to) in missing {
            self.problem(format!("{train_date}: class {class} {from}..{to} has seats but no count"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(seat: u32, mask: u64) -> StoredSeat<u32, u8> {
        StoredSeat { seat, class: 2, mask }
    }

    fn ticket(order_id: u64, seat: u32, from: usize, to: usize) -> StoredTicket<u32, u64> {
        StoredTicket { order_id, seat, from, to }
    }

    #[test]
    fn journey_bits_cover_the_segments_between_the_stops() {
        assert_eq!(journey_bits(0, 1), 0b1);
        assert_eq!(journey_bits(1, 3), 0b110);
        assert_eq!(journey_bits(0, 64), u64::MAX);
        assert_eq!(journey_bits(63, 64), 1 << 63);
    }

    #[test]
    fn clean_state_passes() {
        let mut report = AuditReport::default();
        // 3 stops, two seats; seat 0 sold 0..1.
        let counts = [(2, 0, 1, 1), (2, 0, 2, 1), (2, 1, 2, 2)];
        report.check_train_date("t", 3, &[seat(0, 0b01), seat(1, 0)], &counts, &[ticket(1, 0, 0, 1)]);
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!((report.train_dates, report.seats, report.live_tickets, report.counts), (1, 2, 1, 3));
    }

    #[test]
    fn double_sale_drift_and_leaks_are_caught() {
        let mut report = AuditReport::default();
        let tickets = [ticket(1, 0, 0, 2), ticket(2, 0, 1, 2)];
        let counts = [(2, 0, 1, 2), (2, 0, 2, 1), (2, 1, 2, 1)];
        report.check_train_date("t", 3, &[seat(0, 0b11), seat(1, 0b10)], &counts, &tickets);
        let text = report.problems.join("\n");
        assert!(text.contains("seat 0 segments 1..2 sold twice (order 2 overlaps another)"), "{text}");
        assert!(text.contains("seat 1 mask"), "{text}");
        assert!(text.contains("0..1 count 2, recount from masks 1"), "{text}");
    }

    #[test]
    fn bad_journeys_unknown_seats_and_missing_counts_are_caught() {
        let mut report = AuditReport::default();
        let tickets = [ticket(1, 0, 2, 1), ticket(2, 0, 0, 3), ticket(3, 9, 0, 1)];
        let counts = [(2, 0, 1, 1), (3, 0, 1, 0)];
        report.check_train_date("t", 3, &[seat(0, 0), seat(0, 0)], &counts, &tickets);
        let text = report.problems.join("\n");
        assert!(text.contains("a seat id is stored twice"), "{text}");
        assert!(text.contains("order 1 has journey 2..1"), "{text}");
        assert!(text.contains("order 2 has journey 0..3"), "{text}");
        assert!(text.contains("order 3 has unknown seat 9"), "{text}");
        assert!(text.contains("class 3 0..1 has a count but no seats"), "{text}");
        assert!(text.contains("class 2 0..2 has seats but no count"), "{text}");
        assert!(text.contains("class 2 1..2 has seats but no count"), "{text}");
    }

    #[test]
    fn sold_once_needs_no_seats_but_still_catches_overlap() {
        let mut report = AuditReport::default();
        report.check_sold_once("t", 4, &[ticket(1, 7, 0, 2), ticket(2, 7, 2, 3), ticket(3, 8, 1, 3)]);
        assert!(report.ok(), "{:?}", report.problems);
        report.check_sold_once("t", 4, &[ticket(1, 7, 0, 2), ticket(2, 7, 1, 3)]);
        assert_eq!(report.problem_count, 1, "{:?}", report.problems);
        assert_eq!(report.train_dates, 2);
        assert_eq!(report.live_tickets, 5);
    }

    #[test]
    fn too_many_stops_is_a_problem_not_a_panic() {
        let mut report = AuditReport::default();
        report.check_sold_once("t", 66, &[ticket(1, 7, 0, 65)]);
        assert!(report.problems[0].contains("66 stops"), "{:?}", report.problems);
    }
}
