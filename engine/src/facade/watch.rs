//! Live availability: a watch over some journeys' published counts. It wakes
//! when any of their train-dates publishes a view, and yields only the
//! offers whose shown counts changed since it last yielded them, so a
//! watcher that reads slowly sees the newest counts, never a backlog.

use super::search::{build_offer, journey_stops};
use super::{Engine, EngineError, TrainOffer};
use crate::actor::changes::{ChangeSignal, ChangeWatcher};
use crate::domain::state::TrainDateKey;
use crate::registry::TrainDateHandle;
use chrono::NaiveDate;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

/// Most train-dates one watch follows. A search for the busiest station
/// pair (Beijing–Shanghai) returns under 100 trains a day; the bound keeps
/// one subscriber's wake-up to a bounded number of view reads.
pub const WATCH_TRAIN_DATES_MAX: usize = 200;

/// One journey to watch on one train-date, as GetAvailability names it.
#[derive(Clone, Debug)]
pub struct WatchedJourney {
    pub key: TrainDateKey,
    /// Boarding and alighting stations: code, name or pinyin.
    pub from_station: String,
    pub to_station: String,
}

/// How counts are shown to a watcher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchDisplay {
    /// Coarse counts: a count above this is shown as this + 1 (12306's 有,
    /// "plenty"), so sales among large counts wake nobody. `None`: exact.
    pub plenty_above: Option<u32>,
}

/// Follows a fixed set of journeys; train-dates opened after it started
/// are not added.
pub struct AvailabilityWatch {
    journeys: Vec<Followed>,
    /// One change stream per train-date, keyed by its index in `journeys`.
    signals: tokio_stream::StreamMap<usize, WatchStream<u64>>,
    display: WatchDisplay,
    clock: Arc<dyn crate::clock::Clock>,
}

struct Followed {
    handle: TrainDateHandle,
    from_stop: usize,
    to_stop: usize,
    /// The offer as the watcher was last given it; `None` before the first.
    shown: Option<TrainOffer>,
    /// Keeps the actor poking while this watch lives.
    _watcher: Arc<ChangeWatcher>,
}

impl Engine {
    /// Watches the train-dates `search` answers for this journey (the first
    /// `WATCH_TRAIN_DATES_MAX` by departure), as of now.
    pub fn watch_search(
        &self,
        travel_date: NaiveDate,
        from: &str,
        to: &str,
        display: WatchDisplay,
    ) -> Result<AvailabilityWatch, EngineError> {
        let mut found = self.search_handles(travel_date, from, to)?;
        found.truncate(WATCH_TRAIN_DATES_MAX);
        let stops = found.into_iter().map(|(handle, offer)| (handle, offer.from_stop, offer.to_stop)).collect();
        Ok(self.follow(stops, display))
    }

    /// Watches one journey on each of 1 to `WATCH_TRAIN_DATES_MAX` open
    /// train-dates; every one must exist and call at its stations in order.
    pub fn watch_journeys(
        &self,
        journeys: &[WatchedJourney],
        display: WatchDisplay,
    ) -> Result<AvailabilityWatch, EngineError> {
        if journeys.is_empty() || journeys.len() > WATCH_TRAIN_DATES_MAX {
            return Err(EngineError::invalid(
                "journeys",
                format!("{} journeys; a watch follows 1 to {WATCH_TRAIN_DATES_MAX}", journeys.len()),
            ));
        }
        let mut stops = Vec::with_capacity(journeys.len());
        for journey in journeys {
            let from = self.resolve_station("from_station", &journey.from_station)?;
            let to = self.resolve_station("to_station", &journey.to_station)?;
            let handle = self.handle(&journey.key)?;
            let (from_stop, to_stop) = journey_stops(&handle.shared.view.load(), &from, &to)?;
            stops.push((handle, from_stop, to_stop));
        }
        Ok(self.follow(stops, display))
    }

    /// Registers with each train-date's change signal (one registration per
    /// train-date, however many journeys on it) before any view is read, so
    /// no publish between the first read and the first wait is missed.
    fn follow(&self, stops: Vec<(TrainDateHandle, usize, usize)>, display: WatchDisplay) -> AvailabilityWatch {
        let mut signals = tokio_stream::StreamMap::new();
        let mut registered: Vec<(*const ChangeSignal, Arc<ChangeWatcher>)> = Vec::new();
        let mut journeys = Vec::with_capacity(stops.len());
        for (index, (handle, from_stop, to_stop)) in stops.into_iter().enumerate() {
            let signal = &handle.shared.changes;
            let watcher = match registered.iter().find(|(known, _)| std::ptr::eq(*known, Arc::as_ptr(signal))) {
                Some((_, watcher)) => Arc::clone(watcher),
                None => {
                    let watcher = Arc::new(ChangeSignal::watch(signal));
                    signals.insert(index, WatchStream::from_changes(watcher.changes.clone()));
                    registered.push((Arc::as_ptr(signal), Arc::clone(&watcher)));
                    watcher
                }
            };
            journeys.push(Followed { handle, from_stop, to_stop, shown: None, _watcher: watcher });
        }
        AvailabilityWatch { journeys, signals, display, clock: Arc::clone(&self.clock) }
    }
}

impl AvailabilityWatch {
    /// Waits until any followed train-date publishes a new view. Returns at
    /// once if one did since the last call; never returns if the watch
    /// follows nothing (a search that found no train).
    pub async fn changed(&mut self) {
        if self.signals.next().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// Offers whose shown counts or sale state differ from what was last
    /// returned (every offer the first time), in watch order, from the
    /// newest published views; remembers them as shown.
    pub fn changes(&mut self) -> Vec<TrainOffer> {
        let now_ms = self.clock.now_ms();
        let display = self.display;
        let mut changed = Vec::new();
        for journey in &mut self.journeys {
            let view = journey.handle.shared.view.load();
            let mut offer = build_offer(&view, journey.from_stop, journey.to_stop, now_ms);
            if let Some(above) = display.plenty_above {
                for class in &mut offer.classes {
                    class.remaining = class.remaining.min(above.saturating_add(1));
                }
            }
            if journey.shown.as_ref() != Some(&offer) {
                journey.shown = Some(offer.clone());
                changed.push(offer);
            }
        }
        changed
    }

    /// How many journeys the watch follows.
    pub fn len(&self) -> usize {
        self.journeys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.journeys.is_empty()
    }
}
