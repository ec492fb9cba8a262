//! Booking load over several nodes for the cluster scenarios: clients hold,
//! confirm and cancel on train-dates spread over slots, each call to a
//! random live node, retrying a retryable error with the same request until
//! it is answered. Every acknowledged reply goes into the [`Ledger`] the
//! checker audits; every error reply is counted by code.

use super::seatd::NodeClients;
use api::pb::{self, SeatClass};
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Trains the load books on (all call at `STATIONS`).
pub const TRAINS: [&str; 5] = ["G1", "G3", "G7", "G101", "G111"];
pub const STATIONS: [&str; 4] = ["VNP", "JGK", "NKH", "AOH"];
/// Days after today the load books on: 5 × 3 = 15 train-dates over as many slots.
pub const DAYS_AHEAD: [u64; 3] = [1, 2, 3];
/// Longest one operation is retried before the client gives up on it
/// (outcome unknown): past a lease expiry and a recovery.
pub const RETRY_FOR: Duration = Duration::from_secs(30);
/// Pause between two tries of one operation.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// The service date `days` after today (UTC+8).
pub fn date_ahead(days: u64) -> String {
    (service_date_of(SystemClock.now_ms()) + chrono::Days::new(days)).to_string()
}

pub fn train_date(train: &str, days: u64) -> pb::TrainDate {
    pb::TrainDate { train: train.into(), date: date_ahead(days) }
}

/// Every train-date the load books on.
pub fn loaded_train_dates() -> Vec<pb::TrainDate> {
    TRAINS.iter().flat_map(|train| DAYS_AHEAD.map(|days| train_date(train, days))).collect()
}

pub fn label(train_date: &pb::TrainDate) -> String {
    format!("{}/{}", train_date.train, train_date.date)
}

/// A valid resident ID number for load passenger `serial`.
pub fn passenger_id(serial: u64) -> String {
    api::convert::with_resident_id_check(&format!("2{serial:016}"))
}

/// An order as the clients were told, and what they sent without an answer.
#[derive(Clone, Debug)]
pub struct Acknowledged {
    pub request: pb::HoldRequest,
    pub order_id: String,
    pub tickets: usize,
    /// Status of the last acknowledged reply.
    pub status: pb::OrderStatus,
    /// Which node acknowledged the hold.
    pub via: String,
    pub confirm_unknown: bool,
    pub cancel_unknown: bool,
}

#[derive(Default)]
pub struct Ledger {
    pub orders: Mutex<HashMap<String, Acknowledged>>,
    /// When each train-date (by `label`) answered a write OK.
    pub ok_at: Mutex<HashMap<String, Vec<Instant>>>,
    /// Error replies by code name.
    pub errors: Mutex<BTreeMap<String, u32>>,
    /// Error replies that are neither retryable nor a business refusal.
    pub unexpected: Mutex<Vec<String>>,
    next_passenger: AtomicU32,
}

impl Ledger {
    pub fn record_ok(&self, train_date: &pb::TrainDate) {
        self.ok_at.lock().unwrap().entry(label(train_date)).or_default().push(Instant::now());
    }

    pub fn acknowledge(&self, ack: Acknowledged) {
        self.orders.lock().unwrap().insert(ack.order_id.clone(), ack);
    }

    fn set(&self, order_id: &str, change: impl FnOnce(&mut Acknowledged)) {
        if let Some(ack) = self.orders.lock().unwrap().get_mut(order_id) {
            change(ack);
        }
    }

    fn count_error(&self, status: &tonic::Status) {
        *self.errors.lock().unwrap().entry(error_kind(status)).or_default() += 1;
    }

    pub fn acknowledged(&self) -> Vec<Acknowledged> {
        self.orders.lock().unwrap().values().cloned().collect()
    }

