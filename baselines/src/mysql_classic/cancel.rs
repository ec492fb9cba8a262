//! Cancel: release exactly this order's segments on its seats, give the
//! counts back, mark the order cancelled.

use super::MysqlClassic;
use super::hold::LOCK_CLASS;
use super::retry::retrying;
use super::writes::{adjust_counts, set_masks};
use crate::model::{BaselineError, CancelOutcome, OrderStatus};
use crate::overlap::{FlipRegion, grouped_regions, journey_bits};
use sqlx::Connection;
use sqlx::mysql::MySqlConnection;

const READ_ORDER: &str = "SELECT class, from_stop, to_stop, status FROM orders WHERE order_id = ? AND train_date = ?";
const LOCK_ORDER: &str = "SELECT status FROM orders WHERE order_id = ? FOR UPDATE";
const LOCK_ORDER_SEATS: &str = "SELECT s.seat_id, s.sold_mask FROM tickets t \
    JOIN seats s ON s.train_date = ? AND s.class = ? AND s.seat_id = t.seat_id \
    WHERE t.order_id = ? ORDER BY s.seat_id FOR UPDATE";
const INCREMENT_COUNTS: &str = "UPDATE remaining SET count = count + ? \
    WHERE train_date = ? AND class = ? AND from_stop BETWEEN ? AND ? AND to_stop BETWEEN ? AND ?";
const SET_STATUS: &str = "UPDATE orders SET status = ? WHERE order_id = ?";

/// The order being cancelled: where it is and what it holds.
struct OrderJourney<'a> {
    train_date: &'a str,
    order_id: u64,
    class: u8,
    from: usize,
    to: usize,
}

impl MysqlClassic {
    /// Releases exactly this order's segments on its seats (never another
    /// holder's bits), gives the counts back and marks it cancelled.
    pub async fn cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        retrying(|| self.try_cancel(train_date, order_id)).await
    }

    /// One attempt: read the order without locks, then lock the class, the
    /// order and its seats, and release them, in one transaction.
    async fn try_cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        let mut conn = self.pool.acquire().await?;
        let order: Option<(u8, u8, u8, u8)> =
            sqlx::query_as(READ_ORDER).bind(order_id).bind(train_date).fetch_optional(&mut *conn).await?;
        let Some((class, from, to, status)) = order else { return Ok(CancelOutcome::NotFound) };
        if status == OrderStatus::Cancelled.code() {
            return Ok(CancelOutcome::AlreadyCancelled);
        }
        let order = OrderJourney { train_date, order_id, class, from: usize::from(from), to: usize::from(to) };
        let mut tx = conn.begin().await?;
        let stop_count: u8 = sqlx::query_scalar(LOCK_CLASS).bind(train_date).bind(class).fetch_one(&mut *tx).await?;
        let last_stop = usize::from(stop_count) - 1;
        let status: u8 = sqlx::query_scalar(LOCK_ORDER).bind(order_id).fetch_one(&mut *tx).await?;
        if status == OrderStatus::Cancelled.code() {
            tx.rollback().await?;
            return Ok(CancelOutcome::AlreadyCancelled);
        }
        release(&mut tx, &order, last_stop).await?;
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled)
    }
}

/// Under the class and order locks: clears the order's bits on its seats,
/// gives the counts back by the overlap rule, and marks it cancelled.
async fn release(conn: &mut MySqlConnection, order: &OrderJourney<'_>, last_stop: usize) -> Result<(), BaselineError> {
    let OrderJourney { train_date, order_id, class, from, to } = *order;
    let seats: Vec<(u32, u64)> =
        sqlx::query_as(LOCK_ORDER_SEATS).bind(train_date).bind(class).bind(order_id).fetch_all(&mut *conn).await?;
    if seats.is_empty() {
        return Err(BaselineError::Drift(format!("{train_date} order {order_id} has no tickets")));
    }
    let regions = released_regions(order, &seats, last_stop)?;
    let seat_ids: Vec<u32> = seats.iter().map(|(seat, _)| *seat).collect();
    set_masks(conn, "sold_mask & ", !journey_bits(from, to), train_date, class, &seat_ids).await?;
    adjust_counts(conn, INCREMENT_COUNTS, train_date, class, &grouped_regions(regions)).await?;
    sqlx::query(SET_STATUS).bind(OrderStatus::Cancelled.code()).bind(order_id).execute(&mut *conn).await?;
    Ok(())
}

/// The counts each seat gives back, once the order's bits are off it; a seat
/// without all of the order's bits means the state drifted.
fn released_regions(
    order: &OrderJourney<'_>,
    seats: &[(u32, u64)],
    last_stop: usize,
) -> Result<Vec<FlipRegion>, BaselineError> {
    let OrderJourney { train_date, order_id, from, to, .. } = *order;
    let bits = journey_bits(from, to);
    let mut regions = Vec::with_capacity(seats.len());
    for (seat, mask) in seats {
        if mask & bits != bits {
            return Err(BaselineError::Drift(format!(
                "{train_date} order {order_id}: seat {seat} mask {mask:#b} lacks its segments {from}..{to}"
            )));
        }
        regions.push(FlipRegion::new(mask & !bits, from, to, last_stop));
    }
    Ok(regions)
}
