//! Test fixtures shared by the engine's unit tests.

use crate::domain::seat_class::SeatClass;
use crate::domain::timetable::{Carriage, Stop, TrainTemplate};

/// A G train calling at `stop_count` stops, leaving stop k at 08:00 + k hours,
/// 100 km apart, with carriages given as (class, rows, letters).
pub fn template(stop_count: usize, carriages: &[(SeatClass, u16, &str)]) -> TrainTemplate {
    let last = stop_count - 1;
    let stops = (0..stop_count)
        .map(|index| {
            let minutes = 480 + 60 * index as u32;
            Stop {
                station: format!("S{}", (b'A' + index as u8) as char),
                arrive_minutes: (index > 0).then_some(minutes - 2),
                depart_minutes: (index < last).then_some(minutes),
                distance_km: 100 * index as u32,
            }
        })
        .collect();
    let carriages = carriages
        .iter()
        .enumerate()
        .map(|(index, (class, rows, letters))| Carriage {
            number: index as u8 + 1,
            class: *class,
            rows: *rows,
            letters: (*letters).to_owned(),
        })
        .collect();
    let template = TrainTemplate { code: "G1".into(), stops, carriages };
    template.validate(|_| true).expect("fixture template is valid");
    template
}
