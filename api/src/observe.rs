//! Per-RPC observation: the request id, user, train-date and outcome of each
//! call, logged with its refusal (or, at debug level, its success), and
//! Prometheus metrics for outcomes and latency.
//!
//! The call's fields live in a task-local, not a tracing span: the fmt
//! subscriber formats every field of every span it is handed, so a span per
//! call cost about 4% of seatd's CPU under load even when nothing was logged
//! (BENCHMARKS.md, "Durable write path, third step"). The fields are
//! formatted only for the one line that is written.
//!
//! Metric names (all prefixed `seat_`):
//! - `rpc_requests_total{method, code, reason}` and `rpc_duration_seconds{method}`;
//! - `holds_total`, `confirms_total`, `cancels_total` `{outcome}` (ok or the reason code);
//! - `sold_out_segments_free_passengers_total`: passengers on holds refused
//!   SOLD_OUT while every segment of their journey had enough free seats;
//! - `rate_limited_total{method}`;
//! - `hold_expiries_total` and `sold_out_gate_rejections_total` (engine), `journal_batch_events`, `journal_commit_seconds`,
//!   `journal_failed_batches_total` (persistence);
//! - gauges `train_dates`, `held_tickets`, `sold_tickets`, `mailbox_depth_total`,
//!   `mailbox_depth_max`, refreshed every second by `publish_engine_gauges`;
//! - `feed_streams_open` (gauge) and `feed_events_sent_total` (the Feed service);
//! - the NATS relay's `relay_lag_events`, `relay_lag_ms`, `relay_connected`
//!   and `relay_published_total` (see `relay`);
//! - live availability (`watch`): gauge `watch_streams_open`, counters
//!   `watch_updates_total` and `watch_streams_stalled_total`.

use engine::facade::Engine;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::{Request, Response, Status};

/// Longest client request id kept for the log, in characters.
const REQUEST_ID_CHARS_MAX: usize = 64;

/// What one RPC's log line says of it, filled in as the call learns it.
#[derive(Default)]
pub struct RpcFields {
    request_id: String,
    user: String,
    train_date: String,
}

tokio::task_local! {
    /// The fields of the RPC this task is serving.
    static RPC_FIELDS: RefCell<RpcFields>;
}

/// Starts the fields of one RPC: its client request id (`x-request-id`).
pub fn rpc<T>(request: &Request<T>) -> RpcFields {
    let request_id = request
        .metadata()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(|id| id.chars().take(REQUEST_ID_CHARS_MAX).collect::<String>())
        .unwrap_or_default();
    RpcFields { request_id, ..RpcFields::default() }
}

/// Records the acting user of the RPC being served; outside an observed
/// call it does nothing.
pub fn record_user(user: &str) {
    let _ = RPC_FIELDS.try_with(|fields| user.clone_into(&mut fields.borrow_mut().user));
}

/// Records the train-date of the RPC being served, formatted into the
/// field's own buffer; outside an observed call it does nothing.
pub fn record_train_date(key: &impl std::fmt::Display) {
    use std::fmt::Write;
    let _ = RPC_FIELDS.try_with(|fields| {
        let train_date = &mut fields.borrow_mut().train_date;
        train_date.clear();
        let _ = write!(train_date, "{key}");
    });
}

/// Runs one RPC with its fields, then records its outcome, latency and counts.
pub async fn observed<T>(
    method: &'static str,
    fields: RpcFields,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let (fields, result) = RPC_FIELDS
        .scope(RefCell::new(fields), async {
            let result = call.await;
            (RPC_FIELDS.with(|fields| std::mem::take(&mut *fields.borrow_mut())), result)
        })
        .await;
    let (code, reason) = match &result {
        Ok(_) => ("OK".to_owned(), String::new()),
        Err(status) => (format!("{:?}", status.code()), crate::status::reason_of(status).unwrap_or_default()),
    };
    let outcome = if reason.is_empty() { code.clone() } else { reason.clone() };
    let elapsed = started.elapsed();
    metrics::histogram!("seat_rpc_duration_seconds", "method" => method).record(elapsed.as_secs_f64());
    metrics::counter!("seat_rpc_requests_total", "method" => method, "code" => code, "reason" => reason.clone())
        .increment(1);
    let booking_outcome = if result.is_ok() { "ok".to_owned() } else { outcome.to_ascii_lowercase() };
    match method {
        "Hold" => metrics::counter!("seat_holds_total", "outcome" => booking_outcome).increment(1),
        "Confirm" => metrics::counter!("seat_confirms_total", "outcome" => booking_outcome).increment(1),
        "Cancel" => metrics::counter!("seat_cancels_total", "outcome" => booking_outcome).increment(1),
        _ => {}
    }
    if reason == crate::reasons::RATE_LIMITED.name {
        metrics::counter!("seat_rate_limited_total", "method" => method).increment(1);
    }
    let RpcFields { request_id, user, train_date } = &fields;
    let elapsed_us = elapsed.as_micros() as u64;
    match &result {
        Ok(_) => tracing::debug!(method, request_id, user, train_date, outcome, elapsed_us, "rpc ok"),
        Err(status) => {
            tracing::info!(method, request_id, user, train_date, outcome, elapsed_us, code = ?status.code(), "rpc refused")
        }
    }
    result
}

/// Counts the passengers of a hold refused SOLD_OUT although each segment of
/// the journey alone had seats for them: demand lost to fragmentation, the
/// figure that tells allocation policies apart.
pub fn note_hold_refusal(status: &Status, passengers: usize) {
    if crate::status::refused_while_segments_free(status) {
        metrics::counter!("seat_sold_out_segments_free_passengers_total").increment(passengers as u64);
    }
}

/// How often the engine-wide gauges are refreshed.
pub const GAUGE_REFRESH: Duration = Duration::from_secs(1);

/// Keeps the engine-wide gauges current, until the task is dropped.
pub async fn publish_engine_gauges(engine: Arc<Engine>) {
    // Waitlist queues given a gauge, so one that empties is set back to 0.
    let mut published_queues = std::collections::HashSet::new();
    loop {
        let stats = engine.stats();
        metrics::gauge!("seat_train_dates").set(stats.train_dates as f64);
        metrics::gauge!("seat_held_tickets").set(stats.held_tickets as f64);
        metrics::gauge!("seat_sold_tickets").set(stats.sold_tickets as f64);
        metrics::gauge!("seat_mailbox_depth_total").set(stats.mailbox_depth_total as f64);
        metrics::gauge!("seat_mailbox_depth_max").set(stats.mailbox_depth_max as f64);
        metrics::gauge!("seat_waitlist_waiting").set(stats.waitlist_waiting as f64);
        let mut queues = std::collections::HashSet::new();
        for (key, class, waiting) in &stats.waitlist_queues {
            let labels = vec![("train_date", key.to_string()), ("class", class.to_string())];
            metrics::gauge!("seat_waitlist_queue_length", &labels).set(f64::from(*waiting));
            queues.insert(labels);
        }
        // A queue that emptied reads 0, not its last length.
        for labels in published_queues.difference(&queues) {
            metrics::gauge!("seat_waitlist_queue_length", labels).set(0.0);
        }
        published_queues = queues;
        tokio::time::sleep(GAUGE_REFRESH).await;
    }
}

/// Serves Prometheus metrics on `address` (GET /metrics) from now on.
pub fn install_prometheus(address: std::net::SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(address)
        .set_buckets(&[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])
        .map_err(|error| error.to_string())?
        .install()
        .map_err(|error| format!("metrics listener on {address}: {error}"))
}
