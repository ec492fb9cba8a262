//! The engine itself as a third target of the same harness: seatd's engine
//! in-process, booted exactly as seatd boots it (`api::boot`, seatd's default
//! configuration) on a MySQL journal with durable acknowledgement, and called
//! directly, without gRPC, JWT checks or rate limits. The baselines are
//! measured the same way (their databases called directly), so this is the
//! like-for-like comparison.
//!
//! Translation to the engine:
//! - A harness train-date `G1-2026-12-01` is the engine's train `G1` on
//!   2026-12-01. Its [`Layout`] becomes a train template: stations `BBAA`,
//!   `BBAB`, … (one per stop, 50 km and 20 minutes apart, first departure
//!   06:00) and the layout's carriages, rows and letters, checked to number
//!   seats exactly as the layout does, so a seat id means the same seat in
//!   every target.
//! - The clock is the system clock moved by whole days so that the engine's
//!   today is [`SeatEngineConfig::today`] (by default [`service_today`], the
//!   day before the harness's first date): the train-dates are inside the
//!   presale window and not departed, and time still passes in real time.
//! - Holds carry every passenger with `SeatChoice::Any`, as the baselines
//!   seat first-fit without picks; the engine still allocates by its policy
//!   (tightest-fit by default, as seatd).
//! - The harness numbers orders with `u64`s; the engine's are UUIDs. A small
//!   order book maps one to the other, numbering each engine order the first
//!   time a reply names it: that reply is `Held`, any later one for the same
//!   order (a repeated request) is `Duplicate`. The engine answers a repeated
//!   confirm or cancel with the order as it stands, so the book also records
//!   which reply first reported the order confirmed (or released): that one
//!   is `Confirmed` (`Cancelled`), later ones `NotHeld` (`AlreadyCancelled`).
//! - Holds last [`HOLD_TTL_SECS`] instead of seatd's 10 minutes: the
//!   baselines never expire holds, and an expiry during a long run would
//!   show up in the audit as an acknowledged hold that is gone.
//!
//! The audit restarts the engine first: it stops it (the writer commits what
//! is queued), boots a new one on the same database, which recovers every
//! train-date from the journal, and audits that. So it checks what MySQL
//! holds, as the other audits do, not what one process remembers. It then
//! runs the engine's own recount ([`Engine::verify_all`]), reads every order
//! the harness was ever given back from the engine, reads every seat's taken
//! segments from seat maps and every remaining count from the published
//! availability, and hands them to the shared [`AuditReport`](crate::audit::AuditReport) checks.
//!
//! - `template`: the engine template a harness train-date opens with.
//! - `audit`: the restart-then-read-back audit.

mod audit;
mod template;

pub use template::station_code;
use template::template_for;

use crate::layout::Layout;
use crate::model::{BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest};
use api::boot::{BootConfig, Booted, Database, boot};
use api::config::{AckSetting, SeatdConfig};
use chrono::NaiveDate;
use engine::clock::{Clock, SystemClock};
use engine::domain::command::{PassengerRequest, SeatChoice};
use engine::domain::order::{OrderId, OrderStatus as EngineStatus};
use engine::domain::rejection::Rejection;
use engine::domain::state::{TrainDateKey, service_date_of};
use engine::domain::timetable::Station;
use engine::facade::{Engine, EngineError, HoldInput, RecoverySummary};
use persistence::writer::WriterStats;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long an unpaid hold lasts here: longer than any run, since the
/// baselines have no expiry (seatd's default is 600 s).
pub const HOLD_TTL_SECS: u64 = 24 * 60 * 60;

/// How long stopping waits for calls in flight to finish and then for the
/// journal writer to commit what is queued (seatd waits as long).
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Pause between checks for calls still in flight while stopping.
const STOP_POLL: Duration = Duration::from_millis(10);

const MS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// The engine's today by default: 2026-11-30, the day before the first
/// train-date basebench and the tests open (2026-12-01).
pub fn service_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid date")
}

