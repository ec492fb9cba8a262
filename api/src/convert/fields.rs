//! Validation of individual request fields.

use crate::pb;
use crate::status::{invalid_argument, rejection_status};
use chrono::{Datelike, NaiveDate};
use engine::domain::command::{PASSENGERS_PER_ORDER_MAX, PassengerRequest, SeatChoice};
use engine::domain::echo::echo;
use engine::domain::order::OrderId;
use engine::domain::rejection::Rejection;
use engine::domain::seat_class::SeatClass;
use engine::domain::state::TrainDateKey;
use engine::domain::timetable::validate_train_code;
use tonic::Status;

/// Longest request id or user id accepted, in bytes.
pub const CLIENT_ID_BYTES_MAX: usize = 64;
/// Longest passenger name accepted, in characters (12306 allows 30).
pub const PASSENGER_NAME_CHARS_MAX: usize = 30;

/// Earliest year a date may name: instants are unsigned Unix milliseconds,
/// so nothing happens before 1970.
pub const DATE_YEAR_MIN: i32 = 1970;

/// A calendar date written exactly `YYYY-MM-DD` (four-digit year, two-digit
/// month and day), from 1970-01-01 to 9999-12-31.
pub fn date(field: &str, text: &str) -> Result<NaiveDate, Status> {
    if text.is_empty() {
        return Err(invalid_argument(field, "is required, as YYYY-MM-DD"));
    }
    let bad = || invalid_argument(field, &format!("{} is not a date as YYYY-MM-DD", echo(text)));
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
    if date.year() < DATE_YEAR_MIN {
        return Err(invalid_argument(field, &format!("{text} is before {DATE_YEAR_MIN}")));
    }
    Ok(date)
}

pub fn train_code(field: &str, text: &str) -> Result<String, Status> {
    if text.is_empty() {
        return Err(invalid_argument(field, "is required, such as G1"));
    }
    validate_train_code(text).map_err(|error| invalid_argument(field, &error.reason))?;
    Ok(text.to_owned())
}

pub fn train_date(field: &str, train_date: Option<&pb::TrainDate>) -> Result<TrainDateKey, Status> {
    let train_date = train_date.ok_or_else(|| invalid_argument(field, "is required"))?;
    Ok(TrainDateKey::new(
        train_code(&format!("{field}.train"), &train_date.train)?,
        date(&format!("{field}.date"), &train_date.date)?,
    ))
}

/// A client-chosen id (request id, user id): 1 to 64 printable ASCII characters.
pub fn client_id(field: &str, text: &str) -> Result<String, Status> {
    if text.is_empty() || text.len() > CLIENT_ID_BYTES_MAX {
        return Err(invalid_argument(field, &format!("must be 1 to {CLIENT_ID_BYTES_MAX} characters")));
    }
    if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(invalid_argument(field, "must be printable ASCII without spaces"));
    }
    Ok(text.to_owned())
}

/// An optional user id: empty means none.
pub fn optional_user(field: &str, text: &str) -> Result<Option<String>, Status> {
    if text.is_empty() { Ok(None) } else { client_id(field, text).map(Some) }
}

pub fn order_id(field: &str, text: &str) -> Result<OrderId, Status> {
    if text.is_empty() {
        return Err(invalid_argument(field, "is required"));
    }
    text.parse().map_err(|_| invalid_argument(field, &format!("{} is not an order id (a UUID)", echo(text))))
}

pub fn seat_class(field: &str, value: i32) -> Result<SeatClass, Status> {
    match pb::SeatClass::try_from(value) {
        Ok(pb::SeatClass::Business) => Ok(SeatClass::Business),
        Ok(pb::SeatClass::First) => Ok(SeatClass::First),
        Ok(pb::SeatClass::Second) => Ok(SeatClass::Second),
        Ok(pb::SeatClass::SoftSleeper) => Ok(SeatClass::SoftSleeper),
        Ok(pb::SeatClass::HardSleeper) => Ok(SeatClass::HardSleeper),
        Ok(pb::SeatClass::Unspecified) => Err(invalid_argument(field, "is required")),
        Err(_) => Err(invalid_argument(field, &format!("{value} is not a seat class"))),
    }
}

