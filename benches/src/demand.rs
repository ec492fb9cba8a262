//! A seeded stream of hold requests with a realistic shape.

use engine::allocation::AllocationPolicy;
use engine::domain::command::{HoldSeats, PassengerRequest, SeatChoice};
use engine::domain::order::OrderId;
use engine::domain::seat_class::SeatClass;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// Share of passengers who pick a seat letter (选座).
const PICK_PERCENT: u32 = 10;

/// Generates holds for one train-date of `stop_count` stops.
pub struct Demand {
    rng: SmallRng,
    stop_count: usize,
    next_serial: u64,
}

impl Demand {
    pub fn new(seed: u64, stop_count: usize) -> Self {
        Demand { rng: SmallRng::seed_from_u64(seed), stop_count, next_serial: 0 }
    }

    /// A journey whose length favours long trips (see `long_favoured_journey`).
    pub fn journey(&mut self) -> (usize, usize) {
        long_favoured_journey(&mut self.rng, self.stop_count)
    }

    pub fn group_size(&mut self) -> usize {
        group_size(&mut self.rng)
    }

    pub fn class(&mut self) -> SeatClass {
        class(&mut self.rng)
    }

    pub fn hold(&mut self, policy: AllocationPolicy) -> HoldSeats {
        let (from, to) = self.journey();
        let class = self.class();
        let size = self.group_size();
        let picks = self.rng.random_range(0..100) < PICK_PERCENT;
        let letters = class.standard_letters().as_bytes();
        let passengers = (0..size)
            .map(|index| {
                self.next_serial += 1;
                let choice = if picks {
                    SeatChoice::Pick {
                        letter: letters[index % letters.len()] as char,
                        row: 1 + (index / letters.len()) as u8,
                    }
                } else {
                    SeatChoice::Any
                };
                PassengerRequest { name: "Bench".into(), id_number: format!("{:018}", self.next_serial), class, choice }
            })
            .collect();
        HoldSeats {
            order_id: OrderId::generate(),
            request_id: format!("r{}", self.next_serial),
            user_id: "bench".into(),
            from,
            to,
            passengers,
            hold_ttl_ms: 600_000,
            policy,
        }
    }

    /// True about `percent` percent of the time.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }
}

/// A journey on a train of `stop_count` stops whose length favours long
/// trips: the longer of two uniform draws, so about half of all journeys
/// cover more than 70% of the line.
pub fn long_favoured_journey(rng: &mut SmallRng, stop_count: usize) -> (usize, usize) {
    let segments = stop_count - 1;
    let length = rng.random_range(1..=segments).max(rng.random_range(1..=segments));
    let from = rng.random_range(0..=segments - length);
    (from, from + length)
}

/// Group size 1 to 5, mostly 1 or 2.
pub fn group_size(rng: &mut SmallRng) -> usize {
    match rng.random_range(0..100) {
        0..55 => 1,
        55..80 => 2,
        80..90 => 3,
        90..96 => 4,
        _ => 5,
    }
}

/// Mostly second class, some first, a few business.
pub fn class(rng: &mut SmallRng) -> SeatClass {
    match rng.random_range(0..100) {
        0..80 => SeatClass::Second,
        80..96 => SeatClass::First,
        _ => SeatClass::Business,
    }
}
