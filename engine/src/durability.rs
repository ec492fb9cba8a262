//! How actors hand events to the journal without awaiting a database, and
//! what the engine needs from a store to persist admin changes and recover.
//!
//! The persistence crate implements `Store` and runs the writer that drains
//! `JournalMessage`s; the engine never links a database driver.

use crate::domain::event::EventRecord;
use crate::domain::order::OrderId;
use crate::domain::plan::TrainPlan;
use crate::domain::snapshot::TrainDateSnapshot;
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::domain::timetable::{Station, TrainTemplate};
use crate::slots::{SlotFence, SlotId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// When a write is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckMode {
    /// After its events are committed to the journal (the default).
    #[default]
    Durable,
    /// As soon as the actor has applied it; the journal catches up. For
    /// benchmarks only: a crash loses acknowledged bookings.
    Memory,
}

/// Why the store (or the journal writer in front of it) could not do what
/// was asked. Callers branch on the variant: only `Unavailable` is worth
/// retrying; `Corrupt` and `Conflict` need an operator.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    /// The database could not be reached or refused for a passing reason
    /// (lost connection, timeout, lock wait); the same call may succeed later.
    #[error("the database is unavailable: {detail}")]
    Unavailable {
        /// The driver's own words, for operators' logs.
        detail: String,
    },
    /// Stored data that cannot be decoded or does not fit the code reading it.
    #[error("stored data is corrupt: {detail}")]
    Corrupt {
        /// What could not be read, and where.
        detail: String,
    },
    /// A write that contradicts what is stored: a sequence gap or duplicate,
    /// which means a bug or a second writer for the same stream.
    #[error("the write conflicts with stored data: {detail}")]
    Conflict {
        /// Which stream and sequence numbers disagree.
        detail: String,
    },
    /// An earlier batch for the same train-date failed, so this one was not
    /// attempted: writing it would leave a gap in the stream.
    #[error("an earlier batch for this train-date failed")]
    EarlierBatchFailed,
    /// The journal writer task has stopped (the process is shutting down).
    #[error("the journal writer stopped")]
    WriterStopped,
    /// The slot's fence in the database holds a newer token than the one
    /// this write carried: another node claimed the slot, so this node must
    /// stop serving it. Never retried here; the caller retries elsewhere.
    #[error("slot {slot} is fenced: this node wrote with token {token}, the database holds {current}")]
    Fenced {
        slot: SlotId,
        /// The token the refused write carried.
        token: u64,
        /// The token the fence row holds (0 when the slot has no fence row yet).
        current: u64,
    },
}

impl StoreError {
    /// Whether retrying may succeed once the database is back.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. } | StoreError::EarlierBatchFailed | StoreError::WriterStopped)
    }
}

/// Why the journal could not make a batch durable.
pub type JournalFailure = StoreError;

/// One actor's contribution to a group commit.
pub struct JournalEntry {
    /// The stream these events continue.
    pub key: TrainDateKey,
    /// Contiguous events continuing the stream; empty for a pure barrier
    /// (a reply that only needs earlier events durable).
    pub records: Vec<EventRecord>,
    /// Written after `records` when the actor's snapshot interval is reached.
    pub snapshot: Option<TrainDateSnapshot>,
    /// The train-date's durable high-water mark; the writer raises it after commit.
    pub durable_seq: Arc<AtomicU64>,
    /// Completed once the batch holding this entry commits or fails.
    pub ack: oneshot::Sender<Result<(), JournalFailure>>,
    /// In a cluster, the slot and token the actor was started under: the
    /// journal commits these events only while the slot's fence still holds
    /// this token. `None` on a single node.
    pub fence: Option<SlotFence>,
}

// Append is nearly every message; boxing it would cost an allocation per write
// to shrink the rare Resume.
#[allow(clippy::large_enum_variant)]
pub enum JournalMessage {
    Append(JournalEntry),
    /// The train-date rebuilt itself from the journal after a failure; its
    /// stream accepts appends again.
    Resume(TrainDateKey),
}

