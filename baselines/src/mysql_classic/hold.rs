//! A hold from the application's statements ([`HoldPath::Statements`](super::HoldPath::Statements)),
//! in the steps the module docs number: precheck, then in one transaction
//! lock the class, pick the seats, and write the order, masks, counts and
//! tickets.

use super::retry::{ER_DUP_ENTRY, mysql_error_number, retrying};
use super::writes::{adjust_counts, set_masks};
use super::{HoldPath, MysqlClassic};
use crate::layout::class_code;
use crate::model::{BaselineError, HoldOutcome, HoldRequest, OrderStatus};
use crate::overlap::{FlipRegion, grouped_regions, journey_bits};
use sqlx::mysql::MySqlConnection;
use sqlx::query::QueryScalar;
use sqlx::{Connection, Database, MySql, QueryBuilder};

/// The journey's count and any order this request already made, in one
/// round trip and without locks.
const PRECHECK: &str = "SELECT \
    (SELECT count FROM remaining WHERE train_date = ? AND class = ? AND from_stop = ? AND to_stop = ?), \
    (SELECT order_id FROM orders WHERE train_date = ? AND user_id = ? AND request_id = ?)";
/// The class's mutex: every hold and cancel locks this row first (see the module docs).
pub(super) const LOCK_CLASS: &str =
    "SELECT stop_count FROM train_classes WHERE train_date = ? AND class = ? FOR UPDATE";
const LOCK_COUNT: &str =
    "SELECT count FROM remaining WHERE train_date = ? AND class = ? AND from_stop = ? AND to_stop = ? FOR UPDATE";
const PICK_SEATS: &str = "SELECT seat_id, sold_mask FROM seats \
    WHERE train_date = ? AND class = ? AND (sold_mask & ?) = 0 ORDER BY seat_id LIMIT ? FOR UPDATE";
const FIND_ORDER: &str = "SELECT order_id FROM orders WHERE train_date = ? AND user_id = ? AND request_id = ?";
const INSERT_ORDER: &str = "INSERT INTO orders \
    (train_date, class, from_stop, to_stop, user_id, request_id, status) VALUES (?, ?, ?, ?, ?, ?, ?)";
/// The overlap rule as a rectangle (see `overlap`): one statement per free run.
const DECREMENT_COUNTS: &str = "UPDATE remaining SET count = count - ? \
    WHERE train_date = ? AND class = ? AND from_stop BETWEEN ? AND ? AND to_stop BETWEEN ? AND ?";

/// A seat the pick found free for the journey: its id and its sold mask then.
type FreeSeat = (u32, u64);

impl MysqlClassic {
    /// Holds one seat per passenger, or nothing (see the module docs for the
    /// transaction), retrying deadlocks and lock-wait timeouts.
    pub async fn hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        request.validate(crate::layout::STOPS_MAX)?;
        match self.hold_path {
            HoldPath::Statements => retrying(|| self.try_hold(request)).await,
            HoldPath::Procedure => retrying(|| self.try_hold_procedure(request)).await,
        }
    }

    /// One attempt: precheck, then lock, pick and write in one transaction.
    async fn try_hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        let wanted = request.passengers.len() as u32;
        let mut conn = self.pool.acquire().await?;
        if let Some(answer) = precheck(&mut conn, request, wanted).await? {
            return Ok(answer);
        }

        let mut tx = conn.begin().await?;
        let last_stop = lock_class(&mut tx, request).await?;
        let seats = pick_seats(&mut tx, request, wanted).await?;
        if seats.len() < wanted as usize {
            let answer = refuse_short(&mut tx, request, seats.len()).await?;
            tx.rollback().await?;
            return Ok(answer);
        }
        let Some(order_id) = insert_order(&mut tx, request).await? else {
            // A concurrent repeat of this request committed first.
            tx.rollback().await?;
            let order_id: u64 = find_order(request).fetch_one(&mut *conn).await?;
            return Ok(HoldOutcome::Duplicate { order_id });
        };
        let seat_ids = write_hold(&mut tx, request, order_id, &seats, last_stop).await?;
        tx.commit().await?;
        Ok(HoldOutcome::Held { order_id, seats: seat_ids })
    }
}

/// Step 1, outside a transaction: a repeat of this request or a sold-out
/// journey is answered here, without taking a lock. `None` means go on.
async fn precheck(
    conn: &mut MySqlConnection,
    request: &HoldRequest,
    wanted: u32,
) -> Result<Option<HoldOutcome>, BaselineError> {
    let train_date = request.train_date.as_str();
    let (left, existing): (Option<u32>, Option<u64>) = sqlx::query_as(PRECHECK)
        .bind(train_date)
        .bind(class_code(request.class))
        .bind(request.from as u8)
        .bind(request.to as u8)
        .bind(train_date)
        .bind(&request.user_id)
        .bind(&request.request_id)
        .fetch_one(&mut *conn)
        .await?;
    if let Some(order_id) = existing {
        return Ok(Some(HoldOutcome::Duplicate { order_id }));
    }
    match left {
        None => Err(unknown_journey(request)),
        Some(left) if left < wanted => Ok(Some(HoldOutcome::SoldOut)),
        Some(_) => Ok(None),
    }
}

