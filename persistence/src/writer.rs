//! The group-commit writer: drains every actor's journal entries, writes them
//! in one transaction per batch, then completes the replies waiting on it.
//!
//! Actors never await the database; they hand entries to this task's queue
//! and keep handling messages while a batch is in flight.

use crate::codec::encode;
use crate::journal::{Journal, JournalError, OrderRow, StoredSnapshot, StreamAppend, stream_id};
use engine::domain::event::Event;
use engine::domain::snapshot::{SNAPSHOT_SCHEMA_VERSION, TrainDateSnapshot};
use engine::domain::state::TrainDateKey;
use engine::durability::{AckMode, JournalEntry, JournalFailure, JournalMessage, JournalSink};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{error, warn};

#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// A batch closes once it holds this many events. Bounds one
    /// transaction's size and the replies one failure can affect.
    pub batch_events_max: usize,
    /// …or once this long has passed since its first entry, whichever is first.
    pub batch_window: Duration,
    /// Attempts to commit one batch before its train-dates go read-only.
    pub commit_attempts: u32,
    /// Pause between attempts, doubled each time.
    pub retry_backoff: Duration,
    /// Entries queued ahead of the writer. Bounds memory when the database
    /// is slower than the actors; a full queue makes writes answer
    /// RESOURCE_EXHAUSTED instead of queueing without limit.
    pub queue_capacity: usize,
    pub ack_mode: AckMode,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_events_max: 4096,
            batch_window: Duration::from_millis(1),
            commit_attempts: 3,
            retry_backoff: Duration::from_millis(50),
            queue_capacity: 65_536,
            ack_mode: AckMode::Durable,
        }
    }
}

/// Buckets of the batch-size histogram: batch sizes 1, 2–3, 4–7, … 2^15+.
pub const BATCH_SIZE_BUCKETS: usize = 16;

/// Counters for monitoring and benchmarks.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    pub failed_batches: AtomicU64,
    pub commit_micros_total: AtomicU64,
    /// `batch_sizes[k]` counts batches of 2^k to 2^(k+1)−1 events.
    pub batch_sizes: [AtomicU64; BATCH_SIZE_BUCKETS],
}

