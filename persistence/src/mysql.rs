//! MySQL/MariaDB journal: the production backend, for deployments that already
//! run, replicate and back up a database server. The journal body is
//! `SqlJournal`; this module holds MySQL's dialect and how a journal
//! connects. Throwaway test databases are in `test_support`.

use crate::journal::JournalError;
use crate::rows::sql_int;
use crate::sql_journal::{Dialect, SqlJournal};
use sqlx::mysql::MySqlConnection;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{Executor, MySql, QueryBuilder};
use std::time::Duration;

/// Enough for the group-commit writer, recovery reads and admin writes at
/// once, without crowding a server that other services share.
const CONNECTIONS_MAX: u32 = 8;

/// No ping before each use of a pooled connection: it was two round trips
/// per commit (0.2 per acknowledged write). A connection that died idle fails
/// its first statement instead, and the writer retries the append on a new
/// one (`WriterConfig::commit_attempts`).
const CHECK_CONNECTIONS_ON_ACQUIRE: bool = false;

/// The journal in a MySQL or MariaDB database: durable across hosts, and
/// restartable on another machine than the one that wrote it.
pub type MySqlJournal = SqlJournal<MySqlDialect>;

/// MySQL's SQL: `ON DUPLICATE KEY UPDATE` upserts and a `UNION ALL` of
/// index dives for the stored seqs.
pub struct MySqlDialect;

impl Dialect for MySqlDialect {
    type Database = MySql;

    /// InnoDB locks rows as the transaction writes them: a plain `BEGIN`.
    const BEGIN_WRITE: Option<&'static str> = None;
    /// InnoDB flushes the log for concurrent commits together, so a few
    /// overlap their waits; half the pool, leaving the rest for recovery
    /// reads and admin writes.
    const APPENDS_IN_FLIGHT_MAX: usize = 4;

    const UPSERT_STATIONS: &'static str = " ON DUPLICATE KEY UPDATE name = VALUES(name), pinyin = VALUES(pinyin)";
    const UPSERT_TRAIN: &'static str = "INSERT INTO trains (code, updated_at_ms) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE updated_at_ms = VALUES(updated_at_ms)";
    /// A no-op update rather than `INSERT IGNORE`, which would also turn
    /// truncation and other errors into warnings.
    const KEEP_TRAIN_DATES: &'static str = " ON DUPLICATE KEY UPDATE train_date = train_date";
    /// A no-op update, as for train-dates.
    const KEEP_TEMPLATES: &'static str = " ON DUPLICATE KEY UPDATE template_hash = template_hash";
    const REPLACE_SNAPSHOTS: &'static str = " ON DUPLICATE KEY UPDATE version = VALUES(version), body = VALUES(body)";

    /// InnoDB's shared row lock: appends do not wait for each other, and a
    /// claim's update waits for every append already holding it.
    const FENCE_SHARE_LOCK: &'static str = " LOCK IN SHARE MODE";
    /// MySQL assigns left to right, so `token` comes last: the other columns
    /// still compare against the old token.
    const RAISE_FENCES: &'static str = " ON DUPLICATE KEY UPDATE owner = IF(VALUES(token) > token, VALUES(owner), owner), updated_at_ms = IF(VALUES(token) > token, VALUES(updated_at_ms), updated_at_ms), token = GREATEST(token, VALUES(token))";

    /// `LAST_INSERT_ID(expr)` makes the server send the new position back in
    /// the update's OK packet: no `SELECT` round trip while the lock is held.
    async fn raise_feed_clock(conn: &mut MySqlConnection, positions: u64) -> Result<u64, sqlx::Error> {
        let raised = sqlx::query("UPDATE feed_clock SET position = LAST_INSERT_ID(position + ?) WHERE id = 1")
            .bind(sql_int(positions))
            .execute(conn)
            .await?;
        Ok(raised.last_insert_id())
    }

    /// Per stream, the newest seq by one backward index dive each. A
    /// `MAX(seq) … GROUP BY train_date` looks equivalent, but as a prepared
    /// statement MariaDB ran it as a range scan into a temporary table: every
    /// event of every stream in the batch was read on each commit (216 rows
    /// per acknowledged write in a 10 s run, and growing with the streams).
    fn stored_seqs_query<'a>(streams: impl IntoIterator<Item = &'a str>) -> QueryBuilder<MySql> {
        let mut query = QueryBuilder::new("");
        for (index, stream) in streams.into_iter().enumerate() {
            if index > 0 {
                query.push(" UNION ALL ");
            }
            query.push("SELECT * FROM (SELECT train_date, seq FROM events WHERE train_date = ");
            query.push_bind(stream);
            query.push(format!(" ORDER BY seq DESC LIMIT 1) AS newest_{index}"));
        }
        query
    }
}

impl MySqlJournal {
    /// Connects to the database in `url` (`mysql://user:pass@host:3306/db`)
    /// and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, JournalError> {
        let pool = MySqlPoolOptions::new()
            .max_connections(CONNECTIONS_MAX)
            .test_before_acquire(CHECK_CONNECTIONS_ON_ACQUIRE)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/mysql").run(&pool).await?;
        Ok(SqlJournal::on_pool(pool))
    }

    /// As `connect`, for a cluster node: the server ends any transaction of
    /// this journal that sits idle for `idle_transaction_timeout` (MariaDB's
    /// `idle_transaction_timeout`), rolling it back. A node frozen (paused,
    /// or its host gone) in the middle of an append would otherwise keep its
    /// shared lock on the slot fence rows, and the next owner's claim would
    /// wait for it: safe, but no one could sell those slots. Rolling back an
    /// uncommitted append cannot let anything stale commit. Fails if the
    /// server does not know the setting, rather than run without it.
    pub async fn connect_for_cluster(url: &str, idle_transaction_timeout: Duration) -> Result<Self, JournalError> {
        let seconds = idle_transaction_timeout.as_secs().max(1);
        let pool = MySqlPoolOptions::new()
            .max_connections(CONNECTIONS_MAX)
            .test_before_acquire(CHECK_CONNECTIONS_ON_ACQUIRE)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    let statement = format!("SET SESSION idle_transaction_timeout = {seconds}");
                    connection.execute(sqlx::AssertSqlSafe(statement)).await.map(drop)
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/mysql").run(&pool).await?;
        Ok(SqlJournal::on_pool(pool).require_fences())
    }
}
