//! Business rules end to end through `decide` and `apply`, given/when/then.
//!
//! Every accepted command is applied as the actor applies it (seq = last + 1,
//! current schema version) and the state's invariants are checked after each
//! event. Seats are named `carriage-rowLetter`, such as `2-01C`.

use super::decide;
use crate::allocation::AllocationPolicy;
use crate::domain::apply::apply;
use crate::domain::command::{Command, HoldSeats, PassengerRequest, SeatChoice};
use crate::domain::event::{EVENT_SCHEMA_VERSION, Event, EventRecord, SeatsHeld};
use crate::domain::order::{OrderId, OrderStatus};
use crate::domain::plan::{SeatIndex, TrainPlan};
use crate::domain::rejection::Rejection;
use crate::domain::seat_class::SeatClass;
use crate::domain::segments::journey_bits;
use crate::domain::state::{SalesStatus, TrainDateKey, TrainDateState, TrainDateTotals};
use chrono::NaiveDate;
use std::sync::Arc;
use uuid::Uuid;

use SeatClass::{Business, First, Second, SoftSleeper};

const USER: &str = "user-1";
const HOLD_TTL_MS: u64 = 10 * 60 * 1000;
const MINUTE_MS: u64 = 60 * 1000;

/// One first-class row (4 seats) in carriage 1, one second-class row (5 seats) in carriage 2.
const SMALL: &[(SeatClass, u16, &str)] = &[(First, 1, "ACDF"), (Second, 1, "ABCDF")];

use crate::test_fixtures::template;

fn any(id_number: &str, class: SeatClass) -> PassengerRequest {
    PassengerRequest {
        name: format!("name of {id_number}"),
        id_number: id_number.into(),
        class,
        choice: SeatChoice::Any,
    }
}

fn exact(id_number: &str, class: SeatClass, carriage: u8, seat_code: &str) -> PassengerRequest {
    PassengerRequest { choice: SeatChoice::Exact { carriage, seat_code: seat_code.into() }, ..any(id_number, class) }
}

fn pick(id_number: &str, class: SeatClass, letter: char, row: u8) -> PassengerRequest {
    PassengerRequest { choice: SeatChoice::Pick { letter, row }, ..any(id_number, class) }
}

fn confirm(order_id: OrderId) -> Command {
    Command::ConfirmOrder { order_id, user_id: None }
}

fn cancel(order_id: OrderId) -> Command {
    Command::CancelOrder { order_id, user_id: None }
}

/// One train-date and the time commands are decided at.
struct World {
    state: TrainDateState,
    now_ms: u64,
    next_order: u128,
}

impl World {
    /// A fresh train-date, at midnight of its departure date: eight hours before it leaves.
    fn train(stop_count: usize, carriages: &[(SeatClass, u16, &str)]) -> Self {
        let plan = Arc::new(TrainPlan::new(template(stop_count, carriages)));
        let date = NaiveDate::from_ymd_opt(2025, 3, 1).expect("valid date");
        let state = TrainDateState::open(TrainDateKey::new("G1", date), plan);
        let now_ms = state.service_day_start_ms;
        World { state, now_ms, next_order: 1 }
    }

    /// A hold command by `USER` with a fresh order id, as the actor builds one.
    fn hold(&mut self, request_id: &str, from: usize, to: usize, passengers: Vec<PassengerRequest>) -> HoldSeats {
        let order_id = OrderId(Uuid::from_u128(self.next_order));
        self.next_order += 1;
        HoldSeats {
            order_id,
            request_id: request_id.into(),
            user_id: USER.into(),
            from,
            to,
            passengers,
            hold_ttl_ms: HOLD_TTL_MS,
            policy: AllocationPolicy::TightestFit,
        }
    }

    /// Decides `command` now and applies its events; a rejection or an empty
    /// answer must leave the state exactly as it was.
    fn when(&mut self, command: Command) -> Result<Vec<EventRecord>, Rejection> {
        let before = self.state.clone();
        let events = decide(&self.state, &command, self.now_ms);
        let events = match events {
            Ok(events) => events,
            Err(rejection) => {
                assert_eq!(self.state, before, "a rejection changes nothing");
                return Err(rejection);
            }
        };
        let mut records = Vec::new();
        for event in events {
            let record = EventRecord { seq: self.state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event };
            apply(&mut self.state, &record);
            self.state.verify_invariants().unwrap();
            records.push(record);
        }
        let fitting = crate::decide::first_fitting_choice(&self.state, self.now_ms);
        assert_eq!(fitting, None, "a waitlist choice that fits was left waiting");
        if records.is_empty() {
            assert_eq!(self.state, before, "an empty answer changes nothing");
        }
        Ok(records)
    }

