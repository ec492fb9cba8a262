//! basebench: closed-loop load against a target (the MySQL classic or Redis +
//! Lua baseline, or the engine itself in-process on a MySQL journal), with
//! the engine benchmarks' demand, spread over many train-dates, and an audit
//! at the end.
//!
//! It makes its own state (a uniquely named database, or a unique key prefix),
//! opens `--train-dates` train-dates of the benchmark train, runs `--clients`
//! clients for `--duration-secs`, audits every train-date and every
//! acknowledged order, removes its state, and reports throughput, latency
//! percentiles and the outcome mix (and JSON with `--out`). A failed audit
//! exits non-zero.

use clap::{Parser, ValueEnum};
use engine::allocation::AllocationPolicy;
use engine::domain::command::HoldSeats;
use engine::domain::seat_class::SeatClass;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use seat_baselines::audit::AuditReport;
use seat_baselines::mysql_classic::{self, HoldPath, MysqlClassic};
use seat_baselines::redis_lua::{self, RedisDurability, RedisLua};
use seat_baselines::seat_engine::{SeatEngine, SeatEngineConfig};
use seat_baselines::{AckedOrder, Baseline, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest, Layout};
use seat_baselines::{OrderStatus, Passenger};
use seat_benches::demand::Demand;
use seat_benches::latency::LatencyMs;
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// seatd's allocator, so the in-process engine (seat-engine) allocates as it
/// does in seatd; the baselines' clients get it too.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Train-dates opened at once during setup: enough to keep the server busy,
/// few enough that each open stays one short transaction.
const OPEN_CONCURRENCY: usize = 8;

/// A MySQL server's default `max_connections` is 151; the pool stays under it
/// with room for the setup connection and an operator's shell.
const MYSQL_CONNECTIONS_MAX: u32 = 128;

/// Default pool size. On this 2-core machine 8 to 16 connections gave the
/// best throughput at 64 clients and 64 the worst tail (measured 4, 8, 16, 24,
/// 64): past the cores, more connections add context switches, not work.
/// The pool-sizing rule of thumb (2 × cores + disks) lands in the same place.
const MYSQL_CONNECTIONS_DEFAULT: u32 = 16;

/// Train codes the train-dates are named after: the demo's 12 trains.
const TRAINS: [&str; 12] = ["G1", "G2", "G3", "G4", "G7", "G8", "G101", "G102", "G111", "G112", "D701", "D702"];

/// Date of the first train-dates; train-date k runs k / 12 days later.
fn first_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
}

/// Error messages kept verbatim for the report; the rest are only counted.
const ERRORS_LISTED_MAX: usize = 10;

