//! The `Journal` trait: what the group-commit writer and recovery need from a
//! database. `SqlJournal` implements it on sqlx, for SQLite (`SqliteJournal`)
//! and MySQL (`MySqlJournal`).

use crate::codec::{StoredEvent, StreamEvent};
use crate::feed::FeedBatch;
use engine::domain::state::TrainDateKey;
use engine::domain::timetable::{Station, TrainTemplate};
use engine::slots::{SlotFence, SlotId};
use std::future::Future;
use thiserror::Error;

/// A stream's id in the journal: the key's one spelling, `YYYY-MM-DD/TRAIN`,
/// so ids sort by date.
pub fn stream_id(key: &TrainDateKey) -> String {
    key.to_string()
}

/// Parses a stream id back into its key.
pub fn parse_stream_id(stream: &str) -> Option<TrainDateKey> {
    stream.parse().ok().filter(|key: &TrainDateKey| !key.train.is_empty())
}

/// A state snapshot of one stream as of `seq`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSnapshot {
    /// The seq of the last event the snapshot includes; replay continues after it.
    pub seq: u64,
    /// `SNAPSHOT_SCHEMA_VERSION` when written, so a reader can refuse a shape it
    /// does not know and replay from an older snapshot or from the start.
    pub version: u16,
    /// The engine's `TrainDateSnapshot` as JSON.
    pub body: String,
}

/// A stored snapshot with the stream it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StreamSnapshot {
    #[sqlx(rename = "train_date")]
    pub stream: String,
    #[sqlx(flatten)]
    pub snapshot: StoredSnapshot,
}

/// A new order to index: order id → stream, and its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    /// The stream holding the order's events, so a lookup by order id needs
    /// no scan of every train-date.
    pub stream: String,
    /// The user who booked it: orders are listed per user.
    pub user_id: String,
    /// The client's idempotency key: unique per stream and user, so a
    /// repeated request fails the append instead of booking twice.
    pub request_id: String,
    /// Seq of the event that created it.
    pub seq: u64,
}

/// One stream's share of an append batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamAppend {
    /// The stream id, as `stream_id` makes it.
    pub stream: String,
    /// Contiguous seqs continuing the stream's last stored seq.
    pub events: Vec<StoredEvent>,
    /// Orders these events create, indexed in the same transaction.
    pub new_orders: Vec<OrderRow>,
    /// Written after the events; its seq is at most the last event's (or the
    /// stream's last stored seq when `events` is empty).
    pub snapshot: Option<StoredSnapshot>,
    /// In a cluster, the slot and token the stream's owner writes under: the
    /// stream commits only while the slot's fence row holds this token.
    pub fence: Option<SlotFence>,
}

/// A stream an append refused because its slot's fence holds another token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FencedStream {
    pub stream: String,
    /// The slot and token the append carried.
    pub fence: SlotFence,
    /// The token the fence row holds (0: no row, or no fence was carried
    /// where one is required).
    pub current: u64,
}

/// What an append did besides committing: the streams it refused for their
/// fence. The other streams of the batch committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub fenced: Vec<FencedStream>,
}

/// An open train-date as stored: its key and the template it opened with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTrainDate {
    pub key: TrainDateKey,
    /// The template as it was when the train-date opened: later edits to the
    /// train change only train-dates opened after them.
    pub template: TrainTemplate,
    /// Unix ms.
    pub opened_at_ms: u64,
}

/// Why a journal call failed. `is_permanent` tells a writer whether to retry.
#[derive(Debug, Error)]
pub enum JournalError {
    /// An append whose seqs do not continue their stream: a duplicate or a gap.
    /// Always a bug or a second writer; never retried.
    #[error("stream {stream}: append of seq {first_seq} does not follow stored seq {stored_seq}")]
    OutOfSequence { stream: String, first_seq: u64, stored_seq: u64 },
    /// Stored data that cannot be decoded.
    #[error("corrupt journal data: {0}")]
    Corrupt(String),
    /// The database refused or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date when the journal opened.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl JournalError {
    /// Whether retrying the same call cannot succeed: a sequence or duplicate
    /// key conflict (a bug or a second writer), corrupt data or a failed
    /// migration. A writer retries only the others (lost connections, timeouts).
    pub fn is_permanent(&self) -> bool {
        match self {
            JournalError::OutOfSequence { .. } | JournalError::Corrupt(_) | JournalError::Migration(_) => true,
            JournalError::Database(error) => {
                error.as_database_error().is_some_and(|error| !matches!(error.kind(), sqlx::error::ErrorKind::Other))
            }
        }
    }
}

/// The engine's view of a journal failure: what the caller can branch on.
impl From<JournalError> for engine::durability::StoreError {
    fn from(error: JournalError) -> Self {
        use engine::durability::StoreError;
        let detail = error.to_string();
        let permanent = error.is_permanent();
        match error {
            JournalError::OutOfSequence { .. } => StoreError::Conflict { detail },
            JournalError::Corrupt(_) | JournalError::Migration(_) => StoreError::Corrupt { detail },
            JournalError::Database(_) if permanent => StoreError::Conflict { detail },
            JournalError::Database(_) => StoreError::Unavailable { detail },
        }
    }
}

