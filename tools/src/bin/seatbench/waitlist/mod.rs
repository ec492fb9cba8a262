//! `--mode waitlist`: the holiday-train scenario of issue 14. One class of
//! one train-date sold out; N waitlist requests (候补), each its own user,
//! submitted and paid; then refunds of paid orders at a fixed rate for a
//! bounded time. Measures, per waiting passenger a refund serves, the time
//! from the refund to their confirmed order on the event feed (p50/p99),
//! and fulfilments per second. Audited twice: the feed against a
//! brute-force model (`reference`: first come, first served; nothing freed
//! left to sale while a choice fits; no segment sold twice), and every order
//! read back with the train-date's seat maps and counts (`super::audit`).
//!
//! Modules: `setup` sells out and queues the requests; `refunds` runs the
//! refund stream and follows the feed; `reference` is the model; `report`
//! prints and saves the results.

mod reference;
mod refunds;
mod report;
mod setup;

use super::client::{self, Bearer};
use api::pb;
use engine::domain::seat_class::SeatClass;
use reference::QueueReference;
use refunds::Watch;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the scenario looks whether the feed has caught up.
const CATCH_UP_POLL: Duration = Duration::from_millis(50);

#[derive(clap::Args, Debug, Clone)]
pub struct WaitlistArgs {
    /// Waitlist mode: requests to submit and activate, each for its own user.
    #[arg(long, default_value_t = 50_000)]
    pub requests: u64,
    /// Waitlist mode: refunds of paid orders per second, for --duration-secs.
    #[arg(long, default_value_t = 100)]
    pub refunds_per_sec: u64,
    /// Waitlist mode: the train sold out (its stops must be the demo's four stations).
    #[arg(long, default_value = "G1")]
    pub train: String,
    /// Waitlist mode: the class sold out and waitlisted.
    #[arg(long, default_value = "second")]
    pub seat_class: SeatClass,
    /// Waitlist mode: departure this many days from today (a request's
    /// cut-off is 19:00 the day before, so not tomorrow).
    #[arg(long, default_value_t = 3)]
    pub days_ahead: u64,
    /// Waitlist mode: parties of 1 to this many, for sold orders and requests.
    #[arg(long, default_value_t = 3)]
    pub party_max: u64,
    /// Waitlist mode: longest the sell-out and queuing may take together.
    #[arg(long, default_value_t = 900)]
    pub setup_secs: u64,
    /// Waitlist mode: longest to wait, after the last refund, for the feed
    /// to show every refund and every reservation confirmed.
    #[arg(long, default_value_t = 30)]
    pub settle_secs: u64,
    /// Waitlist mode: seatd's process id, to report its CPU per request and per refund.
    #[arg(long)]
    pub seatd_pid: Option<u32>,
}

/// The train-date, class and journey the scenario books.
#[derive(Clone, Debug)]
pub struct Target {
    pub train_date: pb::TrainDate,
    pub class: pb::SeatClass,
    pub from_station: String,
    pub to_station: String,
    pub class_seats: u32,
    pub party_max: u64,
    pub seed: u64,
}

/// Everything `run` needs from the command line besides `WaitlistArgs`.
pub struct Common<'a> {
    pub server: &'a str,
    pub connections: usize,
    pub clients: usize,
    pub duration: Duration,
    pub seed: u64,
    pub booking_token: &'a str,
    pub admin_token: &'a str,
    pub audit: bool,
    pub out: Option<&'a std::path::Path>,
}

/// The clients of one run: bookings and waitlist calls with the booking
/// token over every connection, the admin and feed with the admin token.
struct Clients {
    bookings: Vec<client::Booking>,
    waitlists: Vec<client::Waitlist>,
    admin: client::Admin,
    feed: client::Feed,
}

async fn connect(common: &Common<'_>) -> Result<Clients, String> {
    let channels = client::channels(common.server, common.connections).await?;
    let bearer = Bearer::new(common.booking_token)?;
    let bookings = channels
        .iter()
        .map(|channel| pb::booking_client::BookingClient::with_interceptor(channel.clone(), bearer.clone()))
        .collect();
    let waitlists = channels
        .iter()
        .map(|channel| pb::waitlist_client::WaitlistClient::with_interceptor(channel.clone(), bearer.clone()))
        .collect();
    let first_server = common.server.split(',').next().unwrap_or_default();
    let admin = client::admin(first_server, common.admin_token).await?;
    let feed = pb::feed_client::FeedClient::with_interceptor(channels[0].clone(), Bearer::new(common.admin_token)?);
    Ok(Clients { bookings, waitlists, admin, feed })
}

