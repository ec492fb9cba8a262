//! Timetable upserts, opening and closing train-dates, listing and stats.

use super::{Engine, EngineError};
use crate::actor::{Read, Verify};
use crate::catalog::{Catalog, UpsertOutcome};
use crate::domain::command::Command;
use crate::domain::plan::TrainPlan;
use crate::domain::state::{SalesStatus, TrainDateKey, TrainDateTotals};
use crate::domain::timetable::TimetableError;
use crate::domain::timetable::{Station, TrainTemplate};
use crate::error::NotFound;
use chrono::{Days, NaiveDate};
use std::sync::Arc;

/// Most train-dates one `open_train_dates` call opens: 14,000 trains × 15
/// days with room to spare, while still bounding one admin call.
pub const TRAIN_DATES_PER_OPEN_MAX: usize = 1_000_000;
/// Longest date range one open call covers; the longest presale 12306 has
/// used is 60 days.
pub const OPEN_RANGE_DAYS_MAX: u64 = 90;
/// Latest date that may be opened, in days after today: no railway sells
/// further ahead (12306's longest presale has been 60 days), and a typo such
/// as 9999-12-31 should not open a train-date that lives forever.
pub const OPEN_AHEAD_DAYS_MAX: u64 = 90;
/// Most train-dates one ListTrainDates page returns.
pub const TRAIN_DATES_PER_PAGE_MAX: usize = 1000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenSummary {
    pub opened: usize,
    pub already_open: usize,
    /// Dates whose run is already over (and retired): never opened again.
    pub finished: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainDateSummary {
    pub key: TrainDateKey,
    pub sales: SalesStatus,
    pub totals: TrainDateTotals,
    pub seat_count: u32,
    pub stop_count: usize,
    /// Messages waiting in its mailbox when the summary was taken.
    pub mailbox_depth: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainDatePage {
    pub train_dates: Vec<TrainDateSummary>,
    /// Key after which the next page starts, if there is one.
    pub next_after: Option<TrainDateKey>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub train_dates: usize,
    /// Threads running actors.
    pub arbiters: usize,
    pub stations: usize,
    pub trains: usize,
    /// Orders in the global index, in any status.
    pub orders: usize,
    /// Orders held and not yet paid, cancelled or expired.
    pub held_orders: u64,
    pub held_tickets: u64,
    /// Tickets confirmed (paid) and not refunded.
    pub sold_tickets: u64,
    /// Messages waiting over all mailboxes.
    pub mailbox_depth_total: u64,
    /// The deepest single mailbox; `busiest` names it.
    pub mailbox_depth_max: u64,
    /// The train-date with the deepest mailbox, if any has a queue.
    pub busiest: Option<TrainDateKey>,
    /// Holds refused by the sold-out gate without entering a mailbox.
    pub sold_out_gate_rejections: u64,
    /// Waitlist choices waiting or reserved, over every queue.
    pub waitlist_waiting: u64,
    /// Every non-empty waitlist queue: train-date, class, choices in it.
    pub waitlist_queues: Vec<(TrainDateKey, crate::domain::seat_class::SeatClass, u32)>,
}

impl Engine {
    /// Adds or replaces stations; all or none, saved before they take effect.
    pub async fn upsert_stations(&self, stations: &[Station]) -> Result<usize, EngineError> {
        Catalog::validate_stations(stations).map_err(station_error)?;
        self.persist("stations", |store| store.upsert_stations(stations.to_vec())).await?;
        self.catalog.upsert_stations(stations).map_err(station_error)?;
        Ok(stations.len())
    }

    /// Adds or replaces a train's template. Open train-dates keep their copy.
    pub async fn upsert_train(&self, template: TrainTemplate) -> Result<UpsertOutcome, EngineError> {
        let outcome = self.catalog.prepare_train(&template).map_err(train_error)?;
        if outcome != UpsertOutcome::Unchanged {
            let now_ms = self.now_ms();
            self.persist("train", |store| store.upsert_train(template.clone(), now_ms)).await?;
            self.catalog.upsert_train(template).map_err(train_error)?;
        }
        Ok(outcome)
    }

    /// Opens one train-date from the train's current template. Opening an
    /// open train-date changes nothing and answers `false`.
    pub async fn open_train_date(&self, train: &str, date: NaiveDate) -> Result<bool, EngineError> {
        if self.catalog.train(train).is_none() {
            return Err(NotFound::Train(train.to_owned()).into());
        }
        self.check_open_window("train_date.date", date)?;
        let summary = self.open_train_dates(&[train.to_owned()], date, date).await?;
        if summary.finished == 1 {
            return Err(EngineError::invalid("train_date.date", format!("{train} of {date} has finished its run")));
        }
        Ok(summary.opened == 1)
    }

    /// Opens every date from `first` to `last` inclusive for each train in
    /// `trains`, or for every train when `trains` is empty. The new
    /// train-dates are saved before their actors start.
    pub async fn open_train_dates(
        &self,
        trains: &[String],
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<OpenSummary, EngineError> {
        let trains = self.trains_to_open(trains, first, last)?;
        let mut summary = OpenSummary::default();
        let mut wanted = Vec::new();
        let now_ms = self.now_ms();
        for (train, plan) in &trains {
            for day in 0..=(last - first).num_days() as u64 {
                let key = TrainDateKey::new(train.clone(), first + Days::new(day));
                if super::presale::run_finished(key.date, &plan.template, now_ms) {
                    summary.finished += 1;
                } else if self.registry.get(&key).is_some() {
                    summary.already_open += 1;
                } else {
                    wanted.push((key, Arc::clone(plan)));
                }
            }
        }
        let rows: Vec<(TrainDateKey, TrainTemplate)> =
            wanted.iter().map(|(key, plan)| (key.clone(), plan.template.clone())).collect();
        if !rows.is_empty() {
            self.persist("train-dates", |store| store.insert_train_dates(rows, now_ms)).await?;
        }
        for (key, plan) in wanted {
            if !self.serves(&key) {
                // In a cluster, the slot's owner starts it (stored above, so
                // an owner adopting the slot later finds it too).
                continue;
            }
            if self.registry.open_with(key.clone(), || self.spawn(key, plan)) {
                summary.opened += 1;
            } else {
                summary.already_open += 1;
            }
        }
        Ok(summary)
    }

    /// Checks an open request and resolves its trains to their current plans.
    fn trains_to_open(
        &self,
        trains: &[String],
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<(String, Arc<TrainPlan>)>, EngineError> {
        if last < first {
            return Err(EngineError::invalid("last_date", "must not be before first_date"));
        }
        let days = (last - first).num_days() as u64 + 1;
        if days > OPEN_RANGE_DAYS_MAX {
            return Err(EngineError::invalid(
                "last_date",
                format!("a range covers at most {OPEN_RANGE_DAYS_MAX} days"),
            ));
        }
        self.check_open_window("last_date", last)?;
        let trains = if trains.is_empty() { self.catalog.train_codes() } else { trains.to_vec() };
        if trains.len() as u64 * days > TRAIN_DATES_PER_OPEN_MAX as u64 {
            return Err(EngineError::invalid(
                "trains",
                format!("one call opens at most {TRAIN_DATES_PER_OPEN_MAX} train-dates"),
            ));
        }
        trains
            .into_iter()
            .enumerate()
            .map(|(index, train)| match self.catalog.train(&train) {
                Some(plan) => Ok((train, plan)),
                None => Err(EngineError::invalid(format!("trains[{index}]"), format!("no train {train:?}"))),
            })
            .collect()
    }

    /// INVALID_ARGUMENT naming `field` if `date` is more than
    /// `OPEN_AHEAD_DAYS_MAX` days after today.
    fn check_open_window(&self, field: &str, date: NaiveDate) -> Result<(), EngineError> {
        let latest = self.today() + Days::new(OPEN_AHEAD_DAYS_MAX);
        if date > latest {
            return Err(EngineError::invalid(field, format!("{date} is after {latest}, the latest date that opens")));
        }
        Ok(())
    }

    /// Stops new holds on a train-date; idempotent.
    pub async fn close_sales(&self, key: &TrainDateKey) -> Result<(), EngineError> {
        let handle = self.handle(key)?;
        self.execute(key, &handle, Command::CloseSales, None).await?;
        Ok(())
    }

    /// Open train-dates in (date, train) order, after `after`, optionally of one date.
    pub fn list_train_dates(
        &self,
        date: Option<NaiveDate>,
        after: Option<&TrainDateKey>,
        limit: usize,
    ) -> TrainDatePage {
        let limit = limit.clamp(1, TRAIN_DATES_PER_PAGE_MAX);
        let mut keys: Vec<TrainDateKey> = self
            .registry
            .sorted_keys()
            .into_iter()
            .filter(|key| date.is_none_or(|date| key.date == date))
            .filter(|key| after.is_none_or(|after| key > after))
            .take(limit + 1)
            .collect();
        let more = keys.len() > limit;
        keys.truncate(limit);
        let train_dates: Vec<TrainDateSummary> = keys.iter().filter_map(|key| self.summary(key)).collect();
        TrainDatePage { next_after: if more { keys.last().cloned() } else { None }, train_dates }
    }

    fn summary(&self, key: &TrainDateKey) -> Option<TrainDateSummary> {
        let handle = self.registry.get(key)?;
        let view = handle.shared.view.load();
        Some(TrainDateSummary {
            key: key.clone(),
            sales: view.sales,
            totals: view.totals,
            seat_count: view.plan.seat_count(),
            stop_count: view.plan.stop_count(),
            mailbox_depth: handle.mailbox_depth(),
        })
    }

    /// Totals over every train-date, from the published views.
    pub fn stats(&self) -> EngineStats {
        let mut stats = EngineStats {
            train_dates: self.registry.len(),
            arbiters: self.host.arbiter_count(),
            stations: self.catalog.station_count(),
            trains: self.catalog.train_count(),
            orders: self.orders.order_count(),
            sold_out_gate_rejections: self.sold_out_gate_rejections.load(std::sync::atomic::Ordering::Relaxed),
            ..EngineStats::default()
        };
        self.registry.for_each(|key, handle| {
            let view = handle.shared.view.load();
            stats.held_orders += u64::from(view.totals.held_orders);
            stats.held_tickets += u64::from(view.totals.held_tickets);
            stats.sold_tickets += u64::from(view.totals.sold_tickets);
            for (class, waiting) in &view.waitlist {
                stats.waitlist_waiting += u64::from(*waiting);
                stats.waitlist_queues.push((key.clone(), *class, *waiting));
            }
            let depth = handle.mailbox_depth() as u64;
            stats.mailbox_depth_total += depth;
            if depth > stats.mailbox_depth_max {
                stats.mailbox_depth_max = depth;
                stats.busiest = Some(key.clone());
            }
        });
        stats.waitlist_queues.sort();
        stats
    }

    /// Asks every train-date to recount and compare; the first failure, if any.
    pub async fn verify_all(&self) -> Result<usize, EngineError> {
        let keys = self.registry.sorted_keys();
        for key in &keys {
            let handle = self.handle(key)?;
            let verdict = handle.ask(key, Read(Verify)).await??;
            verdict.map_err(|detail| EngineError::InvariantBroken { key: key.clone(), detail })?;
        }
        Ok(keys.len())
    }

    /// Runs every train-date's expiry sweep now; the number of holds released.
    pub async fn expire_due_now(&self) -> Result<usize, EngineError> {
        let mut expired = 0;
        for key in self.registry.sorted_keys() {
            let handle = self.handle(&key)?;
            expired += self.execute(&key, &handle, Command::ExpireHolds, None).await?.events;
        }
        Ok(expired)
    }
}

fn station_error((index, error): (usize, TimetableError)) -> EngineError {
    EngineError::invalid(format!("stations[{index}].{}", error.field), error.reason)
}

fn train_error(error: TimetableError) -> EngineError {
    EngineError::invalid(format!("train.{}", error.field), error.reason)
}