    fn events(&mut self, command: Command) -> Result<Vec<Event>, Rejection> {
        self.when(command).map(|records| records.into_iter().map(|record| record.event).collect())
    }

    fn rejected(&mut self, command: Command) -> Rejection {
        self.when(command).expect_err("command is rejected")
    }

    fn rejected_hold(
        &mut self,
        request_id: &str,
        from: usize,
        to: usize,
        passengers: Vec<PassengerRequest>,
    ) -> Rejection {
        let hold = self.hold(request_id, from, to, passengers);
        self.rejected(Command::HoldSeats(hold))
    }

    /// Holds and expects exactly one `SeatsHeld`.
    fn held(&mut self, request_id: &str, from: usize, to: usize, passengers: Vec<PassengerRequest>) -> SeatsHeld {
        let hold = self.hold(request_id, from, to, passengers);
        match self.events(Command::HoldSeats(hold)).expect("hold is accepted").as_slice() {
            [Event::SeatsHeld(held)] => held.clone(),
            other => panic!("expected one SeatsHeld, got {other:?}"),
        }
    }

    fn confirmed(&mut self, order_id: OrderId) {
        let events = self.events(confirm(order_id)).expect("confirm is accepted");
        assert_eq!(events, [Event::OrderConfirmed { order_id, at_ms: self.now_ms }]);
    }

    fn seat(&self, name: &str) -> SeatIndex {
        let (carriage, code) = name.split_once('-').expect("seat names look like 1-01A");
        self.state.plan.parse_seat_code(carriage.parse().expect("carriage number"), code).expect("seat exists")
    }

    fn seat_names(&self, held: &SeatsHeld) -> Vec<String> {
        let plan = &self.state.plan;
        held.tickets
            .iter()
            .map(|ticket| format!("{}-{}", plan.position(ticket.seat).carriage, plan.seat_code(ticket.seat)))
            .collect()
    }

    fn remaining(&self, class: SeatClass, from: usize, to: usize) -> u32 {
        self.state.inventory.remaining(self.state.plan.class_slot(class).expect("class on train"), from, to)
    }

    fn status(&self, order_id: OrderId) -> OrderStatus {
        self.state.order(&order_id).expect("order exists").status
    }
}

// ---- holds ----

#[test]
fn a_hold_seats_every_passenger_prices_them_and_starts_the_payment_clock() {
    let mut world = World::train(6, SMALL);
    // when two second-class and one first-class passenger hold 1 → 4
    let held = world.held("r1", 1, 4, vec![any("P1", Second), any("P2", Second), any("P3", First)]);
    // then the pair sits side by side and everyone is priced for 300 km on a G train
    assert_eq!(world.seat_names(&held), ["2-01A", "2-01B", "1-01A"]);
    let fares: Vec<u64> = held.tickets.iter().map(|ticket| ticket.fare_fen).collect();
    assert_eq!(fares, [10_800, 10_800, 14_400], "300 km × 0.3 or 0.4 yuan × 1.2");
    assert!(held.tickets.iter().all(|ticket| ticket.preference_met));
    assert_eq!((held.from, held.to, held.held_at_ms), (1, 4, world.now_ms));
    assert_eq!(held.expires_at_ms, world.now_ms + HOLD_TTL_MS);
    assert_eq!(world.status(held.order_id), OrderStatus::Held);
    assert_eq!(world.state.totals, TrainDateTotals { held_orders: 1, held_tickets: 3, sold_tickets: 0 });
    // and only journeys overlapping 1 → 4 lose seats
    assert_eq!(world.remaining(Second, 1, 4), 3);
    assert_eq!(world.remaining(Second, 3, 5), 3);
    assert_eq!(world.remaining(Second, 0, 1), 5);
    assert_eq!(world.remaining(Second, 4, 5), 5);
    assert_eq!(world.remaining(First, 0, 5), 3);
}

#[test]
fn events_are_numbered_from_one_with_the_schema_version() {
    let mut world = World::train(6, SMALL);
    let hold = world.hold("r1", 0, 2, vec![any("P1", Second)]);
    let order_id = hold.order_id;
    let mut records = world.when(Command::HoldSeats(hold)).unwrap();
    records.extend(world.when(confirm(order_id)).unwrap());
    records.extend(world.when(Command::CloseSales).unwrap());
    let numbered: Vec<(u64, u16, &str)> =
        records.iter().map(|record| (record.seq, record.version, record.event.kind())).collect();
    assert_eq!(
        numbered,
        [
            (1, EVENT_SCHEMA_VERSION, "seats_held"),
            (2, EVENT_SCHEMA_VERSION, "order_confirmed"),
            (3, EVENT_SCHEMA_VERSION, "sales_closed")
        ]
    );
    assert_eq!(world.state.last_seq, 3);
}

