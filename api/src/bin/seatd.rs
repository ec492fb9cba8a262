//! seatd: the seat inventory server.

use api::admission::{Admission, RateLimits};
use api::auth::Authenticator;
use api::boot::{BootConfig, Database, boot};
use api::demo::{DEMO_PRESALE_DAYS, DEMO_TOKENS_FILE, demo_secret, load_demo, write_demo_tokens};
use clap::{Parser, ValueEnum};
use engine::actor::ActorSettings;
use engine::allocation::AllocationPolicy;
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use engine::durability::AckMode;
use engine::engine::EngineSettings;
use persistence::writer::WriterConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

#[derive(Parser, Debug)]
#[command(name = "seatd", version, about = "Actor-based railway seat inventory server (gRPC)")]
struct Args {
    /// Address to serve gRPC on.
    #[arg(long, default_value = "127.0.0.1:50051", env = "SEATD_LISTEN")]
    listen: SocketAddr,
    /// Load the bundled Beijing–Shanghai timetable and open its trains for
    /// today and the next 14 days (a no-op for what is already stored).
    #[arg(long)]
    demo: bool,
    /// Directory of the embedded SQLite journal (used unless --database-url is given).
    #[arg(long, default_value = "./data", env = "SEATD_DATA_DIR")]
    data_dir: PathBuf,
    /// Journal on MySQL/MariaDB instead, e.g. mysql://root@127.0.0.1:3306/seat.
    #[arg(long, env = "SEATD_DATABASE_URL")]
    database_url: Option<String>,
    /// When bookings are acknowledged. `durable` (default): after their events
    /// are committed. `memory`: as soon as the actor applied them — FOR
    /// BENCHMARKS ONLY: a crash loses acknowledged bookings.
    #[arg(long, value_enum, default_value = "durable", env = "SEATD_ACK")]
    ack: Ack,
    /// A group commit closes at this many events…
    #[arg(long, default_value_t = 4096, env = "SEATD_BATCH_EVENTS_MAX")]
    batch_events_max: usize,
    /// …or this many microseconds after its first entry.
    #[arg(long, default_value_t = 1000, env = "SEATD_BATCH_WINDOW_US")]
    batch_window_us: u64,
    /// A train-date snapshots itself after this many events.
    #[arg(long, default_value_t = 1000, env = "SEATD_SNAPSHOT_EVERY_EVENTS")]
    snapshot_every_events: u64,
    /// Threads running train-date actors; default one per core.
    #[arg(long, env = "SEATD_ARBITERS")]
    arbiters: Option<usize>,
    /// How long an unpaid hold lasts, in seconds.
    #[arg(long, default_value_t = 600, env = "SEATD_HOLD_TTL_SECS")]
    hold_ttl_secs: u64,
    /// File holding the HS256 secret tokens are verified with (at least 32 bytes).
    #[arg(long, env = "SEATD_JWT_SECRET_FILE")]
    jwt_secret_file: Option<PathBuf>,
    /// PEM file of the RS256 public key tokens are verified with.
    #[arg(long, env = "SEATD_JWT_RS256_PUBLIC_KEY")]
    jwt_rs256_public_key: Option<PathBuf>,
    /// Per acting user: reads per second, and the burst above it.
    #[arg(long, default_value_t = RateLimits::default().user_reads_per_sec, env = "SEATD_USER_READS_PER_SEC")]
    user_reads_per_sec: u32,
    #[arg(long, default_value_t = RateLimits::default().user_read_burst, env = "SEATD_USER_READ_BURST")]
    user_read_burst: u32,
    /// Per acting user: holds, confirms and cancels per second, and the burst.
    #[arg(long, default_value_t = RateLimits::default().user_writes_per_sec, env = "SEATD_USER_WRITES_PER_SEC")]
    user_writes_per_sec: u32,
    #[arg(long, default_value_t = RateLimits::default().user_write_burst, env = "SEATD_USER_WRITE_BURST")]
    user_write_burst: u32,
    /// Per peer address of passenger-token callers: requests per second, and the burst.
    #[arg(long, default_value_t = RateLimits::default().peer_requests_per_sec, env = "SEATD_PEER_REQUESTS_PER_SEC")]
    peer_requests_per_sec: u32,
    #[arg(long, default_value_t = RateLimits::default().peer_burst, env = "SEATD_PEER_BURST")]
    peer_burst: u32,
    /// Sales open this many days ahead (12306: 15); searches and holds for
    /// later dates are refused.
    #[arg(long, default_value_t = engine::engine::PRESALE_DAYS_DEFAULT, env = "SEATD_PRESALE_DAYS")]
    presale_days: u64,
    /// Service time (UTC+8, HH:MM) of the daily presale run, which opens the
    /// new last day of the window and retires finished train-dates. It also
    /// runs at start-up.
    #[arg(long, default_value = "05:00", env = "SEATD_PRESALE_RUN_AT")]
    presale_run_at: chrono::NaiveTime,
    /// Messages one train-date accepts ahead of processing; beyond it callers
    /// get RESOURCE_EXHAUSTED at once instead of queueing.
    #[arg(long, default_value_t = engine::actor::MAILBOX_PENDING_MAX, env = "SEATD_MAILBOX_PENDING_MAX")]
    mailbox_pending_max: usize,
    /// Address of the Prometheus metrics endpoint (GET /metrics); `off` disables it.
    #[arg(long, default_value = "127.0.0.1:9464", env = "SEATD_METRICS_LISTEN")]
    metrics_listen: String,
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, value_enum, default_value = "text", env = "SEATD_LOG_FORMAT")]
    log_format: LogFormat,
    /// Seat allocation policy: tightest-fit (fragmentation-aware) or first-fit.
    #[arg(long, default_value = "tightest-fit", env = "SEATD_ALLOCATION_POLICY")]
    allocation_policy: AllocationPolicy,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Ack {
    Durable,
    Memory,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    match args.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_current_span(true).with_env_filter(filter).init(),
    }
    if args.metrics_listen != "off" {
        let address: SocketAddr = args
            .metrics_listen
            .parse()
            .map_err(|_| format!("--metrics-listen {:?}: not an address", args.metrics_listen))?;
        api::observe::install_prometheus(address)?;
        info!("metrics on http://{address}/metrics");
    }
    let config = boot_config(&args);
    let authenticator = authenticator(&args)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    info!(database = %config.database.describe(), ack = ?args.ack, arbiters = config.engine.arbiters, "starting");
    let booted = boot(config, Arc::clone(&clock)).await?;
    let engine = booted.engine;
    if args.demo {
        let today = service_date_of(clock.now_ms());
        let summary = load_demo(&engine, today).await?;
        info!(
            trains = summary.trains,
            newly_opened = summary.train_dates_opened,
            first_date = %today,
            days = DEMO_PRESALE_DAYS + 1,
            "demo timetable loaded"
        );
    }
    let scheduler = tokio::spawn(api::scheduler::run_daily(Arc::clone(&engine), args.presale_run_at));
    let gauges = tokio::spawn(api::observe::publish_engine_gauges(Arc::clone(&engine)));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    // Scripts and the crash test read the bound address from this line.
    info!("serving gRPC on {} (booking, admin, health, reflection)", listener.local_addr()?);
    let admission = Admission::new(RateLimits {
        user_reads_per_sec: args.user_reads_per_sec,
        user_read_burst: args.user_read_burst,
        user_writes_per_sec: args.user_writes_per_sec,
        user_write_burst: args.user_write_burst,
        peer_requests_per_sec: args.peer_requests_per_sec,
        peer_burst: args.peer_burst,
    });
    let writer_stats = Some(booted.writer_stats);
    api::server::serve(listener, Arc::clone(&engine), authenticator, admission, writer_stats, shutdown_signal())
        .await?;
    scheduler.abort();
    gauges.abort();
    info!("stopped accepting; flushing the journal");
    drop(engine);
    if tokio::time::timeout(Duration::from_secs(10), booted.writer).await.is_err() {
        tracing::warn!("journal writer did not finish within 10 s");
    }
    info!("stopped");
    Ok(())
}

