//! The pipelined writer against an in-memory journal that records how
//! appends overlapped: several batches in flight, never one stream in two
//! of them, every stream written in order, failures confined to their
//! train-dates until they resume.

use super::{WriterConfig, start_writer};
use crate::codec::StoredEvent;
use crate::feed::FeedBatch;
use crate::journal::{AppendOutcome, Journal, JournalError, OrderRow, StoredSnapshot, StoredTrainDate, StreamAppend};
use engine::domain::event::{EVENT_SCHEMA_VERSION, Event, EventRecord};
use engine::domain::state::TrainDateKey;
use engine::domain::timetable::{Station, TrainTemplate};
use engine::durability::{JournalEntry, JournalFailure, JournalMessage, JournalSink};
use engine::slots::{SlotFence, SlotId, slot_of};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Keeps each stream's last seq and checks appends continue it, as the real
/// backends do; each append takes `delay`, like a log flush.
#[derive(Default)]
struct RecordingJournal {
    delay: Duration,
    /// Streams whose next append fails permanently, once.
    fail_once: Mutex<HashSet<String>>,
    state: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    last_seq: HashMap<String, u64>,
    active_streams: HashSet<String>,
    active_appends: usize,
    peak_appends: usize,
    /// A stream was in two appends at once.
    overlaps: Vec<String>,
}

impl RecordingJournal {
    fn start(&self, batch: &[StreamAppend]) -> Result<(), JournalError> {
        let mut fail_once = self.fail_once.lock().unwrap();
        let mut state = self.state.lock().unwrap();
        for append in batch {
            if !state.active_streams.insert(append.stream.clone()) {
                state.overlaps.push(append.stream.clone());
            }
        }
        state.active_appends += 1;
        state.peak_appends = state.peak_appends.max(state.active_appends);
        for append in batch {
            if fail_once.remove(&append.stream) {
                return Err(JournalError::Corrupt(format!("{} refused by the test", append.stream)));
            }
            let stored = state.last_seq.get(&append.stream).copied().unwrap_or(0);
            if let Some(first) = append.events.first()
                && first.seq != stored + 1
            {
                return Err(JournalError::OutOfSequence {
                    stream: append.stream.clone(),
                    first_seq: first.seq,
                    stored_seq: stored,
                });
            }
        }
        Ok(())
    }

    fn finish(&self, batch: &[StreamAppend], written: bool) {
        let mut state = self.state.lock().unwrap();
        state.active_appends -= 1;
        for append in batch {
            state.active_streams.remove(&append.stream);
            if written && let Some(last) = append.events.last() {
                state.last_seq.insert(append.stream.clone(), last.seq);
            }
        }
    }
}

impl Journal for RecordingJournal {
    async fn append(&self, batch: &[StreamAppend]) -> Result<AppendOutcome, JournalError> {
        let checked = self.start(batch);
        tokio::time::sleep(self.delay).await;
        self.finish(batch, checked.is_ok());
        checked.map(|()| AppendOutcome::default())
    }

    async fn read_feed(&self, _: u64, _: usize) -> Result<Vec<FeedBatch>, JournalError> {
        Ok(Vec::new())
    }
    async fn feed_head(&self) -> Result<u64, JournalError> {
        Ok(0)
    }
    async fn advance_fences(&self, fences: &[SlotFence], _: &str, _: u64) -> Result<Vec<(SlotId, u64)>, JournalError> {
        Ok(fences.iter().map(|fence| (fence.slot, fence.token)).collect())
    }
    async fn read_fences(&self, _: &[SlotId]) -> Result<Vec<(SlotId, u64)>, JournalError> {
        Ok(Vec::new())
    }
    async fn order_home(&self, _: &str) -> Result<Option<(String, String)>, JournalError> {
        Ok(None)
    }
    async fn user_orders(&self, _: &str, _: Option<&str>, _: usize) -> Result<(Vec<String>, usize), JournalError> {
        Ok((Vec::new(), 0))
    }