#[test]
fn a_sold_out_class_rejects_the_whole_order() {
    // given first class has one seat left from stop 0 to 5
    let mut world = World::train(6, SMALL);
    world.held("r1", 0, 5, vec![any("F1", First), any("F2", First), any("F3", First)]);
    // when two second-class and two first-class passengers ask
    let passengers = vec![any("S1", Second), any("S2", Second), any("F4", First), any("F5", First)];
    let rejection = world.rejected_hold("r2", 0, 5, passengers);
    // then nobody is seated, not even in second class
    assert_eq!(rejection, Rejection::SoldOut { class: First, requested: 2, remaining: 1, segments_free: false });
    assert_eq!(world.remaining(Second, 0, 5), 5);
    // and the refused request id is free to retry with fewer passengers
    let held = world.held("r2", 0, 5, vec![any("S1", Second), any("S2", Second), any("F4", First)]);
    assert_eq!(world.seat_names(&held), ["2-01A", "2-01B", "1-01F"]);
    assert_eq!(world.remaining(First, 0, 5), 0);
    assert_eq!(world.remaining(First, 0, 1), 0);
}

#[test]
fn a_refusal_says_when_every_segment_had_a_seat_on_different_seats() {
    // given two first-class seats taken for the whole route, 1-01A taken
    // 0 → 2 and 1-01C taken 2 → 5: each segment alone has one seat free
    let mut world = World::train(6, SMALL);
    world.held("whole", 0, 5, vec![exact("W1", First, 1, "01D"), exact("W2", First, 1, "01F")]);
    world.held("early", 0, 2, vec![exact("E1", First, 1, "01A")]);
    world.held("late", 2, 5, vec![exact("L1", First, 1, "01C")]);
    // when one passenger asks for the whole route
    let rejection = world.rejected_hold("long", 0, 5, vec![any("P1", First)]);
    // then it is refused although its seat-km are free: fragmentation
    assert_eq!(rejection, Rejection::SoldOut { class: First, requested: 1, remaining: 0, segments_free: true });
    assert!(rejection.to_string().contains("not on the same seats"), "{rejection}");
}

#[test]
fn a_refusal_says_when_some_segment_was_truly_full() {
    // given the same fragments, so each segment has one first-class seat free
    let mut world = World::train(6, SMALL);
    world.held("whole", 0, 5, vec![exact("W1", First, 1, "01D"), exact("W2", First, 1, "01F")]);
    world.held("early", 0, 2, vec![exact("E1", First, 1, "01A")]);
    world.held("late", 2, 5, vec![exact("L1", First, 1, "01C")]);
    // when two passengers ask, or one asks after the last seat of segment 1 goes
    let two = world.rejected_hold("two", 0, 5, vec![any("P1", First), any("P2", First)]);
    world.held("short", 1, 2, vec![any("S1", First)]);
    let one = world.rejected_hold("one", 0, 5, vec![any("P3", First)]);
    // then neither could have been seated on any allocation: not fragmentation
    assert_eq!(two, Rejection::SoldOut { class: First, requested: 2, remaining: 0, segments_free: false });
    assert_eq!(one, Rejection::SoldOut { class: First, requested: 1, remaining: 0, segments_free: false });
}

#[test]
fn a_taken_exact_seat_rejects_the_whole_order() {
    // given 1-01A is held from stop 0 to 3
    let mut world = World::train(6, SMALL);
    world.held("r1", 0, 3, vec![exact("X", First, 1, "01A")]);
    // when another order wants it for 2 → 4, alongside a passenger who could be seated
    let rejection = world.rejected_hold("r2", 2, 4, vec![any("Y", Second), exact("Z", First, 1, "01A")]);
    // then the order is refused and nobody is seated
    assert_eq!(rejection, Rejection::SeatTaken { passenger: 1, carriage: 1, seat: "01A".into() });
    assert_eq!(world.remaining(Second, 2, 4), 5);
    // but the same seat is free from stop 3, where the first sale ends
    let held = world.held("r3", 3, 5, vec![exact("Z", First, 1, " 01a ")]);
    assert_eq!(world.seat_names(&held), ["1-01A"]);
    assert_eq!(world.state.inventory.mask(world.seat("1-01A")), journey_bits(0, 5));
    // and two passengers cannot choose one seat
    let rejection = world.rejected_hold("r4", 0, 1, vec![exact("V", First, 1, "01C"), exact("W", First, 1, "01C")]);
    assert_eq!(rejection, Rejection::SeatTaken { passenger: 1, carriage: 1, seat: "01C".into() });
}

