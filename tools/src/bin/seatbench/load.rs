//! Closed-loop and open-loop load, recording latency, outcomes and every
//! acknowledged order for the audit.

use super::client::Booking;
use super::demand::{Demand, FollowUp};
use api::pb;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Most open-loop operations in flight at once. Past it the generator
/// itself is the bottleneck; further arrivals are counted as dropped rather
/// than queued without limit.
pub const OPEN_LOOP_IN_FLIGHT_MAX: usize = 20_000;

/// What the load saw.
pub struct Recorder {
    /// Latency of every acknowledged write, µs; in open loop, holds count
    /// from their intended start (no coordinated omission).
    pub latency_us: Histogram<u64>,
    pub outcomes: BTreeMap<String, u64>,
    /// Acknowledged orders in their last acknowledged state.
    pub orders: Vec<pb::Order>,
    pub writes_ok: u64,
    pub generator_dropped: u64,
    pub passengers: Passengers,
}

/// Passengers on the holds sent, by what became of the hold.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Passengers {
    pub requested: u64,
    /// On acknowledged holds (some later cancelled, as the plan asks).
    pub seated: u64,
    pub refused_sold_out: u64,
    /// Refused SOLD_OUT while each segment of the journey alone had enough
    /// free seats of the class: lost to fragmentation.
    pub refused_segments_free: u64,
}

impl Passengers {
    fn add(&mut self, other: Passengers) {
        self.requested += other.requested;
        self.seated += other.seated;
        self.refused_sold_out += other.refused_sold_out;
        self.refused_segments_free += other.refused_segments_free;
    }

    fn note_hold(&mut self, outcome: &Result<pb::Order, tonic::Status>, count: u64) {
        self.requested += count;
        match outcome {
            Ok(_) => self.seated += count,
            Err(status) if api::status::reason_of(status).as_deref() == Some("SOLD_OUT") => {
                self.refused_sold_out += count;
                if api::status::refused_while_segments_free(status) {
                    self.refused_segments_free += count;
                }
            }
            Err(_) => {}
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            latency_us: Histogram::new(3).expect("histogram"),
            outcomes: BTreeMap::new(),
            orders: Vec::new(),
            writes_ok: 0,
            generator_dropped: 0,
            passengers: Passengers::default(),
        }
    }
}

impl Recorder {
    fn merge(&mut self, other: Recorder) {
        self.latency_us.add(other.latency_us).expect("same histogram bounds");
        for (outcome, count) in other.outcomes {
            *self.outcomes.entry(outcome).or_insert(0) += count;
        }
        self.orders.extend(other.orders);
        self.writes_ok += other.writes_ok;
        self.generator_dropped += other.generator_dropped;
        self.passengers.add(other.passengers);
    }

    fn note(&mut self, what: &str, outcome: &Result<pb::Order, tonic::Status>, started: Instant) {
        let key = match outcome {
            Ok(_) => format!("{what} OK"),
            Err(status) => format!("{what} {:?} {}", status.code(), api::status::reason_of(status).unwrap_or_default()),
        };
        *self.outcomes.entry(key).or_insert(0) += 1;
        if outcome.is_ok() {
            self.writes_ok += 1;
            let _ = self.latency_us.record(started.elapsed().as_micros() as u64);
        }
    }
}

/// One hold with its follow-ups, noted in `recorder`; `intended` is when it
/// should have started. A client's operations share one recorder: a fresh
/// histogram per operation, merged after it, was 15% of seatbench's CPU.
async fn operation(
    booking: &mut Booking,
    recorder: &mut Recorder,
    request: pb::HoldRequest,
    follow_up: FollowUp,
    intended: Instant,
) {
    let user = request.user_id.clone();
    let passengers = request.passengers.len() as u64;
    let outcome = booking.hold(request).await.map(tonic::Response::into_inner);
    recorder.note("hold", &outcome, intended);
    recorder.passengers.note_hold(&outcome, passengers);
    let Ok(mut order) = outcome else { return };
    if follow_up.confirm {
        let started = Instant::now();
        let request = pb::ConfirmRequest { order_id: order.order_id.clone(), user_id: user.clone() };
        let outcome = booking.confirm(request).await.map(tonic::Response::into_inner);
        recorder.note("confirm", &outcome, started);
        if let Ok(confirmed) = outcome {
            order = confirmed;
        }
    }
    if follow_up.cancel {
        let started = Instant::now();
        let outcome = booking.cancel(pb::CancelRequest { order_id: order.order_id.clone(), user_id: user }).await;
        let outcome = outcome.map(tonic::Response::into_inner);
        recorder.note("cancel", &outcome, started);
        if let Ok(cancelled) = outcome {
            order = cancelled;
        }
    }
    recorder.orders.push(order);
}

