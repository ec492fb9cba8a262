//! The refund stream and what the feed shows of it: paid orders refunded at
//! a fixed rate (open loop), and for each waiting passenger a refund serves,
//! the time from the refund until the feed shows their confirmed order
//! (WaitlistFulfilled). The feed follower keeps the scenario's model
//! (`QueueReference`) up to date and hands each new order back to the
//! stream, which may refund it in turn.

use super::super::client::{Booking, Feed};
use super::reference::{Fulfilment, QueueReference};
use api::pb;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Refunds in flight at once: past it the generator is the bottleneck, and
/// further arrivals are counted as dropped rather than queued without limit.
const REFUNDS_IN_FLIGHT_MAX: usize = 10_000;

/// What the feed follower and the refund stream share.
pub struct Watch {
    pub reference: QueueReference,
    /// Paid orders the stream may refund, (order id, user id): the sold-out
    /// class's, then every order a fulfilment makes.
    refundable: Vec<(String, String)>,
    /// Order id → when its refund was due (open loop: its intended time).
    sent: HashMap<String, Instant>,
    /// Refund due → WaitlistFulfilled received, per request it served, µs.
    pub refund_to_order_us: Histogram<u64>,
    /// Seats reserved → order confirmed, by seatd's event times (whole ms), µs.
    pub reserved_to_order_us: Histogram<u64>,
    pub fulfilled_by_refunds: u64,
    /// Fulfilments from seats no refund of this run freed.
    pub fulfilled_otherwise: u64,
    pub last_fulfilled: Option<Instant>,
    /// Every order a fulfilment made, (order id, user id), for the audit.
    pub fulfilled_orders: Vec<(String, String)>,
    pub feed_error: Option<String>,
}

impl Watch {
    pub fn new(reference: QueueReference) -> Self {
        Watch {
            reference,
            refundable: Vec::new(),
            sent: HashMap::new(),
            refund_to_order_us: Histogram::new(3).expect("histogram"),
            reserved_to_order_us: Histogram::new(3).expect("histogram"),
            fulfilled_by_refunds: 0,
            fulfilled_otherwise: 0,
            last_fulfilled: None,
            fulfilled_orders: Vec::new(),
            feed_error: None,
        }
    }

    pub fn add_refundable(&mut self, orders: impl IntoIterator<Item = (String, String)>) {
        self.refundable.extend(orders);
    }

    fn fulfilled(&mut self, fulfilment: Fulfilment, received: Instant) {
        let Fulfilment { order_id, user_id, released_by, reserved_at_ms, fulfilled_at_ms } = fulfilment;
        let _ = self.reserved_to_order_us.record(fulfilled_at_ms.saturating_sub(reserved_at_ms) * 1_000);
        match released_by.and_then(|order| self.sent.get(&order).copied()) {
            Some(due) => {
                let _ = self.refund_to_order_us.record(received.saturating_duration_since(due).as_micros() as u64);
                self.fulfilled_by_refunds += 1;
                self.last_fulfilled = Some(received);
            }
            None => self.fulfilled_otherwise += 1,
        }
        self.fulfilled_orders.push((order_id.clone(), user_id.clone()));
        self.refundable.push((order_id, user_id));
    }

    /// A paid order to refund now, at random; `None` if there is none.
    fn take_refundable(&mut self, rng: &mut SmallRng) -> Option<(String, String)> {
        (!self.refundable.is_empty()).then(|| self.refundable.swap_remove(rng.random_range(0..self.refundable.len())))
    }
}