#[test]
fn an_exact_seat_must_exist_in_a_carriage_of_the_class() {
    let mut world = World::train(6, SMALL);
    for (choice, passenger) in [
        (exact("X", Second, 1, "01A"), 0), // carriage 1 is first class
        (exact("X", Second, 3, "01A"), 0), // no carriage 3
        (exact("X", Second, 2, "02A"), 0), // carriage 2 has one row
        (exact("X", Second, 2, "01E"), 0), // second class has no E
    ] {
        match world.rejected_hold("r1", 0, 5, vec![choice]) {
            Rejection::InvalidSeatChoice { passenger: index, .. } => assert_eq!(index, passenger),
            other => panic!("expected InvalidSeatChoice, got {other:?}"),
        }
    }
}

#[test]
fn a_pick_that_cannot_be_met_falls_back_to_other_seats_of_the_class() {
    let mut world = World::train(6, &[(First, 1, "ACDF"), (Second, 2, "ABCDF")]);
    // when A1 and C2 are picked in first class, which has only one row
    let held = world.held("r1", 0, 5, vec![pick("P1", First, 'A', 1), pick("P2", First, 'C', 2)]);
    // then both are seated side by side anyway, flagged as not what they asked for
    assert_eq!(world.seat_names(&held), ["1-01A", "1-01C"]);
    assert!(held.tickets.iter().all(|ticket| !ticket.preference_met));
    // when the same picks are made in second class, which has two rows
    let passengers = vec![pick("P3", Second, 'A', 1), pick("P4", Second, 'C', 2), any("P5", Second)];
    let held = world.held("r2", 0, 5, passengers);
    // then they are met, and the passenger without a pick takes another seat
    assert_eq!(world.seat_names(&held), ["2-01A", "2-02C", "2-01B"]);
    assert!(held.tickets.iter().all(|ticket| ticket.preference_met));
}

#[test]
fn invalid_picks_are_rejected() {
    let mut world = World::train(6, &[(First, 1, "ACDF"), (Second, 2, "ABCDF"), (SoftSleeper, 1, "AB")]);
    let cases = [
        (vec![pick("P1", SoftSleeper, 'A', 1)], 0), // no choice in sleepers
        (vec![pick("P1", Second, 'A', 1), pick("P2", First, 'C', 1)], 1), // picks in two classes
        (vec![pick("P1", Second, 'A', 3)], 0),      // rows are 1 or 2
        (vec![pick("P1", First, 'B', 1)], 0),       // first class has no B
        (vec![any("P0", Second), pick("P1", Second, 'A', 1), pick("P2", Second, 'A', 1)], 2), // A1 twice
    ];
    for (passengers, passenger) in cases {
        match world.rejected_hold("r1", 0, 5, passengers) {
            Rejection::InvalidSeatChoice { passenger: index, .. } => assert_eq!(index, passenger),
            other => panic!("expected InvalidSeatChoice, got {other:?}"),
        }
    }
}

#[test]
fn a_passenger_cannot_hold_two_overlapping_journeys() {
    let mut world = World::train(6, SMALL);
    // given X holds 1 → 3
    let first = world.held("r1", 1, 3, vec![any("X", Second)]).order_id;
    // then X cannot also travel 2 → 4, alone or with company
    assert_eq!(
        world.rejected_hold("r2", 2, 4, vec![any("X", First)]),
        Rejection::PassengerOverlap { passenger: 0, order_id: first }
    );
    assert_eq!(
        world.rejected_hold("r3", 0, 2, vec![any("Y", Second), any("X", Second)]),
        Rejection::PassengerOverlap { passenger: 1, order_id: first }
    );
    // but journeys that only touch at a stop do not overlap
    let later = world.held("r4", 3, 5, vec![any("X", Second)]).order_id;
    world.held("r5", 0, 1, vec![any("X", Second)]);
    // and a paid journey counts as much as a held one
    world.confirmed(later);
    assert_eq!(
        world.rejected_hold("r6", 4, 5, vec![any("X", Second)]),
        Rejection::PassengerOverlap { passenger: 0, order_id: later }
    );
    // once X's first order is cancelled, its journey is free again for X
    world.events(cancel(first)).unwrap();
    world.held("r7", 1, 3, vec![any("X", First)]);
}

