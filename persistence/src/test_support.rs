//! Throwaway MySQL databases for tests and benchmark runs: each gets an
//! empty schema of its own and drops it afterwards. Behind the
//! `test-support` feature, so seatd's build carries no database-dropping code.

use crate::journal::JournalError;
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection};

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
