//! Retrying a transaction that hit a deadlock or a lock-wait timeout.

use super::TRANSACTION_ATTEMPTS_MAX;
use crate::model::BaselineError;
use std::time::Duration;

/// Backoff before retry `n` is `n` times this, so retried transactions do not
/// collide again at once.
const RETRY_BACKOFF: Duration = Duration::from_millis(2);

/// MySQL error numbers worth retrying.
const ER_LOCK_DEADLOCK: u16 = 1213;
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// A unique key taken: for a hold, a concurrent repeat of its request.
pub(super) const ER_DUP_ENTRY: u16 = 1062;

/// Runs a transaction, again after a deadlock or lock-wait timeout, up to
/// [`TRANSACTION_ATTEMPTS_MAX`] attempts.
pub(super) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, BaselineError>
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

pub(super) fn mysql_error_number(error: &sqlx::Error) -> Option<u16> {
    let database = error.as_database_error()?;
    Some(database.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?.number())
}