/// Seconds between progress lines on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Target {
    /// MySQL/InnoDB transactions with SELECT ... FOR UPDATE.
    MysqlClassic,
    /// Redis with one Lua script per hold.
    RedisLua,
    /// The engine in-process, booted as seatd (MySQL journal, durable
    /// acknowledgement), called directly: no gRPC, JWT or rate limits.
    SeatEngine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum DemandKind {
    /// benches/src/demand.rs: long trips favoured, groups of 1–5, 80/16/4%
    /// second/first/business (seat picks are ignored: baselines seat first-fit).
    Bench,
    /// Like seatbench's demo demand: journeys among 4 stops (use --stops 4),
    /// 1–2 passengers, 80/15/5% second/first/business.
    Demo,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "basebench",
    about = "Closed-loop load and audit for the MySQL and Redis baselines and the in-process engine"
)]
struct Args {
    /// Which target to drive.
    #[arg(long, value_enum)]
    target: Target,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long to run the load.
    #[arg(long, default_value_t = 15)]
    duration_secs: u64,
    /// Train-dates the load is spread over (168 = the demo's 12 trains × 14 days).
    #[arg(long, default_value_t = 168)]
    train_dates: usize,
    /// Stops of the benchmark train (16 cars, 1,193 seats); 24 is the whole line.
    #[arg(long, default_value_t = 24)]
    stops: usize,
    /// Request mix.
    #[arg(long, value_enum, default_value = "bench")]
    demand: DemandKind,
    /// Percent of held orders then confirmed.
    #[arg(long, default_value_t = 0)]
    confirm_percent: u32,
    /// Percent of held orders then cancelled (after any confirm), returning seats.
    #[arg(long, default_value_t = 0)]
    cancel_percent: u32,
    /// Demand seed; client k uses seed + k.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// MySQL server; a database named basebench_<pid>_<time> is created on it
    /// and dropped (mysql-classic's tables, or seat-engine's journal).
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306/test")]
    mysql_url: String,
    /// Connection pool size; default 16 (or one per client if fewer), at most 128.
    #[arg(long)]
    mysql_connections: Option<u32>,
    /// How holds reach MySQL: statements from here, or one stored-procedure call.
    #[arg(long, value_enum, default_value = "statements")]
    mysql_hold: HoldPath,
    /// Redis server; keys start with {basebench-<pid>-<time>: and are deleted at the end.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Multiplexed Redis connections the clients share (pipelined, so a few
    /// suffice; Redis runs scripts one at a time whatever the count).
    #[arg(long, default_value_t = 4)]
    redis_connections: usize,
    /// Redis persistence for the run (restored afterwards). aof-always is
    /// durable before the reply, like the engine's and InnoDB's defaults.
    #[arg(long, value_enum, default_value = "aof-always")]
    redis_durability: RedisDurability,
    /// seat-engine: actor threads (arbiters); default one per core, as seatd.
    #[arg(long)]
    engine_arbiters: Option<usize>,
    /// Write the results as JSON here too.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Keep the database or keys afterwards, for inspection.
    #[arg(long)]
    keep: bool,
}

/// One client's tally, merged at the end.
struct Tally {
    /// Every hold answered (held, duplicate or sold out), in µs.
    holds: Histogram<u64>,
    /// Every acknowledged write (hold held, confirm, cancel), in µs.
    writes: Histogram<u64>,
    outcomes: BTreeMap<String, u64>,
    acked: Vec<AckedOrder>,
    held: u64,
    passengers_held: u64,
    sold_out: u64,
    errors: u64,
    error_samples: Vec<String>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            holds: Histogram::new(3).expect("histogram"),
            writes: Histogram::new(3).expect("histogram"),
            outcomes: BTreeMap::new(),
            acked: Vec::new(),
            held: 0,
            passengers_held: 0,
            sold_out: 0,
            errors: 0,
            error_samples: Vec::new(),
        }
    }

    fn count(&mut self, outcome: &str) {
        *self.outcomes.entry(outcome.to_owned()).or_insert(0) += 1;
    }

    fn error(&mut self, what: &str, error: &seat_baselines::BaselineError) {
        self.errors += 1;
        self.count(&format!("{what} error"));
        if self.error_samples.len() < ERRORS_LISTED_MAX {
            self.error_samples.push(format!("{what}: {error}"));
        }
    }

    fn merge(&mut self, other: Tally) {
        self.holds.add(&other.holds).expect("same histogram shape");
        self.writes.add(&other.writes).expect("same histogram shape");
        for (outcome, count) in other.outcomes {
            *self.outcomes.entry(outcome).or_insert(0) += count;
        }
        self.acked.extend(other.acked);
        self.held += other.held;
        self.passengers_held += other.passengers_held;
        self.sold_out += other.sold_out;
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < ERRORS_LISTED_MAX {
                self.error_samples.push(sample);
            }
        }
    }
}

