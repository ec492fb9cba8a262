//! The end-of-run audit on a baseline's stored state: no seat segment sold
//! twice, every seat's mask equal to its live tickets, every remaining count
//! equal to a recount from the masks, and every acknowledged order stored.
//!
//! Both baselines read their state out and hand it here, so the checks are
//! the same code for both.

use crate::model::{AckedOrder, OrderStatus};
use crate::overlap::journey_bits;
use serde::Serialize;
use std::collections::HashMap;

/// Problems listed in full; beyond this only the count grows, so a badly
/// broken store cannot flood the report.
pub const PROBLEMS_LISTED_MAX: usize = 50;

/// One seat as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredSeat {
    /// Seat id (the Redis baseline uses class code × 65,536 + class-local index).
    pub seat: u32,
    /// Class code (`layout::class_code`).
    pub class: u8,
    /// Taken segments.
    pub mask: u64,
}

/// One live ticket (its order not cancelled) as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredTicket {
    /// The ticket's order, for the problem text.
    pub order_id: u64,
    /// Seat id, as in [`StoredSeat::seat`].
    pub seat: u32,
    /// Boarding stop.
    pub from: usize,
    /// Alighting stop.
    pub to: usize,
}

/// What the audit found; `ok()` is the pass/fail the driver's exit code follows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditReport {
    /// Train-dates checked.
    pub train_dates: u64,
    /// Seats checked.
    pub seats: u64,
    /// Live tickets checked for overlap.
    pub live_tickets: u64,
    /// Remaining counts compared with a recount.
    pub counts: u64,
    /// Acknowledged orders looked up.
    pub acked_orders: u64,
    /// Every problem found.
    pub problem_count: u64,
    /// The first [`PROBLEMS_LISTED_MAX`] problems.
    pub problems: Vec<String>,
}

impl AuditReport {
    /// True when nothing was wrong.
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    /// Records a problem.
    pub fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_LISTED_MAX {
            self.problems.push(text);
        }
    }

    /// Checks one train-date's stored seats, counts and live tickets.
    pub fn check_train_date(
        &mut self,
        train_date: &str,
        stop_count: usize,
        seats: &[StoredSeat],
        counts: &[(u8, usize, usize, i64)],
        tickets: &[StoredTicket],
    ) {
        self.train_dates += 1;
        self.seats += seats.len() as u64;
        self.live_tickets += tickets.len() as u64;
        self.counts += counts.len() as u64;
        let mut sold: HashMap<u32, u64> = seats.iter().map(|seat| (seat.seat, 0)).collect();
        if sold.len() != seats.len() {
            self.problem(format!("{train_date}: a seat id is stored twice"));
        }
        for ticket in tickets {
            if ticket.from >= ticket.to || ticket.to >= stop_count {
                self.problem(format!(
                    "{train_date}: order {} has journey {}..{}",
                    ticket.order_id, ticket.from, ticket.to
                ));
                continue;
            }
            let bits = journey_bits(ticket.from, ticket.to);
            let Some(taken) = sold.get_mut(&ticket.seat) else {
                self.problem(format!("{train_date}: order {} has unknown seat {}", ticket.order_id, ticket.seat));
                continue;
            };
            if *taken & bits != 0 {
                self.problem(format!(
                    "{train_date}: seat {} segments {}..{} sold twice (order {} overlaps another)",
                    ticket.seat, ticket.from, ticket.to, ticket.order_id
                ));
            }
            *taken |= bits;
        }
        for seat in seats {
            let from_tickets = sold[&seat.seat];
            if seat.mask != from_tickets {
                self.problem(format!(
                    "{train_date}: seat {} mask {:#b} but its live tickets take {from_tickets:#b}",
                    seat.seat, seat.mask
                ));
            }
        }
        let mut patterns: HashMap<(u8, u64), i64> = HashMap::new();
        for seat in seats {
            *patterns.entry((seat.class, seat.mask)).or_default() += 1;
        }
        let mut recount: HashMap<(u8, usize, usize), i64> = HashMap::new();
        let classes: std::collections::BTreeSet<u8> = seats.iter().map(|seat| seat.class).collect();
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
        for (class, from, to) in recount.into_keys() {
            self.problem(format!("{train_date}: class {class} {from}..{to} has seats but no count"));
        }
    }

    /// Checks every acknowledged order is stored with the state last acknowledged.
    pub fn check_acked(&mut self, stored: &HashMap<(String, u64), OrderStatus>, acked: &[AckedOrder]) {
        for order in acked {
            self.acked_orders += 1;
            match stored.get(&(order.train_date.clone(), order.order_id)) {
                Some(status) if *status == order.status => {}
                Some(status) => self.problem(format!(
                    "{} order {} acknowledged {:?} but stored {status:?}",
                    order.train_date, order.order_id, order.status
                )),
                None => self.problem(format!(
                    "{} order {} acknowledged {:?} but not stored",
                    order.train_date, order.order_id, order.status
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(seat: u32, mask: u64) -> StoredSeat {
        StoredSeat { seat, class: 2, mask }
    }

    #[test]
    fn clean_state_passes() {
        let mut report = AuditReport::default();
        // 3 stops, two seats; seat 0 sold 0..1.
        let tickets = [StoredTicket { order_id: 1, seat: 0, from: 0, to: 1 }];
        let counts = [(2, 0, 1, 1), (2, 0, 2, 1), (2, 1, 2, 2)];
        report.check_train_date("t", 3, &[seat(0, 0b01), seat(1, 0)], &counts, &tickets);
        assert!(report.ok(), "{:?}", report.problems);
    }

    #[test]
    fn double_sale_drift_and_leaks_are_caught() {
        let mut report = AuditReport::default();
        let tickets = [
            StoredTicket { order_id: 1, seat: 0, from: 0, to: 2 },
            StoredTicket { order_id: 2, seat: 0, from: 1, to: 2 },
        ];
        let counts = [(2, 0, 1, 2), (2, 0, 2, 1), (2, 1, 2, 1)];
        report.check_train_date("t", 3, &[seat(0, 0b11), seat(1, 0b10)], &counts, &tickets);
        let text = report.problems.join("\n");
        assert!(text.contains("sold twice"), "{text}");
        assert!(text.contains("seat 1 mask"), "{text}");
        assert!(text.contains("0..1 count 2, recount from masks 1"), "{text}");
    }
}
