//! seatd's configuration: a TOML file, then environment variables, then
//! flags, each overriding the one before; every key has a default.
//! `seatd.example.toml` at the repository root documents every key.

use crate::admission::RateLimits;
use crate::watch::WatchLimits;
use clap::{Parser, ValueEnum};
use engine::allocation::AllocationPolicy;
use engine::domain::settings::WaitlistSettings;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AckSetting {
    /// After the events are committed to the journal.
    Durable,
    /// As soon as the actor applied them — benchmarks only.
    Memory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The effective configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeatdConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// MySQL/MariaDB journal URL; unset means SQLite under `data_dir`.
    pub database_url: Option<String>,
    pub ack: AckSetting,
    pub batch_events_max: usize,
    pub batch_window_us: u64,
    /// Group commits in the database at once, for disjoint train-dates
    /// (MySQL; SQLite always commits one at a time).
    pub commits_in_flight_max: usize,
    /// A group commit starts beside another only once it holds this many
    /// events (see `WriterConfig::overlap_events_min`).
    pub commit_overlap_events_min: usize,
    pub snapshot_every_events: u64,
    /// Actor threads; unset means one per core.
    pub arbiters: Option<usize>,
    pub hold_ttl_secs: u64,
    pub allocation_policy: AllocationPolicy,
    pub presale_days: u64,
    /// Service time (UTC+8) of the daily presale run, `HH:MM`.
    pub presale_run_at: String,
    pub mailbox_pending_max: usize,
    /// Concurrent StreamEvents calls this seatd serves; more are RESOURCE_EXHAUSTED.
    pub feed_streams_max: usize,
    /// Prometheus endpoint address, or `off`.
    pub metrics_listen: String,
    pub log_format: LogFormat,
    pub jwt_secret_file: Option<PathBuf>,
    pub jwt_rs256_public_key: Option<PathBuf>,
    /// PEM certificate chain and private key: serve TLS instead of plaintext.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub rate_limits: RateLimits,
    /// Bounds on open WatchAvailability streams.
    pub watch_limits: WatchLimits,
    /// Limits of the waitlist (候补): requests, choices, passengers, queue length, cut-off.
    pub waitlist: WaitlistSettings,
    /// etcd client URLs; non-empty makes this node one of a cluster.
    pub cluster_etcd: Vec<String>,
    /// This node's id in the cluster: unique among live nodes.
    pub node_id: Option<String>,
    /// host:port the other nodes reach this node's gRPC on.
    pub advertise: Option<String>,
    /// Time-to-live of the node's etcd lease, in ms: a node that stops
    /// renewing loses its slots this long after its last renewal.
    pub lease_ttl_ms: u64,
    /// Key prefix of this cluster in etcd, so clusters can share one etcd.
    pub cluster_prefix: String,
    /// NATS server URL(s): set, seatd relays every committed event to
    /// JetStream (in a cluster, from the elected node only).
    pub nats_url: Option<String>,
    /// The JetStream stream the relay publishes to.
    pub nats_stream: String,
    /// Replicas of the stream when the relay creates it (3 on a NATS cluster).
    pub nats_stream_replicas: usize,
}

/// Default lease: 3 s keeps failover within a few seconds while riding out
/// a garbage-collection pause or a slow disk on the etcd side.
pub const LEASE_TTL_MS_DEFAULT: u64 = 3_000;

