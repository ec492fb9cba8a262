//! `JournalStore`: the engine's `Store` on top of any `Journal`: admin
//! changes, the catalog at start-up, and loading one train-date as snapshot
//! plus replayed tail.

use crate::codec::{StoredEvent, decode};
use crate::journal::{Journal, StoredSnapshot, StoredTrainDate, parse_stream_id, stream_id};
use engine::apply;
use engine::domain::order::OrderId;
use engine::domain::plan::TrainPlan;
use engine::domain::snapshot::{SNAPSHOT_SCHEMA_VERSION, TrainDateSnapshot};
use engine::domain::state::{TrainDateKey, TrainDateState};
use engine::domain::timetable::{Station, TrainTemplate};
use engine::durability::{BoxFuture, Store, StoreError, StoredCatalog};
use engine::slots::{SlotFence, SlotId};
use std::collections::HashMap;
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

    fn load_train_date_batch(
        &self,
        batch: Vec<(TrainDateKey, Arc<TrainPlan>)>,
    ) -> BoxFuture<Result<Vec<TrainDateState>, StoreError>> {
        let journal = Arc::clone(&self.journal);
        Box::pin(async move { load_batch(&*journal, batch).await })
    }

    fn load_train_dates(&self) -> BoxFuture<Result<Vec<(TrainDateKey, TrainTemplate)>, StoreError>> {
        let journal = self.journal();
        Box::pin(async move {
            let stored = journal.load_train_dates().await.map_err(StoreError::from)?;
            Ok(stored.into_iter().map(|stored| (stored.key, stored.template)).collect())
        })
    }

    fn advance_fences(
        &self,
        fences: Vec<SlotFence>,
        owner: String,
    ) -> BoxFuture<Result<Vec<(SlotId, u64)>, StoreError>> {
        let journal = self.journal();
        Box::pin(async move {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis() as u64);
            journal.advance_fences(&fences, &owner, now_ms).await.map_err(StoreError::from)
        })
    }

    fn read_fences(&self, slots: Vec<SlotId>) -> BoxFuture<Result<Vec<(SlotId, u64)>, StoreError>> {
        let journal = self.journal();
        Box::pin(async move { journal.read_fences(&slots).await.map_err(StoreError::from) })
    }

    fn order_home(&self, order_id: OrderId) -> BoxFuture<Result<Option<(TrainDateKey, String)>, StoreError>> {
        let journal = self.journal();
        Box::pin(async move {
            let Some((stream, user)) = journal.order_home(&order_id.to_string()).await.map_err(StoreError::from)?
            else {
                return Ok(None);
            };
            let key = parse_stream_id(&stream)
                .ok_or_else(|| StoreError::Corrupt { detail: format!("order {order_id}: stream {stream:?}") })?;
            Ok(Some((key, user)))
        })
    }

    fn user_orders(
        &self,
        user_id: String,
        after: Option<OrderId>,
        limit: usize,
    ) -> BoxFuture<Result<(Vec<OrderId>, usize), StoreError>> {
        let journal = self.journal();
        Box::pin(async move {
            let after = after.map(|order_id| order_id.to_string());
            let (ids, total) =
                journal.user_orders(&user_id, after.as_deref(), limit).await.map_err(StoreError::from)?;
            let ids = ids
                .iter()
                .map(|id| id.parse().map_err(|_| StoreError::Corrupt { detail: format!("order id {id:?}") }))
                .collect::<Result<Vec<OrderId>, StoreError>>()?;
            Ok((ids, total))
        })
    }
}

impl<J: Journal> JournalStore<J> {
    fn journal(&self) -> Arc<J> {
        Arc::clone(&self.journal)
    }
}

/// Latest snapshot, then every later event through the same `apply` the live actor uses.
pub async fn load<J: Journal>(
    journal: &J,
    key: TrainDateKey,
    plan: Arc<TrainPlan>,
) -> Result<TrainDateState, StoreError> {
    let stream = stream_id(&key);
    let snapshot = journal.latest_snapshot(&stream).await.map_err(StoreError::from)?;
    let mut state = restore(&stream, key, plan, snapshot)?;
    replay_tail(journal, &stream, &mut state, REPLAY_PAGE_EVENTS).await?;
    Ok(state)
}

