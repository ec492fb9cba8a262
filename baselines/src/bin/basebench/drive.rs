//! The run itself: open the train-dates, run the clients for the duration,
//! audit, and report.

use crate::args::Args;
use crate::client::{ClientContext, client_loop};
use crate::report::{Report, Timings};
use crate::tally::Tally;
use crate::train_dates::train_date_names;
use seat_baselines::{Baseline, BaselineError, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Train-dates opened at once during setup: enough to keep the server busy,
/// few enough that each open stays one short transaction.
const OPEN_CONCURRENCY: usize = 8;

/// Seconds between progress lines on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Opens the train-dates, runs the clients, audits, and prints the report;
/// `Ok(false)` when the audit failed.
pub async fn drive(
    args: &Args,
    layout: &Arc<Layout>,
    baseline: Baseline,
    durability: serde_json::Value,
) -> Result<bool, Box<dyn std::error::Error>> {
    let names = Arc::new(train_date_names(args.train_dates));
    let setup_secs = open_train_dates(&baseline, layout, &names).await?;
    eprintln!(
        "{}: opened {} train-dates of {} seats in {setup_secs:.1} s; {} clients for {} s",
        baseline.name(),
        names.len(),
        layout.seats().len(),
        args.clients,
        args.duration_secs
    );
    let (tally, elapsed_secs) = run_clients(args, layout, &baseline, &names).await?;

    eprintln!("auditing {} train-dates and {} acknowledged orders...", names.len(), tally.acked.len());
    let audit = baseline.audit(&tally.acked).await?;
    let timings = Timings { setup_secs, elapsed_secs };
    let report = Report::new(args, layout, names.len(), timings, &tally, audit, durability);
    report.print();
    if let Some(path) = &args.out {
        report.write_json(path)?;
    }
    Ok(report.audit_ok())
}

/// Opens every train-date, [`OPEN_CONCURRENCY`] at a time; the seconds it took.
async fn open_train_dates(
    baseline: &Baseline,
    layout: &Arc<Layout>,
    names: &[String],
) -> Result<f64, Box<dyn std::error::Error>> {
    let setup = Instant::now();
    let mut opening = JoinSet::new();
    for chunk in names.chunks(names.len().div_ceil(OPEN_CONCURRENCY)) {
        let (baseline, layout, chunk) = (baseline.clone(), Arc::clone(layout), chunk.to_vec());
        opening.spawn(async move {
            for name in chunk {
                baseline.open_train_date(&name, &layout).await?;
            }
            Ok::<_, BaselineError>(())
        });
    }
    while let Some(opened) = opening.join_next().await {
        opened??;
    }
    Ok(setup.elapsed().as_secs_f64())
}

/// Runs `--clients` clients for `--duration-secs`, printing progress; their
/// merged tally and the seconds the load really took.
async fn run_clients(
    args: &Args,
    layout: &Layout,
    baseline: &Baseline,
    names: &Arc<Vec<String>>,
) -> Result<(Tally, f64), Box<dyn std::error::Error>> {
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for client in 0..args.clients {
        let context = ClientContext {
            baseline: baseline.clone(),
            names: Arc::clone(names),
            stop: Arc::clone(&stop),
            answered: Arc::clone(&answered),
            client,
            seed: args.seed,
            stops: layout.stop_count(),
            demand: args.demand,
            confirm_percent: args.confirm_percent,
            cancel_percent: args.cancel_percent,
        };
        clients.spawn(client_loop(context));
    }
    report_progress(started, Duration::from_secs(args.duration_secs), &answered).await;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::new();
    while let Some(client) = clients.join_next().await {
        tally.merge(client?);
    }
    Ok((tally, started.elapsed().as_secs_f64()))
}

/// Waits out the run's `duration` from `started`, printing the requests
/// answered every [`PROGRESS_EVERY`].
async fn report_progress(started: Instant, duration: Duration, answered: &AtomicU64) {
    let deadline = started + duration;
    while Instant::now() < deadline {
        tokio::time::sleep(PROGRESS_EVERY.min(deadline.saturating_duration_since(Instant::now()))).await;
        let elapsed = started.elapsed().as_secs_f64();
        eprintln!("  {elapsed:5.1} s: {} requests answered", answered.load(Ordering::Relaxed));
    }
}
