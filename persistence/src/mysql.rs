//! MySQL/MariaDB journal: the production backend, for deployments that already
//! run, replicate and back up a database server. The journal body is
//! `SqlJournal`; this module holds MySQL's dialect, how a journal connects,
//! and the helpers tests use to make and drop throwaway databases.

use crate::journal::JournalError;
use crate::sql_journal::{Dialect, SqlJournal};
use sqlx::mysql::{MySqlConnection, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Connection, MySql, QueryBuilder};

/// Enough for the group-commit writer, recovery reads and admin writes at
/// once, without crowding a server that other services share.
const CONNECTIONS_MAX: u32 = 8;

/// The journal in a MySQL or MariaDB database: durable across hosts, and
/// restartable on another machine than the one that wrote it.
pub type MySqlJournal = SqlJournal<MySqlDialect>;

/// MySQL's SQL: `ON DUPLICATE KEY UPDATE` upserts and a loose index scan
/// for the stored seqs.
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

    /// MAX per group on the primary key prefix is a loose index scan: one
    /// seek per stream. Streams without events have no row.
    fn stored_seqs_query<'a>(streams: impl IntoIterator<Item = &'a str>) -> QueryBuilder<MySql> {
        let mut query = QueryBuilder::new("SELECT train_date, MAX(seq) FROM events WHERE train_date IN (");
        let mut list = query.separated(", ");
        for stream in streams {
            list.push_bind(stream);
        }
        query.push(") GROUP BY train_date");
        query
    }
}

impl MySqlJournal {
    /// Connects to the database in `url` (`mysql://user:pass@host:3306/db`)
    /// and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, JournalError> {
        let pool = MySqlPoolOptions::new().max_connections(CONNECTIONS_MAX).connect(url).await?;
        sqlx::migrate!("./migrations/mysql").run(&pool).await?;
        Ok(SqlJournal::on_pool(pool))
    }
}

/// `server_url` with its database name replaced by `name`, so tests can point
/// a journal at a database they just created.
pub fn database_url(server_url: &str, name: &str) -> String {
    let (base, query) = server_url.split_once('?').map_or((server_url, None), |(base, query)| (base, Some(query)));
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |index| authority_start + index);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Creates database `name` on the server of `server_url`, so each test gets
/// an empty schema of its own.
pub async fn create_database(server_url: &str, name: &str) -> Result<(), JournalError> {
    run_on_server(server_url, "CREATE DATABASE", name).await
}

/// Drops database `name` if it exists, so tests leave the server as they found it.
pub async fn drop_database(server_url: &str, name: &str) -> Result<(), JournalError> {
    run_on_server(server_url, "DROP DATABASE IF EXISTS", name).await
}

async fn run_on_server(server_url: &str, statement: &str, name: &str) -> Result<(), JournalError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        let reason = format!("database name {name:?} must be ASCII letters, digits and underscores");
        return Err(JournalError::Database(sqlx::Error::Configuration(reason.into())));
    }
    let mut conn = MySqlConnection::connect(server_url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("{statement} `{name}`"))).execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_swaps_only_the_database() {
        assert_eq!(database_url("mysql://root@127.0.0.1:3306/test", "t1"), "mysql://root@127.0.0.1:3306/t1");
        assert_eq!(database_url("mysql://u:p@h/test?ssl-mode=disabled", "t1"), "mysql://u:p@h/t1?ssl-mode=disabled");
        assert_eq!(database_url("mysql://root@localhost", "t1"), "mysql://root@localhost/t1");
        assert_eq!(database_url("mysql://root@localhost/", "t1"), "mysql://root@localhost/t1");
    }
}