/// Loads several train-dates in a few round trips: their latest snapshots in
/// one query and their tails in one more (at most `REPLAY_PAGE_EVENTS`
/// events; a batch whose tails are longer finishes stream by stream).
/// Recovery of tens of thousands of train-dates in a takeover is bound by
/// these round trips, not by replay.
pub async fn load_batch<J: Journal>(
    journal: &J,
    batch: Vec<(TrainDateKey, Arc<TrainPlan>)>,
) -> Result<Vec<TrainDateState>, StoreError> {
    load_batch_paged(journal, batch, REPLAY_PAGE_EVENTS).await
}

/// `load_batch` reading at most `page_events` events per query (tests use
/// small pages to take the stream-by-stream path).
pub async fn load_batch_paged<J: Journal>(
    journal: &J,
    batch: Vec<(TrainDateKey, Arc<TrainPlan>)>,
    page_events: usize,
) -> Result<Vec<TrainDateState>, StoreError> {
    let streams: Vec<String> = batch.iter().map(|(key, _)| stream_id(key)).collect();
    let mut snapshots: HashMap<String, StoredSnapshot> = journal
        .latest_snapshots(&streams)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|found| (found.stream, found.snapshot))
        .collect();
    let mut states = Vec::with_capacity(batch.len());
    for ((key, plan), stream) in batch.into_iter().zip(&streams) {
        states.push(restore(stream, key, plan, snapshots.remove(stream))?);
    }
    let after: Vec<(String, u64)> =
        streams.iter().zip(&states).map(|(stream, state)| (stream.clone(), state.last_seq)).collect();
    let tails = journal.read_events_after(&after, page_events).await.map_err(StoreError::from)?;
    let truncated = tails.len() >= page_events;
    let index: HashMap<&str, usize> = streams.iter().enumerate().map(|(at, stream)| (stream.as_str(), at)).collect();
    for stored in &tails {
        let at = *index
            .get(stored.stream.as_str())
            .ok_or_else(|| StoreError::Corrupt { detail: format!("{}: not asked for", stored.stream) })?;
        apply_stored(&mut states[at], &stored.stream, &stored.event)?;
    }
    if truncated {
        for (stream, state) in streams.iter().zip(states.iter_mut()) {
            replay_tail(journal, stream, state, page_events).await?;
        }
    }
    Ok(states)
}

/// The state a stream's snapshot holds, or the open train-date without one.
fn restore(
    stream: &str,
    key: TrainDateKey,
    plan: Arc<TrainPlan>,
    snapshot: Option<StoredSnapshot>,
) -> Result<TrainDateState, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt { detail };
    let Some(stored) = snapshot else { return Ok(TrainDateState::open(key, plan)) };
    if stored.version > SNAPSHOT_SCHEMA_VERSION {
        return Err(corrupt(format!("{stream}: snapshot version {} is newer than this build", stored.version)));
    }
    let snapshot: TrainDateSnapshot = serde_json::from_str(&stored.body)
        .map_err(|e| corrupt(format!("{stream}: snapshot at seq {}: {e}", stored.seq)))?;
    if snapshot.template != plan.template || snapshot.key != key {
        return Err(corrupt(format!("{stream}: snapshot at seq {} is of another train-date or template", stored.seq)));
    }
    Ok(snapshot.restore(plan))
}

/// Replays the events of `stream` after `state.last_seq`, page by page.
async fn replay_tail<J: Journal>(
    journal: &J,
    stream: &str,
    state: &mut TrainDateState,
    page_events: usize,
) -> Result<(), StoreError> {
    loop {
        let page = journal.read_events(stream, state.last_seq, page_events).await.map_err(StoreError::from)?;
        let done = page.len() < page_events;
        for stored in &page {
            apply_stored(state, stream, stored)?;
        }
        if done {
            return Ok(());
        }
    }
}

/// Decodes one stored event of `stream` and applies it, as replay does.
fn apply_stored(state: &mut TrainDateState, stream: &str, stored: &StoredEvent) -> Result<(), StoreError> {
    let record = decode(stored).map_err(|e| StoreError::Corrupt { detail: format!("{stream}: {e}") })?;
    apply(state, &record);
    Ok(())
}
