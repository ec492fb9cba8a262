//! The bundled demo: the Beijing–Shanghai high-speed line.

use chrono::{Days, NaiveDate};
use engine::domain::timetable_file::{Timetable, parse_timetable};
use engine::engine::{Engine, EngineError};

/// The demo timetable file; also the worked example of the file format.
pub const DEMO_TIMETABLE: &str = include_str!("../demo/beijing-shanghai.toml");
/// The demo opens today and this many following days, like a 15-day presale.
pub const DEMO_PRESALE_DAYS: u64 = 14;

pub fn demo_timetable() -> Timetable {
    parse_timetable(DEMO_TIMETABLE).expect("the bundled demo timetable parses")
}

/// What loading the demo did.
#[derive(Debug, Clone, Copy)]
pub struct DemoSummary {
    pub stations: usize,
    pub trains: usize,
    pub train_dates_opened: usize,
}

/// Loads the demo timetable and opens its trains from `today` for the presale
/// window. Loading it again changes nothing: upserts are unchanged and open
/// train-dates stay as they are.
pub async fn load_demo(engine: &Engine, today: NaiveDate) -> Result<DemoSummary, EngineError> {
    let timetable = demo_timetable();
    engine.upsert_stations(&timetable.stations).await?;
    for train in &timetable.trains {
        engine.upsert_train(train.clone()).await?;
    }
    let last = today + Days::new(DEMO_PRESALE_DAYS);
    let codes: Vec<String> = timetable.trains.iter().map(|train| train.code.clone()).collect();
    let opened = engine.open_train_dates(&codes, today, last).await?;
    Ok(DemoSummary {
        stations: timetable.stations.len(),
        trains: timetable.trains.len(),
        train_dates_opened: opened.opened,
    })
}
