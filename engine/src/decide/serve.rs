//! Serving the waitlist queue from seats a decision frees.
//!
//! The rule that keeps freed seats for the queue: **after every decision, no
//! waiting choice of the train-date fits** (all its passengers could be
//! seated together in its class and journey, no passenger's journey
//! overlaps one they already hold, its cut-off not passed, sales open).
//! Seats only come free in cancel, refund, hold expiry, a reservation's
//! release and a change's release, and each of those decisions ends by
//! serving the queue here: choices are tried in queue order against the
//! state as it will be after the release (and after the reservations made
//! before them in the same pass), and each one that fits gets its seats
//! reserved (`WaitlistSeatsReserved`) in the same list of events. Taking
//! seats never makes a choice fit, so one pass settles the queue. A hold
//! therefore never competes with a fitting choice and needs no check of its
//! own: the hold path reads nothing of the waitlist, and an empty queue costs
//! the release path one emptiness test.
//!
//! A pass serves the classes in plan order (a release of one passenger's
//! first-class journey can let the same passenger's second-class choice
//! fit). Within a class it does not read every waiting choice: choices of
//! one fit group (journey and party size, `FitGroup`) need the same free
//! seats, so a group without room is passed over whole, and in a group with
//! room only the choices up to its first that fits are read (those before it
//! are past their cut-off or hold an overlapping journey). The groups' heads
//! are taken earliest first, so this serves exactly the choices, in exactly
//! the order, that reading the queue front to back would (`serve_class`),
//! reading each group's head plus one choice per choice served or passed
//! over, instead of the whole queue.

use crate::allocation::{SeatSearch, allocate_group};
use crate::domain::allocation_policy::AllocationPolicy;
use crate::domain::event::Event;
use crate::domain::inventory::SeatInventory;
use crate::domain::order::{Order, OrderId, Ticket};
use crate::domain::seat_class::SeatClass;
use crate::domain::state::{SalesStatus, TrainDateState};
use crate::domain::waitlist::{FitGroup, WaitingChoice, WaitlistPassenger};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Seats a decision releases: one order's (or reservation's) tickets.
pub(crate) struct Released<'a> {
    /// The order id the journeys are indexed under.
    pub order_id: OrderId,
    pub from: usize,
    pub to: usize,
    pub tickets: &'a [Ticket],
}

impl<'a> Released<'a> {
    pub fn of(order: &'a Order) -> Self {
        Released {
            order_id: order.id,
            from: usize::from(order.from),
            to: usize::from(order.to),
            tickets: &order.tickets,
        }
    }
}

/// The train-date as a decision will leave it: releases and reservations
/// made so far applied to a copy of the inventory (copied only once a seat
/// changes) and to an overlay of the overlap index.
pub(crate) struct Seating<'a> {
    state: &'a TrainDateState,
    inventory: Cow<'a, SeatInventory>,
    /// Orders whose journeys no longer count for the overlap rule.
    gone: Vec<OrderId>,
    /// (id number, from, to) journeys taken in this decision.
    added: Vec<(String, usize, usize)>,
}

impl<'a> Seating<'a> {
    pub fn new(state: &'a TrainDateState) -> Self {
        Seating { state, inventory: Cow::Borrowed(&state.inventory), gone: Vec::new(), added: Vec::new() }
    }

    pub fn release(&mut self, released: &Released<'a>) {
        for ticket in released.tickets {
            self.inventory.to_mut().release(ticket.seat, released.from, released.to);
        }
        self.gone.push(released.order_id);
    }

    /// Seats for every passenger of `choice` now, or `None` if it does not fit.
    pub fn seat(&self, choice: &WaitingChoice, now_ms: u64) -> Option<Vec<Ticket>> {
        if !self.group_has_room(choice.class, FitGroup::of(choice), now_ms) || !self.may_seat(choice, now_ms) {
            return None;
        }
        let (from, to) = choice.journey();
        self.seat_group(choice.class, from, to, &choice.passengers, choice.policy)
    }

    /// What every choice of `group` in `class` needs alike: sales open, the
    /// train not yet gone from the boarding stop, enough seats free.
    fn group_has_room(&self, class: SeatClass, group: FitGroup, now_ms: u64) -> bool {
        let (from, to) = group.journey();
        self.state.sales == SalesStatus::Open
            && now_ms < self.state.departure_ms(from)
            && self.remaining(class, from, to) >= u32::from(group.passengers)
    }

    /// What only `choice` needs: its cut-off not passed, and none of its
    /// passengers holding an overlapping journey.
    fn may_seat(&self, choice: &WaitingChoice, now_ms: u64) -> bool {
        let (from, to) = choice.journey();
        now_ms < choice.deadline_ms
            && !choice.passengers.iter().any(|passenger| self.overlaps(&passenger.id_number, from, to))
    }

    /// Free seats of `class` for `from..to` remaining after this decision so far.
    pub fn remaining(&self, class: SeatClass, from: usize, to: usize) -> u32 {
        self.state.plan.class_slot(class).map_or(0, |slot| self.inventory.remaining(slot, from, to))
    }