    /// A hold of 1–3 passengers on one of `train_dates`.
    pub fn random_hold(&self, user: &str, attempt: u32, train_dates: &[pb::TrainDate]) -> pb::HoldRequest {
        let pick = |n: usize| rand::random::<u32>() as usize % n;
        let from = pick(STATIONS.len() - 1);
        let to = from + 1 + pick(STATIONS.len() - 1 - from);
        let class = [SeatClass::Business, SeatClass::First, SeatClass::Second][pick(3)];
        pb::HoldRequest {
            request_id: format!("{user}-{attempt}"),
            user_id: user.to_owned(),
            train_date: Some(train_dates[pick(train_dates.len())].clone()),
            from_station: STATIONS[from].into(),
            to_station: STATIONS[to].into(),
            passengers: (0..1 + pick(3))
                .map(|_| pb::PassengerRequest {
                    name: "Cluster Test".into(),
                    id_number: passenger_id(u64::from(self.next_passenger.fetch_add(1, Ordering::Relaxed))),
                    seat_class: class.into(),
                    ..Default::default()
                })
                .collect(),
        }
    }
}

/// Whether a client retries `code` with the same request: a slot moving, a
/// node gone or stopped.
pub fn retryable(code: tonic::Code) -> bool {
    matches!(code, tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled)
}

/// A failure of this client's own connection (the node it called died
/// mid-call), which tonic reports as UNKNOWN "transport error" with the I/O
/// error as its source; a status a server sent never has a source.
pub fn local_transport_error(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
}

/// How an error is counted: its code, or `Transport` for a local transport error.
pub fn error_kind(status: &tonic::Status) -> String {
    if local_transport_error(status) { "Transport".to_owned() } else { format!("{:?}", status.code()) }
}

/// How one operation ended.
pub enum Outcome<T> {
    /// Acknowledged, by this node.
    Ok(T, String),
    /// Answered with a refusal (not retryable).
    Refused(tonic::Status),
    /// Retried for `RETRY_FOR` (or stopped) without an answer: unknown.
    GaveUp,
}

/// The live nodes the clients call, changed as nodes come and go.
pub type Targets = Arc<RwLock<Vec<NodeClients>>>;

fn random_target(targets: &Targets) -> NodeClients {
    let targets = targets.read().unwrap();
    targets[rand::random::<u32>() as usize % targets.len()].clone()
}

