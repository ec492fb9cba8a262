//! Command-line values → request fields: dates, train-dates, passengers.

use crate::Failure;
use api::pb;
use chrono::{Days, NaiveDate};
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;

pub fn train_date(train: String, date: &str) -> Result<pb::TrainDate, Failure> {
    Ok(pb::TrainDate { train: train.to_ascii_uppercase(), date: date_arg("--date", date)?.to_string() })
}

/// YYYY-MM-DD, or today / tomorrow / +N relative to today in service time (UTC+8).
pub fn date_arg(flag: &str, text: &str) -> Result<NaiveDate, Failure> {
    let today = service_date_of(SystemClock.now_ms());
    let offset = match text {
        "today" => Some(0),
        "tomorrow" => Some(1),
        _ => text.strip_prefix('+').and_then(|days| days.parse::<u64>().ok()),
    };
    if let Some(days) = offset {
        return Ok(today + Days::new(days));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| Failure::Usage(format!("{flag}: {text:?} is not YYYY-MM-DD, today, tomorrow or +N")))
}

/// NAME,ID_NUMBER,CLASS[,PICK|CARRIAGE-SEAT]
pub fn passenger_arg(text: &str) -> Result<pb::PassengerRequest, Failure> {
    let usage = || Failure::Usage(format!("--passenger {text:?}: expected NAME,ID_NUMBER,CLASS[,PICK|CARRIAGE-SEAT]"));
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if !(3..=4).contains(&parts.len()) {
        return Err(usage());
    }
    let class: engine::domain::seat_class::SeatClass =
        parts[2].parse().map_err(|error: String| Failure::Usage(error))?;
    let mut passenger = pb::PassengerRequest {
        name: parts[0].to_owned(),
        id_number: parts[1].to_owned(),
        seat_class: api::convert::seat_class_to_pb(class).into(),
        ..Default::default()
    };
    match parts.get(3) {
        Some(choice) if choice.contains('-') => {
            let (carriage, seat) = choice.split_once('-').ok_or_else(usage)?;
            let carriage = carriage.parse().map_err(|_| usage())?;
            passenger.seat = Some(pb::ExactSeat { carriage, seat: seat.to_owned() });
        }
        Some(pick) => passenger.pick = (*pick).to_owned(),
        None => {}
    }
    Ok(passenger)
}
