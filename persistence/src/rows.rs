//! Row conversion shared by both backends: domain values to bind values, and
//! fetched rows back to domain values. Column order lives here and in `sql`.

use crate::codec::StoredEvent;
use crate::journal::{JournalError, OrderRow, StoredSnapshot};
use engine::domain::timetable::{Carriage, Station, Stop, TrainTemplate};
use engine::slots::SlotFence;
use std::borrow::Cow;

/// One bind parameter, so a row is built once and bound by either backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Int(i64),
    MaybeInt(Option<i64>),
    Text(Cow<'a, str>),
}

/// Stored integers are `u64` in the domain; SQLite binds only `i64`. Seqs and
/// Unix ms never come near 2^63, so going past it is a bug, not data.
pub(crate) fn sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or_else(|_| panic!("{value} does not fit a signed 64-bit column"))
}

fn text(value: &str) -> Value<'_> {
    Value::Text(Cow::Borrowed(value))
}

pub(crate) fn event_values<'a>(stream: &'a str, event: &'a StoredEvent, fence_token: Option<u64>) -> [Value<'a>; 6] {
    [
        text(stream),
        Value::Int(sql_int(event.seq)),
        text(&event.kind),
        Value::Int(event.version.into()),
        text(&event.body),
        Value::MaybeInt(fence_token.map(sql_int)),
    ]
}

pub(crate) fn fence_values(fence: SlotFence, owner: &str, now_ms: u64) -> [Value<'_>; 4] {
    [Value::Int(i64::from(fence.slot)), Value::Int(sql_int(fence.token)), text(owner), Value::Int(sql_int(now_ms))]
}

pub(crate) fn order_values(order: &OrderRow) -> [Value<'_>; 5] {
    [
        text(&order.order_id),
        text(&order.stream),
        text(&order.user_id),
        text(&order.request_id),
        Value::Int(sql_int(order.seq)),
    ]
}

pub(crate) fn snapshot_values<'a>(stream: &'a str, snapshot: &'a StoredSnapshot) -> [Value<'a>; 4] {
    [text(stream), Value::Int(sql_int(snapshot.seq)), Value::Int(snapshot.version.into()), text(&snapshot.body)]
}

pub(crate) fn station_values(station: &Station) -> [Value<'_>; 3] {
    [text(&station.code), text(&station.name), text(&station.pinyin)]
}

pub(crate) fn stop_values<'a>(train: &'a str, index: usize, stop: &'a Stop) -> [Value<'a>; 6] {
    [
        text(train),
        Value::Int(index as i64),
        text(&stop.station),
        Value::MaybeInt(stop.arrive_minutes.map(i64::from)),
        Value::MaybeInt(stop.depart_minutes.map(i64::from)),
        Value::Int(stop.distance_km.into()),
    ]
}

pub(crate) fn carriage_values<'a>(train: &'a str, carriage: &'a Carriage) -> [Value<'a>; 5] {
    [
        text(train),
        Value::Int(carriage.number.into()),
        text(carriage.class.as_str()),
        Value::Int(carriage.rows.into()),
        text(&carriage.letters),
    ]
}

/// A `train_stops` row as fetched.
#[derive(sqlx::FromRow)]
pub(crate) struct StopRow {
    pub train: String,
    pub station: String,
    pub arrive_minutes: Option<u32>,
    pub depart_minutes: Option<u32>,
    pub distance_km: u32,
}

/// A `train_carriages` row as fetched.
#[derive(sqlx::FromRow)]
pub(crate) struct CarriageRow {
    pub train: String,
    pub number: u16,
    pub class: String,
    pub seat_rows: u16,
    pub letters: String,
}

/// Builds templates from train codes, stops sorted by (train, stop_index) and
/// carriages sorted by (train, number).
pub(crate) fn assemble_trains(
    codes: Vec<String>,
    stops: Vec<StopRow>,
    carriages: Vec<CarriageRow>,
) -> Result<Vec<TrainTemplate>, JournalError> {
    let mut stops = stops.into_iter().peekable();
    let mut carriages = carriages.into_iter().peekable();
    let mut trains = Vec::with_capacity(codes.len());
    for code in codes {
        let mut template = TrainTemplate { code, stops: Vec::new(), carriages: Vec::new() };
        while let Some(row) = stops.next_if(|row| row.train == template.code) {
            template.stops.push(Stop {
                station: row.station,
                arrive_minutes: row.arrive_minutes,
                depart_minutes: row.depart_minutes,
                distance_km: row.distance_km,
            });
        }
        while let Some(row) = carriages.next_if(|row| row.train == template.code) {
            template.carriages.push(carriage(row)?);
        }
        trains.push(template);
    }
    if let Some(orphan) = stops.next().map(|row| row.train).or_else(|| carriages.next().map(|row| row.train)) {
        return Err(JournalError::Corrupt(format!("stops or carriages of train {orphan} without a trains row")));
    }
    Ok(trains)
}

fn carriage(row: CarriageRow) -> Result<Carriage, JournalError> {
    let corrupt =
        |reason: String| JournalError::Corrupt(format!("train_carriages {}/{}: {reason}", row.train, row.number));
    Ok(Carriage {
        number: u8::try_from(row.number).map_err(|error| corrupt(error.to_string()))?,
        class: row.class.parse().map_err(corrupt)?,
        rows: row.seat_rows,
        letters: row.letters,
    })
}

/// Turns a column that would not decode into `Corrupt`, naming what was read;
/// every other database error passes through.
pub(crate) fn decode_error(what: impl std::fmt::Display) -> impl FnOnce(sqlx::Error) -> JournalError {
    move |error| match error {
        sqlx::Error::ColumnDecode { index, source } => {
            JournalError::Corrupt(format!("{what}: column {index}: {source}"))
        }
        other => JournalError::Database(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriages_with_unknown_classes_are_corrupt() {
        let row =
            CarriageRow { train: "G1".into(), number: 3, class: "deluxe".into(), seat_rows: 5, letters: "A".into() };
        let error = carriage(row).unwrap_err().to_string();
        assert!(error.contains("train_carriages G1/3") && error.contains("deluxe"), "{error}");
    }
}