pub fn seat_class_to_pb(class: SeatClass) -> pb::SeatClass {
    match class {
        SeatClass::Business => pb::SeatClass::Business,
        SeatClass::First => pb::SeatClass::First,
        SeatClass::Second => pb::SeatClass::Second,
        SeatClass::SoftSleeper => pb::SeatClass::SoftSleeper,
        SeatClass::HardSleeper => pb::SeatClass::HardSleeper,
    }
}

pub fn passengers(list: &[pb::PassengerRequest]) -> Result<Vec<PassengerRequest>, Status> {
    if list.is_empty() || list.len() > PASSENGERS_PER_ORDER_MAX {
        let count = Rejection::PassengerCount { count: list.len(), max: PASSENGERS_PER_ORDER_MAX };
        return Err(rejection_status(&count));
    }
    list.iter().enumerate().map(|(index, passenger)| passenger_request(index, passenger)).collect()
}

fn passenger_request(index: usize, passenger: &pb::PassengerRequest) -> Result<PassengerRequest, Status> {
    let field = |name: &str| format!("passengers[{index}].{name}");
    let name = passenger_name(&field("name"), &passenger.name)?;
    let id_number = resident_id(&field("id_number"), &passenger.id_number)?;
    let class = seat_class(&field("seat_class"), passenger.seat_class)?;
    let choice = match (passenger.pick.is_empty(), &passenger.seat) {
        (false, Some(_)) => return Err(invalid_argument(&field("pick"), "give either pick or seat, not both")),
        (false, None) => pick(&field("pick"), &passenger.pick)?,
        (true, Some(seat)) => exact_seat(&field("seat"), seat)?,
        (true, None) => SeatChoice::Any,
    };
    Ok(PassengerRequest { name, id_number, class, choice })
}

pub fn passenger_name(field: &str, name: &str) -> Result<String, Status> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > PASSENGER_NAME_CHARS_MAX {
        return Err(invalid_argument(field, &format!("must be 1 to {PASSENGER_NAME_CHARS_MAX} characters")));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '·' | '.'))) {
        return Err(invalid_argument(field, &format!("{bad:?} is not allowed; use letters, spaces, '·' or '.'")));
    }
    Ok(name.to_owned())
}

/// Weights of ISO 7064 MOD 11-2 over the first 17 digits of a resident ID.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const RESIDENT_ID_CHECK: &[u8; 11] = b"10X98765432";

/// The ISO 7064 MOD 11-2 check character of a resident ID's first 17 digits.
fn resident_id_check(digits: &[u8]) -> u8 {
    let sum: u32 = digits.iter().zip(RESIDENT_ID_WEIGHTS).map(|(digit, weight)| u32::from(digit - b'0') * weight).sum();
    RESIDENT_ID_CHECK[(sum % 11) as usize]
}

/// `first_17_digits` completed with their check character: a valid resident
/// ID number, for tools and tests that make up passengers (seat-tools'
/// `synthetic::resident_id`).
pub fn with_resident_id_check(first_17_digits: &str) -> String {
    assert!(
        first_17_digits.len() == 17 && first_17_digits.bytes().all(|byte| byte.is_ascii_digit()),
        "a resident ID starts with 17 digits, got {first_17_digits:?}"
    );
    let check = resident_id_check(first_17_digits.as_bytes()) as char;
    format!("{first_17_digits}{check}")
}

/// An 18-character PRC resident ID number with a valid check character.
pub fn resident_id(field: &str, text: &str) -> Result<String, Status> {
    let text = text.trim().to_ascii_uppercase();
    let bytes = text.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(invalid_argument(field, "must be 18 characters: 17 digits and a check character"));
    }
    let expected = resident_id_check(&bytes[..17]);
    if bytes[17] != expected {
        return Err(invalid_argument(field, &format!("check character should be {}", expected as char)));
    }
    Ok(text)
}

/// Shows the first 4 and last 3 characters of an ID number.
pub fn mask_id(id_number: &str) -> String {
    let chars: Vec<char> = id_number.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - 7;
    format!(
        "{}{}{}",
        chars[..4].iter().collect::<String>(),
        "*".repeat(hidden),
        chars[chars.len() - 3..].iter().collect::<String>()
    )
}

