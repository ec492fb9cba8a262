//! The classic relational design, in MySQL/InnoDB transactions.
//!
//! Schema (one row per seat, one per (class, from, to) count):
//! - `train_classes(train_date, class)`: one row per class of a train-date; its
//!   row lock is the class's mutex, and it carries the stop count.
//! - `seats(train_date, class, seat_id, carriage, seat_code, sold_mask)`: bit k
//!   of `sold_mask` is segment k sold. Clustered on (train_date, class, seat_id),
//!   so first-fit is one range scan of the class in seat order with no
//!   secondary-index lookups; `UNIQUE(train_date, seat_id)` keeps seat ids unique.
//! - `remaining(train_date, class, from_stop, to_stop, count)`: seats of the
//!   class free for that journey, kept exact by the overlap rule.
//! - `orders(order_id, train_date, class, from_stop, to_stop, user_id,
//!   request_id, status)` with `UNIQUE(train_date, user_id, request_id)` for
//!   idempotency, and `tickets(order_id, seat_id, passenger_name, id_number)`.
//!
//! A hold, at REPEATABLE READ:
//! 1. Outside a transaction, one statement reads the journey's count and any
//!    order already made for this request: a sold-out journey or a repeat is
//!    answered without taking a lock.
//! 2. `BEGIN`; lock the `train_classes` row `FOR UPDATE` (the class mutex);
//!    `SELECT seat_id, sold_mask ... WHERE (sold_mask & journey) = 0 ORDER BY
//!    seat_id LIMIT n FOR UPDATE` (first-fit). Fewer than n rows means the
//!    journey sold out since step 1: the count is read `FOR UPDATE`, must equal
//!    the rows found (else the counts drifted), and the hold is refused.
//!    Otherwise insert the order (a duplicate key means a concurrent repeat:
//!    roll back and return its order); set the journey's bits on the chosen
//!    seats in one statement; decrement the counts, one range `UPDATE` per
//!    distinct free run with `count - k`; insert the tickets in one statement;
//!    `COMMIT`. That is 9 round trips for a hold whose seats share one free
//!    run; a refusal is usually answered by step 1 alone.
//!
//! Every hold and cancel locks the class row first, so the writers of one
//! (train-date, class) run one at a time and cannot deadlock with each other
//! whatever they lock next; confirm locks only its order row. Without the
//! class row, two holds on one class deadlock: each locks its own count row
//! (or its seats) and then needs rows the other holds, because applying the
//! overlap rule touches other journeys' counts. Holds on different classes or
//! train-dates never share a row. (The engine serializes a whole train-date
//! in one actor, so this is finer-grained than the engine.)
//! InnoDB releases row locks at commit before the redo-log flush, so the class
//! mutex is not held across the fsync, and commits of different transactions
//! still share a group flush.
//!
//! [`HoldPath::Procedure`] runs the same transaction as one stored-procedure
//! call (`hold_seats`), to show whether round trips are what limits it.
//!
//! Deadlocks (1213) and lock-wait timeouts (1205) are retried up to
//! [`TRANSACTION_ATTEMPTS_MAX`] times; with the lock order above they should
//! not happen, and the retry is a safety net.

use crate::audit::{AuditReport, StoredSeat, StoredTicket};
use crate::layout::{Layout, class_code};
use crate::model::{AckedOrder, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest, OrderStatus};
use crate::overlap::{FlipRegion, grouped_regions, journey_bits};
use sqlx::mysql::{MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, MySql, QueryBuilder};
use std::collections::HashMap;
use std::time::Duration;

/// A deadlock or lock-wait timeout is retried this many times in all before
/// the error is returned; more would hide a lock-order bug as latency.
pub const TRANSACTION_ATTEMPTS_MAX: u32 = 4;

/// Backoff before retry `n` is `n` times this, so retried transactions do not
/// collide again at once.
const RETRY_BACKOFF: Duration = Duration::from_millis(2);

/// Session lock-wait timeout: a class queue at 256 clients drains in well
/// under a second, so waiting longer than this means something is stuck, and
/// the retry (or the error) is better than the server's 50-second default.
pub const LOCK_WAIT_TIMEOUT_SECS: u32 = 5;

