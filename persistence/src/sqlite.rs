//! SQLite journal: the embedded default, one file under the data dir.

use crate::batch::{AppendRows, check_sequences, streams_to_check};
use crate::chunks::{BULK_SHAPES, ROW_SHAPES, padded_chunks};
use crate::codec::StoredEvent;
use crate::journal::{Journal, JournalError, OrderRow, StoredSnapshot, StoredTrainDate, StreamAppend};
use crate::rows::{self, CarriageRow, StopRow, decode_error, sql_int};
use crate::sql::{self, insert_rows};
use crate::train_dates::{TemplateRow, TrainDateRow, TrainDateRows, parse_templates, train_date};
use engine::domain::timetable::{Station, TrainTemplate};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// SQLite has one writer at a time; more connections only queue for it.
const CONNECTIONS_MAX: u32 = 4;
/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Takes the write lock up front, so a transaction that reads before it
/// writes waits for the lock instead of failing with SQLITE_BUSY.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

const STORED_SEQS_HEAD: &str = "WITH streams (id) AS (";
/// Per stream, the newest seq by index seek (a GROUP BY MAX would scan every
/// event of the stream).
const STORED_SEQS_TAIL: &str =
    ") SELECT id, (SELECT seq FROM events WHERE train_date = streams.id ORDER BY seq DESC LIMIT 1) FROM streams";
const UPSERT_STATIONS: &str = " ON CONFLICT (code) DO UPDATE SET name = excluded.name, pinyin = excluded.pinyin";
const UPSERT_TRAIN: &str = "INSERT INTO trains (code, updated_at_ms) VALUES (?, ?) \
     ON CONFLICT (code) DO UPDATE SET updated_at_ms = excluded.updated_at_ms";
const KEEP_TRAIN_DATES: &str = " ON CONFLICT (train_date) DO NOTHING";
const KEEP_TEMPLATES: &str = " ON CONFLICT (template_hash) DO NOTHING";
/// A second snapshot at the same seq is the same state, perhaps in a newer format.
const REPLACE_SNAPSHOTS: &str =
    " ON CONFLICT (train_date, seq) DO UPDATE SET version = excluded.version, body = excluded.body";

/// The journal in a local SQLite file: no server to run, durable on commit.
pub struct SqliteJournal {
    pool: SqlitePool,
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
        Ok(SqliteJournal { pool })
    }
}

/// The last stored seq of each of `streams` that has events.
async fn stored_seqs(conn: &mut SqliteConnection, streams: &[&str]) -> Result<HashMap<String, u64>, JournalError> {
    let mut stored = HashMap::new();
    for chunk in padded_chunks(streams, ROW_SHAPES) {
        let mut query = QueryBuilder::<Sqlite>::new(STORED_SEQS_HEAD);
        query.push_values(chunk, |mut row, stream| {
            row.push_bind(*stream);
        });
        query.push(STORED_SEQS_TAIL);
        let rows: Vec<(String, Option<u64>)> =
            query.build_query_as().fetch_all(&mut *conn).await.map_err(decode_error("events: last seqs"))?;
        stored.extend(rows.into_iter().filter_map(|(stream, seq)| Some((stream, seq?))));
    }
    Ok(stored)
}

