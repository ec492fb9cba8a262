//! Seeded booking demand over the demo trains or a synthetic network: the
//! same seed gives the same requests, so runs against different servers or
//! policies compare fairly.

use api::pb::{self, SeatClass};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// Every demo train calls at these, in this order southbound.
pub const STATIONS: [&str; 4] = ["VNP", "JGK", "NKH", "AOH"];
pub const SOUTHBOUND: [&str; 6] = ["G1", "G3", "G7", "G101", "G111", "D701"];
pub const NORTHBOUND: [&str; 6] = ["G2", "G4", "G8", "G102", "G112", "D702"];

/// One client's request stream.
pub struct Demand {
    rng: SmallRng,
    client: usize,
    run: u64,
    next: u64,
    days: u64,
    first_date: chrono::NaiveDate,
    flash_sale_train: Option<String>,
    synthetic: Option<Synthetic>,
}

/// The shape of a `seatsynth timetable` network, to book on it instead
/// of the demo trains.
#[derive(Clone, Copy, Debug)]
pub struct Synthetic {
    pub trains: usize,
    pub stops: usize,
    pub stations: usize,
    pub mix: JourneyMix,
}

/// Which journeys and groups a synthetic network is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JourneyMix {
    /// Any journey equally likely, one second-class passenger: spreads load.
    Uniform,
    /// The criterion benchmark's demand (benches/src/demand.rs, without
    /// seat picks): long trips favoured, groups of 1–5 (55% single), 80%
    /// second, 16% first, 4% business. Long journeys are the ones
    /// fragmentation refuses, so allocation policies are compared on it.
    Realistic,
}

impl Synthetic {
    /// Station codes of synthetic train `train` (0-based) in calling order.
    pub fn route(&self, train: usize) -> Vec<String> {
        seat_tools::synthetic::route(train, self.stops, self.stations)
    }
}

/// What to do after a hold succeeds.
#[derive(Clone, Copy, Debug)]
pub struct FollowUp {
    pub confirm: bool,
    pub cancel: bool,
}

impl Demand {
    pub fn new(
        seed: u64,
        client: usize,
        days: u64,
        first_date: chrono::NaiveDate,
        flash_sale_train: Option<String>,
        synthetic: Option<Synthetic>,
    ) -> Self {
        Demand {
            rng: SmallRng::seed_from_u64(seed ^ (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            client,
            run: seed,
            next: 0,
            days: days.max(1),
            first_date,
            flash_sale_train,
            synthetic,
        }
    }

    /// The next hold: a new user per order (as real demand is many people
    /// booking once each), 1–2 passengers, long trips favoured.
    pub fn hold(&mut self) -> pb::HoldRequest {
        self.next += 1;
        if let Some(synthetic) = self.synthetic {
            return self.synthetic_hold(synthetic);
        }
        let southbound = self.rng.random::<bool>();
        let trains = if southbound { SOUTHBOUND } else { NORTHBOUND };
        let mut train = trains[self.rng.random_range(0..trains.len())].to_owned();
        let mut southbound = southbound;
        if let Some(only) = &self.flash_sale_train {
            train = only.clone();
            southbound = only.trim_start_matches(char::is_alphabetic).parse::<u32>().is_ok_and(|n| n % 2 == 1);
        }
        let date = self.first_date + chrono::Days::new(self.rng.random_range(0..self.days));
        let from = self.rng.random_range(0..3).min(self.rng.random_range(0..3));
        let to = from + 1 + self.rng.random_range(0..3 - from).max(self.rng.random_range(0..3 - from));
        let (from, to) =
            if southbound { (STATIONS[from], STATIONS[to]) } else { (STATIONS[3 - from], STATIONS[3 - to]) };
        let class = if train.starts_with('D') {
            SeatClass::Second
        } else {
            match self.rng.random_range(0..20) {
                0 => SeatClass::Business,
                1..=3 => SeatClass::First,
                _ => SeatClass::Second,
            }
        };
        let passengers = 1 + usize::from(self.rng.random_range(0..4) == 0);
        self.request(pb::TrainDate { train, date: date.to_string() }, from.into(), to.into(), class, passengers)
    }

    /// A hold on a random synthetic train-date: every one of them is a target.
    fn synthetic_hold(&mut self, network: Synthetic) -> pb::HoldRequest {
        let train = self.rng.random_range(0..network.trains);
        let date = self.first_date + chrono::Days::new(self.rng.random_range(0..self.days));
        let (from, to, class, passengers) = match network.mix {
            JourneyMix::Uniform => {
                let from = self.rng.random_range(0..network.stops - 1);
                (from, self.rng.random_range(from + 1..network.stops), SeatClass::Second, 1)
            }
            JourneyMix::Realistic => {
                // The criterion benchmarks' demand model, minus seat picks.
                let (from, to) = seat_benches::demand::long_favoured_journey(&mut self.rng, network.stops);
                let class = api::convert::seat_class_to_pb(seat_benches::demand::class(&mut self.rng));
                (from, to, class, seat_benches::demand::group_size(&mut self.rng))
            }
        };
        let route = network.route(train);
        let train_date = pb::TrainDate { train: format!("G{}", train + 1), date: date.to_string() };
        self.request(train_date, route[from].clone(), route[to].clone(), class, passengers)
    }

    /// A hold for a new user (as real demand is many people booking once
    /// each) with `passengers` distinct passengers of one class.
    fn request(
        &self,
        train_date: pb::TrainDate,
        from_station: String,
        to_station: String,
        class: SeatClass,
        passengers: usize,
    ) -> pb::HoldRequest {
        let user = format!("bench-{}-{}-{}", self.run, self.client, self.next);
        pb::HoldRequest {
            request_id: format!("{user}-hold"),
            user_id: user,
            train_date: Some(train_date),
            from_station,
            to_station,
            passengers: (0..passengers)
                .map(|index| pb::PassengerRequest {
                    name: "Bench".into(),
                    id_number: seat_tools::synthetic::resident_id(self.serial(index)),
                    seat_class: class.into(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// Distinct passenger serials across clients and runs (up to 8 passengers an order).
    fn serial(&self, index: usize) -> u64 {
        (self.run % 1_000) * 10_000_000_000_000 + (self.client as u64) * 10_000_000_000 + self.next * 8 + index as u64
    }

    pub fn follow_up(&mut self, confirm_percent: u32, cancel_percent: u32) -> FollowUp {
        FollowUp {
            confirm: self.rng.random_range(0..100) < confirm_percent,
            cancel: self.rng.random_range(0..100) < cancel_percent,
        }
    }
}
