//! Append batches: the sequence rules checked before anything is written, and
//! the rows a batch writes, built once for either backend.

use crate::journal::{JournalError, StreamAppend};
use crate::rows::{Value, event_values, order_values, snapshot_values};
use std::collections::{HashMap, HashSet};

/// Streams whose stored last seq the checks need: each one with events or a
/// snapshot, once, in batch order.
pub(crate) fn streams_to_check(batch: &[StreamAppend]) -> Vec<&str> {
    let mut seen = HashSet::new();
    batch
        .iter()
        .filter(|append| !append.events.is_empty() || append.snapshot.is_some())
        .map(|append| append.stream.as_str())
        .filter(|stream| seen.insert(*stream))
        .collect()
}

/// Checks every stream continues its stored last seq (absent: 0) without gap
/// or repeat, including a stream named twice in one batch, and that each
/// snapshot is backed by events stored or in the batch.
pub(crate) fn check_sequences(batch: &[StreamAppend], stored: &HashMap<String, u64>) -> Result<(), JournalError> {
    let mut last: HashMap<&str, u64> = HashMap::new();
    for append in batch {
        let stream = append.stream.as_str();
        let previous = last.get(stream).or_else(|| stored.get(stream)).copied().unwrap_or(0);
        let out_of_sequence = |seq: u64, after: u64| JournalError::OutOfSequence {
            stream: stream.to_owned(),
            first_seq: seq,
            stored_seq: after,
        };
        for (expected, event) in (previous + 1..).zip(&append.events) {
            if event.seq != expected {
                return Err(out_of_sequence(event.seq, expected - 1));
            }
        }
        let newest = previous + append.events.len() as u64;
        if let Some(snapshot) = &append.snapshot
            && snapshot.seq > newest
        {
            return Err(out_of_sequence(snapshot.seq, newest));
        }
        last.insert(stream, newest);
    }
    Ok(())
}

/// Every row one append writes, in bind form.
pub(crate) struct AppendRows<'a> {
    pub events: Vec<[Value<'a>; 6]>,
    pub orders: Vec<[Value<'a>; 5]>,
    pub snapshots: Vec<[Value<'a>; 4]>,
    /// Streams given a snapshot, whose older snapshots are pruned.
    pub snapshotted: Vec<&'a str>,
}

impl<'a> AppendRows<'a> {
    pub(crate) fn of(batch: &'a [StreamAppend]) -> Self {
        let mut rows =
            AppendRows { events: Vec::new(), orders: Vec::new(), snapshots: Vec::new(), snapshotted: Vec::new() };
        for append in batch {
            let stream = append.stream.as_str();
            let token = append.fence.map(|fence| fence.token);
            rows.events.extend(append.events.iter().map(|event| event_values(stream, event, token)));
            rows.orders.extend(append.new_orders.iter().map(order_values));
            if let Some(snapshot) = &append.snapshot {
                rows.snapshots.push(snapshot_values(stream, snapshot));
                rows.snapshotted.push(stream);
            }
        }
        rows
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.orders.is_empty() && self.snapshots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::StoredEvent;
    use crate::journal::StoredSnapshot;

    fn append(stream: &str, seqs: impl IntoIterator<Item = u64>, snapshot: Option<u64>) -> StreamAppend {
        StreamAppend {
            stream: stream.into(),
            events: seqs
                .into_iter()
                .map(|seq| StoredEvent { seq, kind: "sales_closed".into(), version: 1, body: "{}".into() })
                .collect(),
            new_orders: Vec::new(),
            snapshot: snapshot.map(|seq| StoredSnapshot { seq, version: 1, body: "{}".into() }),
            fence: None,
        }
    }

    fn check(batch: &[StreamAppend]) -> Result<(), (String, u64, u64)> {
        let stored = HashMap::from([("a".to_owned(), 3)]);
        check_sequences(batch, &stored).map_err(|error| match error {
            JournalError::OutOfSequence { stream, first_seq, stored_seq } => (stream, first_seq, stored_seq),
            other => panic!("unexpected {other}"),
        })
    }

    #[test]
    fn streams_continue_their_stored_seq() {
        assert_eq!(check(&[append("a", 4..=6, Some(6)), append("b", 1..=2, None)]), Ok(()));
        assert_eq!(check(&[append("a", 4..=5, None), append("a", 6..=6, Some(6))]), Ok(()));
        assert_eq!(check(&[append("a", [], Some(3))]), Ok(()));
    }

    #[test]
    fn gaps_repeats_and_unbacked_snapshots_are_out_of_sequence() {
        assert_eq!(check(&[append("a", 5..=6, None)]), Err(("a".into(), 5, 3)));
        assert_eq!(check(&[append("a", 3..=4, None)]), Err(("a".into(), 3, 3)));
        assert_eq!(check(&[append("a", [4, 6], None)]), Err(("a".into(), 6, 4)));
        assert_eq!(check(&[append("b", 2..=2, None)]), Err(("b".into(), 2, 0)));
        assert_eq!(check(&[append("a", 4..=4, None), append("a", 4..=4, None)]), Err(("a".into(), 4, 4)));
        assert_eq!(check(&[append("a", [], Some(4))]), Err(("a".into(), 4, 3)));
    }

    #[test]
    fn streams_are_checked_once_each() {
        let batch =
            [append("a", 4..=4, None), append("c", [], None), append("a", 5..=5, None), append("b", [], Some(0))];
        assert_eq!(streams_to_check(&batch), ["a", "b"]);
    }
}
