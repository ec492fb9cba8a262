//! `JournalStore`: the engine's `Store` on top of any `Journal`: admin
//! changes, the catalog at start-up, and loading one train-date as snapshot
//! plus replayed tail.

use crate::codec::decode;
use crate::journal::{Journal, StoredTrainDate, stream_id};
use engine::apply;
use engine::domain::plan::TrainPlan;
use engine::domain::snapshot::{SNAPSHOT_SCHEMA_VERSION, TrainDateSnapshot};
use engine::domain::state::{TrainDateKey, TrainDateState};
use engine::domain::timetable::{Station, TrainTemplate};
use engine::durability::{BoxFuture, Store, StoreError, StoredCatalog};
use std::sync::Arc;

/// Events read per query while replaying a stream; bounds memory per load.
pub const REPLAY_PAGE_EVENTS: usize = 10_000;

pub struct JournalStore<J> {
    journal: Arc<J>,
}

impl<J: Journal> JournalStore<J> {
    pub fn new(journal: Arc<J>) -> Self {
        JournalStore { journal }
    }
}

impl<J: Journal> Store for JournalStore<J> {
    fn upsert_stations(&self, stations: Vec<Station>) -> BoxFuture<Result<(), StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move { journal.upsert_stations(&stations).await.map_err(StoreError::from) })
    }

    fn upsert_train(&self, template: TrainTemplate, now_ms: u64) -> BoxFuture<Result<(), StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move { journal.upsert_train(&template, now_ms).await.map_err(StoreError::from) })
    }

    fn insert_train_dates(
        &self,
        train_dates: Vec<(TrainDateKey, TrainTemplate)>,
        now_ms: u64,
    ) -> BoxFuture<Result<(), StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move {
            let rows: Vec<StoredTrainDate> = train_dates
                .into_iter()
                .map(|(key, template)| StoredTrainDate { key, template, opened_at_ms: now_ms })
                .collect();
            journal.insert_train_dates(&rows).await.map_err(StoreError::from)
        })
    }

    fn load_catalog(&self) -> BoxFuture<Result<StoredCatalog, StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move {
            let stations = journal.load_stations().await.map_err(StoreError::from)?;
            let trains = journal.load_trains().await.map_err(StoreError::from)?;
            let train_dates = journal.load_train_dates().await.map_err(StoreError::from)?;
            let train_dates = train_dates.into_iter().map(|stored| (stored.key, stored.template)).collect();
            Ok(StoredCatalog { stations, trains, train_dates })
        })
    }

    fn archive_train_dates(&self, keys: Vec<TrainDateKey>, now_ms: u64) -> BoxFuture<Result<(), StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move {
            let streams: Vec<String> = keys.iter().map(stream_id).collect();
            journal.archive_train_dates(&streams, now_ms).await.map_err(StoreError::from)
        })
    }

    fn load_train_date(
        &self,
        key: TrainDateKey,
        plan: Arc<TrainPlan>,
    ) -> BoxFuture<Result<TrainDateState, StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move { load(&*journal, key, plan).await })
    }
}

/// Latest snapshot, then every later event through the same `apply` the live actor uses.
pub async fn load<J: Journal>(
    journal: &J,
    key: TrainDateKey,
    plan: Arc<TrainPlan>,
) -> Result<TrainDateState, StoreError> {
    let stream = stream_id(&key);
    let corrupt = |detail: String| StoreError::Corrupt { detail };
    let mut state = match journal.latest_snapshot(&stream).await.map_err(StoreError::from)? {
        Some(stored) => {
            if stored.version > SNAPSHOT_SCHEMA_VERSION {
                return Err(corrupt(format!("{stream}: snapshot version {} is newer than this build", stored.version)));
            }
            let snapshot: TrainDateSnapshot = serde_json::from_str(&stored.body)
                .map_err(|e| corrupt(format!("{stream}: snapshot at seq {}: {e}", stored.seq)))?;
            if snapshot.template != plan.template || snapshot.key != key {
                return Err(corrupt(format!(
                    "{stream}: snapshot at seq {} is of another train-date or template",
                    stored.seq
                )));
            }
            snapshot.restore(plan)
        }
        None => TrainDateState::open(key, plan),
    };
    loop {
        let page = journal.read_events(&stream, state.last_seq, REPLAY_PAGE_EVENTS).await.map_err(StoreError::from)?;
        let done = page.len() < REPLAY_PAGE_EVENTS;
        for stored in &page {
            let record = decode(stored).map_err(|e| corrupt(format!("{stream}: {e}")))?;
            apply(&mut state, &record);
        }
        if done {
            return Ok(state);
        }
    }
}