/// The sending side of the journal writer's queue, as actors hold it.
#[derive(Clone)]
pub struct JournalSink {
    /// Bounded: an actor that finds it full refuses the write (JOURNAL_QUEUE_FULL).
    pub sender: mpsc::Sender<JournalMessage>,
    /// Whether replies wait for the commit.
    pub ack_mode: AckMode,
}

/// What the store holds, as loaded at start-up.
#[derive(Clone, Debug, Default)]
pub struct StoredCatalog {
    pub stations: Vec<Station>,
    pub trains: Vec<TrainTemplate>,
    /// Open train-dates with the template each opened with.
    pub train_dates: Vec<(TrainDateKey, TrainTemplate)>,
}

/// Durable storage for admin changes, and the loader recovery uses.
pub trait Store: Send + Sync + 'static {
    fn upsert_stations(&self, stations: Vec<Station>) -> BoxFuture<Result<(), StoreError>>;
    fn upsert_train(&self, template: TrainTemplate, now_ms: u64) -> BoxFuture<Result<(), StoreError>>;
    /// Records open train-dates; already stored ones are left unchanged.
    fn insert_train_dates(
        &self,
        train_dates: Vec<(TrainDateKey, TrainTemplate)>,
        now_ms: u64,
    ) -> BoxFuture<Result<(), StoreError>>;
    fn load_catalog(&self) -> BoxFuture<Result<StoredCatalog, StoreError>>;
    /// Marks train-dates archived; recovery no longer loads them.
    fn archive_train_dates(&self, keys: Vec<TrainDateKey>, now_ms: u64) -> BoxFuture<Result<(), StoreError>>;
    /// Latest snapshot plus the events after it, replayed through `apply`.
    fn load_train_date(&self, key: TrainDateKey, plan: Arc<TrainPlan>)
    -> BoxFuture<Result<TrainDateState, StoreError>>;
    /// Several train-dates at once, in the order asked; the same states as
    /// `load_train_date` of each, in fewer round trips where the store can.
    fn load_train_date_batch(
        &self,
        batch: Vec<(TrainDateKey, Arc<TrainPlan>)>,
    ) -> BoxFuture<Result<Vec<TrainDateState>, StoreError>> {
        let loads: Vec<_> = batch.into_iter().map(|(key, plan)| self.load_train_date(key, plan)).collect();
        Box::pin(async move {
            let mut states = Vec::with_capacity(loads.len());
            for load in loads {
                states.push(load.await?);
            }
            Ok(states)
        })
    }
    /// Open train-dates with the template each opened with (what
    /// `load_catalog` returns as `train_dates`, without the timetable).
    fn load_train_dates(&self) -> BoxFuture<Result<Vec<(TrainDateKey, TrainTemplate)>, StoreError>>;
    /// Raises each slot's fence to its token (never lowers one) and records
    /// `owner`, in one transaction. Once it returns, no append carrying an
    /// older token for those slots can commit. Returns the token each slot
    /// holds afterwards: larger than asked where a newer owner got there first.
    fn advance_fences(
        &self,
        fences: Vec<SlotFence>,
        owner: String,
    ) -> BoxFuture<Result<Vec<(SlotId, u64)>, StoreError>>;
    /// The token each of `slots` holds in the database (0 for none).
    fn read_fences(&self, slots: Vec<SlotId>) -> BoxFuture<Result<Vec<(SlotId, u64)>, StoreError>>;
    /// The train-date and user of an indexed order, from the journal's order
    /// index, wherever in the cluster its train-date is served.
    fn order_home(&self, order_id: OrderId) -> BoxFuture<Result<Option<(TrainDateKey, String)>, StoreError>>;
    /// Up to `limit` of a user's order ids after `after`, in id order, and
    /// the user's total, from the journal's order index.
    fn user_orders(
        &self,
        user_id: String,
        after: Option<OrderId>,
        limit: usize,
    ) -> BoxFuture<Result<(Vec<OrderId>, usize), StoreError>>;
}

/// Everything durable the engine is started with.
#[derive(Clone)]
pub struct Persistence {
    /// Where actors hand their events.
    pub sink: JournalSink,
    /// Admin changes and recovery loads.
    pub store: Arc<dyn Store>,
    /// A train-date snapshots itself after this many events.
    pub snapshot_every_events: u64,
}
