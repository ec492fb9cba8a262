//! The waitlist (候补) and ticket-change (改签) workflows across kill -9: the
//! scenario, the ledger of what its clients sent and heard, and the rounds
//! of load → kill -9 → restart → wait for the workflows to settle → audit.
//!
//! - `setup`: sells out business class on the waited train-dates and queues
//!   waitlist requests on them.
//! - `load`: refunds, waitlist cancels and submissions, and changes across
//!   train-dates and in place, at once, until seatd is killed.
//! - `journal`: reads the stored states and events behind seatd: what was in
//!   flight at the kill, whether everything settled, the queue order kept.
//! - `audit`: what the API shows after a restart, against the ledger.

pub mod audit;
pub mod journal;
pub mod load;
pub mod setup;

use super::load::{date_ahead, passenger_id};
use super::{Backend, Seatd};
use api::pb;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sold out in business and waited on: each request chooses one or two of
/// these trains on `DAYS_AHEAD`.
pub const WAITED_TRAINS: [&str; 2] = ["G1", "G3"];
/// Where changes across train-dates mostly go: business seats to spare, so
/// they commit (a change into a waited train-date, sold out, aborts).
pub const SPARE_TRAIN: &str = "G7";
/// Days after today. Not tomorrow: a waitlist's cut-off is 19:00 (UTC+8) the
/// day before departure, so in the evening tomorrow cannot be waited on.
/// Adjacent, because one request may name two adjacent dates.
pub const DAYS_AHEAD: [u64; 2] = [2, 3];
/// Every journey runs end to end, so one count per class says what is free.
pub const FROM: &str = "VNP";
pub const TO: &str = "AOH";
/// Requests waiting at the start of every round (topped up as they are
/// fulfilled or cancelled): more passengers than a round frees seats for, so
/// queues stay long and their order matters.
const WAITING_REQUESTS: usize = 20;
/// Longest the workflows may take to settle after a restart: each step is
/// milliseconds, recovery resends what was owed at once, and a step whose
/// state is busy is retried within 6.3 s (`EFFECT_ATTEMPTS_MAX`).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Rounds run beyond those asked while no kill has caught a workflow step in
/// flight: a run that never crashed in the middle of a workflow proves
/// nothing about recovery. Most kills catch some (see the round lines).
const EXTRA_ROUNDS_MAX: usize = 5;

/// The train-dates the scenario touches, as (train, service date).
pub fn train_dates() -> Vec<(&'static str, String)> {
    let trains = WAITED_TRAINS.iter().chain([&SPARE_TRAIN]);
    trains.flat_map(|train| DAYS_AHEAD.map(|days| (*train, date_ahead(days)))).collect()
}

/// The waited train-dates, as the API names them.
pub fn waited_train_dates() -> Vec<pb::TrainDate> {
    WAITED_TRAINS
        .iter()
        .flat_map(|train| DAYS_AHEAD.map(|days| pb::TrainDate { train: (*train).into(), date: date_ahead(days) }))
        .collect()
}

/// A call whose outcome the audit must allow for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Not,
    /// Sent, no answer (seatd died, or an error that does not say): it may or may not have happened.
    Unanswered,
    Acknowledged,
    /// Answered with a refusal: it did not happen.
    Refused,
}

impl Sent {
    /// What a reply says about the call it answers.
    pub fn of<T>(reply: &Result<T, tonic::Status>) -> Sent {
        use tonic::Code;
        let refusals = [Code::FailedPrecondition, Code::InvalidArgument, Code::NotFound, Code::AlreadyExists];
        match reply {
            Ok(_) => Sent::Acknowledged,
            Err(status) if refusals.contains(&status.code()) => Sent::Refused,
            Err(_) => Sent::Unanswered,
        }
    }
}

/// A confirmed order the load may refund or change: sold in the setup, or
/// a fulfilled waitlist request's.
#[derive(Clone, Debug)]
pub struct TicketOrder {
    pub user_id: String,
    pub train_date: pb::TrainDate,
    /// Passenger names, unique in the scenario.
    pub passengers: Vec<String>,
    pub refund: Sent,
    pub change: Option<ChangeSent>,
}

