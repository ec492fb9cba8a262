//! The one SQL journal body, `SqlJournal<D>`, written once for every backend.
//! A `Dialect` supplies only what differs between databases: how a write
//! transaction begins, how the stored seqs are read, and the upsert clauses.

use crate::batch::{AppendRows, check_sequences, streams_to_check};
use crate::chunks::{BULK_SHAPES, ROW_SHAPES, padded_chunks};
use crate::codec::{StoredEvent, StreamEvent};
use crate::feed::{FeedBatch, FeedCommitRow, assemble, feed_spans, feed_values, unpack};
use crate::journal::{
    AppendOutcome, FencedStream, Journal, JournalError, OrderRow, StoredSnapshot, StoredTrainDate, StreamAppend,
    StreamSnapshot, parse_stream_id,
};
use crate::rows::{self, CarriageRow, StopRow, Value, decode_error, sql_int};
use crate::sql::{self, insert_rows};
use crate::train_dates::{TemplateRow, TrainDateRow, TrainDateRows, parse_templates, train_date};
use engine::domain::timetable::{Station, TrainTemplate};
use engine::slots::{SlotFence, SlotId, slot_of};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, QueryBuilder, Transaction, Type};
use std::collections::HashMap;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

/// What one database does differently from the others; the journal body in
/// `SqlJournal` is the same for all.
pub trait Dialect: Send + Sync + 'static {
    type Database: Database;

    /// The statement that opens a write transaction, or `None` for the
    /// driver's plain `BEGIN`.
    const BEGIN_WRITE: Option<&'static str>;
    /// Appends (for disjoint streams) worth running at once: see
    /// `Journal::appends_in_flight_max`.
    const APPENDS_IN_FLIGHT_MAX: usize;

    /// Appended to `INSERT INTO stations … VALUES …`: replaces name and pinyin.
    const UPSERT_STATIONS: &'static str;
    /// The whole `trains` upsert, binding `(code, updated_at_ms)`.
    const UPSERT_TRAIN: &'static str;
    /// Appended to the `train_dates` insert: a stored train-date is left as it is.
    const KEEP_TRAIN_DATES: &'static str;
    /// Appended to the `train_templates` insert: a stored template is left as it is.
    const KEEP_TEMPLATES: &'static str;
    /// Appended to the `snapshots` insert: a second snapshot at the same seq
    /// is the same state, perhaps in a newer format, so it replaces the first.
    const REPLACE_SNAPSHOTS: &'static str;

    /// Appended to the fence read inside an append: a shared lock on the
    /// fence rows, so a claim (which updates them) waits for appends already
    /// past the check, and appends after the claim see its token.
    const FENCE_SHARE_LOCK: &'static str;
    /// Appended to the `slot_fence` insert of `(slot, token, owner,
    /// updated_at_ms)` rows: a stored row keeps the larger token (and names
    /// its owner).
    const RAISE_FENCES: &'static str;

    /// Raises the one `feed_clock` row by `positions` and returns its new
    /// value, in one round trip: the append's last write before COMMIT, so
    /// the row's exclusive lock is held only across the `feed_commits` insert
    /// and the commit, and the next append takes its positions after this
    /// one has committed (see `append`).
    fn raise_feed_clock(
        conn: &mut <Self::Database as Database>::Connection,
        positions: u64,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// A query whose rows are `(stream, newest stored seq)` for `streams`. A
    /// stream without events may be left out or have a NULL seq.
    fn stored_seqs_query<'a>(streams: impl IntoIterator<Item = &'a str>) -> QueryBuilder<Self::Database>;
}

type ConnectionOf<D> = <<D as Dialect>::Database as Database>::Connection;
type ArgumentsOf<D> = <<D as Dialect>::Database as Database>::Arguments;
type RowOf<D> = <<D as Dialect>::Database as Database>::Row;

/// The journal in a SQL database of dialect `D`. Callers name it by backend:
/// `SqliteJournal` or `MySqlJournal`.
pub struct SqlJournal<D: Dialect> {
    pool: Pool<D::Database>,
    /// In a cluster every stream must carry a fence: one that does not is
    /// refused like a stale one, so an actor started without its slot's
    /// token can never write.
    fences_required: bool,
    /// The last seq this journal committed per stream, and the fence token
    /// it wrote under: the sequence check of a later append of the stream
    /// reads it here instead of asking the database (one statement less
    /// per commit). Exact because one writer owns a stream: on one node
    /// this process, in a cluster the holder of the token it is keyed by (a
    /// stream written under another token is read from the database). A
    /// failed append forgets its streams, since its outcome may be unknown.
    /// One entry per stream this process has written: bounded by the open
    /// train-dates, and emptied of archived ones.
    committed_seqs: CommittedSeqs,
}

