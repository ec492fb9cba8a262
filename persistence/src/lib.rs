//! Persistence for the seat engine: the durable journal and what is built on it.
//!
//! Modules:
//! - `codec`: versioned JSON encoding of engine events, shared by every backend.
//! - `journal`: the `Journal` trait, stream ids and the stored row types.
//! - `sqlite`: `SqliteJournal`, the embedded default (a file under the data dir).
//! - `mysql`: `MySqlJournal`, the production backend (MySQL or MariaDB).

pub mod codec;
pub mod journal;
pub mod mysql;
pub mod sqlite;
