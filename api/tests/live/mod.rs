//! What the live-availability tests share: a real `seatd --demo` child in a
//! temp directory on a free port, booking clients with its demo tokens, and
//! holds made up from serial numbers.
//!
//! - `webdriver`: a minimal WebDriver client for headless Chromium.

#[path = "../served/mod.rs"]
mod served;
pub mod webdriver;

use api::auth::{Role, mint_hs256, unix_now_secs};
use api::demo::{DEMO_SECRET_FILE, DEMO_TOKENS_FILE, DemoTokens};
use api::pb::booking_client::BookingClient;
use api::pb::{self};
use std::process::{Child, Command};
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Longest seatd may take to load the demo and serve.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The demo line's two ends, which every demo train serves.
pub const FROM: &str = "北京南";
pub const TO: &str = "上海虹桥";

pub type Booking = BookingClient<InterceptedService<Channel, Bearer>>;

/// A running `seatd --demo`; killed when dropped.
pub struct Seatd {
    process: Child,
    /// host:port of gRPC, gRPC-Web and the board page.
    pub address: String,
    pub tokens: DemoTokens,
    secret: Vec<u8>,
    /// The data directory; removed when dropped.
    _directory: tempfile::TempDir,
}

impl Seatd {
    /// Starts `seatd --demo ARGS` on a free loopback port without metrics,
    /// with rate limits loose enough for a test that books fast.
    pub fn start(args: &[&str]) -> Seatd {
        Self::start_in(tempfile::tempdir().expect("temp dir"), &[&["--demo"], args].concat())
    }

    /// Starts seatd without `--demo`, verifying tokens with a secret of its own.
    pub fn start_without_demo() -> Seatd {
        let directory = tempfile::tempdir().expect("temp dir");
        let secret_file = directory.path().join("jwt-secret");
        std::fs::write(&secret_file, "live-tests-secret-0123456789abcdef").expect("secret");
        let secret_arg = secret_file.display().to_string();
        Self::start_in(directory, &["--jwt-secret-file", &secret_arg])
    }

    fn start_in(directory: tempfile::TempDir, args: &[&str]) -> Seatd {
        let (mut process, address_rx) = served::spawn_serving(
            Command::new(env!("CARGO_BIN_EXE_seatd"))
                .args(["--listen", "127.0.0.1:0", "--metrics-listen", "off"])
                .args(["--user-writes-per-sec", "100000", "--user-write-burst", "100000"])
                .args(["--user-reads-per-sec", "100000", "--user-read-burst", "100000"])
                .args(["--peer-requests-per-sec", "100000", "--peer-burst", "100000"])
                .args(args)
                .arg("--data-dir")
                .arg(directory.path().join("data"))
                .current_dir(directory.path())
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info"),
        );
        let Ok(address) = address_rx.recv_timeout(START_TIMEOUT) else {
            let _ = process.kill();
            panic!("seatd did not serve within {START_TIMEOUT:?}");
        };
        let data = directory.path().join("data");
        let secret = std::fs::read(data.join(DEMO_SECRET_FILE))
            .or_else(|_| std::fs::read(directory.path().join("jwt-secret")))
            .expect("the secret seatd verifies with");
        let secret = String::from_utf8_lossy(&secret).trim().as_bytes().to_vec();
        let tokens = match std::fs::read(data.join(DEMO_TOKENS_FILE)) {
            Ok(json) => serde_json::from_slice(&json).expect("demo tokens"),
            Err(_) => {
                let mint = |sub: &str, role: Role| mint_hs256(&secret, sub, role, unix_now_secs(), 3600);
                DemoTokens {
                    admin: mint("admin", Role::Admin),
                    agent: mint("demo-agent", Role::Agent),
                    passenger: mint("demo-passenger", Role::Passenger),
                    feed: mint("demo-feed", Role::Feed),
                }
            }
        };
        Seatd { process, address, tokens, secret, _directory: directory }
    }

    /// A booking client on a connection of its own, sending `token`.
    pub async fn booking(&self, token: &str) -> Booking {
        self.booking_with_window(token, None).await
    }

    /// As `booking`, with an HTTP/2 stream window of `window_bytes` (the
    /// most the server may send unread), or hyper's default of 2 MiB.
    pub async fn booking_with_window(&self, token: &str, window_bytes: Option<u32>) -> Booking {
        let channel = Channel::from_shared(format!("http://{}", self.address))
            .expect("uri")
            .initial_stream_window_size(window_bytes)
            .connect()
            .await
            .expect("connect");
        BookingClient::with_interceptor(channel, Bearer(format!("Bearer {token}")))
    }

    /// Sends SIGTERM and waits up to `limit` for seatd to exit; its status.
    pub fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let pid = self.process.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.process.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < limit, "seatd did not exit within {limit:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A passenger token for `user`, signed with the demo's secret.
    pub fn passenger_token(&self, user: &str) -> String {
        mint_hs256(&self.secret, user, Role::Passenger, unix_now_secs(), 3600)
    }
}

impl Drop for Seatd {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Adds `authorization` to every call.
#[derive(Clone)]
pub struct Bearer(String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.parse().expect("header-safe token"));
        Ok(request)
    }
}

/// Tomorrow's service date (UTC+8), which the demo has open.
pub fn tomorrow() -> String {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    engine::domain::state::service_date_of(now_ms + 24 * 3600 * 1000).to_string()
}

/// A one-passenger second-class hold on `train` for the whole line, by the
/// agent for user `user-SERIAL`, with a passenger made up from `serial`.
pub fn hold_request(train: &str, date: &str, serial: u64) -> pb::HoldRequest {
    pb::HoldRequest {
        request_id: format!("live-{serial}"),
        user_id: format!("user-{serial}"),
        train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
        from_station: FROM.into(),
        to_station: TO.into(),
        passengers: vec![pb::PassengerRequest {
            name: "张三".into(),
            id_number: api::convert::with_resident_id_check(&format!("2{serial:016}")),
            seat_class: pb::SeatClass::Second.into(),
            pick: String::new(),
            seat: None,
        }],
    }
}

/// A watch of the demo line's search for `date`.
pub fn watch_search(date: &str, coarse: bool) -> pb::WatchAvailabilityRequest {
    pb::WatchAvailabilityRequest {
        target: Some(pb::watch_availability_request::Target::Search(pb::SearchTrainsRequest {
            date: date.into(),
            from_station: FROM.into(),
            to_station: TO.into(),
        })),
        coarse,
    }
}

/// Second-class seats left on `train` in `update`, if it carries the train.
pub fn second_left(update: &pb::AvailabilityUpdate, train: &str) -> Option<u32> {
    let offer = update.trains.iter().find(|offer| offer.train_date.as_ref().is_some_and(|key| key.train == train))?;
    let second = offer.classes.iter().find(|class| class.seat_class == pb::SeatClass::Second as i32)?;
    Some(second.remaining)
}
