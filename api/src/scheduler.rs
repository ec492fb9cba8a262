//! The presale scheduler's timing: one pass at start-up, then one a day at
//! a configured service time (UTC+8).

use chrono::{NaiveTime, Timelike};
use engine::domain::state::SERVICE_UTC_OFFSET_MINUTES;
use engine::facade::Engine;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Runs the scheduler now and then daily at `at`, until the task is dropped.
pub async fn run_daily(engine: Arc<Engine>, at: NaiveTime) {
    loop {
        match engine.run_presale().await {
            Ok(run) => {
                info!(opened = run.opened, already_open = run.already_open, retired = run.retired, "presale run")
            }
            Err(error) => warn!(%error, "presale run failed; next attempt at the next scheduled time"),
        }
        tokio::time::sleep(until_next(engine.now_ms(), at)).await;
    }
}

/// Time from `now_ms` to the next `at` in service time (strictly later).
pub fn until_next(now_ms: u64, at: NaiveTime) -> Duration {
    const DAY_MS: i64 = 86_400_000;
    let local_ms = now_ms as i64 + SERVICE_UTC_OFFSET_MINUTES * 60_000;
    let into_day_ms = local_ms.rem_euclid(DAY_MS);
    let target_ms = i64::from(at.num_seconds_from_midnight()) * 1000;
    let wait_ms = (target_ms - into_day_ms).rem_euclid(DAY_MS);
    Duration::from_millis(if wait_ms == 0 { DAY_MS as u64 } else { wait_ms as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_is_later_today_or_tomorrow() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let six_am_ms = engine::domain::state::service_day_start_ms(date) + 6 * 3_600_000;
        let seven = NaiveTime::from_hms_opt(7, 0, 0).unwrap();
        assert_eq!(until_next(six_am_ms, seven), Duration::from_secs(3600));
        let five = NaiveTime::from_hms_opt(5, 0, 0).unwrap();
        assert_eq!(until_next(six_am_ms, five), Duration::from_secs(23 * 3600));
        let six = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        assert_eq!(until_next(six_am_ms, six).as_secs(), 24 * 3600);
    }
}