/// Runs `call` on random targets until answered; retryable errors are
/// counted and retried, after `RETRY_PAUSE`.
pub async fn with_retries<T, F, Fut>(ledger: &Ledger, targets: &Targets, stop: &AtomicBool, mut call: F) -> Outcome<T>
where
    F: FnMut(NodeClients) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let started = Instant::now();
    loop {
        let target = random_target(targets);
        let via = target.id.clone();
        match call(target).await {
            Ok(reply) => return Outcome::Ok(reply, via),
            Err(status) => {
                ledger.count_error(&status);
                if !retryable(status.code()) && !local_transport_error(&status) {
                    return Outcome::Refused(status);
                }
                if started.elapsed() > RETRY_FOR || stop.load(Ordering::Relaxed) {
                    return Outcome::GaveUp;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Counts of what the clients saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadStats {
    pub holds_ok: u32,
    pub holds_refused: u32,
    pub confirms_ok: u32,
    pub cancels_ok: u32,
    pub gave_up: u32,
}

fn add(a: LoadStats, b: LoadStats) -> LoadStats {
    LoadStats {
        holds_ok: a.holds_ok + b.holds_ok,
        holds_refused: a.holds_refused + b.holds_refused,
        confirms_ok: a.confirms_ok + b.confirms_ok,
        cancels_ok: a.cancels_ok + b.cancels_ok,
        gave_up: a.gave_up + b.gave_up,
    }
}

/// Running clients; `finish` stops them and sums what they saw.
pub struct Load {
    clients: JoinSet<LoadStats>,
    stop: Arc<AtomicBool>,
}

impl Load {
    /// Starts `clients` clients booking on `train_dates`, users named after `tag`.
    pub fn start(
        ledger: &Arc<Ledger>,
        targets: &Targets,
        clients: usize,
        tag: &str,
        train_dates: &[pb::TrainDate],
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut set = JoinSet::new();
        for client in 0..clients {
            let user = format!("{tag}-c{client}");
            set.spawn(client_loop(
                Arc::clone(ledger),
                Arc::clone(targets),
                user,
                train_dates.to_vec(),
                Arc::clone(&stop),
            ));
        }
        Load { clients: set, stop }
    }

    pub async fn finish(mut self) -> LoadStats {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadStats::default();
        while let Some(joined) = self.clients.join_next().await {
            total = add(total, joined.expect("client task"));
        }
        total
    }
}

/// Whether a refusal is the business kind a load expects (no seats left,
/// passenger already travelling, order no longer confirmable or cancellable).
fn business_refusal(code: tonic::Code) -> bool {
    matches!(code, tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists | tonic::Code::ResourceExhausted)
}

async fn client_loop(
    ledger: Arc<Ledger>,
    targets: Targets,
    user: String,
    train_dates: Vec<pb::TrainDate>,
    stop: Arc<AtomicBool>,
) -> LoadStats {
    let mut stats = LoadStats::default();
    for attempt in 0u32.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let request = ledger.random_hold(&user, attempt, &train_dates);
        let train_date = request.train_date.clone().expect("set");
        let outcome = with_retries(&ledger, &targets, &stop, |node| {
            let request = request.clone();
            async move { node.booking.clone().hold(request).await.map(|reply| reply.into_inner()) }
        })
        .await;
        let (order, via) = match outcome {
            Outcome::Ok(order, via) => (order, via),
            Outcome::Refused(status) => {
                if !business_refusal(status.code()) {
                    ledger.unexpected.lock().unwrap().push(format!("hold {}: {status}", request.request_id));
                }
                stats.holds_refused += 1;
                continue;
            }
            Outcome::GaveUp => {
                stats.gave_up += 1;
                continue;
            }
        };
        stats.holds_ok += 1;
        ledger.record_ok(&train_date);
        let order_id = order.order_id.clone();
        ledger.acknowledge(Acknowledged {
            request: request.clone(),
            order_id: order_id.clone(),
            tickets: order.tickets.len(),
            status: pb::OrderStatus::try_from(order.status).expect("status"),
            via,
            confirm_unknown: false,
            cancel_unknown: false,
        });
        if rand::random::<u8>() % 10 < 4 {
            ledger.set(&order_id, |ack| ack.confirm_unknown = true);
            let request = pb::ConfirmRequest { order_id: order_id.clone(), user_id: user.clone() };
            let outcome = with_retries(&ledger, &targets, &stop, |node| {
                let request = request.clone();
                async move { node.booking.clone().confirm(request).await.map(|reply| reply.into_inner()) }
            })
            .await;
            if let Outcome::Ok(reply, _) = outcome {
                stats.confirms_ok += 1;
                ledger.record_ok(&train_date);
                let status = pb::OrderStatus::try_from(reply.status).expect("status");
                ledger.set(&order_id, |ack| (ack.status, ack.confirm_unknown) = (status, false));
            }
        }
        // Cancel often enough that seats come back for later rounds.
        if rand::random::<u8>() % 10 < 4 {
            ledger.set(&order_id, |ack| ack.cancel_unknown = true);
            let request = pb::CancelRequest { order_id: order_id.clone(), user_id: user.clone() };
            let outcome = with_retries(&ledger, &targets, &stop, |node| {
                let request = request.clone();
                async move { node.booking.clone().cancel(request).await.map(|reply| reply.into_inner()) }
            })
            .await;
            if let Outcome::Ok(reply, _) = outcome {
                stats.cancels_ok += 1;
                ledger.record_ok(&train_date);
                let status = pb::OrderStatus::try_from(reply.status).expect("status");
                ledger.set(&order_id, |ack| (ack.status, ack.cancel_unknown) = (status, false));
            }
        }
    }
    stats
}

/// The longest gap between two OK writes on `label` within `[from, to]`
/// (its ends count as OK replies, so a silence at either end shows).
pub fn longest_gap(ledger: &Ledger, label: &str, from: Instant, to: Instant) -> Duration {
    let ok_at = ledger.ok_at.lock().unwrap();
    let mut times: Vec<Instant> =
        ok_at.get(label).into_iter().flatten().copied().filter(|at| *at >= from && *at <= to).collect();
    times.push(from);
    times.push(to);
    times.sort_unstable();
    times.windows(2).map(|pair| pair[1] - pair[0]).max().unwrap_or_default()
}
