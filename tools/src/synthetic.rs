//! Synthetic data for scale tests and load tools: a timetable of many trains
//! on a ring of stations, and valid, distinct resident ID numbers.

use std::fmt::Write;

/// Distinct resident ID serials: the 16 digits after the leading 1.
const RESIDENT_ID_SERIALS: u64 = 10_000_000_000_000_000;

/// A synthetic timetable for scale tests, in the import format: `stations`
/// stations on a ring, and `trains` trains of `stops` consecutive stations
/// each (12 minutes and 60 km apart), all with the demo's 16-car,
/// 1,193-seat composition.
pub fn timetable(trains: usize, stops: usize, stations: usize) -> String {
    let stations = stations.max(stops);
    let mut text = String::from("# Synthetic timetable for scale tests (seatsynth timetable).\n\n");
    for index in 0..stations {
        let _ = writeln!(text, "[[stations]]\ncode = \"{}\"\nname = \"合成站{index}\"\n", station_code(index));
    }
    text.push_str("[compositions.sixteen-car]\ncarriages = [\n  { class = \"business\", rows = 5 },\n");
    text.push_str("  { class = \"first\", rows = 14 },\n  { class = \"first\", rows = 14 },\n");
    for rows in [17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 16, 16] {
        let _ = writeln!(text, "  {{ class = \"second\", rows = {rows} }},");
    }
    text.push_str("  { class = \"first\", rows = 14 },\n]\n\n");
    for train in 0..trains {
        write_train(&mut text, train, stops, stations);
    }
    text
}

/// One `[[trains]]` entry: train `train` (code G{train + 1}) calling at
/// `stops` consecutive ring stations from its first.
fn write_train(text: &mut String, train: usize, stops: usize, stations: usize) {
    let first_station = first_station(train, stations);
    let start_minutes = 360 + (train % 16) * 60;
    let _ = writeln!(text, "[[trains]]\ncode = \"G{}\"\ncomposition = \"sixteen-car\"\nstops = [", train + 1);
    for stop in 0..stops {
        let station = station_code((first_station + stop) % stations);
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

/// Code of synthetic station `index`: S and three letters.
pub fn station_code(index: usize) -> String {
    let letters: String = (0..3).map(|place| (b'A' + (index / 26usize.pow(place) % 26) as u8) as char).collect();
    format!("S{letters}")
}

/// Where synthetic train `train` (0-based; its code is G{train + 1}) starts on the ring.
pub fn first_station(train: usize, stations: usize) -> usize {
    (train * 7) % stations
}

/// Station codes of synthetic train `train` (0-based) in calling order, on a
/// network of `stops`-stop trains over `stations` stations.
pub fn route(train: usize, stops: usize, stations: usize) -> Vec<String> {
    let first = first_station(train, stations);
    (0..stops).map(|stop| station_code((first + stop) % stations)).collect()
}

/// A valid (checksummed) resident ID number made from a serial, distinct for
/// every serial below 10^16, for load tools and tests that need many passengers.
pub fn resident_id(serial: u64) -> String {
    api::convert::with_resident_id_check(&format!("1{:016}", serial % RESIDENT_ID_SERIALS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::domain::timetable_file::parse_timetable;

    #[test]
    fn resident_ids_validate_and_differ() {
        let ids: Vec<String> = [0, 1, 2, 12_345, 9_999_999_999_999_999].into_iter().map(resident_id).collect();
        for id in &ids {
            assert!(api::convert::resident_id("id", id).is_ok(), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn timetable_parses_with_the_routes_the_bench_books() {
        let text = timetable(3, 5, 8);
        let parsed = parse_timetable(&text).expect("synthetic timetable parses");
        assert_eq!(parsed.stations.len(), 8);
        assert_eq!(parsed.trains.len(), 3);
        for (index, train) in parsed.trains.iter().enumerate() {
            let stops: Vec<&str> = train.stops.iter().map(|stop| stop.station.as_str()).collect();
            assert_eq!(stops, route(index, 5, 8), "train {index}");
        }
    }
}
