//! The group-commit writer: drains every actor's journal entries, writes them
//! in one transaction per batch, then completes the replies waiting on it.
//!
//! Actors never await the database; they hand entries to this task's queue
//! and keep handling messages while batches are in flight.
//!
//! - `pipeline`: the loop — gathering, launching, several commits in flight.
//! - `batch`: one transaction's entries and the replies waiting on it.
//! - `commit`: one batch's append, with retries.

mod batch;
mod commit;
mod pipeline;

pub use batch::encode_snapshot;

use crate::journal::Journal;
use engine::durability::{AckMode, JournalSink};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How the writer batches, retries and bounds its queue.
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
    /// Batches committing at once, for disjoint train-dates. A commit is
    /// mostly waiting for the log flush, and the database flushes concurrent
    /// commits together, so a few in flight multiply durable throughput;
    /// each holds a pooled connection. The journal may allow fewer
    /// (`Journal::appends_in_flight_max`: SQLite has one writer).
    pub commits_in_flight_max: usize,
    /// A batch starts while another commit is in flight only once it holds
    /// this many events; with none in flight it starts when due. Overlapping
    /// commits pay off only when the database waits on its log, and each
    /// commit costs the database its fixed statements: on a CPU-bound box,
    /// four small overlapping commits cost about twice the database CPU per
    /// write of one commit four times their size (BENCHMARKS.md, "Durable
    /// write path"). So commits overlap only under a load that fills
    /// batches faster than they commit. 0: overlap whenever due.
    pub overlap_events_min: usize,
    /// Entries queued ahead of the writer. Bounds memory when the database
    /// is slower than the actors; a full queue makes writes answer
    /// RESOURCE_EXHAUSTED instead of queueing without limit.
    pub queue_capacity: usize,
    /// Whether a write is answered after its commit (durable) or once the
    /// actor has applied it (benchmarks only).
    pub ack_mode: AckMode,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_events_max: 4096,
            batch_window: Duration::from_millis(1),
            commit_attempts: 3,
            retry_backoff: Duration::from_millis(50),
            commits_in_flight_max: 4,
            overlap_events_min: OVERLAP_EVENTS_MIN_DEFAULT,
            queue_capacity: 65_536,
            ack_mode: AckMode::Durable,
        }
    }
}

/// `WriterConfig::overlap_events_min` unless configured: a batch this size
/// spreads a commit's fixed statements (begin, feed clock and row, commit)
/// over enough writes that a second commit in flight costs little.
pub const OVERLAP_EVENTS_MIN_DEFAULT: usize = 32;

/// Buckets of the batch-size histogram: batch sizes 1, 2–3, 4–7, … 2^15+.
pub const BATCH_SIZE_BUCKETS: usize = 16;

/// Counters for monitoring and benchmarks.
#[derive(Debug)]
pub struct WriterStats {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Events in committed batches; over `batches`, the mean batch size.
    pub events: AtomicU64,
    /// Batches that failed after their retries, or whose commit task died:
    /// each left its train-dates read-only until they rebuild.
    pub failed_batches: AtomicU64,
    /// Time spent in committed appends, retries included; over `batches`,
    /// the mean commit latency.
    pub commit_micros_total: AtomicU64,
    /// Streams the journal refused because their slot's fence had moved on
    /// (cluster only): each is an actor that lost its slot to another node.
    pub fenced_streams: AtomicU64,
    /// `batch_sizes[k]` counts batches of 2^k to 2^(k+1)−1 events.
    pub batch_sizes: [AtomicU64; BATCH_SIZE_BUCKETS],
    /// Raised after every committed batch: feed readers on this node wait on
    /// it (`subscribe_commits`) instead of polling the journal. A watch, not
    /// a broadcast: a reader only needs "something new", never each batch.
    commits: tokio::sync::watch::Sender<u64>,
}

impl Default for WriterStats {
    fn default() -> Self {
        WriterStats {
            batches: AtomicU64::default(),
            events: AtomicU64::default(),
            failed_batches: AtomicU64::default(),
            commit_micros_total: AtomicU64::default(),
            fenced_streams: AtomicU64::default(),
            batch_sizes: Default::default(),
            commits: tokio::sync::watch::Sender::new(0),
        }
    }
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
        self.commits.send_modify(|committed| *committed += 1);
    }

    /// A receiver that changes after each batch this node's writer commits:
    /// the local wake-up for feed readers. Commits by other nodes of a
    /// cluster do not show here; a reader also polls for those.
    pub fn subscribe_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
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
    let task = tokio::spawn(pipeline::run(journal, receiver, config, Arc::clone(&stats)));
    (JournalSink { sender, ack_mode: config.ack_mode }, task, stats)
}

#[cfg(test)]
mod tests;
