//! The waitlist scenario's own model of one train-date, built from its
//! event feed alone and checked by brute force as each event arrives,
//! independently of the engine's code:
//!
//! - no seat segment taken twice (a hold, or seats reserved for a choice,
//!   on a segment already taken is a problem);
//! - first come, first served: a choice gets seats only if it fits then, and
//!   no waiting choice of its class that became active before it fits then;
//! - nothing freed is left to open sale while a waiting choice fits: after
//!   every decision, no waiting choice fits;
//! - a choice is fulfilled only once its seats are reserved, and once.
//!
//! "Fits" is the rule of a hold: enough seats of the class free over the
//! whole journey, no passenger holding an overlapping journey, the cut-off
//! and the departure not passed, sales open. It also tells the scenario
//! which release each fulfilment came from, for the refund → order latency.

use api::pb::{self, feed_event::Event};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Problems kept word for word; more are only counted.
const PROBLEMS_KEPT_MAX: usize = 20;

/// A choice's place in its queue: activation time, then request id and
/// choice index (a UUID's text sorts as its bytes do).
type Position = (u64, String, u32);

/// (request id, choice index).
type ChoiceKey = (String, u32);

#[derive(Debug)]
struct Choice {
    position: Position,
    class: i32,
    from: usize,
    to: usize,
    id_numbers: Vec<String>,
    deadline_ms: u64,
    order_id: String,
    user_id: String,
    reserved: Option<Reservation>,
}

/// Seats given to a choice: in which decision, from which release.
#[derive(Debug)]
struct Reservation {
    /// The order whose release freed them, if a release did (a join can
    /// find seats free, too).
    released_by: Option<String>,
    at_ms: u64,
}

/// Seats one order (or a reserved choice, under the order it becomes) holds.
#[derive(Debug)]
struct Owner {
    from: usize,
    to: usize,
    seats: Vec<usize>,
    id_numbers: Vec<String>,
}

/// A choice that became its order, for the scenario's latency and refunds.
#[derive(Clone, Debug)]
pub struct Fulfilment {
    pub order_id: String,
    pub user_id: String,
    /// The order whose release freed the seats, if the seats came from one.
    pub released_by: Option<String>,
    /// When the seats were reserved (the release's decision) and when the
    /// order was confirmed, Unix ms by seatd's clock.
    pub reserved_at_ms: u64,
    pub fulfilled_at_ms: u64,
}

/// What the model checked, and what it found wrong.
#[derive(Debug, Default, serde::Serialize)]
pub struct QueueChecks {
    pub events: u64,
    pub reservations: u64,
    /// Waiting choices ahead of a reserved one, each refitted then: none may fit.
    pub earlier_choices_rechecked: u64,
    /// Decisions after which every waiting choice was refitted (only when
    /// seats of its class were free at all).
    pub settled_checks: u64,
    pub fulfilled: u64,
    pub problem_count: u64,
    pub problems: Vec<String>,
}

impl QueueChecks {
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, problem: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_KEPT_MAX {
            self.problems.push(problem);
        }
    }
}

/// The train-date as its feed tells it.
pub struct QueueReference {
    seat_classes: Vec<i32>,
    seats_of_class: HashMap<i32, Vec<usize>>,
    departures_ms: Vec<u64>,
    /// Per seat, the (from, to, owner) journeys it is taken for.
    taken: Vec<Vec<(usize, usize, String)>>,
    owners: HashMap<String, Owner>,
    /// Passenger ID number → owners they travel under.
    travels: HashMap<String, Vec<String>>,
    choices: HashMap<ChoiceKey, Choice>,
    /// Per class, waiting (unreserved) choices in queue order.
    waiting: HashMap<i32, BTreeMap<Position, ChoiceKey>>,
    /// Per class, free seat-segments: the settled check scans a class only
    /// when some are free.
    free_segments: HashMap<i32, u64>,
    sales_open: bool,
    /// The decision in progress: the order it released (reservations that
    /// follow are served from it) and its time.
    releasing: Option<String>,
    decision_at_ms: u64,
    /// The last decision may have left seats free: check it settled before the next.
    unsettled: bool,
    /// The last event was a hold expiry: an expiry command's releases come
    /// as a run of them, served together after the last.
    in_expiry_run: bool,
    released_orders: HashSet<String>,
    fulfilled_choices: HashSet<ChoiceKey>,
    pub checks: QueueChecks,
}