#[derive(Clone, Debug)]
pub struct ChangeSent {
    pub target: pb::TrainDate,
    pub class: pb::SeatClass,
    pub sent: Sent,
    /// From an acknowledged reply.
    pub outcome: Option<pb::ChangeOutcome>,
    pub new_order_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct WaitRequest {
    pub user_id: String,
    pub passengers: Vec<String>,
    pub activate: Sent,
    pub cancel: Sent,
}

/// What the clients sent and were told, across every round.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// By order id.
    pub orders: BTreeMap<String, TicketOrder>,
    /// By request id.
    pub requests: BTreeMap<String, WaitRequest>,
    /// Every Submit sent, by user (one each), to be repeated after a restart.
    pub submissions: BTreeMap<String, pb::SubmitWaitlistRequest>,
    /// Every user the scenario acted for; the audit lists their orders and requests.
    pub users: BTreeSet<String>,
    next_serial: u64,
}

pub type SharedLedger = Arc<Mutex<Ledger>>;

impl Ledger {
    /// A user not used before (a user may have one open waitlist request).
    pub fn new_user(&mut self, role: &str) -> String {
        self.next_serial += 1;
        let user = format!("wf-{role}-{}", self.next_serial);
        self.users.insert(user.clone());
        user
    }

    /// `count` passengers not used before: (name, resident ID number).
    pub fn new_passengers(&mut self, count: usize) -> Vec<(String, String)> {
        (0..count)
            .map(|_| {
                self.next_serial += 1;
                (passenger_name(self.next_serial), passenger_id(self.next_serial))
            })
            .collect()
    }
}

/// A unique name for passenger `serial`: names take letters only, and the
/// API masks ID numbers, so the name is what identifies a passenger there.
fn passenger_name(serial: u64) -> String {
    let letters: String = (0..4).rev().map(|place| char::from(b'a' + (serial / 26u64.pow(place) % 26) as u8)).collect();
    format!("Rider {letters}")
}

/// Runs `rounds` (or more, until a kill caught a workflow in flight) of:
/// sell out and queue requests again, load, kill -9, restart, settle,
/// audit; then one round without a kill, whose workflows must settle on
/// the running seatd by themselves.
pub async fn run_rounds(backend: Backend, rounds: usize) {
    let started = Instant::now();
    let ledger = SharedLedger::default();
    let mut seatd = Seatd::start(&backend).await;
    let journal = journal::Reader::open(&backend).await;
    let (mut waiting, mut caught_in_flight) = (0, 0);
    for round in 0.. {
        if round >= rounds && caught_in_flight > 0 {
            break;
        }
        assert!(
            round < rounds + EXTRA_ROUNDS_MAX,
            "no kill in {round} rounds caught a workflow step in flight: recovery went untested"
        );
        replenish(&seatd, &ledger, waiting).await;
        let running = load::start(&seatd, &ledger).await;
        let acknowledged_at_kill = running.until_kill_point().await;
        seatd.kill().await;
        let stats = running.finish().await;
        let owed = journal::unsettled(&journal.states().await);
        caught_in_flight += usize::from(!owed.is_empty());
        seatd = Seatd::start(&backend).await;
        let audited;
        (waiting, audited) = settle_and_audit(&seatd, &journal, &ledger).await;
        eprintln!(
            "{} round {round}: killed after {acknowledged_at_kill} acknowledged replies; load {stats}; {} workflow \
             steps owed at the kill{}; restarted, {audited}",
            backend.name(),
            owed.len(),
            owed.first().map(|first| format!(" (e.g. {first})")).unwrap_or_default(),
        );
    }
    replenish(&seatd, &ledger, waiting).await;
    let stats = load::start(&seatd, &ledger).await.run_out().await;
    let (_, audited) = settle_and_audit(&seatd, &journal, &ledger).await;
    eprintln!("{} last round, no kill: load {stats}; {audited}", backend.name());
    seatd.kill().await;
    eprintln!(
        "{}: {caught_in_flight} kills caught workflows in flight; {:.1} s in all",
        backend.name(),
        started.elapsed().as_secs_f64()
    );
}

/// Sells out what came free and queues requests up to `WAITING_REQUESTS`.
async fn replenish(seatd: &Seatd, ledger: &SharedLedger, waiting: usize) {
    setup::sell_out(seatd, ledger).await;
    setup::queue_requests(seatd, ledger, WAITING_REQUESTS.saturating_sub(waiting)).await;
}

/// Waits for the workflows to settle, then audits the journal and the API.
/// Answers the requests waiting, and what was checked.
async fn settle_and_audit(seatd: &Seatd, journal: &journal::Reader, ledger: &SharedLedger) -> (usize, String) {
    let settled = journal::wait_settled(journal, SETTLE_TIMEOUT).await;
    let checked = journal::audit(journal).await;
    let audited = audit::audit(seatd, ledger).await;
    let summary = format!("settled in {} ms; journal: {checked}; API: {audited}", settled.as_millis());
    (audited.waiting, summary)
}
