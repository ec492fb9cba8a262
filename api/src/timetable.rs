//! A parsed timetable file as the admin requests that load it.

use crate::convert::{station_pb, train_pb};
use crate::pb;
use engine::domain::timetable_file::Timetable;

/// Stations go in one request; each train is its own request.
pub fn timetable_requests(timetable: &Timetable) -> (pb::UpsertStationsRequest, Vec<pb::UpsertTrainRequest>) {
    let stations = pb::UpsertStationsRequest { stations: timetable.stations.iter().map(station_pb).collect() };
    let trains = timetable.trains.iter().map(|train| pb::UpsertTrainRequest { train: Some(train_pb(train)) }).collect();
    (stations, trains)
}
