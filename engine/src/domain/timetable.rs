//! Stations, trains, stops and carriages: the templates a train-date is cut from.

use super::echo::echo;
use super::seat_class::SeatClass;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// A train may call at this many stops at most: a seat's taken segments are one
/// `u64`, and N stops have N−1 segments.
pub const STOPS_PER_TRAIN_MAX: usize = 64;
/// Carriages per train; the longest real compositions have 17 or 18.
pub const CARRIAGES_PER_TRAIN_MAX: usize = 32;
/// Rows per carriage; a sleeper or second-class carriage has about 20.
pub const ROWS_PER_CARRIAGE_MAX: u16 = 40;
/// Minutes in a day; stop times are minutes after midnight of the departure date.
pub const MINUTES_PER_DAY: u32 = 1440;
/// Longest journey the timetable accepts, in days after departure (the longest
/// Chinese services run a little over two days).
pub const SERVICE_DAYS_MAX: u32 = 4;

/// A station's telegraph code, such as `VNP` for 北京南.
pub type StationCode = String;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Station {
    /// Upper-case letters, 2 to 8 of them; unique across the network.
    pub code: StationCode,
    /// The name passengers know, such as 北京南.
    pub name: String,
    /// Lower-case pinyin of the name, for search boxes.
    #[serde(default)]
    pub pinyin: String,
}

/// Type of service, taken from the first letter of the train code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrainType {
    /// G and C trains.
    HighSpeed,
    /// D trains.
    Emu,
    /// Z, T, K and numbered trains.
    Conventional,
}

impl TrainType {
    pub fn from_code(code: &str) -> Self {
        match code.chars().next() {
            Some('G') | Some('C') => TrainType::HighSpeed,
            Some('D') => TrainType::Emu,
            _ => TrainType::Conventional,
        }
    }

    /// Fare factor in percent: G 1.2, D 1.0, K 0.8.
    pub fn fare_factor_percent(self) -> u64 {
        match self {
            TrainType::HighSpeed => 120,
            TrainType::Emu => 100,
            TrainType::Conventional => 80,
        }
    }
}

/// One call of a train at a station.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stop {
    pub station: StationCode,
    /// Minutes after midnight of the departure date; `None` at the origin.
    /// Values past 1440 are on a later day (day offset = minutes / 1440).
    pub arrive_minutes: Option<u32>,
    /// Minutes after midnight of the departure date; `None` at the terminus.
    pub depart_minutes: Option<u32>,
    /// Distance from the origin in km.
    pub distance_km: u32,
}

impl Stop {
    /// The time the train is at this stop: departure, or arrival at the terminus.
    pub fn time_minutes(&self) -> u32 {
        self.depart_minutes.or(self.arrive_minutes).unwrap_or(0)
    }

    /// Days after the departure date on which the train leaves (or reaches) this stop.
    pub fn day_offset(&self) -> u32 {
        self.time_minutes() / MINUTES_PER_DAY
    }
}

/// One carriage of a composition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Carriage {
    /// 1-based, contiguous along the train.
    pub number: u8,
    pub class: SeatClass,
    pub rows: u16,
    /// Column letters in seating order, a subset of the class's standard letters.
    pub letters: String,
}

impl Carriage {
    pub fn seat_count(&self) -> u32 {
        u32::from(self.rows) * self.letters.len() as u32
    }
}

/// The timetable template of one train; train-dates copy it when they open.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrainTemplate {
    /// Such as G1 or D701; the first letter gives the train type.
    pub code: String,
    pub stops: Vec<Stop>,
    pub carriages: Vec<Carriage>,
}

impl TrainTemplate {
    pub fn train_type(&self) -> TrainType {
        TrainType::from_code(&self.code)
    }

    pub fn stop_index(&self, station: &str) -> Option<usize> {
        self.stops.iter().position(|stop| stop.station == station)
    }

    pub fn seat_count(&self) -> u32 {
        self.carriages.iter().map(Carriage::seat_count).sum()
    }

    /// Checks every structural rule; the field path in the error is what a
    /// client must fix.
    pub fn validate(&self, station_exists: impl Fn(&str) -> bool) -> Result<(), TimetableError> {
        validate_train_code(&self.code)?;
        self.validate_stops(station_exists)?;
        self.validate_carriages()
    }

