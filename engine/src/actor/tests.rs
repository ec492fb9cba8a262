//! The actor's journal-failure path: read-only mode, rebuild, and the stop
//! on corrupt data, against a writer that fails batches and a store whose
//! journal cannot be read (or holds nothing).

use super::{ActorSettings, Execute, Query, Read, TrainDateActor};
use crate::actor::view::TrainDateShared;
use crate::clock::ManualClock;
use crate::domain::command::{Command, HoldSeats, PassengerRequest, SeatChoice};
use crate::domain::order::OrderId;
use crate::domain::plan::TrainPlan;
use crate::domain::seat_class::SeatClass;
use crate::domain::settings::{TicketRules, WaitlistSettings};
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::domain::timetable::{Station, TrainTemplate};
use crate::durability::{
    AckMode, BoxFuture, JournalMessage, JournalSink, Persistence, Store, StoreError, StoredCatalog,
};
use crate::error::{CommandError, Unavailable};
use crate::orders::OrderIndex;
use crate::slots::{SlotFence, SlotId};
use crate::test_fixtures::template;
use actix::Actor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// A store whose every train-date load finds corrupt data, or, when
/// `readable`, a journal with nothing in it; counting the loads.
#[derive(Default)]
struct TestStore {
    loads: AtomicUsize,
    readable: bool,
}

impl Store for TestStore {
    fn upsert_stations(&self, _: Vec<Station>) -> BoxFuture<Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn upsert_train(&self, _: TrainTemplate, _: u64) -> BoxFuture<Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn insert_train_dates(&self, _: Vec<(TrainDateKey, TrainTemplate)>, _: u64) -> BoxFuture<Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn load_catalog(&self) -> BoxFuture<Result<StoredCatalog, StoreError>> {
        Box::pin(async { Ok(StoredCatalog::default()) })
    }
    fn archive_train_dates(&self, _: Vec<TrainDateKey>, _: u64) -> BoxFuture<Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn load_train_date(
        &self,
        key: TrainDateKey,
        plan: Arc<TrainPlan>,
    ) -> BoxFuture<Result<TrainDateState, StoreError>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let loaded = match self.readable {
            true => Ok(TrainDateState::open(key, plan)),
            false => Err(StoreError::Corrupt { detail: "event 7 does not decode".into() }),
        };
        Box::pin(async { loaded })
    }
    fn load_train_dates(&self) -> BoxFuture<Result<Vec<(TrainDateKey, TrainTemplate)>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn advance_fences(&self, fences: Vec<SlotFence>, _: String) -> BoxFuture<Result<Vec<(SlotId, u64)>, StoreError>> {
        Box::pin(async move { Ok(fences.iter().map(|fence| (fence.slot, fence.token)).collect()) })
    }
    fn read_fences(&self, _: Vec<SlotId>) -> BoxFuture<Result<Vec<(SlotId, u64)>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn order_home(&self, _: OrderId) -> BoxFuture<Result<Option<(TrainDateKey, String)>, StoreError>> {
        Box::pin(async { Ok(None) })
    }
    fn user_orders(
        &self,
        _: String,
        _: Option<OrderId>,
        _: usize,
    ) -> BoxFuture<Result<(Vec<OrderId>, usize), StoreError>> {
        Box::pin(async { Ok((Vec::new(), 0)) })
    }
}

fn hold(request_id: &str, id_number: &str) -> Command {
    Command::HoldSeats(HoldSeats {
        order_id: OrderId::generate(),
        request_id: request_id.into(),
        user_id: "u".into(),
        from: 0,
        to: 2,
        passengers: vec![PassengerRequest {
            name: "n".into(),
            id_number: id_number.into(),
            class: SeatClass::Second,
            choice: SeatChoice::Any,
        }],
        hold_ttl_ms: 600_000,
        policy: Default::default(),
    })
}

/// Starts `state`'s actor journaling to `sender` and rebuilding from `store`.
fn start_on_store(
    state: TrainDateState,
    sender: mpsc::Sender<JournalMessage>,
    store: &Arc<TestStore>,
) -> (actix::Addr<TrainDateActor>, Arc<TrainDateShared>) {
    let clock = Arc::new(ManualClock::new(state.service_day_start_ms));
    let persistence = Persistence {
        sink: JournalSink { sender, ack_mode: AckMode::Durable },
        store: Arc::clone(store) as Arc<dyn Store>,
        snapshot_every_events: 1_000,
    };
    let settings = ActorSettings::default();
    let shared = Arc::new(TrainDateShared::new(&state, settings.mailbox_pending_max));
    let orders = Arc::new(OrderIndex::default());
    let addr = TrainDateActor::new(state, Arc::clone(&shared), orders, clock, settings, Some(persistence)).start();
    (addr, shared)
}

