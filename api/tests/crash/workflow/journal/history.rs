//! Checks over the streams' whole event history: snapshots lose nothing,
//! requests are fulfilled at most once, and queues are served in order.

use super::{Histories, States};
use engine::domain::event::{Event, EventRecord};
use engine::domain::seat_class::SeatClass;
use engine::domain::snapshot::TrainDateSnapshot;
use engine::domain::state::{TrainDateKey, TrainDateState};
use engine::domain::waitlist::{ChoiceRef, QueuePosition, WaitlistRequestId};
use engine::workflow::request::RequestEvent;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The state recovery loads (its latest snapshot, then the events after it)
/// equals the whole stream replayed from the train-date's opening, and
/// passes the same invariants: snapshots taken mid-workflow lose nothing.
pub(super) fn replays_to(loaded: &TrainDateState, records: &[EventRecord], problems: &mut Vec<String>) {
    let mut replayed = TrainDateState::open(loaded.key.clone(), Arc::clone(&loaded.plan));
    for record in records {
        engine::apply(&mut replayed, record);
    }
    if let Err(problem) = replayed.verify_invariants() {
        problems.push(format!("replayed from its first event: {problem}"));
    }
    if TrainDateSnapshot::of(&replayed) != TrainDateSnapshot::of(loaded) {
        problems.push(format!("{}: the state loaded from a snapshot differs from a replay of every event", loaded.key));
    }
}

/// Each request granted once, fulfilled once on one train-date, and one
/// order made of it at most. Answers the requests fulfilled.
pub(super) fn fulfilled_at_most_once(states: &States, histories: &Histories, problems: &mut Vec<String>) -> usize {
    // Per request: grants and fulfilments its record holds, fulfilments
    // its train-dates recorded, orders they made.
    let mut seen: HashMap<WaitlistRequestId, [usize; 4]> = HashMap::new();
    for record in histories.values().flatten() {
        match &record.event {
            Event::WaitlistRequest { request_id, event: RequestEvent::Granted { .. } } => {
                seen.entry(*request_id).or_default()[0] += 1
            }
            Event::WaitlistRequest { request_id, event: RequestEvent::Fulfilled { .. } } => {
                seen.entry(*request_id).or_default()[1] += 1
            }
            Event::WaitlistFulfilled { choice, .. } => seen.entry(choice.request_id).or_default()[2] += 1,
            _ => {}
        }
    }
    for state in states.values() {
        for order in state.orders.values() {
            let Some(choice) = order.request_id.strip_prefix("waitlist:") else { continue };
            let request_id = choice.split('#').next().and_then(|id| id.parse().ok()).map(WaitlistRequestId);
            let request_id = request_id.expect("a waitlist order names its request");
            seen.entry(request_id).or_default()[3] += 1;
        }
    }
    for (request_id, counts) in &seen {
        if counts.iter().any(|count| *count > 1) {
            problems.push(format!(
                "request {request_id}: granted {}, fulfilled {} (record) and {} (train-dates) times, {} orders",
                counts[0], counts[1], counts[2], counts[3]
            ));
        }
    }
    seen.values().filter(|counts| counts[3] == 1).count()
}

/// A queued choice, as the test's model of one train-date's queues keeps it.
struct Queued {
    class: SeatClass,
    journey: (u8, u8),
    passengers: usize,
    reserved: bool,
}

/// The test's model of one train-date's queues, fed its events in order.
#[derive(Default)]
struct Queues {
    queued: BTreeMap<QueuePosition, Queued>,
    positions: HashMap<ChoiceRef, QueuePosition>,
}

impl Queues {
    /// A waiting choice, first in queue order, that `count` seats of
    /// `class` over `journey` would have seated too (among those before
    /// `before`, when given): every scenario passenger is new, so only the
    /// party's size decides whether it fits.
    fn fitting(
        &self,
        class: SeatClass,
        journey: (u8, u8),
        count: usize,
        before: Option<&QueuePosition>,
    ) -> Option<ChoiceRef> {
        let ahead = self.queued.iter().take_while(|(position, _)| before.is_none_or(|before| *position < before));
        ahead
            .filter(|(_, queued)| !queued.reserved && queued.class == class && queued.journey == journey)
            .find(|(_, queued)| queued.passengers <= count)
            .map(|(position, _)| position.choice)
    }
}

/// Replays the queue events of one train-date: whenever seats were reserved
/// for a choice, no choice ahead of it (in the same class and journey) with
/// no more passengers was waiting unserved: it fitted too, and came first;
/// and whenever a hold or a change took seats, no waiting choice fitted
/// them (seats that come free go to the queue first). Queue order is
/// activation order, among the choices that had joined.
pub(super) fn served_in_order<'a>(
    key: &TrainDateKey,
    events: impl Iterator<Item = &'a Event>,
    problems: &mut Vec<String>,
) {
    let mut queues = Queues::default();
    for event in events {
        let taken = match event {
            Event::WaitlistJoined(choice) => {
                queues.positions.insert(choice.position.choice, choice.position);
                let queued = Queued {
                    class: choice.class,
                    journey: (choice.from, choice.to),
                    passengers: choice.passengers.len(),
                    reserved: false,
                };
                queues.queued.insert(choice.position, queued);
                None
            }
            Event::WaitlistSeatsReserved { choice, .. } => {
                let position = queues.positions[choice];
                let served = &queues.queued[&position];
                let passed_over = queues.fitting(served.class, served.journey, served.passengers, Some(&position));
                if let Some(ahead) = passed_over {
                    problems.push(format!(
                        "{key}: seats reserved for {choice} ({} passengers) while {ahead}, ahead of it and no larger, waited",
                        served.passengers
                    ));
                }
                queues.queued.get_mut(&position).expect("queued").reserved = true;
                None
            }
            Event::WaitlistFulfilled { choice, .. } | Event::WaitlistLeft { choice, .. } => {
                if let Some(position) = queues.positions.get(choice) {
                    queues.queued.remove(position);
                }
                None
            }
            Event::SeatsHeld(held) => Some(("hold", held.order_id, (held.from, held.to), &held.tickets)),
            Event::ChangeSeatsTaken(incoming) => {
                Some(("change", incoming.new_order_id, (incoming.from, incoming.to), &incoming.tickets))
            }
            Event::TicketsChangedInPlace(change) => {
                Some(("change in place", change.new_order_id, (change.from, change.to), &change.tickets))
            }
            _ => None,
        };
        let Some((what, order_id, journey, tickets)) = taken else { continue };
        let classes: BTreeSet<SeatClass> = tickets.iter().map(|ticket| ticket.class).collect();
        for class in classes {
            let count = tickets.iter().filter(|ticket| ticket.class == class).count();
            if let Some(waiting) = queues.fitting(class, journey, count, None) {
                problems.push(format!(
                    "{key}: {what} {order_id} took {count} {class:?} seats that {waiting}, waiting, fitted"
                ));
            }
        }
    }
}
