//! The waitlist scenario's results: the orders audit, CPU from /proc, what
//! is printed and what `--out` saves.

use super::super::audit::{self, BenchAudit};
use super::super::client::Booking;
use super::reference::QueueChecks;
use super::refunds::Watch;
use super::{Refunding, SetUp, Target, WaitlistArgs};
use api::pb;
use seat_benches::latency::LatencyMs;
use std::collections::{BTreeMap, HashMap};

/// /proc/PID/stat counts CPU time in USER_HZ ticks, which Linux fixes at
/// 100 a second for user space on every architecture.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// CPU seatd (when its pid is given) and seatbench had used at a moment.
pub struct CpuMark {
    seatd_pid: Option<u32>,
    seatd_ticks: Option<u64>,
    own_ticks: Option<u64>,
}

/// CPU used between a mark and now, ms.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct CpuUsed {
    pub seatd_ms: Option<f64>,
    pub seatbench_ms: Option<f64>,
}

impl CpuMark {
    pub fn now(seatd_pid: Option<u32>) -> Self {
        CpuMark { seatd_pid, seatd_ticks: seatd_pid.and_then(|pid| ticks(&pid.to_string())), own_ticks: ticks("self") }
    }

    pub fn used(&self) -> CpuUsed {
        let since = |before: Option<u64>, now: Option<u64>| {
            Some(now?.saturating_sub(before?) as f64 * 1_000.0 / CLOCK_TICKS_PER_SEC)
        };
        CpuUsed {
            seatd_ms: since(self.seatd_ticks, self.seatd_pid.and_then(|pid| ticks(&pid.to_string()))),
            seatbench_ms: since(self.own_ticks, ticks("self")),
        }
    }
}