/// The journal a backend provides. Every method is one round trip or one
/// transaction; none is called from inside an actor's message handling.
pub trait Journal: Send + Sync + 'static {
    /// Writes every stream's events, order rows and snapshot in one
    /// transaction, all or nothing, with multi-row INSERTs of fixed shapes.
    /// Each stream that commits events also gets the next feed position
    /// (`read_feed`), taken last, just before COMMIT.
    /// Fails with `OutOfSequence` if any stream's first seq is not its stored
    /// last seq + 1 (or a duplicate key is hit).
    ///
    /// Fencing: the transaction first takes a shared lock on the fence rows
    /// of the slots the batch's fenced streams write, and leaves out (and
    /// reports) every stream whose token is not the one stored; the others
    /// commit. Once a claim has raised a fence, no append with an older token
    /// for that slot commits.
    fn append(&self, batch: &[StreamAppend]) -> impl Future<Output = Result<AppendOutcome, JournalError>> + Send;

    /// The feed after `after_position`: up to `limit` positions in position
    /// order, each one stream's share of one committed append with its
    /// events. Positions are handed out in commit order with no gap (see
    /// `feed`), so reading on from the last position seen never skips an
    /// event, whichever node or transaction wrote it. Empty when nothing
    /// has committed after `after_position`.
    fn read_feed(
        &self,
        after_position: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<FeedBatch>, JournalError>> + Send;

    /// The newest position handed out: every position up to it has
    /// committed and is readable (0 when nothing has).
    fn feed_head(&self) -> impl Future<Output = Result<u64, JournalError>> + Send;

    /// Raises each fence row to its token (never lowers one), naming
    /// `owner`, in one transaction; waits for appends holding the rows'
    /// locks. Returns the tokens stored afterwards, by slot: larger than
    /// asked where a newer owner got there first.
    fn advance_fences(
        &self,
        fences: &[SlotFence],
        owner: &str,
        now_ms: u64,
    ) -> impl Future<Output = Result<Vec<(SlotId, u64)>, JournalError>> + Send;

    /// The stored token of each of `slots` that has a fence row.
    fn read_fences(&self, slots: &[SlotId]) -> impl Future<Output = Result<Vec<(SlotId, u64)>, JournalError>> + Send;

    /// The stream and user of an indexed order.
    fn order_home(&self, order_id: &str)
    -> impl Future<Output = Result<Option<(String, String)>, JournalError>> + Send;

    /// Up to `limit` of a user's order ids after `after` (from the first when
    /// None), in id order, and how many orders the user has in all.
    fn user_orders(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<String>, usize), JournalError>> + Send;

    /// Appends (for disjoint streams) this backend can usefully run at once.
    /// One unless the database commits concurrent transactions in parallel.
    fn appends_in_flight_max(&self) -> usize {
        1
    }

    /// Events of `stream` with seq > `after_seq`, in seq order, at most `limit`.
    fn read_events(
        &self,
        stream: &str,
        after_seq: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, JournalError>> + Send;

    /// The highest stored seq of `stream`; 0 if it has no events.
    fn last_seq(&self, stream: &str) -> impl Future<Output = Result<u64, JournalError>> + Send;

    /// The snapshot with the highest seq, if any.
    fn latest_snapshot(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<StoredSnapshot>, JournalError>> + Send;

    /// The latest snapshot of each of `streams` that has one, in one round
    /// trip where the backend can (recovery loads train-dates in batches).
    fn latest_snapshots(
        &self,
        streams: &[String],
    ) -> impl Future<Output = Result<Vec<StreamSnapshot>, JournalError>> + Send {
        async move {
            let mut found = Vec::new();
            for stream in streams {
                if let Some(snapshot) = self.latest_snapshot(stream).await? {
                    found.push(StreamSnapshot { stream: stream.clone(), snapshot });
                }
            }
            Ok(found)
        }
    }

    /// Events of several streams, each with seq above its own `after_seq`,
    /// in seq order within each stream, at most `limit` in all (fewer than
    /// `limit` means every stream's tail was read to its end).
    fn read_events_after(
        &self,
        after: &[(String, u64)],
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StreamEvent>, JournalError>> + Send {
        async move {
            let mut found = Vec::new();
            for (stream, after_seq) in after {
                let page = self.read_events(stream, *after_seq, limit - found.len()).await?;
                found.extend(page.into_iter().map(|event| StreamEvent { stream: stream.clone(), event }));
                if found.len() >= limit {
                    break;
                }
            }
            Ok(found)
        }
    }

    /// Adds or replaces stations (one transaction).
    fn upsert_stations(&self, stations: &[Station]) -> impl Future<Output = Result<(), JournalError>> + Send;

    /// Adds or replaces a train with its stops and carriages (one transaction).
    fn upsert_train(&self, train: &TrainTemplate, now_ms: u64)
    -> impl Future<Output = Result<(), JournalError>> + Send;

    /// Every station, by code.
    fn load_stations(&self) -> impl Future<Output = Result<Vec<Station>, JournalError>> + Send;

    /// Every train template, stops and carriages in order.
    fn load_trains(&self) -> impl Future<Output = Result<Vec<TrainTemplate>, JournalError>> + Send;

    /// Records open train-dates; ones already stored are left as they are.
    fn insert_train_dates(
        &self,
        train_dates: &[StoredTrainDate],
    ) -> impl Future<Output = Result<(), JournalError>> + Send;

    /// Open train-dates, without those archived.
    fn load_train_dates(&self) -> impl Future<Output = Result<Vec<StoredTrainDate>, JournalError>> + Send;

    /// Marks train-dates archived (one transaction); recovery skips them.
    /// Their events and orders stay in the journal.
    fn archive_train_dates(
        &self,
        streams: &[String],
        now_ms: u64,
    ) -> impl Future<Output = Result<(), JournalError>> + Send;

    /// Every indexed order, by user then order id.
    fn load_orders(&self) -> impl Future<Output = Result<Vec<OrderRow>, JournalError>> + Send;
}