#[test]
fn the_same_passenger_twice_on_one_order_is_rejected() {
    let mut world = World::train(6, SMALL);
    let rejection = world.rejected_hold("r1", 0, 5, vec![any("X", Second), any("Y", Second), any("X", First)]);
    assert_eq!(rejection, Rejection::DuplicatePassenger { passenger: 2 });
}

#[test]
fn an_order_has_one_to_five_passengers() {
    let mut world = World::train(6, &[(Second, 2, "ABCDF")]);
    let passengers = |count: usize| (0..count).map(|index| any(&format!("P{index}"), Second)).collect::<Vec<_>>();
    assert_eq!(world.rejected_hold("r0", 0, 5, passengers(0)), Rejection::PassengerCount { count: 0, max: 5 });
    assert_eq!(world.rejected_hold("r6", 0, 5, passengers(6)), Rejection::PassengerCount { count: 6, max: 5 });
    let held = world.held("r5", 0, 5, passengers(5));
    assert_eq!(world.seat_names(&held), ["1-01A", "1-01B", "1-01C", "1-01D", "1-01F"]);
}

#[test]
fn a_journey_runs_forward_within_the_train() {
    let mut world = World::train(6, SMALL);
    for (from, to) in [(3, 3), (4, 2), (0, 6), (7, 9)] {
        match world.rejected_hold("r1", from, to, vec![any("X", Second)]) {
            Rejection::InvalidJourney { .. } => {}
            other => panic!("{from} → {to}: expected InvalidJourney, got {other:?}"),
        }
    }
}

#[test]
fn a_class_the_train_does_not_carry_is_rejected() {
    let mut world = World::train(6, SMALL);
    let rejection = world.rejected_hold("r1", 0, 5, vec![any("X", Second), any("Y", Business)]);
    assert_eq!(rejection, Rejection::ClassNotOnTrain { passenger: 1, class: Business });
}

#[test]
fn closed_sales_stop_new_holds_but_not_payment_or_refunds() {
    let mut world = World::train(6, SMALL);
    let unpaid = world.held("r1", 0, 2, vec![any("X", Second)]).order_id;
    let paid = world.held("r2", 0, 2, vec![any("Y", Second)]).order_id;
    world.confirmed(paid);
    // when sales close
    let at_ms = world.now_ms;
    assert_eq!(world.events(Command::CloseSales).unwrap(), [Event::SalesClosed { at_ms }]);
    assert_eq!(world.state.sales, SalesStatus::Closed { at_ms });
    // then closing again changes nothing, and new holds are refused
    assert_eq!(world.events(Command::CloseSales).unwrap(), []);
    assert_eq!(world.rejected_hold("r3", 2, 4, vec![any("Z", Second)]), Rejection::SalesClosed);
    // but existing orders may still be paid or refunded
    world.confirmed(unpaid);
    assert_eq!(world.events(cancel(paid)).unwrap(), [Event::TicketsRefunded { order_id: paid, at_ms, fee_fen: 1_440 }]);
}

#[test]
fn holds_stop_when_the_train_leaves_the_boarding_stop() {
    let mut world = World::train(6, SMALL);
    // stop 2 is left at 10:00 service time
    let leaves_stop_2_ms = world.state.departure_ms(2);
    assert_eq!(leaves_stop_2_ms, world.state.service_day_start_ms + 600 * MINUTE_MS);
    // one millisecond before, boarding at stop 2 is still sold
    world.now_ms = leaves_stop_2_ms - 1;
    world.held("r1", 2, 4, vec![any("A", Second)]);
    // from departure on, stops 0 to 2 are refused and later stops still sold
    world.now_ms = leaves_stop_2_ms;
    assert_eq!(world.rejected_hold("r2", 2, 4, vec![any("B", Second)]), Rejection::Departed);
    assert_eq!(world.rejected_hold("r3", 0, 5, vec![any("B", Second)]), Rejection::Departed);
    world.held("r4", 3, 5, vec![any("B", Second)]);
}

