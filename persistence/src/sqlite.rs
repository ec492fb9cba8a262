//! SQLite journal: the embedded default, one file under the data dir. The
//! journal body is `SqlJournal`; this module holds SQLite's dialect and how
//! a journal file is opened.

use crate::journal::JournalError;
use crate::rows::sql_int;
use crate::sql_journal::{Dialect, SqlJournal};
use sqlx::sqlite::SqliteConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite};
use std::path::Path;
use std::time::Duration;

/// SQLite has one writer at a time; more connections only queue for it.
const CONNECTIONS_MAX: u32 = 4;
/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The journal in a local SQLite file: no server to run, durable on commit.
pub type SqliteJournal = SqlJournal<SqliteDialect>;

/// SQLite's SQL: `ON CONFLICT` upserts and an immediate write lock.
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Database = Sqlite;

    /// Takes the write lock up front, so a transaction that reads before it
    /// writes waits for the lock instead of failing with SQLITE_BUSY.
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    /// One writer at a time: a second append would only wait for the lock.
    const APPENDS_IN_FLIGHT_MAX: usize = 1;

    const UPSERT_STATIONS: &'static str =
        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, pinyin = excluded.pinyin";
    const UPSERT_TRAIN: &'static str = "INSERT INTO trains (code, updated_at_ms) VALUES (?, ?) \
         ON CONFLICT (code) DO UPDATE SET updated_at_ms = excluded.updated_at_ms";
    const KEEP_TRAIN_DATES: &'static str = " ON CONFLICT (train_date) DO NOTHING";
    const KEEP_TEMPLATES: &'static str = " ON CONFLICT (template_hash) DO NOTHING";
    const REPLACE_SNAPSHOTS: &'static str =
        " ON CONFLICT (train_date, seq) DO UPDATE SET version = excluded.version, body = excluded.body";

    /// `BEGIN IMMEDIATE` already holds the database's one write lock.
    const FENCE_SHARE_LOCK: &'static str = "";
    /// SQLite reads the old row in every SET expression.
    const RAISE_FENCES: &'static str = " ON CONFLICT (slot) DO UPDATE SET owner = CASE WHEN excluded.token > token THEN excluded.owner ELSE owner END, updated_at_ms = CASE WHEN excluded.token > token THEN excluded.updated_at_ms ELSE updated_at_ms END, token = MAX(token, excluded.token)";

    async fn raise_feed_clock(conn: &mut SqliteConnection, positions: u64) -> Result<u64, sqlx::Error> {
        let position: i64 =
            sqlx::query_scalar("UPDATE feed_clock SET position = position + ? WHERE id = 1 RETURNING position")
                .bind(sql_int(positions))
                .fetch_one(conn)
                .await?;
        Ok(position as u64)
    }

    /// Per stream, the newest seq by index seek (a GROUP BY MAX would scan
    /// every event of the stream); NULL for a stream without events.
    fn stored_seqs_query<'a>(streams: impl IntoIterator<Item = &'a str>) -> QueryBuilder<Sqlite> {
        let mut query = QueryBuilder::new("WITH streams (id) AS (");
        query.push_values(streams, |mut row, stream| {
            row.push_bind(stream);
        });
        query.push(
            ") SELECT id, (SELECT seq FROM events WHERE train_date = streams.id ORDER BY seq DESC LIMIT 1) FROM streams",
        );
        query
    }
}

impl SqliteJournal {
    /// Opens (creating if needed) the journal file and brings its schema up to
    /// date. WAL with `synchronous=FULL` makes every commit survive a crash or
    /// power loss while readers never block the writer.
    pub async fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(CONNECTIONS_MAX).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqlJournal::on_pool(pool))
    }
}
