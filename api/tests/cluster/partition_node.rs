//! Helpers for the partition and quorum-loss scenarios (`cluster_partition.rs`):
//! seatd nodes as child processes, in the root namespace or inside a
//! [`Netns`], their booking and admin clients, hold requests and a booking
//! load that records every acknowledged hold, SQL reads through the `mariadb`
//! client, and the journal audit every scenario ends with.

use super::services::Netns;
use api::pb;
use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use engine::clock::{Clock, SystemClock};
use engine::domain::plan::TrainPlan;
use engine::domain::state::service_date_of;
use persistence::journal::Journal;
use persistence::mysql::MySqlJournal;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// `--lease-ttl-ms` of every node: short, so a lost lease shows within seconds.
pub const LEASE_TTL: Duration = Duration::from_millis(2000);
/// Longest a seatd start (migrations, demo timetable, joining) may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on one RPC: a commit takes milliseconds; a partitioned node's call
/// must time out rather than hang the load.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on connecting to a node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Bound on one `mariadb` client run.
const SQL_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound on reaping a SIGKILLed seatd.
const KILL_REAP_TIMEOUT: Duration = Duration::from_secs(10);
/// Log lines of a node kept for failure messages.
const LOG_LINES_KEPT: usize = 4000;
/// Pause between retries of a hold answered UNAVAILABLE (slot moving).
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Pause between two holds of one load client: enough load to show a stale
/// ack quickly, little enough for two shared cores.
const LOAD_PAUSE: Duration = Duration::from_millis(20);

/// Kinds of refusal whose first message a [`Ledger`] keeps.
const FIRST_ERRORS_KEPT: usize = 40;

/// Trains the scenarios book on (demo timetable); all call at [`STATIONS`].
pub const TRAINS: [&str; 5] = ["G1", "G3", "G7", "G101", "G111"];
pub const STATIONS: [&str; 4] = ["VNP", "JGK", "NKH", "AOH"];
/// Days after today the scenarios book on; the demo opens 15 days.
pub const DAYS_AHEAD: std::ops::RangeInclusive<u64> = 1..=14;

/// Every train-date the scenarios book on.
pub fn train_dates() -> Vec<pb::TrainDate> {
    let today = service_date_of(SystemClock.now_ms());
    DAYS_AHEAD
        .flat_map(|days| {
            let date = (today + chrono::Days::new(days)).to_string();
            TRAINS.iter().map(move |train| pb::TrainDate { train: (*train).into(), date: date.clone() })
        })
        .collect()
}

/// A train-date as the journal spells its stream, `YYYY-MM-DD/TRAIN`.
pub fn spelled(train_date: &pb::TrainDate) -> String {
    format!("{}/{}", train_date.date, train_date.train)
}

/// What the nodes of one scenario share: database, JWT secret, cluster prefix.
pub struct NodeEnv {
    pub database_url: String,
    pub prefix: String,
    dir: TempDir,
    secret_file: PathBuf,
    agent: MetadataValue<Ascii>,
    admin: MetadataValue<Ascii>,
}

impl NodeEnv {
    pub fn new(database_url: String) -> NodeEnv {
        let dir = tempfile::Builder::new().prefix("seatt-part-").tempdir().expect("temp dir");
        let secret: String = (0..48).map(|_| char::from(b'a' + rand::random::<u8>() % 26)).collect();
        let secret_file = dir.path().join("jwt.secret");
        std::fs::write(&secret_file, &secret).expect("write jwt secret");
        let now = api::auth::unix_now_secs();
        let bearer = |role, sub| {
            let token = api::auth::mint_hs256(secret.as_bytes(), sub, role, now, 3600);
            format!("Bearer {token}").parse().expect("header-safe token")
        };
        NodeEnv {
            database_url,
            prefix: format!("/p{}-{}", std::process::id(), rand::random::<u32>()),
            agent: bearer(api::auth::Role::Agent, "partition-agent"),
            admin: bearer(api::auth::Role::Admin, "partition-admin"),
            dir,
            secret_file,
        }
    }
}

/// One seatd node, SIGKILLed on drop.
pub struct Node {
    pub id: String,
    pub address: SocketAddr,
    process: Child,
    log: Arc<Mutex<VecDeque<String>>>,
    agent: MetadataValue<Ascii>,
    admin: MetadataValue<Ascii>,
}