#[test]
fn a_rebuild_that_finds_corrupt_data_stops_and_says_so() {
    actix_rt::System::new().block_on(async {
        let plan = Arc::new(TrainPlan::new(template(4, &[(SeatClass::Second, 2, "ABCDF")])));
        let date = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("valid date");
        let state = TrainDateState::open(TrainDateKey::new("G1", date), plan);
        let (sender, mut writer) = mpsc::channel(16);
        // The writer fails every batch, as when the database is down.
        tokio::spawn(async move {
            while let Some(message) = writer.recv().await {
                if let JournalMessage::Append(entry) = message {
                    let _ = entry.ack.send(Err(StoreError::Unavailable { detail: "connection refused".into() }));
                }
            }
        });
        let store = Arc::new(TestStore::default());
        let (addr, shared) = start_on_store(state, sender, &store);
        let send = |command: Command| {
            shared.pending_messages.fetch_add(1, Ordering::AcqRel);
            addr.send(Execute { deadline: None, command })
        };

        // The first write is decided but never made durable.
        let first = send(hold("r1", "A")).await.expect("actor answers");
        assert!(matches!(first, Err(CommandError::Unavailable(Unavailable::NotDurable { .. }))), "{first:?}");
        // The rebuild (first retry after 200 ms) finds the journal corrupt...
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(store.loads.load(Ordering::SeqCst), 1);
        // ...so writes are refused naming that cause...
        let second = send(hold("r2", "B")).await.expect("actor answers");
        let Err(CommandError::Unavailable(Unavailable::ReadOnly { cause, .. })) = second else {
            panic!("expected read-only, got {second:?}")
        };
        assert!(matches!(cause, StoreError::Corrupt { .. }), "{cause:?}");
        // ...and no further rebuild is attempted: waiting cannot repair it.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(store.loads.load(Ordering::SeqCst), 1);
    });
}

/// The waitlist queue cap a train-date decides by.
struct QueueCap;

impl Query for QueueCap {
    type Answer = usize;
    fn answer(self, state: &TrainDateState) -> usize {
        state.rules.waitlist.queue_per_class_max
    }
}

#[test]
fn a_train_date_rebuilt_from_its_journal_keeps_the_engines_rules() {
    actix_rt::System::new().block_on(async {
        let plan = Arc::new(TrainPlan::new(template(4, &[(SeatClass::Second, 2, "ABCDF")])));
        let date = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("valid date");
        let mut state = TrainDateState::open(TrainDateKey::new("G1", date), plan);
        let waitlist = WaitlistSettings { queue_per_class_max: 7, ..WaitlistSettings::default() };
        state.rules = Arc::new(TicketRules { waitlist, ..TicketRules::default() });
        let (sender, mut writer) = mpsc::channel(16);
        // The writer fails the first batch, then commits.
        tokio::spawn(async move {
            let mut appends = 0;
            while let Some(message) = writer.recv().await {
                if let JournalMessage::Append(entry) = message {
                    appends += 1;
                    let failure = StoreError::Unavailable { detail: "connection reset".into() };
                    let _ = entry.ack.send(if appends == 1 { Err(failure) } else { Ok(()) });
                }
            }
        });
        let store = Arc::new(TestStore { readable: true, ..TestStore::default() });
        let (addr, shared) = start_on_store(state, sender, &store);

        // given a write the journal lost, and the rebuild (after 200 ms) from what it holds
        shared.pending_messages.fetch_add(1, Ordering::AcqRel);
        let lost = addr.send(Execute { deadline: None, command: hold("r1", "A") }).await.expect("actor answers");
        assert!(matches!(lost, Err(CommandError::Unavailable(Unavailable::NotDurable { .. }))), "{lost:?}");
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(store.loads.load(Ordering::SeqCst), 1);
        // then the rebuilt state decides by the rules the engine gave it, not the defaults
        shared.pending_messages.fetch_add(1, Ordering::AcqRel);
        let cap = addr.send(Read(QueueCap)).await.expect("actor answers");
        assert_eq!(cap.expect("writable again"), 7);
    });
}

/// The train-date the fenced tests use, and the fence its actor writes under.
fn fenced_key() -> TrainDateKey {
    TrainDateKey::new("G1", chrono::NaiveDate::from_ymd_opt(2025, 3, 1).expect("valid date"))
}

fn fenced_key_fence() -> crate::slots::SlotFence {
    crate::slots::SlotFence { slot: crate::slots::slot_of(&fenced_key()), token: 41 }
}

