//! Persistence for the seat engine: the durable journal and what is built on it.
//!
//! Modules:
//! - `codec`: versioned JSON encoding of engine events, shared by every backend.
//! - `feed`: the commit-ordered event feed: `FeedBatch`, and `FeedSource`, the
//!   object-safe feed half of a `Journal`.
//! - `journal`: the `Journal` trait, stream ids and the stored row types.
//! - `sql_journal`: `SqlJournal<D>`, the one journal body, and the `Dialect` trait
//!   through which a backend supplies only the SQL that differs.
//! - `sqlite`: `SqliteJournal`, the embedded default (a file under the data dir).
//! - `mysql`: `MySqlJournal`, the production backend (MySQL or MariaDB).
//! - `test_env` (feature `test-support`): the URLs of the services tests need (`MYSQL_URL`, `REDIS_URL`),
//!   skipping outside CI and failing under `CI=true` when one is missing.
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
pub mod feed;
pub mod journal;
pub mod mysql;
mod rows;
mod sql;
pub mod sql_journal;
pub mod sqlite;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_env;
#[cfg(feature = "test-support")]
pub mod test_support;
mod train_dates;
pub mod writer;
