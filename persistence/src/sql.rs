//! SQL both backends run unchanged (both use `?` placeholders), and the
//! fixed-shape multi-row insert they share.

use crate::chunks::fixed_chunks;
use crate::rows::Value;
use sqlx::query_builder::Separated;
use sqlx::{Database, Encode, Executor, IntoArguments, QueryBuilder, Transaction, Type};

pub(crate) const INSERT_EVENTS: &str = "INSERT INTO events (train_date, seq, kind, version, body, fence_token) ";
pub(crate) const INSERT_ORDERS: &str = "INSERT INTO orders (order_id, train_date, user_id, request_id, seq) ";
pub(crate) const INSERT_SNAPSHOTS: &str = "INSERT INTO snapshots (train_date, seq, version, body) ";
pub(crate) const INSERT_STATIONS: &str = "INSERT INTO stations (code, name, pinyin) ";
pub(crate) const INSERT_STOPS: &str =
    "INSERT INTO train_stops (train, stop_index, station, arrive_minutes, depart_minutes, distance_km) ";
pub(crate) const INSERT_CARRIAGES: &str = "INSERT INTO train_carriages (train, number, class, seat_rows, letters) ";
/// `template` is left empty: the body is in `train_templates` under `template_hash`.
pub(crate) const INSERT_TRAIN_DATES: &str =
    "INSERT INTO train_dates (train_date, train, service_date, template, template_hash, opened_at_ms) ";
pub(crate) const INSERT_TEMPLATES: &str = "INSERT INTO train_templates (template_hash, body) ";

/// Keeps the newest two snapshots of a stream: the latest and a spare in case
/// the latest does not decode. The derived table lets MySQL read the table it
/// deletes from.
pub(crate) const PRUNE_SNAPSHOTS: &str = "DELETE FROM snapshots WHERE train_date = ? AND seq < \
     (SELECT seq FROM (SELECT seq FROM snapshots WHERE train_date = ? ORDER BY seq DESC LIMIT 1 OFFSET 1) AS kept)";
pub(crate) const DELETE_STOPS: &str = "DELETE FROM train_stops WHERE train = ?";
pub(crate) const DELETE_CARRIAGES: &str = "DELETE FROM train_carriages WHERE train = ?";

pub(crate) const READ_EVENTS: &str =
    "SELECT seq, kind, version, body FROM events WHERE train_date = ? AND seq > ? ORDER BY seq LIMIT ?";
pub(crate) const LAST_SEQ: &str = "SELECT seq FROM events WHERE train_date = ? ORDER BY seq DESC LIMIT 1";
pub(crate) const LATEST_SNAPSHOT: &str =
    "SELECT seq, version, body FROM snapshots WHERE train_date = ? ORDER BY seq DESC LIMIT 1";
/// The latest snapshot of each listed stream: HEAD, the `IN` list, TAIL.
pub(crate) const LATEST_SNAPSHOTS_HEAD: &str = "SELECT s.train_date, s.seq, s.version, s.body FROM snapshots s \
     JOIN (SELECT train_date, MAX(seq) AS seq FROM snapshots WHERE train_date IN (";
pub(crate) const LATEST_SNAPSHOTS_TAIL: &str =
    ") GROUP BY train_date) latest ON s.train_date = latest.train_date AND s.seq = latest.seq";
/// Tails of several streams: HEAD, then `(train_date = ? AND seq > ?)` terms
/// joined by OR (one index range each), then TAIL with the limit.
pub(crate) const READ_EVENTS_AFTER_HEAD: &str = "SELECT train_date, seq, kind, version, body FROM events WHERE ";
pub(crate) const READ_EVENTS_AFTER_TAIL: &str = " ORDER BY train_date, seq LIMIT ";
pub(crate) const LOAD_STATIONS: &str = "SELECT code, name, pinyin FROM stations ORDER BY code";
pub(crate) const LOAD_TRAIN_CODES: &str = "SELECT code FROM trains ORDER BY code";
pub(crate) const LOAD_STOPS: &str = "SELECT train, station, arrive_minutes, depart_minutes, distance_km \
     FROM train_stops ORDER BY train, stop_index";
pub(crate) const LOAD_CARRIAGES: &str =
    "SELECT train, number, class, seat_rows, letters FROM train_carriages ORDER BY train, number";
pub(crate) const LOAD_TRAIN_DATES: &str = "SELECT train_date, train, template, template_hash, opened_at_ms \
     FROM train_dates WHERE archived_at_ms IS NULL ORDER BY train_date";
/// The templates open train-dates name, each parsed once however many share it.
pub(crate) const LOAD_TEMPLATES: &str = "SELECT template_hash, body FROM train_templates WHERE template_hash IN \
     (SELECT template_hash FROM train_dates WHERE archived_at_ms IS NULL)";
pub(crate) const ARCHIVE_TRAIN_DATE: &str =
    "UPDATE train_dates SET archived_at_ms = ? WHERE train_date = ? AND archived_at_ms IS NULL";
pub(crate) const ORDER_HOME: &str = "SELECT train_date, user_id FROM orders WHERE order_id = ?";
/// A page of a user's orders by the `orders_by_user` index.
pub(crate) const USER_ORDERS_AFTER: &str =
    "SELECT order_id FROM orders WHERE user_id = ? AND order_id > ? ORDER BY order_id LIMIT ?";
pub(crate) const USER_ORDER_COUNT: &str = "SELECT COUNT(*) FROM orders WHERE user_id = ?";
pub(crate) const INSERT_FEED_COMMITS: &str =
    "INSERT INTO feed_commits (last_position, first_position, committed_at_ms, spans) ";
pub(crate) const READ_FEED_COMMITS: &str = "SELECT first_position, last_position, committed_at_ms, spans \
     FROM feed_commits WHERE last_position > ? ORDER BY last_position LIMIT ?";
pub(crate) const FEED_HEAD: &str = "SELECT position FROM feed_clock WHERE id = 1";
/// The events of several feed rows: READ_EVENTS_AFTER_HEAD, then
/// `(train_date = ? AND seq BETWEEN ? AND ?)` terms joined by OR (one index
/// range each), then this.
pub(crate) const READ_FEED_EVENTS_TAIL: &str = " ORDER BY train_date, seq";
pub(crate) const INSERT_FENCES: &str = "INSERT INTO slot_fence (slot, token, owner, updated_at_ms) ";
pub(crate) const LOAD_ORDERS: &str =
    "SELECT order_id, train_date AS stream, user_id, request_id, seq FROM orders ORDER BY user_id, order_id";

/// Inserts `rows` as `head VALUES (…), (…) tail` statements of the row counts
/// in `shapes` only, so each table has a few statement shapes whatever the
/// batch size.
pub(crate) async fn insert_rows<DB, const N: usize>(
    tx: &mut Transaction<'_, DB>,
    head: &str,
    tail: &str,
    rows: &[[Value<'_>; N]],
    shapes: &'static [usize],
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
{
    for chunk in fixed_chunks(rows, shapes) {
        let mut query = QueryBuilder::<DB>::new(head);
        query.push_values(chunk, |mut row, values| values.iter().for_each(|value| bind(&mut row, value)));
        query.push(tail);
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

fn bind<DB>(row: &mut Separated<'_, DB, &'static str>, value: &Value<'_>)
where
    DB: Database,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
{
    match value {
        Value::Int(number) => row.push_bind(*number),
        Value::MaybeInt(number) => row.push_bind(*number),
        Value::Text(text) => row.push_bind(text.as_ref()),
    };
}