    fn appends_in_flight_max(&self) -> usize {
        8
    }

    async fn read_events(&self, _: &str, _: u64, _: usize) -> Result<Vec<StoredEvent>, JournalError> {
        Ok(Vec::new())
    }
    async fn last_seq(&self, stream: &str) -> Result<u64, JournalError> {
        Ok(self.state.lock().unwrap().last_seq.get(stream).copied().unwrap_or(0))
    }
    async fn latest_snapshot(&self, _: &str) -> Result<Option<StoredSnapshot>, JournalError> {
        Ok(None)
    }
    async fn upsert_stations(&self, _: &[Station]) -> Result<(), JournalError> {
        Ok(())
    }
    async fn upsert_train(&self, _: &TrainTemplate, _: u64) -> Result<(), JournalError> {
        Ok(())
    }
    async fn load_stations(&self) -> Result<Vec<Station>, JournalError> {
        Ok(Vec::new())
    }
    async fn load_trains(&self) -> Result<Vec<TrainTemplate>, JournalError> {
        Ok(Vec::new())
    }
    async fn insert_train_dates(&self, _: &[StoredTrainDate]) -> Result<(), JournalError> {
        Ok(())
    }
    async fn load_train_dates(&self) -> Result<Vec<StoredTrainDate>, JournalError> {
        Ok(Vec::new())
    }
    async fn archive_train_dates(&self, _: &[String], _: u64) -> Result<(), JournalError> {
        Ok(())
    }
    async fn load_orders(&self) -> Result<Vec<OrderRow>, JournalError> {
        Ok(Vec::new())
    }
}

fn key(train: usize) -> TrainDateKey {
    TrainDateKey { date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), train: format!("G{train}") }
}

type Ack = oneshot::Receiver<Result<(), JournalFailure>>;

async fn send(sink: &JournalSink, key: TrainDateKey, seq: u64) -> Ack {
    send_fenced(sink, key, seq, None).await
}

async fn send_fenced(sink: &JournalSink, key: TrainDateKey, seq: u64, fence: Option<SlotFence>) -> Ack {
    let (ack, acked) = oneshot::channel();
    let record = EventRecord {
        seq,
        version: EVENT_SCHEMA_VERSION,
        event: Event::OrderConfirmed { order_id: engine::domain::order::OrderId(uuid::Uuid::nil()), at_ms: seq },
    };
    let entry = JournalEntry {
        key,
        records: vec![record],
        snapshot: None,
        durable_seq: Arc::new(AtomicU64::new(0)),
        ack,
        fence,
    };
    sink.sender.send(JournalMessage::Append(entry)).await.expect("writer running");
    acked
}

/// Commits overlap whenever due (`overlap_events_min` 0), so these tests
/// see the pipelining itself; `small_batches_wait_for_the_commit_in_flight`
/// tests the threshold.
fn config(commits_in_flight_max: usize) -> WriterConfig {
    WriterConfig {
        commits_in_flight_max,
        overlap_events_min: 0,
        batch_window: Duration::from_micros(200),
        ..WriterConfig::default()
    }
}