/// The system clock moved by whole days: real time passes, only the date differs.
#[derive(Clone, Copy, Debug)]
pub struct ShiftedClock {
    offset_ms: i64,
}

impl ShiftedClock {
    /// A clock whose service date (UTC+8) is `today`, at the real time of day.
    pub fn showing(today: NaiveDate) -> Self {
        let real_today = service_date_of(SystemClock.now_ms());
        ShiftedClock { offset_ms: (today - real_today).num_days() * MS_PER_DAY }
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> u64 {
        (SystemClock.now_ms() as i64 + self.offset_ms).max(0) as u64
    }
}

/// How to start the engine target.
#[derive(Clone, Debug)]
pub struct SeatEngineConfig {
    /// The engine's service date; the train-dates must lie from it to
    /// `seatd.presale_days` after it.
    pub today: NaiveDate,
    /// seatd's configuration, of which the journal, engine and writer parts
    /// are used. [`SeatEngineConfig::new`] takes seatd's defaults, with the
    /// journal on the given MySQL database, durable acknowledgement, and
    /// holds of [`HOLD_TTL_SECS`].
    pub seatd: SeatdConfig,
}

impl SeatEngineConfig {
    /// seatd's defaults on the MySQL database at `database_url` (which must
    /// exist; the journal's migrations create its tables), today being
    /// [`service_today`].
    pub fn new(database_url: &str) -> Self {
        let seatd = SeatdConfig {
            database_url: Some(database_url.to_owned()),
            ack: AckSetting::Durable,
            hold_ttl_secs: HOLD_TTL_SECS,
            ..SeatdConfig::default()
        };
        SeatEngineConfig { today: service_today(), seatd }
    }

    /// What the report should say about this configuration.
    pub fn describe(&self, arbiters: usize) -> serde_json::Value {
        let seatd = &self.seatd;
        serde_json::json!({
            "ack": seatd.ack,
            "journal": "mysql",
            "batch_events_max": seatd.batch_events_max,
            "batch_window_us": seatd.batch_window_us,
            "snapshot_every_events": seatd.snapshot_every_events,
            "arbiters": arbiters,
            "allocation_policy": seatd.allocation_policy,
            "hold_ttl_secs": seatd.hold_ttl_secs,
            "mailbox_pending_max": seatd.mailbox_pending_max,
            "presale_days": seatd.presale_days,
            "today": self.today.to_string(),
        })
    }
}

/// Journal writer totals over every engine this target ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JournalTotals {
    /// Transactions committed.
    pub batches: u64,
    /// Events in them.
    pub events: u64,
    /// Batches that failed every attempt.
    pub failed_batches: u64,
    /// Time spent committing, in µs.
    pub commit_micros: u64,
}

impl JournalTotals {
    fn of(stats: &WriterStats) -> Self {
        JournalTotals {
            batches: stats.batches.load(Ordering::Relaxed),
            events: stats.events.load(Ordering::Relaxed),
            failed_batches: stats.failed_batches.load(Ordering::Relaxed),
            commit_micros: stats.commit_micros_total.load(Ordering::Relaxed),
        }
    }

    fn add(&mut self, other: JournalTotals) {
        self.batches += other.batches;
        self.events += other.events;
        self.failed_batches += other.failed_batches;
        self.commit_micros += other.commit_micros;
    }
}

/// One harness train-date as opened in the engine.
struct OpenTrainDate {
    /// The harness's name for it.
    name: Arc<str>,
    key: TrainDateKey,
    layout: Layout,
}

/// One engine order as the harness knows it.
struct BookedOrder {
    train_date: Arc<str>,
    id: OrderId,
    /// A confirm reply has already been reported as `Confirmed`.
    confirm_acked: bool,
    /// A cancel reply has already been reported as `Cancelled`.
    release_acked: bool,
}

/// Harness order numbers ↔ engine order ids; number n is `orders[n - 1]`.
#[derive(Default)]
struct OrderBook {
    numbers: HashMap<OrderId, u64>,
    orders: Vec<BookedOrder>,
}

