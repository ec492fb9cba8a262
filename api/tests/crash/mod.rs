//! Child-process harness for the crash tests: start seatd, drive load,
//! SIGKILL, restart, and audit what survived.
//!
//! - `load` and `audit`: the booking load and its audit (crash_recovery.rs;
//!   the feed, relay and shutdown tests reuse parts).
//! - `workflow`: the waitlist and ticket-change scenario (workflow_crash.rs).

pub mod audit;
pub mod load;
pub mod workflow;

use api::pb::booking_client::BookingClient;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Longest a seatd start (migrations, recovery, demo) may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(PathBuf),
    /// The database URL, and a directory for the demo's tokens.
    MySql(String, PathBuf),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::MySql(..) => "mysql",
        }
    }

    pub fn data_dir(&self) -> &PathBuf {
        match self {
            Backend::Sqlite(dir) | Backend::MySql(_, dir) => dir,
        }
    }
}

pub struct Seatd {
    process: Child,
    pub address: String,
    /// The demo's agent token: books for the users the load names.
    token: String,
    /// The demo's feed token: reads the event feed.
    pub feed_token: String,
}

impl Seatd {
    pub async fn start(backend: &Backend) -> Seatd {
        Seatd::start_with(backend, &[]).await
    }

    /// As `start`, with more flags (the relay test adds its NATS URL).
    pub async fn start_with(backend: &Backend, extra_args: &[String]) -> Seatd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_seatd"));
        command.args([
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--hold-ttl-secs",
            "86400",
            "--snapshot-every-events",
            "40",
        ]);
        // Each load client is one user booking as fast as it can, and the audit
        // reads thousands of orders as one agent: per-user limits would throttle both.
        for limit in ["--user-writes-per-sec", "--user-write-burst", "--user-reads-per-sec", "--user-read-burst"] {
            command.args([limit, "1000000"]);
        }
        // Several seatd run at once in the test suite; they cannot share a
        // metrics port (unless a test gives its own).
        if !extra_args.iter().any(|arg| arg == "--metrics-listen") {
            command.args(["--metrics-listen", "off"]);
        }
        command.arg("--data-dir").arg(backend.data_dir());
        command.args(extra_args);
        if let Backend::MySql(url, _) = backend {
            command.arg("--database-url").arg(url);
        }
        command.env("NO_COLOR", "1").env("RUST_LOG", "info").stdout(Stdio::piped()).kill_on_drop(true);
        let mut process = command.spawn().expect("seatd starts");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout piped")).lines();
        let address = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.expect("read seatd output") {
                if let Some(rest) = line.split("serving gRPC on ").nth(1) {
                    return rest.split_whitespace().next().expect("address").to_owned();
                }
            }
            panic!("seatd exited before serving");
        })
        .await
        .expect("seatd serves in time");
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let tokens =
            std::fs::read_to_string(backend.data_dir().join(api::demo::DEMO_TOKENS_FILE)).expect("demo tokens");
        let tokens: api::demo::DemoTokens = serde_json::from_str(&tokens).expect("demo tokens parse");
        Seatd { process, address, token: tokens.agent, feed_token: tokens.feed }
    }

    pub async fn client(&self) -> Client {
        let (channel, bearer) = self.agent_channel().await;
        BookingClient::with_interceptor(channel, bearer)
    }

    pub async fn waitlist_client(&self) -> WaitlistClient {
        let (channel, bearer) = self.agent_channel().await;
        api::pb::waitlist_client::WaitlistClient::with_interceptor(channel, bearer)
    }

    pub async fn change_client(&self) -> ChangeClient {
        let (channel, bearer) = self.agent_channel().await;
        api::pb::ticket_change_client::TicketChangeClient::with_interceptor(channel, bearer)
    }

    /// A connection to seatd and the demo agent's token, which acts for any user it names.
    async fn agent_channel(&self) -> (Channel, Bearer) {
        let channel = Channel::from_shared(format!("http://{}", self.address)).expect("uri");
        let channel = channel.connect().await.expect("connect to seatd");
        let value: MetadataValue<Ascii> = format!("Bearer {}", self.token).parse().expect("header-safe token");
        (channel, Bearer(value))
    }

    /// SIGTERM, then the exit status once seatd has shut down gracefully.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.process.id().expect("seatd is running").to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await.expect("run kill");
        assert!(sent.success(), "SIGTERM delivered");
        tokio::time::timeout(START_TIMEOUT, self.process.wait()).await.expect("seatd exits").expect("reap seatd")
    }

    /// SIGKILL: no shutdown hook, no flush.
    pub async fn kill(mut self) {
        self.process.start_kill().expect("kill -9 seatd");
        self.process.wait().await.expect("reap seatd");
    }
}