// Paused time: sleeps advance a virtual clock, so the overlaps are the same every run.
#[tokio::test(start_paused = true)]
async fn small_batches_wait_for_the_commit_in_flight_and_large_ones_overlap() {
    const OVERLAP_EVENTS_MIN: usize = 8;
    let journal = Arc::new(RecordingJournal { delay: Duration::from_millis(5), ..RecordingJournal::default() });
    let config = WriterConfig { overlap_events_min: OVERLAP_EVENTS_MIN, ..config(4) };
    let (sink, writer, stats) = start_writer(Arc::clone(&journal), config);
    // A trickle: one entry a millisecond, so every batch is due small while
    // the one before it commits; they go one at a time.
    let mut acks = Vec::new();
    for train in 0..12 {
        acks.push(send(&sink, key(train), 1).await);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for ack in acks.drain(..) {
        assert_eq!(ack.await.unwrap(), Ok(()));
    }
    assert_eq!(journal.state.lock().unwrap().peak_appends, 1, "small batches never overlap");
    let small_batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    assert!(small_batches < 12, "entries that waited for a commit share the next batch: {small_batches} batches");
    // A burst: batches of the threshold's size start beside the one in flight.
    for round in 0..4 {
        for train in 0..OVERLAP_EVENTS_MIN {
            acks.push(send(&sink, key(100 + round * 100 + train), 1).await);
        }
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    for ack in acks {
        assert_eq!(ack.await.unwrap(), Ok(()));
    }
    drop(sink);
    writer.await.unwrap();
    let peak = journal.state.lock().unwrap().peak_appends;
    assert!(peak > 1, "batches of {OVERLAP_EVENTS_MIN} events overlap");
}

// Paused time: sleeps advance a virtual clock, so the overlaps are the same every run.
#[tokio::test(start_paused = true)]
async fn batches_overlap_but_each_train_date_is_written_in_order() {
    // Load spread over many train-dates, arriving over time, as in service.
    const TRAINS: usize = 64;
    const ENTRIES_PER_TRAIN: u64 = 5;
    let journal = Arc::new(RecordingJournal { delay: Duration::from_millis(3), ..RecordingJournal::default() });
    let (sink, writer, stats) = start_writer(Arc::clone(&journal), config(4));
    let mut senders = Vec::new();
    for train in 0..TRAINS {
        let sink = sink.clone();
        // Like an actor: sends on without waiting for earlier entries to land.
        senders.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_micros(150 * train as u64)).await;
            let mut acks = Vec::new();
            for seq in 1..=ENTRIES_PER_TRAIN {
                acks.push(send(&sink, key(train), seq).await);
                tokio::time::sleep(Duration::from_micros(700)).await;
            }
            acks
        }));
    }
    for sender in senders {
        for ack in sender.await.unwrap() {
            assert_eq!(ack.await.unwrap(), Ok(()));
        }
    }
    drop(sink);
    writer.await.unwrap();
    let state = journal.state.lock().unwrap();
    assert!(state.overlaps.is_empty(), "a train-date was in two batches at once: {:?}", state.overlaps);
    assert!(state.peak_appends > 1, "batches never overlapped");
    assert!(state.peak_appends <= 4, "more batches in flight than allowed: {}", state.peak_appends);
    for train in 0..TRAINS {
        assert_eq!(state.last_seq.get(&crate::journal::stream_id(&key(train))), Some(&ENTRIES_PER_TRAIN));
    }
    assert_eq!(stats.events.load(std::sync::atomic::Ordering::Relaxed), TRAINS as u64 * ENTRIES_PER_TRAIN);
}

