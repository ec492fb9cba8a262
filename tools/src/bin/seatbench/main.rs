//! seatbench: drives a running seatd over gRPC and proves what it did.
//!
//! Closed loop (N clients, one operation each in flight) or open loop (a
//! fixed arrival rate; latency counted from each arrival's intended time, so
//! queueing is not hidden by coordinated omission), or the waitlist
//! scenario (`waitlist`: a sold-out train, a long waitlist and a stream of
//! refunds; refund → confirmed order latency). Demand is seeded: the
//! same seed gives the same requests. At the end every acknowledged order is
//! read back and audited; a failed audit fails the run. Results go to the
//! terminal and, with --out, to a JSON file.

mod audit;
mod client;
mod demand;
mod load;
mod waitlist;

use api::pb;
use clap::{Parser, ValueEnum};
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use indicatif::{ProgressBar, ProgressStyle};
use load::{LoadPlan, Recorder};
use seat_benches::latency::LatencyMs;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Closed,
    Open,
    /// One class sold out, --requests waiting, refunds at --refunds-per-sec.
    Waitlist,
}

#[derive(Parser, Debug)]
#[command(name = "seatbench", about = "Load, latency and audit for seatd")]
struct Args {
    /// seatd to load; a comma-separated list (the nodes of a cluster)
    /// spreads the connections over them in turn. Admin calls and the audit
    /// go to the first.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    #[arg(long, value_enum, default_value = "closed")]
    mode: Mode,
    /// Closed loop: concurrent clients, each with one operation in flight.
    /// Waitlist mode: clients selling out and queuing requests at once.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Open loop: operations (a hold and its follow-ups) started per second.
    #[arg(long, default_value_t = 5000)]
    rate: u64,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long the load runs; in waitlist mode, the refund stream.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Percent of held orders then confirmed.
    #[arg(long, default_value_t = 50)]
    confirm_percent: u32,
    /// Percent of held orders then cancelled (after any confirm).
    #[arg(long, default_value_t = 20)]
    cancel_percent: u32,
    /// Spread over the demo train-dates from tomorrow for this many days.
    #[arg(long, default_value_t = 14)]
    days: u64,
    /// Flash sale: everyone books this one train tomorrow.
    #[arg(long)]
    flash_sale_train: Option<String>,
    /// Book on a `seatsynth timetable` network of this many trains (with
    /// the generator's defaults of 24 stops over 600 stations) instead of the
    /// demo trains, spreading load over every train-date.
    #[arg(long)]
    synthetic_trains: Option<usize>,
    /// Journeys and groups asked for on the synthetic network: `realistic`
    /// favours long trips, groups and all three classes (see demand.rs).
    #[arg(long, value_enum, default_value = "uniform", requires = "synthetic_trains")]
    journey_mix: demand::JourneyMix,
    /// Stop after this many holds in all, each client sending an equal
    /// share (or at --duration-secs, if sooner): with the same seed and
    /// --clients, every run sends the same requests.
    #[arg(long)]
    holds: Option<u64>,
    /// Demand seed; the same seed replays the same requests.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skip reading every order back at the end (the audit).
    #[arg(long)]
    no_audit: bool,
    /// Name for this run in the JSON results (plots group runs by it).
    #[arg(long, default_value = "seatd")]
    label: String,
    /// Write the results as JSON here too.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Bearer token (agent or admin); default: the demo's tokens file.
    #[arg(long, env = "SEATBENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, default_value = "./data/demo-tokens.json")]
    tokens_file: std::path::PathBuf,
    #[command(flatten)]
    waitlist: waitlist::WaitlistArgs,
}

#[derive(serde::Serialize)]
struct Results {
    label: String,
    mode: Mode,
    clients: usize,
    rate: u64,
    duration_secs: f64,
    seed: u64,
    journey_mix: Option<demand::JourneyMix>,
    holds_budget: Option<u64>,
    passengers: load::Passengers,
    acknowledged_writes: u64,
    writes_per_sec: f64,
    latency_ms: LatencyMs,
    outcomes: std::collections::BTreeMap<String, u64>,
    generator_dropped: u64,
    journal_commits: u64,
    journal_events: u64,
    audit: Option<audit::BenchAudit>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("AUDIT FAILED");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("seatbench: {error}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let (booking_token, admin_token) = client::tokens(args.token.as_deref(), &args.tokens_file)?;
    if args.mode == Mode::Waitlist {
        let common = waitlist::Common {
            server: &args.server,
            connections: args.connections,
            clients: args.clients,
            duration: Duration::from_secs(args.duration_secs),
            seed: args.seed,
            booking_token: &booking_token,
            admin_token: &admin_token,
            audit: !args.no_audit,
            out: args.out.as_deref(),
        };
        return waitlist::run(&args.waitlist, common).await;
    }
    let channels = client::connect(&args.server, args.connections, &booking_token).await?;
    let first_server = args.server.split(',').next().unwrap_or_default();
    let mut admin = client::admin(first_server, &admin_token).await?;
    let before = admin.stats(pb::StatsRequest {}).await.map_err(|status| status.to_string())?.into_inner();
    let plan = LoadPlan {
        seed: args.seed,
        days: if args.flash_sale_train.is_some() { 1 } else { args.days },
        first_date: service_date_of(SystemClock.now_ms()) + chrono::Days::new(1),
        flash_sale_train: args.flash_sale_train.clone(),
        synthetic: synthetic(&args),
        confirm_percent: args.confirm_percent,
        cancel_percent: args.cancel_percent,
        duration: Duration::from_secs(args.duration_secs),
        holds: args.holds,
    };
    let progress = ProgressBar::new(plan.duration.as_millis() as u64);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {msg}").expect("template").progress_chars("=> "),
    );
    let started = Instant::now();
    let recorder = match args.mode {
        Mode::Closed => load::closed_loop(&channels, args.clients, &plan, &progress).await,
        Mode::Open => load::open_loop(&channels, args.rate, &plan, &progress).await,
        Mode::Waitlist => unreachable!("the waitlist scenario returned above"),
    };
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let after = admin.stats(pb::StatsRequest {}).await.map_err(|status| status.to_string())?.into_inner();
    let audit = if args.no_audit {
        None
    } else {
        // Counts equal a recount only if these orders are all the server has.
        let fresh = before.orders == 0;
        let mut booking = channels[0].clone();
        Some(audit::audit(&mut booking, &recorder.orders, fresh, synthetic(&args)).await)
    };
    let results = results(&args, elapsed, recorder, &before, &after, audit);
    print_results(&args, &results, &before, &after);
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&results).expect("results serialise");
        std::fs::write(path, json).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(results.audit.as_ref().is_none_or(|audit| audit.checks.ok()))
}