/// Follows the train-date's feed from its first event, applying each to
/// the model, until aborted or the stream fails (recorded in `feed_error`).
pub fn follow_feed(mut feed: Feed, train_date: pb::TrainDate, watch: Arc<Mutex<Watch>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let request = pb::StreamEventsRequest { train_dates: vec![train_date], follow: true, ..Default::default() };
        let mut stream = match feed.stream_events(request).await {
            Ok(stream) => stream.into_inner(),
            Err(status) => {
                watch.lock().expect("watch lock").feed_error = Some(status.to_string());
                return;
            }
        };
        loop {
            let message = stream.message().await;
            let received = Instant::now();
            let mut watch = watch.lock().expect("watch lock");
            match message {
                Ok(Some(event)) => {
                    if let Some(fulfilment) = watch.reference.observe(&event) {
                        watch.fulfilled(fulfilment, received);
                    }
                }
                Ok(None) => {
                    watch.feed_error = Some("the feed ended (seatd shut down?)".into());
                    return;
                }
                Err(status) => {
                    watch.feed_error = Some(status.to_string());
                    return;
                }
            }
        }
    })
}

/// What the refund stream sent and was answered.
pub struct RefundRun {
    pub due: u64,
    pub acknowledged: u64,
    /// Arrivals with no paid order left to refund.
    pub nothing_to_refund: u64,
    /// Arrivals past `REFUNDS_IN_FLIGHT_MAX`.
    pub dropped: u64,
    /// Cancel RPC latency from the refund's intended time, µs.
    pub cancel_latency_us: Histogram<u64>,
    pub outcomes: BTreeMap<String, u64>,
    /// The refunded orders as the refunds answered, for the audit.
    pub refunded: Vec<pb::Order>,
    pub started: Instant,
    pub elapsed: Duration,
}

/// Refunds a random paid order `rate` times a second for `duration`.
pub async fn refund_stream(
    channels: &[Booking],
    watch: &Arc<Mutex<Watch>>,
    rate: u64,
    duration: Duration,
    seed: u64,
) -> RefundRun {
    let mut rng = SmallRng::seed_from_u64(seed);
    let started = Instant::now();
    let run = Arc::new(Mutex::new(RefundRun {
        due: 0,
        acknowledged: 0,
        nothing_to_refund: 0,
        dropped: 0,
        cancel_latency_us: Histogram::new(3).expect("histogram"),
        outcomes: BTreeMap::new(),
        refunded: Vec::new(),
        started,
        elapsed: Duration::ZERO,
    }));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let gap = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let arrivals = rate.max(1) * duration.as_secs().max(1);
    let mut tasks = JoinSet::new();
    for arrival in 0..arrivals {
        let due = started + gap * arrival as u32;
        tokio::time::sleep_until(due.into()).await;
        run.lock().expect("refund run lock").due += 1;
        if in_flight.load(Ordering::Relaxed) >= REFUNDS_IN_FLIGHT_MAX {
            run.lock().expect("refund run lock").dropped += 1;
            continue;
        }
        let picked = {
            let mut watch = watch.lock().expect("watch lock");
            let picked = watch.take_refundable(&mut rng);
            if let Some((order_id, _)) = &picked {
                watch.sent.insert(order_id.clone(), due);
            }
            picked
        };
        let Some((order_id, user_id)) = picked else {
            run.lock().expect("refund run lock").nothing_to_refund += 1;
            continue;
        };
        let mut booking = channels[arrival as usize % channels.len()].clone();
        let (run, in_flight) = (Arc::clone(&run), Arc::clone(&in_flight));
        in_flight.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let outcome =
                booking.cancel(pb::CancelRequest { order_id, user_id }).await.map(tonic::Response::into_inner);
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let mut run = run.lock().expect("refund run lock");
            let key = match &outcome {
                Ok(_) => "refund OK".to_owned(),
                Err(status) => {
                    format!("refund {:?} {}", status.code(), api::status::reason_of(status).unwrap_or_default())
                }
            };
            *run.outcomes.entry(key).or_insert(0) += 1;
            if let Ok(order) = outcome {
                run.acknowledged += 1;
                let _ = run.cancel_latency_us.record(due.elapsed().as_micros() as u64);
                run.refunded.push(order);
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut run = Arc::try_unwrap(run).ok().expect("all refunds answered").into_inner().expect("refund run lock");
    run.elapsed = started.elapsed();
    run
}