/// Stream → (last committed seq, fence token), see `SqlJournal::committed_seqs`.
#[derive(Default)]
struct CommittedSeqs(std::sync::Mutex<HashMap<String, (u64, Option<u64>)>>);

impl CommittedSeqs {
    /// The known last seqs of `streams` written under their batch's token,
    /// and the streams whose seq must be read from the database.
    fn split<'a>(&self, batch: &[StreamAppend], streams: Vec<&'a str>) -> (HashMap<String, u64>, Vec<&'a str>) {
        // A stream's entries in one batch carry one fence (the writer's batch).
        let tokens: HashMap<&str, Option<u64>> =
            batch.iter().map(|append| (append.stream.as_str(), append.fence.map(|fence| fence.token))).collect();
        let known = self.0.lock().expect("committed seqs lock");
        let mut cached = HashMap::new();
        let mut unknown = Vec::new();
        for stream in streams {
            match known.get(stream) {
                Some(&(seq, written_under)) if tokens.get(stream) == Some(&written_under) => {
                    cached.insert(stream.to_owned(), seq);
                }
                _ => unknown.push(stream),
            }
        }
        (cached, unknown)
    }

    /// Records the last seqs of a committed batch's streams; the streams it
    /// left out as fenced are forgotten (another node writes them now).
    fn committed(&self, batch: &[StreamAppend], fenced: &[FencedStream]) {
        let mut known = self.0.lock().expect("committed seqs lock");
        for append in batch {
            if fenced.iter().any(|fenced| fenced.stream == append.stream) {
                known.remove(&append.stream);
            } else if let Some(last) = append.events.last() {
                known.insert(append.stream.clone(), (last.seq, append.fence.map(|fence| fence.token)));
            }
        }
    }

    fn forget<'a>(&self, streams: impl IntoIterator<Item = &'a str>) {
        let mut known = self.0.lock().expect("committed seqs lock");
        for stream in streams {
            known.remove(stream);
        }
    }
}

impl<D: Dialect> SqlJournal<D> {
    /// A journal on `pool`, whose schema the caller has already migrated.
    pub(crate) fn on_pool(pool: Pool<D::Database>) -> Self {
        SqlJournal { pool, fences_required: false, committed_seqs: CommittedSeqs::default() }
    }

    /// Refuses every append stream that carries no fence (cluster mode).
    pub fn require_fences(mut self) -> Self {
        self.fences_required = true;
        self
    }

    async fn begin_write(&self) -> Result<Transaction<'static, D::Database>, sqlx::Error> {
        match D::BEGIN_WRITE {
            Some(statement) => self.pool.begin_with(statement).await,
            None => self.pool.begin().await,
        }
    }
}

/// The writer's wall clock in Unix ms: a feed row's commit instant. The
/// journal has no engine clock; this is an operator-facing timestamp only,
/// never used for ordering (positions do that).
fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// The last stored seq of each of `streams` that has events.
async fn stored_seqs<D: Dialect>(
    conn: &mut ConnectionOf<D>,
    streams: &[&str],
) -> Result<HashMap<String, u64>, JournalError>
where
    for<'c> &'c mut ConnectionOf<D>: Executor<'c, Database = D::Database>,
    ArgumentsOf<D>: IntoArguments<D::Database>,
    (String, Option<u64>): for<'r> FromRow<'r, RowOf<D>>,
{
    let mut stored = HashMap::new();
    for chunk in padded_chunks(streams, ROW_SHAPES) {
        let mut query = D::stored_seqs_query(chunk.into_iter().copied());
        let rows: Vec<(String, Option<u64>)> =
            query.build_query_as().fetch_all(&mut *conn).await.map_err(decode_error("events: last seqs"))?;
        stored.extend(rows.into_iter().filter_map(|(stream, seq)| Some((stream, seq?))));
    }
    Ok(stored)
}

