//! How actors hand events to the journal without awaiting a database, and
//! what the engine needs from a store to persist admin changes and recover.
//!
//! The persistence crate implements `Store` and runs the writer that drains
//! `JournalMessage`s; the engine never links a database driver.

use crate::domain::event::EventRecord;
use crate::domain::plan::TrainPlan;
use crate::domain::snapshot::TrainDateSnapshot;
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::domain::timetable::{Station, TrainTemplate};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
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

/// Why the journal could not make a batch durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalFailure(pub String);

/// One actor's contribution to a group commit.
pub struct JournalEntry {
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
}

pub enum JournalMessage {
    Append(JournalEntry),
    /// The train-date rebuilt itself from the journal after a failure; its
    /// stream accepts appends again.
    Resume(TrainDateKey),
}

/// The sending side of the journal writer's queue, as actors hold it.
#[derive(Clone)]
pub struct JournalSink {
    pub sender: mpsc::Sender<JournalMessage>,
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
/// Errors are messages for operators; every one maps to UNAVAILABLE.
pub trait Store: Send + Sync + 'static {
    fn upsert_stations(&self, stations: Vec<Station>) -> BoxFuture<Result<(), String>>;
    fn upsert_train(&self, template: TrainTemplate, now_ms: u64) -> BoxFuture<Result<(), String>>;
    /// Records open train-dates; already stored ones are left unchanged.
    fn insert_train_dates(
        &self,
        train_dates: Vec<(TrainDateKey, TrainTemplate)>,
        now_ms: u64,
    ) -> BoxFuture<Result<(), String>>;
    fn load_catalog(&self) -> BoxFuture<Result<StoredCatalog, String>>;
    /// Marks train-dates archived; recovery no longer loads them.
    fn archive_train_dates(&self, keys: Vec<TrainDateKey>, now_ms: u64) -> BoxFuture<Result<(), String>>;
    /// Latest snapshot plus the events after it, replayed through `apply`.
    fn load_train_date(&self, key: TrainDateKey, plan: Arc<TrainPlan>) -> BoxFuture<Result<TrainDateState, String>>;
}

/// Everything durable the engine is started with.
#[derive(Clone)]
pub struct Persistence {
    pub sink: JournalSink,
    pub store: Arc<dyn Store>,
    /// A train-date snapshots itself after this many events.
    pub snapshot_every_events: u64,
}