// Paused time: sleeps advance a virtual clock, so the overlaps are the same every run.
#[tokio::test(start_paused = true)]
async fn one_in_flight_never_overlaps() {
    let journal = Arc::new(RecordingJournal { delay: Duration::from_millis(2), ..RecordingJournal::default() });
    let (sink, writer, _) = start_writer(Arc::clone(&journal), config(1));
    let mut acks = Vec::new();
    for seq in 1..=10 {
        for train in 0..4 {
            acks.push(send(&sink, key(train), seq).await);
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    for ack in acks {
        assert_eq!(ack.await.unwrap(), Ok(()));
    }
    drop(sink);
    writer.await.unwrap();
    assert_eq!(journal.state.lock().unwrap().peak_appends, 1);
}

// Paused time: sleeps advance a virtual clock, so the overlaps are the same every run.
#[tokio::test(start_paused = true)]
async fn a_failed_batch_refuses_its_train_date_until_it_resumes_and_spares_the_others() {
    let journal = Arc::new(RecordingJournal { delay: Duration::from_millis(10), ..RecordingJournal::default() });
    let failing = key(1);
    journal.fail_once.lock().unwrap().insert(crate::journal::stream_id(&failing));
    let (sink, writer, stats) = start_writer(Arc::clone(&journal), config(4));
    let first = send(&sink, failing.clone(), 1).await;
    // Both sent while the first batch is committing: another train-date's
    // entry goes in a batch of its own, the failing one's waits behind it.
    // (Tokio timers tick in whole milliseconds, so the window ends by 2 ms.)
    tokio::time::sleep(Duration::from_millis(3)).await;
    let healthy = send(&sink, key(2), 1).await;
    let after = send(&sink, failing.clone(), 2).await;
    assert!(first.await.unwrap().is_err());
    assert!(after.await.unwrap().is_err(), "an entry after a failed batch must be refused, not written");
    assert_eq!(healthy.await.unwrap(), Ok(()));
    assert_eq!(stats.failed_batches.load(std::sync::atomic::Ordering::Relaxed), 1);
    // Still refused until the train-date says it rebuilt.
    assert!(send(&sink, failing.clone(), 1).await.await.unwrap().is_err());
    sink.sender.send(JournalMessage::Resume(failing.clone())).await.unwrap();
    assert_eq!(send(&sink, failing.clone(), 1).await.await.unwrap(), Ok(()));
    drop(sink);
    writer.await.unwrap();
    assert_eq!(journal.state.lock().unwrap().last_seq.get(&crate::journal::stream_id(&failing)), Some(&1));
}

/// Two train-dates in different slots.
fn keys_in_two_slots() -> (TrainDateKey, TrainDateKey) {
    let first = key(1);
    let other = (2..500).map(key).find(|other| slot_of(other) != slot_of(&first)).expect("another slot");
    (first, other)
}

#[tokio::test]
async fn a_fenced_stream_fails_only_its_own_replies_and_the_rest_of_the_batch_commits() {
    let directory = tempfile::tempdir().unwrap();
    let journal = Arc::new(crate::sqlite::SqliteJournal::open(&directory.path().join("seat.db")).await.unwrap());
    let (stale, current) = keys_in_two_slots();
    let (stale_slot, current_slot) = (slot_of(&stale), slot_of(&current));
    journal.advance_fences(&[SlotFence { slot: stale_slot, token: 5 }], "old", 1).await.unwrap();
    journal.advance_fences(&[SlotFence { slot: current_slot, token: 7 }], "me", 1).await.unwrap();
    // A newer owner claims the first slot.
    journal.advance_fences(&[SlotFence { slot: stale_slot, token: 9 }], "new", 2).await.unwrap();
    let (sink, _writer, stats) = start_writer(Arc::clone(&journal), config(1));
    let refused = send_fenced(&sink, stale.clone(), 1, Some(SlotFence { slot: stale_slot, token: 5 })).await;
    let accepted = send_fenced(&sink, current.clone(), 1, Some(SlotFence { slot: current_slot, token: 7 })).await;
    match refused.await.unwrap() {
        Err(JournalFailure::Fenced { slot, token: 5, current: 9 }) => assert_eq!(slot, stale_slot),
        other => panic!("expected Fenced, got {other:?}"),
    }
    accepted.await.unwrap().expect("the stream with the current token commits");
    assert_eq!(journal.last_seq(&crate::journal::stream_id(&stale)).await.unwrap(), 0);
    assert_eq!(journal.last_seq(&crate::journal::stream_id(&current)).await.unwrap(), 1);
    assert_eq!(stats.fenced_streams.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.failed_batches.load(std::sync::atomic::Ordering::Relaxed), 0, "a fence is not a failed batch");
}

#[tokio::test]
async fn a_journal_that_requires_fences_refuses_an_unfenced_stream() {
    let directory = tempfile::tempdir().unwrap();
    let journal = crate::sqlite::SqliteJournal::open(&directory.path().join("seat.db")).await.unwrap().require_fences();
    let (sink, _writer, _) = start_writer(Arc::new(journal), config(1));
    let acked = send(&sink, key(1), 1).await;
    assert!(matches!(acked.await.unwrap(), Err(JournalFailure::Fenced { token: 0, .. })));
}