#[test]
fn a_paid_ticket_is_not_refunded_after_the_train_leaves_the_boarding_stop() {
    let mut world = World::train(6, SMALL);
    let paid = world.held("r1", 2, 4, vec![any("X", Second)]).order_id;
    world.confirmed(paid);
    let unpaid = world.held("r2", 2, 4, vec![any("Y", Second)]).order_id;
    world.now_ms = world.state.departure_ms(2);
    assert_eq!(world.rejected(cancel(paid)), Rejection::Departed);
    assert_eq!(world.status(paid), OrderStatus::Confirmed);
    // an unpaid hold is still released; its time is up by now, so it is recorded as expired
    let at_ms = world.now_ms;
    assert!(at_ms >= world.state.order(&unpaid).unwrap().expires_at_ms);
    assert_eq!(world.events(cancel(unpaid)).unwrap(), [Event::HoldExpired { order_id: unpaid, at_ms }]);
}

#[test]
fn a_repeated_request_gets_the_original_answer() {
    let mut world = World::train(6, SMALL);
    let original = world.hold("r1", 0, 5, vec![any("X", First), any("Y", First)]);
    world.events(Command::HoldSeats(original.clone())).unwrap();
    // a retry gets a new order id from the actor; it is still the same request
    let retry = || HoldSeats { order_id: OrderId(Uuid::from_u128(999)), ..original.clone() };
    assert_eq!(world.events(Command::HoldSeats(retry())).unwrap(), []);
    // even after first class sells out and sales close
    world.held("r2", 0, 5, vec![any("Z", First), any("W", First)]);
    world.events(Command::CloseSales).unwrap();
    assert_eq!(world.events(Command::HoldSeats(retry())).unwrap(), []);
    // a different hold under the same request id is refused
    let reused = Rejection::RequestIdReused { request_id: "r1".into() };
    assert_eq!(world.rejected(Command::HoldSeats(HoldSeats { to: 4, ..retry() })), reused);
    let mut other_class = retry();
    other_class.passengers[1].class = Second;
    assert_eq!(world.rejected(Command::HoldSeats(other_class)), reused);
    let mut fewer = retry();
    fewer.passengers.pop();
    assert_eq!(world.rejected(Command::HoldSeats(fewer)), reused);
    // and the request id belongs to its user: another user's r1 is a new request
    let other_user = HoldSeats { user_id: "user-2".into(), ..retry() };
    assert_eq!(world.rejected(Command::HoldSeats(other_user)), Rejection::SalesClosed);
    assert_eq!(world.state.orders.len(), 2);
}

#[test]
fn a_refund_keeps_the_tier_fee_of_the_time_left_before_departure() {
    // given a paid 72-yuan ticket (200 km second class on a G train), three days ahead
    let mut world = World::train(6, SMALL);
    world.now_ms -= 3 * 24 * 60 * MINUTE_MS;
    let paid = world.held("r1", 0, 2, vec![any("X", Second)]).order_id;
    world.confirmed(paid);
    // when it is refunded
    let at_ms = world.now_ms;
    let events = world.events(cancel(paid)).unwrap();
    // then the 48 h – 15 d tier keeps 5%, and the order says so
    assert_eq!(events, [Event::TicketsRefunded { order_id: paid, at_ms, fee_fen: 360 }]);
    assert_eq!(world.state.order(&paid).unwrap().refund_fee_fen, 360);
}

#[test]
fn confirm_and_cancel_are_idempotent() {
    let mut world = World::train(6, SMALL);
    let at_ms = world.now_ms;
    // a paid order: confirm twice, refund twice
    let paid = world.held("r1", 0, 2, vec![any("X", Second), any("Y", Second)]).order_id;
    world.confirmed(paid);
    assert_eq!(world.events(confirm(paid)).unwrap(), []);
    assert_eq!(world.state.totals, TrainDateTotals { held_orders: 0, held_tickets: 0, sold_tickets: 2 });
    assert_eq!(world.events(cancel(paid)).unwrap(), [Event::TicketsRefunded { order_id: paid, at_ms, fee_fen: 2_880 }]);
    assert_eq!(world.events(cancel(paid)).unwrap(), []);
    assert_eq!(world.status(paid), OrderStatus::Refunded);
    assert_eq!(
        world.rejected(confirm(paid)),
        Rejection::NotConfirmable { order_id: paid, status: OrderStatus::Refunded }
    );
    // an unpaid order: cancel twice, then it cannot be paid
    let unpaid = world.held("r2", 0, 2, vec![any("Z", Second)]).order_id;
    assert_eq!(world.events(cancel(unpaid)).unwrap(), [Event::HoldCancelled { order_id: unpaid, at_ms }]);
    assert_eq!(world.events(cancel(unpaid)).unwrap(), []);
    assert_eq!(
        world.rejected(confirm(unpaid)),
        Rejection::NotConfirmable { order_id: unpaid, status: OrderStatus::Cancelled }
    );
    assert_eq!(world.state.totals, TrainDateTotals::default());
    assert_eq!(world.remaining(Second, 0, 5), 5);
}

