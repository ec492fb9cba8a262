//! seatd cluster nodes as child processes for the scenario tests
//! (`cluster_e2e.rs`): start one with the cluster flags, signal it (kill -9,
//! SIGSTOP/SIGCONT, SIGTERM), talk to it over gRPC, and wait until the
//! cluster's slots are spread over the live nodes.
//!
//! Every node's stdout and stderr are kept (the newest `LOG_LINES_KEPT`
//! lines) so a failure can show them; the child is SIGKILLed on drop.

use api::auth::{Role, mint_hs256, unix_now_secs};
use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::{self, ClusterStatusRequest, ClusterStatusResponse};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Longest a seatd start (migrations, recovery, demo, joining) may take.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// The lease TTL every node runs with (`--lease-ttl-ms`).
pub const LEASE_TTL: Duration = Duration::from_millis(2000);
/// Bound on one gRPC call from the test's clients: well past a commit, short
/// enough that a call to a dead or stopped node gives up and is retried.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on connecting to a node.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Log lines kept per node for failure messages.
const LOG_LINES_KEPT: usize = 20_000;
/// Pause between two polls of a node's log or status.
const POLL: Duration = Duration::from_millis(50);

/// What every node of one test cluster shares: the database, etcd, the key
/// prefix and the JWT secret.
pub struct ClusterSpec {
    pub database_url: String,
    pub etcd: String,
    pub prefix: String,
    secret: Vec<u8>,
    secret_file: PathBuf,
    /// More flags for every node (the relay test adds its NATS URL).
    pub extra_args: Vec<String>,
    _dir: TempDir,
}

impl ClusterSpec {
    pub fn new(database_url: &str, etcd: &str) -> ClusterSpec {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret: Vec<u8> =
            format!("e2e-secret-{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>()).into();
        let secret_file = dir.path().join("jwt-secret");
        std::fs::write(&secret_file, &secret).expect("write the JWT secret");
        ClusterSpec {
            database_url: database_url.to_owned(),
            etcd: etcd.to_owned(),
            prefix: format!("/t{}-{:08x}", std::process::id(), rand::random::<u32>()),
            secret,
            secret_file,
            extra_args: Vec::new(),
            _dir: dir,
        }
    }

    /// The cluster flags of node `id` listening (and advertised) on `address`.
    pub fn args(&self, id: &str, address: &str) -> Vec<String> {
        let mut args: Vec<String> = [
            "--database-url",
            &self.database_url,
            "--cluster-etcd",
            &self.etcd,
            "--node-id",
            id,
            "--advertise",
            address,
            "--listen",
            address,
            "--metrics-listen",
            "off",
            "--lease-ttl-ms",
            &LEASE_TTL.as_millis().to_string(),
            "--cluster-prefix",
            &self.prefix,
            "--hold-ttl-secs",
            "86400",
        ]
        .map(str::to_owned)
        .into();
        args.push("--jwt-secret-file".into());
        args.push(self.secret_file.to_str().expect("utf-8 temp path").into());
        // Each load client is one user booking as fast as it can: per-user
        // limits would throttle the load and the checker.
        for limit in ["--user-writes-per-sec", "--user-write-burst", "--user-reads-per-sec", "--user-read-burst"] {
            args.extend([limit.to_owned(), "1000000".to_owned()]);
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// An agent token: books for whichever user a request names.
    pub fn agent_token(&self) -> String {
        mint_hs256(&self.secret, "e2e-agent", Role::Agent, unix_now_secs(), 3600)
    }

    pub fn admin_token(&self) -> String {
        mint_hs256(&self.secret, "e2e-admin", Role::Admin, unix_now_secs(), 3600)
    }

    /// Clients of the node at `address`, with this cluster's tokens.
    pub fn clients(&self, id: &str, address: &str) -> NodeClients {
        NodeClients::new(id, address, &self.agent_token(), &self.admin_token(), CALL_TIMEOUT)
    }
}

/// A node's output, line by line, newest `LOG_LINES_KEPT`.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<VecDeque<String>>>);

impl Log {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap();
        if lines.len() == LOG_LINES_KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.0.lock().unwrap().iter().any(|line| line.contains(needle))
    }

    pub fn tail(&self, lines: usize) -> String {
        let kept = self.0.lock().unwrap();
        let skip = kept.len().saturating_sub(lines);
        kept.iter().skip(skip).cloned().collect::<Vec<_>>().join("\n")
    }

    pub fn all(&self) -> String {
        self.0.lock().unwrap().iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

fn drain(stream: impl AsyncRead + Unpin + Send + 'static, log: Log) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.push(line);
        }
    });
}

/// Spawns seatd with `args`, its output going to a fresh [`Log`].
pub fn spawn(args: &[String]) -> (Child, Log, TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_seatd"));
    command.args(args).arg("--data-dir").arg(data.path());
    command.env("NO_COLOR", "1").env("RUST_LOG", "info");
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null()).kill_on_drop(true);
    let mut child = command.spawn().expect("seatd starts");
    let log = Log::default();
    drain(child.stdout.take().expect("stdout piped"), log.clone());
    drain(child.stderr.take().expect("stderr piped"), log.clone());
    (child, log, data)
}