fn pick(field: &str, text: &str) -> Result<SeatChoice, Status> {
    let mut chars = text.trim().chars();
    let (Some(letter), Some(row), None) = (chars.next(), chars.next(), chars.next()) else {
        return Err(invalid_argument(field, &format!("{} is not a letter and row such as A1 or D2", echo(text))));
    };
    let letter = letter.to_ascii_uppercase();
    match (letter, row) {
        ('A'..='F', '1'..='2') => Ok(SeatChoice::Pick { letter, row: row as u8 - b'0' }),
        _ => Err(invalid_argument(field, &format!("{} is not a letter A-F and a row 1 or 2", echo(text)))),
    }
}

fn exact_seat(field: &str, seat: &pb::ExactSeat) -> Result<SeatChoice, Status> {
    let carriage = u8::try_from(seat.carriage)
        .ok()
        .filter(|number| *number > 0)
        .ok_or_else(|| invalid_argument(&format!("{field}.carriage"), "must be a carriage number from 1"))?;
    let code = seat.seat.trim();
    if code.is_empty() || code.len() > 4 {
        return Err(invalid_argument(&format!("{field}.seat"), "must be a row and letter such as 12F"));
    }
    Ok(SeatChoice::Exact { carriage, seat_code: code.to_ascii_uppercase() })
}

/// A page size of 1 to `max`, or 0 for `default`, as the proto documents.
pub fn page_size(field: &str, value: u32, default: usize, max: usize) -> Result<usize, Status> {
    match value as usize {
        0 => Ok(default),
        size if size <= max => Ok(size),
        size => Err(invalid_argument(field, &format!("{size} is not 1 to {max} (or 0 for {default})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_check_character() {
        assert!(resident_id("id", "11010519491231002X").is_ok());
        assert!(resident_id("id", "110105194912310021").is_err());
        assert!(resident_id("id", "11010519491231002").is_err());
        assert_eq!(resident_id("id", "11010519491231002x").unwrap(), "11010519491231002X");
    }

    #[test]
    fn completed_ids_validate() {
        assert_eq!(with_resident_id_check("11010519491231002"), "11010519491231002X");
        for digits in ["10000000000000000", "19999999999999999", "12345678901234567"] {
            assert!(resident_id("id", &with_resident_id_check(digits)).is_ok());
        }
    }

    #[test]
    #[should_panic(expected = "17 digits")]
    fn completing_a_short_id_is_a_bug() {
        with_resident_id_check("1101051949123100");
    }

    #[test]
    fn masks_all_but_edges() {
        assert_eq!(mask_id("11010519491231002X"), "1101***********02X");
    }

    #[test]
    fn dates_are_strictly_yyyy_mm_dd() {
        assert_eq!(date("d", "2026-12-03").unwrap(), NaiveDate::from_ymd_opt(2026, 12, 3).unwrap());
        assert!(date("d", "1970-01-01").is_ok());
        assert!(date("d", "9999-12-31").is_ok());
        for bad in ["2026-12-3", "2026-1-01", "2026-1-1", "0000-01-01", "1969-12-31", "+2026-01-01", "2026-02-30"] {
            assert!(date("d", bad).is_err(), "{bad}");
        }
        for bad in ["20261-01-01", " 2026-01-01", "2026/01/01", "２０２６-01-01", "2026-01-01\n"] {
            assert!(date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_follow_the_proto() {
        assert_eq!(page_size("p", 0, 20, 100).unwrap(), 20);
        assert_eq!(page_size("p", 1, 20, 100).unwrap(), 1);
        assert_eq!(page_size("p", 100, 20, 100).unwrap(), 100);
        assert!(page_size("p", 101, 20, 100).is_err());
        assert!(page_size("p", u32::MAX, 20, 100).is_err());
    }

    #[test]
    fn picks_parse_letter_and_row() {
        assert_eq!(pick("p", "c2").unwrap(), SeatChoice::Pick { letter: 'C', row: 2 });
        assert!(pick("p", "A3").is_err());
        assert!(pick("p", "A12").is_err());
    }
}
