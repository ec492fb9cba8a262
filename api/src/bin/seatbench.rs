//! seatbench: closed-loop booking load against a running seatd.
//!
//! N clients each hold seats (1–2 passengers, mostly second class) on random
//! demo train-dates, confirm some and cancel some, for a fixed time, then
//! report throughput, latency percentiles, the error mix and the server's
//! group-commit figures.

use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::{self, SeatClass};
use clap::Parser;
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tonic::transport::Channel;

#[derive(Parser, Debug)]
#[command(name = "seatbench", about = "Closed-loop booking load for seatd")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Percent of held orders then confirmed.
    #[arg(long, default_value_t = 50)]
    confirm_percent: u32,
    /// Percent of held orders then cancelled (after any confirm), returning seats.
    #[arg(long, default_value_t = 20)]
    cancel_percent: u32,
    /// Spread load over the demo train-dates from tomorrow for this many days.
    #[arg(long, default_value_t = 14)]
    days: u64,
    /// Flash sale: every client books this one train (tomorrow) instead of
    /// spreading over all demo trains and dates.
    #[arg(long)]
    flash_sale_train: Option<String>,
    /// An admin (or agent) bearer token; default: the agent and admin tokens
    /// `seatd --demo` wrote to --tokens-file.
    #[arg(long, env = "SEATBENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, default_value = "./data/demo-tokens.json")]
    tokens_file: std::path::PathBuf,
}

/// Adds the bearer token to every call.
#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

impl Bearer {
    fn new(token: &str) -> Result<Self, Box<dyn std::error::Error>> {
        Ok(Bearer(format!("Bearer {}", token.trim()).parse()?))
    }
}

type Booking = BookingClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

/// (booking token, stats token).
fn tokens(args: &Args) -> Result<(String, String), Box<dyn std::error::Error>> {
    if let Some(token) = &args.token {
        return Ok((token.clone(), token.clone()));
    }
    let text = std::fs::read_to_string(&args.tokens_file).map_err(|error| {
        format!("{}: {error} (pass --token, or run beside seatd --demo)", args.tokens_file.display())
    })?;
    let tokens: api::demo::DemoTokens = serde_json::from_str(&text)?;
    Ok((tokens.agent, tokens.admin))
}

/// Every demo train calls at these, in this order southbound.
const STATIONS: [&str; 4] = ["VNP", "JGK", "NKH", "AOH"];
const SOUTHBOUND: [&str; 6] = ["G1", "G3", "G7", "G101", "G111", "D701"];
const NORTHBOUND: [&str; 6] = ["G2", "G4", "G8", "G102", "G112", "D702"];