/// A feed client on the seatd at `address`, sending `token`.
pub async fn feed_client(address: &str, token: &str) -> Result<FeedClient, tonic::transport::Error> {
    let channel = Channel::from_shared(format!("http://{address}")).expect("uri").connect().await?;
    let value: MetadataValue<Ascii> = format!("Bearer {token}").parse().expect("header-safe token");
    Ok(api::pb::feed_client::FeedClient::with_interceptor(channel, Bearer(value)))
}

/// A feed client that sends the demo feed token.
pub type FeedClient = api::pb::feed_client::FeedClient<InterceptedService<Channel, Bearer>>;

/// A booking client that sends the demo agent token.
pub type Client = BookingClient<InterceptedService<Channel, Bearer>>;

/// A waitlist client that sends the demo agent token.
pub type WaitlistClient = api::pb::waitlist_client::WaitlistClient<InterceptedService<Channel, Bearer>>;

/// A ticket-change client that sends the demo agent token.
pub type ChangeClient = api::pb::ticket_change_client::TicketChangeClient<InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// `CRASH_ROUNDS` from the environment (soak runs set more), else `default`.
pub fn crash_rounds(default: usize) -> usize {
    std::env::var("CRASH_ROUNDS").ok().and_then(|rounds| rounds.parse().ok()).unwrap_or(default)
}

/// Runs `run` on a MySQL database of its own (named `prefix`, the process and
/// a random number), dropped afterwards, when MYSQL_URL is set; without it
/// the test is skipped, or fails under `CI=true` (`service_url`).
pub async fn on_mysql<F: std::future::Future<Output = ()>>(test: &str, prefix: &str, run: impl FnOnce(Backend) -> F) {
    use persistence::test_env::{MYSQL_URL, service_url};
    use persistence::test_support::{create_database, database_url, drop_database};
    let Some(server_url) = service_url(MYSQL_URL, test) else { return };
    let name = format!("{prefix}_{}_{}", std::process::id(), rand::random::<u32>());
    create_database(&server_url, &name).await.expect("create test database");
    let dir = tempfile::tempdir().expect("temp dir");
    run(Backend::MySql(database_url(&server_url, &name), dir.path().to_owned())).await;
    drop_database(&server_url, &name).await.expect("drop test database");
}

/// One round: booking load for a random 300–1,500 ms, kill -9 in the middle
/// of it, and a restart on the same database. The restarted seatd, the
/// load's length and what it did.
pub async fn load_then_kill(
    backend: &Backend,
    seatd: Seatd,
    ledger: &load::Ledger,
    round: usize,
) -> (Seatd, u64, load::LoadStats) {
    let load_ms = 300 + rand::random::<u64>() % 1200;
    let running = load::start(&seatd, ledger, round).await;
    tokio::time::sleep(Duration::from_millis(load_ms)).await;
    seatd.kill().await;
    let stats = running.finish().await;
    (Seatd::start(backend).await, load_ms, stats)
}

/// Runs `rounds` of load → kill -9 → restart → audit on one database.
pub async fn run_rounds(backend: Backend, rounds: usize) {
    let ledger = load::Ledger::default();
    let mut seatd = Seatd::start(&backend).await;
    for round in 0..rounds {
        let (restarted, load_ms, stats) = load_then_kill(&backend, seatd, &ledger, round).await;
        seatd = restarted;
        let audited = audit::audit(&seatd, &ledger).await;
        eprintln!(
            "{} round {round}: load {load_ms} ms, {stats:?}; after kill -9: {} acknowledged orders intact, \
             {} orders on the server, {} (train, journey, class) counts equal a recount",
            backend.name(),
            audited.acknowledged_orders,
            audited.orders_on_server,
            audited.journeys_checked
        );
        assert!(audited.acknowledged_orders > 0, "the load must book something");
    }
    seatd.kill().await;
}
