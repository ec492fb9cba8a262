//! Real services for the cluster tests, started per test and torn down on drop:
//! etcd members ([`Etcd`], [`EtcdCluster`]), MariaDB servers ([`Mariadb`]) and
//! Linux network namespaces ([`Netns`]) that give a seatd node a network of its
//! own, which a test can cut off from one service but not another.
//!
//! Real processes rather than fakes, because what the cluster mode must get
//! right (leases expiring, quorum loss, a node partitioned from etcd but still
//! talking to MySQL) is exactly what a fake would get wrong.
//!
//! Network rule: traffic only ever goes to 127.0.0.0/8 or between a namespace
//! and the host side of its own veth. A [`Netns`] gets one /30 from
//! 10.250.0.0/16 and nothing else: no default route, no NAT, no forwarding, so
//! a process inside it can reach the host-side address of its veth and nothing
//! beyond. Services a namespace must reach listen on that host-side address
//! ([`Netns::host_ip`]); MariaDB runs with `--skip-name-resolve` so a
//! connection from a namespace address never triggers a DNS lookup.
//!
//! Which tests run is decided by [`available`], with the convention of
//! `persistence::test_env`: a missing program or capability skips the test
//! with a note, except under `CI=true`, where it fails it.
//!
//! Children are killed (SIGKILL) and reaped on drop, also when the test
//! panics. A test process that is itself SIGKILLed cannot run drop: its etcd
//! and mariadbd children then outlive it (their temp dirs too), and its
//! namespaces stay until the next [`Netns::new`] in another test process
//! removes those whose creating process is gone.
//!
//! Waits are async (tokio) so a test can drive seatd clients while it waits;
//! starting children and the `ip`/`iptables` calls are synchronous, since they
//! take milliseconds and [`Drop`] must be able to make them.

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, mpsc};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest an etcd member or cluster may take to report healthy after a start
/// or restart. A member elects itself (or three elect one of them) within about
/// two election timeouts, ~2 s here; the rest is room for a loaded 2-core box
/// where several tests start services at once.
pub const ETCD_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a fresh MariaDB server may take to answer `SELECT 1` as `root` over
/// TCP. It is ready in well under a second on an idle box; this is the same
/// margin `.ci/run` gives the shared server (`SERVER_START_WAIT_SECS`).
pub const MARIADB_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one `GET /health` may take. etcd answers from memory, within
/// milliseconds, both when healthy and when it has no leader; a member that
/// takes longer is not one a test should count as healthy.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause between two readiness probes: short against a start that takes
/// about a second, long enough not to busy the box.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Longest a SIGKILLed child may take to be reaped. SIGKILL cannot be caught;
/// only a process stuck in the kernel (D state) takes longer, and then drop
/// gives up with a note rather than hang the test forever.
const KILL_REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest `mariadb-install-db` may take to make a datadir: ~0.5 s on an idle
/// box, and it writes ~30 MB, which a busy disk may slow a lot.
const INSTALL_DB_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest one `mariadb` client run may take (connect, query, exit). The
/// client's own connect timeout is [`MARIADB_CONNECT_TIMEOUT_SECS`].
const MARIADB_CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// The `mariadb` client's `--connect-timeout`: a server that is up accepts at
/// once, so waiting longer only delays the next readiness probe.
const MARIADB_CONNECT_TIMEOUT_SECS: u32 = 2;

/// Longest an `ip` or `iptables` command may take. They finish in
/// milliseconds; `iptables` may wait for the xtables lock, which it is told to
/// wait for for at most [`XTABLES_LOCK_WAIT_SECS`].
const NET_COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// `iptables -w`: several tests change rules at once (each in its own
/// namespace, but the lock file is shared), so wait for the lock, boundedly.
const XTABLES_LOCK_WAIT_SECS: u32 = 5;

/// Tries at finding a port free on every address asked for, before giving up.
const FREE_PORT_ATTEMPTS: usize = 100;

/// The /30 blocks of 10.250.0.0/16 that namespaces take their addresses from.
const NETNS_BLOCKS: u32 = 1 << 14;

/// How many namespaces one test process may have before its blocks overlap
/// the range the next process id starts at (the in-use check still avoids a
/// collision then).
const NETNS_BLOCKS_PER_PROCESS: u32 = 64;

/// The prefix of every namespace (and, shortened, veth) this harness makes, so
/// leftovers are recognisable and never confused with anyone else's.
const NETNS_PREFIX: &str = "seatt-";

/// A harness failure, with the service's log tail where there is one. Its
/// `Debug` is the plain text, so `.expect(..)` prints the log readably.
pub struct HarnessError(pub String);

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

fn fail<T>(message: impl Into<String>) -> Result<T, HarnessError> {
    Err(HarnessError(message.into()))
}

/// Something a test needs from the box, for [`available`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The `etcd` binary (Debian package `etcd-server`).
    Etcd,
    /// `mariadbd`, `mariadb-install-db` (or `mysql_install_db`) and the
    /// `mariadb` client (Debian package `mariadb-server`).
    Mariadb,
    /// Network namespaces: `ip`, `iptables`, and CAP_SYS_ADMIN plus
    /// CAP_NET_ADMIN (in practice: root).
    Netns,
}

