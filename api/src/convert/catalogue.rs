//! The catalogue RPCs: station-page requests and replies, and a train-date's
//! route and composition.

use super::fields::seat_class_to_pb;
use super::replies::{local_time, train_date_pb};
use super::timetable::station_pb;
use crate::pb;
use crate::status::invalid_argument;
use engine::catalog::Catalog;
use engine::domain::state::service_day_start_ms;
use engine::facade::catalogue::{StationPage, TrainDateDetail};
use tonic::Status;

/// Largest ListStations page; booking.proto documents 1 to this.
pub const STATIONS_PAGE_MAX: u32 = 100;
/// Longest ListStations prefix, in characters: as long as the longest pinyin.
pub const STATION_PREFIX_CHARS_MAX: usize = 64;
/// Leads every station cursor, so a token from another list is refused.
const STATION_CURSOR_TAG: &str = "st1.";

/// A ListStations page size: 1 to `STATIONS_PAGE_MAX`, no default.
pub fn stations_page_size(field: &str, value: u32) -> Result<usize, Status> {
    if !(1..=STATIONS_PAGE_MAX).contains(&value) {
        return Err(invalid_argument(field, &format!("must be 1 to {STATIONS_PAGE_MAX}, got {value}")));
    }
    Ok(value as usize)
}

/// A station prefix: at most `STATION_PREFIX_CHARS_MAX` characters; empty means all.
pub fn station_prefix<'a>(field: &str, text: &'a str) -> Result<&'a str, Status> {
    if text.chars().count() > STATION_PREFIX_CHARS_MAX {
        return Err(invalid_argument(field, &format!("must be at most {STATION_PREFIX_CHARS_MAX} characters")));
    }
    Ok(text)
}

/// The next-page token after the station `code`: opaque to clients.
pub fn station_cursor_token(code: &str) -> String {
    let hex: String = code.bytes().map(|byte| format!("{byte:02x}")).collect();
    format!("{STATION_CURSOR_TAG}{hex}")
}

/// The station code a ListStations page token continues after; `None` for
/// the first page.
pub fn station_cursor(field: &str, token: &str) -> Result<Option<String>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let not_ours = || invalid_argument(field, "is not a token from a previous page");
    let hex = token.strip_prefix(STATION_CURSOR_TAG).ok_or_else(not_ours)?;
    if hex.len() % 2 != 0 || !(4..=16).contains(&hex.len()) {
        return Err(not_ours());
    }
    let code = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok().filter(u8::is_ascii_uppercase).map(char::from))
        .collect::<Option<String>>()
        .ok_or_else(not_ours)?;
    Ok(Some(code))
}

pub fn station_page_pb(page: &StationPage) -> pb::ListStationsResponse {
    pb::ListStationsResponse {
        stations: page.stations.iter().map(station_pb).collect(),
        next_page_token: page.next_after.as_deref().map(station_cursor_token).unwrap_or_default(),
    }
}

/// A train-date's stops with instants and local times, and its carriages.
pub fn train_detail_pb(detail: &TrainDateDetail, catalog: &Catalog) -> pb::TrainDetail {
    let day_start_ms = service_day_start_ms(detail.key.date);
    let at_ms = |minutes: Option<u32>| minutes.map(|minutes| day_start_ms + u64::from(minutes) * 60_000);
    let template = &detail.plan.template;
    let stops = template
        .stops
        .iter()
        .enumerate()
        .map(|(index, stop)| {
            let (arrive_at_ms, depart_at_ms) = (at_ms(stop.arrive_minutes), at_ms(stop.depart_minutes));
            pb::TrainStop {
                index: index as u32,
                station: stop.station.clone(),
                station_name: catalog.station(&stop.station).map(|station| station.name).unwrap_or_default(),
                arrive_at_ms,
                depart_at_ms,
                arrive_time: arrive_at_ms.map(local_time).unwrap_or_default(),
                depart_time: depart_at_ms.map(local_time).unwrap_or_default(),
                day_offset: stop.day_offset(),
                distance_km: stop.distance_km,
            }
        })
        .collect();
    let carriages = template
        .carriages
        .iter()
        .map(|carriage| pb::TrainCarriage {
            number: u32::from(carriage.number),
            seat_class: seat_class_to_pb(carriage.class).into(),
            rows: u32::from(carriage.rows),
            letters: carriage.letters.clone(),
            seat_count: carriage.seat_count(),
        })
        .collect();
    pb::TrainDetail {
        train_date: Some(train_date_pb(&detail.key)),
        sales_open: detail.sales_open,
        stops,
        carriages,
        seat_count: detail.plan.seat_count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_cursors_round_trip_and_refuse_strangers() {
        let token = station_cursor_token("VNP");
        assert_eq!(station_cursor("page_token", &token).expect("ours").as_deref(), Some("VNP"));
        assert_eq!(station_cursor("page_token", "").expect("first page"), None);
        for stranger in ["20", "st1.", "st1.5", "st1.766e70", "st1.zz", "st1.41414141414141414141", "VNP"] {
            assert!(station_cursor("page_token", stranger).is_err(), "{stranger:?} must be refused");
        }
    }

    #[test]
    fn page_sizes_outside_the_documented_range_are_refused() {
        assert!(stations_page_size("page_size", 0).is_err());
        assert_eq!(stations_page_size("page_size", 1).expect("smallest"), 1);
        assert_eq!(stations_page_size("page_size", STATIONS_PAGE_MAX).expect("largest"), 100);
        assert!(stations_page_size("page_size", STATIONS_PAGE_MAX + 1).is_err());
        assert!(stations_page_size("page_size", u32::MAX).is_err());
    }
}
