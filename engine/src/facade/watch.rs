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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::command::{PassengerRequest, SeatChoice};
    use crate::domain::seat_class::SeatClass;
    use crate::domain::state::service_day_start_ms;
    use crate::domain::timetable::Station;
    use crate::facade::{EngineSettings, HoldInput};
    use crate::test_fixtures::template;
    use std::time::Duration;

    /// Longest a watch may take to wake after a hold: generous for CI.
    const WAKE_MAX: Duration = Duration::from_secs(2);

    async fn engine_with_one_train(date: NaiveDate) -> Engine {
        let clock = Arc::new(ManualClock::new(service_day_start_ms(date) - 86_400_000));
        let engine = Engine::start(EngineSettings { arbiters: 1, ..EngineSettings::default() }, clock, None);
        let stations: Vec<Station> = (0..3)
            .map(|index| Station {
                code: format!("S{}", (b'A' + index as u8) as char),
                name: format!("站{index}"),
                pinyin: String::new(),
            })
            .collect();
        engine.upsert_stations(&stations).await.expect("stations");
        engine.upsert_train(template(3, &[(SeatClass::Second, 10, "ABCDF")])).await.expect("train");
        engine.open_train_date("G1", date).await.expect("open");
        engine
    }

    fn hold(date: NaiveDate, serial: u32) -> HoldInput {
        HoldInput {
            deadline: None,
            request_id: format!("r{serial}"),
            user_id: "u".into(),
            key: TrainDateKey::new("G1", date),
            from_station: "SA".into(),
            to_station: "SC".into(),
            passengers: vec![PassengerRequest {
                name: "张三".into(),
                id_number: format!("id-{serial}"),
                class: SeatClass::Second,
                choice: SeatChoice::Any,
            }],
        }
    }

    fn second_left(offers: &[TrainOffer]) -> Vec<u32> {
        offers.iter().map(|offer| offer.classes[0].remaining).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_watch_wakes_on_a_hold_and_yields_only_what_changed() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let engine = engine_with_one_train(date).await;
        let key = TrainDateKey::new("G1", date);
        let journey = |from: &str, to: &str| WatchedJourney {
            key: key.clone(),
            from_station: from.into(),
            to_station: to.into(),
        };
        // Two journeys on one train-date: one registration, both followed.
        let mut watch =
            engine.watch_journeys(&[journey("SA", "SC"), journey("SB", "SC")], WatchDisplay::default()).expect("watch");
        let signal = Arc::clone(&engine.handle(&key).expect("open").shared.changes);
        assert_eq!(signal.watcher_count(), 1);
        assert_eq!(second_left(&watch.changes()), vec![50, 50], "everything, the first time");
        assert!(watch.changes().is_empty(), "nothing changed since");

        engine.hold(hold(date, 1)).await.expect("hold");
        tokio::time::timeout(WAKE_MAX, watch.changed()).await.expect("woken by the hold");
        assert_eq!(second_left(&watch.changes()), vec![49, 49]);

        // A coarse watch shows 50 free seats as 21 and is not moved by a sale.
        let coarse = WatchDisplay { plenty_above: Some(20) };
        let mut plenty = engine.watch_journeys(&[journey("SA", "SC")], coarse).expect("watch");
        assert_eq!(second_left(&plenty.changes()), vec![21]);
        engine.hold(hold(date, 2)).await.expect("hold");
        tokio::time::timeout(WAKE_MAX, plenty.changed()).await.expect("woken");
        assert!(plenty.changes().is_empty(), "still plenty: nothing to send");

        drop(watch);
        drop(plenty);
        assert_eq!(signal.watcher_count(), 0, "dropping a watch unregisters it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watches_are_bounded_and_need_open_train_dates() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let engine = engine_with_one_train(date).await;
        let journey =
            WatchedJourney { key: TrainDateKey::new("G1", date), from_station: "SA".into(), to_station: "SB".into() };
        let too_many = vec![journey.clone(); WATCH_TRAIN_DATES_MAX + 1];
        assert!(matches!(
            engine.watch_journeys(&too_many, WatchDisplay::default()),
            Err(EngineError::InvalidArgument { .. })
        ));
        assert!(engine.watch_journeys(&[], WatchDisplay::default()).is_err());
        let closed = WatchedJourney { key: TrainDateKey::new("G1", date.succ_opt().expect("date")), ..journey };
        assert!(matches!(engine.watch_journeys(&[closed], WatchDisplay::default()), Err(EngineError::NotFound(_))));
    }
}