impl Default for SeatdConfig {
    fn default() -> Self {
        SeatdConfig {
            listen: "127.0.0.1:50051".parse().expect("literal address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            ack: AckSetting::Durable,
            batch_events_max: 4096,
            batch_window_us: 1000,
            commits_in_flight_max: 4,
            commit_overlap_events_min: persistence::writer::OVERLAP_EVENTS_MIN_DEFAULT,
            snapshot_every_events: 1000,
            arbiters: None,
            hold_ttl_secs: 600,
            allocation_policy: AllocationPolicy::TightestFit,
            presale_days: engine::facade::PRESALE_DAYS_DEFAULT,
            presale_run_at: "05:00".into(),
            mailbox_pending_max: engine::actor::MAILBOX_PENDING_MAX,
            feed_streams_max: crate::feed::FEED_STREAMS_MAX_DEFAULT,
            metrics_listen: "127.0.0.1:9464".into(),
            log_format: LogFormat::Text,
            jwt_secret_file: None,
            jwt_rs256_public_key: None,
            tls_cert_file: None,
            tls_key_file: None,
            rate_limits: RateLimits::default(),
            watch_limits: WatchLimits::default(),
            waitlist: WaitlistSettings::default(),
            cluster_etcd: Vec::new(),
            node_id: None,
            advertise: None,
            lease_ttl_ms: LEASE_TTL_MS_DEFAULT,
            cluster_prefix: "/seat".into(),
            nats_url: None,
            nats_stream: "SEAT_EVENTS".into(),
            nats_stream_replicas: 1,
        }
    }
}

/// Command-line flags, each also read from its `SEATD_*` variable. Unset
/// ones fall back to the config file, then to the defaults.
#[derive(Parser, Debug, Default)]
#[command(name = "seatd", version, about = "Actor-based railway seat inventory server (gRPC)")]
pub struct Flags {
    /// TOML config file (see seatd.example.toml); environment and flags override it.
    #[arg(long, env = "SEATD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Load the bundled Beijing–Shanghai timetable and open its trains for
    /// today and the next 14 days, with a generated signing secret and ready
    /// tokens if no key is configured (a no-op for what is already stored).
    #[arg(long)]
    pub demo: bool,
    /// Address to serve gRPC on [default: 127.0.0.1:50051].
    #[arg(long, env = "SEATD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory of the embedded SQLite journal and demo tokens [default: ./data].
    #[arg(long, env = "SEATD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Journal on MySQL/MariaDB instead, e.g. mysql://root@127.0.0.1:3306/seat.
    #[arg(long, env = "SEATD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// When bookings are acknowledged [default: durable]. `durable`: after
    /// their events are committed. `memory`: as soon as the actor applied
    /// them — FOR BENCHMARKS ONLY: a crash loses acknowledged bookings.
    #[arg(long, value_enum, env = "SEATD_ACK")]
    pub ack: Option<AckSetting>,
    /// A group commit closes at this many events… [default: 4096]
    #[arg(long, env = "SEATD_BATCH_EVENTS_MAX")]
    pub batch_events_max: Option<usize>,
    /// …or this many microseconds after its first entry [default: 1000].
    #[arg(long, env = "SEATD_BATCH_WINDOW_US")]
    pub batch_window_us: Option<u64>,
    /// Group commits in the database at once, for disjoint train-dates
    /// (MySQL only; SQLite has one writer) [default: 4].
    #[arg(long, env = "SEATD_COMMITS_IN_FLIGHT_MAX")]
    pub commits_in_flight_max: Option<usize>,
    /// A group commit starts while another is in the database only once it
    /// holds this many events; 0: whenever due [default: 32].
    #[arg(long, env = "SEATD_COMMIT_OVERLAP_EVENTS_MIN")]
    pub commit_overlap_events_min: Option<usize>,
    /// A train-date snapshots itself after this many events [default: 1000].
    #[arg(long, env = "SEATD_SNAPSHOT_EVERY_EVENTS")]
    pub snapshot_every_events: Option<u64>,
    /// Threads running train-date actors [default: one per core].
    #[arg(long, env = "SEATD_ARBITERS")]
    pub arbiters: Option<usize>,
    /// How long an unpaid hold lasts, in seconds [default: 600].
    #[arg(long, env = "SEATD_HOLD_TTL_SECS")]
    pub hold_ttl_secs: Option<u64>,
    /// tightest-fit (fragmentation-aware) or first-fit [default: tightest-fit].
    #[arg(long, env = "SEATD_ALLOCATION_POLICY")]
    pub allocation_policy: Option<AllocationPolicy>,
    /// Sales open this many days ahead [default: 15].
    #[arg(long, env = "SEATD_PRESALE_DAYS")]
    pub presale_days: Option<u64>,
    /// Service time (UTC+8, HH:MM) of the daily presale run [default: 05:00].
    #[arg(long, env = "SEATD_PRESALE_RUN_AT")]
    pub presale_run_at: Option<String>,
    /// Messages one train-date accepts ahead of processing [default: 4096].
    #[arg(long, env = "SEATD_MAILBOX_PENDING_MAX")]
    pub mailbox_pending_max: Option<usize>,
    /// Concurrent event feed streams (StreamEvents) served [default: 64].
    #[arg(long, env = "SEATD_FEED_STREAMS_MAX")]
    pub feed_streams_max: Option<usize>,
    /// Prometheus endpoint (GET /metrics), or `off` [default: 127.0.0.1:9464].
    #[arg(long, env = "SEATD_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// `text` or `json` [default: text].
    #[arg(long, value_enum, env = "SEATD_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// File holding the HS256 secret tokens are verified with (at least 32 bytes).
    #[arg(long, env = "SEATD_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// PEM file of the RS256 public key tokens are verified with.
    #[arg(long, env = "SEATD_JWT_RS256_PUBLIC_KEY")]
    pub jwt_rs256_public_key: Option<PathBuf>,
    /// PEM certificate chain to serve TLS with (needs --tls-key-file).
    #[arg(long, env = "SEATD_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the TLS certificate.
    #[arg(long, env = "SEATD_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Per acting user: reads per second [default: 20] and burst [default: 40].
    #[arg(long, env = "SEATD_USER_READS_PER_SEC")]
    pub user_reads_per_sec: Option<u32>,
    #[arg(long, env = "SEATD_USER_READ_BURST")]
    pub user_read_burst: Option<u32>,
    /// Per acting user: holds, confirms, cancels per second [default: 5] and burst [default: 10].
    #[arg(long, env = "SEATD_USER_WRITES_PER_SEC")]
    pub user_writes_per_sec: Option<u32>,
    #[arg(long, env = "SEATD_USER_WRITE_BURST")]
    pub user_write_burst: Option<u32>,
    /// Per address of passenger-token callers: requests per second [default: 100] and burst [default: 200].
    #[arg(long, env = "SEATD_PEER_REQUESTS_PER_SEC")]
    pub peer_requests_per_sec: Option<u32>,
    #[arg(long, env = "SEATD_PEER_BURST")]
    pub peer_burst: Option<u32>,
    /// Open WatchAvailability streams per passenger user [default: 4].
    #[arg(long, env = "SEATD_WATCH_STREAMS_PER_USER_MAX")]
    pub watch_streams_per_user_max: Option<usize>,
    /// Open WatchAvailability streams per passenger address [default: 64].
    #[arg(long, env = "SEATD_WATCH_STREAMS_PER_PEER_MAX")]
    pub watch_streams_per_peer_max: Option<usize>,
    /// Open WatchAvailability streams on the whole server [default: 20000].
    #[arg(long, env = "SEATD_WATCH_STREAMS_MAX")]
    pub watch_streams_max: Option<usize>,
    /// Choices one train-date's waitlist queue holds per seat class [default: 10000].
    #[arg(long, env = "SEATD_WAITLIST_QUEUE_PER_CLASS_MAX")]
    pub waitlist_queue_per_class_max: Option<usize>,
    /// Run as one node of a cluster: etcd client URLs, comma-separated
    /// (needs --node-id, --advertise and a MySQL --database-url).
    #[arg(long, env = "SEATD_CLUSTER_ETCD", value_delimiter = ',')]
    pub cluster_etcd: Option<Vec<String>>,
    /// This node's id, unique among the cluster's live nodes.
    #[arg(long, env = "SEATD_NODE_ID")]
    pub node_id: Option<String>,
    /// host:port the other nodes reach this node's gRPC on.
    #[arg(long, env = "SEATD_ADVERTISE")]
    pub advertise: Option<String>,
    /// The node's etcd lease time-to-live, in ms [default: 3000].
    #[arg(long, env = "SEATD_LEASE_TTL_MS")]
    pub lease_ttl_ms: Option<u64>,
    /// Key prefix of the cluster in etcd [default: /seat].
    #[arg(long, env = "SEATD_CLUSTER_PREFIX")]
    pub cluster_prefix: Option<String>,
    /// Relay every committed event to NATS JetStream at this URL, e.g.
    /// nats://127.0.0.1:4222 (comma-separate several servers).
    #[arg(long, env = "SEATD_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
    /// JetStream stream the relay publishes to [default: SEAT_EVENTS].
    #[arg(long, env = "SEATD_NATS_STREAM")]
    pub nats_stream: Option<String>,
    /// Replicas of the stream if the relay creates it [default: 1].
    #[arg(long, env = "SEATD_NATS_STREAM_REPLICAS")]
    pub nats_stream_replicas: Option<usize>,
}

impl SeatdConfig {
    /// Defaults, overlaid by `file` (TOML text), overlaid by `flags` (which
    /// clap already filled from the environment where a flag was absent).
    pub fn layered(file: Option<&str>, flags: &Flags) -> Result<SeatdConfig, String> {
        let mut config: SeatdConfig = match file {
            Some(text) => toml::from_str(text).map_err(|error| format!("config file: {error}"))?,
            None => SeatdConfig::default(),
        };
        macro_rules! take {
            ($($field:ident),*) => { $(if let Some(value) = flags.$field.clone() { config.$field = value; })* };
        }
        take!(
            listen,
            data_dir,
            ack,
            batch_events_max,
            batch_window_us,
            commits_in_flight_max,
            commit_overlap_events_min,
            snapshot_every_events,
            hold_ttl_secs
        );
        take!(allocation_policy, presale_days, presale_run_at, mailbox_pending_max, metrics_listen, log_format);
        take!(cluster_etcd, lease_ttl_ms, cluster_prefix, feed_streams_max);
        take!(nats_stream, nats_stream_replicas);
        macro_rules! take_optional {
            ($($field:ident),*) => { $(if flags.$field.is_some() { config.$field = flags.$field.clone(); })* };
        }
        take_optional!(database_url, arbiters, jwt_secret_file, jwt_rs256_public_key, tls_cert_file, tls_key_file);
        take_optional!(node_id, advertise, nats_url);
        let limits = &mut config.rate_limits;
        macro_rules! take_limit {
            ($($field:ident),*) => { $(if let Some(value) = flags.$field { limits.$field = value; })* };
        }
        take_limit!(user_reads_per_sec, user_read_burst, user_writes_per_sec, user_write_burst);
        take_limit!(peer_requests_per_sec, peer_burst);
        let watch = &mut config.watch_limits;
        for (flag, limit) in [
            (flags.watch_streams_per_user_max, &mut watch.streams_per_user_max),
            (flags.watch_streams_per_peer_max, &mut watch.streams_per_peer_max),
            (flags.watch_streams_max, &mut watch.streams_max),
        ] {
            if let Some(value) = flag {
                *limit = value;
            }
        }
        if let Some(max) = flags.waitlist_queue_per_class_max {
            config.waitlist.queue_per_class_max = max;
        }
        config.waitlist.check()?;
        config.presale_time()?;
        if config.tls_cert_file.is_some() != config.tls_key_file.is_some() {
            return Err("tls_cert_file and tls_key_file go together".into());
        }
        config.check_cluster()?;
        config.check_relay()?;
        Ok(config)
    }

