use engine::domain::plan::TrainPlan;
use engine::domain::seat_class::SeatClass;
use engine::domain::state::{TrainDateKey, TrainDateState};
use engine::domain::timetable::{Carriage, Stop, TrainTemplate};
use std::sync::Arc;

/// Stops on the benchmark train: the Beijing–Shanghai line has 24 stations.
pub const BENCH_STOPS: usize = 24;

/// A 16-car train with 1,193 seats (business 15, first 168, second 1,010)
/// calling at 24 stops 57 km apart.
pub fn sixteen_car_train(code: &str) -> TrainTemplate {
    let mut carriages = vec![(SeatClass::Business, 5), (SeatClass::First, 14), (SeatClass::First, 14)];
    carriages.extend(std::iter::repeat_n((SeatClass::Second, 17), 10));
    carriages.extend([(SeatClass::Second, 16), (SeatClass::Second, 16), (SeatClass::First, 14)]);
    TrainTemplate {
        code: code.to_owned(),
        stops: (0..BENCH_STOPS)
            .map(|index| Stop {
                station: format!("S{index:02}"),
                arrive_minutes: (index > 0).then_some(420 + index as u32 * 15),
                depart_minutes: (index < BENCH_STOPS - 1).then_some(422 + index as u32 * 15),
                distance_km: index as u32 * 57,
            })
            .collect(),
        carriages: carriages
            .into_iter()
            .enumerate()
            .map(|(index, (class, rows))| Carriage {
                number: index as u8 + 1,
                class,
                rows,
                letters: class.standard_letters().to_owned(),
            })
            .collect(),
    }
}

/// A fresh train-date of the 16-car train, departing 2026-12-01.
pub fn fresh_train_date() -> TrainDateState {
    let plan = Arc::new(TrainPlan::new(sixteen_car_train("G1")));
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    TrainDateState::open(TrainDateKey::new("G1", date), plan)
}
