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
//! availability, and hands them to the shared [`AuditReport`] checks.

use crate::audit::{AuditReport, StoredSeat, StoredTicket};
use crate::layout::{Layout, class_code};
use crate::model::{AckedOrder, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest, OrderStatus};
use api::boot::{BootConfig, Booted, Database, boot};
use api::config::{AckSetting, SeatdConfig};
use chrono::NaiveDate;
use engine::clock::{Clock, SystemClock};
use engine::domain::command::{PassengerRequest, SeatChoice};
use engine::domain::order::{OrderId, OrderStatus as EngineStatus};
use engine::domain::rejection::Rejection;
use engine::domain::state::{TrainDateKey, service_date_of};
use engine::domain::timetable::{Carriage, Station, Stop, TrainTemplate};
use engine::engine::{Engine, EngineError, HoldInput, RecoverySummary};
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

/// Departure from the first stop, minutes after midnight.
const FIRST_DEPARTURE_MINUTES: u32 = 6 * 60;
/// Minutes from one stop's arrival to the next's.
const MINUTES_PER_STOP: u32 = 20;
/// Minutes a train stands at an intermediate stop.
const DWELL_MINUTES: u32 = 2;
/// Kilometres between consecutive stops (fares only).
const KM_PER_STOP: u32 = 50;

const MS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

/// The engine's today by default: 2026-11-30, the day before the first
/// train-date basebench and the tests open (2026-12-01).
pub fn service_today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid date")
}

/// Station code of stop `stop` on every bench train: `BBAA`, `BBAB`, ….
pub fn station_code(stop: usize) -> String {
    let letter = |index: usize| char::from(b'A' + (index % 26) as u8);
    format!("BB{}{}", letter(stop / 26), letter(stop))
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
        let Booted { engine, writer, writer_stats, recovery } =
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

    /// Restarts the engine from its journal, then audits every train-date
    /// opened here and every order in `acked` (see the module docs).
    pub async fn audit(&self, acked: &[AckedOrder]) -> Result<AuditReport, BaselineError> {
        self.restart().await?;
        let engine = self.engine()?;
        let mut report = AuditReport::default();
        if let Err(error) = engine.verify_all().await {
            report.problem(format!("engine recount: {error}"));
        }
        let mut train_dates: Vec<Arc<OpenTrainDate>> = {
            let open = self.inner.train_dates.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            open.values().cloned().collect()
        };
        train_dates.sort_by(|a, b| a.name.cmp(&b.name));
        let mut orders_by_train_date: HashMap<Arc<str>, Vec<(u64, OrderId)>> = HashMap::new();
        for (index, order) in lock(&self.inner.book).orders.iter().enumerate() {
            orders_by_train_date.entry(Arc::clone(&order.train_date)).or_default().push((index as u64 + 1, order.id));
        }
        let mut stored = HashMap::new();
        for open in &train_dates {
            let orders = orders_by_train_date.remove(&open.name).unwrap_or_default();
            let tickets = read_orders(&engine, open, &orders, &mut stored, &mut report).await?;
            let seats = read_seats(&engine, open, &mut report).await?;
            let counts = read_counts(&engine, open)?;
            report.check_train_date(&open.name, open.layout.stop_count(), &seats, &counts, &tickets);
        }
        for (train_date, orders) in orders_by_train_date {
            report.problem(format!("{} orders on {train_date}, which was never opened", orders.len()));
        }
        report.check_acked(&stored, acked);
        Ok(report)
    }
}

/// Reads back every booked order of one train-date: its stored status goes
/// into `stored`, and the tickets of those still holding seats are returned.
async fn read_orders(
    engine: &Engine,
    open: &OpenTrainDate,
    orders: &[(u64, OrderId)],
    stored: &mut HashMap<(String, u64), OrderStatus>,
    report: &mut AuditReport,
) -> Result<Vec<StoredTicket>, BaselineError> {
    let mut tickets = Vec::new();
    for (number, id) in orders {
        let snapshot = match engine.get_order(*id, None).await {
            Ok(snapshot) => snapshot,
            // The acknowledged-order check reports it if it was acknowledged.
            Err(EngineError::NotFound(_)) => continue,
            Err(error) => return Err(failed(error)),
        };
        if snapshot.key != open.key {
            report.problem(format!("{} order {number} ({id}) is stored on {}", open.name, snapshot.key));
            continue;
        }
        let order = &snapshot.order;
        let status = match order.status {
            EngineStatus::Held => OrderStatus::Held,
            EngineStatus::Confirmed => OrderStatus::Confirmed,
            EngineStatus::Cancelled | EngineStatus::Refunded | EngineStatus::Expired => OrderStatus::Cancelled,
        };
        stored.insert((open.name.to_string(), *number), status);
        if status.holds_seats() {
            let (from, to) = order.journey();
            tickets.extend(order.tickets.iter().map(|ticket| StoredTicket {
                order_id: *number,
                seat: ticket.seat,
                from,
                to,
            }));
        }
    }
    Ok(tickets)
}

/// Every seat's taken segments, from one seat map per carriage and segment.
async fn read_seats(
    engine: &Engine,
    open: &OpenTrainDate,
    report: &mut AuditReport,
) -> Result<Vec<StoredSeat>, BaselineError> {
    let layout = &open.layout;
    let mut seats: Vec<StoredSeat> = layout
        .seats()
        .iter()
        .enumerate()
        .map(|(seat, spec)| StoredSeat { seat: seat as u32, class: class_code(spec.class), mask: 0 })
        .collect();
    let mut first_seat = 0usize;
    while first_seat < layout.seats().len() {
        let carriage = layout.seats()[first_seat].carriage;
        let seat_count = layout.seats()[first_seat..].iter().take_while(|seat| seat.carriage == carriage).count();
        for segment in 0..layout.last_stop() {
            let map = engine
                .seat_map(&open.key, carriage, &station_code(segment), &station_code(segment + 1))
                .await
                .map_err(failed)?;
            if map.free.len() != seat_count {
                report.problem(format!(
                    "{}: carriage {carriage} has {} seats in the engine, {seat_count} in the layout",
                    open.name,
                    map.free.len()
                ));
            }
            for (offset, free) in map.free.iter().take(seat_count).enumerate() {
                if !free {
                    seats[first_seat + offset].mask |= 1 << segment;
                }
            }
        }
        first_seat += seat_count;
    }
    Ok(seats)
}