    /// Whether this node runs as one of a cluster.
    pub fn clustered(&self) -> bool {
        !self.cluster_etcd.is_empty()
    }

    /// A cluster needs a shared MySQL journal (SQLite is one machine's file),
    /// a node id and an address the others can reach; refused at start-up,
    /// with the reason, rather than run half-configured.
    fn check_cluster(&self) -> Result<(), String> {
        if !self.clustered() {
            let stray = [("node_id", self.node_id.is_some()), ("advertise", self.advertise.is_some())];
            return match stray.iter().find(|(_, set)| *set) {
                Some((key, _)) => Err(format!("{key} is only for cluster mode: set cluster_etcd too")),
                None => Ok(()),
            };
        }
        if !self.database_url.as_deref().is_some_and(|url| url.starts_with("mysql://")) {
            return Err("cluster mode needs a shared MySQL journal: set database_url to mysql://... \
                        (the embedded SQLite journal is one machine's file)"
                .into());
        }
        let node_id = self.node_id.as_deref().ok_or("cluster mode needs node_id (--node-id)")?;
        if node_id.is_empty()
            || node_id.len() > 64
            || !node_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(format!("node_id {node_id:?}: 1 to 64 characters of letters, digits, '-', '_' or '.'"));
        }
        let advertise = self.advertise.as_deref().ok_or("cluster mode needs advertise (--advertise HOST:PORT)")?;
        if advertise.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
            return Err(format!("advertise {advertise:?}: expected HOST:PORT"));
        }
        if let Some(url) =
            self.cluster_etcd.iter().find(|url| !url.starts_with("http://") && !url.starts_with("https://"))
        {
            return Err(format!("cluster_etcd {url:?}: expected http://HOST:PORT"));
        }
        if self.tls_cert_file.is_some() {
            return Err("cluster mode serves plaintext gRPC between nodes; TLS is not supported with it yet".into());
        }
        if !(500..=60_000).contains(&self.lease_ttl_ms) {
            return Err(format!("lease_ttl_ms {}: from 500 to 60000", self.lease_ttl_ms));
        }
        if !self.cluster_prefix.starts_with('/') || self.cluster_prefix.ends_with('/') {
            return Err(format!("cluster_prefix {:?}: starts with '/' and does not end with one", self.cluster_prefix));
        }
        Ok(())
    }

    /// The relay's settings name a stream NATS accepts and a sane replica count.
    fn check_relay(&self) -> Result<(), String> {
        let name = &self.nats_stream;
        if name.is_empty()
            || name.len() > 255
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("nats_stream {name:?}: letters, digits, '_' or '-' (a JetStream stream name)"));
        }
        if !(1..=5).contains(&self.nats_stream_replicas) {
            return Err(format!("nats_stream_replicas {}: from 1 to 5 (JetStream's range)", self.nats_stream_replicas));
        }
        if let Some(settings) = self.relay_settings() {
            let servers = settings.servers();
            if servers.is_empty() {
                return Err("nats_url is empty: leave it unset to run without the relay".into());
            }
            for server in servers {
                if let Err(error) = server.parse::<async_nats::ServerAddr>() {
                    return Err(format!("nats_url {:?}: {error}", mask_password(server)));
                }
            }
        }
        Ok(())
    }

    /// The relay's broker settings, when a NATS URL is configured.
    pub fn relay_settings(&self) -> Option<crate::relay::broker::BrokerSettings> {
        self.nats_url.as_ref().map(|url| crate::relay::broker::BrokerSettings {
            url: url.clone(),
            stream: self.nats_stream.clone(),
            replicas: self.nats_stream_replicas,
        })
    }

    /// The TLS identity to serve with, if configured.
    pub fn tls_identity(&self) -> Result<Option<tonic::transport::Identity>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) else { return Ok(None) };
        let read = |path: &PathBuf| std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()));
        Ok(Some(tonic::transport::Identity::from_pem(read(cert)?, read(key)?)))
    }

    /// `presale_run_at` as a time of day.
    pub fn presale_time(&self) -> Result<chrono::NaiveTime, String> {
        chrono::NaiveTime::parse_from_str(&self.presale_run_at, "%H:%M")
            .map_err(|_| format!("presale_run_at: {:?} is not HH:MM", self.presale_run_at))
    }

    /// TOML of the effective configuration with any database password masked.
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = shown.database_url.as_deref().map(mask_password);
        shown.nats_url = shown.nats_url.as_deref().map(mask_password);
        toml::to_string_pretty(&shown).expect("config serialises")
    }
}

