//! Ticket change on train-dates, given/when/then: the steps of a change
//! across two train-dates, its abort paths, and changes within one.

use super::*;
use crate::decide::decide_workflow;
use crate::domain::change::{ChangeId, ChangeOutcome, ChangeSettlement, ChangeTarget, IncomingStatus};
use crate::domain::settings::ChangeWindow;
use crate::domain::state::TrainDateKey;
use crate::domain::workflow::{ChangeInPlace, StartChange, WorkflowCommand, WorkflowRejection};
use crate::workflow::{Effect, effects_of_events, next_change_step};

const CHANGE: ChangeId = ChangeId(Uuid::from_u128(77));
const NEW_ORDER: OrderId = OrderId(Uuid::from_u128(78));

/// A second train-date of the same layout, `G3` on `days` after the first.
fn other_train(world: &World, days: u64) -> TrainDateState {
    let date = world.state.key.date + chrono::Duration::days(days as i64);
    TrainDateState::open(TrainDateKey::new("G3", date), world.state.plan.clone())
}

fn step(state: &mut TrainDateState, command: WorkflowCommand, now_ms: u64) -> Result<Vec<Event>, WorkflowRejection> {
    let before = state.clone();
    let events = decide_workflow(state, &command, now_ms).inspect_err(|_| assert_eq!(*state, before))?;
    for event in &events {
        let record = EventRecord { seq: state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event: event.clone() };
        apply(state, &record);
    }
    state.verify_invariants().unwrap();
    Ok(events)
}

fn start(order_id: OrderId, target: &TrainDateState, class: SeatClass) -> WorkflowCommand {
    start_as(CHANGE, order_id, target, class)
}

fn start_as(change_id: ChangeId, order_id: OrderId, target: &TrainDateState, class: SeatClass) -> WorkflowCommand {
    let target = ChangeTarget {
        train_date: target.key.clone(),
        from: 0,
        to: 2,
        class,
        new_order_id: NEW_ORDER,
        policy: AllocationPolicy::TightestFit,
    };
    WorkflowCommand::StartChange(StartChange { change_id, order_id, user_id: Some(USER.into()), target })
}

/// The one effect among `effects` for the train-date `key`.
fn command_for(effects: &[Effect], key: &TrainDateKey) -> WorkflowCommand {
    match effects {
        [Effect::TrainDate { key: to, command }] if to == key => command.clone(),
        other => panic!("expected one step for {key}, got {other:?}"),
    }
}

/// A paid 0 → 2 second-class ticket for X on the first train-date.
fn paid_ticket(world: &mut World) -> OrderId {
    let order_id = world.held("r1", 0, 2, vec![any("X", Second)]).order_id;
    world.confirmed(order_id);
    order_id
}