/// Starts the actor of `fenced_key()` under `fence`, journaling to `sender`.
fn start_fenced(
    sender: mpsc::Sender<JournalMessage>,
    fence: crate::slots::SlotFence,
) -> (actix::Addr<TrainDateActor>, Arc<TrainDateShared>, Arc<crate::slots::SlotTable>) {
    let plan = Arc::new(TrainPlan::new(template(4, &[(SeatClass::Second, 2, "ABCDF")])));
    let state = TrainDateState::open(fenced_key(), plan);
    let clock = Arc::new(ManualClock::new(state.service_day_start_ms));
    let persistence = Persistence {
        sink: JournalSink { sender, ack_mode: AckMode::Durable },
        store: Arc::new(TestStore::default()) as Arc<dyn Store>,
        snapshot_every_events: 1_000,
    };
    let settings = ActorSettings::default();
    let shared = Arc::new(TrainDateShared::new(&state, settings.mailbox_pending_max));
    let slots = Arc::new(crate::slots::SlotTable::default());
    slots.set(fence);
    let actor = TrainDateActor::new(
        state,
        Arc::clone(&shared),
        Arc::new(OrderIndex::default()),
        clock,
        settings,
        Some(persistence),
    )
    .with_fence(fence, Arc::clone(&slots));
    (actor.start(), shared, slots)
}

#[test]
fn a_fenced_append_stops_the_actor_writing_and_reports_its_slot() {
    actix_rt::System::new().block_on(async {
        let fence = fenced_key_fence();
        let (sender, mut writer) = mpsc::channel(16);
        let appends = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&appends);
        // The database's fence holds a newer token: every append is refused.
        tokio::spawn(async move {
            while let Some(message) = writer.recv().await {
                if let JournalMessage::Append(entry) = message {
                    counted.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(entry.fence, Some(fence), "every entry carries the actor's fence");
                    let refusal = StoreError::Fenced { slot: fence.slot, token: fence.token, current: 52 };
                    let _ = entry.ack.send(Err(refusal));
                }
            }
        });
        let (addr, shared, slots) = start_fenced(sender, fence);
        let send = |command: Command| {
            shared.pending_messages.fetch_add(1, Ordering::AcqRel);
            addr.send(Execute { deadline: None, command })
        };
        let first = send(hold("r1", "A")).await.expect("actor answers");
        assert!(matches!(first, Err(CommandError::Unavailable(Unavailable::SlotMoved { .. }))), "{first:?}");
        assert_eq!(slots.take_fenced(), vec![fence.slot], "the node learns its slot moved");
        // No write is attempted any more: the slot belongs to another node.
        let second = send(hold("r2", "B")).await.expect("actor answers");
        assert!(matches!(second, Err(CommandError::Unavailable(Unavailable::SlotMoved { .. }))), "{second:?}");
        assert_eq!(appends.load(Ordering::SeqCst), 1);
    });
}

/// A retried hold that reaches the actor while its first attempt's append is
/// being fenced must not be acknowledged: the retry's barrier lands (the
/// journal answers an append with no rows at once), but the order it would
/// reveal was never committed.
#[test]
fn a_retry_behind_a_fenced_append_is_not_acknowledged() {
    actix_rt::System::new().block_on(async {
        let fence = fenced_key_fence();
        let (sender, mut writer) = mpsc::channel(16);
        // Holds the hold's entry until the retry's barrier arrives, then
        // refuses the first for its fence and lets the empty barrier pass,
        // as the writer does.
        tokio::spawn(async move {
            let mut entries = Vec::new();
            while let Some(message) = writer.recv().await {
                if let JournalMessage::Append(entry) = message {
                    entries.push(entry);
                }
                if entries.len() == 2 {
                    let barrier = entries.pop().expect("two entries");
                    let first = entries.pop().expect("two entries");
                    assert!(
                        !first.records.is_empty() && barrier.records.is_empty(),
                        "a hold, then its retry's barrier"
                    );
                    let refusal = StoreError::Fenced { slot: fence.slot, token: fence.token, current: 52 };
                    let _ = first.ack.send(Err(refusal));
                    let _ = barrier.ack.send(Ok(()));
                }
            }
        });
        let (addr, shared, _slots) = start_fenced(sender, fence);
        let send = |command: Command| {
            shared.pending_messages.fetch_add(1, Ordering::AcqRel);
            addr.send(Execute { deadline: None, command })
        };
        // Both are in the mailbox before either is answered.
        let (first, retry) = (send(hold("r1", "A")), send(hold("r1", "A")));
        let (first, retry) = (first.await.expect("actor answers"), retry.await.expect("actor answers"));
        assert!(matches!(first, Err(CommandError::Unavailable(Unavailable::SlotMoved { .. }))), "{first:?}");
        assert!(matches!(retry, Err(CommandError::Unavailable(Unavailable::SlotMoved { .. }))), "{retry:?}");
    });
}
