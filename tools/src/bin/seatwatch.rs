//! seatwatch: live-availability load for seatd. Opens many WatchAvailability
//! subscribers of the demo line's search, counts the updates they receive,
//! and (with --probe-holds) books probe holds on a train of its own and
//! measures how long each takes to reach the subscribers:
//! - hold acknowledged → update at one dedicated subscriber (p50/p99), and
//! - hold acknowledged → update at every one of the N subscribers (fan-out).
//!
//! Run it beside seatbench (a flash sale on another train) to see the cost
//! of the subscribers on bookings; docs/bench/watch.sh does all of that.

use api::pb::{self, watch_availability_request::Target};
use clap::Parser;
use engine::clock::{Clock, SystemClock};
use engine::domain::state::service_date_of;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Longest run allowed: every loop here is bounded in time.
const DURATION_SECS_MAX: u64 = 600;
/// Most subscribers one run opens.
const SUBSCRIBERS_MAX: usize = 20_000;
/// The demo line's ends: every demo train serves them.
const FROM: &str = "北京南";
const TO: &str = "上海虹桥";

#[derive(Parser, Debug)]
#[command(name = "seatwatch", about = "WatchAvailability fan-out and latency load for seatd")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Subscribers of the demo line's search for tomorrow.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// HTTP/2 connections the subscribers are spread over.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long the subscribers stay open, in seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Coarse watches (counts above 20 shown as plenty).
    #[arg(long)]
    coarse: bool,
    /// Probe holds, spread over the run, on --probe-train (which the load
    /// should leave alone), each measured to the subscribers.
    #[arg(long, default_value_t = 0)]
    probe_holds: u64,
    #[arg(long, default_value = "G3")]
    probe_train: String,
    /// Makes the probes' passenger IDs differ between runs on one server.
    #[arg(long)]
    seed: Option<u64>,
    /// Bearer token (agent or admin); default: the demo's agent token.
    #[arg(long, env = "SEATWATCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, default_value = "./data/demo-tokens.json")]
    tokens_file: std::path::PathBuf,
    /// Write the results as JSON here too.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// The probe in flight (set before its hold is sent: the view is published
/// when the actor applies the hold, which can be before the journal commit
/// acknowledges it): the count its train's second class must fall to.
#[derive(Clone, Copy)]
struct Probe {
    index: u64,
    left_at_most: u32,
}

