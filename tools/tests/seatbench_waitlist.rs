//! `seatbench --mode waitlist` end to end, small: a seatd (the library
//! seatd runs, served on port 0 over SQLite in a temp dir, the demo loaded,
//! on the real clock) and the seatbench binary against it, with a few
//! hundred requests and two seconds of refunds. The run must serve waiting
//! passengers, pass both of its audits and say so in its results, so the
//! scenario's code cannot rot between benchmark runs.

use api::admission::{Admission, RateLimits};
use api::auth::{Authenticator, Role, mint_hs256, unix_now_secs};
use api::boot::{BootConfig, boot};
use api::config::SeatdConfig;
use api::server::ServeOptions;
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &[u8] = b"seatbench-waitlist-test-secret-0123456789";
/// Longest the whole seatbench run may take: set-up, two seconds of
/// refunds, settling and the audit of a few hundred orders.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waitlist_scenario_serves_waiting_passengers_and_passes_its_audits() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = SeatdConfig { data_dir: data_dir.path().to_owned(), ..SeatdConfig::default() };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let booted = boot(BootConfig::from_config(&config), Arc::clone(&clock)).await.expect("boots");
    api::demo::load_demo(&booted.engine, service_date_of(clock.now_ms())).await.expect("demo loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port 0");
    let address = listener.local_addr().expect("bound");
    let options = ServeOptions {
        authenticator: Authenticator::new(Some(SECRET), None).expect("secret long enough"),
        admission: Admission::new(RateLimits::default()),
        writer_stats: Some(Arc::clone(&booted.writer_stats)),
        tls: None,
        cluster: None,
        feed: Some(api::feed::FeedOptions {
            source: booted.feed,
            commits: booted.writer_stats.subscribe_commits(),
            streams_max: api::feed::FEED_STREAMS_MAX_DEFAULT,
        }),
        watch_limits: config.watch_limits,
        board_demo_token: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(api::server::serve(listener, Arc::clone(&booted.engine), options, async {
        let _ = stopped.await;
    }));

    let results_file = data_dir.path().join("results.json");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_seatbench"))
        .args(["--mode", "waitlist", "--server", &format!("http://{address}")])
        .args(["--requests", "200", "--refunds-per-sec", "40", "--duration-secs", "2", "--seat-class", "business"])
        .args(["--clients", "8", "--connections", "2", "--settle-secs", "20", "--setup-secs", "60"])
        .arg("--out")
        .arg(&results_file)
        .env("SEATBENCH_TOKEN", mint_hs256(SECRET, "bench", Role::Admin, unix_now_secs(), 3600))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(RUN_TIMEOUT, run).await.expect("seatbench finishes in time").expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "seatbench failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results_file).expect("results written")).expect("JSON");
    assert_eq!(results["requests_activated"], 200, "{stdout}");
    assert!(results["fulfilled_by_refunds"].as_u64().unwrap_or(0) > 0, "the refunds served someone: {stdout}");
    assert!(results["refund_to_order_ms"]["count"].as_u64().unwrap_or(0) > 0, "latency measured: {stdout}");
    assert_eq!(results["settled"], true, "{stdout}");
    assert_eq!(results["queue_checks"]["problem_count"], 0, "{stdout}");
    assert!(results["queue_checks"]["reservations"].as_u64().unwrap_or(0) > 0, "{stdout}");
    assert_eq!(results["audit"]["problem_count"], 0, "{stdout}");
    assert!(stdout.contains("audit, queue (feed, brute force)") && stdout.contains("PASSED"), "{stdout}");

    let _ = stop.send(());
    served.await.expect("server task").expect("served cleanly");
}