#[derive(Serialize)]
struct Report {
    target: Target,
    date: String,
    command: String,
    clients: usize,
    duration_secs: u64,
    elapsed_secs: f64,
    setup_secs: f64,
    train_dates: usize,
    stops: usize,
    seats_per_train_date: usize,
    demand: DemandKind,
    seed: u64,
    confirm_percent: u32,
    cancel_percent: u32,
    /// Every hold, confirm and cancel answered (refusals included), per second.
    requests_per_sec: f64,
    /// Hold requests answered (held, duplicate or sold out) per second.
    holds_per_sec: f64,
    /// Holds that took seats, per second.
    held_per_sec: f64,
    /// Acknowledged writes (held holds, confirms, cancels) per second; what
    /// seatbench calls durable writes.
    writes_ok_per_sec: f64,
    holds_answered: u64,
    held: u64,
    passengers_held: u64,
    sold_out: u64,
    errors: u64,
    error_samples: Vec<String>,
    outcomes: BTreeMap<String, u64>,
    /// Latency of acknowledged writes.
    write_latency_ms: LatencyMs,
    /// Latency of every answered hold, refusals included.
    hold_latency_ms: LatencyMs,
    audit: AuditReport,
    durability: serde_json::Value,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("basebench: AUDIT FAILED");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("basebench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up the target, runs, always cleans up, and reports; `Ok(false)` when
/// the audit failed.
async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let layout = Arc::new(Layout::sixteen_car(args.stops));
    let started_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let tag = format!("basebench_{}_{started_ms}", std::process::id());
    match args.target {
        Target::MysqlClassic => {
            let connections = args
                .mysql_connections
                .unwrap_or(MYSQL_CONNECTIONS_DEFAULT.min(args.clients as u32))
                .clamp(1, MYSQL_CONNECTIONS_MAX);
            mysql_classic::create_database(&args.mysql_url, &tag).await?;
            let url = mysql_classic::database_url(&args.mysql_url, &tag);
            let outcome = async {
                let mysql = MysqlClassic::connect(&url, connections).await?.with_hold_path(args.mysql_hold);
                mysql.create_schema().await?;
                let durability = mysql_settings(&mysql, connections, args.mysql_hold).await?;
                let result = drive(&args, &layout, Baseline::MysqlClassic(mysql.clone()), durability).await;
                mysql.pool().close().await;
                result
            }
            .await;
            drop_unless_kept(&args, &tag).await?;
            outcome
        }
        Target::RedisLua => {
            let prefix = tag.replace('_', "-");
            let redis = RedisLua::connect(&args.redis_url, &prefix, args.redis_connections).await?;
            let mut admin = redis.connection();
            let previous = redis_lua::set_durability(&mut admin, args.redis_durability).await?;
            let outcome = async {
                let durability = serde_json::json!({
                    "mode": args.redis_durability,
                    "during_run": redis_lua::persistence_settings(&mut admin).await?,
                    "server_before": previous,
                    "connections": args.redis_connections,
                });
                drive(&args, &layout, Baseline::RedisLua(redis.clone()), durability).await
            }
            .await;
            if args.keep {
                eprintln!("keeping keys {{{prefix}:*");
            } else {
                let deleted = redis.delete_all().await?;
                eprintln!("deleted {deleted} keys");
            }
            redis_lua::restore_durability(&mut admin, &previous).await?;
            outcome
        }
        Target::SeatEngine => {
            mysql_classic::create_database(&args.mysql_url, &tag).await?;
            let url = mysql_classic::database_url(&args.mysql_url, &tag);
            let outcome = async {
                let mut config = SeatEngineConfig::new(&url);
                config.today = first_date() - chrono::Days::new(1);
                // Every train-date must be inside the presale window.
                let days = args.train_dates.max(1).div_ceil(TRAINS.len()) as u64;
                config.seatd.presale_days = config.seatd.presale_days.max(days);
                if let Some(arbiters) = args.engine_arbiters {
                    config.seatd.arbiters = Some(arbiters.max(1));
                }
                let engine = SeatEngine::start(config).await?;
                let server = sqlx::MySqlPool::connect(&url).await?;
                let durability = serde_json::json!({
                    "mode": "durable: a write is answered after its journal batch commits",
                    "engine": engine.describe(),
                    "server": mysql_server_settings(&server).await?,
                });
                server.close().await;
                let result = drive(&args, &layout, Baseline::SeatEngine(engine.clone()), durability).await;
                let stopped = engine.stop().await;
                if let (Ok(_), Some(recovery)) = (&result, engine.last_recovery()) {
                    eprintln!(
                        "audited after a restart: recovered {} train-dates, {} orders from the journal in {} ms",
                        recovery.train_dates, recovery.orders, recovery.elapsed_ms
                    );
                }
                let journal = engine.journal_totals();
                eprintln!(
                    "journal: {} batches, {} events ({:.1} a batch), {:.2} ms a commit, {} failed",
                    journal.batches,
                    journal.events,
                    journal.events as f64 / journal.batches.max(1) as f64,
                    journal.commit_micros as f64 / 1000.0 / journal.batches.max(1) as f64,
                    journal.failed_batches
                );
                let result = result?;
                stopped?;
                Ok::<_, Box<dyn std::error::Error>>(result)
            }
            .await;
            drop_unless_kept(&args, &tag).await?;
            outcome
        }
    }
}

/// Drops the run's throwaway database, unless `--keep` asked to keep it.
async fn drop_unless_kept(args: &Args, tag: &str) -> Result<(), Box<dyn std::error::Error>> {
    if args.keep {
        eprintln!("keeping database {tag}");
    } else {
        mysql_classic::drop_database(&args.mysql_url, tag).await?;
    }
    Ok(())
}

/// The classic baseline's settings that decide durability, for the report.
async fn mysql_settings(
    mysql: &MysqlClassic,
    connections: u32,
    hold_path: HoldPath,
) -> Result<serde_json::Value, sqlx::Error> {
    let mut settings = mysql_server_settings(mysql.pool()).await?;
    settings["lock_wait_timeout_secs"] = mysql_classic::LOCK_WAIT_TIMEOUT_SECS.into();
    settings["pool_connections"] = connections.into();
    settings["hold_path"] = serde_json::to_value(hold_path).map_err(|error| sqlx::Error::Decode(error.into()))?;
    Ok(settings)
}

/// The MySQL server's settings that decide durability and speed.
async fn mysql_server_settings(pool: &sqlx::MySqlPool) -> Result<serde_json::Value, sqlx::Error> {
    let (version, flush, sync_binlog, log_bin, buffer_pool, isolation): (String, u64, u64, i64, u64, String) =
        sqlx::query_as(
            "SELECT @@version, @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@log_bin, \
             @@innodb_buffer_pool_size, @@tx_isolation",
        )
        .fetch_one(pool)
        .await?;
    Ok(serde_json::json!({
        "version": version,
        "innodb_flush_log_at_trx_commit": flush,
        "sync_binlog": sync_binlog,
        "log_bin": log_bin,
        "innodb_buffer_pool_size": buffer_pool,
        "isolation": isolation,
    }))
}

/// Opens the train-dates, runs the clients, audits, and prints the report.
async fn drive(
    args: &Args,
    layout: &Arc<Layout>,
    baseline: Baseline,
    durability: serde_json::Value,
) -> Result<bool, Box<dyn std::error::Error>> {
    let names: Arc<Vec<String>> = Arc::new((0..args.train_dates.max(1)).map(train_date_name).collect());
    let setup = Instant::now();
    let mut opening = JoinSet::new();
    for chunk in names.chunks(names.len().div_ceil(OPEN_CONCURRENCY)) {
        let (baseline, layout, chunk) = (baseline.clone(), Arc::clone(layout), chunk.to_vec());
        opening.spawn(async move {
            for name in chunk {
                baseline.open_train_date(&name, &layout).await?;
            }
            Ok::<_, seat_baselines::BaselineError>(())
        });
    }
    while let Some(opened) = opening.join_next().await {
        opened??;
    }
    let setup_secs = setup.elapsed().as_secs_f64();
    eprintln!(
        "{}: opened {} train-dates of {} seats in {setup_secs:.1} s; {} clients for {} s",
        baseline.name(),
        names.len(),
        layout.seats().len(),
        args.clients,
        args.duration_secs
    );

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for client in 0..args.clients {
        let context = ClientContext {
            baseline: baseline.clone(),
            names: Arc::clone(&names),
            stop: Arc::clone(&stop),
            answered: Arc::clone(&answered),
            client,
            seed: args.seed,
            stops: layout.stop_count(),
            demand: args.demand,
            confirm_percent: args.confirm_percent,
            cancel_percent: args.cancel_percent,
        };
        clients.spawn(client_loop(context));
    }
    let deadline = started + Duration::from_secs(args.duration_secs);
    while Instant::now() < deadline {
        tokio::time::sleep(PROGRESS_EVERY.min(deadline.saturating_duration_since(Instant::now()))).await;
        let elapsed = started.elapsed().as_secs_f64();
        eprintln!("  {elapsed:5.1} s: {} requests answered", answered.load(Ordering::Relaxed));
    }
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::new();
    while let Some(client) = clients.join_next().await {
        tally.merge(client?);
    }
    let elapsed_secs = started.elapsed().as_secs_f64();

    eprintln!("auditing {} train-dates and {} acknowledged orders...", names.len(), tally.acked.len());
    let audit = baseline.audit(&tally.acked).await?;
    let holds_answered = tally.holds.len();
    let requests: u64 = tally.outcomes.iter().filter(|(outcome, _)| !outcome.ends_with("error")).map(|(_, n)| n).sum();
    let report = Report {
        target: args.target,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        clients: args.clients,
        duration_secs: args.duration_secs,
        elapsed_secs,
        setup_secs,
        train_dates: names.len(),
        stops: layout.stop_count(),
        seats_per_train_date: layout.seats().len(),
        demand: args.demand,
        seed: args.seed,
        confirm_percent: args.confirm_percent,
        cancel_percent: args.cancel_percent,
        requests_per_sec: requests as f64 / elapsed_secs,
        holds_per_sec: holds_answered as f64 / elapsed_secs,
        held_per_sec: tally.held as f64 / elapsed_secs,
        writes_ok_per_sec: tally.writes.len() as f64 / elapsed_secs,
        holds_answered,
        held: tally.held,
        passengers_held: tally.passengers_held,
        sold_out: tally.sold_out,
        errors: tally.errors,
        error_samples: tally.error_samples.clone(),
        outcomes: tally.outcomes.clone(),
        write_latency_ms: LatencyMs::of(&tally.writes),
        hold_latency_ms: LatencyMs::of(&tally.holds),
        audit,
        durability,
    };
    print_report(&report);
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }
    Ok(report.audit.ok())
}