impl QueueReference {
    /// A train-date of `detail`'s layout (seat indexes run over the
    /// carriages in order) with nothing taken.
    pub fn new(detail: &pb::TrainDetail) -> Self {
        let mut seat_classes = Vec::new();
        for carriage in &detail.carriages {
            seat_classes.extend(std::iter::repeat_n(carriage.seat_class, carriage.seat_count as usize));
        }
        let mut seats_of_class: HashMap<i32, Vec<usize>> = HashMap::new();
        for (seat, class) in seat_classes.iter().enumerate() {
            seats_of_class.entry(*class).or_default().push(seat);
        }
        let segments = detail.stops.len().saturating_sub(1) as u64;
        let free_segments =
            seats_of_class.iter().map(|(class, seats)| (*class, seats.len() as u64 * segments)).collect();
        QueueReference {
            taken: vec![Vec::new(); seat_classes.len()],
            seat_classes,
            seats_of_class,
            departures_ms: detail.stops.iter().map(|stop| stop.depart_at_ms.unwrap_or(u64::MAX)).collect(),
            owners: HashMap::new(),
            travels: HashMap::new(),
            choices: HashMap::new(),
            waiting: HashMap::new(),
            free_segments,
            sales_open: detail.sales_open,
            releasing: None,
            decision_at_ms: 0,
            unsettled: false,
            in_expiry_run: false,
            released_orders: HashSet::new(),
            fulfilled_choices: HashSet::new(),
            checks: QueueChecks::default(),
        }
    }

    /// Waiting choices, all classes.
    pub fn waiting_count(&self) -> usize {
        self.waiting.values().map(BTreeMap::len).sum()
    }

    /// Choices with seats reserved, not yet fulfilled.
    pub fn reserved_count(&self) -> usize {
        self.choices.values().filter(|choice| choice.reserved.is_some()).count()
    }

    /// Whether the feed has shown `order_id`'s seats released.
    pub fn saw_release_of(&self, order_id: &str) -> bool {
        self.released_orders.contains(order_id)
    }

    /// Applies one feed event, checking it; a fulfilment is returned.
    pub fn observe(&mut self, feed_event: &pb::FeedEvent) -> Option<Fulfilment> {
        self.checks.events += 1;
        let Some(event) = &feed_event.event else {
            self.checks.problem(format!("seq {}: an event without its typed message", feed_event.seq));
            return None;
        };
        let continues_decision = matches!(event, Event::WaitlistSeatsReserved(_))
            || (self.in_expiry_run && matches!(event, Event::HoldExpired(_)));
        if !continues_decision {
            self.check_settled();
            self.releasing = None;
            self.decision_at_ms = feed_event.committed_at_ms;
        }
        self.in_expiry_run = matches!(event, Event::HoldExpired(_));
        match event {
            Event::SeatsHeld(held) => {
                let (from, to) = (held.from_stop_index as usize, held.to_stop_index as usize);
                let seats = held.tickets.iter().map(|ticket| ticket.seat_index as usize).collect();
                let id_numbers = held.tickets.iter().map(|ticket| ticket.id_number.clone()).collect();
                self.take(&held.order_id, Owner { from, to, seats, id_numbers });
            }
            Event::HoldCancelled(pb::HoldCancelledEvent { order_id, at_ms })
            | Event::HoldExpired(pb::HoldExpiredEvent { order_id, at_ms })
            | Event::TicketsRefunded(pb::TicketsRefundedEvent { order_id, at_ms, .. }) => {
                self.release(order_id, *at_ms);
                self.released_orders.insert(order_id.clone());
            }
            Event::SalesClosed(_) => self.sales_open = false,
            Event::WaitlistJoined(joined) => self.join(joined),
            Event::WaitlistSeatsReserved(reserved) => self.reserve(reserved),
            Event::WaitlistFulfilled(fulfilled) => return self.fulfil(fulfilled),
            Event::WaitlistLeft(left) => self.leave(left),
            Event::OrderConfirmed(_) | Event::WaitlistRequest(_) => {}
            _ => self.checks.problem(format!(
                "seq {}: a {} event is not modelled (the scenario changes no tickets)",
                feed_event.seq, feed_event.kind
            )),
        }
        None
    }

    /// The end of the feed read so far is a decision boundary too.
    pub fn finish(&mut self) {
        self.check_settled();
    }

    fn key(choice: &Option<pb::WaitlistChoice>) -> ChoiceKey {
        let choice = choice.clone().unwrap_or_default();
        (choice.request_id, choice.index)
    }

