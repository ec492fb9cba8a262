//! The presale scheduler's work: keep today..today+presale_days open for
//! every train, and retire train-dates whose run is over.

use super::{Engine, EngineError};
use crate::actor::Retire;
use crate::domain::state::{TrainDateKey, service_day_start_ms};

/// A train-date is retired this long after it reaches its terminus, so late
/// refunds and inquiries about a just-finished run still find it.
pub const RETIRE_AFTER_ARRIVAL_MS: u64 = 6 * 3_600_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresaleRun {
    /// Train-dates opened by this run.
    pub opened: usize,
    /// Train-dates in the window that were open already.
    pub already_open: usize,
    /// Finished train-dates archived and stopped.
    pub retired: usize,
}

impl Engine {
    /// One scheduler pass at the engine's current time.
    pub async fn run_presale(&self) -> Result<PresaleRun, EngineError> {
        let today = self.today();
        let last = today + chrono::Days::new(self.settings.presale_days);
        let opened = if self.catalog.train_count() == 0 {
            Default::default()
        } else {
            self.open_train_dates(&[], today, last).await?
        };
        let retired = self.retire_finished().await?;
        Ok(PresaleRun { opened: opened.opened, already_open: opened.already_open, retired })
    }

    /// Archives and stops every train-date that reached its terminus more
    /// than `RETIRE_AFTER_ARRIVAL_MS` ago.
    async fn retire_finished(&self) -> Result<usize, EngineError> {
        let now_ms = self.now_ms();
        let mut finished: Vec<TrainDateKey> =
            self.registry.sorted_keys().into_iter().filter(|key| self.finished_by(key, now_ms)).collect();
        if let (Some(_), Some(store)) = (self.slots(), self.store()) {
            // In a cluster the scheduler runs on one node: it archives every
            // finished train-date; their owners stop them as they sync.
            let stored = store.load_train_dates().await.map_err(|cause| EngineError::store("train-dates", cause))?;
            finished = stored
                .into_iter()
                .filter(|(key, template)| run_finished(key.date, template, now_ms))
                .map(|(key, _)| key)
                .collect();
        }
        if finished.is_empty() {
            return Ok(0);
        }
        let keys = finished.clone();
        self.persist("archived train-dates", |store| store.archive_train_dates(keys, now_ms)).await?;
        for key in &finished {
            let Some(handle) = self.registry.remove(key) else { continue };
            if let Ok(orders) = handle.ask(key, Retire).await {
                for (order_id, user) in orders {
                    self.orders.forget(&order_id, &user);
                }
            }
        }
        Ok(finished.len())
    }

    fn finished_by(&self, key: &TrainDateKey, now_ms: u64) -> bool {
        let Some(handle) = self.registry.get(key) else { return false };
        run_finished(key.date, &handle.shared.view.load().plan.template, now_ms)
    }
}

/// Whether a run of `plan` leaving on `date` reached its terminus more than
/// `RETIRE_AFTER_ARRIVAL_MS` before `now_ms`. Such a train-date is retired,
/// and is never opened (or reopened) again.
pub(super) fn run_finished(
    date: chrono::NaiveDate,
    template: &crate::domain::timetable::TrainTemplate,
    now_ms: u64,
) -> bool {
    let terminus = template.stops.last().expect("a train has stops");
    let arrival_ms = service_day_start_ms(date) + u64::from(terminus.time_minutes()) * 60_000;
    now_ms >= arrival_ms + RETIRE_AFTER_ARRIVAL_MS
}