#[test]
fn a_change_takes_the_new_seats_first_and_releases_the_old_ones_at_the_commit() {
    let mut world = World::train(6, SMALL);
    world.now_ms -= 4 * 24 * 60 * MINUTE_MS;
    let old = paid_ticket(&mut world);
    let mut target = other_train(&world, 0);
    let (old_key, new_key, now) = (world.state.key.clone(), target.key.clone(), world.now_ms);
    // (a) the old train-date marks the order changing; no second change meanwhile
    let started = step(&mut world.state, start(old, &target, First), now).unwrap();
    assert_eq!(world.state.order(&old).unwrap().change.changing, Some(CHANGE));
    let again = decide_workflow(&world.state, &start_as(ChangeId(Uuid::nil()), old, &target, First), now);
    assert_eq!(again, Err(WorkflowRejection::ChangeInFlight { order_id: old, change_id: CHANGE }));
    // (b) the new train-date takes the seats, pending
    let take = command_for(&effects_of_events(&old_key, &world.state, &started), &new_key);
    let taken = step(&mut target, take.clone(), now).unwrap();
    assert_eq!(target.changes.incoming[&CHANGE].status, IncomingStatus::Pending);
    assert_eq!(step(&mut target, take, now), Ok(vec![]), "a repeated take changes nothing");
    assert_eq!(world.remaining(Second, 0, 2), 4, "the old seat is still taken");
    // (c) the old train-date commits: the old seat comes back, with the settlement recorded
    let commit = command_for(&effects_of_events(&new_key, &target, &taken), &old_key);
    let committed = step(&mut world.state, commit, now).unwrap();
    assert_eq!(world.remaining(Second, 0, 2), 5);
    assert_eq!(world.status(old), OrderStatus::Refunded);
    assert_eq!(world.state.order(&old).unwrap().change.changed_to, Some(NEW_ORDER));
    let settlement = ChangeSettlement { old_fare_fen: 7_200, new_fare_fen: 9_600, fee_fen: 0 };
    assert!(
        matches!(world.state.changes.outgoing[&CHANGE].outcome, Some(ChangeOutcome::Committed { settlement: s, .. }) if s == settlement)
    );
    assert_eq!(settlement.due_fen(), 2_400, "first class costs 24 yuan more, more than 48 h ahead: no fee");
    // (d) the new train-date completes: a confirmed order that has been changed once
    let complete = command_for(&effects_of_events(&old_key, &world.state, &committed), &new_key);
    step(&mut target, complete, now).unwrap();
    let new_order = target.order(&NEW_ORDER).unwrap();
    assert_eq!((new_order.status, new_order.change.changes), (OrderStatus::Confirmed, 1));
    assert_eq!(next_change_step(&old_key, &world.state.changes.outgoing[&CHANGE], &target), None);
}

#[test]
fn a_change_whose_new_seats_are_refused_leaves_the_old_tickets_as_they_were() {
    let mut world = World::train(6, SMALL);
    let old = paid_ticket(&mut world);
    let mut target = other_train(&world, 0);
    let (old_key, new_key, now) = (world.state.key.clone(), target.key.clone(), world.now_ms);
    target.sales = SalesStatus::Closed { at_ms: now };
    let started = step(&mut world.state, start(old, &target, Second), now).unwrap();
    // when (b) is refused, the abort path releases (b), then aborts (a)
    let take = command_for(&effects_of_events(&old_key, &world.state, &started), &new_key);
    let refusal = step(&mut target, take.clone(), now).unwrap_err();
    assert_eq!(refusal, WorkflowRejection::Hold(Rejection::SalesClosed));
    let release = command_for(&crate::workflow::effects_of_rejection(&new_key, &take, &refusal), &new_key);
    let released = step(&mut target, release, now).unwrap();
    let abort = command_for(&effects_of_events(&new_key, &target, &released), &old_key);
    step(&mut world.state, abort, now).unwrap();
    // then the old order is confirmed and may change again, and a late (b) is refused
    assert_eq!(world.status(old), OrderStatus::Confirmed);
    assert_eq!(world.state.order(&old).unwrap().change.changing, None);
    target.sales = SalesStatus::Open;
    assert_eq!(
        step(&mut target, take, now),
        Err(WorkflowRejection::ChangeEnded { change_id: CHANGE, committed: false })
    );
}

#[test]
fn a_refund_before_the_commit_aborts_the_change_and_the_new_seats_go_back() {
    let mut world = World::train(6, SMALL);
    let old = paid_ticket(&mut world);
    let mut target = other_train(&world, 0);
    let (old_key, new_key, now) = (world.state.key.clone(), target.key.clone(), world.now_ms);
    let started = step(&mut world.state, start(old, &target, Second), now).unwrap();
    step(&mut target, command_for(&effects_of_events(&old_key, &world.state, &started), &new_key), now).unwrap();
    // when the old ticket is refunded before (c)
    let refunded = world.events(cancel(old)).unwrap();
    assert!(matches!(
        refunded.as_slice(),
        [Event::ChangeAborted { change_id: CHANGE, .. }, Event::TicketsRefunded { .. }]
    ));
    // then the commit is refused and the pending seats are released
    let commit = WorkflowCommand::CommitChange { change_id: CHANGE, new_fare_fen: 7_200 };
    assert_eq!(
        step(&mut world.state, commit, now),
        Err(WorkflowRejection::ChangeEnded { change_id: CHANGE, committed: false })
    );
    let release = command_for(&effects_of_events(&old_key, &world.state, &refunded), &new_key);
    step(&mut target, release, now).unwrap();
    assert_eq!(target.changes.incoming[&CHANGE].status, IncomingStatus::Released);
    assert_eq!(target.inventory.remaining(target.plan.class_slot(Second).unwrap(), 0, 5), 5);
}