    fn join(&mut self, joined: &pb::WaitlistJoinedEvent) {
        let key = Self::key(&joined.choice);
        let choice = Choice {
            position: (joined.activated_at_ms, key.0.clone(), key.1),
            class: joined.seat_class,
            from: joined.from_stop_index as usize,
            to: joined.to_stop_index as usize,
            id_numbers: joined.passengers.iter().map(|passenger| passenger.id_number.clone()).collect(),
            deadline_ms: joined.deadline_ms,
            order_id: joined.order_id.clone(),
            user_id: joined.user_id.clone(),
            reserved: None,
        };
        self.waiting.entry(choice.class).or_default().insert(choice.position.clone(), key.clone());
        if self.choices.insert(key.clone(), choice).is_some() {
            self.checks.problem(format!("choice {key:?} joined twice"));
        }
        self.unsettled = true;
    }

    fn reserve(&mut self, reserved: &pb::WaitlistSeatsReservedEvent) {
        self.checks.reservations += 1;
        let key = Self::key(&reserved.choice);
        let now_ms = reserved.at_ms;
        let Some(choice) = self.choices.get(&key) else {
            self.checks.problem(format!("choice {key:?} reserved without having joined"));
            return;
        };
        if choice.reserved.is_some() {
            self.checks.problem(format!("choice {key:?} reserved twice"));
            return;
        }
        let mut free = FreeCounts::default();
        let fits = self.fits(choice, now_ms, &mut free);
        let queue = self.waiting.get(&choice.class);
        let ahead: Vec<&ChoiceKey> =
            queue.into_iter().flat_map(|queue| queue.range(..&choice.position)).map(|(_, key)| key).collect();
        let rechecked = ahead.len() as u64;
        let passed_over =
            ahead.into_iter().find(|earlier| self.fits(&self.choices[*earlier], now_ms, &mut free)).cloned();
        self.checks.earlier_choices_rechecked += rechecked;
        if !fits {
            self.checks.problem(format!("choice {key:?} reserved seats it does not fit"));
        }
        if let Some(earlier) = passed_over {
            self.checks
                .problem(format!("choice {key:?} was served before {earlier:?}, which fitted and waited longer"));
        }
        let choice = self.choices.get_mut(&key).expect("looked up above");
        choice.reserved = Some(Reservation { released_by: self.releasing.clone(), at_ms: now_ms });
        let (class, position) = (choice.class, choice.position.clone());
        let owner = Owner {
            from: choice.from,
            to: choice.to,
            seats: reserved.tickets.iter().map(|ticket| ticket.seat_index as usize).collect(),
            id_numbers: choice.id_numbers.clone(),
        };
        let order_id = choice.order_id.clone();
        self.waiting.get_mut(&class).map(|queue| queue.remove(&position));
        self.take(&order_id, owner);
    }

    fn fulfil(&mut self, fulfilled: &pb::WaitlistFulfilledEvent) -> Option<Fulfilment> {
        let key = Self::key(&fulfilled.choice);
        let Some(choice) = self.choices.remove(&key) else {
            self.checks.problem(format!("choice {key:?} fulfilled without being queued"));
            return None;
        };
        if !self.fulfilled_choices.insert(key.clone()) {
            self.checks.problem(format!("choice {key:?} fulfilled twice"));
        }
        let Some(reservation) = choice.reserved else {
            self.checks.problem(format!("choice {key:?} fulfilled without reserved seats"));
            return None;
        };
        self.checks.fulfilled += 1;
        Some(Fulfilment {
            order_id: choice.order_id,
            user_id: choice.user_id,
            released_by: reservation.released_by,
            reserved_at_ms: reservation.at_ms,
            fulfilled_at_ms: fulfilled.at_ms,
        })
    }

    fn leave(&mut self, left: &pb::WaitlistLeftEvent) {
        let key = Self::key(&left.choice);
        let Some(choice) = self.choices.remove(&key) else { return };
        if choice.reserved.is_some() {
            self.release(&choice.order_id, left.at_ms);
        } else if let Some(queue) = self.waiting.get_mut(&choice.class) {
            queue.remove(&choice.position);
        }
    }

