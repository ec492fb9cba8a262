//! The event feed: every committed event in one global, commit-ordered
//! sequence of positions, for consumers outside the engine (StreamEvents,
//! the NATS relay).
//!
//! Each append gives every stream it commits one position, taken from the
//! database's `feed_clock` row as the transaction's last write before COMMIT
//! (see migration 0005 for why that makes positions follow commit order
//! with no gap). One `feed_commits` row per append (migration 0006) maps
//! its positions to the streams' seqs, so a reader asks only "what comes
//! after position N" and never skips an event that committed late. One row
//! per append, not per stream: a row per stream cost a write about one more
//! row per booking on a spread load.
//!
//! InnoDB releases a transaction's locks and shows its rows when it commits
//! in memory, before its log flush: concurrent appends still share their
//! flushes (the clock row serialises only the in-memory commit), but a
//! reader can see a position a moment before it is durable. Only a crash of
//! the database server itself in that moment could take back a position
//! already read, as it takes back any row already read.

use crate::codec::StoredEvent;
use crate::journal::{Journal, JournalError, StreamAppend};
use crate::rows::{Value, sql_int};
use std::future::Future;
use std::pin::Pin;

/// One stream's share of one committed append, with its events: what a
/// feed reader gets for one position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedBatch {
    /// Global and commit-ordered: 1, 2, 3, … with no gap. A consumer stores
    /// the last one it handled and resumes after it.
    pub position: u64,
    /// The stream id (`YYYY-MM-DD/TRAIN`, as `journal::stream_id` makes it).
    pub stream: String,
    /// Unix ms on the writing node's clock when the append took its
    /// position; 0 for history written before the feed existed (migration
    /// 0005 backfilled it, with no commit instant to give).
    pub committed_at_ms: u64,
    /// The slot token the stream was written under (cluster only).
    pub fence_token: Option<u64>,
    /// The stream's events of that append, contiguous and in seq order.
    pub events: Vec<StoredEvent>,
}

/// One position of the feed: a stream's seqs in one append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FeedRow {
    pub position: u64,
    pub train_date: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub committed_at_ms: u64,
    pub fence_token: Option<u64>,
}

/// A `feed_commits` row as fetched: one append's positions, its spans
/// packed one per line (`feed_values`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct FeedCommitRow {
    pub first_position: u64,
    pub last_position: u64,
    pub committed_at_ms: u64,
    pub spans: String,
}

/// One stream's events in an append: the seqs one position covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FeedSpan<'a> {
    pub stream: &'a str,
    pub first_seq: u64,
    pub last_seq: u64,
    pub fence_token: Option<u64>,
}

/// The spans an append commits: one per stream with events, in the order
/// the stream first appears in the batch. A stream named twice in a batch
/// (its seqs already checked contiguous) gets one span covering both.
pub(crate) fn feed_spans(batch: &[StreamAppend]) -> Vec<FeedSpan<'_>> {
    let mut spans: Vec<FeedSpan<'_>> = Vec::new();
    for append in batch {
        let (Some(first), Some(last)) = (append.events.first(), append.events.last()) else { continue };
        let token = append.fence.map(|fence| fence.token);
        match spans.iter_mut().find(|span| span.stream == append.stream) {
            Some(span) => {
                span.last_seq = last.seq;
                span.fence_token = token;
            }
            None => spans.push(FeedSpan {
                stream: &append.stream,
                first_seq: first.seq,
                last_seq: last.seq,
                fence_token: token,
            }),
        }
    }
    spans
}

/// The one `feed_commits` row of an append whose `spans` took the
/// positions ending at `last_position` (the clock after the append raised it).
pub(crate) fn feed_values<'a>(spans: &[FeedSpan<'a>], last_position: u64, committed_at_ms: u64) -> [Value<'a>; 4] {
    assert!(!spans.is_empty(), "an append with no events takes no position");
    let first_position = last_position + 1 - spans.len() as u64;
    let mut packed = String::with_capacity(spans.len() * 32);
    for span in spans {
        use std::fmt::Write;
        debug_assert!(!span.stream.contains([' ', '\n']), "stream ids have no space or newline");
        let token = span.fence_token.map_or_else(|| "-".to_owned(), |token| token.to_string());
        let _ = writeln!(packed, "{} {} {} {token}", span.stream, span.first_seq, span.last_seq);
    }
    [
        Value::Int(sql_int(last_position)),
        Value::Int(sql_int(first_position)),
        Value::Int(sql_int(committed_at_ms)),
        Value::Text(packed.into()),
    ]
}

/// The positions after `after_position` that fetched `commits` hold, at
/// most `limit`, in order. Corrupt when a row's spans do not fill its range.
pub(crate) fn unpack(
    commits: Vec<FeedCommitRow>,
    after_position: u64,
    limit: usize,
) -> Result<Vec<FeedRow>, JournalError> {
    let mut rows = Vec::new();
    for commit in commits {
        let corrupt = |what: &str| {
            JournalError::Corrupt(format!("feed_commits {}..={}: {what}", commit.first_position, commit.last_position))
        };
        let lines: Vec<&str> = commit.spans.lines().collect();
        if commit.last_position < commit.first_position
            || lines.len() as u64 != commit.last_position + 1 - commit.first_position
        {
            return Err(corrupt("the spans do not fill the positions"));
        }
        for (line, position) in lines.into_iter().zip(commit.first_position..) {
            if position <= after_position {
                continue;
            }
            let fields: Vec<&str> = line.split(' ').collect();
            let [stream, first, last, token] = fields[..] else { return Err(corrupt("a span is not 4 fields")) };
            let number = |text: &str| text.parse::<u64>().map_err(|_| corrupt("a span's number does not parse"));
            rows.push(FeedRow {
                position,
                train_date: stream.to_owned(),
                first_seq: number(first)?,
                last_seq: number(last)?,
                committed_at_ms: commit.committed_at_ms,
                fence_token: if token == "-" { None } else { Some(number(token)?) },
            });
            if rows.len() == limit {
                return Ok(rows);
            }
        }
    }
    Ok(rows)
}

type FeedFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// The feed half of a `Journal`, object safe, so a server holds it as
/// `Arc<dyn FeedSource>` whichever backend booted. Every `Journal` is one.
pub trait FeedSource: Send + Sync + 'static {
    /// As `Journal::read_feed`.
    fn read_feed(&self, after_position: u64, limit: usize) -> FeedFuture<'_, Vec<FeedBatch>>;
    /// As `Journal::feed_head`.
    fn feed_head(&self) -> FeedFuture<'_, u64>;
}

impl<J: Journal> FeedSource for J {
    fn read_feed(&self, after_position: u64, limit: usize) -> FeedFuture<'_, Vec<FeedBatch>> {
        Box::pin(Journal::read_feed(self, after_position, limit))
    }

    fn feed_head(&self) -> FeedFuture<'_, u64> {
        Box::pin(Journal::feed_head(self))
    }
}

/// Joins the feed's positions with their events (sorted by stream, then
/// seq), checking each row got exactly the events it names.
pub(crate) fn assemble(
    rows: Vec<FeedRow>,
    events: Vec<crate::codec::StreamEvent>,
) -> Result<Vec<FeedBatch>, JournalError> {
    let mut by_stream: std::collections::HashMap<String, Vec<StoredEvent>> = std::collections::HashMap::new();
    for event in events {
        by_stream.entry(event.stream).or_default().push(event.event);
    }
    let mut batches = Vec::with_capacity(rows.len());
    for row in rows {
        let stream_events = by_stream.get(&row.train_date).map(Vec::as_slice).unwrap_or_default();
        let start = stream_events.partition_point(|event| event.seq < row.first_seq);
        let end = stream_events.partition_point(|event| event.seq <= row.last_seq);
        let events = stream_events[start..end].to_vec();
        if events.len() as u64 != row.last_seq + 1 - row.first_seq {
            return Err(JournalError::Corrupt(format!(
                "feed position {}: {} seqs {}..={} but {} events stored",
                row.position,
                row.train_date,
                row.first_seq,
                row.last_seq,
                events.len()
            )));
        }
        batches.push(FeedBatch {
            position: row.position,
            stream: row.train_date,
            committed_at_ms: row.committed_at_ms,
            fence_token: row.fence_token,
            events,
        });
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::slots::SlotFence;

    fn append(stream: &str, seqs: &[u64], token: Option<u64>) -> StreamAppend {
        StreamAppend {
            stream: stream.into(),
            events: seqs
                .iter()
                .map(|&seq| StoredEvent { seq, kind: "sales_closed".into(), version: 1, body: "{}".into() })
                .collect(),
            fence: token.map(|token| SlotFence { slot: 1, token }),
            ..StreamAppend::default()
        }
    }

    #[test]
    fn one_span_per_stream_with_events_in_first_appearance_order() {
        let batch = [
            append("b", &[4, 5], None),
            append("a", &[1], Some(3)),
            append("c", &[], None),
            append("b", &[6, 7, 8, 9], None),
        ];
        let spans = feed_spans(&batch);
        assert_eq!(
            spans,
            [
                FeedSpan { stream: "b", first_seq: 4, last_seq: 9, fence_token: None },
                FeedSpan { stream: "a", first_seq: 1, last_seq: 1, fence_token: Some(3) },
            ]
        );
        let row = feed_values(&spans, 12, 99);
        assert_eq!(row[..3], [Value::Int(12), Value::Int(11), Value::Int(99)]);
        let Value::Text(packed) = &row[3] else { panic!("spans are text") };
        assert_eq!(packed.as_ref(), "b 4 9 -\na 1 1 3\n");
        let commit =
            FeedCommitRow { first_position: 11, last_position: 12, committed_at_ms: 99, spans: packed.to_string() };
        let unpacked = unpack(vec![commit.clone()], 0, 10).unwrap();
        let summary: Vec<_> = unpacked
            .iter()
            .map(|row| (row.position, row.train_date.as_str(), row.first_seq, row.last_seq, row.fence_token))
            .collect();
        assert_eq!(summary, [(11, "b", 4, 9, None), (12, "a", 1, 1, Some(3))]);
        assert_eq!(unpack(vec![commit.clone()], 11, 10).unwrap()[0].position, 12, "positions read already are skipped");
        assert_eq!(unpack(vec![commit.clone()], 0, 1).unwrap().len(), 1, "at most the limit");
        let short = FeedCommitRow { last_position: 13, ..commit };
        assert!(matches!(unpack(vec![short], 0, 10), Err(JournalError::Corrupt(_))));
    }
}