/// Lock: the class row `FOR UPDATE`, the class's mutex. Returns the class's
/// last stop.
async fn lock_class(conn: &mut MySqlConnection, request: &HoldRequest) -> Result<usize, BaselineError> {
    let stop_count: Option<u8> = sqlx::query_scalar(LOCK_CLASS)
        .bind(request.train_date.as_str())
        .bind(class_code(request.class))
        .fetch_optional(&mut *conn)
        .await?;
    let Some(stop_count) = stop_count else { return Err(unknown_journey(request)) };
    Ok(usize::from(stop_count) - 1)
}

/// Pick: the first `wanted` seats free for the journey, in seat order, locked.
async fn pick_seats(
    conn: &mut MySqlConnection,
    request: &HoldRequest,
    wanted: u32,
) -> Result<Vec<FreeSeat>, BaselineError> {
    Ok(sqlx::query_as(PICK_SEATS)
        .bind(request.train_date.as_str())
        .bind(class_code(request.class))
        .bind(journey_bits(request.from, request.to))
        .bind(wanted)
        .fetch_all(&mut *conn)
        .await?)
}

/// The pick found `found`, too few seats: sold out since the precheck, or a
/// repeat of this request took the last seats. The count, read under the
/// class lock, must agree with the seats found.
async fn refuse_short(
    conn: &mut MySqlConnection,
    request: &HoldRequest,
    found: usize,
) -> Result<HoldOutcome, BaselineError> {
    let (train_date, class) = (request.train_date.as_str(), class_code(request.class));
    let (from, to) = (request.from, request.to);
    let left: u32 = sqlx::query_scalar(LOCK_COUNT)
        .bind(train_date)
        .bind(class)
        .bind(from as u8)
        .bind(to as u8)
        .fetch_one(&mut *conn)
        .await?;
    if left as usize != found {
        return Err(BaselineError::Drift(format!(
            "{train_date} class {class} {from}..{to}: count {left} but {found} free seats"
        )));
    }
    let existing: Option<u64> = find_order(request).fetch_optional(&mut *conn).await?;
    Ok(existing.map_or(HoldOutcome::SoldOut, |order_id| HoldOutcome::Duplicate { order_id }))
}

/// Write, first: the order row. `None` when its request key is taken, by a
/// concurrent repeat of this request.
async fn insert_order(conn: &mut MySqlConnection, request: &HoldRequest) -> Result<Option<u64>, BaselineError> {
    let inserted = sqlx::query(INSERT_ORDER)
        .bind(request.train_date.as_str())
        .bind(class_code(request.class))
        .bind(request.from as u8)
        .bind(request.to as u8)
        .bind(&request.user_id)
        .bind(&request.request_id)
        .bind(OrderStatus::Held.code())
        .execute(&mut *conn)
        .await;
    match inserted {
        Ok(result) => Ok(Some(result.last_insert_id())),
        Err(error) if mysql_error_number(&error) == Some(ER_DUP_ENTRY) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Write, then: the journey's bits on the chosen seats, the counts by the
/// overlap rule, and one ticket per passenger. Returns the seat ids.
async fn write_hold(
    conn: &mut MySqlConnection,
    request: &HoldRequest,
    order_id: u64,
    seats: &[FreeSeat],
    last_stop: usize,
) -> Result<Vec<u32>, BaselineError> {
    let (train_date, class) = (request.train_date.as_str(), class_code(request.class));
    let (from, to) = (request.from, request.to);
    let seat_ids: Vec<u32> = seats.iter().map(|(seat, _)| *seat).collect();
    set_masks(conn, "sold_mask | ", journey_bits(from, to), train_date, class, &seat_ids).await?;
    let regions = grouped_regions(seats.iter().map(|(_, mask)| FlipRegion::new(*mask, from, to, last_stop)));
    adjust_counts(conn, DECREMENT_COUNTS, train_date, class, &regions).await?;

    let mut tickets = QueryBuilder::<MySql>::new("INSERT INTO tickets (order_id, seat_id, passenger_name, id_number) ");
    tickets.push_values(seat_ids.iter().zip(&request.passengers), |mut row, (seat, passenger)| {
        row.push_bind(order_id).push_bind(*seat).push_bind(&passenger.name).push_bind(&passenger.id_number);
    });
    tickets.build().execute(&mut *conn).await?;
    Ok(seat_ids)
}

/// The query for the order this request already made.
fn find_order(request: &HoldRequest) -> QueryScalar<'_, MySql, u64, <MySql as Database>::Arguments> {
    sqlx::query_scalar(FIND_ORDER).bind(request.train_date.as_str()).bind(&request.user_id).bind(&request.request_id)
}

fn unknown_journey(request: &HoldRequest) -> BaselineError {
    BaselineError::UnknownTrainDate(format!(
        "{} (class {} {}..{})",
        request.train_date, request.class, request.from, request.to
    ))
}
