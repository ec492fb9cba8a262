//! The engine template a harness train-date opens with: the layout's seats
//! and stops, numbered exactly as the layout numbers them.

use crate::layout::Layout;
use crate::model::BaselineError;
use engine::domain::timetable::{Carriage, Stop, TrainTemplate};

/// Departure from the first stop, minutes after midnight.
const FIRST_DEPARTURE_MINUTES: u32 = 6 * 60;
/// Minutes from one stop's arrival to the next's.
const MINUTES_PER_STOP: u32 = 20;
/// Minutes a train stands at an intermediate stop.
const DWELL_MINUTES: u32 = 2;
/// Kilometres between consecutive stops (fares only).
const KM_PER_STOP: u32 = 50;

/// Station code of stop `stop` on every bench train: `BBAA`, `BBAB`, ….
pub fn station_code(stop: usize) -> String {
    let letter = |index: usize| char::from(b'A' + (index % 26) as u8);
    format!("BB{}{}", letter(stop / 26), letter(stop))
}

/// The template of train `train` with `layout`'s stops and seats, numbering
/// seats exactly as the layout does.
pub(super) fn template_for(train: &str, layout: &Layout) -> Result<TrainTemplate, BaselineError> {
    let last = layout.last_stop();
    let stops = (0..layout.stop_count())
        .map(|stop| {
            let arrive = FIRST_DEPARTURE_MINUTES + stop as u32 * MINUTES_PER_STOP;
            Stop {
                station: station_code(stop),
                arrive_minutes: (stop > 0).then_some(arrive),
                depart_minutes: match stop {
                    0 => Some(FIRST_DEPARTURE_MINUTES),
                    stop if stop == last => None,
                    _ => Some(arrive + DWELL_MINUTES),
                },
                distance_km: stop as u32 * KM_PER_STOP,
            }
        })
        .collect();
    let mut carriages: Vec<Carriage> = Vec::new();
    for seat in layout.seats() {
        let letter_at = seat.code.len().checked_sub(1).filter(|at| *at > 0 && seat.code.is_char_boundary(*at));
        let parsed = letter_at.and_then(|at| Some((seat.code[..at].parse::<u16>().ok()?, seat.code[at..].to_owned())));
        let Some((row, letter)) = parsed else {
            return Err(BaselineError::Invalid(format!("seat code {:?} is not like 12F", seat.code)));
        };
        match carriages.last_mut() {
            Some(carriage) if carriage.number == seat.carriage => {
                if carriage.class != seat.class {
                    return Err(BaselineError::Invalid(format!("carriage {} mixes classes", seat.carriage)));
                }
                if !carriage.letters.contains(letter.as_str()) {
                    carriage.letters.push_str(&letter);
                }
                carriage.rows = carriage.rows.max(row);
            }
            _ => carriages.push(Carriage { number: seat.carriage, class: seat.class, rows: row, letters: letter }),
        }
    }
    let template = TrainTemplate { code: train.to_owned(), stops, carriages };
    template.validate(|_| true).map_err(|error| BaselineError::Invalid(format!("train {train}: {error}")))?;
    if Layout::from_template(&template) != *layout {
        return Err(BaselineError::Invalid(format!(
            "train {train}: the layout is not whole rows of carriages, so the engine would number its seats differently"
        )));
    }
    Ok(template)
}