/// utime + stime of a process (`self` or a pid), in ticks.
fn ticks(process: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU per operation, µs.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct CpuPerOp {
    pub seatd_us: Option<f64>,
    pub seatbench_us: Option<f64>,
}

impl CpuPerOp {
    fn of(used: CpuUsed, operations: u64) -> Self {
        let per = |ms: Option<f64>| ms.map(|ms| ms * 1_000.0 / operations.max(1) as f64);
        CpuPerOp { seatd_us: per(used.seatd_ms), seatbench_us: per(used.seatbench_ms) }
    }
}

/// Reads every order of the run back and audits them with the train-date's
/// seat maps and counts: the sold orders and each fulfilment's order, in
/// the state their last answer gave (a refund's, or read now).
pub async fn audit_orders(
    booking: &mut Booking,
    sold: &[pb::Order],
    refunded: &[pb::Order],
    watch: &Watch,
    fresh: bool,
) -> BenchAudit {
    let refunded: HashMap<&str, &pb::Order> = refunded.iter().map(|order| (order.order_id.as_str(), order)).collect();
    let mut orders: Vec<pb::Order> =
        sold.iter().map(|order| (*refunded.get(order.order_id.as_str()).unwrap_or(&order)).clone()).collect();
    let mut unreadable = Vec::new();
    for (order_id, user_id) in &watch.fulfilled_orders {
        if let Some(order) = refunded.get(order_id.as_str()) {
            orders.push((*order).clone());
            continue;
        }
        let request = pb::GetOrderRequest { order_id: order_id.clone(), user_id: user_id.clone() };
        match booking.get_order(request).await {
            Ok(order) => orders.push(order.into_inner()),
            Err(status) => unreadable.push(format!("fulfilled order {order_id} could not be read: {status}")),
        }
    }
    let mut audit = audit::audit(booking, &orders, fresh, None).await;
    for problem in unreadable {
        audit.checks.problem(problem);
    }
    audit
}

#[derive(serde::Serialize)]
pub struct Results {
    pub mode: &'static str,
    pub train_date: pb::TrainDate,
    pub seat_class: String,
    pub class_seats: u32,
    pub party_max: u64,
    pub sold_orders: usize,
    pub sell_out_secs: f64,
    pub requests: u64,
    pub requests_activated: u64,
    pub queue_full: bool,
    pub queue_secs: f64,
    pub requests_per_sec: f64,
    /// Submit then activate, per request.
    pub queue_latency_ms: LatencyMs,
    pub waiting_before_refunds: usize,
    pub waiting_after_refunds: usize,
    pub refunds_per_sec_target: u64,
    pub refund_secs: f64,
    pub refunds_due: u64,
    pub refunds_acknowledged: u64,
    pub nothing_to_refund: u64,
    pub refunds_dropped: u64,
    /// The refund call, from its intended time.
    pub refund_latency_ms: LatencyMs,
    /// Waiting requests a refund of this run served.
    pub fulfilled_by_refunds: u64,
    pub fulfilled_otherwise: u64,
    /// Fulfilments by refunds per second, from the first refund to the last fulfilment.
    pub fulfilments_per_sec: f64,
    /// A refund's intended time → its waiting passenger's WaitlistFulfilled
    /// on the feed, per request served.
    pub refund_to_order_ms: LatencyMs,
    /// Seats reserved → order confirmed, by seatd's event times (whole ms).
    pub reserved_to_order_ms: LatencyMs,
    pub cpu_per_request: CpuPerOp,
    pub cpu_per_refund: CpuPerOp,
    pub settled: bool,
    pub feed_error: Option<String>,
    pub outcomes: BTreeMap<String, u64>,
    pub queue_checks: QueueChecks,
    pub audit: Option<BenchAudit>,
}

impl Results {
    pub fn new(
        args: &WaitlistArgs,
        target: &Target,
        set_up: &SetUp,
        refunding: &Refunding,
        mut watch: Watch,
        audit: Option<BenchAudit>,
    ) -> Self {
        let SetUp { sold, sell_out_secs, queued, queue_secs, queue_cpu, waiting_before } = set_up;
        let (refunds, refund_cpu) = (&refunding.run, refunding.cpu);
        let mut outcomes = sold.outcomes.0.clone();
        for (key, count) in queued.outcomes.0.iter().chain(&refunds.outcomes) {
            *outcomes.entry(key.clone()).or_insert(0) += count;
        }
        let fulfilling_secs =
            watch.last_fulfilled.map_or(0.0, |last| last.saturating_duration_since(refunds.started).as_secs_f64());
        Results {
            mode: "waitlist",
            train_date: target.train_date.clone(),
            seat_class: args.seat_class.to_string(),
            class_seats: target.class_seats,
            party_max: target.party_max,
            sold_orders: sold.orders.len(),
            sell_out_secs: *sell_out_secs,
            requests: args.requests,
            requests_activated: queued.activated,
            queue_full: queued.queue_full,
            queue_secs: *queue_secs,
            requests_per_sec: queued.activated as f64 / queue_secs.max(f64::EPSILON),
            queue_latency_ms: LatencyMs::of(&queued.latency_us),
            waiting_before_refunds: *waiting_before,
            waiting_after_refunds: watch.reference.waiting_count(),
            refunds_per_sec_target: args.refunds_per_sec,
            refund_secs: refunds.elapsed.as_secs_f64(),
            refunds_due: refunds.due,
            refunds_acknowledged: refunds.acknowledged,
            nothing_to_refund: refunds.nothing_to_refund,
            refunds_dropped: refunds.dropped,
            refund_latency_ms: LatencyMs::of(&refunds.cancel_latency_us),
            fulfilled_by_refunds: watch.fulfilled_by_refunds,
            fulfilled_otherwise: watch.fulfilled_otherwise,
            fulfilments_per_sec: watch.fulfilled_by_refunds as f64 / fulfilling_secs.max(f64::EPSILON),
            refund_to_order_ms: LatencyMs::of(&watch.refund_to_order_us),
            reserved_to_order_ms: LatencyMs::of(&watch.reserved_to_order_us),
            cpu_per_request: CpuPerOp::of(*queue_cpu, queued.activated),
            cpu_per_refund: CpuPerOp::of(refund_cpu, refunds.acknowledged),
            settled: refunding.settled,
            feed_error: watch.feed_error.clone(),
            outcomes,
            queue_checks: std::mem::take(&mut watch.reference.checks),
            audit,
        }
    }

    /// Every audit passed and the feed showed everything the run did.
    pub fn passed(&self) -> bool {
        self.queue_checks.ok()
            && self.settled
            && self.feed_error.is_none()
            && self.audit.as_ref().is_none_or(|audit| audit.checks.ok())
    }
}

fn latency(label: &str, l: &LatencyMs) -> String {
    format!("{label} ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  ({} samples)", l.p50, l.p90, l.p99, l.max, l.count)
}

fn cpu(label: &str, cpu: &CpuPerOp) -> String {
    let shown = |us: Option<f64>| us.map_or_else(|| "-".to_owned(), |us| format!("{us:.0} µs"));
    format!("{label}: seatd {}, seatbench {}", shown(cpu.seatd_us), shown(cpu.seatbench_us))
}

pub fn print(results: &Results, server: &str, seed: u64) {
    let r = results;
    let td = &r.train_date;
    println!(
        "seatbench waitlist: {} {} {} ({} seats) against {server} (seed {seed}), parties of 1 to {}",
        td.train, td.date, r.seat_class, r.class_seats, r.party_max
    );
    println!("sell-out: {} paid orders in {:.1} s", r.sold_orders, r.sell_out_secs);
    println!(
        "queued: {} of {} requests submitted and paid in {:.1} s ({:.0}/s){}; {} waiting",
        r.requests_activated,
        r.requests,
        r.queue_secs,
        r.requests_per_sec,
        if r.queue_full { ", then WAITLIST_FULL" } else { "" },
        r.waiting_before_refunds
    );
    println!("  {}", latency("submit + activate", &r.queue_latency_ms));
    println!(
        "refunds: {} due at {}/s over {:.1} s, {} acknowledged, {} with nothing to refund, {} dropped",
        r.refunds_due,
        r.refunds_per_sec_target,
        r.refund_secs,
        r.refunds_acknowledged,
        r.nothing_to_refund,
        r.refunds_dropped
    );
    println!("  {}", latency("refund call", &r.refund_latency_ms));
    println!(
        "fulfilled: {} waiting requests served by the refunds ({:.0}/s), {} otherwise; {} still waiting",
        r.fulfilled_by_refunds, r.fulfilments_per_sec, r.fulfilled_otherwise, r.waiting_after_refunds
    );
    println!("  {}", latency("refund → confirmed order on the feed", &r.refund_to_order_ms));
    println!("  {}", latency("seats reserved → order confirmed (seatd's event times)", &r.reserved_to_order_ms));
    println!("{}", cpu("CPU per request (submit + activate)", &r.cpu_per_request));
    println!("{}", cpu("CPU per refund (and what it served)", &r.cpu_per_refund));
    println!("outcomes:");
    for (outcome, count) in &r.outcomes {
        println!("  {outcome:<40} {count}");
    }
    if !r.settled {
        println!("NOT SETTLED: the feed did not show every refund served within --settle-secs");
    }
    if let Some(error) = &r.feed_error {
        println!("feed: {error}");
    }
    let q = &r.queue_checks;
    println!(
        "audit, queue (feed, brute force): {} events, {} reservations each the earliest fitting choice ({} earlier \
         choices refitted), {} settled checks, {} fulfilled once: {}",
        q.events,
        q.reservations,
        q.earlier_choices_rechecked,
        q.settled_checks,
        q.fulfilled,
        if q.ok() { "PASSED".to_owned() } else { format!("{} FAILURES", q.problem_count) }
    );
    for problem in &q.problems {
        println!("  {problem}");
    }
    if let Some(audit) = &r.audit {
        let checks = &audit.checks;
        println!(
            "audit, orders: {} read back, {} seats, {} live tickets, {} counts recounted: {}",
            checks.acked_orders,
            checks.seats,
            checks.live_tickets,
            checks.counts,
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
