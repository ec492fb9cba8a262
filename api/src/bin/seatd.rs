//! seatd: the seat inventory server.

use api::admission::Admission;
use api::auth::Authenticator;
use api::boot::{BootConfig, boot};
use api::cluster::coordinator::Coordinator;
use api::cluster::{Cluster, ClusterConfig};
use api::config::{Flags, LogFormat, SeatdConfig};
use api::demo::{DEMO_PRESALE_DAYS, DEMO_TOKENS_FILE, demo_secret, load_demo, write_demo_tokens};
use api::feed::FeedOptions;
use api::server::ServeOptions;
use clap::Parser;
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Every request allocates its order, tickets and strings; mimalloc's
/// thread-local free lists make that markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let flags = Flags::parse();
    let file = flags.config.as_ref().map(std::fs::read_to_string).transpose().map_err(|e| format!("--config: {e}"))?;
    let config = SeatdConfig::layered(file.as_deref(), &flags)?;
    if flags.print_config {
        print!("{}", config.to_masked_toml());
        return Ok(());
    }
    init_logging(config.log_format);
    if config.metrics_listen != "off" {
        let address: SocketAddr = config
            .metrics_listen
            .parse()
            .map_err(|_| format!("metrics_listen {:?}: not an address", config.metrics_listen))?;
        api::observe::install_prometheus(address)?;
        info!("metrics on http://{address}/metrics");
    }
    run(config, flags.demo).await
}

async fn run(config: SeatdConfig, demo: bool) -> Result<(), AnyError> {
    let (authenticator, board_demo_token) = authenticator(&config, demo)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let boot_config = BootConfig::from_config(&config);
    info!(database = %boot_config.database.describe(), ack = ?config.ack, arbiters = boot_config.engine.arbiters, "starting");
    let booted = boot(boot_config, Arc::clone(&clock)).await?;
    let engine = booted.engine;
    if demo {
        let today = service_date_of(clock.now_ms());
        let summary = load_demo(&engine, today).await?;
        info!(trains = summary.trains, newly_opened = summary.train_dates_opened, first_date = %today, days = DEMO_PRESALE_DAYS + 1, "demo timetable loaded");
    }
    let gauges = tokio::spawn(api::observe::publish_engine_gauges(Arc::clone(&engine)));
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    // In a cluster the presale scheduler runs on the elected node only.
    let scheduler = match &booted.slots {
        None => Some(tokio::spawn(api::scheduler::run_daily(Arc::clone(&engine), config.presale_time()?))),
        Some(_) => None,
    };
    let (cluster, coordinator) = match booted.slots.clone() {
        Some(slots) => {
            let (cluster, coordinator) = join_cluster(&config, Arc::clone(&engine), slots).await?;
            if demo {
                cluster.announce_change().await.map_err(|status| status.message().to_owned())?;
            }
            (Some(cluster), Some(coordinator))
        }
        None => (None, None),
    };
    // Scripts and the crash test read the bound address from this line.
    let scheme = if config.tls_cert_file.is_some() { "TLS" } else { "plaintext" };
    info!("serving gRPC on {} ({scheme}; booking, admin, feed, health, reflection)", listener.local_addr()?);
    info!("live board (gRPC-Web) on http://{}/board", listener.local_addr()?);
    let feed = FeedOptions {
        source: booted.feed,
        commits: booted.writer_stats.subscribe_commits(),
        streams_max: config.feed_streams_max,
    };
    let options = ServeOptions {
        authenticator,
        admission: Admission::new(config.rate_limits),
        feed: Some(feed),
        writer_stats: Some(booted.writer_stats),
        tls: config.tls_identity()?,
        cluster,
        watch_limits: config.watch_limits,
        board_demo_token,
    };
    let shutdown = async move {
        shutdown_signal().await;
        // Hand every slot to the others before the server stops answering.
        if let Some(coordinator) = coordinator {
            coordinator.leave().await;
        }
    };
    api::server::serve(listener, Arc::clone(&engine), options, shutdown).await?;
    if let Some(scheduler) = scheduler {
        scheduler.abort();
    }
    gauges.abort();
    info!("stopped accepting; flushing the journal");
    drop(engine);
    if tokio::time::timeout(Duration::from_secs(10), booted.writer).await.is_err() {
        tracing::warn!("journal writer did not finish within 10 s");
    }
    info!("stopped");
    Ok(())
}

/// Time to reach our own advertised address: a wrong address must fail at
/// start-up, not later as calls that other nodes cannot forward.
const ADVERTISE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks the advertised address reaches this server, then joins the
/// cluster (refused if a live node has this node's id).
async fn join_cluster(
    config: &SeatdConfig,
    engine: Arc<engine::facade::Engine>,
    slots: Arc<engine::slots::SlotTable>,
) -> Result<(Arc<Cluster>, Coordinator), AnyError> {
    let advertise = config.advertise.clone().expect("checked with the configuration");
    match tokio::time::timeout(ADVERTISE_CHECK_TIMEOUT, tokio::net::TcpStream::connect(&advertise)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return Err(format!("advertise {advertise}: not reachable from this node: {error}").into()),
        Err(_) => return Err(format!("advertise {advertise}: no answer within {ADVERTISE_CHECK_TIMEOUT:?}").into()),
    }
    let cluster_config = ClusterConfig {
        etcd_endpoints: config.cluster_etcd.clone(),
        node_id: config.node_id.clone().expect("checked with the configuration"),
        advertise,
        lease_ttl: Duration::from_millis(config.lease_ttl_ms),
        prefix: config.cluster_prefix.clone(),
        presale_run_at: config.presale_time()?,
    };
    let cluster = Cluster::new(cluster_config, engine, slots);
    // As text: `main` prints an error's Debug, and a JoinError's Debug
    // (`DuplicateNodeId { .. }`) would hide the message saying what to do.
    let coordinator = Coordinator::join(Arc::clone(&cluster)).await.map_err(|error| error.to_string())?;
    Ok((cluster, coordinator))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    match format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_current_span(true).with_env_filter(filter).init(),
    }
}

/// Verification keys from the config; with --demo and none configured, the
/// demo's own secret, and ready tokens printed and written to the data
/// directory, and the passenger's token for the board page.
fn authenticator(config: &SeatdConfig, demo: bool) -> Result<(Authenticator, Option<String>), AnyError> {
    let read = |path: &std::path::PathBuf| std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()));
    let secret = config.jwt_secret_file.as_ref().map(read).transpose()?;
    let public_key = config.jwt_rs256_public_key.as_ref().map(read).transpose()?;
    if secret.is_some() || public_key.is_some() || !demo {
        let secret = secret.map(|bytes| String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec());
        return Ok((Authenticator::new(secret.as_deref(), public_key.as_deref())?, None));
    }
    let secret = demo_secret(&config.data_dir)?;
    let tokens = write_demo_tokens(&config.data_dir, &secret)?;
    info!("demo tokens (valid 30 days), also in {}:", config.data_dir.join(DEMO_TOKENS_FILE).display());
    info!("  admin:     {}", tokens.admin);
    info!("  agent:     {}", tokens.agent);
    info!("  passenger: {}", tokens.passenger);
    Ok((Authenticator::new(Some(&secret), None)?, Some(tokens.passenger)))
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