/// What set-up left: the sold orders, the queued requests, how long and
/// how much CPU each took.
pub struct SetUp {
    pub sold: setup::SoldOut,
    pub sell_out_secs: f64,
    pub queued: setup::Queued,
    pub queue_secs: f64,
    pub queue_cpu: report::CpuUsed,
    /// Waiting choices the feed showed before the first refund.
    pub waiting_before: usize,
}

/// What the refund phase left: the refunds, their CPU, and whether the
/// feed showed all of them served in time.
pub struct Refunding {
    pub run: refunds::RefundRun,
    pub cpu: report::CpuUsed,
    pub settled: bool,
}

/// Runs the scenario; `Ok(false)` when an audit failed.
pub async fn run(args: &WaitlistArgs, common: Common<'_>) -> Result<bool, String> {
    let mut clients = connect(&common).await?;
    let stats = clients.admin.stats(pb::StatsRequest {}).await.map_err(|status| status.to_string())?;
    let fresh = stats.into_inner().orders == 0;
    let (target, detail) = target(&mut clients.bookings[0], args, common.seed).await?;
    let watch = Arc::new(Mutex::new(Watch::new(QueueReference::new(&detail))));
    let follower = refunds::follow_feed(clients.feed.clone(), target.train_date.clone(), Arc::clone(&watch));
    let set_up = set_up(&mut clients, args, &common, &target, &watch).await?;
    let refunding = refund_and_settle(&clients, args, &common, &watch).await;
    follower.abort();
    let _ = follower.await;
    let mut watch = Arc::try_unwrap(watch).ok().expect("the follower stopped").into_inner().expect("watch lock");
    watch.reference.finish();
    let audit = match common.audit {
        true => {
            eprintln!("auditing…");
            let (sold, refunded) = (&set_up.sold.orders, &refunding.run.refunded);
            Some(report::audit_orders(&mut clients.bookings[0], sold, refunded, &watch, fresh).await)
        }
        false => None,
    };
    let results = report::Results::new(args, &target, &set_up, &refunding, watch, audit);
    report::print(&results, common.server, common.seed);
    if let Some(path) = common.out {
        let json = serde_json::to_string_pretty(&results).expect("results serialise");
        std::fs::write(path, json).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(results.passed())
}

/// Sells the class out, then queues the requests and waits for the feed to show them.
async fn set_up(
    clients: &mut Clients,
    args: &WaitlistArgs,
    common: &Common<'_>,
    target: &Target,
    watch: &Arc<Mutex<Watch>>,
) -> Result<SetUp, String> {
    let deadline = Instant::now() + Duration::from_secs(args.setup_secs);
    let (train_date, class_seats) = (&target.train_date, target.class_seats);
    eprintln!("selling out {} {} {} ({class_seats} seats)…", train_date.train, train_date.date, args.seat_class);
    let started = Instant::now();
    let sold = setup::sell_out(&clients.bookings, target, common.clients, deadline).await;
    let sell_out_secs = started.elapsed().as_secs_f64();
    let left = remaining(&mut clients.bookings[0], target).await?;
    if left != 0 {
        return Err(format!("the class did not sell out: {left} seats left; outcomes {:?}", sold.outcomes.0));
    }
    let paid = sold.orders.iter().map(|order| (order.order_id.clone(), order.user_id.clone()));
    watch.lock().expect("watch lock").add_refundable(paid);

    eprintln!("queuing {} waitlist requests…", args.requests);
    let mark = report::CpuMark::now(args.seatd_pid);
    let started = Instant::now();
    let queued = setup::queue_requests(&clients.waitlists, target, args.requests, common.clients, deadline).await;
    let queue_secs = started.elapsed().as_secs_f64();
    let queue_cpu = mark.used();
    let caught_up = Instant::now() + Duration::from_secs(args.settle_secs);
    wait_for(watch, caught_up, |watch| watch.reference.waiting_count() as u64 >= queued.activated).await;
    let waiting_before = watch.lock().expect("watch lock").reference.waiting_count();
    Ok(SetUp { sold, sell_out_secs, queued, queue_secs, queue_cpu, waiting_before })
}

/// Runs the refund stream, then waits (bounded) for the feed to show
/// every refund and every reservation it made confirmed.
async fn refund_and_settle(
    clients: &Clients,
    args: &WaitlistArgs,
    common: &Common<'_>,
    watch: &Arc<Mutex<Watch>>,
) -> Refunding {
    eprintln!("refunding {} orders a second for {:?}…", args.refunds_per_sec, common.duration);
    let mark = report::CpuMark::now(args.seatd_pid);
    let run =
        refunds::refund_stream(&clients.bookings, watch, args.refunds_per_sec, common.duration, common.seed).await;
    let deadline = Instant::now() + Duration::from_secs(args.settle_secs);
    let refunded: Vec<&str> = run.refunded.iter().map(|order| order.order_id.as_str()).collect();
    let settled = wait_for(watch, deadline, |watch| {
        watch.reference.reserved_count() == 0 && refunded.iter().all(|id| watch.reference.saw_release_of(id))
    })
    .await;
    Refunding { cpu: mark.used(), run, settled }
}

/// The train-date `args` name, checked to run between the demo's four
/// stations and to carry the class, with its layout.
async fn target(
    booking: &mut client::Booking,
    args: &WaitlistArgs,
    seed: u64,
) -> Result<(Target, pb::TrainDetail), String> {
    let today = engine::domain::state::service_date_of(engine::clock::Clock::now_ms(&engine::clock::SystemClock));
    let date = today + chrono::Days::new(args.days_ahead);
    let train_date = pb::TrainDate { train: args.train.clone(), date: date.to_string() };
    let request = pb::GetTrainRequest { train_date: Some(train_date.clone()) };
    let detail = booking.get_train(request).await.map_err(|status| format!("{} {date}: {status}", args.train))?;
    let detail = detail.into_inner();
    let stations: Vec<&str> = detail.stops.iter().map(|stop| stop.station.as_str()).collect();
    let demo_route = super::demand::STATIONS;
    let reversed: Vec<&str> = demo_route.iter().rev().copied().collect();
    if stations != demo_route && stations != reversed {
        return Err(format!(
            "{} calls at {stations:?}: the audit reads trains of the demo's four stations",
            args.train
        ));
    }
    let class = api::convert::seat_class_to_pb(args.seat_class);
    let class_seats = detail.carriages.iter().filter(|c| c.seat_class == class as i32).map(|c| c.seat_count).sum();
    if class_seats == 0 {
        return Err(format!("{} carries no {:?} seats", args.train, args.seat_class));
    }
    let target = Target {
        train_date,
        class,
        from_station: stations[0].to_owned(),
        to_station: stations[stations.len() - 1].to_owned(),
        class_seats,
        party_max: args.party_max.max(1),
        seed,
    };
    Ok((target, detail))
}

/// Seats of the class free over the whole route.
async fn remaining(booking: &mut client::Booking, target: &Target) -> Result<u32, String> {
    let request = pb::GetAvailabilityRequest {
        train_date: Some(target.train_date.clone()),
        from_station: target.from_station.clone(),
        to_station: target.to_station.clone(),
    };
    let offer = booking.get_availability(request).await.map_err(|status| status.to_string())?.into_inner();
    Ok(offer.classes.iter().find(|offer| offer.seat_class == target.class as i32).map_or(0, |offer| offer.remaining))
}

/// Waits until `done` holds for what the feed has shown, or the deadline;
/// whether it held.
async fn wait_for(watch: &Arc<Mutex<Watch>>, deadline: Instant, done: impl Fn(&Watch) -> bool) -> bool {
    loop {
        {
            let watch = watch.lock().expect("watch lock");
            if done(&watch) {
                return true;
            }
            if watch.feed_error.is_some() || Instant::now() >= deadline {
                return false;
            }
        }
        tokio::time::sleep(CATCH_UP_POLL).await;
    }
}
