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

/// A synthetic timetable for scale tests, in the import format: `stations`
/// stations on a ring, and `trains` trains of `stops` consecutive stations
/// each (12 minutes and 60 km apart), all with the demo's 16-car,
/// 1,193-seat composition.
pub fn synthetic_timetable(trains: usize, stops: usize, stations: usize) -> String {
    use std::fmt::Write;
    let stations = stations.max(stops);
    let code = synthetic_station_code;
    let mut text = String::from("# Synthetic timetable for scale tests (seatctl synth-timetable).\n\n");
    for index in 0..stations {
        let _ = writeln!(text, "[[stations]]\ncode = \"{}\"\nname = \"合成站{index}\"\n", code(index));
    }
    text.push_str("[compositions.sixteen-car]\ncarriages = [\n  { class = \"business\", rows = 5 },\n");
    text.push_str("  { class = \"first\", rows = 14 },\n  { class = \"first\", rows = 14 },\n");
    for rows in [17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 16, 16] {
        let _ = writeln!(text, "  {{ class = \"second\", rows = {rows} }},");
    }
    text.push_str("  { class = \"first\", rows = 14 },\n]\n\n");
    for train in 0..trains {
        let first_station = synthetic_first_station(train, stations);
        let start_minutes = 360 + (train % 16) * 60;
        let _ = writeln!(text, "[[trains]]\ncode = \"G{}\"\ncomposition = \"sixteen-car\"\nstops = [", train + 1);
        for stop in 0..stops {
            let station = code((first_station + stop) % stations);
            let minutes = start_minutes + stop * 12;
            let clock = |m: usize| format!("{:02}:{:02}", m / 60 % 24, m % 60);
            // `day` is the arrival's; a departure earlier than its arrival rolls over.
            let arrive_minutes = if stop == stops - 1 { minutes } else { minutes - 2 };
            let day = arrive_minutes / 1440;
            let day = if day > 0 && stop > 0 { format!(", day = {day}") } else { String::new() };
            let times = match stop {
                0 => format!("depart = \"{}\"", clock(minutes)),
                last if last == stops - 1 => format!("arrive = \"{}\"{day}", clock(minutes)),
                _ => format!("arrive = \"{}\", depart = \"{}\"{day}", clock(minutes - 2), clock(minutes)),
            };
            let _ = writeln!(text, "  {{ station = \"{station}\", {times}, km = {} }},", stop * 60);
        }
        text.push_str("]\n\n");
    }
    text
}

/// Code of synthetic station `index`: S and three letters.
pub fn synthetic_station_code(index: usize) -> String {
    let letters: String = (0..3).map(|place| (b'A' + (index / 26usize.pow(place) % 26) as u8) as char).collect();
    format!("S{letters}")
}

/// Where synthetic train `train` (0-based; its code is G{train + 1}) starts on the ring.
pub fn synthetic_first_station(train: usize, stations: usize) -> usize {
    (train * 7) % stations
}