impl OrderBook {
    /// The number of engine order `id`, and whether this call numbered it.
    fn number(&mut self, train_date: &Arc<str>, id: OrderId) -> (u64, bool) {
        if let Some(number) = self.numbers.get(&id) {
            return (*number, false);
        }
        self.orders.push(BookedOrder {
            train_date: Arc::clone(train_date),
            id,
            confirm_acked: false,
            release_acked: false,
        });
        let number = self.orders.len() as u64;
        self.numbers.insert(id, number);
        (number, true)
    }

    /// The order numbered `number` on `train_date`, if there is one.
    fn get_mut(&mut self, train_date: &str, number: u64) -> Option<&mut BookedOrder> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.orders.get_mut(index).filter(|order| &*order.train_date == train_date)
    }
}

struct Inner {
    config: SeatEngineConfig,
    boot: BootConfig,
    clock: Arc<dyn Clock>,
    /// The running engine; `None` while stopped or restarting.
    engine: RwLock<Option<Arc<Engine>>>,
    /// The running engine's journal writer.
    writer: Mutex<Option<(JoinHandle<()>, Arc<WriterStats>)>>,
    /// Writer totals of engines already stopped.
    journal_done: Mutex<JournalTotals>,
    last_recovery: Mutex<Option<RecoverySummary>>,
    train_dates: RwLock<HashMap<String, Arc<OpenTrainDate>>>,
    /// Opens run one at a time: concurrent upserts of one train's template
    /// deadlock in the journal (seatd's admin calls do not race like that).
    opening: tokio::sync::Mutex<()>,
    book: Mutex<OrderBook>,
}

/// The engine target; cheap to clone (clones share the engine and the order book).
#[derive(Clone)]
pub struct SeatEngine {
    inner: Arc<Inner>,
}

impl SeatEngine {
    /// Boots the engine as seatd would with `config` (journal migrations,
    /// writer, recovery of whatever the database already holds) and adds the
    /// bench stations.
    pub async fn start(config: SeatEngineConfig) -> Result<Self, BaselineError> {
        let boot = BootConfig::from_config(&config.seatd);
        if !matches!(boot.database, Database::MySql { .. }) {
            return Err(BaselineError::Invalid("the engine target journals to MySQL: set a database URL".into()));
        }
        let clock: Arc<dyn Clock> = Arc::new(ShiftedClock::showing(config.today));
        let target = SeatEngine {
            inner: Arc::new(Inner {
                config,
                boot,
                clock,
                engine: RwLock::new(None),
                writer: Mutex::new(None),
                journal_done: Mutex::new(JournalTotals::default()),
                last_recovery: Mutex::new(None),
                train_dates: RwLock::new(HashMap::new()),
                opening: tokio::sync::Mutex::new(()),
                book: Mutex::new(OrderBook::default()),
            }),
        };
        target.boot().await?;
        let stations: Vec<Station> = (0..crate::layout::STOPS_MAX)
            .map(|stop| Station { code: station_code(stop), name: format!("Bench stop {stop}"), pinyin: String::new() })
            .collect();
        target.engine()?.upsert_stations(&stations).await.map_err(failed)?;
        Ok(target)
    }

    /// The engine's settings and the journal's, for the report.
    pub fn describe(&self) -> serde_json::Value {
        self.inner.config.describe(self.inner.boot.engine.arbiters)
    }

    /// Journal writer totals so far, over every restart.
    pub fn journal_totals(&self) -> JournalTotals {
        let mut totals = *lock(&self.inner.journal_done);
        if let Some((_, stats)) = lock(&self.inner.writer).as_ref() {
            totals.add(JournalTotals::of(stats));
        }
        totals
    }

    /// What the last boot recovered from the journal.
    pub fn last_recovery(&self) -> Option<RecoverySummary> {
        *lock(&self.inner.last_recovery)
    }