impl Need {
    /// Why this need is not met, or `None` when it is.
    fn missing(self) -> Option<String> {
        let missing_programs = |programs: &[&str]| {
            let absent: Vec<&str> =
                programs.iter().copied().filter(|program| find_program(program).is_none()).collect();
            (!absent.is_empty()).then(|| absent.join(", "))
        };
        match self {
            Need::Etcd => missing_programs(&["etcd"]).map(|absent| format!("{absent} not found (package etcd-server)")),
            Need::Mariadb => {
                let mut absent = missing_programs(&["mariadbd", "mariadb"]).into_iter().collect::<Vec<_>>();
                if install_db_program().is_none() {
                    absent.push("mariadb-install-db".to_owned());
                }
                (!absent.is_empty()).then(|| format!("{} not found (package mariadb-server)", absent.join(", ")))
            }
            Need::Netns => {
                if let Some(absent) = missing_programs(&["ip", "iptables"]) {
                    return Some(format!("{absent} not found (packages iproute2, iptables)"));
                }
                (!has_net_capabilities()).then(|| {
                    "network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN (run the test as root)".to_owned()
                })
            }
        }
    }
}

/// Whether the box has everything in `needs`, following the convention of
/// `persistence::test_env::service_url`: `false` (after a note naming what is
/// missing) means return from the test now; under `CI=true` (or `1`) a missing
/// need panics instead, because a CI run that passes by skipping proves
/// nothing. `test` names the test for the note and the panic.
#[track_caller]
pub fn available(test: &str, needs: &[Need]) -> bool {
    let missing: Vec<String> = needs.iter().filter_map(|need| need.missing()).collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join("; ");
    let ci = persistence::test_env::CI;
    let ci_value = std::env::var(ci).unwrap_or_default();
    if ci_value.eq_ignore_ascii_case("true") || ci_value == "1" {
        panic!(
            "{test}: {missing}, but {ci}={ci_value} says this is a CI run, where a test must not pass by skipping. \
             .ci/run installs the packages; the test must run as root."
        );
    }
    eprintln!("{test}: {missing}; skipping (under {ci}=true this fails)");
    false
}

/// A TCP port that was free on 127.0.0.1 a moment ago (bound to port 0, read,
/// released), for a child process to listen on. Another process may take it
/// in between; a child that then fails to bind shows it in its log.
pub fn free_port() -> u16 {
    free_port_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// [`free_port`] on `ip`, such as a namespace's [`Netns::host_ip`].
pub fn free_port_on(ip: IpAddr) -> u16 {
    reserve_port(&[ip]).0
}

/// A port free on every address of `ips` at once, and the listeners holding
/// it, so a caller that needs several distinct ports can hold each until it
/// has them all.
fn reserve_port(ips: &[IpAddr]) -> (u16, Vec<TcpListener>) {
    let (first, rest) = ips.split_first().expect("at least one address");
    for _ in 0..FREE_PORT_ATTEMPTS {
        let listener = TcpListener::bind((*first, 0)).unwrap_or_else(|error| panic!("bind {first}:0: {error}"));
        let port = listener.local_addr().expect("bound address").port();
        let mut held = vec![listener];
        for ip in rest {
            match TcpListener::bind((*ip, port)) {
                Ok(listener) => held.push(listener),
                Err(_) => break,
            }
        }
        if held.len() == ips.len() {
            return (port, held);
        }
    }
    panic!("no port free on all of {ips:?} in {FREE_PORT_ATTEMPTS} tries");
}

/// `ip:port` as a URL authority (IPv6 in brackets).
fn authority(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

/// Where `program` is: on PATH, or in the sbin directories a non-root PATH
/// often lacks (`mariadbd` lives in /usr/sbin).
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn program(program: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| panic!("{program} not found; check `available` first"))
}

/// The datadir initialiser: `mariadb-install-db`, or its old name.
fn install_db_program() -> Option<PathBuf> {
    find_program("mariadb-install-db").or_else(|| find_program("mysql_install_db"))
}

/// Whether this process has CAP_SYS_ADMIN (`ip netns add` mounts) and
/// CAP_NET_ADMIN (veths, addresses, iptables), from `/proc/self/status`.
fn has_net_capabilities() -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    effective & (1 << CAP_NET_ADMIN) != 0 && effective & (1 << CAP_SYS_ADMIN) != 0
}