pub struct LoadPlan {
    pub seed: u64,
    pub days: u64,
    pub first_date: chrono::NaiveDate,
    pub flash_sale_train: Option<String>,
    pub synthetic: Option<super::demand::Synthetic>,
    pub confirm_percent: u32,
    pub cancel_percent: u32,
    pub duration: Duration,
    /// Stop after this many holds in all (or at the duration, if sooner).
    pub holds: Option<u64>,
}

impl LoadPlan {
    /// Holds client `client` of `clients` may send: an equal share of the
    /// budget, so the same seed and client count send the same requests.
    fn holds_for(&self, client: usize, clients: usize) -> u64 {
        self.holds.map_or(u64::MAX, |holds| {
            let clients = clients.max(1) as u64;
            holds / clients + u64::from((client as u64) < holds % clients)
        })
    }
}

/// `clients` clients, each with one operation in flight, for the duration.
pub async fn closed_loop(channels: &[Booking], clients: usize, plan: &LoadPlan, progress: &ProgressBar) -> Recorder {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let clients_left = Arc::new(AtomicU64::new(clients as u64));
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let mut booking = channels[client % channels.len()].clone();
        let mut demand =
            Demand::new(plan.seed, client, plan.days, plan.first_date, plan.flash_sale_train.clone(), plan.synthetic);
        let (stop, done, clients_left) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&clients_left));
        let (confirm, cancel) = (plan.confirm_percent, plan.cancel_percent);
        let holds = plan.holds_for(client, clients);
        tasks.spawn(async move {
            let mut recorder = Recorder::default();
            for _ in 0..holds {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let request = demand.hold();
                let follow_up = demand.follow_up(confirm, cancel);
                operation(&mut booking, &mut recorder, request, follow_up, Instant::now()).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
            clients_left.fetch_sub(1, Ordering::Relaxed);
            recorder
        });
    }
    tick_until(progress, plan.duration, &done, || clients_left.load(Ordering::Relaxed) == 0).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Recorder::default();
    while let Some(recorder) = tasks.join_next().await {
        total.merge(recorder.expect("client task"));
    }
    total
}

/// Operations arrive at `rate` per second regardless of how fast they are
/// answered; hold latency counts from each arrival's intended time.
pub async fn open_loop(channels: &[Booking], rate: u64, plan: &LoadPlan, progress: &ProgressBar) -> Recorder {
    let total = Arc::new(Mutex::new(Recorder::default()));
    let done = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut demands: Vec<Demand> = (0..channels.len())
        .map(|client| {
            Demand::new(plan.seed, client, plan.days, plan.first_date, plan.flash_sale_train.clone(), plan.synthetic)
        })
        .collect();
    let started = Instant::now();
    let arrivals = (rate.max(1) * plan.duration.as_secs().max(1)).min(plan.holds.unwrap_or(u64::MAX));
    let gap = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let ticker = tokio::spawn({
        let (progress, done, duration) = (progress.clone(), Arc::clone(&done), plan.duration);
        async move { tick_until(&progress, duration, &done, || done.load(Ordering::Relaxed) >= arrivals).await }
    });
    let mut tasks = JoinSet::new();
    for arrival in 0..arrivals {
        let intended = started + gap * arrival as u32;
        tokio::time::sleep_until(intended.into()).await;
        if in_flight.load(Ordering::Relaxed) as usize >= OPEN_LOOP_IN_FLIGHT_MAX {
            total.lock().unwrap().generator_dropped += 1;
            continue;
        }
        let lane = arrival as usize % channels.len();
        let request = demands[lane].hold();
        let follow_up = demands[lane].follow_up(plan.confirm_percent, plan.cancel_percent);
        let mut booking = channels[lane].clone();
        let (total, done, in_flight) = (Arc::clone(&total), Arc::clone(&done), Arc::clone(&in_flight));
        in_flight.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let mut recorder = Recorder::default();
            operation(&mut booking, &mut recorder, request, follow_up, intended).await;
            total.lock().unwrap().merge(recorder);
            done.fetch_add(1, Ordering::Relaxed);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let _ = ticker.await;
    Arc::try_unwrap(total).ok().expect("all tasks done").into_inner().expect("recorder lock")
}

/// Shows progress until the duration has passed or `finished` says so.
async fn tick_until(progress: &ProgressBar, duration: Duration, done: &AtomicU64, finished: impl Fn() -> bool) {
    let started = Instant::now();
    while started.elapsed() < duration && !finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let elapsed = started.elapsed();
        progress.set_position(elapsed.as_millis() as u64);
        let rate = done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
        progress.set_message(format!("{rate:.0} orders/s"));
    }
}
