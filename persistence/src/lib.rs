//! Persistence for the seat engine: the durable journal and what is built on it.
//!
//! Modules:
//! - `codec`: versioned JSON encoding of engine events, shared by every backend.
//! - `journal`: the `Journal` trait, stream ids and the stored row types.
//! - `sqlite`: `SqliteJournal`, the embedded default (a file under the data dir).
//! - `mysql`: `MySqlJournal`, the production backend (MySQL or MariaDB).
//! - `store`: `JournalStore`, the engine's `Store` on any `Journal`: catalog and snapshot-plus-tail loads.
//! - `writer`: the group-commit writer that batches every actor's journal entries into one transaction.
//! - `test_support` (feature `test-support`): throwaway MySQL databases for tests and benchmark runs.
//! - `batch` (private): the sequence checks an append makes before writing, and its rows.
//! - `chunks` (private): fixed-shape chunking, so multi-row statements come in a few sizes only.
//! - `rows` (private): domain values to bind values and fetched rows back, for both backends.
//! - `sql` (private): the SQL both backends share and the fixed-shape multi-row insert.
//! - `train_dates` (private): train-date rows naming their template by hash, templates stored once.

mod batch;
mod chunks;
pub mod codec;
pub mod journal;
pub mod mysql;
mod rows;
mod sql;
pub mod sqlite;
pub mod store;
#[cfg(feature = "test-support")]
pub mod test_support;
mod train_dates;
pub mod writer;
