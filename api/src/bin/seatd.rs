//! seatd: the seat inventory server.

use api::demo::{DEMO_PRESALE_DAYS, load_demo};
use clap::Parser;
use engine::actor::ActorSettings;
use engine::allocation::AllocationPolicy;
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use engine::engine::{Engine, EngineSettings};
use std::net::SocketAddr;
use std::sync::Arc;
use tracing::info;

#[derive(Parser, Debug)]
#[command(name = "seatd", version, about = "Actor-based railway seat inventory server (gRPC)")]
struct Args {
    /// Address to serve gRPC on.
    #[arg(long, default_value = "127.0.0.1:50051", env = "SEATD_LISTEN")]
    listen: SocketAddr,
    /// Load the bundled Beijing–Shanghai timetable and open its trains for
    /// today and the next 14 days.
    #[arg(long)]
    demo: bool,
    /// Threads running train-date actors; default one per core.
    #[arg(long, env = "SEATD_ARBITERS")]
    arbiters: Option<usize>,
    /// How long an unpaid hold lasts, in seconds.
    #[arg(long, default_value_t = 600, env = "SEATD_HOLD_TTL_SECS")]
    hold_ttl_secs: u64,
    /// Seat allocation policy: tightest-fit (fragmentation-aware) or first-fit.
    #[arg(long, default_value = "tightest-fit", env = "SEATD_ALLOCATION_POLICY")]
    allocation_policy: AllocationPolicy,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let mut settings = EngineSettings {
        actor: ActorSettings { hold_ttl_ms: args.hold_ttl_secs * 1000, policy: args.allocation_policy },
        ..EngineSettings::default()
    };
    if let Some(arbiters) = args.arbiters {
        settings.arbiters = arbiters;
    }
    let clock = Arc::new(SystemClock);
    let engine = Arc::new(Engine::start(settings, clock.clone()));
    info!(arbiters = settings.arbiters, policy = ?settings.actor.policy, hold_ttl_secs = args.hold_ttl_secs, "engine started");
    if args.demo {
        let today = service_date_of(clock.now_ms());
        let summary = load_demo(&engine, today)?;
        info!(
            stations = summary.stations,
            trains = summary.trains,
            train_dates = summary.train_dates_opened,
            first_date = %today,
            days = DEMO_PRESALE_DAYS + 1,
            "demo timetable loaded"
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!(address = %listener.local_addr()?, "serving gRPC (booking, admin, health, reflection)");
    api::server::serve(listener, engine, shutdown_signal()).await?;
    info!("stopped");
    Ok(())
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