    fn validate_stops(&self, station_exists: impl Fn(&str) -> bool) -> Result<(), TimetableError> {
        let stop_count = self.stops.len();
        if stop_count < 2 {
            return Err(TimetableError::field("stops", "a train needs at least 2 stops"));
        }
        if stop_count > STOPS_PER_TRAIN_MAX {
            return Err(TimetableError::field(
                "stops",
                format!("{stop_count} stops exceed the limit of {STOPS_PER_TRAIN_MAX}"),
            ));
        }
        let last = stop_count - 1;
        let mut previous_time = 0u32;
        let mut previous_km = 0u32;
        for (index, stop) in self.stops.iter().enumerate() {
            let field = |name: &str| format!("stops[{index}].{name}");
            if !station_exists(&stop.station) {
                return Err(TimetableError::field(
                    field("station"),
                    format!("unknown station {}", echo(&stop.station)),
                ));
            }
            if self.stops[..index].iter().any(|earlier| earlier.station == stop.station) {
                return Err(TimetableError::field(
                    field("station"),
                    format!("{} is called at twice", echo(&stop.station)),
                ));
            }
            match (index, stop.arrive_minutes, stop.depart_minutes) {
                (0, _, None) => {
                    return Err(TimetableError::field(field("depart_minutes"), "the origin needs a departure time"));
                }
                (i, None, _) if i > 0 => {
                    return Err(TimetableError::field(
                        field("arrive_minutes"),
                        "every stop after the origin needs an arrival time",
                    ));
                }
                (i, _, None) if i < last => {
                    return Err(TimetableError::field(
                        field("depart_minutes"),
                        "every stop before the terminus needs a departure time",
                    ));
                }
                _ => {}
            }
            for (name, minutes) in [("arrive_minutes", stop.arrive_minutes), ("depart_minutes", stop.depart_minutes)] {
                let Some(minutes) = minutes else { continue };
                if index > 0 && minutes < previous_time {
                    return Err(TimetableError::field(field(name), "times must not go backwards along the train"));
                }
                if minutes >= SERVICE_DAYS_MAX * MINUTES_PER_DAY {
                    return Err(TimetableError::field(
                        field(name),
                        format!("a journey may last at most {SERVICE_DAYS_MAX} days"),
                    ));
                }
                previous_time = minutes;
            }
            if index == 0 && stop.distance_km != 0 {
                return Err(TimetableError::field(field("distance_km"), "the origin is at 0 km"));
            }
            if index > 0 && stop.distance_km <= previous_km {
                return Err(TimetableError::field(
                    field("distance_km"),
                    "distance from the origin must grow at every stop",
                ));
            }
            previous_km = stop.distance_km;
        }
        Ok(())
    }

    fn validate_carriages(&self) -> Result<(), TimetableError> {
        if self.carriages.is_empty() {
            return Err(TimetableError::field("carriages", "a train needs at least one carriage"));
        }
        if self.carriages.len() > CARRIAGES_PER_TRAIN_MAX {
            return Err(TimetableError::field(
                "carriages",
                format!("{} carriages exceed the limit of {CARRIAGES_PER_TRAIN_MAX}", self.carriages.len()),
            ));
        }
        for (index, carriage) in self.carriages.iter().enumerate() {
            let field = |name: &str| format!("carriages[{index}].{name}");
            if usize::from(carriage.number) != index + 1 {
                return Err(TimetableError::field(
                    field("number"),
                    format!("carriages are numbered 1, 2, 3… in order; expected {}", index + 1),
                ));
            }
            if carriage.rows == 0 || carriage.rows > ROWS_PER_CARRIAGE_MAX {
                return Err(TimetableError::field(field("rows"), format!("must be 1 to {ROWS_PER_CARRIAGE_MAX}")));
            }
            validate_letters(carriage).map_err(|reason| TimetableError::field(field("letters"), reason))?;
        }
        Ok(())
    }
}

fn validate_letters(carriage: &Carriage) -> Result<(), String> {
    let allowed = carriage.class.standard_letters();
    if carriage.letters.is_empty() {
        return Err("at least one letter is needed".into());
    }
    let mut last_position = None;
    for letter in carriage.letters.chars() {
        let Some(position) = allowed.find(letter) else {
            return Err(format!("{letter:?} is not a {} letter; allowed: {allowed}", carriage.class));
        };
        if last_position.is_some_and(|last| position <= last) {
            return Err(format!("letters must be distinct and in the order {allowed}"));
        }
        last_position = Some(position);
    }
    Ok(())
}