#[test]
fn a_hold_cannot_be_paid_once_its_time_is_up() {
    let mut world = World::train(6, SMALL);
    let held_at_ms = world.now_ms;
    let late = world.held("r1", 0, 2, vec![any("X", Second)]).order_id;
    let on_time = world.held("r2", 0, 2, vec![any("Y", Second)]).order_id;
    // one millisecond before expiry payment is accepted
    world.now_ms = held_at_ms + HOLD_TTL_MS - 1;
    world.confirmed(on_time);
    // at expiry it is refused, even before the sweep releases the seats
    world.now_ms = held_at_ms + HOLD_TTL_MS;
    assert_eq!(world.rejected(confirm(late)), Rejection::HoldExpired { order_id: late });
    assert_eq!(world.status(late), OrderStatus::Held);
    // the sweep releases it; it stays unpayable and cancelling it does nothing
    let at_ms = world.now_ms;
    assert_eq!(world.events(Command::ExpireHolds).unwrap(), [Event::HoldExpired { order_id: late, at_ms }]);
    assert_eq!(world.status(late), OrderStatus::Expired);
    assert_eq!(world.rejected(confirm(late)), Rejection::HoldExpired { order_id: late });
    assert_eq!(world.events(cancel(late)).unwrap(), []);
    assert_eq!(world.remaining(Second, 0, 2), 4);
}

#[test]
fn a_refund_releases_only_its_own_segments_of_a_shared_seat() {
    // given 2-01A is sold to X for 0 → 2 and to Y for 2 → 5, both paid
    let mut world = World::train(6, SMALL);
    let seat = world.seat("2-01A");
    let x = world.held("r1", 0, 2, vec![exact("X", Second, 2, "01A")]).order_id;
    let y = world.held("r2", 2, 5, vec![exact("Y", Second, 2, "01A")]).order_id;
    world.confirmed(x);
    world.confirmed(y);
    assert_eq!(world.state.inventory.mask(seat), journey_bits(0, 5));
    let (before_0_2, before_2_5, before_1_3) =
        (world.remaining(Second, 0, 2), world.remaining(Second, 2, 5), world.remaining(Second, 1, 3));
    // when X's ticket is refunded
    let at_ms = world.now_ms;
    assert_eq!(world.events(cancel(x)).unwrap(), [Event::TicketsRefunded { order_id: x, at_ms, fee_fen: 1_440 }]);
    // then only 0 → 2 comes back on the seat; Y keeps 2 → 5
    assert_eq!(world.state.inventory.mask(seat), journey_bits(2, 5));
    assert_eq!(world.status(y), OrderStatus::Confirmed);
    assert_eq!(world.remaining(Second, 0, 2), before_0_2 + 1);
    assert_eq!(world.remaining(Second, 2, 5), before_2_5);
    assert_eq!(world.remaining(Second, 1, 3), before_1_3, "1 → 3 still crosses Y's segments");
    // and the seat sells again for 0 → 2 but not for 0 → 3
    assert_eq!(
        world.rejected_hold("r3", 0, 3, vec![exact("Z", Second, 2, "01A")]),
        Rejection::SeatTaken { passenger: 0, carriage: 2, seat: "01A".into() }
    );
    world.held("r4", 0, 2, vec![exact("Z", Second, 2, "01A")]);
}

