//! Start-up recovery: reload the timetable and every open train-date from the
//! store, in parallel, check each against a recount, and start its actor.

use super::{Engine, EngineError};
use crate::domain::plan::TrainPlan;
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::domain::timetable::TrainTemplate;
use crate::durability::StoreError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tracing::info;

/// Train-dates loaded by one store call: a takeover recovers tens of
/// thousands, and one round trip per train-date (two queries each) cost more
/// than the replay itself. 64 is the largest statement shape the SQL journal
/// uses, so a batch is one snapshot query and one tail query.
pub const RECOVERY_BATCH_TRAIN_DATES: usize = 64;
/// Batches loading at once: enough to keep the database and both cores busy
/// without holding thousands of half-loaded states (4 × 64 = 256).
pub const RECOVERY_BATCHES_IN_FLIGHT: usize = 4;
/// How often recovery logs its progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoverySummary {
    pub stations: usize,
    pub trains: usize,
    pub train_dates: usize,
    /// Events replayed on top of snapshots, over all train-dates.
    pub orders: usize,
    /// Wall time from the first read to the last actor started.
    pub elapsed_ms: u64,
}

impl Engine {
    /// Restores everything the store holds. Call once, before serving.
    ///
    /// Fails if the store cannot be read or any train-date's counts differ
    /// from a recount: serving from a state that fails its own check would
    /// risk selling seats twice.
    pub async fn recover(&self) -> Result<RecoverySummary, EngineError> {
        let started = Instant::now();
        let Some(store) = self.store().cloned() else { return Ok(RecoverySummary::default()) };
        let catalog = store.load_catalog().await.map_err(|cause| EngineError::store("catalog", cause))?;
        self.load_timetable(&catalog)?;
        // In a cluster, train-dates start as their slots are adopted.
        let train_dates = if self.slots.is_some() { Vec::new() } else { catalog.train_dates };
        let (recovered, orders) = self.start_stored(train_dates).await?;
        let summary = RecoverySummary {
            stations: catalog.stations.len(),
            trains: catalog.trains.len(),
            train_dates: recovered,
            orders,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        info!(?summary, "recovered; every train-date's counts equal a recount");
        Ok(summary)
    }

    /// Takes the stored stations and trains into the catalog.
    pub(super) fn load_timetable(&self, catalog: &crate::durability::StoredCatalog) -> Result<(), EngineError> {
        let corrupt = |detail: String| EngineError::store("catalog", StoreError::Corrupt { detail });
        self.catalog
            .upsert_stations(&catalog.stations)
            .map_err(|(index, error)| corrupt(format!("stored station {index} is invalid: {error}")))?;
        for train in &catalog.trains {
            self.catalog
                .upsert_train(train.clone())
                .map_err(|error| corrupt(format!("stored train {}: {error}", train.code)))?;
        }
        Ok(())
    }

    /// Loads each stored train-date (snapshot plus tail), checks it against
    /// a recount, and starts its actor, in batches of
    /// `RECOVERY_BATCH_TRAIN_DATES`, `RECOVERY_BATCHES_IN_FLIGHT` at a time.
    /// Returns how many started and the orders they hold.
    pub(super) async fn start_stored(
        &self,
        train_dates: Vec<(TrainDateKey, TrainTemplate)>,
    ) -> Result<(usize, usize), EngineError> {
        let Some(store) = self.store().cloned() else { return Ok((0, 0)) };
        let started = Instant::now();
        let corrupt = |detail: String| EngineError::store("train-date recovery", StoreError::Corrupt { detail });
        let total = train_dates.len();
        info!(train_dates = total, "recovering");
        let plans = self.shared_plans(&train_dates);
        let mut pending = train_dates.into_iter().peekable();
        let mut loading = JoinSet::new();
        let (mut recovered, mut orders, mut last_progress) = (0usize, 0usize, Instant::now());
        loop {
            while loading.len() < RECOVERY_BATCHES_IN_FLIGHT && pending.peek().is_some() {
                let batch: Vec<(TrainDateKey, Arc<TrainPlan>)> = pending
                    .by_ref()
                    .take(RECOVERY_BATCH_TRAIN_DATES)
                    .map(|(key, template)| (key, Arc::clone(&plans[&template])))
                    .collect();
                let keys: Vec<TrainDateKey> = batch.iter().map(|(key, _)| key.clone()).collect();
                let load = store.load_train_date_batch(batch);
                loading.spawn(async move {
                    let states = load.await.map_err(|cause| EngineError::store("train-date recovery", cause))?;
                    if states.len() != keys.len() {
                        return Err(corrupt(format!("asked for {} train-dates, got {}", keys.len(), states.len())));
                    }
                    keys.into_iter().zip(states).map(|(key, state)| checked(key, state)).collect::<Result<Vec<_>, _>>()
                });
            }
            let Some(joined) = loading.join_next().await else { break };
            let states = joined.map_err(|error| corrupt(format!("a recovery task failed: {error}")))??;
            for state in states {
                orders += state.orders.len();
                self.start_recovered(state);
                recovered += 1;
            }
            if last_progress.elapsed() >= PROGRESS_INTERVAL {
                info!(recovered, total, orders, elapsed_ms = started.elapsed().as_millis() as u64, "recovering");
                last_progress = Instant::now();
            }
        }
        Ok((recovered, orders))
    }

    /// One plan per distinct template, shared with the catalog's where equal.
    fn shared_plans(&self, train_dates: &[(TrainDateKey, TrainTemplate)]) -> HashMap<TrainTemplate, Arc<TrainPlan>> {
        let mut plans: HashMap<TrainTemplate, Arc<TrainPlan>> = HashMap::new();
        for (_, template) in train_dates {
            if plans.contains_key(template) {
                continue;
            }
            let plan = match self.catalog.train(&template.code) {
                Some(current) if current.template == *template => current,
                _ => Arc::new(TrainPlan::new(template.clone())),
            };
            plans.insert(template.clone(), plan);
        }
        plans
    }

    fn start_recovered(&self, state: TrainDateState) {
        if !self.serves(&state.key) {
            // The slot was released while this train-date loaded.
            return;
        }
        for order in state.orders.values() {
            self.orders.record(order.id, &state.key, &order.user_id);
        }
        for record in state.waitlist_requests.values() {
            self.waitlist.record(record);
        }
        let key = state.key.clone();
        self.registry.open_with(key, || self.spawn_state(state));
    }
}

fn checked(key: TrainDateKey, state: TrainDateState) -> Result<TrainDateState, EngineError> {
    if state.key != key {
        let detail = format!("the store returned {} for it", state.key);
        return Err(EngineError::InvariantBroken { key, detail });
    }
    state.verify_invariants().map_err(|detail| EngineError::InvariantBroken { key, detail })?;
    Ok(state)
}
