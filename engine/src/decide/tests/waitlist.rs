//! The waitlist on one train-date, given/when/then: who may join, who is
//! served when seats free up, and what the hold path can no longer take.

use super::*;
use crate::decide::{check_waitlistable, decide_workflow, first_fitting_choice};
use crate::domain::snapshot::TrainDateSnapshot;
use crate::domain::waitlist::{ChoiceEnd, ChoiceRef, WaitlistPassenger, WaitlistRequestId};
use crate::domain::workflow::{JoinWaitlist, WorkflowCommand, WorkflowRejection};

const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

/// A train two days before it leaves at 08:00: the waitlist closes at 19:00 tomorrow.
fn two_days_ahead(carriages: &[(SeatClass, u16, &str)]) -> World {
    let mut world = World::train(6, carriages);
    world.now_ms -= 2 * DAY_MS;
    world
}

fn choice(request: u128) -> ChoiceRef {
    ChoiceRef { request_id: WaitlistRequestId(Uuid::from_u128(request)), index: 0 }
}

impl World {
    /// Request `request`'s choice for `people` in `class` over `from..to`,
    /// active since `activated_at_ms`, open until the latest cut-off.
    fn join(
        &self,
        request: u128,
        activated_at_ms: u64,
        class: SeatClass,
        from: usize,
        to: usize,
        people: &[&str],
    ) -> JoinWaitlist {
        let departure_ms = self.state.departure_ms(from);
        JoinWaitlist {
            choice: choice(request),
            activated_at_ms,
            user_id: format!("waiting-{request}"),
            order_id: OrderId(Uuid::from_u128(1_000_000 + request)),
            class,
            from,
            to,
            passengers: people
                .iter()
                .map(|id| WaitlistPassenger { name: format!("name of {id}"), id_number: (*id).into() })
                .collect(),
            deadline_ms: self.state.rules.waitlist.deadline.latest_ms(departure_ms),
            policy: AllocationPolicy::TightestFit,
        }
    }

    /// Decides a workflow step and applies its events, checking invariants
    /// and that no waiting choice fits afterwards.
    fn step(&mut self, command: WorkflowCommand) -> Result<Vec<Event>, WorkflowRejection> {
        let before = self.state.clone();
        let events = decide_workflow(&self.state, &command, self.now_ms);
        let events = match events {
            Ok(events) => events,
            Err(rejection) => {
                assert_eq!(self.state, before, "a rejection changes nothing");
                return Err(rejection);
            }
        };
        self.apply_all(&events);
        Ok(events)
    }

    fn apply_all(&mut self, events: &[Event]) {
        for event in events {
            let record =
                EventRecord { seq: self.state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event: event.clone() };
            apply(&mut self.state, &record);
        }
        self.state.verify_invariants().unwrap();
        assert_eq!(first_fitting_choice(&self.state, self.now_ms), None, "a fitting choice was left waiting");
    }

    fn joined(&mut self, join: JoinWaitlist) -> Vec<Event> {
        self.step(WorkflowCommand::JoinWaitlist(join)).expect("join is accepted")
    }

    fn reserved_seats(&self, request: u128) -> Option<Vec<String>> {
        let entry = self.state.waitlist.choice(&choice(request))?;
        let plan = &self.state.plan;
        let names = entry
            .reserved
            .as_ref()?
            .iter()
            .map(|t| format!("{}-{}", plan.position(t.seat).carriage, plan.seat_code(t.seat)));
        Some(names.collect())
    }
}

fn reserved_choices(events: &[Event]) -> Vec<ChoiceRef> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::WaitlistSeatsReserved { choice, .. } => Some(*choice),
            _ => None,
        })
        .collect()
}

/// Sells every first-class seat (4) for 0 → 5, one paid order per seat; returns the orders.
fn sell_out_first_class(world: &mut World) -> Vec<OrderId> {
    (0..4)
        .map(|n| {
            let order_id = world.held(&format!("sold-{n}"), 0, 5, vec![any(&format!("S{n}"), First)]).order_id;
            world.confirmed(order_id);
            order_id
        })
        .collect()
}