#[test]
fn expiry_releases_only_holds_that_are_due() {
    let mut world = World::train(6, SMALL);
    let start_ms = world.now_ms;
    let early = world.held("r1", 0, 5, vec![any("A", Second), any("B", Second)]).order_id;
    let paid = world.held("r2", 0, 5, vec![any("C", Second)]).order_id;
    world.confirmed(paid);
    world.now_ms = start_ms + 5 * MINUTE_MS;
    let later = world.held("r3", 0, 5, vec![any("D", Second)]).order_id;
    // nothing is due a millisecond before the first expiry
    world.now_ms = start_ms + HOLD_TTL_MS - 1;
    assert_eq!(world.events(Command::ExpireHolds).unwrap(), []);
    // at it, only the first hold goes
    world.now_ms = start_ms + HOLD_TTL_MS;
    let at_ms = world.now_ms;
    assert_eq!(world.events(Command::ExpireHolds).unwrap(), [Event::HoldExpired { order_id: early, at_ms }]);
    assert_eq!(world.remaining(Second, 0, 5), 3);
    assert_eq!(world.status(later), OrderStatus::Held);
    // five minutes on, the second; the paid order is never touched
    world.now_ms = start_ms + 5 * MINUTE_MS + HOLD_TTL_MS;
    let at_ms = world.now_ms;
    assert_eq!(world.events(Command::ExpireHolds).unwrap(), [Event::HoldExpired { order_id: later, at_ms }]);
    world.now_ms += 24 * 60 * MINUTE_MS;
    assert_eq!(world.events(Command::ExpireHolds).unwrap(), []);
    assert_eq!(world.status(paid), OrderStatus::Confirmed);
    assert_eq!(world.remaining(Second, 0, 5), 4);
    assert_eq!(world.state.totals, TrainDateTotals { held_orders: 0, held_tickets: 0, sold_tickets: 1 });
}

#[test]
fn another_users_order_is_not_found() {
    let mut world = World::train(6, SMALL);
    let order_id = world.held("r1", 0, 2, vec![any("X", Second)]).order_id;
    let not_found = Rejection::OrderNotFound { order_id };
    let stranger = Some("user-2".to_owned());
    assert_eq!(world.rejected(Command::ConfirmOrder { order_id, user_id: stranger.clone() }), not_found);
    assert_eq!(world.rejected(Command::CancelOrder { order_id, user_id: stranger }), not_found);
    let unknown = OrderId(Uuid::from_u128(12_345));
    assert_eq!(world.rejected(confirm(unknown)), Rejection::OrderNotFound { order_id: unknown });
    assert_eq!(world.rejected(cancel(unknown)), Rejection::OrderNotFound { order_id: unknown });
    // the owner, named, finds it
    let events = world.events(Command::ConfirmOrder { order_id, user_id: Some(USER.into()) }).unwrap();
    assert_eq!(events.len(), 1);
}

/// The gate's answer from the train-date's own facts, with an exact
/// passenger predicate (the published filter may only say "maybe" more often).
fn gate(world: &World, hold: &HoldSeats) -> Result<(), Rejection> {
    super::gate_hold(&world.state, hold, world.now_ms, |id| world.state.passenger_journeys.contains_key(id))
}

#[test]
fn the_gate_refuses_only_with_the_sold_out_that_decide_gives() {
    // given first class sold out on 0 → 5 to passenger X
    let mut world = World::train(6, SMALL);
    world.held("r1", 0, 5, vec![any("X", First), any("F2", First), any("F3", First), any("F4", First)]);
    // then a new passenger is refused by the gate exactly as by decide
    let fresh = world.hold("r2", 0, 5, vec![any("N", First)]);
    let refusal = gate(&world, &fresh).expect_err("the gate refuses a sold-out journey");
    assert_eq!(refusal, world.rejected(Command::HoldSeats(fresh)));
    // but where passenger overlap answers first, the gate lets the actor answer
    let overlapping = world.hold("r3", 1, 3, vec![any("X", First)]);
    assert_eq!(gate(&world, &overlapping), Ok(()));
    assert!(matches!(world.rejected(Command::HoldSeats(overlapping)), Rejection::PassengerOverlap { .. }));
    // and so where the order's shape is wrong
    let too_many = world.hold("r4", 0, 5, (0..6).map(|n| any(&format!("P{n}"), First)).collect());
    assert_eq!(gate(&world, &too_many), Ok(()));
    assert!(matches!(world.rejected(Command::HoldSeats(too_many)), Rejection::PassengerCount { .. }));
    // and once sales are closed
    world.events(Command::CloseSales).expect("sales close");
    let after_close = world.hold("r5", 0, 5, vec![any("M", First)]);
    assert_eq!(gate(&world, &after_close), Ok(()));
    assert_eq!(world.rejected(Command::HoldSeats(after_close)), Rejection::SalesClosed);
}

#[test]
fn the_gate_lets_the_actor_answer_once_the_train_has_left() {
    let mut world = World::train(6, SMALL);
    world.held("r1", 0, 5, vec![any("A", First), any("B", First), any("C", First), any("D", First)]);
    world.now_ms = world.state.departure_ms(0);
    let late = world.hold("r2", 0, 5, vec![any("N", First)]);
    assert_eq!(gate(&world, &late), Ok(()));
    assert_eq!(world.rejected(Command::HoldSeats(late)), Rejection::Departed);
}

mod change;
mod waitlist;