impl Journal for SqliteJournal {
    async fn append(&self, batch: &[StreamAppend]) -> Result<(), JournalError> {
        let rows = AppendRows::of(batch);
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        check_sequences(batch, &stored_seqs(&mut tx, &streams_to_check(batch)).await?)?;
        insert_rows::<Sqlite, 5>(&mut tx, sql::INSERT_EVENTS, "", &rows.events, ROW_SHAPES).await?;
        insert_rows::<Sqlite, 5>(&mut tx, sql::INSERT_ORDERS, "", &rows.orders, ROW_SHAPES).await?;
        insert_rows::<Sqlite, 4>(&mut tx, sql::INSERT_SNAPSHOTS, REPLACE_SNAPSHOTS, &rows.snapshots, ROW_SHAPES)
            .await?;
        for stream in rows.snapshotted {
            sqlx::query(sql::PRUNE_SNAPSHOTS).bind(stream).bind(stream).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn read_events(&self, stream: &str, after_seq: u64, limit: usize) -> Result<Vec<StoredEvent>, JournalError> {
        sqlx::query_as(sql::READ_EVENTS)
            .bind(stream)
            .bind(sql_int(after_seq))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(decode_error(format!("events of {stream}")))
    }

    async fn last_seq(&self, stream: &str) -> Result<u64, JournalError> {
        let seq = sqlx::query_scalar(sql::LAST_SEQ).bind(stream).fetch_optional(&self.pool).await;
        Ok(seq.map_err(decode_error(format!("events of {stream}")))?.unwrap_or(0))
    }

    async fn latest_snapshot(&self, stream: &str) -> Result<Option<StoredSnapshot>, JournalError> {
        sqlx::query_as(sql::LATEST_SNAPSHOT)
            .bind(stream)
            .fetch_optional(&self.pool)
            .await
            .map_err(decode_error(format!("snapshots of {stream}")))
    }

    async fn upsert_stations(&self, stations: &[Station]) -> Result<(), JournalError> {
        let rows: Vec<_> = stations.iter().map(rows::station_values).collect();
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        insert_rows::<Sqlite, 3>(&mut tx, sql::INSERT_STATIONS, UPSERT_STATIONS, &rows, ROW_SHAPES).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_train(&self, train: &TrainTemplate, now_ms: u64) -> Result<(), JournalError> {
        let code = train.code.as_str();
        let stops: Vec<_> =
            train.stops.iter().enumerate().map(|(index, stop)| rows::stop_values(code, index, stop)).collect();
        let carriages: Vec<_> = train.carriages.iter().map(|carriage| rows::carriage_values(code, carriage)).collect();
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        sqlx::query(UPSERT_TRAIN).bind(code).bind(sql_int(now_ms)).execute(&mut *tx).await?;
        sqlx::query(sql::DELETE_STOPS).bind(code).execute(&mut *tx).await?;
        sqlx::query(sql::DELETE_CARRIAGES).bind(code).execute(&mut *tx).await?;
        insert_rows::<Sqlite, 6>(&mut tx, sql::INSERT_STOPS, "", &stops, ROW_SHAPES).await?;
        insert_rows::<Sqlite, 5>(&mut tx, sql::INSERT_CARRIAGES, "", &carriages, ROW_SHAPES).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn load_stations(&self) -> Result<Vec<Station>, JournalError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as(sql::LOAD_STATIONS).fetch_all(&self.pool).await.map_err(decode_error("stations"))?;
        Ok(rows.into_iter().map(|(code, name, pinyin)| Station { code, name, pinyin }).collect())
    }

    async fn load_trains(&self) -> Result<Vec<TrainTemplate>, JournalError> {
        let mut tx = self.pool.begin().await?;
        let codes =
            sqlx::query_scalar(sql::LOAD_TRAIN_CODES).fetch_all(&mut *tx).await.map_err(decode_error("trains"))?;
        let stops: Vec<StopRow> =
            sqlx::query_as(sql::LOAD_STOPS).fetch_all(&mut *tx).await.map_err(decode_error("train_stops"))?;
        let carriages: Vec<CarriageRow> =
            sqlx::query_as(sql::LOAD_CARRIAGES).fetch_all(&mut *tx).await.map_err(decode_error("train_carriages"))?;
        tx.commit().await?;
        rows::assemble_trains(codes, stops, carriages)
    }

    async fn insert_train_dates(&self, train_dates: &[StoredTrainDate]) -> Result<(), JournalError> {
        let rows = TrainDateRows::of(train_dates);
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        insert_rows::<Sqlite, 2>(&mut tx, sql::INSERT_TEMPLATES, KEEP_TEMPLATES, &rows.templates, BULK_SHAPES).await?;
        insert_rows::<Sqlite, 6>(&mut tx, sql::INSERT_TRAIN_DATES, KEEP_TRAIN_DATES, &rows.train_dates, BULK_SHAPES)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn archive_train_dates(&self, streams: &[String], now_ms: u64) -> Result<(), JournalError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        for stream in streams {
            sqlx::query(sql::ARCHIVE_TRAIN_DATE).bind(sql_int(now_ms)).bind(stream).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_train_dates(&self) -> Result<Vec<StoredTrainDate>, JournalError> {
        // One read transaction, so every row's template is in the same view.
        let mut tx = self.pool.begin().await?;
        let templates: Vec<TemplateRow> =
            sqlx::query_as(sql::LOAD_TEMPLATES).fetch_all(&mut *tx).await.map_err(decode_error("train_templates"))?;
        let rows: Vec<TrainDateRow> =
            sqlx::query_as(sql::LOAD_TRAIN_DATES).fetch_all(&mut *tx).await.map_err(decode_error("train_dates"))?;
        tx.commit().await?;
        let templates = parse_templates(templates)?;
        rows.into_iter().map(|row| train_date(row, &templates)).collect()
    }

    async fn load_orders(&self) -> Result<Vec<OrderRow>, JournalError> {
        sqlx::query_as(sql::LOAD_ORDERS).fetch_all(&self.pool).await.map_err(decode_error("orders"))
    }
}
