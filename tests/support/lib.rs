//! Test support: starts the real gRPC server on port 0 over a fresh engine
//! with the demo timetable, on a manual clock, and hands out clients.
//!
//! Modules:
//! - `raw`: calls with raw bytes as the request, and the checks every refusal must pass.

pub mod raw;

use api::admission::{Admission, RateLimits};
use api::auth::{Authenticator, Role, mint_hs256, unix_now_secs};
use api::boot::{BootConfig, Database};
use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::feed_client::FeedClient;
use api::pb::{self};
use api::server::ServeOptions;
use chrono::NaiveDate;
use engine::clock::ManualClock;
use engine::domain::state::service_day_start_ms;
use engine::facade::{Engine, EngineSettings};
use persistence::writer::WriterConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The demo opens from this date; tests book mostly for `TOMORROW`.
pub const TODAY: &str = "2026-11-24";
pub const TOMORROW: &str = "2026-11-25";

/// Valid resident ID numbers (correct MOD 11-2 check characters).
pub const IDS: [&str; 7] = [
    "11010519491231002X",
    "440524188001010014",
    "11010119900307803X",
    "110101199003077897",
    "110101199003072017",
    "310115198506123454",
    "320102199208156789",
];

/// Rate limits loose enough that tests which book quickly as one user are
/// never throttled; the admission tests boot with tight ones.
pub const TEST_RATE_LIMITS: RateLimits = RateLimits {
    user_reads_per_sec: 100_000,
    user_read_burst: 100_000,
    user_writes_per_sec: 100_000,
    user_write_burst: 100_000,
    peer_requests_per_sec: 100_000,
    peer_burst: 100_000,
};

/// HS256 secret the test servers verify tokens with.
pub const TEST_JWT_SECRET: &[u8] = b"seat-tests-secret-0123456789abcdef";

/// A booking client that sends a bearer token.
pub type Booking = BookingClient<InterceptedService<Channel, Bearer>>;
/// An admin client that sends a bearer token.
pub type Admin = AdminClient<InterceptedService<Channel, Bearer>>;
/// A feed client that sends a bearer token.
pub type Feed = FeedClient<InterceptedService<Channel, Bearer>>;