/// Train codes are a letter or digit followed by up to 7 more letters or digits.
pub fn validate_train_code(code: &str) -> Result<(), TimetableError> {
    let valid = (1..=8).contains(&code.len()) && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(TimetableError::field("code", format!("{} is not a train code like G1 or D701", echo(code))))
    }
}

/// Station codes are 2 to 8 upper-case ASCII letters.
pub fn validate_station(station: &Station) -> Result<(), TimetableError> {
    let code_valid = (2..=8).contains(&station.code.len()) && station.code.chars().all(|c| c.is_ascii_uppercase());
    if !code_valid {
        return Err(TimetableError::field("code", format!("{} is not 2 to 8 upper-case letters", echo(&station.code))));
    }
    let name_chars = station.name.chars().count();
    if name_chars == 0 || name_chars > STATION_NAME_CHARS_MAX {
        return Err(TimetableError::field(
            "name",
            format!("must be 1 to {STATION_NAME_CHARS_MAX} printable characters"),
        ));
    }
    if let Some(bad) = station.name.chars().find(|c| !is_printable(*c)) {
        return Err(TimetableError::field(
            "name",
            format!(
                "U+{:04X} is not a printable character; a name is 1 to {STATION_NAME_CHARS_MAX} of them",
                bad as u32
            ),
        ));
    }
    if station.name.trim() != station.name {
        return Err(TimetableError::field("name", "must not start or end with white space"));
    }
    if station.pinyin.len() > 64 || !station.pinyin.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(TimetableError::field("pinyin", "must be at most 64 lower-case ASCII letters"));
    }
    Ok(())
}

/// Longest station name, in characters; the longest real names have about 10.
pub const STATION_NAME_CHARS_MAX: usize = 32;

/// Whether `c` shows as itself: not a control, format (zero-width, bidi
/// override, byte-order mark), line or paragraph separator, private-use or
/// noncharacter code point. Such code points make names that look equal but
/// differ, or that reorder or hide the text around them.
pub fn is_printable(c: char) -> bool {
    let code = c as u32;
    let format = matches!(
        code,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    );
    let separator = matches!(code, 0x2028 | 0x2029);
    let private_use = matches!(code, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let noncharacter = matches!(code, 0xFDD0..=0xFDEF) || code & 0xFFFE == 0xFFFE;
    !(c.is_control() || format || separator || private_use || noncharacter)
}

/// A template that breaks a structural rule; `field` is a path such as
/// `stops[3].distance_km`, named as in the proto.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct TimetableError {
    pub field: String,
    pub reason: String,
}

impl TimetableError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        TimetableError { field: field.into(), reason: reason.into() }
    }
}

/// Formats minutes after midnight of the departure date as `HH:MM`, with `+N`
/// for later days.
pub struct ClockTime(pub u32);

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = self.0 / MINUTES_PER_DAY;
        let minute_of_day = self.0 % MINUTES_PER_DAY;
        write!(f, "{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)?;
        if day > 0 {
            write!(f, "+{day}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station(name: &str) -> Station {
        Station { code: "VNP".into(), name: name.into(), pinyin: String::new() }
    }

    #[test]
    fn station_names_are_1_to_32_printable_characters() {
        for name in ["北京南", "A", "Beijing South", "Ürümqi", &"站".repeat(STATION_NAME_CHARS_MAX)] {
            assert!(validate_station(&station(name)).is_ok(), "{name:?}");
        }
        for name in [
            "",
            &"站".repeat(STATION_NAME_CHARS_MAX + 1),
            "\u{200d}\u{200b}",
            "\u{feff}",
            "\u{202e}RTL",
            "\u{10ffff}",
            "\u{e000}",
            "北京\u{2028}南",
            "\u{fdd0}",
            "tab\there",
            " 北京南",
            "北京南 ",
        ] {
            let error = validate_station(&station(name)).expect_err(name);
            assert_eq!(error.field, "name", "{name:?}");
        }
    }

    #[test]
    fn printable_edges() {
        for c in ['a', '北', ' ', '·', '\u{3000}', '\u{fffd}', '\u{1f686}'] {
            assert!(is_printable(c), "{c:?}");
        }
        for c in ['\0', '\u{7f}', '\u{ad}', '\u{200b}', '\u{2066}', '\u{fffe}', '\u{1fffe}', '\u{f8ff}', '\u{e007f}'] {
            assert!(!is_printable(c), "{c:?}");
        }
    }
}