#[test]
fn a_choice_may_be_waitlisted_only_while_it_cannot_be_booked() {
    let mut world = two_days_ahead(SMALL);
    // given first class has seats, a choice is told to book normally
    let join = world.join(1, world.now_ms, First, 0, 5, &["W1"]);
    let refusal = check_waitlistable(&world.state, &join, world.now_ms).unwrap_err();
    assert_eq!(refusal, WorkflowRejection::BookNormally { class: First, requested: 1, remaining: 4 });
    assert_eq!(refusal.reason_code(), "BOOK_NORMALLY");
    // when first class sells out, then it may wait, and joining queues it
    sell_out_first_class(&mut world);
    assert_eq!(check_waitlistable(&world.state, &join, world.now_ms), Ok(()));
    let events = world.joined(join.clone());
    assert!(matches!(events.as_slice(), [Event::WaitlistJoined(_)]));
    assert_eq!(world.state.waitlist.len(First), 1);
    // and joining again changes nothing
    assert_eq!(world.joined(join), []);
}

#[test]
fn a_join_past_the_cut_off_or_with_a_late_cut_off_is_refused() {
    let mut world = two_days_ahead(SMALL);
    sell_out_first_class(&mut world);
    let mut join = world.join(1, world.now_ms, First, 0, 5, &["W1"]);
    let latest_ms = join.deadline_ms;
    join.deadline_ms += 1;
    assert_eq!(
        world.step(WorkflowCommand::JoinWaitlist(join.clone())),
        Err(WorkflowRejection::DeadlineTooLate { latest_ms })
    );
    join.deadline_ms = latest_ms;
    world.now_ms = latest_ms;
    assert_eq!(world.step(WorkflowCommand::JoinWaitlist(join)), Err(WorkflowRejection::DeadlinePassed));
}

#[test]
fn a_refund_reserves_the_freed_seat_for_the_first_waiting_choice_that_fits() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    // given a pair waiting first (activated at t) and a single waiting after it (t + 1)
    let t = world.now_ms;
    world.joined(world.join(1, t, First, 0, 5, &["PAIR1", "PAIR2"]));
    world.joined(world.join(2, t + 1, First, 0, 5, &["SOLO"]));
    assert_eq!(world.state.waitlist.ahead_of(&choice(2)), Some(1));
    // when one seat is refunded
    let events = world.events(cancel(sold[0])).unwrap();
    // then the same decision reserves it for the single, since the pair does not fit
    assert!(matches!(events[0], Event::TicketsRefunded { .. }));
    assert_eq!(reserved_choices(&events), [choice(2)]);
    assert_eq!(world.reserved_seats(2), Some(vec!["1-01A".to_string()]));
    assert_eq!(world.remaining(First, 0, 5), 0);
    // and a later arrival cannot book it
    assert!(matches!(world.rejected_hold("late", 0, 5, vec![any("LATE", First)]), Rejection::SoldOut { .. }));
    // when a second seat frees, the pair still needs two: it stays free for sale
    let events = world.events(cancel(sold[1])).unwrap();
    assert_eq!(reserved_choices(&events), []);
    // and a third frees: now the pair fits and is served
    let events = world.events(cancel(sold[2])).unwrap();
    assert_eq!(reserved_choices(&events), [choice(1)]);
}

#[test]
fn choices_are_served_in_the_order_their_requests_became_active() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    // given request 2 joined first but request 1 became active earlier
    world.joined(world.join(2, t + 5, First, 0, 5, &["B"]));
    world.joined(world.join(1, t, First, 0, 5, &["A"]));
    // when a hold of the class expires, then request 1 is served
    let hold = world.held("h", 0, 5, vec![any("H", Second)]).order_id;
    world.now_ms += HOLD_TTL_MS;
    let events = world.events(cancel(sold[3])).unwrap();
    assert_eq!(reserved_choices(&events), [choice(1)]);
    // and an expiring second-class hold frees nothing first class wants
    let events = world.events(Command::ExpireHolds).unwrap();
    assert_eq!(events, [Event::HoldExpired { order_id: hold, at_ms: world.now_ms }]);
}

#[test]
fn freed_seats_go_to_the_earliest_fitting_choice_across_journeys_and_party_sizes() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    // given, in activation order: a pair 0 → 5, a single 0 → 2, a single 0 → 5, a single 3 → 5
    world.joined(world.join(1, t, First, 0, 5, &["P1", "P2"]));
    world.joined(world.join(2, t + 1, First, 0, 2, &["SHORT"]));
    world.joined(world.join(3, t + 2, First, 0, 5, &["LONG"]));
    world.joined(world.join(4, t + 3, First, 3, 5, &["TAIL"]));
    // when one whole-route seat is refunded
    let events = world.events(cancel(sold[0])).unwrap();
    // then the pair does not fit, the single 0 → 2 does; what it leaves
    // (2 → 5) cannot seat the single 0 → 5 but seats the single 3 → 5
    assert_eq!(reserved_choices(&events), [choice(2), choice(4)]);
    assert_eq!(world.state.waitlist.ahead_of(&choice(3)), Some(1));
}

