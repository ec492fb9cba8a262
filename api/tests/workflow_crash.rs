//! Crash test of the waitlist (候补) and ticket-change (改签) workflows: seatd
//! runs as a child process on a real database; business class is sold out
//! on G1 and G3 two and three days ahead and waitlist requests (one to three
//! passengers, one or two of those train-dates each) are queued on them.
//! Then, round after round, clients refund orders (whose seats fulfil
//! waiting requests, possibly on the other date), cancel and submit
//! requests, change orders across train-dates (to G7, which commits, or to
//! the other waited train, which aborts), in place, and while a refund of
//! the same order races the change; seatd is SIGKILLed at a random point
//! among their replies, so in the middle of the steps they set off, and
//! restarted on the same database.
//!
//! Why: every workflow step is its own durable decision on one train-date,
//! and what one step asks of the next is never stored, only derived; a
//! crash between two steps is healed by the start-up resending what the
//! stored states still owe (`Engine::start_workflows`). This test checks
//! that from the outside. After every restart it waits (bounded) until the
//! journal shows no step owed, then audits the journal and the API:
//! - every workflow finished or was undone: no seats reserved for a choice
//!   or pending for a change, no request granted and not fulfilled, no
//!   change without an outcome on both train-dates;
//! - no seat segment sold twice, every taken seat a live ticket's, counts
//!   equal a recount;
//! - each request fulfilled at most once (one grant, one order), with the
//!   refund of the prepayment less its fare, and every queue served first
//!   come first served (by activation, among the choices that had joined
//!   and that the freed seats fitted); no seat free while a party it fits waits;
//! - each change leaves every passenger exactly one ticket (never both the
//!   old and the new, never neither), and ends as its reply said;
//! - every call acknowledged is there; one refused or unanswered is
//!   allowed for both ways; every Submit (each carries a client key),
//!   repeated after the restart, answers the request the first one
//!   recorded, and no user has two.
//!
//! SQLite always runs; MySQL runs when MYSQL_URL is set (its own database),
//! and fails under `CI=true` when it is not. `CRASH_ROUNDS` (default 3) sets
//! the rounds, for longer soak runs; each round sells out again and queues
//! new requests, so every round has as much to do.

#[allow(dead_code)] // the harness also serves the booking crash tests
mod crash;

use crash::workflow::run_rounds;
use crash::{Backend, crash_rounds, on_mysql};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_workflows_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_rounds(Backend::Sqlite(dir.path().to_owned()), crash_rounds(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_workflows_survive_kill_9() {
    on_mysql("the MySQL workflow crash test", "seat_wf_crash", |backend| run_rounds(backend, crash_rounds(3))).await;
}