/// The last `lines` lines of the file at `path`, for failure messages; reads at
/// most the last 64 KiB so a long log costs nothing.
fn file_tail(path: &Path, lines: usize) -> String {
    const MAX_TAIL_BYTES: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else { return format!("(no log at {})", path.display()) };
    let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(MAX_TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A log file for a child's stdout and stderr, appended to so a restart keeps
/// the earlier run's lines.
fn log_file(path: &Path) -> (Stdio, Stdio) {
    let file = OpenOptions::new().create(true).append(true).open(path).expect("open child log");
    let copy = file.try_clone().expect("clone child log handle");
    (Stdio::from(file), Stdio::from(copy))
}

/// SIGKILL and reap, bounded by [`KILL_REAP_TIMEOUT`].
fn kill_and_reap(child: &mut Child, what: &str) {
    let _ = child.kill();
    let deadline = Instant::now() + KILL_REAP_TIMEOUT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    eprintln!("{what} (pid {}) not reaped {KILL_REAP_TIMEOUT:?} after SIGKILL; leaving it", child.id());
}

/// Why `child` has already exited, if it has.
fn exited(child: &mut Child) -> Option<String> {
    match child.try_wait() {
        Ok(Some(status)) => Some(format!("exited with {status}")),
        Ok(None) => None,
        Err(error) => Some(format!("cannot be waited for: {error}")),
    }
}

/// Runs `command` to completion with its output captured, failing after
/// `timeout` (the child is then SIGKILLed by pid, since the thread waiting for
/// it owns it).
fn run_bounded(mut command: Command, timeout: Duration) -> Result<Output, HarnessError> {
    let shown = format!("{command:?}");
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| HarnessError(format!("{shown}: {error}")))?;
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(timeout) {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => fail(format!("{shown}: {error}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            fail(format!("{shown} did not finish in {timeout:?}"))
        }
    }
}

/// [`run_bounded`] with [`NET_COMMAND_TIMEOUT`], failing unless it succeeds.
fn run_net(command: Command) -> Result<String, HarnessError> {
    let shown = format!("{command:?}");
    let output = run_bounded(command, NET_COMMAND_TIMEOUT)?;
    if !output.status.success() {
        return fail(format!("{shown}: {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A number unique within this process, for names, tokens and address blocks.
fn next_serial() -> u32 {
    static SERIAL: AtomicU32 = AtomicU32::new(0);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------- etcd ----

/// What one `GET /health` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// `{"health":"true"}`: the member has a leader and serves reads.
    Healthy,
    /// It answered, but not healthy (`{"health":"false"}` without quorum); the body.
    Unhealthy(String),
    /// No answer within the probe timeout, or no connection; why.
    Unreachable(String),
}

/// `GET /health` on `ip:port`, as plain HTTP/1.0 over TCP (etcd closes the
/// connection after the answer, so reading to the end is the whole reply).
async fn probe_health(ip: IpAddr, port: u16) -> Health {
    let request = async {
        let mut stream = tokio::net::TcpStream::connect((ip, port)).await?;
        let request = format!("GET /health HTTP/1.0\r\nHost: {}\r\n\r\n", authority(ip, port));
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&reply).into_owned())
    };
    match tokio::time::timeout(HEALTH_PROBE_TIMEOUT, request).await {
        Err(_) => Health::Unreachable(format!("no answer in {HEALTH_PROBE_TIMEOUT:?}")),
        Ok(Err(error)) => Health::Unreachable(error.to_string()),
        Ok(Ok(reply)) => {
            let body = reply.split_once("\r\n\r\n").map_or(reply.as_str(), |(_, body)| body).trim().to_owned();
            if body.replace(' ', "").contains(r#""health":"true""#) { Health::Healthy } else { Health::Unhealthy(body) }
        }
    }
}

/// One etcd member: a child `etcd` process with its data dir and log in a
/// temp dir of its own. Kill and restart keep both, as a crashed and
/// restarted member would. Killed (SIGKILL) and reaped on drop.
///
/// Its client port listens on every address it was started with (so seatd
/// nodes in several namespaces can each reach it on their own host-side
/// address); its peer port on 127.0.0.1. Tests use short raft timers
/// (heartbeat 100 ms, election 1 s), so a lost leader is replaced in about a
/// second and a lost quorum shows at once.
pub struct Etcd {
    name: String,
    client_ips: Vec<IpAddr>,
    client_port: u16,
    peer_port: u16,
    /// `--initial-cluster`: every member's `name=peer URL`.
    initial_cluster: String,
    /// `--initial-cluster-token`, unique per cluster, so members of two test
    /// clusters can never join each other even if a port is reused.
    cluster_token: String,
    dir: TempDir,
    child: Option<Child>,
}

impl Etcd {
    /// A one-member cluster with its client port on 127.0.0.1. Call
    /// [`Etcd::wait_healthy`] before using it.
    pub fn single() -> Etcd {
        Etcd::single_on(&[IpAddr::V4(Ipv4Addr::LOCALHOST)])
    }

    /// A one-member cluster whose client port listens on every address of
    /// `ips` (the same port on each), such as several namespaces' host-side
    /// addresses; those namespaces must exist first.
    pub fn single_on(ips: &[IpAddr]) -> Etcd {
        // Hold the client port while choosing the peer port, so they differ.
        let (client_port, client_hold) = reserve_port(ips);
        let (peer_port, peer_hold) = reserve_port(&[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let name = "m0".to_owned();
        let initial_cluster = format!("{name}={}", peer_url(peer_port));
        let token = format!("{NETNS_PREFIX}{}-{}", std::process::id(), next_serial());
        drop((client_hold, peer_hold));
        let mut member = Etcd::new(name, ips, client_port, peer_port, initial_cluster, token);
        member.spawn();
        member
    }

    fn new(
        name: String,
        client_ips: &[IpAddr],
        client_port: u16,
        peer_port: u16,
        initial_cluster: String,
        cluster_token: String,
    ) -> Etcd {
        let dir = tempfile::Builder::new().prefix("seatt-etcd-").tempdir().expect("etcd temp dir");
        Etcd {
            name,
            client_ips: client_ips.to_vec(),
            client_port,
            peer_port,
            initial_cluster,
            cluster_token,
            dir,
            child: None,
        }
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "etcd member {} is already running", self.name);
        let client_urls = self.client_ips.iter().map(|ip| format!("http://{}", authority(*ip, self.client_port)));
        let client_urls = client_urls.collect::<Vec<_>>().join(",");
        let peer_url = peer_url(self.peer_port);
        let (stdout, stderr) = log_file(&self.log_path());
        let mut command = Command::new(program("etcd"));
        command
            .arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client_urls, "--advertise-client-urls", &client_urls])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &self.initial_cluster, "--initial-cluster-token", &self.cluster_token])
            // Ignored once the data dir holds a WAL, so a restart rejoins as itself.
            .args(["--initial-cluster-state", "new"])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            // etcd 3.4 defaults to the deprecated capnslog logger; zap to stderr
            // puts everything in the one log file.
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        self.child = Some(command.spawn().expect("start etcd"));
    }

    /// The client URLs, one per listen address, such as `http://127.0.0.1:PORT`.
    pub fn client_urls(&self) -> Vec<String> {
        self.client_ips.iter().map(|ip| self.client_url_on(*ip)).collect()
    }

    /// The client URL on `ip`, which must be one it listens on.
    pub fn client_url_on(&self, ip: IpAddr) -> String {
        assert!(self.client_ips.contains(&ip), "etcd member {} does not listen on {ip}", self.name);
        format!("http://{}", authority(ip, self.client_port))
    }

    /// The client port (the same on every listen address).
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// Whether the child is running (not killed, not exited).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| exited(child).is_none())
    }

    /// SIGKILL the member and reap it; its data dir stays for [`Etcd::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child, &format!("etcd member {}", self.name));
        }
    }

    /// Start the member again on the same data dir and ports (after
    /// [`Etcd::kill`]; a running member is killed first).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// One `GET /health` on its first client address.
    pub async fn health(&self) -> Health {
        probe_health(self.client_ips[0], self.client_port).await
    }

    /// Waits until the member reports healthy, failing with its log tail
    /// after `timeout` or as soon as the child exits.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.health().await;
            if last == Health::Healthy {
                return Ok(());
            }
            let ended = match self.child.as_mut() {
                None => Some("is not running (killed)".to_owned()),
                Some(child) => exited(child),
            };
            if let Some(ended) = ended {
                return fail(format!("etcd member {} {ended}; log tail:\n{}", self.name, self.log_tail(30)));
            }
            if Instant::now() >= deadline {
                return fail(format!(
                    "etcd member {} not healthy after {timeout:?} (last: {last:?}); log tail:\n{}",
                    self.name,
                    self.log_tail(30)
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The last `lines` lines of the member's log (all its runs).
    pub fn log_tail(&self, lines: usize) -> String {
        file_tail(&self.log_path(), lines)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn peer_url(port: u16) -> String {
    format!("http://{}", authority(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}

/// A three-member etcd cluster (members `m0`, `m1`, `m2`), each with its own
/// data dir and distinct ports, peers on 127.0.0.1. It keeps quorum with one
/// member down and loses it with two.
pub struct EtcdCluster {
    members: Vec<Etcd>,
}

impl EtcdCluster {
    /// Three members with client ports on 127.0.0.1. Call
    /// [`EtcdCluster::wait_healthy`] before using it.
    pub fn three() -> EtcdCluster {
        EtcdCluster::three_on(&[IpAddr::V4(Ipv4Addr::LOCALHOST)])
    }

    /// Three members whose client ports listen on every address of `ips`
    /// (see [`Etcd::single_on`]).
    pub fn three_on(ips: &[IpAddr]) -> EtcdCluster {
        const MEMBERS: usize = 3;
        // Hold every reserved port until all six are chosen, so they differ.
        let mut held = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..MEMBERS {
            let (client_port, client) = reserve_port(ips);
            let (peer_port, peer) = reserve_port(&[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
            held.extend(client.into_iter().chain(peer));
            ports.push((client_port, peer_port));
        }
        drop(held);
        let names: Vec<String> = (0..MEMBERS).map(|index| format!("m{index}")).collect();
        let initial_cluster = names
            .iter()
            .zip(&ports)
            .map(|(name, (_, peer_port))| format!("{name}={}", peer_url(*peer_port)))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!("{NETNS_PREFIX}{}-{}", std::process::id(), next_serial());
        let mut members: Vec<Etcd> = names
            .into_iter()
            .zip(ports)
            .map(|(name, (client_port, peer_port))| {
                Etcd::new(name, ips, client_port, peer_port, initial_cluster.clone(), token.clone())
            })
            .collect();
        for member in &mut members {
            member.spawn();
        }
        EtcdCluster { members }
    }

    /// Each member's client URL on the first listen address, in member order.
    pub fn client_urls(&self) -> Vec<String> {
        self.members.iter().map(|member| member.client_url_on(member.client_ips[0])).collect()
    }

    /// Each member's client URL on `ip` (one of the listen addresses).
    pub fn client_urls_on(&self, ip: IpAddr) -> Vec<String> {
        self.members.iter().map(|member| member.client_url_on(ip)).collect()
    }

    /// Member `index` (0, 1 or 2).
    pub fn member(&mut self, index: usize) -> &mut Etcd {
        &mut self.members[index]
    }

    /// SIGKILL member `index`; its data dir and ports stay for a restart.
    pub fn kill_member(&mut self, index: usize) {
        self.members[index].kill();
    }

    /// Start member `index` again on the same data dir and ports.
    pub fn restart_member(&mut self, index: usize) {
        self.members[index].restart();
    }

    /// Waits until every running member reports healthy (so with one down,
    /// the other two have elected a leader), failing with the log tails after
    /// `timeout` or as soon as a running member's child exits.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut unhealthy = Vec::new();
            let mut ended = None;
            for member in &mut self.members {
                let Some(child) = member.child.as_mut() else { continue };
                if let Some(why) = exited(child) {
                    ended = Some(format!("etcd member {} {why}", member.name));
                    break;
                }
                let health = member.health().await;
                if health != Health::Healthy {
                    unhealthy.push(format!("{}: {health:?}", member.name));
                }
            }
            if let Some(ended) = ended {
                return fail(format!("{ended}; logs:\n{}", self.log_tail(20)));
            }
            if unhealthy.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return fail(format!(
                    "etcd cluster not healthy after {timeout:?} ({}); logs:\n{}",
                    unhealthy.join(", "),
                    self.log_tail(20)
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until no running member reports healthy (answers false or does
    /// not answer), as after losing quorum; fails after `timeout`.
    pub async fn wait_unhealthy(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut healthy = Vec::new();
            for member in &self.members {
                if member.child.is_some() && member.health().await == Health::Healthy {
                    healthy.push(member.name.clone());
                }
            }
            if healthy.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return fail(format!(
                    "etcd members {} still healthy after {timeout:?}; logs:\n{}",
                    healthy.join(", "),
                    self.log_tail(20)
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The last `lines` lines of each member's log, headed by its name.
    pub fn log_tail(&self, lines: usize) -> String {
        let tails =
            self.members.iter().map(|member| format!("--- etcd {} ---\n{}", member.name, member.log_tail(lines)));
        tails.collect::<Vec<_>>().join("\n")
    }
}

// ------------------------------------------------------------- MariaDB ----

/// A MariaDB server of the test's own: a child `mariadbd` on a fresh datadir
/// in a temp dir, listening on one address and port, with its socket, pid
/// file, tmpdir and log in that temp dir. `root` has no password and may
/// connect from anywhere (`root@'%'`), so a seatd node in a namespace can use
/// it over TCP like a real deployment would. Killed (SIGKILL) and reaped on drop.
///
/// Kept small and quick to start: no binary log, a 64 MB buffer pool and a
/// 16 MB redo log. Durability settings stay at their defaults, since the
/// fence in MySQL is what the cluster tests check.
pub struct Mariadb {
    ip: IpAddr,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

/// The options both `mariadb-install-db` (which passes them to its bootstrap
/// server) and `mariadbd` get, so the datadir is made the size it is run at.
const MARIADB_SIZE_OPTIONS: [&str; 3] =
    ["--skip-log-bin", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M"];

/// Run at every start, before the server accepts connections: `root` from any
/// address, with no password, as the tests' URLs (`mysql://root@IP:PORT/db`)
/// expect. One statement a line, as `--init-file` wants.
const MARIADB_INIT_SQL: &str = "CREATE USER IF NOT EXISTS 'root'@'%';\n\
                                GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;\n";

impl Mariadb {
    /// A server on 127.0.0.1 at a free port. Call [`Mariadb::wait_ready`]
    /// before using it.
    pub async fn start() -> Mariadb {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Mariadb::start_on(ip, free_port_on(ip)).await
    }

    /// A server listening on `ip:port` only, such as a namespace's
    /// [`Netns::host_ip`] and a [`free_port_on`] it. Makes the datadir
    /// (`mariadb-install-db`) and starts `mariadbd`; panics, with the
    /// installer's output, if the datadir cannot be made.
    pub async fn start_on(ip: IpAddr, port: u16) -> Mariadb {
        let dir = tempfile::Builder::new().prefix("seatt-mariadb-").tempdir().expect("MariaDB temp dir");
        let datadir = dir.path().join("data");
        let installer = install_db_program().expect("mariadb-install-db not found; check `available` first");
        let mut install = tokio::process::Command::new(installer);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", datadir.display()))
            // Debian's default for root@localhost is unix-socket auth, which
            // refuses root over TCP; "normal" is a password, here empty.
            .args(["--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"])
            // mariadbd refuses to run as root unless told to be root.
            .arg("--user=root")
            .args(MARIADB_SIZE_OPTIONS)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let output = tokio::time::timeout(INSTALL_DB_TIMEOUT, install.output())
            .await
            .unwrap_or_else(|_| panic!("mariadb-install-db did not finish in {INSTALL_DB_TIMEOUT:?}"))
            .expect("run mariadb-install-db");
        assert!(
            output.status.success(),
            "mariadb-install-db failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(dir.path().join("init.sql"), MARIADB_INIT_SQL).expect("write init.sql");
        let mut server = Mariadb { ip, port, dir, child: None };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let path = |name: &str| self.dir.path().join(name).display().to_string();
        let (stdout, stderr) = log_file(&self.log_path());
        let mut command = Command::new(program("mariadbd"));
        // --no-defaults first: nothing from /etc/mysql (the shared server's
        // config) may leak in. No --log-error, so its log goes to stderr,
        // which is the log file, early start-up errors included.
        command
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", path("data")))
            .arg(format!("--socket={}", path("mariadbd.sock")))
            .arg(format!("--pid-file={}", path("mariadbd.pid")))
            .arg(format!("--tmpdir={}", self.dir.path().display()))
            .arg(format!("--init-file={}", path("init.sql")))
            .arg(format!("--bind-address={}", self.ip))
            .arg(format!("--port={}", self.port))
            // Clients from namespace addresses must not cost a DNS lookup:
            // that would be traffic beyond 127.0.0.0/8 and the namespaces.
            .arg("--skip-name-resolve")
            .args(MARIADB_SIZE_OPTIONS)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        self.child = Some(command.spawn().expect("start mariadbd"));
    }

    /// The address it listens on.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mysql://root@IP:PORT/db`, the URL seatd and sqlx take. An empty `db`
    /// gives the server URL, `mysql://root@IP:PORT/`.
    pub fn url(&self, db: &str) -> String {
        format!("mysql://root@{}/{db}", authority(self.ip, self.port))
    }

    /// The `mariadb` command-line client, set up to reach this server as
    /// `root` over TCP, ready for `--execute=...` or further options. Run it
    /// through [`Netns::command`] to connect from a namespace instead.
    pub fn client_args(&self) -> Vec<String> {
        vec![
            "--no-defaults".to_owned(),
            "--protocol=TCP".to_owned(),
            format!("--host={}", self.ip),
            format!("--port={}", self.port),
            "--user=root".to_owned(),
            format!("--connect-timeout={MARIADB_CONNECT_TIMEOUT_SECS}"),
            "--batch".to_owned(),
            "--skip-column-names".to_owned(),
        ]
    }

    /// Runs `sql` with the `mariadb` client over TCP as `root`, returning its
    /// output (tab-separated rows, no header).
    pub async fn query(&self, sql: &str) -> Result<String, HarnessError> {
        let mut command = tokio::process::Command::new(program("mariadb"));
        command.args(self.client_args()).arg(format!("--execute={sql}")).stdin(Stdio::null()).kill_on_drop(true);
        let output = match tokio::time::timeout(MARIADB_CLIENT_TIMEOUT, command.output()).await {
            Err(_) => return fail(format!("mariadb client did not finish in {MARIADB_CLIENT_TIMEOUT:?}")),
            Ok(Err(error)) => return fail(format!("run mariadb client: {error}")),
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            return fail(format!("{sql:?} on {}: {}", self.url(""), String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
    }

    /// Waits until `SELECT 1` works over TCP as `root`, failing with the
    /// server's log tail after `timeout` or as soon as `mariadbd` exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.query("SELECT 1").await {
                Ok(answer) if answer == "1" => return Ok(()),
                Ok(answer) => format!("SELECT 1 gave {answer:?}"),
                Err(error) => error.0,
            };
            let ended = match self.child.as_mut() {
                None => Some("is not running".to_owned()),
                Some(child) => exited(child),
            };
            if let Some(ended) = ended {
                return fail(format!("mariadbd on {} {ended}; log tail:\n{}", self.url(""), self.log_tail(30)));
            }
            if Instant::now() >= deadline {
                return fail(format!(
                    "mariadbd on {} not ready after {timeout:?} (last: {last}); log tail:\n{}",
                    self.url(""),
                    self.log_tail(30)
                ));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Creates database `name` (ASCII letters, digits, underscores), over TCP
    /// with sqlx, the client seatd itself uses.
    pub async fn create_database(&self, name: &str) -> Result<(), HarnessError> {
        persistence::test_support::create_database(&self.url(""), name)
            .await
            .map_err(|error| HarnessError(format!("create database {name} on {}: {error}", self.url(""))))
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        file_tail(&self.log_path(), lines)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("mariadbd.log")
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child, "mariadbd");
        }
    }
}

// ------------------------------------------------- network namespaces ----

/// A Linux network namespace joined to the host by one veth pair, the host
/// end `host_ip()`, the namespace end `ns_ip()`, both in one /30 of
/// 10.250.0.0/16, plus its own `lo`. Nothing else: no default route and no NAT,
/// so a process started with [`Netns::command`] reaches the host-side address
/// and nothing beyond (see the module doc).
///
/// [`Netns::block_port`] and [`Netns::cut_all`] drop packets with iptables
/// inside the namespace rather than take the link down, so a cut looks like a
/// real partition: connections hang and time out instead of failing at once
/// with "network unreachable".
///
/// Drop deletes the veth pair (both ends, even if processes still hold the
/// namespace open) and the namespace, also when the test panicked. Declare it
/// before the processes running inside it, so they are dropped first.
pub struct Netns {
    name: String,
    host_veth: String,
    ns_veth: String,
    host_ip: Ipv4Addr,
    ns_ip: Ipv4Addr,
}

impl Netns {
    /// A new namespace `seatt-<pid>-<n>` with its veth pair up and addressed
    /// and `lo` up. Check [`available`] with [`Need::Netns`] first; panics if
    /// any step fails (after undoing the steps done).
    pub fn new() -> Netns {
        static CLEAN_LEFTOVERS: Once = Once::new();
        CLEAN_LEFTOVERS.call_once(remove_leftover_namespaces);
        let pid = std::process::id();
        let serial = next_serial();
        let name = format!("{NETNS_PREFIX}{pid}-{serial}");
        // IFNAMSIZ allows 15 characters: "st" + pid (≤ 7 digits) + h/n + serial.
        let host_veth = format!("st{pid}h{serial}");
        let ns_veth = format!("st{pid}n{serial}");
        let block = free_block(pid, serial);
        let base = u32::from(Ipv4Addr::new(10, 250, 0, 0)) + 4 * block;
        let netns =
            Netns { name, host_veth, ns_veth, host_ip: Ipv4Addr::from(base + 1), ns_ip: Ipv4Addr::from(base + 2) };
        // A namespace of this name is a leftover of a dead process with our pid.
        let _ = run_net(ip_command(&["netns", "del", &netns.name]));
        if let Err(error) = netns.set_up() {
            drop(netns);
            panic!("set up network namespace: {error}");
        }
        netns
    }

    fn set_up(&self) -> Result<(), HarnessError> {
        let (name, host_veth, ns_veth) = (self.name.as_str(), self.host_veth.as_str(), self.ns_veth.as_str());
        run_net(ip_command(&["netns", "add", name]))?;
        run_net(ip_command(&["link", "add", host_veth, "type", "veth", "peer", "name", ns_veth]))?;
        run_net(ip_command(&["link", "set", ns_veth, "netns", name]))?;
        run_net(ip_command(&["addr", "add", &format!("{}/30", self.host_ip), "dev", host_veth]))?;
        run_net(ip_command(&["link", "set", host_veth, "up"]))?;
        run_net(self.ip_in(&["addr", "add", &format!("{}/30", self.ns_ip), "dev", ns_veth]))?;
        run_net(self.ip_in(&["link", "set", ns_veth, "up"]))?;
        run_net(self.ip_in(&["link", "set", "lo", "up"]))?;
        Ok(())
    }

    /// The namespace's name, for `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host end of the veth, on the host.
    pub fn host_veth(&self) -> &str {
        &self.host_veth
    }

    /// The host-side address: where services the namespace must reach listen.
    pub fn host_ip(&self) -> IpAddr {
        IpAddr::V4(self.host_ip)
    }

    /// The namespace-side address, which processes inside it have.
    pub fn ns_ip(&self) -> IpAddr {
        IpAddr::V4(self.ns_ip)
    }

    /// `ip netns exec NAME program`, to add arguments to and run; `ip` execs
    /// the program, so the child's pid is the program's and killing it kills
    /// the program. For tokio: `tokio::process::Command::from(ns.command(..))`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Drops, inside the namespace and in both directions, TCP traffic to and
    /// from `remote_ip:port` (normally [`Netns::host_ip`] and a service's
    /// port), established connections included, so a node can be cut off
    /// from etcd but not from MariaDB. Blocking twice is the same as once.
    pub fn block_port(&self, remote_ip: IpAddr, port: u16) {
        for rule in self.port_rules(remote_ip, port) {
            self.iptables_ensure(true, &rule);
        }
    }

    /// Undoes [`Netns::block_port`]; unblocking an open port does nothing.
    pub fn unblock_port(&self, remote_ip: IpAddr, port: u16) {
        for rule in self.port_rules(remote_ip, port) {
            self.iptables_ensure(false, &rule);
        }
    }

    /// Drops all traffic through the namespace's veth, both directions, until
    /// [`Netns::restore_all`]: a full partition of the node.
    pub fn cut_all(&self) {
        for rule in self.veth_rules() {
            self.iptables_ensure(true, &rule);
        }
    }

    /// Undoes [`Netns::cut_all`].
    pub fn restore_all(&self) {
        for rule in self.veth_rules() {
            self.iptables_ensure(false, &rule);
        }
    }

    fn port_rules(&self, remote_ip: IpAddr, port: u16) -> [Vec<String>; 2] {
        assert!(remote_ip.is_ipv4(), "the namespaces are IPv4 only; {remote_ip} is not");
        let (ip, port) = (remote_ip.to_string(), port.to_string());
        let rule = |chain: &str, address: &str, port_match: &str| {
            [chain, "-p", "tcp", address, &ip, port_match, &port, "-j", "DROP"].map(str::to_owned).to_vec()
        };
        [rule("OUTPUT", "-d", "--dport"), rule("INPUT", "-s", "--sport")]
    }

    fn veth_rules(&self) -> [Vec<String>; 2] {
        let rule =
            |chain: &str, direction: &str| [chain, direction, &self.ns_veth, "-j", "DROP"].map(str::to_owned).to_vec();
        [rule("OUTPUT", "-o"), rule("INPUT", "-i")]
    }

    /// Makes `rule` (chain first) present or absent in the namespace's filter
    /// table, checking first (`-C`) so repeated calls are harmless.
    fn iptables_ensure(&self, present: bool, rule: &[String]) {
        let run = |action: &str| {
            let mut command = self.command("iptables");
            command.args(["-w", &XTABLES_LOCK_WAIT_SECS.to_string(), action]).args(rule);
            command
        };
        let exists = match run_bounded(run("-C"), NET_COMMAND_TIMEOUT) {
            Ok(output) => output.status.success(),
            Err(error) => panic!("iptables -C {rule:?} in {}: {error}", self.name),
        };
        let action = match (present, exists) {
            (true, false) => "-I",
            (false, true) => "-D",
            _ => return,
        };
        if let Err(error) = run_net(run(action)) {
            panic!("iptables {action} {rule:?} in {}: {error}", self.name);
        }
    }

    fn ip_in(&self, args: &[&str]) -> Command {
        let mut command = self.command("ip");
        command.args(args);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // The veth first: deleting one end deletes both, and frees the /30,
        // even when a process still inside keeps the namespace itself alive.
        for command in [ip_command(&["link", "del", &self.host_veth]), ip_command(&["netns", "del", &self.name])] {
            if let Err(error) = run_net(command) {
                // Absent already (set-up failed early) is fine; anything else is
                // worth a note, but panicking in drop would abort the test run.
                if !error.0.contains("Cannot find device") && !error.0.contains("No such file") {
                    eprintln!("cleaning up network namespace {}: {error}", self.name);
                }
            }
        }
    }
}

fn ip_command(args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command.args(args);
    command
}

/// A /30 block index for (`pid`, `serial`) whose host-side address no host
/// interface has yet. Derived from the pid so concurrent test processes start
/// far apart; the in-use check covers what that cannot (pids 256 apart).
fn free_block(pid: u32, serial: u32) -> u32 {
    let in_use: HashSet<Ipv4Addr> = run_net(ip_command(&["-o", "-4", "addr", "show"]))
        .expect("list host addresses")
        .lines()
        .filter_map(|line| line.split_whitespace().skip_while(|word| *word != "inet").nth(1))
        .filter_map(|cidr| cidr.split('/').next()?.parse().ok())
        .collect();
    let start = pid.wrapping_mul(NETNS_BLOCKS_PER_PROCESS).wrapping_add(serial);
    (0..NETNS_BLOCKS)
        .map(|offset| start.wrapping_add(offset) % NETNS_BLOCKS)
        .find(|block| {
            let base = u32::from(Ipv4Addr::new(10, 250, 0, 0)) + 4 * block;
            !(1..=2).any(|host| in_use.contains(&Ipv4Addr::from(base + host)))
        })
        .expect("a free /30 in 10.250.0.0/16")
}

/// Deletes `seatt-<pid>-<n>` namespaces (and their veths) whose process is
/// gone: leftovers of a test process that was killed before its drops ran.
/// A namespace of a live process, ours or another's, is never touched.
fn remove_leftover_namespaces() {
    let Ok(listing) = run_net(ip_command(&["netns", "list"])) else { return };
    for name in listing.lines().filter_map(|line| line.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else { continue };
        let Some((pid, serial)) = rest.split_once('-') else { continue };
        let (Ok(pid), Ok(serial)) = (pid.parse::<u32>(), serial.parse::<u32>()) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        eprintln!("removing network namespace {name}, left by process {pid}, which is gone");
        let _ = run_net(ip_command(&["link", "del", &format!("st{pid}h{serial}")]));
        let _ = run_net(ip_command(&["netns", "del", name]));
    }
}