#[test]
fn a_choice_past_its_cut_off_is_passed_over_for_the_next_of_its_kind() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    // given two singles for the same journey, the first with a cut-off a minute away
    let mut early = world.join(1, t, First, 0, 5, &["EARLY"]);
    early.deadline_ms = t + MINUTE_MS;
    world.joined(early);
    world.joined(world.join(2, t + 1, First, 0, 5, &["LATER"]));
    // when the cut-off passes before the sweep ran, and a seat is refunded
    world.now_ms += MINUTE_MS;
    let events = world.events(cancel(sold[0])).unwrap();
    // then the seat goes to the later single; the first still waits for its sweep
    assert_eq!(reserved_choices(&events), [choice(2)]);
    assert!(world.state.waitlist.choice(&choice(1)).is_some_and(|entry| entry.reserved.is_none()));
}

#[test]
fn a_choice_whose_passenger_took_a_journey_is_passed_over_for_the_next_of_its_kind() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    // given two singles for the same journey, and the first one's passenger
    // then holds second class over part of it (holds do not see choices)
    world.joined(world.join(1, t, First, 0, 5, &["BUSY"]));
    world.joined(world.join(2, t + 1, First, 0, 5, &["FREE"]));
    world.held("busy-second", 1, 2, vec![any("BUSY", Second)]);
    // when a seat is refunded, then it goes to the second single
    let events = world.events(cancel(sold[0])).unwrap();
    assert_eq!(reserved_choices(&events), [choice(2)]);
}

#[test]
fn the_place_in_the_queue_counts_waiting_choices_only_from_either_end() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    for request in 1..=6 {
        world.joined(world.join(request, t + request as u64, First, 0, 5, &[&format!("W{request}")]));
    }
    // given the first choice reserved (it no longer counts as ahead of anyone)
    world.events(cancel(sold[0])).unwrap();
    assert!(world.reserved_seats(1).is_some());
    let ahead: Vec<_> = (2..=6).map(|request| world.state.waitlist.ahead_of(&choice(request))).collect();
    assert_eq!(ahead, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(world.state.waitlist.waiting_count(First), 5);
}

#[test]
fn a_choice_of_a_passenger_with_an_overlapping_journey_waits_until_that_journey_is_released() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    // given W holds second class 1 → 3 and waits for first class 0 → 5
    let second = world.held("w-second", 1, 3, vec![any("W", Second)]).order_id;
    let join = world.join(1, world.now_ms, First, 0, 5, &["W"]);
    let refusal = world.step(WorkflowCommand::JoinWaitlist(join.clone())).unwrap_err();
    assert_eq!(refusal, WorkflowRejection::Hold(Rejection::PassengerOverlap { passenger: 0, order_id: second }));
    // when W cancels it and joins, then holds second class 2 → 4 again (holds do not see choices)
    world.events(cancel(second)).unwrap();
    world.joined(join);
    let blocking = world.held("w-again", 2, 4, vec![any("W", Second)]).order_id;
    // when a first-class seat frees, W does not fit (overlap) and the seat returns to sale
    let events = world.events(cancel(sold[0])).unwrap();
    assert_eq!(reserved_choices(&events), []);
    // then when W's second-class hold is cancelled, the same decision serves W's first-class choice
    let events = world.events(cancel(blocking)).unwrap();
    assert_eq!(reserved_choices(&events), [choice(1)]);
}

#[test]
fn a_granted_reservation_becomes_a_confirmed_order_and_a_lost_one_serves_the_next() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    world.joined(world.join(1, t, First, 0, 5, &["A"]));
    world.joined(world.join(2, t + 1, First, 0, 5, &["B"]));
    world.events(cancel(sold[0])).unwrap();
    assert!(world.reserved_seats(1).is_some());
    // when request 1 lost to its other choice, its seat goes to request 2 in the same decision
    let events = world.step(WorkflowCommand::LeaveWaitlist { choice: choice(1), end: ChoiceEnd::Lost }).unwrap();
    assert_eq!(reserved_choices(&events), [choice(2)]);
    assert_eq!(world.state.waitlist.ended(&choice(1)), Some(ChoiceEnd::Lost));
    // and when request 2 is granted, its reservation becomes a confirmed order
    world.step(WorkflowCommand::FulfilWaitlist { choice: choice(2) }).unwrap();
    let order_id = OrderId(Uuid::from_u128(1_000_002));
    assert_eq!(world.status(order_id), OrderStatus::Confirmed);
    assert_eq!(world.state.waitlist.ended(&choice(2)), Some(ChoiceEnd::Fulfilled { order_id }));
    assert_eq!(world.state.totals.sold_tickets, 4);
    // and granting again changes nothing; the order refunds like any other
    assert_eq!(world.step(WorkflowCommand::FulfilWaitlist { choice: choice(2) }), Ok(vec![]));
    assert!(matches!(world.events(cancel(order_id)).unwrap()[0], Event::TicketsRefunded { .. }));
}