/// One seatd node of a test cluster.
pub struct Node {
    pub id: String,
    pub address: String,
    pub log: Log,
    child: Child,
    _data: TempDir,
}

impl Node {
    /// Starts node `id` on `port` and waits until it serves (it has joined the
    /// cluster by then: seatd joins before it prints the serving line).
    pub async fn start(spec: &ClusterSpec, id: &str, port: u16, demo: bool) -> Node {
        let address = format!("127.0.0.1:{port}");
        let mut args = spec.args(id, &address);
        if demo {
            args.push("--demo".into());
        }
        let (child, log, data) = spawn(&args);
        let mut node = Node { id: id.to_owned(), address, log, child, _data: data };
        let started = Instant::now();
        loop {
            if node.log.contains("serving gRPC on") {
                assert!(node.log.contains("joined the cluster"), "{id} serves without having joined");
                return node;
            }
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("{id} exited before serving ({status}):\n{}", node.log.tail(60));
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "{id} does not serve within {START_TIMEOUT:?}:\n{}",
                node.log.tail(60)
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("node is running")
    }

    /// Sends `signal` (such as `STOP`, `CONT`, `TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIG{signal} delivered to {}", self.id);
    }

    /// kill -9, reaped.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("kill -9 seatd");
        self.child.wait().await.expect("reap seatd");
    }

    /// SIGTERM, then the exit status once it has left and stopped.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        tokio::time::timeout(START_TIMEOUT, self.child.wait()).await.expect("seatd exits after SIGTERM").expect("reap")
    }
}

#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Booking = BookingClient<InterceptedService<Channel, Bearer>>;
pub type Admin = AdminClient<InterceptedService<Channel, Bearer>>;

/// Booking (agent token) and admin clients of one node, on lazily connected
/// channels that reconnect by themselves after the node restarts.
#[derive(Clone)]
pub struct NodeClients {
    pub id: String,
    pub address: String,
    pub booking: Booking,
    pub admin: Admin,
}

pub fn bearer(token: &str) -> Bearer {
    Bearer(format!("Bearer {token}").parse().expect("header-safe token"))
}

impl NodeClients {
    pub fn new(id: &str, address: &str, agent: &str, admin: &str, timeout: Duration) -> NodeClients {
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .expect("uri")
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        NodeClients {
            id: id.to_owned(),
            address: address.to_owned(),
            booking: BookingClient::with_interceptor(channel.clone(), bearer(agent)),
            admin: AdminClient::with_interceptor(channel, bearer(admin)),
        }
    }

    pub async fn status(&self, train_date: Option<pb::TrainDate>) -> Result<ClusterStatusResponse, tonic::Status> {
        let mut admin = self.admin.clone();
        admin.cluster_status(ClusterStatusRequest { train_date }).await.map(|reply| reply.into_inner())
    }
}

/// Waits until every node of `live` sees exactly the members `live`, no slot
/// unowned, every member owning some and serving all it owns. Returns how
/// many slots each owns.
pub async fn wait_spread(live: &[NodeClients], timeout: Duration) -> BTreeMap<String, u32> {
    let started = Instant::now();
    let mut expected: Vec<&str> = live.iter().map(|node| node.id.as_str()).collect();
    expected.sort_unstable();
    let mut last = String::new();
    loop {
        let mut spread = true;
        let mut owned = BTreeMap::new();
        for node in live {
            match node.status(None).await {
                Ok(status) => {
                    let mut members: Vec<&str> = status.nodes.iter().map(|n| n.node_id.as_str()).collect();
                    members.sort_unstable();
                    let mine = status.nodes.iter().find(|n| n.node_id == node.id).map_or(0, |n| n.slots_owned);
                    let ok = members == expected
                        && status.slots_unowned == 0
                        && status.nodes.iter().all(|n| n.slots_owned > 0)
                        && status.slots_served_here == mine;
                    if !ok {
                        spread = false;
                        last = format!("{}: {status:?}", node.id);
                    }
                    owned.insert(node.id.clone(), mine);
                }
                Err(error) => {
                    spread = false;
                    last = format!("{}: {error}", node.id);
                }
            }
        }
        if spread {
            return owned;
        }
        assert!(started.elapsed() < timeout, "slots not spread over {expected:?} within {timeout:?}; last: {last}");
        tokio::time::sleep(POLL * 2).await;
    }
}

/// The owner node id and token of `train_date` as `via` sees it (empty id
/// while unowned).
pub async fn owner_of(via: &NodeClients, train_date: &pb::TrainDate) -> Result<(String, u64), tonic::Status> {
    let status = via.status(Some(train_date.clone())).await?;
    Ok((status.train_date_owner, status.train_date_token))
}