/// `G1-2026-12-01` style: train k % 12 on day k / 12.
fn train_date_name(index: usize) -> String {
    let date = first_date() + chrono::Days::new((index / TRAINS.len()) as u64);
    format!("{}-{date}", TRAINS[index % TRAINS.len()])
}

struct ClientContext {
    baseline: Baseline,
    names: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    client: usize,
    seed: u64,
    stops: usize,
    demand: DemandKind,
    confirm_percent: u32,
    cancel_percent: u32,
}

async fn client_loop(context: ClientContext) -> Tally {
    let mut tally = Tally::new();
    let seed = context.seed.wrapping_add(context.client as u64);
    let mut demand = Demand::new(seed, context.stops);
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED_BA5E);
    let user = format!("c{}", context.client);
    let mut serial = 0u64;
    let mut ids = PassengerIds { client: context.client, issued: 0 };
    while !context.stop.load(Ordering::Relaxed) {
        serial += 1;
        let train_date = &context.names[rng.random_range(0..context.names.len())];
        let request = match context.demand {
            DemandKind::Bench => from_bench(demand.hold(AllocationPolicy::FirstFit), train_date, &user, &mut ids),
            DemandKind::Demo => demo_hold(&mut rng, context.stops, train_date, &user, serial, &mut ids),
        };
        let started = Instant::now();
        let outcome = context.baseline.hold(&request).await;
        let micros = started.elapsed().as_micros() as u64;
        context.answered.fetch_add(1, Ordering::Relaxed);
        let order_id = match outcome {
            Ok(HoldOutcome::Held { order_id, seats }) => {
                tally.count("hold held");
                tally.held += 1;
                tally.passengers_held += seats.len() as u64;
                let _ = tally.holds.record(micros);
                let _ = tally.writes.record(micros);
                order_id
            }
            Ok(HoldOutcome::Duplicate { .. }) => {
                tally.count("hold duplicate");
                let _ = tally.holds.record(micros);
                continue;
            }
            Ok(HoldOutcome::SoldOut) => {
                tally.count("hold sold_out");
                tally.sold_out += 1;
                let _ = tally.holds.record(micros);
                continue;
            }
            Ok(HoldOutcome::Refused { reason }) => {
                tally.count(&format!("hold refused {reason}"));
                let _ = tally.holds.record(micros);
                continue;
            }
            Err(error) => {
                tally.error("hold", &error);
                continue;
            }
        };
        let mut status = OrderStatus::Held;
        if rng.random_range(0..100) < context.confirm_percent {
            let started = Instant::now();
            let outcome = context.baseline.confirm(train_date, order_id).await;
            let micros = started.elapsed().as_micros() as u64;
            context.answered.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(ConfirmOutcome::Confirmed) => {
                    tally.count("confirm ok");
                    let _ = tally.writes.record(micros);
                    status = OrderStatus::Confirmed;
                }
                Ok(other) => tally.count(&format!("confirm {other:?}")),
                Err(error) => tally.error("confirm", &error),
            }
        }
        if rng.random_range(0..100) < context.cancel_percent {
            let started = Instant::now();
            let outcome = context.baseline.cancel(train_date, order_id).await;
            let micros = started.elapsed().as_micros() as u64;
            context.answered.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(CancelOutcome::Cancelled) => {
                    tally.count("cancel ok");
                    let _ = tally.writes.record(micros);
                    status = OrderStatus::Cancelled;
                }
                Ok(other) => tally.count(&format!("cancel {other:?}")),
                Err(error) => tally.error("cancel", &error),
            }
        }
        tally.acked.push(AckedOrder { train_date: train_date.clone(), order_id, status });
    }
    tally
}

