//! Confirm: one single-row UPDATE of the order's status.

use super::MysqlClassic;
use super::retry::retrying;
use crate::model::{BaselineError, ConfirmOutcome, OrderStatus};

const CONFIRM: &str = "UPDATE orders SET status = ? WHERE order_id = ? AND train_date = ? AND status = ?";
const ORDER_STATUS: &str = "SELECT status FROM orders WHERE order_id = ? AND train_date = ?";

impl MysqlClassic {
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
}