/// How long a caller waits for a pooled connection: at 256 clients on a
/// 16-connection pool the queue is long but drains in milliseconds, so a
/// minute means the server is gone, not busy.
const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// Rows per multi-row INSERT when opening a train-date: well under the
/// 65,535 placeholders of one statement (6 per seat row) and the packet limit.
const OPEN_ROWS_PER_INSERT: usize = 1_000;

/// MySQL error numbers worth retrying.
const ER_LOCK_DEADLOCK: u16 = 1213;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_DUP_ENTRY: u16 = 1062;

const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS train_classes (
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        stop_count TINYINT UNSIGNED NOT NULL,
        seat_count SMALLINT UNSIGNED NOT NULL,
        PRIMARY KEY (train_date, class)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS seats (
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        seat_id INT UNSIGNED NOT NULL,
        carriage TINYINT UNSIGNED NOT NULL,
        seat_code CHAR(4) CHARACTER SET ascii NOT NULL,
        sold_mask BIGINT UNSIGNED NOT NULL DEFAULT 0,
        PRIMARY KEY (train_date, class, seat_id),
        UNIQUE KEY seat (train_date, seat_id)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS remaining (
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        from_stop TINYINT UNSIGNED NOT NULL,
        to_stop TINYINT UNSIGNED NOT NULL,
        count INT UNSIGNED NOT NULL,
        PRIMARY KEY (train_date, class, from_stop, to_stop)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS orders (
        order_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        train_date VARCHAR(32) CHARACTER SET ascii NOT NULL,
        class TINYINT UNSIGNED NOT NULL,
        from_stop TINYINT UNSIGNED NOT NULL,
        to_stop TINYINT UNSIGNED NOT NULL,
        user_id VARCHAR(64) NOT NULL,
        request_id VARCHAR(64) NOT NULL,
        status TINYINT UNSIGNED NOT NULL,
        PRIMARY KEY (order_id),
        UNIQUE KEY request (train_date, user_id, request_id)
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS tickets (
        order_id BIGINT UNSIGNED NOT NULL,
        seat_id INT UNSIGNED NOT NULL,
        passenger_name VARCHAR(64) NOT NULL,
        id_number CHAR(18) CHARACTER SET ascii NOT NULL,
        PRIMARY KEY (order_id, seat_id)
    ) ENGINE=InnoDB",
];

/// The same hold as one stored procedure, for `HoldPath::Procedure`: the
/// transaction shape and lock order of [`MysqlClassic::hold`]'s statements,
/// in one round trip. The free run comes from bit arithmetic: the boarding
/// end is the bit count of the taken segments below `from` smeared down
/// (highest taken segment + 1), the alighting end is `to` plus the trailing
/// zeros of the mask above `to`.
const HOLD_PROCEDURE: &str = "
CREATE PROCEDURE hold_seats(
    IN p_train_date VARCHAR(32) CHARACTER SET ascii,
    IN p_class TINYINT UNSIGNED,
    IN p_from TINYINT UNSIGNED,
    IN p_to TINYINT UNSIGNED,
    IN p_user VARCHAR(64),
    IN p_request VARCHAR(64),
    IN p_passengers LONGTEXT)
proc: BEGIN
    DECLARE v_wanted, v_found, v_stops, v_start, v_end, v_run_start, v_run_end, v_run_seats INT DEFAULT 0;
    DECLARE v_left INT;
    DECLARE v_done BOOL DEFAULT FALSE;
    DECLARE v_bits, v_mask, v_below, v_above BIGINT UNSIGNED DEFAULT 0;
    DECLARE v_seat INT UNSIGNED;
    DECLARE v_order BIGINT UNSIGNED;
    DECLARE v_seats VARCHAR(255) DEFAULT '';
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
    DECLARE EXIT HANDLER FOR 1062
    BEGIN
        ROLLBACK;
        SELECT 2 AS outcome, (SELECT order_id FROM orders
            WHERE train_date = p_train_date AND user_id = p_user AND request_id = p_request) AS order_id, '' AS seats;
    END;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;

    SET v_wanted = JSON_LENGTH(p_passengers);
    SET v_bits = ((1 << (p_to - p_from)) - 1) << p_from;
    SET v_order = (SELECT order_id FROM orders
        WHERE train_date = p_train_date AND user_id = p_user AND request_id = p_request);
    IF v_order IS NOT NULL THEN
        SELECT 2 AS outcome, v_order AS order_id, '' AS seats;
        LEAVE proc;
    END IF;
    SET v_left = (SELECT count FROM remaining
        WHERE train_date = p_train_date AND class = p_class AND from_stop = p_from AND to_stop = p_to);
    IF v_left IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown train-date, class or journey';
    END IF;
    IF v_left < v_wanted THEN
        SELECT 0 AS outcome, NULL AS order_id, '' AS seats;
        LEAVE proc;
    END IF;

    START TRANSACTION;
    SELECT stop_count INTO v_stops FROM train_classes
        WHERE train_date = p_train_date AND class = p_class FOR UPDATE;
    INSERT INTO orders (train_date, class, from_stop, to_stop, user_id, request_id, status)
        VALUES (p_train_date, p_class, p_from, p_to, p_user, p_request, 1);
    SET v_order = LAST_INSERT_ID();
    SET v_run_start = -1;
    SET v_seat = 0;
    seat_loop: WHILE v_found < v_wanted DO
        -- One seat a statement, resuming after the last: a cursor would
        -- materialize its rows in a temporary table on every call.
        SELECT seat_id, sold_mask INTO v_seat, v_mask FROM seats
            WHERE train_date = p_train_date AND class = p_class AND seat_id >= v_seat
            AND (sold_mask & v_bits) = 0 ORDER BY seat_id LIMIT 1 FOR UPDATE;
        IF v_done THEN
            LEAVE seat_loop;
        END IF;
        UPDATE seats SET sold_mask = sold_mask | v_bits
            WHERE train_date = p_train_date AND class = p_class AND seat_id = v_seat;
        INSERT INTO tickets (order_id, seat_id, passenger_name, id_number) VALUES (v_order, v_seat,
            JSON_VALUE(p_passengers, CONCAT('$[', v_found, '].name')),
            JSON_VALUE(p_passengers, CONCAT('$[', v_found, '].id_number')));
        SET v_found = v_found + 1;
        SET v_seats = IF(v_seats = '', CAST(v_seat AS CHAR), CONCAT(v_seats, ',', v_seat));
        SET v_below = v_mask & ((1 << p_from) - 1);
        SET v_below = v_below | (v_below >> 1);
        SET v_below = v_below | (v_below >> 2);
        SET v_below = v_below | (v_below >> 4);
        SET v_below = v_below | (v_below >> 8);
        SET v_below = v_below | (v_below >> 16);
        SET v_below = v_below | (v_below >> 32);
        SET v_start = BIT_COUNT(v_below);
        SET v_above = v_mask >> p_to;
        SET v_end = IF(v_above = 0, v_stops - 1, p_to + BIT_COUNT(v_above ^ (v_above - 1)) - 1);
        IF v_start = v_run_start AND v_end = v_run_end THEN
            SET v_run_seats = v_run_seats + 1;
        ELSE
            IF v_run_seats > 0 THEN
                UPDATE remaining SET count = count - v_run_seats
                    WHERE train_date = p_train_date AND class = p_class
                    AND from_stop BETWEEN v_run_start AND p_to - 1 AND to_stop BETWEEN p_from + 1 AND v_run_end;
            END IF;
            SET v_run_start = v_start, v_run_end = v_end, v_run_seats = 1;
        END IF;
        SET v_seat = v_seat + 1;
    END WHILE;
    IF v_found < v_wanted THEN
        ROLLBACK;
        SELECT 0 AS outcome, NULL AS order_id, '' AS seats;
        LEAVE proc;
    END IF;
    UPDATE remaining SET count = count - v_run_seats
        WHERE train_date = p_train_date AND class = p_class
        AND from_stop BETWEEN v_run_start AND p_to - 1 AND to_stop BETWEEN p_from + 1 AND v_run_end;
    COMMIT;
    SELECT 1 AS outcome, v_order AS order_id, v_seats AS seats;
END";

/// The journey's count and any order this request already made, in one
/// round trip and without locks.
const PRECHECK: &str = "SELECT \
    (SELECT count FROM remaining WHERE train_date = ? AND class = ? AND from_stop = ? AND to_stop = ?), \
    (SELECT order_id FROM orders WHERE train_date = ? AND user_id = ? AND request_id = ?)";
const LOCK_CLASS: &str = "SELECT stop_count FROM train_classes WHERE train_date = ? AND class = ? FOR UPDATE";
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
const INCREMENT_COUNTS: &str = "UPDATE remaining SET count = count + ? \
    WHERE train_date = ? AND class = ? AND from_stop BETWEEN ? AND ? AND to_stop BETWEEN ? AND ?";
const READ_ORDER: &str = "SELECT class, from_stop, to_stop, status FROM orders WHERE order_id = ? AND train_date = ?";
const LOCK_ORDER: &str = "SELECT status FROM orders WHERE order_id = ? FOR UPDATE";
const LOCK_ORDER_SEATS: &str = "SELECT s.seat_id, s.sold_mask FROM tickets t \
    JOIN seats s ON s.train_date = ? AND s.class = ? AND s.seat_id = t.seat_id \
    WHERE t.order_id = ? ORDER BY s.seat_id FOR UPDATE";
const SET_STATUS: &str = "UPDATE orders SET status = ? WHERE order_id = ?";
const CONFIRM: &str = "UPDATE orders SET status = ? WHERE order_id = ? AND train_date = ? AND status = ?";
const ORDER_STATUS: &str = "SELECT status FROM orders WHERE order_id = ? AND train_date = ?";

/// How a hold reaches the server: the same transaction either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldPath {
    /// Statements from the application, 9 round trips a hold: the common shape.
    #[default]
    Statements,
    /// One `CALL hold_seats(...)`: the same transaction in a stored procedure,
    /// one round trip, for those who push hot paths into the database. It
    /// measured about 1.2× the statements path here (2,450–2,950 against
    /// 1,950–2,450 holds/s at 64 clients): round trips are the lesser cost;
    /// the server's work per hold (about 240 count rows updated) dominates.
    Procedure,
}

/// The classic MySQL baseline: a connection pool and the statements above.
/// Stateless apart from the pool, as an application server would be.
#[derive(Clone)]
pub struct MysqlClassic {
    pool: MySqlPool,
    hold_path: HoldPath,
}

impl MysqlClassic {
    /// Connects a pool of up to `connections` to the database in `url`; every
    /// connection runs at REPEATABLE READ with a [`LOCK_WAIT_TIMEOUT_SECS`]
    /// lock-wait timeout.
    pub async fn connect(url: &str, connections: u32) -> Result<Self, BaselineError> {
        let pool = MySqlPoolOptions::new()
            .max_connections(connections)
            .min_connections(connections)
            .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ").await?;
                    conn.execute(AssertSqlSafe(format!(
                        "SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_TIMEOUT_SECS}"
                    )))
                    .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(MysqlClassic { pool, hold_path: HoldPath::Statements })
    }

    /// Sends holds by `path` from now on.
    pub fn with_hold_path(mut self, path: HoldPath) -> Self {
        self.hold_path = path;
        self
    }

    /// Creates the tables if they are missing, and (re)creates the hold procedure.
    pub async fn create_schema(&self) -> Result<(), BaselineError> {
        for statement in SCHEMA {
            sqlx::query(statement).execute(&self.pool).await?;
        }
        // CREATE PROCEDURE cannot be prepared; it goes as plain text.
        sqlx::raw_sql("DROP PROCEDURE IF EXISTS hold_seats").execute(&self.pool).await?;
        sqlx::raw_sql(HOLD_PROCEDURE).execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for callers that read server settings.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Opens a train-date: one row per seat, every seat free, and one count
    /// row per (class, from, to) at the class's seat count, in one transaction.
    pub async fn open_train_date(&self, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
        let mut tx = self.pool.begin().await?;
        let mut classes =
            QueryBuilder::<MySql>::new("INSERT INTO train_classes (train_date, class, stop_count, seat_count) ");
        classes.push_values(layout.classes(), |mut row, class| {
            row.push_bind(train_date)
                .push_bind(class_code(*class))
                .push_bind(layout.stop_count() as u8)
                .push_bind(layout.class_seats(*class).len() as u16);
        });
        classes.build().execute(&mut *tx).await?;
        let seats: Vec<_> = layout.seats().iter().enumerate().collect();
        for chunk in seats.chunks(OPEN_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<MySql>::new(
                "INSERT INTO seats (train_date, class, seat_id, carriage, seat_code, sold_mask) ",
            );
            insert.push_values(chunk, |mut row, (seat_id, seat)| {
                row.push_bind(train_date)
                    .push_bind(class_code(seat.class))
                    .push_bind(*seat_id as u32)
                    .push_bind(seat.carriage)
                    .push_bind(seat.code.as_str())
                    .push_bind(0u64);
            });
            insert.build().execute(&mut *tx).await?;
        }
        let mut counts = Vec::new();
        for class in layout.classes() {
            let seat_count = layout.class_seats(*class).len() as u32;
            for from in 0..layout.stop_count() {
                for to in from + 1..layout.stop_count() {
                    counts.push((class_code(*class), from as u8, to as u8, seat_count));
                }
            }
        }
        for chunk in counts.chunks(OPEN_ROWS_PER_INSERT) {
            let mut insert =
                QueryBuilder::<MySql>::new("INSERT INTO remaining (train_date, class, from_stop, to_stop, count) ");
            insert.push_values(chunk, |mut row, (class, from, to, count)| {
                row.push_bind(train_date).push_bind(*class).push_bind(*from).push_bind(*to).push_bind(*count);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Holds one seat per passenger, or nothing (see the module docs for the
    /// transaction), retrying deadlocks and lock-wait timeouts.
    pub async fn hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        request.validate(crate::layout::STOPS_MAX)?;
        match self.hold_path {
            HoldPath::Statements => retrying(|| self.try_hold(request)).await,
            HoldPath::Procedure => retrying(|| self.try_hold_procedure(request)).await,
        }
    }

    async fn try_hold_procedure(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        let passengers = serde_json::to_string(&request.passengers).expect("passengers serialize");
        let rows: Vec<(i64, Option<u64>, String)> = sqlx::query_as("CALL hold_seats(?, ?, ?, ?, ?, ?, ?)")
            .bind(&request.train_date)
            .bind(class_code(request.class))
            .bind(request.from as u8)
            .bind(request.to as u8)
            .bind(&request.user_id)
            .bind(&request.request_id)
            .bind(passengers)
            .fetch_all(&self.pool)
            .await?;
        match rows.as_slice() {
            [(0, _, _)] => Ok(HoldOutcome::SoldOut),
            [(2, Some(order_id), _)] => Ok(HoldOutcome::Duplicate { order_id: *order_id }),
            [(1, Some(order_id), seats)] => {
                let seats = seats.split(',').map(|seat| seat.parse().ok()).collect::<Option<Vec<u32>>>();
                match seats {
                    Some(seats) if seats.len() == request.passengers.len() => {
                        Ok(HoldOutcome::Held { order_id: *order_id, seats })
                    }
                    _ => Err(BaselineError::Drift(format!("hold_seats returned seats {seats:?}"))),
                }
            }
            other => Err(BaselineError::Drift(format!("hold_seats returned {other:?}"))),
        }
    }

    async fn try_hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        let train_date = request.train_date.as_str();
        let class = class_code(request.class);
        let (from, to) = (request.from, request.to);
        let wanted = request.passengers.len() as u32;
        let mut conn = self.pool.acquire().await?;
        let (left, existing): (Option<u32>, Option<u64>) = sqlx::query_as(PRECHECK)
            .bind(train_date)
            .bind(class)
            .bind(from as u8)
            .bind(to as u8)
            .bind(train_date)
            .bind(&request.user_id)
            .bind(&request.request_id)
            .fetch_one(&mut *conn)
            .await?;
        if let Some(order_id) = existing {
            return Ok(HoldOutcome::Duplicate { order_id });
        }
        match left {
            None => return Err(unknown_journey(request)),
            Some(left) if left < wanted => return Ok(HoldOutcome::SoldOut),
            Some(_) => {}
        }

        let mut tx = conn.begin().await?;
        let stop_count: Option<u8> =
            sqlx::query_scalar(LOCK_CLASS).bind(train_date).bind(class).fetch_optional(&mut *tx).await?;
        let Some(stop_count) = stop_count else { return Err(unknown_journey(request)) };
        let last_stop = usize::from(stop_count) - 1;
        let bits = journey_bits(from, to);
        let seats: Vec<(u32, u64)> =
            sqlx::query_as(PICK_SEATS).bind(train_date).bind(class).bind(bits).bind(wanted).fetch_all(&mut *tx).await?;
        if seats.len() < wanted as usize {
            // Sold out since the precheck, or a repeat of this request took
            // the last seats; the count, read under the class lock, must agree.
            let left: u32 = sqlx::query_scalar(LOCK_COUNT)
                .bind(train_date)
                .bind(class)
                .bind(from as u8)
                .bind(to as u8)
                .fetch_one(&mut *tx)
                .await?;
            if left as usize != seats.len() {
                return Err(BaselineError::Drift(format!(
                    "{train_date} class {class} {from}..{to}: count {left} but {} free seats",
                    seats.len()
                )));
            }
            let existing: Option<u64> = sqlx::query_scalar(FIND_ORDER)
                .bind(train_date)
                .bind(&request.user_id)
                .bind(&request.request_id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(existing.map_or(HoldOutcome::SoldOut, |order_id| HoldOutcome::Duplicate { order_id }));
        }
        let inserted = sqlx::query(INSERT_ORDER)
            .bind(train_date)
            .bind(class)
            .bind(from as u8)
            .bind(to as u8)
            .bind(&request.user_id)
            .bind(&request.request_id)
            .bind(OrderStatus::Held.code())
            .execute(&mut *tx)
            .await;
        let order_id = match inserted {
            Ok(result) => result.last_insert_id(),
            Err(error) if mysql_error_number(&error) == Some(ER_DUP_ENTRY) => {
                // A concurrent repeat of this request committed first.
                tx.rollback().await?;
                let order_id: u64 = sqlx::query_scalar(FIND_ORDER)
                    .bind(train_date)
                    .bind(&request.user_id)
                    .bind(&request.request_id)
                    .fetch_one(&mut *conn)
                    .await?;
                return Ok(HoldOutcome::Duplicate { order_id });
            }
            Err(error) => return Err(error.into()),
        };

        let seat_ids: Vec<u32> = seats.iter().map(|(seat, _)| *seat).collect();
        set_masks(&mut tx, "sold_mask | ", bits, train_date, class, &seat_ids).await?;
        let regions = grouped_regions(seats.iter().map(|(_, mask)| FlipRegion::new(*mask, from, to, last_stop)));
        adjust_counts(&mut tx, DECREMENT_COUNTS, train_date, class, &regions).await?;

        let mut tickets =
            QueryBuilder::<MySql>::new("INSERT INTO tickets (order_id, seat_id, passenger_name, id_number) ");
        tickets.push_values(seat_ids.iter().zip(&request.passengers), |mut row, (seat, passenger)| {
            row.push_bind(order_id).push_bind(*seat).push_bind(&passenger.name).push_bind(&passenger.id_number);
        });
        tickets.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(HoldOutcome::Held { order_id, seats: seat_ids })
    }

    /// Releases exactly this order's segments on its seats (never another
    /// holder's bits), gives the counts back and marks it cancelled.
    pub async fn cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        retrying(|| self.try_cancel(train_date, order_id)).await
    }

    async fn try_cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        let mut conn = self.pool.acquire().await?;
        let order: Option<(u8, u8, u8, u8)> =
            sqlx::query_as(READ_ORDER).bind(order_id).bind(train_date).fetch_optional(&mut *conn).await?;
        let Some((class, from, to, status)) = order else { return Ok(CancelOutcome::NotFound) };
        if status == OrderStatus::Cancelled.code() {
            return Ok(CancelOutcome::AlreadyCancelled);
        }
        let (from, to) = (usize::from(from), usize::from(to));
        let mut tx = conn.begin().await?;
        let stop_count: u8 = sqlx::query_scalar(LOCK_CLASS).bind(train_date).bind(class).fetch_one(&mut *tx).await?;
        let last_stop = usize::from(stop_count) - 1;
        let status: u8 = sqlx::query_scalar(LOCK_ORDER).bind(order_id).fetch_one(&mut *tx).await?;
        if status == OrderStatus::Cancelled.code() {
            tx.rollback().await?;
            return Ok(CancelOutcome::AlreadyCancelled);
        }
        let seats: Vec<(u32, u64)> =
            sqlx::query_as(LOCK_ORDER_SEATS).bind(train_date).bind(class).bind(order_id).fetch_all(&mut *tx).await?;
        if seats.is_empty() {
            return Err(BaselineError::Drift(format!("{train_date} order {order_id} has no tickets")));
        }
        let bits = journey_bits(from, to);
        let mut regions = Vec::with_capacity(seats.len());
        for (seat, mask) in &seats {
            if mask & bits != bits {
                return Err(BaselineError::Drift(format!(
                    "{train_date} order {order_id}: seat {seat} mask {mask:#b} lacks its segments {from}..{to}"
                )));
            }
            regions.push(FlipRegion::new(mask & !bits, from, to, last_stop));
        }
        let seat_ids: Vec<u32> = seats.iter().map(|(seat, _)| *seat).collect();
        set_masks(&mut tx, "sold_mask & ", !bits, train_date, class, &seat_ids).await?;
        adjust_counts(&mut tx, INCREMENT_COUNTS, train_date, class, &grouped_regions(regions)).await?;
        sqlx::query(SET_STATUS).bind(OrderStatus::Cancelled.code()).bind(order_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled)
    }

    /// Marks a held order paid: one single-row UPDATE, durable on commit.
    pub async fn confirm(&self, train_date: &str, order_id: u64) -> Result<ConfirmOutcome, BaselineError> {
        retrying(|| async {
            let updated = sqlx::query(CONFIRM)
                .bind(OrderStatus::Confirmed.code())
                .bind(order_id)
                .bind(train_date)
                .bind(OrderStatus::Held.code())
                .execute(&self.pool)
                .await?;
            if updated.rows_affected() == 1 {
                return Ok(ConfirmOutcome::Confirmed);
            }
            let status: Option<u8> =
                sqlx::query_scalar(ORDER_STATUS).bind(order_id).bind(train_date).fetch_optional(&self.pool).await?;
            Ok(if status.is_some() { ConfirmOutcome::NotHeld } else { ConfirmOutcome::NotFound })
        })
        .await
    }

    /// Audits every train-date in the database (see `audit`), and that every
    /// order in `acked` is stored with its acknowledged state.
    pub async fn audit(&self, acked: &[AckedOrder]) -> Result<AuditReport, BaselineError> {
        let mut report = AuditReport::default();
        let train_dates: Vec<(String, u8)> =
            sqlx::query_as("SELECT train_date, MAX(stop_count) FROM train_classes GROUP BY train_date ORDER BY 1")
                .fetch_all(&self.pool)
                .await?;
        let mut stored = HashMap::new();
        for (train_date, stop_count) in train_dates {
            let mut tx = self.pool.begin().await?;
            let seats: Vec<(u32, u8, u64)> =
                sqlx::query_as("SELECT seat_id, class, sold_mask FROM seats WHERE train_date = ?")
                    .bind(&train_date)
                    .fetch_all(&mut *tx)
                    .await?;
            let counts: Vec<(u8, u8, u8, u32)> =
                sqlx::query_as("SELECT class, from_stop, to_stop, count FROM remaining WHERE train_date = ?")
                    .bind(&train_date)
                    .fetch_all(&mut *tx)
                    .await?;
            let tickets: Vec<(u64, u32, u8, u8)> = sqlx::query_as(
                "SELECT t.order_id, t.seat_id, o.from_stop, o.to_stop FROM orders o \
                 JOIN tickets t ON t.order_id = o.order_id WHERE o.train_date = ? AND o.status <> ?",
            )
            .bind(&train_date)
            .bind(OrderStatus::Cancelled.code())
            .fetch_all(&mut *tx)
            .await?;
            let orders: Vec<(u64, u8)> = sqlx::query_as("SELECT order_id, status FROM orders WHERE train_date = ?")
                .bind(&train_date)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            let seats: Vec<StoredSeat> =
                seats.into_iter().map(|(seat, class, mask)| StoredSeat { seat, class, mask }).collect();
            let counts: Vec<_> = counts
                .into_iter()
                .map(|(class, from, to, count)| (class, usize::from(from), usize::from(to), i64::from(count)))
                .collect();
            let tickets: Vec<StoredTicket> = tickets
                .into_iter()
                .map(|(order_id, seat, from, to)| StoredTicket {
                    order_id,
                    seat,
                    from: usize::from(from),
                    to: usize::from(to),
                })
                .collect();
            report.check_train_date(&train_date, usize::from(stop_count), &seats, &counts, &tickets);
            for (order_id, status) in orders {
                match OrderStatus::from_code(status) {
                    Some(status) => {
                        stored.insert((train_date.clone(), order_id), status);
                    }
                    None => report.problem(format!("{train_date} order {order_id} has status {status}")),
                }
            }
        }
        crate::audit::check_acked(&mut report, &stored, acked);
        Ok(report)
    }
}

/// Sets `sold_mask = sold_mask <op> value` on the given seats, in one statement.
async fn set_masks(
    conn: &mut MySqlConnection,
    operation: &'static str,
    value: u64,
    train_date: &str,
    class: u8,
    seats: &[u32],
) -> Result<(), BaselineError> {
    let mut update = QueryBuilder::<MySql>::new("UPDATE seats SET sold_mask = ");
    update.push(operation).push_bind(value);
    update.push(" WHERE train_date = ").push_bind(train_date).push(" AND class = ").push_bind(class);
    update.push(" AND seat_id IN (");
    let mut list = update.separated(", ");
    for seat in seats {
        list.push_bind(*seat);
    }
    update.push(")");
    let changed = update.build().execute(&mut *conn).await?.rows_affected();
    if changed != seats.len() as u64 {
        return Err(BaselineError::Drift(format!("{train_date}: {changed} of {} seat masks changed", seats.len())));
    }
    Ok(())
}

/// Applies the overlap rule: every pair in each region moves by the number
/// of seats sharing it, one range statement per region.
async fn adjust_counts(
    conn: &mut MySqlConnection,
    statement: &'static str,
    train_date: &str,
    class: u8,
    regions: &[(FlipRegion, u32)],
) -> Result<(), BaselineError> {
    for (region, seats) in regions {
        let changed = sqlx::query(statement)
            .bind(*seats)
            .bind(train_date)
            .bind(class)
            .bind(region.from_stops.0 as u8)
            .bind(region.from_stops.1 as u8)
            .bind(region.to_stops.0 as u8)
            .bind(region.to_stops.1 as u8)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if changed != region.pair_count() {
            return Err(BaselineError::Drift(format!(
                "{train_date} class {class}: {changed} of {} counts in {region:?} changed",
                region.pair_count()
            )));
        }
    }
    Ok(())
}

/// Runs a transaction, again after a deadlock or lock-wait timeout, up to
/// [`TRANSACTION_ATTEMPTS_MAX`] attempts.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, BaselineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BaselineError>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt().await {
            Err(BaselineError::Mysql(error)) if attempts < TRANSACTION_ATTEMPTS_MAX && is_retryable(&error) => {
                tokio::time::sleep(RETRY_BACKOFF * attempts).await;
            }
            outcome => return outcome,
        }
    }
}

fn is_retryable(error: &sqlx::Error) -> bool {
    matches!(mysql_error_number(error), Some(ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT))
}

fn mysql_error_number(error: &sqlx::Error) -> Option<u16> {
    let database = error.as_database_error()?;
    Some(database.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?.number())
}

fn unknown_journey(request: &HoldRequest) -> BaselineError {
    BaselineError::UnknownTrainDate(format!(
        "{} (class {} {}..{})",
        request.train_date, request.class, request.from, request.to
    ))
}

// Throwaway databases for runs and tests, the same way the journal's tests make theirs.
pub use persistence::test_support::{create_database, database_url, drop_database};

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_replaces_the_path() {
        assert_eq!(database_url("mysql://root@127.0.0.1:3306/test", "x"), "mysql://root@127.0.0.1:3306/x");
        assert_eq!(database_url("mysql://root@h:1", "x"), "mysql://root@h:1/x");
        assert_eq!(database_url("mysql://u:p@h/db?ssl-mode=disabled", "x"), "mysql://u:p@h/x?ssl-mode=disabled");
    }
}
