//! The hold requests the clients send: from the engine benchmarks' demand
//! model or seatbench's demo mix, with passenger ids never reused.

use engine::domain::command::HoldSeats;
use engine::domain::seat_class::SeatClass;
use rand::RngExt;
use rand::rngs::SmallRng;
use seat_baselines::{HoldRequest, Passenger};

/// Passenger ID numbers of one client, never issued twice in a run: the
/// engine refuses a passenger who already holds an overlapping journey on
/// the same train-date (PASSENGER_OVERLAP), so clients must not share people.
/// The baselines only store the numbers.
pub struct PassengerIds {
    /// The client these numbers belong to.
    client: usize,
    /// Numbers issued so far.
    issued: u64,
}

impl PassengerIds {
    /// Numbers for client `client`, none issued yet.
    pub fn new(client: usize) -> Self {
        PassengerIds { client, issued: 0 }
    }

    /// 18 digits: the client, then its count of passengers so far.
    pub fn next(&mut self) -> String {
        self.issued += 1;
        format!("{:06}{:012}", self.client, self.issued)
    }
}

/// An engine hold from the shared demand model, as a baseline request. Every
/// passenger of a Demand order has the same class; seat picks are dropped.
pub fn from_bench(hold: HoldSeats, train_date: &str, user: &str, ids: &mut PassengerIds) -> HoldRequest {
    HoldRequest {
        train_date: train_date.to_owned(),
        from: hold.from,
        to: hold.to,
        class: hold.passengers.first().map_or(SeatClass::Second, |passenger| passenger.class),
        passengers: hold
            .passengers
            .into_iter()
            .map(|passenger| Passenger { name: passenger.name, id_number: ids.next() })
            .collect(),
        user_id: user.to_owned(),
        request_id: hold.request_id,
    }
}

/// seatbench's demo mix: journeys between the first 4 stops (short trips a
/// little less likely), 1–2 passengers, mostly second class.
pub fn demo_hold(
    rng: &mut SmallRng,
    stops: usize,
    train_date: &str,
    user: &str,
    serial: u64,
    ids: &mut PassengerIds,
) -> HoldRequest {
    let segments = stops.min(4) - 1;
    let from = rng.random_range(0..segments).min(rng.random_range(0..segments));
    let to = from + 1 + rng.random_range(0..segments - from).max(rng.random_range(0..segments - from));
    let class = match rng.random_range(0..20) {
        0 => SeatClass::Business,
        1..=3 => SeatClass::First,
        _ => SeatClass::Second,
    };
    let passengers = 1 + usize::from(rng.random_range(0..4) == 0);
    HoldRequest {
        train_date: train_date.to_owned(),
        from,
        to,
        class,
        passengers: (0..passengers).map(|_| Passenger { name: "Bench".into(), id_number: ids.next() }).collect(),
        user_id: user.to_owned(),
        request_id: format!("r{serial}"),
    }
}
