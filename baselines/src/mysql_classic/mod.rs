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
//!
//! Files, by operation:
//! - `schema`: the tables and the stored procedure; opening a train-date.
//! - `hold`: a hold from statements, as precheck, lock, pick and write steps.
//! - `procedure`: the same hold as one stored-procedure call.
//! - `confirm`: confirming a held order.
//! - `cancel`: cancelling an order, releasing only its own segments.
//! - `audit`: the audit of stored state and acknowledged orders.
//! - `writes`: the seat-mask and overlap-rule count updates hold and cancel share.
//! - `retry`: retrying deadlocks and lock-wait timeouts.

mod audit;
mod cancel;
mod confirm;
mod hold;
mod procedure;
mod retry;
mod schema;
mod writes;

use crate::model::BaselineError;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Executor};
use std::time::Duration;

/// A deadlock or lock-wait timeout is retried this many times in all before
/// the error is returned; more would hide a lock-order bug as latency.
pub const TRANSACTION_ATTEMPTS_MAX: u32 = 4;

/// Session lock-wait timeout: a class queue at 256 clients drains in well
/// under a second, so waiting longer than this means something is stuck, and
/// the retry (or the error) is better than the server's 50-second default.
pub const LOCK_WAIT_TIMEOUT_SECS: u32 = 5;

/// How long a caller waits for a pooled connection: at 256 clients on a
/// 16-connection pool the queue is long but drains in milliseconds, so a
/// minute means the server is gone, not busy.
const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The classic MySQL baseline: a connection pool and the statements of this
/// module's files. Stateless apart from the pool, as an application server would be.
#[derive(Clone)]
pub struct MysqlClassic {
    /// Every connection at REPEATABLE READ with a short lock-wait timeout (see `connect`).
    pool: MySqlPool,
    /// Whether holds go as statements or as one procedure call.
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

    /// The pool, for callers that read server settings.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
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