impl WriterStats {
    fn record(&self, events: usize, elapsed: Duration) {
        metrics::histogram!("seat_journal_batch_events").record(events as f64);
        metrics::histogram!("seat_journal_commit_seconds").record(elapsed.as_secs_f64());
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        self.commit_micros_total.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let bucket = (usize::BITS - events.max(1).leading_zeros() - 1) as usize;
        self.batch_sizes[bucket.min(BATCH_SIZE_BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the writer on the current tokio runtime. It runs until every sink
/// clone is dropped, then commits what is left and ends.
pub fn start_writer<J: Journal>(
    journal: Arc<J>,
    config: WriterConfig,
) -> (JournalSink, tokio::task::JoinHandle<()>, Arc<WriterStats>) {
    let (sender, receiver) = mpsc::channel(config.queue_capacity);
    let stats = Arc::new(WriterStats::default());
    let task = tokio::spawn(run(journal, receiver, config, Arc::clone(&stats)));
    (JournalSink { sender, ack_mode: config.ack_mode }, task, stats)
}

async fn run<J: Journal>(
    journal: Arc<J>,
    mut receiver: mpsc::Receiver<JournalMessage>,
    config: WriterConfig,
    stats: Arc<WriterStats>,
) {
    let mut poisoned: HashSet<TrainDateKey> = HashSet::new();
    while let Some(first) = receiver.recv().await {
        let mut batch = Batch::default();
        batch.push(first, &mut poisoned);
        let deadline = tokio::time::Instant::now() + config.batch_window;
        while batch.events < config.batch_events_max {
            let next = match receiver.try_recv() {
                Ok(message) => Some(message),
                Err(_) => tokio::time::timeout_at(deadline, receiver.recv()).await.ok().flatten(),
            };
            let Some(message) = next else { break };
            batch.push(message, &mut poisoned);
        }
        if !batch.is_empty() {
            commit(&*journal, batch, &config, &stats, &mut poisoned).await;
        }
    }
}

/// Entries gathered for one transaction, grouped by stream in arrival order.
#[derive(Default)]
struct Batch {
    streams: Vec<(TrainDateKey, StreamAppend)>,
    positions: HashMap<TrainDateKey, usize>,
    waiters: Vec<Waiter>,
    events: usize,
}

struct Waiter {
    ack: tokio::sync::oneshot::Sender<Result<(), JournalFailure>>,
    durable_seq: Arc<AtomicU64>,
    /// Seq this entry makes durable; 0 for a barrier with nothing new.
    seq: u64,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    fn push(&mut self, message: JournalMessage, poisoned: &mut HashSet<TrainDateKey>) {
        let entry = match message {
            JournalMessage::Resume(key) => {
                poisoned.remove(&key);
                return;
            }
            JournalMessage::Append(entry) => entry,
        };
        if poisoned.contains(&entry.key) {
            // Everything after a failed batch is refused until the train-date rebuilds.
            let _ = entry.ack.send(Err(JournalFailure("an earlier batch for this train-date failed".into())));
            return;
        }
        self.add(entry);
    }

    fn add(&mut self, entry: JournalEntry) {
        let JournalEntry { key, records, snapshot, durable_seq, ack } = entry;
        let seq = records.last().map_or(0, |record| record.seq);
        let index = *self.positions.entry(key.clone()).or_insert_with(|| {
            self.streams.push((key.clone(), StreamAppend { stream: stream_id(&key), ..StreamAppend::default() }));
            self.streams.len() - 1
        });
        let stream = &mut self.streams[index].1;
        for record in &records {
            if let Event::SeatsHeld(held) = &record.event {
                stream.new_orders.push(OrderRow {
                    order_id: held.order_id.to_string(),
                    stream: stream.stream.clone(),
                    user_id: held.user_id.clone(),
                    request_id: held.request_id.clone(),
                    seq: record.seq,
                });
            }
            stream.events.push(encode(record));
        }
        if let Some(snapshot) = snapshot {
            stream.snapshot = Some(encode_snapshot(&snapshot));
        }
        self.events += records.len();
        self.waiters.push(Waiter { ack, durable_seq, seq });
    }
}

pub fn encode_snapshot(snapshot: &TrainDateSnapshot) -> StoredSnapshot {
    StoredSnapshot {
        seq: snapshot.last_seq,
        version: SNAPSHOT_SCHEMA_VERSION,
        body: serde_json::to_string(snapshot).expect("snapshots always serialise"),
    }
}

async fn commit<J: Journal>(
    journal: &J,
    batch: Batch,
    config: &WriterConfig,
    stats: &WriterStats,
    poisoned: &mut HashSet<TrainDateKey>,
) {
    let appends: Vec<StreamAppend> = batch.streams.iter().map(|(_, append)| append.clone()).collect();
    let started = Instant::now();
    match append_with_retries(journal, &appends, config).await {
        Ok(()) => {
            stats.record(batch.events, started.elapsed());
            for waiter in batch.waiters {
                waiter.durable_seq.fetch_max(waiter.seq, Ordering::AcqRel);
                let _ = waiter.ack.send(Ok(()));
            }
        }
        Err(failure) => {
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("seat_journal_failed_batches_total").increment(1);
            error!(streams = appends.len(), events = batch.events, %failure, "journal batch failed; its train-dates go read-only");
            poisoned.extend(batch.streams.into_iter().map(|(key, _)| key));
            let reason = JournalFailure(failure.to_string());
            for waiter in batch.waiters {
                let _ = waiter.ack.send(Err(reason.clone()));
            }
        }
    }
}

async fn append_with_retries<J: Journal>(
    journal: &J,
    appends: &[StreamAppend],
    config: &WriterConfig,
) -> Result<(), JournalError> {
    let mut backoff = config.retry_backoff;
    let mut attempt = 1;
    loop {
        match journal.append(appends).await {
            Ok(()) => return Ok(()),
            // Sequence and constraint errors will not go away by retrying; the rebuild sorts them out.
            Err(error) if error.is_permanent() => return Err(error),
            Err(error) if attempt >= config.commit_attempts.max(1) => return Err(error),
            Err(error) => {
                warn!(attempt, %error, "journal append failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}
