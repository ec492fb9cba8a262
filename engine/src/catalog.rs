//! Stations and train templates, and the station → trains index searches use.

use crate::domain::plan::TrainPlan;
use crate::domain::timetable::{Station, StationCode, TimetableError, TrainTemplate, validate_station};
use dashmap::DashMap;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The network's timetable as operators last set it. Open train-dates hold
/// their own `Arc<TrainPlan>` and are unaffected by later edits.
#[derive(Default)]
pub struct Catalog {
    stations: DashMap<StationCode, Station>,
    /// Station name and pinyin → code, so users may type either.
    station_aliases: DashMap<String, StationCode>,
    /// Current template of each train, as a plan ready to open.
    trains: DashMap<String, Arc<TrainPlan>>,
    /// Every train that calls, or ever called, at a station. Never shrinks, so
    /// train-dates opened from an older template stay findable; searches check
    /// each train-date's own stops.
    trains_by_station: DashMap<StationCode, BTreeSet<String>>,
}

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsertOutcome {
    Created,
    Updated,
    Unchanged,
}

impl Catalog {
    /// Checks every station; the index of the first bad one and why.
    pub fn validate_stations(stations: &[Station]) -> Result<(), (usize, TimetableError)> {
        for (index, station) in stations.iter().enumerate() {
            validate_station(station).map_err(|error| (index, error))?;
        }
        Ok(())
    }

    /// Adds or replaces stations; all are checked before any is stored.
    pub fn upsert_stations(&self, stations: &[Station]) -> Result<(), (usize, TimetableError)> {
        Self::validate_stations(stations)?;
        for station in stations {
            if let Some(previous) = self.stations.get(&station.code) {
                self.station_aliases.remove(&previous.name);
                self.station_aliases.remove(&previous.pinyin);
            }
            self.station_aliases.insert(station.name.clone(), station.code.clone());
            if !station.pinyin.is_empty() {
                self.station_aliases.insert(station.pinyin.clone(), station.code.clone());
            }
            self.stations.insert(station.code.clone(), station.clone());
        }
        Ok(())
    }

    pub fn station(&self, code: &str) -> Option<Station> {
        self.stations.get(code).map(|station| station.clone())
    }

    pub fn station_count(&self) -> usize {
        self.stations.len()
    }

    /// Copies of the stations `keep` accepts, in no particular order.
    pub fn stations_where(&self, keep: impl Fn(&Station) -> bool) -> Vec<Station> {
        self.stations.iter().filter(|entry| keep(entry.value())).map(|entry| entry.value().clone()).collect()
    }

    /// A station by code, name or pinyin.
    pub fn resolve_station(&self, text: &str) -> Option<StationCode> {
        let text = text.trim();
        if self.stations.contains_key(text) {
            return Some(text.to_owned());
        }
        let upper = text.to_ascii_uppercase();
        if self.stations.contains_key(&upper) {
            return Some(upper);
        }
        self.station_aliases.get(text).map(|code| code.clone())
    }

    /// Validates a template and says what storing it would do.
    pub fn prepare_train(&self, template: &TrainTemplate) -> Result<UpsertOutcome, TimetableError> {
        template.validate(|code| self.stations.contains_key(code))?;
        Ok(match self.trains.get(&template.code) {
            Some(existing) if existing.template == *template => UpsertOutcome::Unchanged,
            Some(_) => UpsertOutcome::Updated,
            None => UpsertOutcome::Created,
        })
    }

    /// Validates and stores a template.
    pub fn upsert_train(&self, template: TrainTemplate) -> Result<UpsertOutcome, TimetableError> {
        let outcome = self.prepare_train(&template)?;
        if outcome == UpsertOutcome::Unchanged {
            return Ok(outcome);
        }
        for stop in &template.stops {
            self.trains_by_station.entry(stop.station.clone()).or_default().insert(template.code.clone());
        }
        self.trains.insert(template.code.clone(), Arc::new(TrainPlan::new(template)));
        Ok(outcome)
    }

    pub fn train(&self, code: &str) -> Option<Arc<TrainPlan>> {
        self.trains.get(code).map(|plan| Arc::clone(&plan))
    }

    pub fn train_codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.trains.iter().map(|entry| entry.key().clone()).collect();
        codes.sort();
        codes
    }

    pub fn train_count(&self) -> usize {
        self.trains.len()
    }

    /// Trains that call (or called) at both stations, in code order.
    pub fn trains_serving(&self, from: &str, to: &str) -> Vec<String> {
        let (Some(from_trains), Some(to_trains)) = (self.trains_by_station.get(from), self.trains_by_station.get(to))
        else {
            return Vec::new();
        };
        from_trains.intersection(&to_trains).cloned().collect()
    }
}