/// The streams of `batch` whose fence does not hold their token, read with
/// a shared lock on the fence rows (`Dialect::FENCE_SHARE_LOCK`).
async fn fenced_streams<D: Dialect>(
    conn: &mut ConnectionOf<D>,
    batch: &[StreamAppend],
    fences_required: bool,
) -> Result<Vec<FencedStream>, JournalError>
where
    for<'c> &'c mut ConnectionOf<D>: Executor<'c, Database = D::Database>,
    ArgumentsOf<D>: IntoArguments<D::Database>,
    for<'t> i64: Encode<'t, D::Database> + Type<D::Database>,
    (u64, u64): for<'r> FromRow<'r, RowOf<D>>,
{
    let mut slots: Vec<SlotId> = batch.iter().filter_map(|append| append.fence.map(|fence| fence.slot)).collect();
    slots.sort_unstable();
    slots.dedup();
    let mut stored: HashMap<SlotId, u64> = HashMap::new();
    for chunk in padded_chunks(&slots, ROW_SHAPES) {
        let mut query = QueryBuilder::<D::Database>::new("SELECT slot, token FROM slot_fence WHERE slot IN (");
        let mut list = query.separated(", ");
        for slot in chunk {
            list.push_bind(i64::from(*slot));
        }
        query.push(")");
        query.push(D::FENCE_SHARE_LOCK);
        let rows: Vec<(u64, u64)> =
            query.build_query_as().fetch_all(&mut *conn).await.map_err(decode_error("slot_fence"))?;
        stored.extend(rows.into_iter().map(|(slot, token)| (slot as SlotId, token)));
    }
    let mut fenced = Vec::new();
    for append in batch {
        let refused = match append.fence {
            Some(fence) => {
                let current = stored.get(&fence.slot).copied().unwrap_or(0);
                (current != fence.token).then_some((fence, current))
            }
            None if fences_required => {
                let slot = parse_stream_id(&append.stream).map_or(0, |key| slot_of(&key));
                Some((SlotFence { slot, token: 0 }, 0))
            }
            None => None,
        };
        if let Some((fence, current)) = refused {
            fenced.push(FencedStream { stream: append.stream.clone(), fence, current });
        }
    }
    Ok(fenced)
}

/// The stored token of each of `slots` that has a fence row, in slot order.
async fn read_fences_on<D: Dialect>(
    conn: &mut ConnectionOf<D>,
    slots: &[SlotId],
) -> Result<Vec<(SlotId, u64)>, JournalError>
where
    for<'c> &'c mut ConnectionOf<D>: Executor<'c, Database = D::Database>,
    ArgumentsOf<D>: IntoArguments<D::Database>,
    for<'t> i64: Encode<'t, D::Database> + Type<D::Database>,
    (u64, u64): for<'r> FromRow<'r, RowOf<D>>,
{
    let mut fences = Vec::with_capacity(slots.len());
    for chunk in padded_chunks(slots, ROW_SHAPES) {
        let mut query = QueryBuilder::<D::Database>::new("SELECT slot, token FROM slot_fence WHERE slot IN (");
        let mut list = query.separated(", ");
        for slot in chunk {
            list.push_bind(i64::from(*slot));
        }
        query.push(")");
        let rows: Vec<(u64, u64)> =
            query.build_query_as().fetch_all(&mut *conn).await.map_err(decode_error("slot_fence"))?;
        fences.extend(rows.into_iter().map(|(slot, token)| (slot as SlotId, token)));
    }
    fences.sort_unstable();
    fences.dedup();
    Ok(fences)
}

