//! The train-dates a run opens and spreads its load over.

/// Train codes the train-dates are named after: the demo's 12 trains.
pub const TRAINS: [&str; 12] = ["G1", "G2", "G3", "G4", "G7", "G8", "G101", "G102", "G111", "G112", "D701", "D702"];

/// Date of the first train-dates; train-date k runs k / 12 days later.
pub fn first_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
}

/// `G1-2026-12-01` style: train k % 12 on day k / 12.
pub fn train_date_name(index: usize) -> String {
    let date = first_date() + chrono::Days::new((index / TRAINS.len()) as u64);
    format!("{}-{date}", TRAINS[index % TRAINS.len()])
}

/// The names of the first `count` train-dates (at least one).
pub fn train_date_names(count: usize) -> Vec<String> {
    (0..count.max(1)).map(train_date_name).collect()
}
