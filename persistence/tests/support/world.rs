//! What the tests store: synthetic rows for shape tests, and real events made
//! by the engine's `decide` and `apply` for replay tests.

use engine::allocation::AllocationPolicy;
use engine::domain::command::{Command, HoldSeats, PassengerRequest, SeatChoice};
use engine::domain::event::{EVENT_SCHEMA_VERSION, Event, EventRecord};
use engine::domain::order::OrderId;
use engine::domain::plan::TrainPlan;
use engine::domain::seat_class::SeatClass;
use engine::domain::snapshot::TrainDateSnapshot;
use engine::domain::state::{TrainDateKey, TrainDateState};
use engine::domain::timetable::{Carriage, Station, Stop, TrainTemplate};
use engine::{apply, decide};
use seat_persistence::codec::{StoredEvent, encode};
use seat_persistence::journal::{OrderRow, StoredSnapshot, StreamAppend, stream_id};
use std::sync::Arc;

const MINUTE_MS: u64 = 60_000;
const HOLD_TTL_MS: u64 = 10 * MINUTE_MS;

pub fn key(train: &str, day: u32) -> TrainDateKey {
    TrainDateKey::new(train, chrono::NaiveDate::from_ymd_opt(2026, 12, day).expect("valid date"))
}

/// A stored event whose body is opaque to the journal; non-ASCII on purpose.
pub fn event(seq: u64) -> StoredEvent {
    StoredEvent {
        seq,
        kind: "sales_closed".into(),
        version: 1,
        body: format!(r#"{{"type":"sales_closed","at_ms":{seq},"note":"北京南→上海虹桥"}}"#),
    }
}

pub fn events(seqs: impl IntoIterator<Item = u64>) -> Vec<StoredEvent> {
    seqs.into_iter().map(event).collect()
}

pub fn append(stream: &str, seqs: impl IntoIterator<Item = u64>) -> StreamAppend {
    StreamAppend { stream: stream.into(), events: events(seqs), ..StreamAppend::default() }
}

pub fn snapshot(seq: u64) -> StoredSnapshot {
    StoredSnapshot { seq, version: 1, body: format!(r#"{{"at":{seq}}}"#) }
}

pub fn order(stream: &str, user: &str, request: &str, seq: u64) -> OrderRow {
    OrderRow {
        order_id: OrderId::generate().to_string(),
        stream: stream.into(),
        user_id: user.into(),
        request_id: request.into(),
        seq,
    }
}

pub fn station(code: &str, name: &str) -> Station {
    Station { code: code.into(), name: name.into(), pinyin: code.to_ascii_lowercase() }
}

/// A small train: `stops` stops 08:00 onwards, a second-class and a
/// first-class carriage of `rows` rows each.
pub fn template(code: &str, stops: usize, rows: u16) -> TrainTemplate {
    TrainTemplate {
        code: code.into(),
        stops: (0..stops)
            .map(|index| Stop {
                station: format!("S{index}"),
                arrive_minutes: (index > 0).then_some(480 + index as u32 * 30),
                depart_minutes: (index + 1 < stops).then_some(482 + index as u32 * 30),
                distance_km: index as u32 * 100,
            })
            .collect(),
        carriages: [SeatClass::Second, SeatClass::First]
            .into_iter()
            .enumerate()
            .map(|(index, class)| Carriage {
                number: index as u8 + 1,
                class,
                rows,
                letters: class.standard_letters().into(),
            })
            .collect(),
    }
}

/// A train-date driven live through the engine: its final state, every event
/// record in order, and the order rows its holds index.
pub struct LiveRun {
    pub state: TrainDateState,
    pub records: Vec<EventRecord>,
    pub orders: Vec<OrderRow>,
}

pub fn fresh_state(key: &TrainDateKey) -> TrainDateState {
    TrainDateState::open(key.clone(), Arc::new(TrainPlan::new(template(&key.train, 4, 10))))
}

/// Holds for three users, then confirms, cancels, refunds, lets the rest
/// expire and closes sales: every event kind, through `decide` and `apply`.
pub fn live_run(key: &TrainDateKey) -> LiveRun {
    let mut run = LiveRun { state: fresh_state(key), records: Vec::new(), orders: Vec::new() };
    let mut now_ms = run.state.service_day_start_ms;
    let mut order_ids = Vec::new();
    for index in 0..12usize {
        let hold = hold(index);
        order_ids.push(hold.order_id);
        run.step(Command::HoldSeats(hold), now_ms);
    }
    for (index, order_id) in order_ids.iter().enumerate() {
        let confirm = Command::ConfirmOrder { order_id: *order_id, user_id: None };
        let cancel = Command::CancelOrder { order_id: *order_id, user_id: None };
        match index % 4 {
            0 => run.step(confirm, now_ms),
            1 => run.step(cancel, now_ms),
            2 => {
                run.step(confirm, now_ms);
                run.step(cancel, now_ms);
            }
            _ => {}
        }
    }
    now_ms += HOLD_TTL_MS + MINUTE_MS;
    run.step(Command::ExpireHolds, now_ms);
    run.step(Command::CloseSales, now_ms);
    run
}

fn hold(index: usize) -> HoldSeats {
    let class = if index.is_multiple_of(2) { SeatClass::Second } else { SeatClass::First };
    HoldSeats {
        order_id: OrderId::generate(),
        request_id: format!("request-{index}"),
        user_id: format!("user-{}", index % 3),
        from: index % 3,
        to: 3,
        passengers: (0..1 + index % 3)
            .map(|passenger| PassengerRequest {
                name: format!("乘客{index}-{passenger}"),
                id_number: format!("1101051949123{index:02}{passenger:03}"),
                class,
                choice: SeatChoice::Any,
            })
            .collect(),
        hold_ttl_ms: HOLD_TTL_MS,
        policy: AllocationPolicy::TightestFit,
    }
}

impl LiveRun {
    fn step(&mut self, command: Command, now_ms: u64) {
        let events = decide(&self.state, &command, now_ms).expect("the scripted command is accepted");
        assert!(!events.is_empty(), "every scripted command changes something");
        for event in events {
            let record = EventRecord { seq: self.state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event };
            apply(&mut self.state, &record);
            if let Event::SeatsHeld(held) = &record.event {
                let stream = stream_id(&self.state.key);
                let mut row = order(&stream, &held.user_id, &held.request_id, record.seq);
                row.order_id = held.order_id.to_string();
                self.orders.push(row);
            }
            self.records.push(record);
        }
    }

    /// The run's events as the journal stores them.
    pub fn stored(&self) -> Vec<StoredEvent> {
        self.records.iter().map(encode).collect()
    }
}

/// Folds `records` into `state`, as recovery does.
pub fn replay(mut state: TrainDateState, records: &[EventRecord]) -> TrainDateState {
    records.iter().for_each(|record| apply(&mut state, record));
    state
}

/// A snapshot body in the engine's own snapshot format.
pub fn snapshot_body(state: &TrainDateState) -> String {
    serde_json::to_string(&TrainDateSnapshot::of(state)).expect("snapshot serialises")
}

/// The state a snapshot body restores, on the plan `fresh_state` uses.
pub fn restore(body: &str, key: &TrainDateKey) -> TrainDateState {
    let snapshot: TrainDateSnapshot = serde_json::from_str(body).expect("snapshot deserialises");
    snapshot.restore(Arc::clone(&fresh_state(key).plan))
}
