//! Crash test: seatd runs as a child process on a real database while
//! clients book, confirm and cancel; it is SIGKILLed at random moments and
//! restarted on the same database. After every restart:
//! - every reply the clients saw succeed is there;
//! - no seat segment is sold twice, and counts equal a recount from the orders;
//! - retrying an acknowledged hold returns the original order.
//!
//! SQLite always runs; MySQL runs when MYSQL_URL is set (its own database),
//! and fails under `CI=true` when it is not.
//! `CRASH_ROUNDS` (default 5) sets the rounds, for longer soak runs.

#[allow(dead_code)] // the harness also serves graceful_shutdown.rs
mod crash;

use crash::{Backend, run_rounds};
use persistence::test_env::{MYSQL_URL, service_url};

fn rounds() -> usize {
    std::env::var("CRASH_ROUNDS").ok().and_then(|rounds| rounds.parse().ok()).unwrap_or(5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_rounds(Backend::Sqlite(dir.path().to_owned()), rounds()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_survives_kill_9() {
    let Some(server_url) = service_url(MYSQL_URL, "the MySQL crash test") else { return };
    let name = format!("seat_crash_{}_{}", std::process::id(), rand::random::<u32>());
    persistence::test_support::create_database(&server_url, &name).await.expect("create test database");
    let url = persistence::test_support::database_url(&server_url, &name);
    let dir = tempfile::tempdir().expect("temp dir");
    run_rounds(Backend::MySql(url, dir.path().to_owned()), rounds()).await;
    persistence::test_support::drop_database(&server_url, &name).await.expect("drop test database");
}