#[test]
fn a_withdrawal_that_overtakes_the_join_keeps_the_choice_out() {
    let mut world = two_days_ahead(SMALL);
    sell_out_first_class(&mut world);
    world.step(WorkflowCommand::LeaveWaitlist { choice: choice(1), end: ChoiceEnd::Withdrawn }).unwrap();
    assert_eq!(world.joined(world.join(1, world.now_ms, First, 0, 5, &["A"])), []);
    assert_eq!(world.state.waitlist.len(First), 0);
    let fulfil = world.step(WorkflowCommand::FulfilWaitlist { choice: choice(1) });
    assert_eq!(fulfil, Err(WorkflowRejection::ChoiceEnded { choice: choice(1), end: ChoiceEnd::Withdrawn }));
}

#[test]
fn waiting_choices_end_at_their_cut_off_and_when_sales_close() {
    let mut world = two_days_ahead(SMALL);
    sell_out_first_class(&mut world);
    let early = world.join(1, world.now_ms, First, 0, 5, &["A"]);
    let mut late = world.join(2, world.now_ms, Second, 0, 5, &["B"]);
    world.held("second", 0, 5, (0..5).map(|n| any(&format!("T{n}"), Second)).collect());
    let mut early_cut = early.clone();
    early_cut.deadline_ms = world.now_ms + MINUTE_MS;
    world.joined(early_cut);
    late.deadline_ms -= MINUTE_MS;
    world.joined(late);
    // when the first cut-off passes, only that choice leaves
    world.now_ms += MINUTE_MS;
    let events = world.step(WorkflowCommand::ExpireWaitlist).unwrap();
    let at_ms = world.now_ms;
    assert_eq!(events, [Event::WaitlistLeft { choice: choice(1), end: ChoiceEnd::DeadlinePassed, at_ms }]);
    // when sales close, the other leaves with that reason
    let events = world.events(Command::CloseSales).unwrap();
    assert_eq!(events[1..], [Event::WaitlistLeft { choice: choice(2), end: ChoiceEnd::SalesClosed, at_ms }]);
}

#[test]
fn a_full_queue_refuses_the_next_choice() {
    let mut world = two_days_ahead(SMALL);
    sell_out_first_class(&mut world);
    let mut rules = (*world.state.rules).clone();
    rules.waitlist.queue_per_class_max = 1;
    world.state.rules = Arc::new(rules);
    world.joined(world.join(1, world.now_ms, First, 0, 5, &["A"]));
    let refusal = world.step(WorkflowCommand::JoinWaitlist(world.join(2, world.now_ms, First, 0, 5, &["B"])));
    assert_eq!(refusal, Err(WorkflowRejection::QueueFull { class: First, max: 1 }));
}

#[test]
fn a_snapshot_keeps_waiting_reserved_and_ended_choices() {
    let mut world = two_days_ahead(SMALL);
    let sold = sell_out_first_class(&mut world);
    let t = world.now_ms;
    world.joined(world.join(1, t, First, 0, 5, &["A"]));
    world.joined(world.join(2, t + 1, First, 0, 5, &["B"]));
    world.joined(world.join(3, t + 2, First, 0, 5, &["C"]));
    world.step(WorkflowCommand::LeaveWaitlist { choice: choice(3), end: ChoiceEnd::Withdrawn }).unwrap();
    world.events(cancel(sold[0])).unwrap();
    let json = serde_json::to_string(&TrainDateSnapshot::of(&world.state)).unwrap();
    let snapshot: TrainDateSnapshot = serde_json::from_str(&json).unwrap();
    let restored = snapshot.restore(world.state.plan.clone());
    assert_eq!(restored, world.state);
    restored.verify_invariants().unwrap();
}