/// `mysql://user:secret@host/db` → `mysql://user:****@host/db`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let file = "hold_ttl_secs = 300\npresale_days = 20\n[rate_limits]\nuser_write_burst = 3\n";
        let flags = Flags { presale_days: Some(12), ..Flags::default() };
        let config = SeatdConfig::layered(Some(file), &flags).unwrap();
        assert_eq!(config.hold_ttl_secs, 300, "from the file");
        assert_eq!(config.presale_days, 12, "the flag wins");
        assert_eq!(config.rate_limits.user_write_burst, 3);
        assert_eq!(config.rate_limits.user_writes_per_sec, RateLimits::default().user_writes_per_sec);
        assert_eq!(config.batch_events_max, 4096, "default");
    }

    #[test]
    fn waitlist_limits_come_from_the_file_and_the_flag_and_are_checked() {
        let file = "[waitlist]\nqueue_per_class_max = 50000\npassengers_max = 2\n";
        let config = SeatdConfig::layered(Some(file), &Flags::default()).unwrap();
        assert_eq!((config.waitlist.queue_per_class_max, config.waitlist.passengers_max), (50_000, 2));
        assert_eq!(config.waitlist.dates_per_request_max, WaitlistSettings::default().dates_per_request_max);
        let flags = Flags { waitlist_queue_per_class_max: Some(60_000), ..Flags::default() };
        assert_eq!(SeatdConfig::layered(Some(file), &flags).unwrap().waitlist.queue_per_class_max, 60_000);
        let zero = Flags { waitlist_queue_per_class_max: Some(0), ..Flags::default() };
        assert!(SeatdConfig::layered(None, &zero).unwrap_err().contains("queue_per_class_max"));
        assert!(SeatdConfig::layered(Some("[waitlist]\nqueue = 3\n"), &Flags::default()).is_err(), "unknown key");
    }

    #[test]
    fn unknown_keys_and_bad_times_are_refused() {
        assert!(SeatdConfig::layered(Some("hold_ttl = 3"), &Flags::default()).unwrap_err().contains("hold_ttl"));
        let flags = Flags { presale_run_at: Some("25:00".into()), ..Flags::default() };
        assert!(SeatdConfig::layered(None, &flags).unwrap_err().contains("presale_run_at"));
    }

    #[test]
    fn printed_config_masks_the_password_and_reads_back() {
        let flags = Flags { database_url: Some("mysql://seat:hunter2@db:3306/seat".into()), ..Flags::default() };
        let config = SeatdConfig::layered(None, &flags).unwrap();
        let printed = config.to_masked_toml();
        assert!(!printed.contains("hunter2") && printed.contains("seat:****@db:3306"), "{printed}");
        let reread: SeatdConfig = toml::from_str(&printed).unwrap();
        assert_eq!(reread.presale_days, config.presale_days);
    }

    #[test]
    fn cluster_mode_is_refused_when_half_configured() {
        let cluster = |database_url: Option<&str>, node_id: Option<&str>, advertise: Option<&str>| Flags {
            cluster_etcd: Some(vec!["http://127.0.0.1:2379".into()]),
            database_url: database_url.map(str::to_owned),
            node_id: node_id.map(str::to_owned),
            advertise: advertise.map(str::to_owned),
            ..Flags::default()
        };
        let refused = |flags: Flags| SeatdConfig::layered(None, &flags).unwrap_err();
        let mysql = Some("mysql://root@127.0.0.1:3306/seat");
        assert!(refused(cluster(None, Some("n1"), Some("h:1"))).contains("MySQL"), "SQLite cannot be shared");
        assert!(refused(cluster(mysql, None, Some("h:1"))).contains("node_id"));
        assert!(refused(cluster(mysql, Some("n 1"), Some("h:1"))).contains("node_id"));
        assert!(refused(cluster(mysql, Some("n1"), None)).contains("advertise"));
        assert!(refused(cluster(mysql, Some("n1"), Some("host"))).contains("HOST:PORT"));
        let stray = Flags { node_id: Some("n1".into()), ..Flags::default() };
        assert!(refused(stray).contains("cluster"), "a node id without a cluster is a mistake");
        let config = SeatdConfig::layered(None, &cluster(mysql, Some("n1"), Some("127.0.0.1:50051"))).unwrap();
        assert!(config.clustered());
        assert_eq!(config.lease_ttl_ms, LEASE_TTL_MS_DEFAULT);
    }

    #[test]
    fn relay_settings_are_checked_and_split_into_servers() {
        let relay = |url: &str, stream: &str| Flags {
            nats_url: Some(url.into()),
            nats_stream: Some(stream.into()),
            ..Flags::default()
        };
        let config = SeatdConfig::layered(None, &relay("nats://a:4222, nats://b:4222", "SEAT_EVENTS")).unwrap();
        let settings = config.relay_settings().expect("a relay is configured");
        assert_eq!(settings.servers(), ["nats://a:4222", "nats://b:4222"]);
        assert!(SeatdConfig::layered(None, &Flags::default()).unwrap().relay_settings().is_none());
        let refused = |flags: Flags| SeatdConfig::layered(None, &flags).unwrap_err();
        assert!(refused(relay(" , ", "SEAT_EVENTS")).contains("nats_url"));
        assert!(refused(relay("nats://u:secret@host:notaport", "SEAT_EVENTS")).contains("u:****@"));
        assert!(refused(relay("nats://a:4222", "SEAT.EVENTS")).contains("nats_stream"));
        let replicas = Flags { nats_stream_replicas: Some(7), ..Flags::default() };
        assert!(refused(replicas).contains("nats_stream_replicas"));
    }

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        let example = include_str!("../../seatd.example.toml");
        let parsed: SeatdConfig = toml::from_str(example).expect("example parses");
        assert_eq!(parsed, SeatdConfig::default(), "the example shows the defaults");
        let printed = SeatdConfig::default().to_masked_toml();
        for line in printed.lines().filter(|line| line.contains(" = ")) {
            let key = line.split(" = ").next().unwrap().trim();
            assert!(
                example.contains(&format!("{key} = ")) || example.contains(&format!("# {key} = ")),
                "{key} undocumented"
            );
        }
    }
}
