//! Starting the engine on a journal: open the database, start the
//! group-commit writer, recover every open train-date, and hand back what
//! the server needs.

use crate::config::{AckSetting, SeatdConfig};
use engine::actor::ActorSettings;
use engine::clock::Clock;
use engine::domain::settings::TicketRules;
use engine::durability::{AckMode, Persistence, Store};
use engine::facade::{Engine, EngineError, EngineSettings, RecoverySummary};
use engine::slots::SlotTable;
use persistence::feed::FeedSource;
use persistence::journal::{Journal, JournalError};
use persistence::mysql::MySqlJournal;
use persistence::sqlite::SqliteJournal;
use persistence::store::JournalStore;
use persistence::writer::{WriterConfig, WriterStats, start_writer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinHandle;

/// File name of the embedded journal inside the data directory.
pub const SQLITE_FILE_NAME: &str = "seat.db";

#[derive(Clone, Debug)]
pub enum Database {
    /// The embedded default: `<data_dir>/seat.db`.
    Sqlite { data_dir: PathBuf },
    /// MySQL or MariaDB, as `mysql://user:password@host:port/database`.
    MySql { url: String },
}

impl Database {
    /// A short description for logs and stats, without credentials.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite { data_dir } => format!("sqlite:{}", data_dir.join(SQLITE_FILE_NAME).display()),
            Database::MySql { url } => {
                let host = url.rsplit_once('@').map_or(url.as_str(), |(_, host)| host);
                format!("mysql://{host}")
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct BootConfig {
    pub database: Database,
    pub engine: EngineSettings,
    pub writer: WriterConfig,
    /// A train-date snapshots itself after this many events.
    pub snapshot_every_events: u64,
    /// One node of a cluster: the engine serves only the slots it adopts,
    /// and the journal refuses any stream without a fence.
    pub sharded: bool,
    /// The cluster's lease TTL (sharded only): journal transactions idle
    /// this long are rolled back by the database.
    pub cluster_lease_ttl: Duration,
}

impl BootConfig {
    /// How seatd boots with `config`: its journal, engine settings, writer
    /// and snapshot interval. Shared with anything that runs the engine the
    /// way seatd does (basebench's in-process target).
    pub fn from_config(config: &SeatdConfig) -> BootConfig {
        let database = match &config.database_url {
            Some(url) => Database::MySql { url: url.clone() },
            None => Database::Sqlite { data_dir: config.data_dir.clone() },
        };
        let mut engine = EngineSettings {
            actor: ActorSettings {
                hold_ttl_ms: config.hold_ttl_secs * 1000,
                policy: config.allocation_policy,
                mailbox_pending_max: config.mailbox_pending_max.max(1),
            },
            presale_days: config.presale_days,
            rules: Arc::new(TicketRules { waitlist: config.waitlist.clone(), ..TicketRules::default() }),
            ..EngineSettings::default()
        };
        if let Some(arbiters) = config.arbiters {
            engine.arbiters = arbiters;
        }
        let writer = WriterConfig {
            batch_events_max: config.batch_events_max.max(1),
            batch_window: Duration::from_micros(config.batch_window_us),
            commits_in_flight_max: config.commits_in_flight_max.max(1),
            overlap_events_min: config.commit_overlap_events_min,
            ack_mode: match config.ack {
                AckSetting::Durable => AckMode::Durable,
                AckSetting::Memory => AckMode::Memory,
            },
            ..WriterConfig::default()
        };
        BootConfig {
            database,
            engine,
            writer,
            snapshot_every_events: config.snapshot_every_events.max(1),
            sharded: config.clustered(),
            cluster_lease_ttl: Duration::from_millis(config.lease_ttl_ms),
        }
    }
}

#[derive(Debug, Error)]
pub enum BootError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Recovery(#[from] EngineError),
}

/// A running engine and its journal writer.
pub struct Booted {
    pub engine: Arc<Engine>,
    pub writer: JoinHandle<()>,
    pub writer_stats: Arc<WriterStats>,
    pub recovery: RecoverySummary,
    /// The served slots, when sharded.
    pub slots: Option<Arc<SlotTable>>,
    /// The journal's event feed, for the Feed service.
    pub feed: Arc<dyn FeedSource>,
}

/// Opens the database, runs its migrations, starts the writer and recovers.
pub async fn boot(config: BootConfig, clock: Arc<dyn Clock>) -> Result<Booted, BootError> {
    match &config.database {
        Database::Sqlite { data_dir } => {
            let journal = SqliteJournal::open(&data_dir.join(SQLITE_FILE_NAME)).await?;
            boot_on(journal, config, clock).await
        }
        Database::MySql { url } if config.sharded => {
            // Rolled back by the server when idle for a lease: by then the
            // node must be assumed gone, and its locks must not hold up the next owner.
            let journal = MySqlJournal::connect_for_cluster(url, config.cluster_lease_ttl).await?;
            boot_on(journal, config, clock).await
        }
        Database::MySql { url } => {
            let journal = MySqlJournal::connect(url).await?;
            boot_on(journal, config, clock).await
        }
    }
}

async fn boot_on<J: Journal>(journal: J, config: BootConfig, clock: Arc<dyn Clock>) -> Result<Booted, BootError> {
    let journal = Arc::new(journal);
    let (sink, writer, writer_stats) = start_writer(Arc::clone(&journal), config.writer);
    let feed: Arc<dyn FeedSource> = Arc::clone(&journal) as Arc<dyn FeedSource>;
    let store: Arc<dyn Store> = Arc::new(JournalStore::new(journal));
    let persistence = Persistence { sink, store, snapshot_every_events: config.snapshot_every_events };
    let engine = Engine::start(config.engine, clock, Some(persistence));
    let (engine, slots) = if config.sharded {
        let (engine, slots) = engine.sharded();
        (engine, Some(slots))
    } else {
        (engine, None)
    };
    let engine = Arc::new(engine);
    let recovery = engine.recover().await?;
    // Steps the recovered waitlist requests and changes still owe each other.
    engine.start_workflows().await;
    Ok(Booted { engine, writer, writer_stats, recovery, slots, feed })
}