fn keep_lines(stream: impl AsyncRead + Unpin + Send + 'static, log: Arc<Mutex<VecDeque<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = log.lock().unwrap();
            if log.len() >= LOG_LINES_KEPT {
                log.pop_front();
            }
            log.push_back(line);
        }
    });
}

impl Node {
    /// Starts node `id` listening and advertising on `address` (inside
    /// `netns` if given), joined through `etcd`, and waits until it serves.
    pub async fn start(env: &NodeEnv, id: &str, etcd: &[String], address: SocketAddr, netns: Option<&Netns>) -> Node {
        let program = env!("CARGO_BIN_EXE_seatd");
        let mut command = Command::from(match netns {
            Some(netns) => netns.command(program),
            None => std::process::Command::new(program),
        });
        let data_dir = env.dir.path().join(id);
        std::fs::create_dir_all(&data_dir).expect("node data dir");
        command
            .arg("--demo")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--database-url", &env.database_url])
            .args(["--cluster-etcd", &etcd.join(",")])
            .args(["--node-id", id])
            .args(["--advertise", &address.to_string(), "--listen", &address.to_string()])
            .args(["--metrics-listen", "off"])
            .args(["--lease-ttl-ms", &LEASE_TTL.as_millis().to_string()])
            .args(["--cluster-prefix", &env.prefix])
            .arg("--jwt-secret-file")
            .arg(&env.secret_file);
        for limit in [
            "--user-writes-per-sec",
            "--user-write-burst",
            "--user-reads-per-sec",
            "--user-read-burst",
            "--peer-requests-per-sec",
            "--peer-burst",
        ] {
            command.args([limit, "1000000"]);
        }
        command
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut process = command.spawn().expect("start seatd");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        keep_lines(process.stdout.take().expect("stdout piped"), Arc::clone(&log));
        keep_lines(process.stderr.take().expect("stderr piped"), Arc::clone(&log));
        let mut node =
            Node { id: id.to_owned(), address, process, log, agent: env.agent.clone(), admin: env.admin.clone() };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if node.log.lock().unwrap().iter().any(|line| line.contains("serving gRPC on ")) {
                break;
            }
            if let Ok(Some(status)) = node.process.try_wait() {
                panic!("seatd {id} exited with {status} before serving; log:\n{}", node.log_tail(40));
            }
            assert!(
                Instant::now() < deadline,
                "seatd {id} not serving after {START_TIMEOUT:?}; log:\n{}",
                node.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(node.logged("joined the cluster"), "seatd {id} serves but never joined; log:\n{}", node.log_tail(40));
        node
    }

    /// Whether a line of its log contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|line| line.contains(text))
    }

    /// The last `lines` lines of its log, leaving out the per-RPC lines,
    /// which the load makes by the thousand.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log.lock().unwrap();
        let kept: Vec<&String> = log.iter().filter(|line| !line.contains("api::observe")).collect();
        kept[kept.len().saturating_sub(lines)..].iter().map(|line| line.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// How many lines of its log contain `text`.
    pub fn count_logged(&self, text: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|line| line.contains(text)).count()
    }

    fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.address))
            .expect("node uri")
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(RPC_TIMEOUT)
            .connect_lazy()
    }

    pub fn booking(&self) -> Booking {
        BookingClient::with_interceptor(self.channel(), Bearer(self.agent.clone()))
    }

    pub fn admin(&self) -> Admin {
        AdminClient::with_interceptor(self.channel(), Bearer(self.admin.clone()))
    }

    /// SIGKILL and reap.
    pub async fn kill(&mut self) {
        let _ = self.process.start_kill();
        let _ = tokio::time::timeout(KILL_REAP_TIMEOUT, self.process.wait()).await;
    }
}

pub type Booking = BookingClient<InterceptedService<Channel, Bearer>>;
pub type Admin = AdminClient<InterceptedService<Channel, Bearer>>;

#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// ClusterStatus, optionally about one train-date.
pub async fn status(
    admin: &mut Admin,
    train_date: Option<&pb::TrainDate>,
) -> Result<pb::ClusterStatusResponse, tonic::Status> {
    let request = pb::ClusterStatusRequest { train_date: train_date.cloned() };
    admin.cluster_status(request).await.map(tonic::Response::into_inner)
}