#[test]
fn a_later_date_close_to_departure_pays_the_tier_fee_and_an_earlier_one_is_free() {
    // given a ticket 8 h before departure (the < 24 h tier, 20%)
    let mut world = World::train(6, SMALL);
    let old = paid_ticket(&mut world);
    let later = other_train(&world, 1);
    let now = world.now_ms;
    step(&mut world.state, start(old, &later, Second), now).unwrap();
    assert_eq!(world.state.changes.outgoing[&CHANGE].fee_fen, 1_440, "20% of 72 yuan to a later date");
    // and past the presale window, or after departure to another day, it is refused
    let far = other_train(&world, 16);
    let second = world.held("r2", 2, 4, vec![any("Y", Second)]).order_id;
    world.confirmed(second);
    let refusal =
        decide_workflow(&world.state, &start_as(ChangeId(Uuid::from_u128(2)), second, &far, Second), now).unwrap_err();
    assert_eq!(refusal, WorkflowRejection::ChangeWindow { window: ChangeWindow::OutsidePresale });
    world.now_ms = world.state.departure_ms(2) + 1;
    let refusal =
        decide_workflow(&world.state, &start_as(ChangeId(Uuid::from_u128(3)), second, &later, Second), world.now_ms)
            .unwrap_err();
    assert_eq!(refusal, WorkflowRejection::ChangeWindow { window: ChangeWindow::DepartedNotSameDay });
}

#[test]
fn a_change_of_destination_is_one_decision_and_its_ticket_cannot_change_again() {
    let mut world = World::train(6, SMALL);
    let old = paid_ticket(&mut world);
    let now = world.now_ms;
    let in_place = |order_id, to, new: u128| {
        WorkflowCommand::ChangeInPlace(ChangeInPlace {
            change_id: ChangeId(Uuid::from_u128(new)),
            order_id,
            user_id: None,
            from: 0,
            to,
            class: Second,
            new_order_id: OrderId(Uuid::from_u128(new)),
            policy: AllocationPolicy::TightestFit,
        })
    };
    // when X's 0 → 2 ticket changes destination to 0 → 4
    assert_eq!(decide_workflow(&world.state, &in_place(old, 2, 500), now), Err(WorkflowRejection::NothingToChange));
    let events = step(&mut world.state, in_place(old, 4, 500), now).unwrap();
    let Event::TicketsChangedInPlace(change) = &events[0] else {
        panic!("expected an in-place change, got {events:?}")
    };
    assert_eq!(change.settlement, ChangeSettlement { old_fare_fen: 7_200, new_fare_fen: 14_400, fee_fen: 0 });
    // then the old seat segment is released and the new order holds 0 → 4
    let new_order = OrderId(Uuid::from_u128(500));
    assert_eq!(world.status(old), OrderStatus::Refunded);
    assert_eq!(world.state.order(&new_order).unwrap().journey(), (0, 4));
    assert_eq!(step(&mut world.state, in_place(old, 4, 500), now), Ok(vec![]), "a repeat changes nothing");
    // and the new ticket cannot change again: once per ticket, and never after a change of destination
    assert_eq!(
        decide_workflow(&world.state, &in_place(new_order, 5, 501), now),
        Err(WorkflowRejection::ChangeLimit { order_id: new_order, changes: 1, max: 1 })
    );
    let mut rules = (*world.state.rules).clone();
    rules.change.changes_per_ticket_max = 2;
    world.state.rules = Arc::new(rules);
    assert_eq!(
        decide_workflow(&world.state, &in_place(new_order, 5, 501), now),
        Err(WorkflowRejection::DestinationChanged { order_id: new_order })
    );
}
