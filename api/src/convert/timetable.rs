//! Timetable messages both ways: proto → engine for the admin service, and
//! engine → proto for seatctl's importer.

use super::fields::{seat_class, seat_class_to_pb};
use crate::pb;
use crate::status::invalid_argument;
use engine::domain::timetable::{Carriage, Station, Stop, TrainTemplate};
use tonic::Status;

pub fn station_from_pb(station: &pb::Station) -> Station {
    Station { code: station.code.clone(), name: station.name.clone(), pinyin: station.pinyin.clone() }
}

pub fn station_pb(station: &Station) -> pb::Station {
    pb::Station { code: station.code.clone(), name: station.name.clone(), pinyin: station.pinyin.clone() }
}

/// Shape checks only; the engine validates the template's rules.
pub fn train_from_pb(train: &pb::Train) -> Result<TrainTemplate, Status> {
    let carriages = train
        .carriages
        .iter()
        .enumerate()
        .map(|(index, carriage)| {
            let field = |name: &str| format!("train.carriages[{index}].{name}");
            let class = seat_class(&field("seat_class"), carriage.seat_class)?;
            let number = u8::try_from(carriage.number).map_err(|_| invalid_argument(&field("number"), "too large"))?;
            let rows = u16::try_from(carriage.rows).map_err(|_| invalid_argument(&field("rows"), "too large"))?;
            let letters = if carriage.letters.is_empty() {
                class.standard_letters().to_owned()
            } else {
                carriage.letters.clone()
            };
            Ok(Carriage { number, class, rows, letters })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    let stops = train
        .stops
        .iter()
        .map(|stop| Stop {
            station: stop.station.clone(),
            arrive_minutes: stop.arrive_minutes,
            depart_minutes: stop.depart_minutes,
            distance_km: stop.distance_km,
        })
        .collect();
    Ok(TrainTemplate { code: train.code.clone(), stops, carriages })
}

pub fn train_pb(template: &TrainTemplate) -> pb::Train {
    pb::Train {
        code: template.code.clone(),
        stops: template
            .stops
            .iter()
            .map(|stop| pb::Stop {
                station: stop.station.clone(),
                arrive_minutes: stop.arrive_minutes,
                depart_minutes: stop.depart_minutes,
                distance_km: stop.distance_km,
            })
            .collect(),
        carriages: template
            .carriages
            .iter()
            .map(|carriage| pb::Carriage {
                number: u32::from(carriage.number),
                seat_class: seat_class_to_pb(carriage.class).into(),
                rows: u32::from(carriage.rows),
                letters: carriage.letters.clone(),
            })
            .collect(),
    }
}