    fn take(&mut self, owner_id: &str, owner: Owner) {
        for seat in &owner.seats {
            let Some(journeys) = self.taken.get_mut(*seat) else {
                self.checks.problem(format!("{owner_id}: seat {seat} is not on the train"));
                continue;
            };
            if let Some((_, _, holder)) = journeys.iter().find(|(a, b, _)| *a < owner.to && owner.from < *b) {
                self.checks.problem(format!(
                    "seat {seat} {}..{} sold twice: to {holder} and to {owner_id}",
                    owner.from, owner.to
                ));
            }
            journeys.push((owner.from, owner.to, owner_id.to_owned()));
            *self.free_segments.entry(self.seat_classes[*seat]).or_default() -= (owner.to - owner.from) as u64;
        }
        for id_number in &owner.id_numbers {
            self.travels.entry(id_number.clone()).or_default().push(owner_id.to_owned());
        }
        if self.owners.insert(owner_id.to_owned(), owner).is_some() {
            self.checks.problem(format!("{owner_id} took seats twice"));
        }
    }

    fn release(&mut self, owner_id: &str, at_ms: u64) {
        let Some(owner) = self.owners.remove(owner_id) else {
            self.checks.problem(format!("{owner_id} released seats it did not hold"));
            return;
        };
        for seat in &owner.seats {
            self.taken[*seat].retain(|(_, _, holder)| holder != owner_id);
            *self.free_segments.entry(self.seat_classes[*seat]).or_default() += (owner.to - owner.from) as u64;
        }
        for id_number in &owner.id_numbers {
            if let Some(owners) = self.travels.get_mut(id_number) {
                owners.retain(|held| held != owner_id);
            }
        }
        self.releasing = Some(owner_id.to_owned());
        self.decision_at_ms = at_ms;
        self.unsettled = true;
    }

    /// After a decision that freed seats or queued a choice: no waiting choice fits.
    fn check_settled(&mut self) {
        if !std::mem::take(&mut self.unsettled) {
            return;
        }
        let now_ms = self.decision_at_ms;
        let mut free = FreeCounts::default();
        let mut fitting = None;
        for (class, queue) in &self.waiting {
            if self.free_segments.get(class).copied().unwrap_or(0) == 0 {
                continue;
            }
            self.checks.settled_checks += 1;
            fitting = queue.values().find(|key| self.fits(&self.choices[*key], now_ms, &mut free));
            if fitting.is_some() {
                break;
            }
        }
        if let Some(key) = fitting.cloned() {
            self.checks.problem(format!("choice {key:?} fits but was left waiting"));
        }
    }

    fn fits(&self, choice: &Choice, now_ms: u64, free: &mut FreeCounts) -> bool {
        let departure_ms = self.departures_ms.get(choice.from).copied().unwrap_or(0);
        self.sales_open
            && now_ms < choice.deadline_ms
            && now_ms < departure_ms
            && free.get(self, choice.class, choice.from, choice.to) >= choice.id_numbers.len()
            && !choice.id_numbers.iter().any(|id_number| self.travels_over(id_number, choice.from, choice.to))
    }

    fn travels_over(&self, id_number: &str, from: usize, to: usize) -> bool {
        let owners = self.travels.get(id_number).into_iter().flatten();
        owners.filter_map(|owner| self.owners.get(owner)).any(|owner| owner.from < to && from < owner.to)
    }

    fn free_seats(&self, class: i32, from: usize, to: usize) -> usize {
        let seats = self.seats_of_class.get(&class).into_iter().flatten();
        seats.filter(|seat| self.taken[**seat].iter().all(|(a, b, _)| *b <= from || to <= *a)).count()
    }
}

/// Free seats per (class, journey), counted once per check: nothing is
/// taken while one check runs.
#[derive(Default)]
struct FreeCounts(HashMap<(i32, usize, usize), usize>);

