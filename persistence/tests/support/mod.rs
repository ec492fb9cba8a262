//! Harness for the conformance tests: one fresh journal per test on each
//! backend, a raw handle to look behind the trait, and engine-made events.

pub mod world;

use seat_persistence::mysql::MySqlJournal;
use seat_persistence::sqlite::SqliteJournal;
use seat_persistence::test_env::{MYSQL_URL, service_url};
use seat_persistence::test_support;
use sqlx::mysql::MySqlPool;
use sqlx::sqlite::SqlitePool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A second connection to the journal's database, for what the trait does not
/// show (pruned snapshots) or should never write (corrupt rows).
pub enum Raw {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
}

impl Raw {
    pub async fn execute(&self, statement: &'static str) {
        match self {
            Raw::Sqlite(pool) => sqlx::query(statement).execute(pool).await.map(drop),
            Raw::MySql(pool) => sqlx::query(statement).execute(pool).await.map(drop),
        }
        .expect("raw statement runs");
    }

    /// A statement built at run time (test data only).
    pub async fn execute_built(&self, statement: String) {
        let statement = sqlx::AssertSqlSafe(statement);
        match self {
            Raw::Sqlite(pool) => sqlx::query(statement).execute(pool).await.map(drop),
            Raw::MySql(pool) => sqlx::query(statement).execute(pool).await.map(drop),
        }
        .expect("raw statement runs");
    }

    /// The single integer a `SELECT COUNT(*) ...` returns.
    pub async fn count(&self, query: &'static str) -> i64 {
        match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
            Raw::MySql(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        }
        .expect("count reads")
    }

    pub async fn snapshot_seqs(&self, stream: &str) -> Vec<u64> {
        const SQL: &str = "SELECT seq FROM snapshots WHERE train_date = ? ORDER BY seq";
        match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(SQL).bind(stream).fetch_all(pool).await,
            Raw::MySql(pool) => sqlx::query_scalar(SQL).bind(stream).fetch_all(pool).await,
        }
        .expect("snapshots read")
    }
}

/// A fresh SQLite journal in its own directory (kept alive by the returned guard).
pub async fn sqlite_journal() -> (SqliteJournal, Raw, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join("journal.db");
    let journal = SqliteJournal::open(&path).await.expect("journal opens");
    let raw = SqlitePool::connect(&format!("sqlite://{}", path.display())).await.expect("raw connection");
    (journal, Raw::Sqlite(raw), dir)
}

/// A MySQL journal on the database at `url`, with its raw handle.
pub async fn mysql_journal(url: &str) -> (MySqlJournal, Raw) {
    let journal = MySqlJournal::connect(url).await.expect("journal connects");
    (journal, Raw::MySql(MySqlPool::connect(url).await.expect("raw connection")))
}

/// A uniquely named database on the `MYSQL_URL` server; `None` (with a note)
/// when the variable is unset outside CI, so MySQL variants pass without a
/// server on a developer's machine (under `CI=true` they fail instead).
pub struct MySqlTestDb {
    server_url: String,
    name: String,
    pub url: String,
}

impl MySqlTestDb {
    pub async fn create(test: &str) -> Option<Self> {
        let server_url = service_url(MYSQL_URL, &format!("{test} (MySQL variant)"))?;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").subsec_nanos();
        let name = format!("seat_test_{}_{nanos}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        test_support::create_database(&server_url, &name).await.expect("test database created");
        Some(MySqlTestDb { url: test_support::database_url(&server_url, &name), server_url, name })
    }

    pub async fn drop(self) {
        test_support::drop_database(&self.server_url, &self.name).await.expect("test database dropped");
    }
}

/// Runs each named `async fn(&impl Journal, &Raw)` once on SQLite (module
/// `sqlite`) and once on MySQL (module `mysql`), dropping the MySQL database
/// even when the body panics.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (journal, raw, _dir) = $crate::support::sqlite_journal().await;
                    super::$name(&journal, &raw).await;
                }
            )*
        }

        mod mysql {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = $crate::support::MySqlTestDb::create(stringify!($name)).await else { return };
                    let url = db.url.clone();
                    let outcome = tokio::spawn(async move {
                        let (journal, raw) = $crate::support::mysql_journal(&url).await;
                        super::$name(&journal, &raw).await;
                    })
                    .await;
                    db.drop().await;
                    if let Err(error) = outcome {
                        std::panic::resume_unwind(error.into_panic());
                    }
                }
            )*
        }
    };
}
