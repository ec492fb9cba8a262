//! Searches and availability: answered from published views, no mailbox trip.

use super::{Engine, EngineError};
use crate::actor::view::AvailabilityView;
use crate::domain::echo::echo;
use crate::domain::rejection::Rejection;
use crate::domain::seat_class::SeatClass;
use crate::domain::state::{TrainDateKey, service_day_start_ms};
use crate::domain::timetable::{SERVICE_DAYS_MAX, StationCode};
use crate::registry::TrainDateHandle;
use chrono::{Days, NaiveDate};

/// One train-date's offer for one journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainOffer {
    pub key: TrainDateKey,
    /// Index of the boarding stop in the train's stops.
    pub from_stop: usize,
    /// Index of the alighting stop in the train's stops.
    pub to_stop: usize,
    /// The boarding station, which may differ from the one searched for (same city).
    pub from_station: StationCode,
    /// The alighting station, likewise.
    pub to_station: StationCode,
    /// Unix ms the train leaves `from_station`.
    pub depart_at_ms: u64,
    /// Unix ms the train reaches `to_station`.
    pub arrive_at_ms: u64,
    /// Distance of the journey, from which fares are computed.
    pub distance_km: u32,
    /// Holds are accepted: sales open and the train not yet gone.
    pub on_sale: bool,
    /// One entry per class the train has, in `SeatClass::ALL` order.
    pub classes: Vec<ClassOffer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassOffer {
    pub class: SeatClass,
    /// Seats free for the whole journey.
    pub remaining: u32,
    /// Fare for one passenger over the journey, in fen (0.01 yuan).
    pub fare_fen: u64,
}

impl Engine {
    /// Every open train-date that leaves `from` on `travel_date` (the date at
    /// the boarding station) and calls at `to` later, by departure time.
    pub fn search(&self, travel_date: NaiveDate, from: &str, to: &str) -> Result<Vec<TrainOffer>, EngineError> {
        Ok(self.search_handles(travel_date, from, to)?.into_iter().map(|(_, offer)| offer).collect())
    }

    /// What `search` answers, with the handle each offer was read from.
    pub(super) fn search_handles(
        &self,
        travel_date: NaiveDate,
        from: &str,
        to: &str,
    ) -> Result<Vec<(TrainDateHandle, TrainOffer)>, EngineError> {
        self.check_sales_window("date", travel_date, 0)?;
        let from = self.resolve_station("from_station", from)?;
        let to = self.resolve_station("to_station", to)?;
        if from == to {
            return Err(same_station(&from).into());
        }
        let now_ms = self.now_ms();
        let mut offers = Vec::new();
        for train in self.catalog.trains_serving(&from, &to) {
            // An overnight train boarding today may have left its origin on an
            // earlier date; look at each date it could have started.
            for days_back in 0..u64::from(SERVICE_DAYS_MAX) {
                let Some(date) = travel_date.checked_sub_days(Days::new(days_back)) else { break };
                let key = TrainDateKey::new(train.clone(), date);
                let Some(handle) = self.registry.get(&key) else { continue };
                let view = handle.shared.view.load();
                let Some(offer) = offer_for(&view, &from, &to, now_ms) else { continue };
                let boarding_date = crate::domain::state::service_date_of(offer.depart_at_ms);
                if boarding_date == travel_date {
                    drop(view);
                    offers.push((handle, offer));
                }
            }
        }
        offers.sort_by(|(_, a), (_, b)| (a.depart_at_ms, &a.key.train).cmp(&(b.depart_at_ms, &b.key.train)));
        Ok(offers)
    }

    /// Remaining seats and fares on one train-date for one journey.
    pub fn availability(&self, key: &TrainDateKey, from: &str, to: &str) -> Result<TrainOffer, EngineError> {
        let from = self.resolve_station("from_station", from)?;
        let to = self.resolve_station("to_station", to)?;
        let handle = self.handle(key)?;
        let view = handle.shared.view.load();
        let (from_stop, to_stop) = journey_stops(&view, &from, &to)?;
        Ok(build_offer(&view, from_stop, to_stop, self.now_ms()))
    }

    pub(super) fn resolve_station(&self, field: &str, text: &str) -> Result<StationCode, EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::invalid(field, "is required: a station code, name or pinyin"));
        }
        self.catalog
            .resolve_station(text)
            .ok_or_else(|| EngineError::invalid(field, format!("no station {}", echo(text))))
    }
}

/// Stop indices of a journey on a train-date, or INVALID_ARGUMENT naming
/// the station the train does not call at, or INVALID_JOURNEY when the
/// stations are the same or in the other order.
pub(super) fn journey_stops(view: &AvailabilityView, from: &str, to: &str) -> Result<(usize, usize), EngineError> {
    let template = &view.plan.template;
    if from == to {
        return Err(same_station(from).into());
    }
    let from_stop = template
        .stop_index(from)
        .ok_or_else(|| EngineError::invalid("from_station", format!("{} does not call at {from}", template.code)))?;
    let to_stop = template
        .stop_index(to)
        .ok_or_else(|| EngineError::invalid("to_station", format!("{} does not call at {to}", template.code)))?;
    if from_stop > to_stop {
        let reason = format!("{} calls at {to} before {from}; a journey follows the train's direction", template.code);
        return Err(Rejection::InvalidJourney { reason }.into());
    }
    Ok((from_stop, to_stop))
}

fn same_station(station: &str) -> Rejection {
    Rejection::InvalidJourney { reason: format!("from_station and to_station are both {station}; they must differ") }
}

fn offer_for(view: &AvailabilityView, from: &str, to: &str, now_ms: u64) -> Option<TrainOffer> {
    let (from_stop, to_stop) = journey_stops(view, from, to).ok()?;
    Some(build_offer(view, from_stop, to_stop, now_ms))
}

pub(super) fn build_offer(view: &AvailabilityView, from_stop: usize, to_stop: usize, now_ms: u64) -> TrainOffer {
    let plan = &view.plan;
    let stops = &plan.template.stops;
    let day_start_ms = service_day_start_ms(view.key.date);
    let depart_at_ms = day_start_ms + u64::from(stops[from_stop].time_minutes()) * 60_000;
    let arrive_minutes = stops[to_stop].arrive_minutes.unwrap_or_else(|| stops[to_stop].time_minutes());
    TrainOffer {
        key: view.key.clone(),
        from_stop,
        to_stop,
        from_station: stops[from_stop].station.clone(),
        to_station: stops[to_stop].station.clone(),
        depart_at_ms,
        arrive_at_ms: day_start_ms + u64::from(arrive_minutes) * 60_000,
        distance_km: plan.distance_km(from_stop, to_stop),
        on_sale: view.sales_open() && now_ms < depart_at_ms,
        classes: plan
            .classes()
            .iter()
            .map(|class| ClassOffer {
                class: *class,
                remaining: view.remaining(*class, from_stop, to_stop),
                fare_fen: plan.fare_fen(*class, from_stop, to_stop),
            })
            .collect(),
    }
}