impl FreeCounts {
    fn get(&mut self, reference: &QueueReference, class: i32, from: usize, to: usize) -> usize {
        *self.0.entry((class, from, to)).or_insert_with(|| reference.free_seats(class, from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 86_400_000;

    /// Two second-class seats, stops 0..3 leaving a day from now.
    fn reference() -> QueueReference {
        let stop = |index: u32| pb::TrainStop { index, depart_at_ms: Some(DAY_MS), ..Default::default() };
        let carriage = pb::TrainCarriage {
            number: 1,
            seat_class: pb::SeatClass::Second as i32,
            seat_count: 2,
            ..Default::default()
        };
        let detail = pb::TrainDetail {
            sales_open: true,
            stops: (0..4).map(stop).collect(),
            carriages: vec![carriage],
            ..Default::default()
        };
        QueueReference::new(&detail)
    }

    fn feed(seq: u64, event: Event) -> pb::FeedEvent {
        pb::FeedEvent { seq, committed_at_ms: 1, event: Some(event), ..Default::default() }
    }

    fn ticket(seat: u32, id_number: &str) -> pb::HeldTicket {
        pb::HeldTicket { seat_index: seat, id_number: id_number.into(), ..Default::default() }
    }

    fn sold(order_id: &str, seat: u32) -> Event {
        Event::SeatsHeld(pb::SeatsHeldEvent {
            order_id: order_id.into(),
            from_stop_index: 0,
            to_stop_index: 3,
            tickets: vec![ticket(seat, &format!("P-{order_id}"))],
            ..Default::default()
        })
    }

    fn choice(request: &str) -> Option<pb::WaitlistChoice> {
        Some(pb::WaitlistChoice { request_id: request.into(), index: 0 })
    }

    fn joined(request: &str, activated_at_ms: u64) -> Event {
        Event::WaitlistJoined(pb::WaitlistJoinedEvent {
            choice: choice(request),
            activated_at_ms,
            user_id: format!("user-{request}"),
            order_id: format!("order-{request}"),
            seat_class: pb::SeatClass::Second as i32,
            from_stop_index: 0,
            to_stop_index: 3,
            passengers: vec![pb::FeedPassenger { name: "W".into(), id_number: format!("W-{request}") }],
            deadline_ms: DAY_MS,
            ..Default::default()
        })
    }

    fn refunded(order_id: &str) -> Event {
        Event::TicketsRefunded(pb::TicketsRefundedEvent { order_id: order_id.into(), at_ms: 2, fee_fen: 0 })
    }

    fn reserved(request: &str, seat: u32) -> Event {
        Event::WaitlistSeatsReserved(pb::WaitlistSeatsReservedEvent {
            choice: choice(request),
            tickets: vec![ticket(seat, &format!("W-{request}"))],
            at_ms: 2,
        })
    }

    fn fulfilled(request: &str) -> Event {
        Event::WaitlistFulfilled(pb::WaitlistFulfilledEvent { choice: choice(request), at_ms: 5 })
    }

    /// Sold out, then "a" waiting before "b".
    fn sold_out_with_two_waiting() -> (QueueReference, u64) {
        let mut reference = reference();
        let events = [sold("o1", 0), sold("o2", 1), joined("a", 10), joined("b", 11)];
        for (seq, event) in events.into_iter().enumerate() {
            reference.observe(&feed(seq as u64 + 1, event));
        }
        (reference, 5)
    }

    #[test]
    fn a_refund_served_to_the_earliest_waiting_choice_passes_and_names_its_refund() {
        let (mut reference, seq) = sold_out_with_two_waiting();
        reference.observe(&feed(seq, refunded("o1")));
        reference.observe(&feed(seq + 1, reserved("a", 0)));
        let fulfilment = reference.observe(&feed(seq + 2, fulfilled("a"))).expect("a fulfilment");
        reference.finish();
        assert!(reference.checks.ok(), "{:?}", reference.checks.problems);
        assert_eq!(fulfilment.released_by.as_deref(), Some("o1"));
        assert_eq!(
            (fulfilment.order_id.as_str(), fulfilment.reserved_at_ms, fulfilment.fulfilled_at_ms),
            ("order-a", 2, 5)
        );
        assert_eq!((reference.waiting_count(), reference.reserved_count()), (1, 0));
    }

    #[test]
    fn a_seat_given_past_an_earlier_fitting_choice_is_a_problem() {
        let (mut reference, seq) = sold_out_with_two_waiting();
        reference.observe(&feed(seq, refunded("o1")));
        reference.observe(&feed(seq + 1, reserved("b", 0)));
        reference.finish();
        assert_eq!(reference.checks.problem_count, 1, "{:?}", reference.checks.problems);
        assert!(reference.checks.problems[0].contains("served before"));
    }

    #[test]
    fn a_freed_seat_left_to_sale_while_a_choice_fits_is_a_problem() {
        let (mut reference, seq) = sold_out_with_two_waiting();
        reference.observe(&feed(seq, refunded("o1")));
        reference.observe(&feed(seq + 1, sold("o3", 0)));
        assert_eq!(reference.checks.problem_count, 1, "{:?}", reference.checks.problems);
        assert!(reference.checks.problems[0].contains("fits but was left waiting"));
    }

    #[test]
    fn a_segment_sold_twice_is_a_problem() {
        let mut reference = reference();
        reference.observe(&feed(1, sold("o1", 0)));
        reference.observe(&feed(2, sold("o2", 0)));
        assert_eq!(reference.checks.problem_count, 1);
        assert!(reference.checks.problems[0].contains("sold twice"));
    }
}