/// A token for the test servers, valid for an hour.
pub fn token(role: Role, sub: &str) -> String {
    mint_hs256(TEST_JWT_SECRET, sub, role, unix_now_secs(), 3600)
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Bearer(Some(format!("Bearer {token}").parse().expect("token is header-safe")))
    }

    /// Sends no authorization at all.
    pub fn none() -> Self {
        Bearer(None)
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Passenger names, cycled through by `hold_request`.
pub const NAMES: [&str; 6] = ["张三", "李四", "王五", "赵六", "钱七", "Li Lei"];

pub struct TestServer {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub clock: Arc<ManualClock>,
    /// The SQLite journal's directory; removed when the server is dropped.
    pub data_dir: Arc<tempfile::TempDir>,
    writer: Option<tokio::task::JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Demo loaded, clock at 06:00 (UTC+8) on `TODAY`, journal on SQLite in a temp dir.
    pub async fn start() -> Self {
        Self::start_with(EngineSettings::default()).await
    }

    pub async fn start_with(settings: EngineSettings) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::boot(settings, data_dir, start_clock()).await
    }

    /// Boots on an existing journal directory (a restart), loading the demo
    /// again, which changes nothing that is already stored.
    pub async fn boot(settings: EngineSettings, data_dir: Arc<tempfile::TempDir>, clock: Arc<ManualClock>) -> Self {
        let database = Database::Sqlite { data_dir: data_dir.path().to_owned() };
        Self::boot_database(settings, database, data_dir, clock).await
    }

    /// Boots on any database; `data_dir` is kept alive with the server.
    pub async fn boot_database(
        settings: EngineSettings,
        database: Database,
        data_dir: Arc<tempfile::TempDir>,
        clock: Arc<ManualClock>,
    ) -> Self {
        Self::boot_limited(settings, database, data_dir, clock, TEST_RATE_LIMITS).await
    }

    /// Boots with the given rate limits (the rate-limit tests use tight ones).
    pub async fn boot_limited(
        settings: EngineSettings,
        database: Database,
        data_dir: Arc<tempfile::TempDir>,
        clock: Arc<ManualClock>,
        limits: RateLimits,
    ) -> Self {
        Self::boot_with(settings, database, data_dir, clock, limits, None).await
    }

    /// Boots serving TLS with `identity`, on SQLite in a temp dir.
    pub async fn start_tls(identity: tonic::transport::Identity) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database = Database::Sqlite { data_dir: data_dir.path().to_owned() };
        Self::boot_with(EngineSettings::default(), database, data_dir, start_clock(), TEST_RATE_LIMITS, Some(identity))
            .await
    }

    async fn boot_with(
        settings: EngineSettings,
        database: Database,
        data_dir: Arc<tempfile::TempDir>,
        clock: Arc<ManualClock>,
        limits: RateLimits,
        tls: Option<tonic::transport::Identity>,
    ) -> Self {
        let today = NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").expect("date");
        let config = BootConfig {
            database,
            engine: settings,
            writer: WriterConfig::default(),
            snapshot_every_events: 50,
            sharded: false,
            cluster_lease_ttl: Default::default(),
        };
        let booted = api::boot::boot(config, clock.clone()).await.expect("boots on its journal");
        let engine = booted.engine;
        api::demo::load_demo(&engine, today).await.expect("demo loads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let served_engine = Arc::clone(&engine);
        let feed = api::feed::FeedOptions {
            source: booted.feed,
            commits: booted.writer_stats.subscribe_commits(),
            streams_max: api::feed::FEED_STREAMS_MAX_DEFAULT,
        };
        let writer_stats = Some(booted.writer_stats);
        let served = tokio::spawn(async move {
            let authenticator = Authenticator::new(Some(TEST_JWT_SECRET), None).expect("test secret is long enough");
            let options = ServeOptions {
                authenticator,
                admission: Admission::new(limits),
                writer_stats,
                tls,
                cluster: None,
                feed: Some(feed),
                watch_limits: api::watch::WatchLimits::default(),
                board_demo_token: None,
            };
            api::server::serve(listener, served_engine, options, async {
                let _ = shutdown_rx.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            addr,
            engine,
            clock,
            data_dir,
            writer: Some(booted.writer),
            shutdown: Some(shutdown_tx),
            served: Some(served),
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr)).expect("uri").connect().await.expect("connect")
    }

    /// A booking client with an admin token (acts for any user it names).
    pub async fn booking(&self) -> Booking {
        BookingClient::with_interceptor(self.channel().await, Bearer::new(&token(Role::Admin, "test-admin")))
    }

    /// A booking client acting as `sub` in `role`.
    pub async fn booking_as(&self, role: Role, sub: &str) -> Booking {
        BookingClient::with_interceptor(self.channel().await, Bearer::new(&token(role, sub)))
    }

    pub async fn admin(&self) -> Admin {
        AdminClient::with_interceptor(self.channel().await, Bearer::new(&token(Role::Admin, "test-admin")))
    }

    pub async fn admin_as(&self, role: Role, sub: &str) -> Admin {
        AdminClient::with_interceptor(self.channel().await, Bearer::new(&token(role, sub)))
    }

    /// A feed client with a feed token.
    pub async fn feed(&self) -> Feed {
        FeedClient::with_interceptor(self.channel().await, Bearer::new(&token(Role::Feed, "test-feed")))
    }

    /// Stops accepting, waits for in-flight calls, checks every train-date's
    /// counts against a recount, and lets the journal writer finish.
    /// Returns the journal directory and clock, for a restart.
    pub async fn stop(mut self) -> (Arc<tempfile::TempDir>, Arc<ManualClock>) {
        self.engine.verify_all().await.expect("every train-date's invariants hold");
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("server task ends cleanly");
        }
        let writer = self.writer.take().expect("writer runs");
        let (data_dir, clock) = (Arc::clone(&self.data_dir), Arc::clone(&self.clock));
        drop(self);
        tokio::time::timeout(std::time::Duration::from_secs(10), writer)
            .await
            .expect("journal writer finishes once the engine is gone")
            .expect("writer task ends cleanly");
        (data_dir, clock)
    }
}

/// A manual clock at 06:00 (UTC+8) on `TODAY`.
pub fn start_clock() -> Arc<ManualClock> {
    let today = NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").expect("date");
    Arc::new(ManualClock::new(service_day_start_ms(today) + 6 * 3_600_000))
}

pub fn train_date(train: &str, date: &str) -> Option<pb::TrainDate> {
    Some(pb::TrainDate { train: train.into(), date: date.into() })
}

pub fn passenger(name: &str, id_number: &str, class: pb::SeatClass) -> pb::PassengerRequest {
    pb::PassengerRequest {
        name: name.into(),
        id_number: id_number.into(),
        seat_class: class.into(),
        ..Default::default()
    }
}

/// A hold on `TOMORROW` for `user`, one passenger per ID given.
pub fn hold_request(
    request_id: &str,
    user: &str,
    train: &str,
    from: &str,
    to: &str,
    class: pb::SeatClass,
    ids: &[&str],
) -> pb::HoldRequest {
    pb::HoldRequest {
        request_id: request_id.into(),
        user_id: user.into(),
        train_date: train_date(train, TOMORROW),
        from_station: from.into(),
        to_station: to.into(),
        passengers: ids.iter().zip(NAMES.iter().cycle()).map(|(id, name)| passenger(name, id, class)).collect(),
    }
}

/// A valid 18-character ID number built from a serial, for tests that need many.
pub fn resident_id(serial: u32) -> String {
    seat_tools::synthetic::resident_id(u64::from(serial))
}

/// Remaining seats of `class` for a journey on `TOMORROW`.
pub async fn remaining(booking: &mut Booking, train: &str, from: &str, to: &str, class: pb::SeatClass) -> u32 {
    let offer = booking
        .get_availability(pb::GetAvailabilityRequest {
            train_date: train_date(train, TOMORROW),
            from_station: from.into(),
            to_station: to.into(),
        })
        .await
        .expect("availability")
        .into_inner();
    offer.classes.iter().find(|offer| offer.seat_class == class as i32).map(|offer| offer.remaining).unwrap_or(0)
}

/// The ErrorInfo reason of a failed call.
pub fn reason(status: &tonic::Status) -> String {
    api::status::reason_of(status).unwrap_or_default()
}

/// Fragments G1's 15 business seats on `TOMORROW` for `user`: 1-01A taken
/// VNP → JGK, 1-01C taken JGK → NKH, the other 13 taken the whole way. Each
/// segment of VNP → NKH then has one seat free, but no seat is free for both.
pub async fn fragment_g1_business(booking: &mut Booking, user: &str) {
    let class = pb::SeatClass::Business;
    for (serial, (from, to, seat)) in [("VNP", "JGK", "01A"), ("JGK", "NKH", "01C")].into_iter().enumerate() {
        let id = resident_id(100 + serial as u32);
        let mut request = hold_request(&format!("fragment-{seat}"), user, "G1", from, to, class, &[&id]);
        request.passengers[0].seat = Some(pb::ExactSeat { carriage: 1, seat: seat.into() });
        booking.hold(request).await.expect("the exact seat is free");
    }
    for (round, size) in [5, 5, 3].into_iter().enumerate() {
        let ids: Vec<String> = (0..size).map(|i| resident_id(round as u32 * 5 + i)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let request = hold_request(&format!("fragment-whole-{round}"), user, "G1", "VNP", "AOH", class, &ids);
        booking.hold(request).await.expect("fits");
    }
}
