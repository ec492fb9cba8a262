//! The audit of the stored state, and of the acknowledged orders.

use super::MysqlClassic;
use crate::audit::{AuditReport, StoredSeat, StoredTicket};
use crate::model::{AckedOrder, BaselineError, OrderStatus};
use std::collections::HashMap;

impl MysqlClassic {
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
