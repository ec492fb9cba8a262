//! MySQL/MariaDB journal: the production backend, for deployments that already
//! run, replicate and back up a database server.

use crate::batch::{AppendRows, check_sequences, streams_to_check};
use crate::chunks::{BULK_SHAPES, ROW_SHAPES, padded_chunks};
use crate::codec::StoredEvent;
use crate::journal::{Journal, JournalError, OrderRow, StoredSnapshot, StoredTrainDate, StreamAppend};
use crate::rows::{self, CarriageRow, StopRow, decode_error, sql_int};
use crate::sql::{self, insert_rows};
use crate::train_dates::{TemplateRow, TrainDateRow, TrainDateRows, parse_templates, train_date};
use engine::domain::timetable::{Station, TrainTemplate};
use sqlx::mysql::{MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{MySql, QueryBuilder};
use std::collections::HashMap;

/// Enough for the group-commit writer, recovery reads and admin writes at
/// once, without crowding a server that other services share.
const CONNECTIONS_MAX: u32 = 8;
/// Concurrent appends: InnoDB flushes the log for concurrent commits
/// together, so a few overlap their waits; half the pool, leaving the rest
/// for recovery reads and admin writes.
const APPENDS_IN_FLIGHT_MAX: usize = 4;

const STORED_SEQS_HEAD: &str = "SELECT train_date, MAX(seq) FROM events WHERE train_date IN (";
/// MAX per group on the primary key prefix is a loose index scan: one seek per stream.
const STORED_SEQS_TAIL: &str = ") GROUP BY train_date";
const UPSERT_STATIONS: &str = " ON DUPLICATE KEY UPDATE name = VALUES(name), pinyin = VALUES(pinyin)";
const UPSERT_TRAIN: &str = "INSERT INTO trains (code, updated_at_ms) VALUES (?, ?) \
     ON DUPLICATE KEY UPDATE updated_at_ms = VALUES(updated_at_ms)";
/// A no-op update rather than `INSERT IGNORE`, which would also turn
/// truncation and other errors into warnings.
const KEEP_TRAIN_DATES: &str = " ON DUPLICATE KEY UPDATE train_date = train_date";
const KEEP_TEMPLATES: &str = " ON DUPLICATE KEY UPDATE template_hash = template_hash";
/// A second snapshot at the same seq is the same state, perhaps in a newer format.
const REPLACE_SNAPSHOTS: &str = " ON DUPLICATE KEY UPDATE version = VALUES(version), body = VALUES(body)";

/// The journal in a MySQL or MariaDB database: durable across hosts, and
/// restartable on another machine than the one that wrote it.
pub struct MySqlJournal {
    pool: MySqlPool,
}

impl MySqlJournal {
    /// Connects to the database in `url` (`mysql://user:pass@host:3306/db`)
    /// and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, JournalError> {
        let pool = MySqlPoolOptions::new().max_connections(CONNECTIONS_MAX).connect(url).await?;
        sqlx::migrate!("./migrations/mysql").run(&pool).await?;
        Ok(MySqlJournal { pool })
    }
}

/// The last stored seq of each of `streams` that has events.
async fn stored_seqs(conn: &mut MySqlConnection, streams: &[&str]) -> Result<HashMap<String, u64>, JournalError> {
    let mut stored = HashMap::new();
    for chunk in padded_chunks(streams, ROW_SHAPES) {
        let mut query = QueryBuilder::<MySql>::new(STORED_SEQS_HEAD);
        let mut list = query.separated(", ");
        chunk.iter().for_each(|stream| {
            list.push_bind(**stream);
        });
        query.push(STORED_SEQS_TAIL);
        let rows: Vec<(String, u64)> =
            query.build_query_as().fetch_all(&mut *conn).await.map_err(decode_error("events: last seqs"))?;
        stored.extend(rows);
    }
    Ok(stored)
}

impl Journal for MySqlJournal {
    fn appends_in_flight_max(&self) -> usize {
        APPENDS_IN_FLIGHT_MAX
    }

    async fn append(&self, batch: &[StreamAppend]) -> Result<(), JournalError> {
        let rows = AppendRows::of(batch);
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        check_sequences(batch, &stored_seqs(&mut tx, &streams_to_check(batch)).await?)?;
        insert_rows::<MySql, 5>(&mut tx, sql::INSERT_EVENTS, "", &rows.events, ROW_SHAPES).await?;
        insert_rows::<MySql, 5>(&mut tx, sql::INSERT_ORDERS, "", &rows.orders, ROW_SHAPES).await?;
        insert_rows::<MySql, 4>(&mut tx, sql::INSERT_SNAPSHOTS, REPLACE_SNAPSHOTS, &rows.snapshots, ROW_SHAPES).await?;
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
        let mut tx = self.pool.begin().await?;
        insert_rows::<MySql, 3>(&mut tx, sql::INSERT_STATIONS, UPSERT_STATIONS, &rows, ROW_SHAPES).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_train(&self, train: &TrainTemplate, now_ms: u64) -> Result<(), JournalError> {
        let code = train.code.as_str();
        let stops: Vec<_> =
            train.stops.iter().enumerate().map(|(index, stop)| rows::stop_values(code, index, stop)).collect();
        let carriages: Vec<_> = train.carriages.iter().map(|carriage| rows::carriage_values(code, carriage)).collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query(UPSERT_TRAIN).bind(code).bind(sql_int(now_ms)).execute(&mut *tx).await?;
        sqlx::query(sql::DELETE_STOPS).bind(code).execute(&mut *tx).await?;
        sqlx::query(sql::DELETE_CARRIAGES).bind(code).execute(&mut *tx).await?;
        insert_rows::<MySql, 6>(&mut tx, sql::INSERT_STOPS, "", &stops, ROW_SHAPES).await?;
        insert_rows::<MySql, 5>(&mut tx, sql::INSERT_CARRIAGES, "", &carriages, ROW_SHAPES).await?;
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
        let mut tx = self.pool.begin().await?;
        insert_rows::<MySql, 2>(&mut tx, sql::INSERT_TEMPLATES, KEEP_TEMPLATES, &rows.templates, BULK_SHAPES).await?;
        insert_rows::<MySql, 6>(&mut tx, sql::INSERT_TRAIN_DATES, KEEP_TRAIN_DATES, &rows.train_dates, BULK_SHAPES)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn archive_train_dates(&self, streams: &[String], now_ms: u64) -> Result<(), JournalError> {
        let mut tx = self.pool.begin().await?;
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