/// The `seatsynth timetable` network booked on, with its generator defaults.
fn synthetic(args: &Args) -> Option<demand::Synthetic> {
    let mix = args.journey_mix;
    args.synthetic_trains.map(|trains| demand::Synthetic { trains, stops: 24, stations: 600, mix })
}

fn results(
    args: &Args,
    elapsed: f64,
    recorder: Recorder,
    before: &pb::StatsResponse,
    after: &pb::StatsResponse,
    audit: Option<audit::BenchAudit>,
) -> Results {
    Results {
        label: args.label.clone(),
        mode: args.mode,
        clients: args.clients,
        rate: args.rate,
        duration_secs: elapsed,
        seed: args.seed,
        journey_mix: args.synthetic_trains.map(|_| args.journey_mix),
        holds_budget: args.holds,
        passengers: recorder.passengers,
        acknowledged_writes: recorder.writes_ok,
        writes_per_sec: recorder.writes_ok as f64 / elapsed,
        latency_ms: LatencyMs::of(&recorder.latency_us),
        outcomes: recorder.outcomes,
        generator_dropped: recorder.generator_dropped,
        journal_commits: after.journal_batches - before.journal_batches,
        journal_events: after.journal_events - before.journal_events,
        audit,
    }
}

fn print_results(args: &Args, results: &Results, before: &pb::StatsResponse, after: &pb::StatsResponse) {
    let load = match args.mode {
        Mode::Closed => format!("{} clients", args.clients),
        Mode::Open => format!("open loop at {} operations/s", args.rate),
        Mode::Waitlist => unreachable!("the waitlist scenario prints its own results"),
    };
    println!("seatbench: {load} for {:.1} s against {} (seed {})", results.duration_secs, args.server, args.seed);
    println!("acknowledged writes: {} ({:.0}/s)", results.acknowledged_writes, results.writes_per_sec);
    let l = &results.latency_ms;
    println!(
        "write latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p999 {:.2}  max {:.2}",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
    let p = &results.passengers;
    println!(
        "passengers: {} requested, {} seated, {} refused SOLD_OUT, {} of them while every segment had seats free",
        p.requested, p.seated, p.refused_sold_out, p.refused_segments_free
    );
    println!("outcomes:");
    for (outcome, count) in &results.outcomes {
        println!("  {outcome:<40} {count}");
    }
    if results.generator_dropped > 0 {
        println!("  generator could not keep up; arrivals dropped: {}", results.generator_dropped);
    }
    println!(
        "journal: {} group commits, {} events, {:.1} events/commit, mean commit {} µs",
        results.journal_commits,
        results.journal_events,
        results.journal_events as f64 / results.journal_commits.max(1) as f64,
        after.journal_commit_micros_mean
    );
    let sizes: Vec<String> = after
        .journal_batch_sizes
        .iter()
        .enumerate()
        .map(|(bucket, count)| (bucket, count - before.journal_batch_sizes.get(bucket).copied().unwrap_or(0)))
        .filter(|(_, count)| *count > 0)
        .map(|(bucket, count)| format!("{}-{}: {count}", 1u64 << bucket, (1u64 << (bucket + 1)) - 1))
        .collect();
    println!("batch sizes (events/commit): {}", sizes.join(", "));
    if let Some(audit) = &results.audit {
        let checks = &audit.checks;
        println!(
            "audit: {} orders read back, {} train-dates, {} seats, {} live tickets, {} counts recounted, \
             seat-km yield {:.1}%: {}",
            checks.acked_orders,
            checks.train_dates,
            checks.seats,
            checks.live_tickets,
            checks.counts,
            audit.seat_km_yield * 100.0,
            if checks.ok() { "PASSED".to_owned() } else { format!("{} FAILURES", checks.problem_count) }
        );
        if let Some(why) = &audit.skipped {
            println!("  seats and counts not checked: {why}");
        }
        for problem in checks.problems.iter().take(20) {
            println!("  {problem}");
        }
    }
}
