//! The catalogue a client needs to build its own screens: stations for a
//! station picker, and one open train-date's stops and carriages. Read from
//! the catalog and the published views; no mailbox trip.

use super::{Engine, EngineError};
use crate::domain::plan::TrainPlan;
use crate::domain::state::TrainDateKey;
use crate::domain::timetable::{Station, StationCode};
use std::sync::Arc;

/// One page of stations, in code order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StationPage {
    pub stations: Vec<Station>,
    /// The code of this page's last station when more match after it: the
    /// keyset cursor for the next page. `None` on the last page.
    pub next_after: Option<StationCode>,
}

/// An open train-date as it opened: its frozen plan, not the train's
/// current template.
#[derive(Clone, Debug)]
pub struct TrainDateDetail {
    pub key: TrainDateKey,
    /// The plan the train-date opened with; stops, times, km and carriages.
    pub plan: Arc<TrainPlan>,
    /// False once sales were closed.
    pub sales_open: bool,
}

impl Engine {
    /// Stations whose code, name or pinyin starts with `prefix` (every
    /// station for an empty one), in code order, after the code `after`,
    /// at most `limit` (at least 1). Codes match case-insensitively, as do
    /// pinyin; names match as typed. Keyed by code, a page stays right when
    /// stations are added between calls.
    pub fn list_stations(&self, prefix: &str, after: Option<&str>, limit: usize) -> StationPage {
        let limit = limit.max(1);
        let prefix = prefix.trim();
        let mut stations = self.catalog.stations_where(|station| {
            after.is_none_or(|after| station.code.as_str() > after) && station_matches(station, prefix)
        });
        stations.sort_by(|a, b| a.code.cmp(&b.code));
        let more = stations.len() > limit;
        stations.truncate(limit);
        let next_after = if more { stations.last().map(|station| station.code.clone()) } else { None };
        StationPage { stations, next_after }
    }

    /// The stops and carriages of one open train-date, from the plan it
    /// opened with; NOT_FOUND when it is not open.
    pub fn train_date_detail(&self, key: &TrainDateKey) -> Result<TrainDateDetail, EngineError> {
        let view = self.handle(key)?.shared.view.load_full();
        Ok(TrainDateDetail { key: view.key.clone(), plan: Arc::clone(&view.plan), sales_open: view.sales_open() })
    }
}

/// Whether `prefix` begins the station's code, name or pinyin.
fn station_matches(station: &Station, prefix: &str) -> bool {
    prefix.is_empty()
        || station.code.starts_with(&prefix.to_ascii_uppercase())
        || station.name.starts_with(prefix)
        || (!station.pinyin.is_empty() && station.pinyin.starts_with(&prefix.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station(code: &str, name: &str, pinyin: &str) -> Station {
        Station { code: code.into(), name: name.into(), pinyin: pinyin.into() }
    }

    #[test]
    fn prefixes_match_code_name_or_pinyin() {
        let beijingnan = station("VNP", "北京南", "beijingnan");
        assert!(station_matches(&beijingnan, ""));
        assert!(station_matches(&beijingnan, "vn"));
        assert!(station_matches(&beijingnan, "北京"));
        assert!(station_matches(&beijingnan, "BeiJ"));
        assert!(!station_matches(&beijingnan, "南"));
        assert!(!station_matches(&station("NKH", "南京南", ""), "x"));
    }
}
