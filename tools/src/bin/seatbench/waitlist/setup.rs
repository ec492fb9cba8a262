//! The scenario's set-up: sell every seat of one class on one train-date,
//! then queue the waitlist requests, each submitted and paid (activated) by
//! its own user, many at once.

use super::super::client::{Booking, Waitlist};
use super::Target;
use api::pb;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinSet;

/// Holds the sell-out may send beyond one per seat: each client can be
/// refused SOLD_OUT once with a party too big for the last seats, and once
/// more when none are left.
const SELL_OUT_EXTRA_HOLDS_PER_CLIENT: u64 = 2;
/// First passenger serial of the sold seats and of the waiting requests
/// (`resident_id` keeps 16 digits): apart, so no passenger is both.
const SOLD_SERIAL_BASE: u64 = 8_000_000_000_000_000;
const WAITING_SERIAL_BASE: u64 = 9_000_000_000_000_000;
/// Serials a run may use in each range, so runs with other seeds never share a passenger.
const SERIALS_PER_RUN: u64 = 1_000_000_000_000;
/// Passenger serials per order or request: more than any party.
const SERIALS_PER_PARTY: u64 = 8;

/// What set-up did, phase by phase.
#[derive(Default)]
pub struct Outcomes(pub BTreeMap<String, u64>);

impl Outcomes {
    fn note<T>(&mut self, what: &str, outcome: &Result<T, tonic::Status>) {
        let key = match outcome {
            Ok(_) => format!("{what} OK"),
            Err(status) => format!("{what} {:?} {}", status.code(), api::status::reason_of(status).unwrap_or_default()),
        };
        *self.0.entry(key).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Outcomes) {
        for (key, count) in other.0 {
            *self.0.entry(key).or_insert(0) += count;
        }
    }
}

/// The party size of order or request `n` of a run: 1 to `party_max`,
/// the same for the same seed (splitmix64 of the pair).
pub fn party_size(seed: u64, n: u64, party_max: u64) -> u64 {
    let mut mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n.wrapping_add(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    1 + (mixed ^ (mixed >> 31)) % party_max.max(1)
}

fn passenger_ids(base: u64, seed: u64, n: u64, count: u64) -> Vec<String> {
    let first = base + (seed % 1_000) * SERIALS_PER_RUN + n * SERIALS_PER_PARTY;
    (0..count).map(|index| seat_tools::synthetic::resident_id(first + index)).collect()
}

/// The sold-out class's orders, each confirmed.
pub struct SoldOut {
    pub orders: Vec<pb::Order>,
    pub outcomes: Outcomes,
}

/// Holds and pays whole-route parties of the class until a single seat is
/// refused SOLD_OUT, `clients` at a time. Parties of 1 to `party_max`, then
/// single seats once a party no longer fits.
pub async fn sell_out(channels: &[Booking], target: &Target, clients: usize, deadline: Instant) -> SoldOut {
    let holds_max = u64::from(target.class_seats) + clients as u64 * SELL_OUT_EXTRA_HOLDS_PER_CLIENT;
    let next = Arc::new(AtomicU64::new(0));
    let (singles_only, sold_out) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let mut booking = channels[client % channels.len()].clone();
        let (next, singles_only, sold_out) = (Arc::clone(&next), Arc::clone(&singles_only), Arc::clone(&sold_out));
        let target = target.clone();
        tasks.spawn(async move {
            let mut sold = SoldOut { orders: Vec::new(), outcomes: Outcomes::default() };
            while !sold_out.load(Ordering::Relaxed) && Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= holds_max {
                    break;
                }
                let party =
                    if singles_only.load(Ordering::Relaxed) { 1 } else { party_size(target.seed, n, target.party_max) };
                let hold = target.hold_request(n, party);
                let user_id = hold.user_id.clone();
                let held = booking.hold(hold).await.map(tonic::Response::into_inner);
                sold.outcomes.note("sell-out hold", &held);
                let order = match held {
                    Ok(order) => order,
                    Err(status) if api::status::reason_of(&status).as_deref() == Some("SOLD_OUT") => {
                        let flag = if party > 1 { &singles_only } else { &sold_out };
                        flag.store(true, Ordering::Relaxed);
                        continue;
                    }
                    Err(_) => continue,
                };
                let confirm = pb::ConfirmRequest { order_id: order.order_id.clone(), user_id };
                let confirmed = booking.confirm(confirm).await.map(tonic::Response::into_inner);
                sold.outcomes.note("sell-out confirm", &confirmed);
                sold.orders.extend(confirmed.ok());
            }
            sold
        });
    }
    let mut total = SoldOut { orders: Vec::new(), outcomes: Outcomes::default() };
    while let Some(sold) = tasks.join_next().await {
        let sold = sold.expect("sell-out client");
        total.orders.extend(sold.orders);
        total.outcomes.merge(sold.outcomes);
    }
    total
}