/// What every subscriber shares.
struct Shared {
    probe_train: String,
    probe: Mutex<Option<Probe>>,
    /// (probe, when a subscriber saw it): at most one per subscriber and probe.
    deliveries: Mutex<Vec<(u64, Instant)>>,
    messages: AtomicU64,
    offers: AtomicU64,
    bytes: AtomicU64,
    refused: AtomicU64,
    /// Subscribers that have their first message.
    started: AtomicU64,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    if args.duration_secs > DURATION_SECS_MAX || args.subscribers > SUBSCRIBERS_MAX {
        return Err(format!("at most {DURATION_SECS_MAX} s and {SUBSCRIBERS_MAX} subscribers"));
    }
    let token = match &args.token {
        Some(token) => token.clone(),
        None => {
            let text = std::fs::read_to_string(&args.tokens_file).map_err(|e| format!("{e}: pass --token"))?;
            serde_json::from_str::<api::demo::DemoTokens>(&text).map_err(|e| e.to_string())?.agent
        }
    };
    let date = (service_date_of(SystemClock.now_ms()) + chrono::Days::new(1)).to_string();
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(
            Channel::from_shared(args.server.clone())
                .map_err(|e| e.to_string())?
                .connect()
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let shared = Arc::new(Shared {
        probe_train: args.probe_train.clone(),
        probe: Mutex::new(None),
        deliveries: Mutex::new(Vec::new()),
        messages: AtomicU64::new(0),
        offers: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        started: AtomicU64::new(0),
    });
    let run_for = Duration::from_secs(args.duration_secs);
    let started = Instant::now();
    let ends_at = started + run_for;
    let request = pb::WatchAvailabilityRequest {
        target: Some(Target::Search(pb::SearchTrainsRequest {
            date: date.clone(),
            from_station: FROM.into(),
            to_station: TO.into(),
        })),
        coarse: args.coarse,
    };
    let mut subscribers = tokio::task::JoinSet::new();
    for index in 0..args.subscribers {
        let client = booking(channels[index % channels.len()].clone(), &token)?;
        subscribers.spawn(subscribe(client, request.clone(), Arc::clone(&shared), ends_at));
    }
    // Every subscriber has its first message (or was refused) before any probe.
    while shared.started.load(Ordering::Relaxed) + shared.refused.load(Ordering::Relaxed) < args.subscribers as u64
        && Instant::now() < ends_at
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let opened = started.elapsed();
    let probe_client = booking(channels[0].clone(), &token)?;
    let (ack_us, sent_us, probed) = if args.probe_holds > 0 {
        probes(probe_client, &args, &date, &shared, ends_at).await?
    } else {
        tokio::time::sleep_until(ends_at.into()).await;
        (histogram(), histogram(), Vec::new())
    };
    let elapsed = started.elapsed().saturating_sub(opened).as_secs_f64().max(0.001);
    while subscribers.join_next().await.is_some() {}
    let messages = shared.messages.load(Ordering::Relaxed);
    // Every subscriber's delivery of each probe, from its acknowledgement
    // (0 when it arrived first) and from its sending.
    let (mut fan_out_ack, mut fan_out_sent) = (histogram(), histogram());
    for (index, seen) in shared.deliveries.lock().expect("deliveries").iter() {
        let Some((sent, acknowledged)) = probed.get(*index as usize) else { continue };
        let _ = fan_out_ack.record(seen.saturating_duration_since(*acknowledged).as_micros().max(1) as u64);
        let _ = fan_out_sent.record(seen.saturating_duration_since(*sent).as_micros().max(1) as u64);
    }
    let quantiles = |histogram: &Histogram<u64>| {
        serde_json::json!({
            "count": histogram.len(),
            "p50_ms": histogram.value_at_quantile(0.5) as f64 / 1000.0,
            "p99_ms": histogram.value_at_quantile(0.99) as f64 / 1000.0,
            "max_ms": histogram.max() as f64 / 1000.0,
        })
    };
    let results = serde_json::json!({
        "subscribers": args.subscribers,
        "connections": args.connections,
        "coarse": args.coarse,
        "open_secs": opened.as_secs_f64(),
        "elapsed_secs": elapsed,
        "messages": messages,
        "messages_per_sec": messages as f64 / elapsed,
        "offers_per_sec": shared.offers.load(Ordering::Relaxed) as f64 / elapsed,
        "bytes_per_sec": shared.bytes.load(Ordering::Relaxed) as f64 / elapsed,
        "refused_subscribers": shared.refused.load(Ordering::Relaxed),
        "probe_ack_to_update": quantiles(&ack_us),
        "probe_sent_to_update": quantiles(&sent_us),
        "probe_ack_to_every_subscriber": quantiles(&fan_out_ack),
        "probe_sent_to_every_subscriber": quantiles(&fan_out_sent),
    });
    let text = serde_json::to_string_pretty(&results).expect("json");
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

type Booking =
    pb::booking_client::BookingClient<tonic::service::interceptor::InterceptedService<Channel, Authorization>>;

#[derive(Clone)]
struct Authorization(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Authorization {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

fn booking(channel: Channel, token: &str) -> Result<Booking, String> {
    let value = format!("Bearer {}", token.trim()).parse().map_err(|_| "token is not header-safe".to_owned())?;
    Ok(pb::booking_client::BookingClient::with_interceptor(channel, Authorization(value)))
}

fn second_left(offer: &pb::TrainOffer) -> Option<u32> {
    offer.classes.iter().find(|class| class.seat_class == pb::SeatClass::Second as i32).map(|class| class.remaining)
}

/// One subscriber: reads every update until `ends_at`, recording when it
/// first sees each probe's hold.
async fn subscribe(mut client: Booking, request: pb::WatchAvailabilityRequest, shared: Arc<Shared>, ends_at: Instant) {
    let mut updates = match client.watch_availability(request).await {
        Ok(reply) => reply.into_inner(),
        Err(_) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut seen_probe = None;
    while let Ok(Ok(Some(update))) = tokio::time::timeout_at(ends_at.into(), updates.message()).await {
        let received = Instant::now();
        if update.initial {
            // The snapshot every subscriber starts from is not an update.
            shared.started.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        shared.messages.fetch_add(1, Ordering::Relaxed);
        shared.offers.fetch_add(update.trains.len() as u64, Ordering::Relaxed);
        shared.bytes.fetch_add(prost::Message::encoded_len(&update) as u64, Ordering::Relaxed);
        let probe = *shared.probe.lock().expect("probe");
        let Some(probe) = probe.filter(|probe| Some(probe.index) != seen_probe) else { continue };
        let probed = update.trains.iter().find(|offer| {
            offer.train_date.as_ref().is_some_and(|key| key.train == shared.probe_train)
                && second_left(offer).is_some_and(|left| left <= probe.left_at_most)
        });
        if probed.is_some() {
            seen_probe = Some(probe.index);
            shared.deliveries.lock().expect("deliveries").push((probe.index, received));
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Probe holds on the probe train, spread over the run; for each, the time
/// from its acknowledgement (and from its sending) to its update at a
/// subscriber of its own; and when each was sent and acknowledged.
async fn probes(
    mut client: Booking,
    args: &Args,
    date: &str,
    shared: &Shared,
    ends_at: Instant,
) -> Result<(Histogram<u64>, Histogram<u64>, Vec<(Instant, Instant)>), String> {
    let journey = pb::GetAvailabilityRequest {
        train_date: Some(pb::TrainDate { train: args.probe_train.clone(), date: date.into() }),
        from_station: FROM.into(),
        to_station: TO.into(),
    };
    let watch = pb::WatchAvailabilityRequest {
        target: Some(Target::Journeys(pb::WatchJourneys { journeys: vec![journey] })),
        coarse: false,
    };
    let mut own = client.watch_availability(watch).await.map_err(|status| status.to_string())?.into_inner();
    let first = own.message().await.map_err(|status| status.to_string())?.ok_or("no first update")?;
    let mut left = first.trains.first().and_then(second_left).ok_or("the probe train has no second class")?;
    let seed = args.seed.unwrap_or_else(|| SystemClock.now_ms());
    let spacing = ends_at.saturating_duration_since(Instant::now()) / (args.probe_holds as u32 + 1);
    let (mut ack_us, mut sent_us) = (histogram(), histogram());
    let mut probed = Vec::new();
    for index in 0..args.probe_holds {
        tokio::time::sleep(spacing).await;
        if Instant::now() >= ends_at || left == 0 {
            break;
        }
        let serial = (seed % 1_000_000) * 1_000_000 + index;
        let hold = pb::HoldRequest {
            request_id: format!("probe-{seed}-{index}"),
            user_id: format!("probe-{seed}-{index}"),
            train_date: Some(pb::TrainDate { train: args.probe_train.clone(), date: date.into() }),
            from_station: FROM.into(),
            to_station: TO.into(),
            passengers: vec![pb::PassengerRequest {
                name: "探针".into(),
                id_number: seat_tools::synthetic::resident_id(serial),
                seat_class: pb::SeatClass::Second.into(),
                pick: String::new(),
                seat: None,
            }],
        };
        left -= 1;
        *shared.probe.lock().expect("probe") = Some(Probe { index, left_at_most: left });
        let sent = Instant::now();
        client.hold(hold).await.map_err(|status| format!("probe hold: {status}"))?;
        let acknowledged = Instant::now();
        probed.push((sent, acknowledged));
        loop {
            let update = tokio::time::timeout(Duration::from_secs(5), own.message())
                .await
                .map_err(|_| "a probe's update took over 5 s")?
                .map_err(|status| status.to_string())?
                .ok_or("the probe watch ended")?;
            if update.trains.first().and_then(second_left).is_some_and(|now| now <= left) {
                break;
            }
        }
        let seen = Instant::now();
        let _ = ack_us.record(seen.saturating_duration_since(acknowledged).as_micros().max(1) as u64);
        let _ = sent_us.record(seen.saturating_duration_since(sent).as_micros().max(1) as u64);
    }
    tokio::time::sleep_until(ends_at.into()).await;
    Ok((ack_us, sent_us, probed))
}
