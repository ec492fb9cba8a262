//! One closed-loop client: hold, then maybe confirm, then maybe cancel, one
//! request in flight, until told to stop; everything it saw goes in its tally.

use crate::args::DemandKind;
use crate::requests::{PassengerIds, demo_hold, from_bench};
use crate::tally::Tally;
use engine::allocation::AllocationPolicy;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use seat_baselines::OrderStatus;
use seat_baselines::{AckedOrder, Baseline, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest};
use seat_benches::demand::Demand;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// What a client shares with the driver, and its part of the run's settings.
pub struct ClientContext {
    /// The target, shared by every client.
    pub baseline: Baseline,
    /// The open train-dates; each request picks one at random.
    pub names: Arc<Vec<String>>,
    /// Set by the driver when the run's time is up.
    pub stop: Arc<AtomicBool>,
    /// Requests answered by all clients, for the progress lines.
    pub answered: Arc<AtomicU64>,
    /// This client's number: its user id, passenger ids and seed offset.
    pub client: usize,
    /// The run's demand seed; this client uses `seed + client`.
    pub seed: u64,
    /// Stops of the train.
    pub stops: usize,
    /// The request mix.
    pub demand: DemandKind,
    /// Percent of held orders then confirmed.
    pub confirm_percent: u32,
    /// Percent of held orders then cancelled.
    pub cancel_percent: u32,
}

/// A client's own state: its seeded randomness, its ids, and its tally.
struct ClientState {
    demand: Demand,
    rng: SmallRng,
    user: String,
    /// Requests made so far; the demo mix names its request ids by it.
    serial: u64,
    ids: PassengerIds,
    tally: Tally,
}

impl ClientState {
    fn new(context: &ClientContext) -> Self {
        let seed = context.seed.wrapping_add(context.client as u64);
        ClientState {
            demand: Demand::new(seed, context.stops),
            rng: SmallRng::seed_from_u64(seed ^ 0x5EED_BA5E),
            user: format!("c{}", context.client),
            serial: 0,
            ids: PassengerIds::new(context.client),
            tally: Tally::new(),
        }
    }

    /// The next hold: a random train-date, a request from the demand mix.
    fn next_request<'a>(&mut self, context: &'a ClientContext) -> (&'a String, HoldRequest) {
        self.serial += 1;
        let train_date = &context.names[self.rng.random_range(0..context.names.len())];
        let request = match context.demand {
            DemandKind::Bench => {
                from_bench(self.demand.hold(AllocationPolicy::FirstFit), train_date, &self.user, &mut self.ids)
            }
            DemandKind::Demo => {
                demo_hold(&mut self.rng, context.stops, train_date, &self.user, self.serial, &mut self.ids)
            }
        };
        (train_date, request)
    }
}

/// Runs one client until `stop` is set; returns what it saw.
pub async fn client_loop(context: ClientContext) -> Tally {
    let mut state = ClientState::new(&context);
    while !context.stop.load(Ordering::Relaxed) {
        let (train_date, request) = state.next_request(&context);
        let Some(order_id) = hold(&context, &mut state.tally, &request).await else { continue };
        let mut status = OrderStatus::Held;
        if state.rng.random_range(0..100) < context.confirm_percent
            && confirm(&context, &mut state.tally, train_date, order_id).await
        {
            status = OrderStatus::Confirmed;
        }
        if state.rng.random_range(0..100) < context.cancel_percent
            && cancel(&context, &mut state.tally, train_date, order_id).await
        {
            status = OrderStatus::Cancelled;
        }
        state.tally.acked.push(AckedOrder { train_date: train_date.clone(), order_id, status });
    }
    state.tally
}

/// Sends the hold and tallies its answer; the order id when it took seats.
async fn hold(context: &ClientContext, tally: &mut Tally, request: &HoldRequest) -> Option<u64> {
    let (outcome, micros) = timed(context, context.baseline.hold(request)).await;
    match outcome {
        Ok(HoldOutcome::Held { order_id, seats }) => {
            tally.count("hold held");
            tally.held += 1;
            tally.passengers_held += seats.len() as u64;
            let _ = tally.holds.record(micros);
            let _ = tally.writes.record(micros);
            return Some(order_id);
        }
        Ok(HoldOutcome::Duplicate { .. }) => {
            tally.count("hold duplicate");
            let _ = tally.holds.record(micros);
        }
        Ok(HoldOutcome::SoldOut) => {
            tally.count("hold sold_out");
            tally.sold_out += 1;
            let _ = tally.holds.record(micros);
        }
        Ok(HoldOutcome::Refused { reason }) => {
            tally.count(&format!("hold refused {reason}"));
            let _ = tally.holds.record(micros);
        }
        Err(error) => tally.error("hold", &error),
    }
    None
}

/// Confirms the order and tallies the answer; whether it was confirmed.
async fn confirm(context: &ClientContext, tally: &mut Tally, train_date: &str, order_id: u64) -> bool {
    let (outcome, micros) = timed(context, context.baseline.confirm(train_date, order_id)).await;
    match outcome {
        Ok(ConfirmOutcome::Confirmed) => {
            tally.count("confirm ok");
            let _ = tally.writes.record(micros);
            return true;
        }
        Ok(other) => tally.count(&format!("confirm {other:?}")),
        Err(error) => tally.error("confirm", &error),
    }
    false
}

/// Cancels the order and tallies the answer; whether it was cancelled.
async fn cancel(context: &ClientContext, tally: &mut Tally, train_date: &str, order_id: u64) -> bool {
    let (outcome, micros) = timed(context, context.baseline.cancel(train_date, order_id)).await;
    match outcome {
        Ok(CancelOutcome::Cancelled) => {
            tally.count("cancel ok");
            let _ = tally.writes.record(micros);
            return true;
        }
        Ok(other) => tally.count(&format!("cancel {other:?}")),
        Err(error) => tally.error("cancel", &error),
    }
    false
}

/// Awaits one request, counting it answered; its outcome and latency in µs.
async fn timed<T>(
    context: &ClientContext,
    request: impl Future<Output = Result<T, BaselineError>>,
) -> (Result<T, BaselineError>, u64) {
    let started = Instant::now();
    let outcome = request.await;
    let micros = started.elapsed().as_micros() as u64;
    context.answered.fetch_add(1, Ordering::Relaxed);
    (outcome, micros)
}