#[derive(Default)]
struct ClientReport {
    /// Latency of every acknowledged write, in microseconds.
    latency_us: Option<Histogram<u64>>,
    writes_ok: u64,
    outcomes: BTreeMap<String, u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let channel = Channel::from_shared(args.server.clone())?.connect().await?;
    let (booking_token, stats_token) = tokens(&args)?;
    let mut admin = AdminClient::with_interceptor(channel.clone(), Bearer::new(&stats_token)?);
    let before = admin.stats(pb::StatsRequest {}).await?.into_inner();
    let stop = Arc::new(AtomicBool::new(false));
    // Random start, so runs against the same server rarely reuse a passenger.
    let serial = Arc::new(AtomicU64::new(rand::random::<u64>() >> 8));
    let mut clients = JoinSet::new();
    let tomorrow = service_date_of(SystemClock.now_ms()) + chrono::Days::new(1);
    let started = Instant::now();
    for client in 0..args.clients {
        let booking = BookingClient::with_interceptor(channel.clone(), Bearer::new(&booking_token)?);
        let (stop, serial) = (Arc::clone(&stop), Arc::clone(&serial));
        let days = if args.flash_sale_train.is_some() { 1 } else { args.days.max(1) };
        let plan = (args.confirm_percent, args.cancel_percent, days, tomorrow, args.flash_sale_train.clone());
        clients.spawn(client_loop(booking, client, plan, stop, serial));
    }
    tokio::time::sleep(Duration::from_secs(args.duration_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latency = Histogram::<u64>::new(3)?;
    let (mut writes, mut outcomes) = (0u64, BTreeMap::new());
    while let Some(report) = clients.join_next().await {
        let report = report?;
        if let Some(histogram) = report.latency_us {
            latency.add(histogram)?;
        }
        writes += report.writes_ok;
        for (outcome, count) in report.outcomes {
            *outcomes.entry(outcome).or_insert(0) += count;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = admin.stats(pb::StatsRequest {}).await?.into_inner();
    print_report(&args, elapsed, writes, &latency, &outcomes, &before, &after);
    Ok(())
}

async fn client_loop(
    mut booking: Booking,
    client: usize,
    (confirm_percent, cancel_percent, days, first_date, only_train): (u32, u32, u64, chrono::NaiveDate, Option<String>),
    stop: Arc<AtomicBool>,
    serial: Arc<AtomicU64>,
) -> ClientReport {
    let mut report = ClientReport { latency_us: Histogram::new(3).ok(), ..ClientReport::default() };
    let run = rand::random::<u32>();
    let mut attempt = 0u64;
    while !stop.load(Ordering::Relaxed) {
        attempt += 1;
        // A user per order, as real demand is many people booking once each;
        // one user booking thousands of times a second would be rate limited.
        let user = format!("bench-{run}-{client}-{attempt}");
        let mut request = random_hold(&user, attempt, &serial, days, first_date);
        if let Some(train) = &only_train {
            aim_at(&mut request, train);
        }
        let Some(order) = timed(&mut report, "hold", booking.hold(request)).await else { continue };
        if rand::random::<u32>() % 100 < confirm_percent {
            let confirm = pb::ConfirmRequest { order_id: order.order_id.clone(), user_id: user.clone() };
            timed(&mut report, "confirm", booking.confirm(confirm)).await;
        }
        if rand::random::<u32>() % 100 < cancel_percent {
            let cancel = pb::CancelRequest { order_id: order.order_id.clone(), user_id: user.clone() };
            timed(&mut report, "cancel", booking.cancel(cancel)).await;
        }
    }
    report
}

async fn timed(
    report: &mut ClientReport,
    what: &str,
    call: impl std::future::Future<Output = Result<tonic::Response<pb::Order>, tonic::Status>>,
) -> Option<pb::Order> {
    let started = Instant::now();
    let outcome = call.await;
    let key = match &outcome {
        Ok(_) => format!("{what} OK"),
        Err(status) => format!("{what} {:?} {}", status.code(), api::status::reason_of(status).unwrap_or_default()),
    };
    *report.outcomes.entry(key).or_insert(0) += 1;
    let order = outcome.ok()?.into_inner();
    report.writes_ok += 1;
    if let Some(histogram) = &mut report.latency_us {
        let _ = histogram.record(started.elapsed().as_micros() as u64);
    }
    Some(order)
}

fn random_hold(
    user: &str,
    attempt: u64,
    serial: &AtomicU64,
    days: u64,
    first_date: chrono::NaiveDate,
) -> pb::HoldRequest {
    let southbound = rand::random::<bool>();
    let trains = if southbound { SOUTHBOUND } else { NORTHBOUND };
    let train = trains[rand::random::<u32>() as usize % trains.len()];
    let date = first_date + chrono::Days::new(rand::random::<u64>() % days);
    let from = rand::random::<u32>() as usize % 3;
    let to = from + 1 + rand::random::<u32>() as usize % (3 - from);
    // Northbound trains call at the same stations in reverse.
    let (from, to) = if southbound { (STATIONS[from], STATIONS[to]) } else { (STATIONS[3 - from], STATIONS[3 - to]) };
    let class = if train.starts_with('D') {
        SeatClass::Second
    } else {
        match rand::random::<u32>() % 20 {
            0 => SeatClass::Business,
            1..=3 => SeatClass::First,
            _ => SeatClass::Second,
        }
    };
    let passengers = 1 + u32::from(rand::random::<u32>().is_multiple_of(4));
    pb::HoldRequest {
        request_id: format!("{user}-{attempt}"),
        user_id: user.to_owned(),
        train_date: Some(pb::TrainDate { train: train.into(), date: date.to_string() }),
        from_station: from.into(),
        to_station: to.into(),
        passengers: (0..passengers)
            .map(|_| pb::PassengerRequest {
                name: "Bench".into(),
                id_number: api::convert::synthetic_resident_id(serial.fetch_add(1, Ordering::Relaxed)),
                seat_class: class.into(),
                ..Default::default()
            })
            .collect(),
    }
}

/// Points a hold at one train, keeping the journey in its direction.
fn aim_at(request: &mut pb::HoldRequest, train: &str) {
    let southbound = train.trim_start_matches(char::is_alphabetic).parse::<u32>().is_ok_and(|number| number % 2 == 1);
    let goes_south = STATIONS.iter().position(|s| *s == request.from_station)
        < STATIONS.iter().position(|s| *s == request.to_station);
    if southbound != goes_south {
        std::mem::swap(&mut request.from_station, &mut request.to_station);
    }
    if let Some(train_date) = &mut request.train_date {
        train_date.train = train.to_owned();
    }
}

fn print_report(
    args: &Args,
    elapsed_secs: f64,
    writes: u64,
    latency: &Histogram<u64>,
    outcomes: &BTreeMap<String, u64>,
    before: &pb::StatsResponse,
    after: &pb::StatsResponse,
) {
    println!("seatbench: {} clients for {:.1} s against {}", args.clients, elapsed_secs, args.server);
    println!("acknowledged writes: {writes} ({:.0}/s)", writes as f64 / elapsed_secs);
    let ms = |quantile: f64| latency.value_at_quantile(quantile) as f64 / 1000.0;
    println!(
        "write latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p999 {:.2}  max {:.2}",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        latency.max() as f64 / 1000.0
    );
    println!("outcomes:");
    for (outcome, count) in outcomes {
        println!("  {outcome:<40} {count}");
    }
    let batches = after.journal_batches - before.journal_batches;
    let events = after.journal_events - before.journal_events;
    println!(
        "journal: {batches} group commits, {events} events, {:.1} events/commit, mean commit {} µs",
        events as f64 / batches.max(1) as f64,
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
}
