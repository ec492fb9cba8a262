//! The writer's loop. Entries gather into a pending batch, which is launched
//! once it is full or its window has passed. Up to `commits_in_flight_max`
//! batches commit at once; no train-date is ever in two of them, so each
//! stream is still written strictly in order. An entry for a train-date whose
//! batch is in the database waits (held back) until that batch lands.

use super::batch::Batch;
use super::commit::{Committed, commit};
use super::{WriterConfig, WriterStats};
use crate::journal::Journal;
use engine::domain::state::TrainDateKey;
use engine::durability::{JournalEntry, JournalFailure, JournalMessage};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tracing::{error, warn};

pub(super) async fn run<J: Journal>(
    journal: Arc<J>,
    mut receiver: mpsc::Receiver<JournalMessage>,
    config: WriterConfig,
    stats: Arc<WriterStats>,
) {
    let in_flight_max = config.commits_in_flight_max.clamp(1, journal.appends_in_flight_max().max(1));
    let mut pipeline = Pipeline::default();
    let mut commits: JoinSet<Committed> = JoinSet::new();
    let mut open = true;
    loop {
        while commits.len() < in_flight_max
            && pipeline.due(&config, !open)
            && pipeline.may_start(&config, commits.len(), !open)
        {
            let (batch, keys) = pipeline.launch();
            let handle = commits.spawn(commit(Arc::clone(&journal), batch, config));
            pipeline.in_flight.insert(handle.id(), keys);
        }
        if !open && commits.is_empty() && pipeline.is_idle() {
            return;
        }
        let room = pipeline.pending.events < config.batch_events_max;
        let window_ends = pipeline.window_ends(&config);
        tokio::select! {
            biased;
            Some(joined) = commits.join_next_with_id(), if !commits.is_empty() => match joined {
                Ok((id, committed)) => pipeline.landed(id, committed, &stats),
                Err(error) => pipeline.lost(error.id(), &error.to_string(), &stats),
            },
            message = receiver.recv(), if open && room => match message {
                Some(message) => pipeline.accept(message),
                None => open = false,
            },
            // A window that ends while the batch may not start yet wakes
            // nothing: a landing commit or a new entry does.
            _ = tokio::time::sleep_until(window_ends.unwrap_or_else(Instant::now)),
                if window_ends.is_some() && commits.len() < in_flight_max
                    && pipeline.may_start(&config, commits.len(), !open) => {}
        }
    }
}

#[derive(Default)]
struct Pipeline {
    pending: Batch,
    /// When the pending batch's first entry arrived; its window runs from here.
    pending_since: Option<Instant>,
    /// Entries for train-dates that are in a committing batch, in arrival
    /// order. Bounded by what those actors may have outstanding (each
    /// actor's mailbox bound), since only busy train-dates land here.
    held_back: VecDeque<JournalEntry>,
    /// Train-dates of each committing batch.
    in_flight: HashMap<Id, Vec<TrainDateKey>>,
    busy: HashSet<TrainDateKey>,
    /// Train-dates whose batch failed: refused until they rebuild and resume.
    poisoned: HashSet<TrainDateKey>,
}

impl Pipeline {
    fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.held_back.is_empty()
    }

    fn window_ends(&self, config: &WriterConfig) -> Option<Instant> {
        self.pending_since.map(|since| since + config.batch_window)
    }

    /// Whether the pending batch should go now: full, its window over, or
    /// the queue closed (shutdown commits what is left at once).
    fn due(&self, config: &WriterConfig, closing: bool) -> bool {
        !self.pending.is_empty()
            && (closing
                || self.pending.events >= config.batch_events_max
                || self.window_ends(config).is_some_and(|end| end <= Instant::now()))
    }

    /// Whether a due batch may start beside `in_flight` commits: always
    /// alone or at shutdown, else once it is `overlap_events_min` events.
    fn may_start(&self, config: &WriterConfig, in_flight: usize, closing: bool) -> bool {
        in_flight == 0 || closing || self.pending.events >= config.overlap_events_min
    }

    /// Takes the pending batch to commit; its train-dates are busy until it lands.
    fn launch(&mut self) -> (Batch, Vec<TrainDateKey>) {
        self.pending_since = None;
        let batch = std::mem::take(&mut self.pending);
        let keys: Vec<TrainDateKey> = batch.keys().cloned().collect();
        self.busy.extend(keys.iter().cloned());
        (batch, keys)
    }

    fn accept(&mut self, message: JournalMessage) {
        match message {
            JournalMessage::Resume(key) => {
                self.poisoned.remove(&key);
            }
            JournalMessage::Append(entry) => self.admit(entry, Instant::now()),
        }
    }

    fn admit(&mut self, entry: JournalEntry, since: Instant) {
        if self.poisoned.contains(&entry.key) {
            // Everything after a failed batch is refused until the train-date rebuilds.
            let _ = entry.ack.send(Err(JournalFailure::EarlierBatchFailed));
        } else if self.busy.contains(&entry.key) {
            self.held_back.push_back(entry);
        } else {
            self.pending.add(entry);
            self.pending_since = Some(self.pending_since.map_or(since, |earlier| earlier.min(since)));
        }
    }

    fn landed(&mut self, id: Id, committed: Committed, stats: &WriterStats) {
        let keys = self.in_flight.remove(&id).unwrap_or_default();
        match committed.result {
            Ok(outcome) => {
                if !outcome.fenced.is_empty() {
                    // Not a failure of the batch: those slots moved to another
                    // node, whose token the fence holds. Their actors stop.
                    warn!(streams = outcome.fenced.len(), "journal refused streams whose slot moved to another node");
                    stats.fenced_streams.fetch_add(outcome.fenced.len() as u64, Ordering::Relaxed);
                }
                stats.record(committed.batch.events, committed.elapsed);
                committed.batch.acknowledge(&outcome.fenced);
            }
            Err(failure) => {
                error!(streams = keys.len(), events = committed.batch.events, %failure, "journal batch failed; its train-dates go read-only");
                self.poison(&keys, stats);
                committed.batch.fail(&JournalFailure::from(failure));
            }
        }
        self.release(&keys);
    }

    /// A commit task died without handing its batch back; its replies see
    /// the writer gone, so its train-dates must rebuild like after a failure.
    fn lost(&mut self, id: Id, reason: &str, stats: &WriterStats) {
        let keys = self.in_flight.remove(&id).unwrap_or_default();
        error!(streams = keys.len(), reason, "journal commit task died; its train-dates go read-only");
        self.poison(&keys, stats);
        self.release(&keys);
    }

    fn poison(&mut self, keys: &[TrainDateKey], stats: &WriterStats) {
        stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("seat_journal_failed_batches_total").increment(1);
        self.poisoned.extend(keys.iter().cloned());
    }

    /// The batch's train-dates are free again: what waited for them joins
    /// the pending batch, due at once since it has already waited a commit.
    fn release(&mut self, keys: &[TrainDateKey]) {
        for key in keys {
            self.busy.remove(key);
        }
        let waiting = std::mem::take(&mut self.held_back);
        let overdue = Instant::now().checked_sub(std::time::Duration::from_secs(1)).unwrap_or_else(Instant::now);
        for entry in waiting {
            self.admit(entry, overdue);
        }
    }
}