    /// Seats for all `passengers` together in `class` over `from..to`, or
    /// `None` if too few are free or a passenger's journeys overlap.
    pub fn seat_group(
        &self,
        class: SeatClass,
        from: usize,
        to: usize,
        passengers: &[WaitlistPassenger],
        policy: AllocationPolicy,
    ) -> Option<Vec<Ticket>> {
        if (self.remaining(class, from, to) as usize) < passengers.len() {
            return None;
        }
        if passengers.iter().any(|passenger| self.overlaps(&passenger.id_number, from, to)) {
            return None;
        }
        let search = SeatSearch { plan: &self.state.plan, inventory: &self.inventory, from, to, policy };
        let seats = allocate_group(&search, class, passengers.len(), &[])
            .expect("remaining counts are exact, so enough free seats exist");
        let fare_fen = self.state.plan.fare_fen(class, from, to);
        let tickets = passengers
            .iter()
            .zip(seats)
            .map(|(passenger, seat)| Ticket {
                passenger_name: passenger.name.clone(),
                id_number: passenger.id_number.clone(),
                class,
                seat,
                fare_fen,
                preference_met: true,
            })
            .collect();
        Some(tickets)
    }

    pub fn take(&mut self, from: usize, to: usize, tickets: &[Ticket]) {
        for ticket in tickets {
            self.inventory.to_mut().take(ticket.seat, from, to);
            self.added.push((ticket.id_number.clone(), from, to));
        }
    }

    /// The passenger-overlap rule of holds, on the state as changed so far.
    pub fn overlaps(&self, id_number: &str, from: usize, to: usize) -> bool {
        let crosses = |a: usize, b: usize| a < to && from < b;
        let held = self.state.passenger_journeys.get(id_number).is_some_and(|journeys| {
            journeys.iter().any(|j| !self.gone.contains(&j.order_id) && crosses(usize::from(j.from), usize::from(j.to)))
        });
        held || self.added.iter().any(|(id, a, b)| *id == id_number && crosses(*a, *b))
    }
}

/// The reservations that settle the queue after `released` come free.
pub(crate) fn serve_queue(state: &TrainDateState, released: &[Released], now_ms: u64) -> Vec<Event> {
    if !state.waitlist.has_waiting() || released.is_empty() {
        return Vec::new();
    }
    let mut seating = Seating::new(state);
    for released in released {
        seating.release(released);
    }
    serve(state, seating, now_ms)
}

/// Serves every waiting choice that fits `seating`, class by class, in queue order.
pub(crate) fn serve<'a>(state: &'a TrainDateState, mut seating: Seating<'a>, now_ms: u64) -> Vec<Event> {
    let mut events = Vec::new();
    for class in state.plan.classes() {
        serve_class(state, &mut seating, *class, now_ms, &mut events);
    }
    events
}

/// Serves the choices of `class` that fit, earliest first. `heads` holds,
/// per fit group, its first choice not yet served or passed over, earliest
/// on top; every waiting choice of the class before the top has been served
/// or passed over. So the top fits if its group has room and it may be
/// seated, and it is then the earliest choice that fits: it is served. If
/// its group has no room, the group is done for the pass (seats are only
/// taken); if the choice may not be seated, it is passed over (the clock
/// stands still, journeys are only added). Either way the top is never read
/// again, so a pass reads each group's head once plus one choice per choice
/// served or passed over.
fn serve_class<'a>(
    state: &'a TrainDateState,
    seating: &mut Seating<'a>,
    class: SeatClass,
    now_ms: u64,
    events: &mut Vec<Event>,
) {
    let waiting_groups = state.waitlist.waiting_groups(class);
    let mut groups = Vec::with_capacity(waiting_groups.len());
    let mut heads = BinaryHeap::with_capacity(waiting_groups.len());
    for (group, positions) in waiting_groups {
        // Most groups of a sold-out class have no room: leave them out at once.
        if !seating.group_has_room(class, group, now_ms) {
            continue;
        }
        let mut positions = positions.iter();
        if let Some(first) = positions.next() {
            heads.push(Reverse((*first, groups.len())));
        }
        groups.push((group, positions));
    }
    while let Some(Reverse((position, index))) = heads.pop() {
        let (group, rest) = &mut groups[index];
        if !seating.group_has_room(class, *group, now_ms) {
            continue;
        }
        let choice = state.waitlist.at(class, &position).expect("grouped choices are queued");
        if seating.may_seat(choice, now_ms) {
            let (from, to) = choice.journey();
            let tickets = seating
                .seat_group(class, from, to, &choice.passengers, choice.policy)
                .expect("the group has room and the choice may be seated");
            seating.take(from, to, &tickets);
            events.push(Event::WaitlistSeatsReserved { choice: position.choice, tickets, at_ms: now_ms });
        }
        if let Some(next) = rest.next() {
            heads.push(Reverse((*next, index)));
        }
    }
}

/// The first waiting choice that fits the state as it is: `None` after
/// every decision (the rule above); tests and replay checks call it.
pub fn first_fitting_choice(state: &TrainDateState, now_ms: u64) -> Option<crate::domain::waitlist::ChoiceRef> {
    let seating = Seating::new(state);
    state
        .waitlist
        .live()
        .filter(|choice| choice.reserved.is_none())
        .find(|choice| seating.seat(choice, now_ms).is_some())
        .map(|choice| choice.position.choice)
}