/// Every (class, from, to) remaining count, as searches see it.
fn read_counts(engine: &Engine, open: &OpenTrainDate) -> Result<Vec<(u8, usize, usize, i64)>, BaselineError> {
    let stop_count = open.layout.stop_count();
    let mut counts = Vec::new();
    for from in 0..stop_count {
        for to in from + 1..stop_count {
            let offer = engine.availability(&open.key, &station_code(from), &station_code(to)).map_err(failed)?;
            counts.extend(
                offer.classes.iter().map(|class| (class_code(class.class), from, to, i64::from(class.remaining))),
            );
        }
    }
    Ok(counts)
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

/// The template of train `train` with `layout`'s stops and seats, numbering
/// seats exactly as the layout does.
fn template_for(train: &str, layout: &Layout) -> Result<TrainTemplate, BaselineError> {
    let last = layout.last_stop();
    let stops = (0..layout.stop_count())
        .map(|stop| {
            let arrive = FIRST_DEPARTURE_MINUTES + stop as u32 * MINUTES_PER_STOP;
            Stop {
                station: station_code(stop),
                arrive_minutes: (stop > 0).then_some(arrive),
                depart_minutes: match stop {
                    0 => Some(FIRST_DEPARTURE_MINUTES),
                    stop if stop == last => None,
                    _ => Some(arrive + DWELL_MINUTES),
                },
                distance_km: stop as u32 * KM_PER_STOP,
            }
        })
        .collect();
    let mut carriages: Vec<Carriage> = Vec::new();
    for seat in layout.seats() {
        let letter_at = seat.code.len().checked_sub(1).filter(|at| *at > 0 && seat.code.is_char_boundary(*at));
        let parsed = letter_at.and_then(|at| Some((seat.code[..at].parse::<u16>().ok()?, seat.code[at..].to_owned())));
        let Some((row, letter)) = parsed else {
            return Err(BaselineError::Invalid(format!("seat code {:?} is not like 12F", seat.code)));
        };
        match carriages.last_mut() {
            Some(carriage) if carriage.number == seat.carriage => {
                if carriage.class != seat.class {
                    return Err(BaselineError::Invalid(format!("carriage {} mixes classes", seat.carriage)));
                }
                if !carriage.letters.contains(letter.as_str()) {
                    carriage.letters.push_str(&letter);
                }
                carriage.rows = carriage.rows.max(row);
            }
            _ => carriages.push(Carriage { number: seat.carriage, class: seat.class, rows: row, letters: letter }),
        }
    }
    let template = TrainTemplate { code: train.to_owned(), stops, carriages };
    template.validate(|_| true).map_err(|error| BaselineError::Invalid(format!("train {train}: {error}")))?;
    if Layout::from_template(&template) != *layout {
        return Err(BaselineError::Invalid(format!(
            "train {train}: the layout is not whole rows of carriages, so the engine would number its seats differently"
        )));
    }
    Ok(template)
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
mod tests {
    use super::*;

    #[test]
    fn train_date_names_parse() {
        let key = engine_key("G101-2026-12-03").expect("parses");
        assert_eq!(key.train, "G101");
        assert_eq!(key.date, NaiveDate::from_ymd_opt(2026, 12, 3).expect("date"));
        for bad in ["", "2026-12-03", "-2026-12-03", "G1_2026-12-03", "G1-2026-13-03"] {
            assert!(engine_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_bench_layout_round_trips_through_a_template() {
        for stops in [2, 4, 24] {
            let layout = Layout::sixteen_car(stops);
            let template = template_for("G1", &layout).expect("template");
            assert_eq!(Layout::from_template(&template), layout);
            assert_eq!(template.stops.len(), stops);
        }
    }

    #[test]
    fn station_codes_are_distinct_and_valid() {
        let codes: std::collections::HashSet<String> = (0..crate::layout::STOPS_MAX).map(station_code).collect();
        assert_eq!(codes.len(), crate::layout::STOPS_MAX);
        for code in codes {
            let station = Station { code, name: "x".into(), pinyin: String::new() };
            engine::domain::timetable::validate_station(&station).expect("valid station");
        }
    }

    #[test]
    fn the_shifted_clock_shows_the_chosen_date() {
        let today = NaiveDate::from_ymd_opt(2031, 3, 4).expect("date");
        assert_eq!(service_date_of(ShiftedClock::showing(today).now_ms()), today);
    }

    #[test]
    fn the_order_book_numbers_each_order_once() {
        let mut book = OrderBook::default();
        let name: Arc<str> = Arc::from("G1-2026-12-01");
        let (a, b) = (OrderId::generate(), OrderId::generate());
        assert_eq!(book.number(&name, a), (1, true));
        assert_eq!(book.number(&name, b), (2, true));
        assert_eq!(book.number(&name, a), (1, false));
        assert!(book.get_mut("G1-2026-12-01", 2).is_some_and(|order| order.id == b));
        assert!(book.get_mut("G2-2026-12-01", 2).is_none());
        assert!(book.get_mut("G1-2026-12-01", 0).is_none());
        assert!(book.get_mut("G1-2026-12-01", 3).is_none());
    }
}