/// What queuing the requests did.
pub struct Queued {
    pub activated: u64,
    /// Submit then activate, per request, µs.
    pub latency_us: Histogram<u64>,
    pub outcomes: Outcomes,
    /// A request was refused WAITLIST_FULL: the queue is at its setting.
    pub queue_full: bool,
}

/// Submits and activates `requests` waitlist requests, each for a new user
/// and party, `clients` at a time, until done, the queue is full, or the deadline.
pub async fn queue_requests(
    channels: &[Waitlist],
    target: &Target,
    requests: u64,
    clients: usize,
    deadline: Instant,
) -> Queued {
    let next = Arc::new(AtomicU64::new(0));
    let full = Arc::new(AtomicBool::new(false));
    let total = Arc::new(Mutex::new(Queued {
        activated: 0,
        latency_us: Histogram::new(3).expect("histogram"),
        outcomes: Outcomes::default(),
        queue_full: false,
    }));
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let mut waitlist = channels[client % channels.len()].clone();
        let (next, full, total, target) = (Arc::clone(&next), Arc::clone(&full), Arc::clone(&total), target.clone());
        tasks.spawn(async move {
            while !full.load(Ordering::Relaxed) && Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let started = Instant::now();
                let (outcomes, end) = queue_one(&mut waitlist, &target, n).await;
                let mut total = total.lock().expect("queue results lock");
                total.outcomes.merge(outcomes);
                match end {
                    Queuing::Activated => {
                        total.activated += 1;
                        let _ = total.latency_us.record(started.elapsed().as_micros() as u64);
                    }
                    Queuing::QueueFull => {
                        full.store(true, Ordering::Relaxed);
                        total.queue_full = true;
                    }
                    Queuing::Refused => {}
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Arc::try_unwrap(total).ok().expect("all clients done").into_inner().expect("queue results lock")
}

/// How queuing one request ended.
enum Queuing {
    Activated,
    /// Refused WAITLIST_FULL: the queue is at its setting.
    QueueFull,
    Refused,
}

/// Request `n`: submitted, then activated.
async fn queue_one(waitlist: &mut Waitlist, target: &Target, n: u64) -> (Outcomes, Queuing) {
    let mut outcomes = Outcomes::default();
    let user_id = format!("wl-{}-{n}", target.seed);
    let party = party_size(target.seed ^ 0x5741_4954, n, target.party_max);
    let passengers = passenger_ids(WAITING_SERIAL_BASE, target.seed, n, party)
        .into_iter()
        .map(|id_number| pb::WaitlistPassenger { name: "Waiting".into(), id_number })
        .collect();
    let submit = pb::SubmitWaitlistRequest {
        user_id: user_id.clone(),
        passengers,
        from_station: target.from_station.clone(),
        to_station: target.to_station.clone(),
        choices: vec![pb::RequestedChoice {
            train_date: Some(target.train_date.clone()),
            seat_class: target.class.into(),
        }],
        cutoff_ms: 0,
        // One submit per user, never retried: no idempotency key needed.
        client_request_id: String::new(),
    };
    let submitted = waitlist.submit_waitlist(submit).await.map(tonic::Response::into_inner);
    outcomes.note("submit", &submitted);
    let submitted = match submitted {
        Ok(submitted) => submitted,
        Err(status) if api::status::reason_of(&status).as_deref() == Some("WAITLIST_FULL") => {
            return (outcomes, Queuing::QueueFull);
        }
        Err(_) => return (outcomes, Queuing::Refused),
    };
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id, user_id };
    let activated = waitlist.activate_waitlist(reference).await.map(tonic::Response::into_inner);
    outcomes.note("activate", &activated);
    let end = if activated.is_ok() { Queuing::Activated } else { Queuing::Refused };
    (outcomes, end)
}

impl Target {
    /// Sell-out hold `n`: a new user, `party` new passengers, the whole route.
    fn hold_request(&self, n: u64, party: u64) -> pb::HoldRequest {
        let user_id = format!("wl-sold-{}-{n}", self.seed);
        pb::HoldRequest {
            request_id: format!("{user_id}-hold"),
            user_id,
            train_date: Some(self.train_date.clone()),
            from_station: self.from_station.clone(),
            to_station: self.to_station.clone(),
            passengers: passenger_ids(SOLD_SERIAL_BASE, self.seed, n, party)
                .into_iter()
                .map(|id_number| pb::PassengerRequest {
                    name: "Sold".into(),
                    id_number,
                    seat_class: self.class.into(),
                    ..Default::default()
                })
                .collect(),
        }
    }
}