    async fn boot(&self) -> Result<(), BaselineError> {
        let Booted { engine, writer, writer_stats, recovery, .. } =
            boot(self.inner.boot.clone(), Arc::clone(&self.inner.clock))
                .await
                .map_err(|error| BaselineError::Engine(format!("boot: {error}")))?;
        *lock(&self.inner.writer) = Some((writer, writer_stats));
        *lock(&self.inner.last_recovery) = Some(recovery);
        *self.inner.engine.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(engine);
        Ok(())
    }

    /// Stops the engine: waits for calls in flight, drops it (its actors
    /// stop), and waits for the writer to commit what was queued.
    pub async fn stop(&self) -> Result<(), BaselineError> {
        let engine = self.inner.engine.write().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some(engine) = engine else { return Ok(()) };
        let deadline = Instant::now() + STOP_WAIT;
        while Arc::strong_count(&engine) > 1 {
            if Instant::now() >= deadline {
                return Err(BaselineError::Engine(format!("calls still in flight after {STOP_WAIT:?}")));
            }
            tokio::time::sleep(STOP_POLL).await;
        }
        drop(engine);
        let writer = lock(&self.inner.writer).take();
        if let Some((handle, stats)) = writer {
            let finished = tokio::time::timeout(STOP_WAIT, handle).await;
            lock(&self.inner.journal_done).add(JournalTotals::of(&stats));
            match finished {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(BaselineError::Engine(format!("journal writer: {error}"))),
                Err(_) => return Err(BaselineError::Engine(format!("journal writer still busy after {STOP_WAIT:?}"))),
            }
        }
        Ok(())
    }

    /// Stops the engine and boots a new one on the same journal, which
    /// recovers every train-date from what MySQL holds.
    pub async fn restart(&self) -> Result<RecoverySummary, BaselineError> {
        self.stop().await?;
        self.boot().await?;
        self.last_recovery().ok_or_else(|| BaselineError::Engine("no recovery summary".into()))
    }

    fn engine(&self) -> Result<Arc<Engine>, BaselineError> {
        let engine = self.inner.engine.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        engine.clone().ok_or_else(|| BaselineError::Engine("the engine is not running".into()))
    }

    fn train_date(&self, name: &str) -> Result<Arc<OpenTrainDate>, BaselineError> {
        let train_dates = self.inner.train_dates.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        train_dates.get(name).cloned().ok_or_else(|| BaselineError::UnknownTrainDate(name.to_owned()))
    }

    /// Saves the train's template (unchanged if the layout is the same) and
    /// opens the train-date with every seat free.
    pub async fn open_train_date(&self, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
        let key = engine_key(train_date)?;
        let template = template_for(&key.train, layout)?;
        let engine = self.engine()?;
        let opening = self.inner.opening.lock().await;
        engine.upsert_train(template).await.map_err(failed)?;
        engine.open_train_date(&key.train, key.date).await.map_err(failed)?;
        drop(opening);
        let open = OpenTrainDate { name: Arc::from(train_date), key, layout: layout.clone() };
        self.inner
            .train_dates
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(train_date.to_owned(), Arc::new(open));
        Ok(())
    }