/// Verification keys from the flags; with --demo and none given, the demo's
/// own secret, and ready tokens printed and written to the data directory.
fn authenticator(args: &Args) -> Result<Authenticator, Box<dyn std::error::Error + Send + Sync>> {
    let read = |path: &PathBuf| std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()));
    let secret = args.jwt_secret_file.as_ref().map(read).transpose()?;
    let public_key = args.jwt_rs256_public_key.as_ref().map(read).transpose()?;
    if secret.is_some() || public_key.is_some() || !args.demo {
        let secret = secret.map(|bytes| String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec());
        return Ok(Authenticator::new(secret.as_deref(), public_key.as_deref())?);
    }
    let secret = demo_secret(&args.data_dir)?;
    let tokens = write_demo_tokens(&args.data_dir, &secret)?;
    let tokens_path = args.data_dir.join(DEMO_TOKENS_FILE);
    info!("demo tokens (valid 30 days), also in {}:", tokens_path.display());
    info!("  admin:     {}", tokens.admin);
    info!("  agent:     {}", tokens.agent);
    info!("  passenger: {}", tokens.passenger);
    Ok(Authenticator::new(Some(&secret), None)?)
}

fn boot_config(args: &Args) -> BootConfig {
    let database = match &args.database_url {
        Some(url) => Database::MySql { url: url.clone() },
        None => Database::Sqlite { data_dir: args.data_dir.clone() },
    };
    let mut engine = EngineSettings {
        actor: ActorSettings {
            hold_ttl_ms: args.hold_ttl_secs * 1000,
            policy: args.allocation_policy,
            mailbox_pending_max: args.mailbox_pending_max.max(1),
        },
        ..EngineSettings::default()
    };
    if let Some(arbiters) = args.arbiters {
        engine.arbiters = arbiters;
    }
    engine.presale_days = args.presale_days;
    let writer = WriterConfig {
        batch_events_max: args.batch_events_max.max(1),
        batch_window: Duration::from_micros(args.batch_window_us),
        ack_mode: match args.ack {
            Ack::Durable => AckMode::Durable,
            Ack::Memory => AckMode::Memory,
        },
        ..WriterConfig::default()
    };
    BootConfig { database, engine, writer, snapshot_every_events: args.snapshot_every_events.max(1) }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = interrupt => info!("interrupted; shutting down"),
        _ = terminate.recv() => info!("terminated; shutting down"),
    }
}