/// The bounds say only that the database runs queries on a connection, binds
/// text and integers, and decodes the journal's row types. They stand here,
/// not on `Dialect`, because Rust does not carry a trait's where clauses to
/// its users; both `Sqlite` and `MySql` meet them.
impl<D: Dialect> Journal for SqlJournal<D>
where
    for<'c> &'c mut ConnectionOf<D>: Executor<'c, Database = D::Database>,
    ArgumentsOf<D>: IntoArguments<D::Database>,
    for<'t> &'t str: Encode<'t, D::Database> + Type<D::Database>,
    for<'t> i64: Encode<'t, D::Database> + Type<D::Database>,
    for<'t> Option<i64>: Encode<'t, D::Database> + Type<D::Database>,
    for<'r> StoredEvent: FromRow<'r, RowOf<D>>,
    for<'r> StoredSnapshot: FromRow<'r, RowOf<D>>,
    for<'r> StreamEvent: FromRow<'r, RowOf<D>>,
    for<'r> StreamSnapshot: FromRow<'r, RowOf<D>>,
    for<'r> OrderRow: FromRow<'r, RowOf<D>>,
    for<'r> StopRow: FromRow<'r, RowOf<D>>,
    for<'r> CarriageRow: FromRow<'r, RowOf<D>>,
    for<'r> TemplateRow: FromRow<'r, RowOf<D>>,
    for<'r> TrainDateRow: FromRow<'r, RowOf<D>>,
    for<'r> (String, String, String): FromRow<'r, RowOf<D>>,
    for<'r> (String, Option<u64>): FromRow<'r, RowOf<D>>,
    for<'r> (String,): FromRow<'r, RowOf<D>>,
    for<'r> (u64,): FromRow<'r, RowOf<D>>,
    for<'r> (u64, u64): FromRow<'r, RowOf<D>>,
    for<'r> (String, String): FromRow<'r, RowOf<D>>,
    for<'r> (i64,): FromRow<'r, RowOf<D>>,
    for<'r> FeedCommitRow: FromRow<'r, RowOf<D>>,
{
    fn appends_in_flight_max(&self) -> usize {
        D::APPENDS_IN_FLIGHT_MAX
    }

    async fn append(&self, batch: &[StreamAppend]) -> Result<AppendOutcome, JournalError> {
        if AppendRows::of(batch).is_empty() {
            return Ok(AppendOutcome::default());
        }
        // The transaction: fence check, sequence check, rows, feed position, commit.
        let appended: Result<AppendOutcome, JournalError> = async {
            let mut tx = self.begin_write().await?;
            let fenced = fenced_streams::<D>(&mut tx, batch, self.fences_required).await?;
            let admitted: Vec<StreamAppend>;
            let batch = if fenced.is_empty() {
                batch
            } else {
                // Rare: a slot moved. Its streams are left out; the rest commit.
                admitted =
                    batch.iter().filter(|append| !fenced.iter().any(|f| f.stream == append.stream)).cloned().collect();
                &admitted
            };
            let rows = AppendRows::of(batch);
            let (mut stored, unknown) = self.committed_seqs.split(batch, streams_to_check(batch));
            if !unknown.is_empty() {
                stored.extend(stored_seqs::<D>(&mut tx, &unknown).await?);
            }
            check_sequences(batch, &stored)?;
            insert_rows(&mut tx, sql::INSERT_EVENTS, "", &rows.events, ROW_SHAPES).await?;
            insert_rows(&mut tx, sql::INSERT_ORDERS, "", &rows.orders, ROW_SHAPES).await?;
            // One snapshot a statement: each may be megabytes, and a statement
            // must stay under the server's packet limit (`SNAPSHOT_BYTES_MAX`).
            insert_rows(&mut tx, sql::INSERT_SNAPSHOTS, D::REPLACE_SNAPSHOTS, &rows.snapshots, &[1]).await?;
            for stream in rows.snapshotted {
                sqlx::query(sql::PRUNE_SNAPSHOTS).bind(stream).bind(stream).execute(&mut *tx).await?;
            }
            // Feed positions last. Taking them locks the clock row until COMMIT,
            // so an append that commits later also takes its positions later:
            // positions follow commit order, and a reader that sees N+1 sees N.
            // Held only for the one insert below and the commit. A rollback
            // takes its positions back with it. Fenced streams, left out above,
            // get none.
            let spans = feed_spans(batch);
            if !spans.is_empty() {
                let committed_at_ms = unix_ms_now();
                let head = D::raise_feed_clock(&mut tx, spans.len() as u64).await?;
                let feed_row = feed_values(&spans, head, committed_at_ms);
                insert_rows(&mut tx, sql::INSERT_FEED_COMMITS, "", &[feed_row], ROW_SHAPES).await?;
            }
            tx.commit().await?;
            Ok(AppendOutcome { fenced })
        }
        .await;
        match &appended {
            Ok(outcome) => self.committed_seqs.committed(batch, &outcome.fenced),
            Err(_) => self.committed_seqs.forget(batch.iter().map(|append| append.stream.as_str())),
        }
        appended
    }

    async fn read_feed(&self, after_position: u64, limit: usize) -> Result<Vec<FeedBatch>, JournalError> {
        // Two statements outside a transaction are enough: a feed_commits row is
        // visible only once its append committed, events included.
        // Each commit row holds at least one position: `limit` rows hold enough.
        let commits: Vec<FeedCommitRow> = sqlx::query_as(sql::READ_FEED_COMMITS)
            .bind(sql_int(after_position))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(decode_error("feed_commits"))?;
        let rows = unpack(commits, after_position, limit)?;
        let mut events = Vec::new();
        for chunk in padded_chunks(&rows, ROW_SHAPES) {
            let mut query = QueryBuilder::<D::Database>::new(sql::READ_EVENTS_AFTER_HEAD);
            for (index, row) in chunk.into_iter().enumerate() {
                query.push(if index == 0 { "(train_date = " } else { " OR (train_date = " });
                query.push_bind(row.train_date.as_str());
                query.push(" AND seq BETWEEN ");
                query.push_bind(sql_int(row.first_seq));
                query.push(" AND ");
                query.push_bind(sql_int(row.last_seq));
                query.push(")");
            }
            query.push(sql::READ_FEED_EVENTS_TAIL);
            let page: Vec<StreamEvent> =
                query.build_query_as().fetch_all(&self.pool).await.map_err(decode_error("events of the feed"))?;
            events.extend(page);
        }
        events.sort_by(|a, b| (&a.stream, a.event.seq).cmp(&(&b.stream, b.event.seq)));
        events.dedup_by(|a, b| a.stream == b.stream && a.event.seq == b.event.seq);
        assemble(rows, events)
    }

    async fn feed_head(&self) -> Result<u64, JournalError> {
        let head: Option<(u64,)> =
            sqlx::query_as(sql::FEED_HEAD).fetch_optional(&self.pool).await.map_err(decode_error("feed_clock"))?;
        Ok(head.map_or(0, |(position,)| position))
    }

    async fn advance_fences(
        &self,
        fences: &[SlotFence],
        owner: &str,
        now_ms: u64,
    ) -> Result<Vec<(SlotId, u64)>, JournalError> {
        let rows: Vec<[Value<'_>; 4]> = fences.iter().map(|fence| rows::fence_values(*fence, owner, now_ms)).collect();
        let slots: Vec<SlotId> = fences.iter().map(|fence| fence.slot).collect();
        let mut tx = self.begin_write().await?;
        insert_rows(&mut tx, sql::INSERT_FENCES, D::RAISE_FENCES, &rows, ROW_SHAPES).await?;
        let stored = read_fences_on::<D>(&mut tx, &slots).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn read_fences(&self, slots: &[SlotId]) -> Result<Vec<(SlotId, u64)>, JournalError> {
        let mut conn = self.pool.acquire().await?;
        read_fences_on::<D>(&mut conn, slots).await
    }

    async fn order_home(&self, order_id: &str) -> Result<Option<(String, String)>, JournalError> {
        sqlx::query_as(sql::ORDER_HOME)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(decode_error(format!("orders: {order_id}")))
    }

    async fn user_orders(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, usize), JournalError> {
        let page: Vec<(String,)> = sqlx::query_as(sql::USER_ORDERS_AFTER)
            .bind(user_id)
            .bind(after.unwrap_or(""))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(decode_error("orders of a user"))?;
        let total: i64 = sqlx::query_scalar(sql::USER_ORDER_COUNT)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await
            .map_err(decode_error("orders of a user"))?;
        Ok((page.into_iter().map(|(order_id,)| order_id).collect(), total as usize))
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

    async fn latest_snapshots(&self, streams: &[String]) -> Result<Vec<StreamSnapshot>, JournalError> {
        let mut found = Vec::new();
        for chunk in padded_chunks(streams, ROW_SHAPES) {
            let mut query = QueryBuilder::<D::Database>::new(sql::LATEST_SNAPSHOTS_HEAD);
            let mut list = query.separated(", ");
            for stream in chunk {
                list.push_bind(stream.as_str());
            }
            query.push(sql::LATEST_SNAPSHOTS_TAIL);
            let rows: Vec<StreamSnapshot> =
                query.build_query_as().fetch_all(&self.pool).await.map_err(decode_error("snapshots of a batch"))?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn read_events_after(&self, after: &[(String, u64)], limit: usize) -> Result<Vec<StreamEvent>, JournalError> {
        let mut found = Vec::new();
        for chunk in padded_chunks(after, ROW_SHAPES) {
            if found.len() >= limit {
                break;
            }
            let mut query = QueryBuilder::<D::Database>::new(sql::READ_EVENTS_AFTER_HEAD);
            for (index, (stream, after_seq)) in chunk.into_iter().enumerate() {
                query.push(if index == 0 { "(train_date = " } else { " OR (train_date = " });
                query.push_bind(stream.as_str());
                query.push(" AND seq > ");
                query.push_bind(sql_int(*after_seq));
                query.push(")");
            }
            query.push(sql::READ_EVENTS_AFTER_TAIL);
            query.push_bind(i64::try_from(limit - found.len()).unwrap_or(i64::MAX));
            let rows: Vec<StreamEvent> =
                query.build_query_as().fetch_all(&self.pool).await.map_err(decode_error("events of a batch"))?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn upsert_stations(&self, stations: &[Station]) -> Result<(), JournalError> {
        let rows: Vec<_> = stations.iter().map(rows::station_values).collect();
        let mut tx = self.begin_write().await?;
        insert_rows(&mut tx, sql::INSERT_STATIONS, D::UPSERT_STATIONS, &rows, ROW_SHAPES).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_train(&self, train: &TrainTemplate, now_ms: u64) -> Result<(), JournalError> {
        let code = train.code.as_str();
        let stops: Vec<_> =
            train.stops.iter().enumerate().map(|(index, stop)| rows::stop_values(code, index, stop)).collect();
        let carriages: Vec<_> = train.carriages.iter().map(|carriage| rows::carriage_values(code, carriage)).collect();
        let mut tx = self.begin_write().await?;
        sqlx::query(D::UPSERT_TRAIN).bind(code).bind(sql_int(now_ms)).execute(&mut *tx).await?;
        sqlx::query(sql::DELETE_STOPS).bind(code).execute(&mut *tx).await?;
        sqlx::query(sql::DELETE_CARRIAGES).bind(code).execute(&mut *tx).await?;
        insert_rows(&mut tx, sql::INSERT_STOPS, "", &stops, ROW_SHAPES).await?;
        insert_rows(&mut tx, sql::INSERT_CARRIAGES, "", &carriages, ROW_SHAPES).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn load_stations(&self) -> Result<Vec<Station>, JournalError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as(sql::LOAD_STATIONS).fetch_all(&self.pool).await.map_err(decode_error("stations"))?;
        Ok(rows.into_iter().map(|(code, name, pinyin)| Station { code, name, pinyin }).collect())
    }

    async fn load_trains(&self) -> Result<Vec<TrainTemplate>, JournalError> {
        // One read transaction, so stops and carriages match their trains.
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
        let mut tx = self.begin_write().await?;
        insert_rows(&mut tx, sql::INSERT_TEMPLATES, D::KEEP_TEMPLATES, &rows.templates, BULK_SHAPES).await?;
        insert_rows(&mut tx, sql::INSERT_TRAIN_DATES, D::KEEP_TRAIN_DATES, &rows.train_dates, BULK_SHAPES).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn archive_train_dates(&self, streams: &[String], now_ms: u64) -> Result<(), JournalError> {
        let mut tx = self.begin_write().await?;
        for stream in streams {
            sqlx::query(sql::ARCHIVE_TRAIN_DATE).bind(sql_int(now_ms)).bind(stream.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.committed_seqs.forget(streams.iter().map(String::as_str));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn append(stream: &str, last_seq: u64, token: Option<u64>) -> StreamAppend {
        StreamAppend {
            stream: stream.into(),
            events: vec![StoredEvent { seq: last_seq, kind: "sales_closed".into(), version: 1, body: "{}".into() }],
            fence: token.map(|token| SlotFence { slot: 1, token }),
            ..StreamAppend::default()
        }
    }

    #[test]
    fn a_stream_is_read_from_memory_only_under_the_token_it_was_committed_with() {
        let seqs = CommittedSeqs::default();
        let fenced = FencedStream { stream: "c".into(), fence: SlotFence { slot: 1, token: 5 }, current: 6 };
        seqs.committed(&[append("a", 3, Some(5)), append("b", 7, None), append("c", 2, Some(5))], &[fenced]);
        let next = [append("a", 4, Some(5)), append("b", 8, None), append("c", 3, Some(5)), append("d", 1, None)];
        let (cached, unknown) = seqs.split(&next, vec!["a", "b", "c", "d"]);
        assert_eq!(cached, HashMap::from([("a".to_owned(), 3), ("b".to_owned(), 7)]));
        assert_eq!(unknown, ["c", "d"], "fenced and never written streams are read from the database");
        let (cached, unknown) = seqs.split(&[append("a", 4, Some(6))], vec!["a"]);
        assert!(cached.is_empty() && unknown == ["a"], "another token: another writer may have written since");
        seqs.forget(["a"]);
        assert_eq!(seqs.split(&[append("a", 4, Some(5))], vec!["a"]).1, ["a"], "a failed append forgets");
    }
}