    /// Holds one seat of the class per passenger, or nothing.
    pub async fn hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        let open = self.train_date(&request.train_date)?;
        request.validate(open.layout.stop_count())?;
        let input = HoldInput {
            deadline: None,
            request_id: request.request_id.clone(),
            user_id: request.user_id.clone(),
            key: open.key.clone(),
            from_station: station_code(request.from),
            to_station: station_code(request.to),
            passengers: request
                .passengers
                .iter()
                .map(|passenger| PassengerRequest {
                    name: passenger.name.clone(),
                    id_number: passenger.id_number.clone(),
                    class: request.class,
                    choice: SeatChoice::Any,
                })
                .collect(),
        };
        let snapshot = match self.engine()?.hold(input).await {
            Ok(snapshot) => snapshot,
            Err(EngineError::Rejected(Rejection::SoldOut { .. })) => return Ok(HoldOutcome::SoldOut),
            Err(EngineError::Rejected(rejection)) => {
                return Ok(HoldOutcome::Refused { reason: rejection.reason_code().to_owned() });
            }
            Err(error) => return Err(failed(error)),
        };
        let (order_id, first) = lock(&self.inner.book).number(&open.name, snapshot.order.id);
        if !first {
            return Ok(HoldOutcome::Duplicate { order_id });
        }
        Ok(HoldOutcome::Held { order_id, seats: snapshot.order.tickets.iter().map(|ticket| ticket.seat).collect() })
    }

    /// Confirms (pays for) a held order.
    pub async fn confirm(&self, train_date: &str, order_id: u64) -> Result<ConfirmOutcome, BaselineError> {
        let Some(id) = self.booked(train_date, order_id) else { return Ok(ConfirmOutcome::NotFound) };
        let snapshot = match self.engine()?.confirm(id, None, None).await {
            Ok(snapshot) => snapshot,
            Err(EngineError::Rejected(Rejection::NotConfirmable { .. } | Rejection::HoldExpired { .. })) => {
                return Ok(ConfirmOutcome::NotHeld);
            }
            Err(EngineError::Rejected(Rejection::OrderNotFound { .. }) | EngineError::NotFound(_)) => {
                return Ok(ConfirmOutcome::NotFound);
            }
            Err(error) => return Err(failed(error)),
        };
        if snapshot.order.status != EngineStatus::Confirmed {
            return Ok(ConfirmOutcome::NotHeld);
        }
        let mut book = lock(&self.inner.book);
        let Some(order) = book.get_mut(train_date, order_id) else { return Ok(ConfirmOutcome::NotFound) };
        Ok(if std::mem::replace(&mut order.confirm_acked, true) {
            ConfirmOutcome::NotHeld
        } else {
            ConfirmOutcome::Confirmed
        })
    }

    /// Cancels a hold or refunds a confirmed order, releasing its segments.
    pub async fn cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        let Some(id) = self.booked(train_date, order_id) else { return Ok(CancelOutcome::NotFound) };
        let snapshot = match self.engine()?.cancel(id, None, None).await {
            Ok(snapshot) => snapshot,
            Err(EngineError::Rejected(Rejection::OrderNotFound { .. }) | EngineError::NotFound(_)) => {
                return Ok(CancelOutcome::NotFound);
            }
            Err(error) => return Err(failed(error)),
        };
        if snapshot.order.status.holds_seats() {
            return Err(BaselineError::Engine(format!(
                "{train_date} order {order_id} is still {:?} after a cancel",
                snapshot.order.status
            )));
        }
        let mut book = lock(&self.inner.book);
        let Some(order) = book.get_mut(train_date, order_id) else { return Ok(CancelOutcome::NotFound) };
        Ok(if std::mem::replace(&mut order.release_acked, true) {
            CancelOutcome::AlreadyCancelled
        } else {
            CancelOutcome::Cancelled
        })
    }

    fn booked(&self, train_date: &str, order_id: u64) -> Option<OrderId> {
        lock(&self.inner.book).get_mut(train_date, order_id).map(|order| order.id)
    }
}

/// `G1-2026-12-01` → train G1 on 2026-12-01.
fn engine_key(train_date: &str) -> Result<TrainDateKey, BaselineError> {
    let invalid = || BaselineError::Invalid(format!("train-date {train_date:?} is not TRAIN-YYYY-MM-DD"));
    let split = train_date.len().checked_sub(11).ok_or_else(invalid)?;
    let (train, date) = train_date.split_at_checked(split).ok_or_else(invalid)?;
    let date = date.strip_prefix('-').ok_or_else(invalid)?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| invalid())?;
    if train.is_empty() {
        return Err(invalid());
    }
    Ok(TrainDateKey::new(train, date))
}

/// An engine error the harness has no outcome for.
fn failed(error: EngineError) -> BaselineError {
    match error {
        EngineError::InvalidArgument { .. } => BaselineError::Invalid(error.to_string()),
        other => BaselineError::Engine(other.to_string()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
