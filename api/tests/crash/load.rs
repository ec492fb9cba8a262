//! Booking load against a live seatd, recording every acknowledged reply.

use super::Seatd;
use api::pb::{self, SeatClass};
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// Concurrent booking clients.
pub const CLIENTS: usize = 8;
/// Trains every client books on; all call at `STATIONS`.
pub const TRAINS: [&str; 5] = ["G1", "G3", "G7", "G101", "G111"];
pub const STATIONS: [&str; 4] = ["VNP", "JGK", "NKH", "AOH"];

/// What the clients were told, and what they tried without hearing back.
#[derive(Clone, Debug)]
pub struct Acknowledged {
    pub request: pb::HoldRequest,
    pub order: pb::Order,
    /// Status of the last acknowledged reply for this order.
    pub status: pb::OrderStatus,
    /// Confirm / cancel sent but not acknowledged: may or may not have happened.
    pub confirm_unknown: bool,
    pub cancel_unknown: bool,
}

#[derive(Clone, Default)]
pub struct Ledger {
    pub orders: Arc<Mutex<HashMap<String, Acknowledged>>>,
    pub users: Arc<Mutex<Vec<String>>>,
    next_passenger: Arc<AtomicU32>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LoadStats {
    pub holds_ok: u32,
    pub holds_refused: u32,
    pub confirms_ok: u32,
    pub cancels_ok: u32,
    pub errors: u32,
}

/// Days after today the load books on; spread so seats stay available for
/// many rounds, few enough that the audit can read every journey back.
pub const DAYS_AHEAD: [u64; 3] = [1, 2, 3];

/// A valid resident ID number for load passenger `serial` (below 10^16).
/// seat-tools' `synthetic::resident_id` is out of reach here: seat-tools
/// depends on this crate, and these tests must not depend back on it.
pub fn passenger_id(serial: u64) -> String {
    api::convert::with_resident_id_check(&format!("1{serial:016}"))
}

/// The service date `days` after today (UTC+8).
pub fn date_ahead(days: u64) -> String {
    (service_date_of(SystemClock.now_ms()) + chrono::Days::new(days)).to_string()
}

/// Running clients; `finish` stops them and sums what they saw.
pub struct Load {
    clients: JoinSet<LoadStats>,
    stop: Arc<AtomicBool>,
}

impl Load {
    pub async fn finish(mut self) -> LoadStats {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadStats::default();
        while let Some(joined) = self.clients.join_next().await {
            total = add(total, joined.expect("client task"));
        }
        total
    }
}

/// Starts the clients; they run until `Load::finish`, through a kill.
pub async fn start(seatd: &Seatd, ledger: &Ledger, round: usize) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let user = format!("crash-r{round}-c{client}");
        ledger.users.lock().unwrap().push(user.clone());
        let booking = seatd.client().await;
        clients.spawn(client_loop(booking, ledger.clone(), user, Arc::clone(&stop)));
    }
    Load { clients, stop }
}

fn add(a: LoadStats, b: LoadStats) -> LoadStats {
    LoadStats {
        holds_ok: a.holds_ok + b.holds_ok,
        holds_refused: a.holds_refused + b.holds_refused,
        confirms_ok: a.confirms_ok + b.confirms_ok,
        cancels_ok: a.cancels_ok + b.cancels_ok,
        errors: a.errors + b.errors,
    }
}

async fn client_loop(mut booking: super::Client, ledger: Ledger, user: String, stop: Arc<AtomicBool>) -> LoadStats {
    let mut stats = LoadStats::default();
    for attempt in 0u32.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let request = random_hold(&ledger, &user, attempt);
        let order = match booking.hold(request.clone()).await {
            Ok(reply) => reply.into_inner(),
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                stats.holds_refused += 1;
                continue;
            }
            Err(_) => {
                stats.errors += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        stats.holds_ok += 1;
        let order_id = order.order_id.clone();
        let acknowledged = Acknowledged {
            request,
            status: pb::OrderStatus::try_from(order.status).expect("status"),
            order,
            confirm_unknown: false,
            cancel_unknown: false,
        };
        ledger.orders.lock().unwrap().insert(order_id.clone(), acknowledged);
        if rand::random::<u8>() % 10 < 4 {
            set(&ledger, &order_id, |a| a.confirm_unknown = true);
            let reply = booking.confirm(pb::ConfirmRequest { order_id: order_id.clone(), user_id: user.clone() }).await;
            if let Ok(reply) = reply {
                stats.confirms_ok += 1;
                let status = pb::OrderStatus::try_from(reply.into_inner().status).expect("status");
                set(&ledger, &order_id, |a| (a.status, a.confirm_unknown) = (status, false));
            }
        }
        // Cancel often enough that seats come back and later rounds still book.
        if rand::random::<u8>() % 10 < 4 {
            set(&ledger, &order_id, |a| a.cancel_unknown = true);
            let reply = booking.cancel(pb::CancelRequest { order_id: order_id.clone(), user_id: user.clone() }).await;
            if let Ok(reply) = reply {
                stats.cancels_ok += 1;
                let status = pb::OrderStatus::try_from(reply.into_inner().status).expect("status");
                set(&ledger, &order_id, |a| (a.status, a.cancel_unknown) = (status, false));
            }
        }
    }
    stats
}

fn set(ledger: &Ledger, order_id: &str, change: impl FnOnce(&mut Acknowledged)) {
    if let Some(acknowledged) = ledger.orders.lock().unwrap().get_mut(order_id) {
        change(acknowledged);
    }
}

fn random_hold(ledger: &Ledger, user: &str, attempt: u32) -> pb::HoldRequest {
    let train = TRAINS[rand::random::<u32>() as usize % TRAINS.len()];
    let days = DAYS_AHEAD[rand::random::<u32>() as usize % DAYS_AHEAD.len()];
    let from = rand::random::<u32>() as usize % (STATIONS.len() - 1);
    let to = from + 1 + rand::random::<u32>() as usize % (STATIONS.len() - 1 - from);
    let class = [SeatClass::Business, SeatClass::First, SeatClass::Second][rand::random::<u32>() as usize % 3];
    let passengers = 1 + rand::random::<u32>() % 3;
    pb::HoldRequest {
        request_id: format!("{user}-{attempt}"),
        user_id: user.to_owned(),
        train_date: Some(pb::TrainDate { train: train.into(), date: date_ahead(days) }),
        from_station: STATIONS[from].into(),
        to_station: STATIONS[to].into(),
        passengers: (0..passengers)
            .map(|_| {
                let serial = ledger.next_passenger.fetch_add(1, Ordering::Relaxed);
                pb::PassengerRequest {
                    name: "Crash Test".into(),
                    id_number: passenger_id(u64::from(serial)),
                    seat_class: class.into(),
                    ..Default::default()
                }
            })
            .collect(),
    }
}
