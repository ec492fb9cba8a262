//! One transaction's worth of journal entries, grouped by stream in arrival
//! order, with the replies waiting on it.

use crate::codec::encode;
use crate::journal::{FencedStream, OrderRow, StoredSnapshot, StreamAppend, stream_id};
use engine::domain::event::Event;
use engine::domain::snapshot::{SNAPSHOT_SCHEMA_VERSION, TrainDateSnapshot};
use engine::domain::state::TrainDateKey;
use engine::durability::{JournalEntry, JournalFailure};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest snapshot body the journal writes. One snapshot is one INSERT
/// statement, and MariaDB refuses a statement over `max_allowed_packet`
/// (16 MiB by default): a larger snapshot could never be written, and its
/// failed batch would make the train-date read-only at every snapshot (a
/// train-date with 50,000 waitlist requests snapshots about 45 MB). Half the
/// default leaves room for escaping. A snapshot over it is skipped, logged
/// and counted (`seat_journal_snapshots_skipped_total`): recovery then
/// replays from the previous snapshot, which is slower but the same state.
pub const SNAPSHOT_BYTES_MAX: usize = 8 * 1024 * 1024;

#[derive(Default)]
pub(super) struct Batch {
    pub(super) streams: Vec<(TrainDateKey, StreamAppend)>,
    positions: HashMap<TrainDateKey, usize>,
    waiters: Vec<Waiter>,
    pub(super) events: usize,
}

struct Waiter {
    /// Index of its stream in `streams`, so a fenced stream fails only its own waiters.
    stream: usize,
    ack: tokio::sync::oneshot::Sender<Result<(), JournalFailure>>,
    durable_seq: Arc<AtomicU64>,
    /// Seq this entry makes durable; 0 for a barrier with nothing new.
    seq: u64,
}

impl Batch {
    pub(super) fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &TrainDateKey> {
        self.streams.iter().map(|(key, _)| key)
    }

    pub(super) fn add(&mut self, entry: JournalEntry) {
        let JournalEntry { key, records, snapshot, durable_seq, ack, fence } = entry;
        let seq = records.last().map_or(0, |record| record.seq);
        let index = *self.positions.entry(key.clone()).or_insert_with(|| {
            self.streams.push((key.clone(), StreamAppend { stream: stream_id(&key), ..StreamAppend::default() }));
            self.streams.len() - 1
        });
        let stream = &mut self.streams[index].1;
        // One actor writes a stream, under one token for its whole life.
        debug_assert!(stream.fence.is_none() || stream.fence == fence, "a stream's entries carry one fence");
        stream.fence = fence;
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
            stream.snapshot = within_bound(encode_snapshot(&snapshot), SNAPSHOT_BYTES_MAX, &stream.stream);
        }
        self.events += records.len();
        self.waiters.push(Waiter { stream: index, ack, durable_seq, seq });
    }

    /// The rows to write, taken out so the replies can wait while they commit.
    pub(super) fn take_appends(&mut self) -> Vec<StreamAppend> {
        self.streams.iter_mut().map(|(_, append)| std::mem::take(append)).collect()
    }

    /// Committed: raise each train-date's durable mark, then answer. The
    /// streams the journal refused for their fence fail instead (their
    /// events were left out); the others committed.
    pub(super) fn acknowledge(self, fenced: &[FencedStream]) {
        let refusal = |stream: usize| {
            let key = &self.streams[stream].0;
            let id = stream_id(key);
            fenced.iter().find(|refused| refused.stream == id).map(|refused| JournalFailure::Fenced {
                slot: refused.fence.slot,
                token: refused.fence.token,
                current: refused.current,
            })
        };
        let refusals: Vec<Option<JournalFailure>> =
            if fenced.is_empty() { Vec::new() } else { (0..self.streams.len()).map(refusal).collect() };
        for waiter in self.waiters {
            match refusals.get(waiter.stream).cloned().flatten() {
                Some(failure) => {
                    let _ = waiter.ack.send(Err(failure));
                }
                None => {
                    waiter.durable_seq.fetch_max(waiter.seq, Ordering::AcqRel);
                    let _ = waiter.ack.send(Ok(()));
                }
            }
        }
    }

    pub(super) fn fail(self, reason: &JournalFailure) {
        for waiter in self.waiters {
            let _ = waiter.ack.send(Err(reason.clone()));
        }
    }
}

/// `snapshot`, unless its body is over `bytes_max` (see `SNAPSHOT_BYTES_MAX`).
fn within_bound(snapshot: StoredSnapshot, bytes_max: usize, stream: &str) -> Option<StoredSnapshot> {
    if snapshot.body.len() <= bytes_max {
        return Some(snapshot);
    }
    tracing::warn!(
        stream,
        seq = snapshot.seq,
        bytes = snapshot.body.len(),
        bytes_max,
        "snapshot too large to write; skipped (recovery replays from the previous one)"
    );
    metrics::counter!("seat_journal_snapshots_skipped_total").increment(1);
    None
}

/// A train-date snapshot as the journal stores it, at the seq it was taken.
pub fn encode_snapshot(snapshot: &TrainDateSnapshot) -> StoredSnapshot {
    StoredSnapshot {
        seq: snapshot.last_seq,
        version: SNAPSHOT_SCHEMA_VERSION,
        body: serde_json::to_string(snapshot).expect("snapshots always serialise"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_over_the_bound_is_skipped_and_one_within_it_kept() {
        let snapshot = |bytes: usize| StoredSnapshot { seq: 9, version: 1, body: "x".repeat(bytes) };
        assert_eq!(within_bound(snapshot(100), 100, "s"), Some(snapshot(100)));
        assert_eq!(within_bound(snapshot(101), 100, "s"), None);
    }
}
