//! basebench: closed-loop load against a target (the MySQL classic or Redis +
//! Lua baseline, or the engine itself in-process on a MySQL journal), with
//! the engine benchmarks' demand, spread over many train-dates, and an audit
//! at the end.
//!
//! It makes its own state (a uniquely named database, or a unique key prefix),
//! opens `--train-dates` train-dates of the benchmark train, runs `--clients`
//! clients for `--duration-secs`, audits every train-date and every
//! acknowledged order, removes its state, and reports throughput, latency
//! percentiles and the outcome mix (and JSON with `--out`). A failed audit
//! exits non-zero.
//!
//! Modules: `args` (the command line), `setup` (each target's state before
//! and after), `drive` (open, load, audit), `client` (one client's loop),
//! `requests` (the demand mixes), `tally` (what clients saw), `report`
//! (printed and JSON results), `train_dates` (names and dates of the run's
//! train-dates).

mod args;
mod client;
mod drive;
mod report;
mod requests;
mod setup;
mod tally;
mod train_dates;

use args::{Args, Target};
use clap::Parser;
use seat_baselines::Layout;
use std::process::ExitCode;
use std::sync::Arc;

/// seatd's allocator, so the in-process engine (seat-engine) allocates as it
/// does in seatd; the baselines' clients get it too.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("basebench: AUDIT FAILED");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("basebench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up the target, runs, always cleans up, and reports; `Ok(false)` when
/// the audit failed.
async fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let layout = Arc::new(Layout::sixteen_car(args.stops));
    let started_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let tag = format!("basebench_{}_{started_ms}", std::process::id());
    match args.target {
        Target::MysqlClassic => setup::run_mysql_classic(&args, &layout, &tag).await,
        Target::RedisLua => setup::run_redis_lua(&args, &layout, &tag).await,
        Target::SeatEngine => setup::run_seat_engine(&args, &layout, &tag).await,
    }
}
