//! The timetable file format (TOML) that `seatctl import` and `seatd --demo`
//! read. `api/demo/beijing-shanghai.toml` is the worked example.
//!
//! ```toml
//! [[stations]]
//! code = "VNP"            # telegraph code, 2–8 upper-case letters
//! name = "北京南"
//! pinyin = "beijingnan"
//!
//! [compositions.CR400AF-8]  # a named carriage list trains refer to
//! carriages = [
//!   { class = "business", rows = 7, letters = "ACF" },   # numbered 1, 2, 3… in order
//!   { class = "second", rows = 17 },                      # letters default to the class's
//! ]
//!
//! [[trains]]
//! code = "G1"
//! composition = "CR400AF-8"
//! stops = [
//!   { station = "VNP", depart = "07:00", km = 0 },
//!   { station = "NKH", arrive = "10:02", depart = "10:04", km = 1023 },
//!   { station = "AOH", arrive = "11:29", km = 1318 },
//! ]
//! ```
//!
//! Times are `HH:MM` on the departure date; `day = N` on a stop puts it N days
//! later, and a departure earlier than its arrival rolls over to the next day.

use super::seat_class::SeatClass;
use super::timetable::{Carriage, MINUTES_PER_DAY, Station, Stop, TimetableError, TrainTemplate};
use serde::Deserialize;
use std::collections::HashMap;

/// Largest timetable file accepted, in bytes; the whole Chinese network's
/// templates are a few MB, so this is a guard against the wrong file.
pub const TIMETABLE_FILE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// A parsed timetable: stations first, then trains that refer to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timetable {
    pub stations: Vec<Station>,
    pub trains: Vec<TrainTemplate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoot {
    #[serde(default)]
    stations: Vec<Station>,
    #[serde(default)]
    compositions: HashMap<String, FileComposition>,
    #[serde(default)]
    trains: Vec<FileTrain>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileComposition {
    carriages: Vec<FileCarriage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCarriage {
    class: SeatClass,
    rows: u16,
    letters: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTrain {
    code: String,
    composition: String,
    stops: Vec<FileStop>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStop {
    station: String,
    arrive: Option<String>,
    depart: Option<String>,
    #[serde(default)]
    day: u32,
    km: u32,
}

/// Parses a timetable file. Errors name the place in the file; structural
/// rules (stop limits, km order…) are checked by `TrainTemplate::validate`.
pub fn parse_timetable(text: &str) -> Result<Timetable, TimetableError> {
    if text.len() > TIMETABLE_FILE_BYTES_MAX {
        return Err(TimetableError::field("file", format!("larger than {TIMETABLE_FILE_BYTES_MAX} bytes")));
    }
    let root: FileRoot = toml::from_str(text).map_err(|error| TimetableError::field("file", error.to_string()))?;
    let mut trains = Vec::with_capacity(root.trains.len());
    for (index, train) in root.trains.iter().enumerate() {
        let context = |error: TimetableError| {
            TimetableError::field(format!("trains[{index}] ({}).{}", train.code, error.field), error.reason)
        };
        let composition = root.compositions.get(&train.composition).ok_or_else(|| {
            context(TimetableError::field("composition", format!("no composition named {:?}", train.composition)))
        })?;
        let stops = convert_stops(&train.stops).map_err(context)?;
        let carriages = composition
            .carriages
            .iter()
            .enumerate()
            .map(|(position, carriage)| Carriage {
                number: (position + 1).min(usize::from(u8::MAX)) as u8,
                class: carriage.class,
                rows: carriage.rows,
                letters: carriage.letters.clone().unwrap_or_else(|| carriage.class.standard_letters().to_owned()),
            })
            .collect();
        trains.push(TrainTemplate { code: train.code.clone(), stops, carriages });
    }
    Ok(Timetable { stations: root.stations, trains })
}

fn convert_stops(stops: &[FileStop]) -> Result<Vec<Stop>, TimetableError> {
    stops
        .iter()
        .enumerate()
        .map(|(index, stop)| {
            let day_start = stop.day.checked_mul(MINUTES_PER_DAY).filter(|minutes| *minutes < u32::MAX / 2);
            let day_start =
                day_start.ok_or_else(|| TimetableError::field(format!("stops[{index}].day"), "too large"))?;
            let parse = |name: &str, text: &Option<String>| -> Result<Option<u32>, TimetableError> {
                text.as_deref()
                    .map(|text| {
                        parse_clock(text).map(|minutes| day_start + minutes).ok_or_else(|| {
                            TimetableError::field(format!("stops[{index}].{name}"), format!("{text:?} is not HH:MM"))
                        })
                    })
                    .transpose()
            };
            let arrive_minutes = parse("arrive", &stop.arrive)?;
            let mut depart_minutes = parse("depart", &stop.depart)?;
            if let (Some(arrive), Some(depart)) = (arrive_minutes, depart_minutes)
                && depart < arrive
            {
                depart_minutes = Some(depart + MINUTES_PER_DAY);
            }
            Ok(Stop { station: stop.station.clone(), arrive_minutes, depart_minutes, distance_km: stop.km })
        })
        .collect()
}

/// `HH:MM` → minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u32> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overnight_departure_rolls_to_the_next_day() {
        let text = r#"
            [compositions.c]
            carriages = [{ class = "soft_sleeper", rows = 2 }]
            [[trains]]
            code = "D701"
            composition = "c"
            stops = [
              { station = "AAA", depart = "21:30", km = 0 },
              { station = "BBB", arrive = "23:58", depart = "00:04", km = 200 },
              { station = "CCC", arrive = "07:10", day = 1, km = 900 },
            ]
        "#;
        let timetable = parse_timetable(text).expect("parses");
        let stops = &timetable.trains[0].stops;
        assert_eq!(stops[1].depart_minutes, Some(MINUTES_PER_DAY + 4));
        assert_eq!(stops[2].arrive_minutes, Some(MINUTES_PER_DAY + 430));
        assert_eq!(timetable.trains[0].carriages[0].letters, "AB");
    }

    #[test]
    fn errors_name_the_train_and_field() {
        let text = r#"
            [[trains]]
            code = "G9"
            composition = "missing"
            stops = []
        "#;
        let error = parse_timetable(text).unwrap_err();
        assert_eq!(error.field, "trains[0] (G9).composition");
    }

    #[test]
    fn bad_clock_is_rejected() {
        assert_eq!(parse_clock("24:00"), None);
        assert_eq!(parse_clock("7:05"), Some(425));
        assert_eq!(parse_clock("07:5"), None);
    }
}