/// Every train-date's (owner, token) as `admin`'s node sees it; `None` when
/// the node does not answer.
pub async fn owners(admin: &mut Admin, train_dates: &[pb::TrainDate]) -> Option<HashMap<String, (String, u64, u32)>> {
    let mut owners = HashMap::new();
    for train_date in train_dates {
        let answer = status(admin, Some(train_date)).await.ok()?;
        owners.insert(spelled(train_date), (answer.train_date_owner, answer.train_date_token, answer.train_date_slot));
    }
    Some(owners)
}

/// Waits until `nodes` all see `expected` members, every slot owned, every
/// member owning some, and the same owner and token for every train-date;
/// returns the owners. Panics after `timeout`.
pub async fn wait_converged(
    nodes: &[&Node],
    expected: usize,
    train_dates: &[pb::TrainDate],
    timeout: Duration,
) -> HashMap<String, (String, u64, u32)> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match converged(nodes, expected, train_dates).await {
            Ok(owners) => return owners,
            Err(why) => why,
        };
        assert!(
            Instant::now() < deadline,
            "cluster not converged after {timeout:?}: {last}; logs:\n{}",
            nodes
                .iter()
                .map(|node| format!("--- {} ---\n{}", node.id, node.log_tail(15)))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn converged(
    nodes: &[&Node],
    expected: usize,
    train_dates: &[pb::TrainDate],
) -> Result<HashMap<String, (String, u64, u32)>, String> {
    let mut agreed: Option<HashMap<String, (String, u64, u32)>> = None;
    for node in nodes {
        let mut admin = node.admin();
        let answer = status(&mut admin, None).await.map_err(|error| format!("{}: {error}", node.id))?;
        if answer.nodes.len() != expected || answer.slots_unowned != 0 {
            return Err(format!(
                "{} sees {} members, {} slots unowned",
                node.id,
                answer.nodes.len(),
                answer.slots_unowned
            ));
        }
        if let Some(idle) = answer.nodes.iter().find(|member| member.slots_owned == 0) {
            return Err(format!("{} owns no slot yet", idle.node_id));
        }
        let owners = owners(&mut admin, train_dates).await.ok_or_else(|| format!("{} stopped answering", node.id))?;
        if let Some((key, _)) = owners.iter().find(|(_, (owner, _, _))| owner.is_empty()) {
            return Err(format!("{key} unowned as {} sees it", node.id));
        }
        match &agreed {
            None => agreed = Some(owners),
            Some(agreed) if *agreed == owners => {}
            Some(_) => return Err(format!("{} disagrees on the owners", node.id)),
        }
    }
    agreed.ok_or_else(|| "no nodes".to_owned())
}

static NEXT_PASSENGER: AtomicU64 = AtomicU64::new(0);

/// A one-passenger second-class hold on `train_date` between two random stations.
pub fn hold_request(user: &str, request_id: String, train_date: &pb::TrainDate) -> pb::HoldRequest {
    let from = rand::random::<u32>() as usize % (STATIONS.len() - 1);
    let to = from + 1 + rand::random::<u32>() as usize % (STATIONS.len() - 1 - from);
    let serial = NEXT_PASSENGER.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 10_000_000;
    pb::HoldRequest {
        request_id,
        user_id: user.to_owned(),
        train_date: Some(train_date.clone()),
        from_station: STATIONS[from].into(),
        to_station: STATIONS[to].into(),
        passengers: vec![pb::PassengerRequest {
            name: "Partition Test".into(),
            id_number: api::convert::with_resident_id_check(&format!("2{serial:016}")),
            seat_class: pb::SeatClass::Second.into(),
            ..Default::default()
        }],
    }
}

/// Sends `request`, retrying UNAVAILABLE and DEADLINE_EXCEEDED with the same
/// request id until `retry_for` has passed.
pub async fn hold_retrying(
    booking: &mut Booking,
    request: &pb::HoldRequest,
    retry_for: Duration,
) -> Result<pb::Order, tonic::Status> {
    let deadline = Instant::now() + retry_for;
    loop {
        match booking.hold(request.clone()).await {
            Ok(order) => return Ok(order.into_inner()),
            Err(status)
                if matches!(status.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(status) => return Err(status),
        }
    }
}

/// An acknowledged hold: the node that said OK, when the request was sent.
#[derive(Clone, Debug)]
pub struct Ack {
    pub label: String,
    pub via: String,
    pub train_date: String,
    pub order_id: String,
    pub sent_at: Instant,
}

/// Every hold acknowledged in a scenario, and the refusals seen.
#[derive(Clone, Default)]
pub struct Ledger {
    pub acks: Arc<Mutex<Vec<Ack>>>,
    pub errors: Arc<Mutex<BTreeMap<String, u64>>>,
    /// The message of the first refusal of each kind, for the report.
    pub first_errors: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Ledger {
    pub fn record(
        &self,
        label: &str,
        via: &str,
        request: &pb::HoldRequest,
        sent_at: Instant,
        reply: &Result<pb::Order, tonic::Status>,
    ) {
        match reply {
            Ok(order) => self.acks.lock().unwrap().push(Ack {
                label: label.to_owned(),
                via: via.to_owned(),
                train_date: spelled(request.train_date.as_ref().expect("train date")),
                order_id: order.order_id.clone(),
                sent_at,
            }),
            Err(status) => {
                let key = format!("{label} via {via}: {:?}", status.code());
                let mut first = self.first_errors.lock().unwrap();
                if first.len() < FIRST_ERRORS_KEPT && !first.contains_key(&key) {
                    first.insert(key.clone(), status.message().to_owned());
                }
                *self.errors.lock().unwrap().entry(key).or_default() += 1;
            }
        }
    }

    pub fn acks(&self) -> Vec<Ack> {
        self.acks.lock().unwrap().clone()
    }

    pub fn ok_count(&self, label: &str) -> usize {
        self.acks.lock().unwrap().iter().filter(|ack| ack.label == label).count()
    }
}

/// Clients booking until stopped, each on its node and train-dates.
pub struct Load {
    tasks: JoinSet<()>,
    stop: Arc<AtomicBool>,
}

impl Load {
    pub fn new() -> Load {
        Load { tasks: JoinSet::new(), stop: Arc::new(AtomicBool::new(false)) }
    }

    /// A client holding through `node` on `train_dates` in turn, recording
    /// under `label`; each hold is retried (same request id) for `retry_for`.
    pub fn client(
        &mut self,
        ledger: &Ledger,
        label: &str,
        node: &Node,
        train_dates: Vec<pb::TrainDate>,
        retry_for: Duration,
    ) {
        assert!(!train_dates.is_empty(), "{label}: no train-dates to book on");
        let (ledger, label, via, stop) = (ledger.clone(), label.to_owned(), node.id.clone(), Arc::clone(&self.stop));
        let mut booking = node.booking();
        // Ids are printable ASCII without spaces.
        let user = format!("{}-{}", label.replace(|c: char| !c.is_ascii_alphanumeric(), "-"), rand::random::<u32>());
        self.tasks.spawn(async move {
            for attempt in 0usize.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let train_date = &train_dates[attempt % train_dates.len()];
                let request = hold_request(&user, format!("{user}-{attempt}"), train_date);
                let sent_at = Instant::now();
                let reply = hold_retrying(&mut booking, &request, retry_for).await;
                ledger.record(&label, &via, &request, sent_at, &reply);
                tokio::time::sleep(LOAD_PAUSE).await;
            }
        });
    }

    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// SQL through the `mariadb` client, as root over TCP, in one database.
pub struct Sql {
    host: String,
    port: u16,
    database: String,
}

impl Sql {
    /// From a `mysql://root@HOST:PORT/DB` URL.
    pub fn from_url(url: &str) -> Sql {
        let rest = url.strip_prefix("mysql://").expect("mysql:// URL");
        let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
        let (authority, database) = rest.split_once('/').expect("URL names a database");
        let (host, port) = authority
            .rsplit_once(':')
            .map_or((authority, 3306), |(host, port)| (host, port.parse().expect("URL port")));
        Sql { host: host.to_owned(), port, database: database.split('?').next().unwrap_or_default().to_owned() }
    }

    /// Tab-separated rows, no header.
    pub async fn query(&self, sql: &str) -> Result<String, String> {
        let mut command = Command::new("mariadb");
        command
            .args(["--no-defaults", "--protocol=TCP", "--user=root", "--connect-timeout=2", "--batch"])
            .args(["--skip-column-names", &format!("--host={}", self.host), &format!("--port={}", self.port)])
            .arg(format!("--database={}", self.database))
            .arg(format!("--execute={sql}"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = match tokio::time::timeout(SQL_TIMEOUT, command.output()).await {
            Err(_) => return Err(format!("{sql:?}: no answer in {SQL_TIMEOUT:?}")),
            Ok(Err(error)) => return Err(format!("run mariadb: {error}")),
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            return Err(format!("{sql:?}: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
    }

    /// The `slot_fence` table: slot → (token, owner).
    pub async fn fences(&self) -> BTreeMap<u16, (u64, String)> {
        let rows =
            self.query("SELECT slot, token, owner FROM slot_fence ORDER BY slot").await.expect("read slot_fence");
        rows.lines()
            .map(|row| {
                let fields: Vec<&str> = row.split('\t').collect();
                (fields[0].parse().expect("slot"), (fields[1].parse().expect("token"), fields[2].to_owned()))
            })
            .collect()
    }
}

/// What [`audit`] checked.
#[derive(Debug)]
pub struct Audited {
    pub streams: usize,
    pub events: usize,
    pub fenced_events: usize,
    pub train_dates_replayed: usize,
    pub acks_found: usize,
}

/// The checks every scenario ends with, on the journal in MySQL:
/// - every stream's seqs run 1, 2, 3… without a gap, and the fence token
///   never decreases along them (no commit under an old token after one
///   under a newer: a stale owner never committed behind its successor);
/// - every open train-date replays (`persistence::store::load`) to a state
///   whose invariants hold: no seat segment sold twice, counts match;
/// - every acknowledged hold's order is in the replayed state.
pub async fn audit(sql: &Sql, database_url: &str, acks: &[Ack]) -> Audited {
    let rows = sql
        .query("SELECT train_date, seq, IFNULL(fence_token, 0) FROM events ORDER BY train_date, seq")
        .await
        .expect("read events");
    let mut streams: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for row in rows.lines() {
        let fields: Vec<&str> = row.split('\t').collect();
        let (seq, token) = (fields[1].parse().expect("seq"), fields[2].parse().expect("token"));
        streams.entry(fields[0].to_owned()).or_default().push((seq, token));
    }
    let mut events = 0;
    let mut fenced_events = 0;
    for (stream, rows) in &streams {
        for (index, (seq, token)) in rows.iter().enumerate() {
            assert_eq!(*seq, index as u64 + 1, "{stream}: seq {seq} where {} was due", index + 1);
            if index > 0 {
                let (previous_seq, previous) = rows[index - 1];
                assert!(
                    *token >= previous,
                    "{stream}: seq {seq} committed under fence token {token} after seq {previous_seq} under {previous}: \
                     a stale owner committed after its successor"
                );
            }
            fenced_events += usize::from(*token > 0);
        }
        events += rows.len();
    }
    let journal = MySqlJournal::connect(database_url).await.expect("connect journal for the audit");
    let mut states = HashMap::new();
    for stored in journal.load_train_dates().await.expect("load train-dates") {
        let key = stored.key.clone();
        let state = persistence::store::load(&journal, key.clone(), Arc::new(TrainPlan::new(stored.template)))
            .await
            .unwrap_or_else(|error| panic!("replay {key}: {error}"));
        state.verify_invariants().unwrap_or_else(|detail| panic!("{key}: invariants broken after replay: {detail}"));
        states.insert(key.to_string(), state);
    }
    for ack in acks {
        let state = states.get(&ack.train_date).unwrap_or_else(|| panic!("{ack:?}: train-date not in the journal"));
        let order_id = ack.order_id.parse().expect("order id");
        assert!(
            state.order(&order_id).is_some(),
            "stale ack: {} acknowledged order {} on {} ({}), but the journal has no such order",
            ack.via,
            ack.order_id,
            ack.train_date,
            ack.label
        );
    }
    Audited {
        streams: streams.len(),
        events,
        fenced_events,
        train_dates_replayed: states.len(),
        acks_found: acks.len(),
    }
}
