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

use crash::{Backend, crash_rounds, on_mysql, run_rounds};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_rounds(Backend::Sqlite(dir.path().to_owned()), crash_rounds(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_survives_kill_9() {
    on_mysql("the MySQL crash test", "seat_crash", |backend| run_rounds(backend, crash_rounds(5))).await;
}
