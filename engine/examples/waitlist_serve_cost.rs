//! What a refund costs when a long waitlist waits behind it: a sold-out
//! 720-seat train, then queues of 0 to 50,000 choices, then 200 one-seat
//! refunds, each decided and applied. Every refund serves the queue in its
//! own decision (`decide::serve`), which tests each fit group (journey and
//! party size) once and reads only the heads of groups with room.
//!
//! Two queues per length: every choice a two-passenger whole-route one (one
//! group; a one-seat refund fits none, so each refund reads the whole queue
//! if it reads choice by choice), and choices spread over every journey of
//! the 24 stops and parties of 1 to 3 (828 groups; a refund's seat serves
//! a chain of shorter journeys).
//!
//! ```text
//! cargo run --release -p seat-engine --example waitlist_serve_cost
//! ```

use seat_engine::allocation::AllocationPolicy;
use seat_engine::decide::decide_workflow;
use seat_engine::domain::command::{Command, HoldSeats, PassengerRequest, SeatChoice};
use seat_engine::domain::event::{EVENT_SCHEMA_VERSION, Event, EventRecord};
use seat_engine::domain::order::OrderId;
use seat_engine::domain::plan::TrainPlan;
use seat_engine::domain::seat_class::SeatClass;
use seat_engine::domain::state::{TrainDateKey, TrainDateState};
use seat_engine::domain::timetable::{Carriage, Stop, TrainTemplate};
use seat_engine::domain::waitlist::{ChoiceRef, WaitlistPassenger, WaitlistRequestId};
use seat_engine::domain::workflow::{JoinWaitlist, WorkflowCommand};
use seat_engine::{apply, decide};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

const DAY_MS: u64 = 86_400_000;
const STOPS: u32 = 24;
const SEATS: u128 = 720;
const QUEUE_LENGTHS: [usize; 4] = [0, 1_000, 10_000, 50_000];
const REFUNDS: usize = 200;
/// Party sizes of the spread queue: the waitlist's default maximum.
const PARTY_MAX: u128 = 3;

/// Which choices the queue holds.
#[derive(Clone, Copy, Debug)]
enum Spread {
    /// Two passengers, whole route: one fit group.
    OneGroup,
    /// Every journey, parties of 1 to `PARTY_MAX`, in turn.
    EveryGroup,
}

/// A G train of eight 18-row second-class carriages calling at 24 stops.
fn train() -> TrainTemplate {
    let stops = (0..STOPS)
        .map(|index| Stop {
            station: format!("S{}{}", (b'A' + (index / 10) as u8) as char, (b'A' + (index % 10) as u8) as char),
            arrive_minutes: (index > 0).then_some(480 + 20 * index - 1),
            depart_minutes: (index < STOPS - 1).then_some(480 + 20 * index),
            distance_km: 50 * index,
        })
        .collect();
    let carriages = (1..=8)
        .map(|number| Carriage { number, class: SeatClass::Second, rows: 18, letters: "ABCDF".into() })
        .collect();
    TrainTemplate { code: "G1".into(), stops, carriages }
}

fn record(state: &mut TrainDateState, events: Vec<Event>) {
    for event in events {
        let seq = state.last_seq + 1;
        apply(state, &EventRecord { seq, version: EVENT_SCHEMA_VERSION, event });
    }
}

fn passenger(id_number: String) -> PassengerRequest {
    PassengerRequest { name: id_number.clone(), id_number, class: SeatClass::Second, choice: SeatChoice::Any }
}

/// Choice `n`'s journey and passenger count.
fn shape(spread: Spread, n: u128) -> (usize, usize, u128) {
    let last_stop = STOPS as usize - 1;
    match spread {
        Spread::OneGroup => (0, last_stop, 2),
        Spread::EveryGroup => {
            let journeys: Vec<(usize, usize)> =
                (0..last_stop).flat_map(|from| (from + 1..=last_stop).map(move |to| (from, to))).collect();
            let (from, to) = journeys[(n / PARTY_MAX) as usize % journeys.len()];
            (from, to, 1 + n % PARTY_MAX)
        }
    }
}

fn join(spread: Spread, n: u128, now_ms: u64) -> JoinWaitlist {
    let (from, to, passengers) = shape(spread, n);
    JoinWaitlist {
        choice: ChoiceRef { request_id: WaitlistRequestId(Uuid::from_u128(1 << 32 | n)), index: 0 },
        activated_at_ms: now_ms + n as u64,
        user_id: format!("waiting-{n}"),
        order_id: OrderId(Uuid::from_u128(1 << 33 | n)),
        class: SeatClass::Second,
        from,
        to,
        passengers: (0..passengers)
            .map(|tag| WaitlistPassenger { name: format!("P{tag}"), id_number: format!("P{tag}-{n}") })
            .collect(),
        deadline_ms: now_ms + DAY_MS,
        policy: AllocationPolicy::TightestFit,
    }
}

/// Refunds `orders`, each decided and applied: what is timed. Not inlined,
/// so `valgrind --tool=callgrind --toggle-collect='*refund*'` counts it alone.
#[inline(never)]
fn refund(state: &mut TrainDateState, orders: &[OrderId], now_ms: u64) {
    for order_id in orders {
        let refunded = decide(state, &Command::CancelOrder { order_id: *order_id, user_id: None }, now_ms);
        record(state, refunded.expect("paid order"));
    }
}

fn main() {
    let date = chrono::NaiveDate::from_ymd_opt(2025, 3, 10).expect("valid date");
    let mut state = TrainDateState::open(TrainDateKey::new("G1", date), Arc::new(TrainPlan::new(train())));
    let now_ms = state.service_day_start_ms - 2 * DAY_MS;
    let mut rules = (*state.rules).clone();
    rules.waitlist.queue_per_class_max = *QUEUE_LENGTHS.iter().max().expect("lengths");
    state.rules = Arc::new(rules);
    let last_stop = STOPS as usize - 1;
    let mut sold = Vec::new();
    for seat in 0..SEATS {
        let order_id = OrderId(Uuid::from_u128(seat + 1));
        let hold = HoldSeats {
            order_id,
            request_id: format!("sold-{seat}"),
            user_id: "others".into(),
            from: 0,
            to: last_stop,
            passengers: vec![passenger(format!("SOLD{seat}"))],
            hold_ttl_ms: 600_000,
            policy: AllocationPolicy::TightestFit,
        };
        let held = decide(&state, &Command::HoldSeats(hold), now_ms).expect("seats left");
        record(&mut state, held);
        let paid = decide(&state, &Command::ConfirmOrder { order_id, user_id: None }, now_ms).expect("held");
        record(&mut state, paid);
        sold.push(order_id);
    }
    for spread in [Spread::OneGroup, Spread::EveryGroup] {
        for length in QUEUE_LENGTHS {
            let mut queued = state.clone();
            for n in 0..length as u128 {
                let command = WorkflowCommand::JoinWaitlist(join(spread, n, now_ms));
                let joined = decide_workflow(&queued, &command, now_ms).expect("join");
                record(&mut queued, joined);
            }
            let groups = queued.waitlist.waiting_groups(SeatClass::Second).count();
            let started = Instant::now();
            refund(&mut queued, &sold[..REFUNDS], now_ms);
            let per_refund = started.elapsed() / REFUNDS as u32;
            let reserved = queued.waitlist.reserved_count();
            println!(
                "{spread:?} queue {length:>6} ({groups:>3} groups): {per_refund:>10.1?} per refund (decide + apply); \
                 {reserved} choices reserved"
            );
        }
    }
}
