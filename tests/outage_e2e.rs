//! MySQL goes away mid-load: the test's database user loses its grants and
//! its connections are cut. Writes are refused with UNAVAILABLE, reads keep
//! working, nothing acknowledged is lost, and writes resume once the grants
//! are back. Runs when MYSQL_URL is set (fails under `CI=true` when it is not);
//! uses its own database and user.

use api::boot::Database;
use api::pb::{self, SeatClass};
use engine::facade::EngineSettings;
use persistence::test_env::{MYSQL_URL, service_url};
use seat_tests::{TOMORROW, TestServer, hold_request, resident_id, start_clock};
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::Code;

/// How long writes may take to come back once the database does.
const RESUME_TIMEOUT: Duration = Duration::from_secs(30);

struct Scratch {
    root: MySqlConnection,
    server_url: String,
    name: String,
}

impl Scratch {
    async fn create(server_url: &str) -> Scratch {
        let name = format!("seat_outage_{}_{}", std::process::id(), rand_suffix());
        let mut root = MySqlConnection::connect(server_url).await.expect("connect as root");
        for sql in [
            format!("CREATE DATABASE {name}"),
            format!("CREATE USER '{name}'@'%' IDENTIFIED BY 'outage'"),
            format!("CREATE USER '{name}'@'localhost' IDENTIFIED BY 'outage'"),
        ] {
            root.execute(AssertSqlSafe(sql)).await.expect("set up scratch database and user");
        }
        let mut scratch = Scratch { root, server_url: server_url.to_owned(), name };
        scratch.grant().await;
        scratch
    }

    fn url(&self) -> String {
        let host = self.server_url.rsplit_once('@').map(|(_, rest)| rest).unwrap_or("127.0.0.1:3306/test");
        let host = host.split('/').next().unwrap_or("127.0.0.1:3306");
        format!("mysql://{name}:outage@{host}/{name}", name = self.name)
    }

    async fn grant(&mut self) {
        for host in ["%", "localhost"] {
            let sql = format!("GRANT ALL PRIVILEGES ON {0}.* TO '{0}'@'{host}'", self.name);
            self.root.execute(AssertSqlSafe(sql)).await.expect("grant");
        }
    }

    /// Takes the user's grants away and cuts its open connections.
    async fn revoke_and_cut(&mut self) {
        for host in ["%", "localhost"] {
            let sql = format!("REVOKE ALL PRIVILEGES ON {0}.* FROM '{0}'@'{host}'", self.name);
            self.root.execute(AssertSqlSafe(sql)).await.expect("revoke");
        }
        let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM information_schema.processlist WHERE user = ?")
            .bind(&self.name)
            .fetch_all(&mut self.root)
            .await
            .expect("list connections");
        for (id,) in ids {
            let _ = self.root.execute(AssertSqlSafe(format!("KILL {id}"))).await;
        }
    }

    async fn drop_all(mut self) {
        let _ = self.root.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {}", self.name))).await;
        for host in ["%", "localhost"] {
            let _ = self.root.execute(AssertSqlSafe(format!("DROP USER IF EXISTS '{}'@'{host}'", self.name))).await;
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_pause_and_resume_when_mysql_goes_away() {
    let Some(server_url) = service_url(MYSQL_URL, "the MySQL outage test") else { return };
    let mut scratch = Scratch::create(&server_url).await;
    let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let clock = start_clock();
    let database = Database::MySql { url: scratch.url() };
    let server =
        TestServer::boot_database(EngineSettings::default(), database.clone(), Arc::clone(&data_dir), clock.clone())
            .await;
    let mut booking = server.booking().await;
    let mut acknowledged = Vec::new();
    for n in 0..10u32 {
        let id = resident_id(n);
        let request = hold_request(&format!("before{n}"), "olga", "G1", "VNP", "AOH", SeatClass::Second, &[&id]);
        acknowledged.push(booking.hold(request).await.expect("hold before the outage").into_inner().order_id);
    }

    scratch.revoke_and_cut().await;
    let mut refused = 0;
    for n in 0..5u32 {
        let id = resident_id(100 + n);
        let request = hold_request(&format!("during{n}"), "olga", "G1", "VNP", "AOH", SeatClass::Second, &[&id]);
        match booking.hold(request).await {
            Ok(order) => acknowledged.push(order.into_inner().order_id),
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "writes are refused while the database is away");
    let search =
        pb::SearchTrainsRequest { date: TOMORROW.into(), from_station: "VNP".into(), to_station: "AOH".into() };
    assert!(!booking.search_trains(search).await.expect("reads keep working").into_inner().trains.is_empty());

    scratch.grant().await;
    let started = Instant::now();
    let resumed_order = loop {
        let request = hold_request("after", "olga", "G1", "VNP", "AOH", SeatClass::Second, &[&resident_id(200)]);
        match booking.hold(request).await {
            Ok(order) => break order.into_inner().order_id,
            Err(status) if status.code() == Code::Unavailable && started.elapsed() < RESUME_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("writes did not resume: {status:?}"),
        }
    };
    acknowledged.push(resumed_order);

    let (data_dir, clock) = server.stop().await;
    let server = TestServer::boot_database(EngineSettings::default(), database, data_dir, clock).await;
    let mut booking = server.booking().await;
    for order_id in &acknowledged {
        let request = pb::GetOrderRequest { order_id: order_id.clone(), ..Default::default() };
        booking
            .get_order(request)
            .await
            .unwrap_or_else(|status| panic!("acknowledged order {order_id} lost: {status}"));
    }
    server.stop().await;
    scratch.drop_all().await;
}