/// Passenger ID numbers of one client, never issued twice in a run: the
/// engine refuses a passenger who already holds an overlapping journey on
/// the same train-date (PASSENGER_OVERLAP), so clients must not share people.
/// The baselines only store the numbers.
struct PassengerIds {
    client: usize,
    issued: u64,
}

impl PassengerIds {
    /// 18 digits: the client, then its count of passengers so far.
    fn next(&mut self) -> String {
        self.issued += 1;
        format!("{:06}{:012}", self.client, self.issued)
    }
}

/// An engine hold from the shared demand model, as a baseline request. Every
/// passenger of a Demand order has the same class; seat picks are dropped.
fn from_bench(hold: HoldSeats, train_date: &str, user: &str, ids: &mut PassengerIds) -> HoldRequest {
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
fn demo_hold(
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

fn print_report(report: &Report) {
    println!(
        "basebench {:?}: {} clients for {:.1} s, {} train-dates × {} seats, {} stops, demand {:?}",
        report.target,
        report.clients,
        report.elapsed_secs,
        report.train_dates,
        report.seats_per_train_date,
        report.stops,
        report.demand
    );
    println!(
        "requests answered: {:.0}/s; holds answered {:.0}/s, held {:.0}/s ({} orders, {} passengers); \
         acknowledged writes {:.0}/s",
        report.requests_per_sec,
        report.holds_per_sec,
        report.held_per_sec,
        report.held,
        report.passengers_held,
        report.writes_ok_per_sec
    );
    for (name, latency) in [("acked write", &report.write_latency_ms), ("any hold", &report.hold_latency_ms)] {
        println!(
            "{name} latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p999 {:.2}  max {:.2}  (n={})",
            latency.p50, latency.p90, latency.p99, latency.p999, latency.max, latency.count
        );
    }
    println!("outcomes:");
    for (outcome, count) in &report.outcomes {
        println!("  {outcome:<24} {count}");
    }
    for sample in &report.error_samples {
        println!("  error: {sample}");
    }
    println!("durability: {}", report.durability);
    let audit = &report.audit;
    println!(
        "audit: {} — {} train-dates, {} seats, {} live tickets, {} counts, {} acknowledged orders; {} problems",
        if audit.ok() { "OK" } else { "FAILED" },
        audit.train_dates,
        audit.seats,
        audit.live_tickets,
        audit.counts,
        audit.acked_orders,
        audit.problem_count
    );
    for problem in &audit.problems {
        println!("  {problem}");
    }
}
